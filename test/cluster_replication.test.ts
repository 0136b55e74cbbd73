// Replication driven by etcd (docs/CLUSTER.md, "Brokers act on the partition
// state"), with a real etcd and three real `sluice serve` processes
// (support/cluster_harness.ts; lease TTL 3 s, lag time 1 s): nothing
// sets roles by hand; every broker gives its replicas the roles etcd's
// partition state says.
//
// - an RF 3 topic made through the admin client and produced to with
//   acks=all through the native client ends with byte-identical segment
//   files on the three brokers;
// - kill -9 of a leader under acks=all load: the leader etcd elects next
//   holds every acknowledged record at the offset it was acknowledged with;
//   the killed broker restarted on its data dir follows, catches up and is
//   proposed back into the ISR;
// - a SIGSTOPped follower leaves the ISR through the controller
//   (AlterPartition) within the lag time, while its session still lives, and
//   acks=all completes again; on SIGCONT it catches up and rejoins the ISR;
// - a leader SIGSTOPped past its lease with produces waiting in its sockets:
//   resumed, it acknowledges none of them (the lease deadline on the ack
//   path), a new leader was elected meanwhile, and the old one ends as a
//   follower that cut what it wrote alone, its log byte-identical to the new
//   leader's.

import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { Admin, Consumer, type MetadataResponse, Producer } from "../client/mod.ts";
import type { PartitionState } from "../cluster/mod.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { decodeProduceResponse } from "../protocol/messages/produce.ts";
import { encodeBatch } from "../protocol/record_batch.ts";
import { type ClusterHarness, startCluster } from "./support/cluster_harness.ts";
import { ETCD_WAIT } from "./support/etcd.ts";
import { RawClient, produceBody } from "./support/raw_client.ts";
import { waitFor, waitForValue } from "./support/wait_for.ts";

/** Above the harness's 2 s: a follower must leave the ISR (lag time) well before its session could expire. */
const LEASE_TTL_SECONDS = 3;
const LAG_TIME_MS = 1_000;
let c: ClusterHarness;
let BROKER_IDS: number[];
const closers: (() => Promise<unknown>)[] = [];

const admin = (id: number): Admin => c.admin(c.broker(id).address);
const allBrokers = (): string => c.bootstrap();

/** The create revision of a broker's registration (one per session), undefined when it has none. */
async function registrationOf(id: number): Promise<number | undefined> {
  return (await c.etcdClient.range(c.keys.broker(id))).kvs[0]?.createRevision;
}

/** Waits for the topic's partition 0 to have its whole replica set in sync; returns that state. */
function fullIsr(topic: string): Promise<PartitionState> {
  return waitForValue(async () => {
    const s = await c.partitionState(topic, 0);
    return s !== undefined && s.isr.length === BROKER_IDS.length && s.leader !== -1 ? s : undefined;
  }, { ...ETCD_WAIT, what: `${topic}-0 with every replica in the ISR` });
}

beforeAll(async () => {
  c = await startCluster({ brokers: 3, leaseTtlSeconds: LEASE_TTL_SECONDS, brokerArgs: ["--replica-lag-time-max-ms", String(LAG_TIME_MS)] });
  BROKER_IDS = c.ids;
  await c.waitForMetadata();
}, 60_000);

// A test that failed with a broker stopped must not leave it stopped for the next one.
afterEach(() => {
  for (const id of BROKER_IDS) if (c.broker(id).paused) c.broker(id).resume();
});

afterAll(async () => {
  for (const f of closers) await f().catch(() => {});
  await c?.cleanup();
});

