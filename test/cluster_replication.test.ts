// Replication driven by etcd (docs/CLUSTER.md, "Brokers act on the partition
// state"), with a real etcd and three real `sluice serve` processes: nothing
// sets roles by hand; every broker gives its replicas the roles etcd's
// partition state says.
//
// - an RF 3 topic made through the admin client and produced to with
//   acks=all through the native client ends with byte-identical segment
//   files on the three brokers;
// - kill -9 of a leader under acks=all load: the leader etcd elects next
//   holds every acknowledged record at the offset it was acknowledged with;
//   the killed broker restarted on its data dir follows and catches up.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { Admin, Consumer, type MetadataResponse, Producer } from "../client/mod.ts";
import { type BrokerProcess, startBroker } from "./support/broker.ts";
import { ETCD_WAIT, type EtcdCluster, startEtcd } from "./support/etcd.ts";
import { waitFor } from "./support/wait_for.ts";

const BROKER_IDS = [1, 2, 3];
const LEASE_TTL_SECONDS = 3;
const LAG_TIME_MS = 1_000;
let etcd: EtcdCluster;
const brokers = new Map<number, BrokerProcess>();
/** Brokers replaced by a restart on the same data dir (cleaned up at the end). */
const replaced: BrokerProcess[] = [];
const closers: (() => Promise<unknown>)[] = [];
const clusterName = `repl${process.pid}`;

const brokerArgs = (id: number) => [
  "--cluster-etcd",
  etcd.endpoints.join(","),
  "--broker-id",
  String(id),
  "--cluster-name",
  clusterName,
  "--cluster-lease-ttl-seconds",
  String(LEASE_TTL_SECONDS),
  "--replica-lag-time-max-ms",
  String(LAG_TIME_MS),
  "--workers",
  "1",
];

function admin(id: number): Admin {
  const a = new Admin({ broker: `127.0.0.1:${brokers.get(id)!.port}`, connectTimeoutMs: 1_000 });
  closers.push(() => a.close());
  return a;
}

function allBrokers(): string {
  return BROKER_IDS.map((id) => `127.0.0.1:${brokers.get(id)!.port}`).join(",");
}

beforeAll(async () => {
  etcd = await startEtcd({ members: 1 });
  await Promise.all(BROKER_IDS.map(async (id) => brokers.set(id, await startBroker({ args: brokerArgs(id) }))));
  await waitFor(async () => {
    for (const id of BROKER_IDS) if ((await admin(id).metadata([])).brokers.length !== 3) return false;
    return true;
  }, { ...ETCD_WAIT, what: "every broker sees three brokers" });
}, 60_000);

afterAll(async () => {
  for (const c of closers) await c().catch(() => {});
  for (const b of brokers.values()) await b.cleanup();
  for (const b of replaced) await b.cleanup();
  await etcd?.stop();
});

/** The .log files of one partition on one broker, by name. */
function segmentFiles(b: BrokerProcess, topic: string, partition: number): Map<string, Buffer> {
  const dir = path.join(b.dataDir, "topics", topic, String(partition));
  const out = new Map<string, Buffer>();
  for (const name of fs.readdirSync(dir).sort()) if (name.endsWith(".log")) out.set(name, fs.readFileSync(path.join(dir, name)));
  return out;
}

/** Each broker's log end and durable offset of a partition (its own replica's). */
async function offsetsOf(topic: string, partition: number, ids: readonly number[]): Promise<{ logEnd: number; durable: number }[]> {
  return await Promise.all(
    ids.map(async (id) => {
      const [d] = await admin(id).describeTopics([topic]);
      const p = d.partitions[partition];
      return { logEnd: Number(p.logEndOffset), durable: Number(p.durableOffset) };
    }),
  );
}

async function leaderOf(topic: string, via: number): Promise<MetadataResponse["topics"][number]["partitions"]> {
  const m = await admin(via).metadata([topic]);
  return m.topics[0].partitions;
}

describe("replication driven by etcd's partition state", () => {
  test("RF 3, acks=all through the native client: the three replicas' segment files are byte-identical", async () => {
    await admin(2).createTopic("copies", { partitions: 2, replicationFactor: 3 });
    const producer = new Producer({ broker: allBrokers(), acks: "all", connectTimeoutMs: 1_000 });
    closers.push(() => producer.close({ timeoutMs: 1_000 }));
    const COUNT = 400;
    const acked = await Promise.all(Array.from({ length: COUNT }, (_, i) => producer.send("copies", { partition: i % 2, key: `k${i}`, value: `value-${i}` })));
    for (let p = 0; p < 2; p++) {
      const offsets = acked.filter((r) => r.partition === p).map((r) => Number(r.offset));
      expect(offsets).toEqual(Array.from({ length: COUNT / 2 }, (_, k) => k));
    }
    for (let p = 0; p < 2; p++) {
      await waitFor(async () => (await offsetsOf("copies", p, BROKER_IDS)).every((o) => o.logEnd === COUNT / 2 && o.durable === COUNT / 2), {
        ...ETCD_WAIT,
        what: `every replica of copies-${p} holds ${COUNT / 2} records durably`,
      });
      const files = BROKER_IDS.map((id) => segmentFiles(brokers.get(id)!, "copies", p));
      expect(files[0].size).toBeGreaterThan(0);
      expect(files[1]).toEqual(files[0]);
      expect(files[2]).toEqual(files[0]);
    }
    const parts = await leaderOf("copies", 1);
    for (const p of parts) expect([...p.isr!].sort()).toEqual(BROKER_IDS);
  }, 60_000);

  test("kill -9 of the leader under acks=all load: the new leader holds every acknowledged record", async () => {
    await admin(1).createTopic("durable", { partitions: 1, replicationFactor: 3 });
    const victim = (await leaderOf("durable", 1))[0].leader;
    const producer = new Producer({ broker: allBrokers(), acks: "all", connectTimeoutMs: 500, lingerMs: 1, retries: 1_000, deliveryTimeoutMs: 60_000 });
    closers.push(() => producer.close({ timeoutMs: 1_000 }));
    const TOTAL = 3_000;
    const IN_FLIGHT = 100;
    const KILL_AFTER = 600;
    const acked = new Map<string, number>();
    let failed = 0;
    let next = 0;
    let killed: Promise<void> | undefined;
    const lane = async (): Promise<void> => {
      while (next < TOTAL) {
        const value = `r${next++}`;
        try {
          const r = await producer.send("durable", { partition: 0, value });
          acked.set(value, Number(r.offset));
        } catch {
          failed++;
        }
        if (acked.size >= KILL_AFTER && killed === undefined) killed = brokers.get(victim)!.kill9();
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
    await killed;
    expect(killed).toBeDefined();
    expect(acked.size).toBeGreaterThan(KILL_AFTER);

    const survivors = BROKER_IDS.filter((id) => id !== victim);
    const after = (await leaderOf("durable", survivors[0]))[0];
    expect(after.leader).not.toBe(victim);
    expect(after.leaderEpoch).toBeGreaterThan(0);
    // Read everything back from the new leader: every acknowledged record, at its acknowledged offset.
    const consumer = new Consumer({ broker: survivors.map((id) => `127.0.0.1:${brokers.get(id)!.port}`).join(","), fetchMaxWaitMs: 100 });
    closers.push(() => consumer.close());
    consumer.assign([{ topic: "durable", partition: 0, position: "beginning" }]);
    const end = Math.max(...acked.values()) + 1;
    const read = new Map<number, string>();
    await waitFor(async () => {
      for (const r of await consumer.poll({ maxWaitMs: 200 })) read.set(Number(r.offset), r.value === null ? "" : new TextDecoder().decode(r.value));
      return read.size >= end;
    }, { timeoutMs: 30_000, everyMs: 1, what: `the new leader's records up to offset ${end}` });
    let lost = 0;
    for (const [value, offset] of acked) if (read.get(offset) !== value) lost++;
    expect({ lost, acked: acked.size, failed }).toEqual({ lost: 0, acked: acked.size, failed: 0 });

    // The killed broker, restarted on its data dir, follows the new leader and catches up.
    replaced.push(brokers.get(victim)!);
    brokers.set(victim, await startBroker({ dataDir: brokers.get(victim)!.dataDir, args: brokerArgs(victim) }));
    const leaderEnd = (await offsetsOf("durable", 0, [after.leader]))[0].logEnd;
    await waitFor(async () => (await offsetsOf("durable", 0, [victim]))[0].durable >= leaderEnd, { ...ETCD_WAIT, what: "the restarted broker caught up" });
  }, 90_000);
});