/** The .log files of one partition on one broker, by name. */
function segmentFiles(id: number, topic: string, partition: number): Map<string, Buffer> {
  const dir = path.join(c.broker(id).dataDir, "topics", topic, String(partition));
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
      const files = BROKER_IDS.map((id) => segmentFiles(id, "copies", p));
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
    let killedAt = 0;
    let firstAckAfterKill = 0;
    const lane = async (): Promise<void> => {
      while (next < TOTAL) {
        const value = `r${next++}`;
        try {
          const r = await producer.send("durable", { partition: 0, value });
          acked.set(value, Number(r.offset));
        } catch {
          failed++;
        }
        if (killedAt > 0 && firstAckAfterKill === 0) firstAckAfterKill = performance.now();
        if (acked.size >= KILL_AFTER && killed === undefined) {
          killedAt = performance.now();
          killed = c.broker(victim).kill9();
        }
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
    await killed;
    expect(killed).toBeDefined();
    // The first acknowledgement after the kill comes from the new leader: after the lease TTL, the election and the producer's retry.
    expect(firstAckAfterKill - killedAt).toBeGreaterThan(0);
    expect(acked.size).toBeGreaterThan(KILL_AFTER);

    const survivors = BROKER_IDS.filter((id) => id !== victim);
    const after = (await leaderOf("durable", survivors[0]))[0];
    expect(after.leader).not.toBe(victim);
    expect(after.leaderEpoch).toBeGreaterThan(0);
    // Read everything back from the new leader: every acknowledged record, at its acknowledged offset.
    const consumer = new Consumer({ broker: c.bootstrap([victim]), fetchMaxWaitMs: 100 });
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
    // Idempotent retries after the failover: the new leader has the producer state from the replicated batches, so none is stored twice.
    const seen = new Map<string, number>();
    for (const v of read.values()) seen.set(v, (seen.get(v) ?? 0) + 1);
    const duplicated = [...seen.values()].filter((n) => n > 1).length;
    expect({ lost, duplicated, acked: acked.size, failed }).toEqual({ lost: 0, duplicated: 0, acked: TOTAL, failed: 0 });

    // The killed broker, restarted on its data dir, follows the new leader and catches up.
    await c.broker(victim).start();
    const leaderEnd = (await offsetsOf("durable", 0, [after.leader]))[0].logEnd;
    await waitFor(async () => (await offsetsOf("durable", 0, [victim]))[0].durable >= leaderEnd, { ...ETCD_WAIT, what: "the restarted broker caught up" });
    // Caught up, it is proposed back into the ISR (AlterPartition) and the controller writes it.
    await fullIsr("durable");
  }, 90_000);

  test("a SIGSTOPped follower leaves the ISR through the controller within the lag time; acks=all completes again; resumed, it rejoins", async () => {
    await admin(1).createTopic("lagging", { partitions: 1, replicationFactor: 3 });
    const s0 = await fullIsr("lagging");
    const controller = await c.controllerId();
    // Not the controller: the change must go through it while this broker is stopped.
    const follower = s0.isr.find((id) => id !== s0.leader && id !== controller)!;
    const producer = new Producer({ broker: allBrokers(), acks: "all", connectTimeoutMs: 500 });
    closers.push(() => producer.close({ timeoutMs: 1_000 }));
    for (let i = 0; i < 20; i++) await producer.send("lagging", { partition: 0, value: `a${i}` });
    const registration = await registrationOf(follower);
    // The leader's counters are its broker's since it started (earlier tests' partitions too): compare with before.
    const leaderMetric = async (name: string) =>
      Number(new RegExp(`^${name} (\\d+)$`, "m").exec(await (await fetch(`http://127.0.0.1:${c.broker(s0.leader).httpPort}/metrics`)).text())?.[1]);
    const acceptedBefore = await leaderMetric("sluice_cluster_isr_proposals_accepted_total");
    const shrinksBefore = await leaderMetric("sluice_cluster_isr_shrinks_total");
    const expandsBefore = await leaderMetric("sluice_cluster_isr_expands_total");
    c.broker(follower).pause();
    const stoppedAt = performance.now();
    const held = producer.send("lagging", { partition: 0, value: "held" });
    await waitFor(async () => !(await c.partitionState("lagging", 0))!.isr.includes(follower), {
      timeoutMs: LAG_TIME_MS + 5_000,
      everyMs: 20,
      what: `broker ${follower} out of the ISR in etcd`,
    });
    const shrunkAfterMs = performance.now() - stoppedAt;
    // The leader's proposal, not the end of the follower's session: its registration is the same one.
    expect(await registrationOf(follower)).toBe(registration);
    expect(shrunkAfterMs).toBeLessThan(LEASE_TTL_SECONDS * 1000);
    const s1 = (await c.partitionState("lagging", 0))!;
    expect(s1).toMatchObject({ leader: s0.leader, leaderEpoch: s0.leaderEpoch, partitionEpoch: s0.partitionEpoch + 1 });
    // With two in sync (min.insync.replicas 2) acks=all is answered again.
    expect((await held).offset).toBe(20n);
    // The leader counts the proposal the controller wrote (once the answer reaches it: it may trail the state etcd shows).
    await waitFor(async () => (await leaderMetric("sluice_cluster_isr_proposals_accepted_total")) > acceptedBefore, { ...ETCD_WAIT, what: "the leader counted its accepted proposal" });
    // Every partition this leader leads with that follower in its ISR shrinks: at least this one.
    expect(await leaderMetric("sluice_cluster_isr_shrinks_total")).toBeGreaterThan(shrinksBefore);
    for (let i = 0; i < 10; i++) await producer.send("lagging", { partition: 0, value: `b${i}` });
    // The stopped follower is behind by everything since it stopped (at least the 11 records sent after), and the leader says so.
    expect(await leaderMetric("sluice_cluster_follower_lag_max_messages")).toBeGreaterThanOrEqual(11);

    c.broker(follower).resume();
    const leaderEnd = (await offsetsOf("lagging", 0, [s0.leader]))[0].logEnd;
    expect(leaderEnd).toBe(31);
    await waitFor(async () => (await offsetsOf("lagging", 0, [follower]))[0].durable === leaderEnd, { ...ETCD_WAIT, what: "the resumed follower caught up" });
    const back = await fullIsr("lagging");
    expect(back.leader).toBe(s0.leader);
    expect(back.partitionEpoch).toBeGreaterThan(s1.partitionEpoch);
    await waitFor(async () => (await leaderMetric("sluice_cluster_isr_expands_total")) > expandsBefore, { ...ETCD_WAIT, what: "the leader counted the expansion" });
  }, 60_000);

  test("a leader SIGSTOPped past its lease acknowledges nothing when resumed; the new leader's log is what it ends with", async () => {
    await admin(1).createTopic("paused", { partitions: 1, replicationFactor: 3 });
    const s0 = await fullIsr("paused");
    const old = s0.leader;
    const producer = new Producer({ broker: allBrokers(), acks: "all", connectTimeoutMs: 500, retries: 1_000, deliveryTimeoutMs: 60_000 });
    closers.push(() => producer.close({ timeoutMs: 1_000 }));
    for (let i = 0; i < 20; i++) await producer.send("paused", { partition: 0, value: `a${i}` });
    // Records the old leader may be alone to have: its followers are stopped for a moment while it takes three acks=1 batches
    // (a follower's fetch already parked at the leader may still carry the first ones away; the rest only the leader has).
    const followers = s0.isr.filter((id) => id !== old).map((id) => c.broker(id));
    for (const f of followers) f.pause();
    // Straight to the leader's listener, not through its proxy.
    const direct = await RawClient.connect(c.broker(old).listenerPort!);
    closers.push(async () => direct.close());
    for (let i = 0; i < 3; i++) {
      const r = await direct.request(0, produceBody({ topic: "paused", acks: 1, partitions: [{ index: 0, records: encodeBatch([{ value: `alone${i}` }]) }] }));
      expect(decodeProduceResponse(r.body).topics[0].partitions[0].errorCode).toBe(ErrorCode.NONE);
    }
    // Connections opened now; their produces are written while the broker is stopped, so it reads them only once resumed.
    const conns = await Promise.all(Array.from({ length: 6 }, () => RawClient.connect(c.broker(old).listenerPort!)));
    for (const conn of conns) closers.push(async () => conn.close());
    c.broker(old).pause();
    for (const f of followers) f.resume();
    const answers = conns.map((conn, i) =>
      conn
        .request(0, produceBody({ topic: "paused", acks: i % 2 === 0 ? 1 : -1, timeoutMs: 30_000, partitions: [{ index: 0, records: encodeBatch([{ value: `zombie${i}` }]) }] }), {
          timeoutMs: 60_000,
        })
        .then(
          (r) => decodeProduceResponse(r.body).topics[0].partitions[0].errorCode,
          () => "no answer",
        ),
    );
    // A producer that knows every broker goes on through the failover.
    const during = producer.send("paused", { partition: 0, value: "during" });
    const s1 = await waitForValue(async () => {
      const s = await c.partitionState("paused", 0);
      return s !== undefined && s.leader !== old && s.leader !== -1 ? s : undefined;
    }, { timeoutMs: LEASE_TTL_SECONDS * 1000 + 15_000, everyMs: 50, what: "a new leader in etcd" });
    expect(s1.leaderEpoch).toBe(s0.leaderEpoch + 1);
    expect(s1.isr).not.toContain(old);
    c.broker(old).resume();
    // Every answer the resumed broker gives is a refusal: it acknowledged nothing.
    const codes = await Promise.all(answers);
    expect(codes.every((c) => c === ErrorCode.NOT_LEADER_OR_FOLLOWER || c === "no answer")).toBe(true);
    expect(codes.filter((c) => c === ErrorCode.NOT_LEADER_OR_FOLLOWER).length).toBeGreaterThan(0);
    // The new leader holds the first `carried` of the three (those a follower fetched), then what was sent during the failover.
    const carried = Number((await during).offset) - 20;
    expect(carried).toBeGreaterThanOrEqual(0);
    expect(carried).toBeLessThanOrEqual(3);
    for (let i = 0; i < 10; i++) await producer.send("paused", { partition: 0, value: `b${i}` });
    const end = 20 + carried + 1 + 10;

    // The old leader follows the new one: back in the ISR, and its log is the leader's, byte for byte.
    const back = await fullIsr("paused");
    expect(back.leader).toBe(s1.leader);
    await waitFor(async () => {
      const [l, f] = await offsetsOf("paused", 0, [s1.leader, old]);
      return l.logEnd === end && f.logEnd === end && f.durable === end && l.durable === end;
    }, { ...ETCD_WAIT, what: `the old leader holds the new leader's ${end} records durably` });
    expect(segmentFiles(old, "paused", 0)).toEqual(segmentFiles(s1.leader, "paused", 0));
    // In order: what both had, the records a follower carried away, then the new leader's; what the old one wrote alone is gone.
    const consumer = new Consumer({ broker: c.broker(s1.leader).address, fetchMaxWaitMs: 100 });
    closers.push(() => consumer.close());
    consumer.assign([{ topic: "paused", partition: 0, position: "beginning" }]);
    const values: string[] = [];
    await waitFor(async () => {
      for (const r of await consumer.poll({ maxWaitMs: 200 })) values.push(r.value === null ? "" : new TextDecoder().decode(r.value));
      return values.length >= end;
    }, { timeoutMs: 20_000, everyMs: 1, what: `${end} records from the new leader` });
    const expected = [
      ...Array.from({ length: 20 }, (_, i) => `a${i}`),
      ...Array.from({ length: carried }, (_, i) => `alone${i}`),
      "during",
      ...Array.from({ length: 10 }, (_, i) => `b${i}`),
    ];
    expect(values).toEqual(expected);
  }, 90_000);
});
