// Brokers acting on the cluster's partition state (docs/CLUSTER.md, "Brokers
// act on the partition state"), with a real etcd and three real broker
// processes: a topic created through any broker is placed by the controller
// and every broker opens exactly its replicas; metadata from every broker
// agrees (native and Kafka, kcat -L); only the leader takes a produce; a
// replication factor above the live brokers is refused; after kill -9 of a
// leader the new leader shows in metadata and takes produces (what the
// replicas hold is test/cluster_replication.test.ts's).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Admin, Consumer, type MetadataResponse, Producer } from "../client/mod.ts";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { decodeProduceResponse } from "../protocol/messages/produce.ts";
import { KafkaApiKey } from "../protocol/kafka/versions.ts";
import { decodeFetchResponse, encodeFetchRequest } from "../protocol/kafka/messages/fetch.ts";
import { KafkaRawClient } from "./support/kafka_raw_client.ts";
import { makeBatch } from "./log/helpers.ts";
import { type BrokerProcess, startBroker } from "./support/broker.ts";
import { ETCD_WAIT, type EtcdCluster, startEtcd } from "./support/etcd.ts";
import { waitFor } from "./support/wait_for.ts";
import { RawClient, produceBody } from "./support/raw_client.ts";

const BROKER_IDS = [1, 2, 3];
let etcd: EtcdCluster;
const brokers = new Map<number, BrokerProcess>();
const admins: Admin[] = [];
const producers: Producer[] = [];
const clusterName = `routing${process.pid}`;

function admin(id: number): Admin {
  const a = new Admin({ broker: `127.0.0.1:${brokers.get(id)!.port}` });
  admins.push(a);
  return a;
}

const brokerArgs = (id: number) => ["--cluster-etcd", etcd.endpoints.join(","), "--broker-id", String(id), "--cluster-name", clusterName, "--cluster-lease-ttl-seconds", "2", "--workers", "1"];
/** Brokers replaced by a restart (their data dirs are the new ones'): cleaned up at the end. */
const replaced: BrokerProcess[] = [];

beforeAll(async () => {
  etcd = await startEtcd({ members: 1 });
  for (const id of BROKER_IDS) brokers.set(id, await startBroker({ args: brokerArgs(id) }));
  const a = admin(1);
  await waitFor(async () => {
    for (const id of BROKER_IDS) if ((await admin(id).metadata([])).brokers.length !== 3) return false;
    return true;
  }, { ...ETCD_WAIT, what: "every broker sees three brokers" });
  await a.close();
}, 60_000);

afterAll(async () => {
  for (const p of producers) await p.close({ timeoutMs: 1_000 }).catch(() => {});
  for (const a of admins) await a.close();
  for (const b of brokers.values()) await b.cleanup();
  for (const b of replaced) await b.cleanup();
  await etcd?.stop();
});

/** What every broker must agree on: brokers, and per partition leader, epoch, replicas, ISR. */
function agreed(m: MetadataResponse): string {
  const brokersPart = m.brokers.map((b) => `${b.nodeId}@${b.host}:${b.port}/${b.kafkaPort}`).join(" ");
  const topics = m.topics.map((t) => `${t.name}:${t.errorCode}:` + t.partitions.map((p) => `${p.partition}=${p.leader}/${p.leaderEpoch}/${p.replicas?.join(",")}/${p.isr?.join(",")}`).join(";"));
  return `${brokersPart} | ${topics.join(" ")}`;
}

function partitionDirs(b: BrokerProcess, topic: string): number[] {
  const dir = path.join(b.dataDir, "topics", topic);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .sort((x, y) => x - y);
}

/** A Kafka Fetch (v12) of partition 0 at offset 0 carrying `currentLeaderEpoch`; the partition's error code. */
async function kafkaFetchCode(b: BrokerProcess, topic: string, currentLeaderEpoch: number): Promise<number> {
  const c = await KafkaRawClient.connect(b.kafkaPort!);
  try {
    const r = await c.call(
      KafkaApiKey.Fetch,
      12,
      (w) =>
        encodeFetchRequest(w, 12, {
          maxWaitMs: 0,
          minBytes: 0,
          maxBytes: 1 << 20,
          topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] }],
        }),
      decodeFetchResponse,
    );
    return r.responses[0].partitions[0].errorCode;
  } finally {
    c.close();
  }
}

async function produceTo(b: BrokerProcess, topic: string, partition: number): Promise<number> {
  const c = await RawClient.connect(b.port);
  try {
    const r = await c.request(0, produceBody({ topic, acks: -1, partitions: [{ index: partition, records: makeBatch({ count: 2 }) }] }));
    return decodeProduceResponse(r.body).topics[0].partitions[0].errorCode;
  } finally {
    c.close();
  }
}

describe("brokers act on the cluster's partition state", () => {
  test("a topic created through a follower broker: every broker opens its replicas, metadata agrees, only leaders take produces", async () => {
    // RF 1 over three partitions: each partition lives on exactly one broker, so the directories say who hosts what.
    await admin(2).createTopic("spread", { partitions: 3, replicationFactor: 1 });
    await admin(3).createTopic("full", { partitions: 2, replicationFactor: 3, configs: { "retention.ms": "3600000" } });

    let views: MetadataResponse[] = [];
    await waitFor(async () => {
      views = await Promise.all(BROKER_IDS.map((id) => admin(id).metadata(["spread", "full"])));
      return views.every((v) => agreed(v) === agreed(views[0])) && views[0].topics.every((t) => t.errorCode === 0);
    }, { ...ETCD_WAIT, what: "every broker's metadata agrees" });
    const [spread, full] = views[0].topics;
    expect(views[0].brokers.map((b) => b.nodeId)).toEqual(BROKER_IDS);
    for (const b of views[0].brokers) expect(b.port).toBe(brokers.get(b.nodeId)!.port);
    for (const b of views[0].brokers) expect(b.kafkaPort).toBe(brokers.get(b.nodeId)!.kafkaPort);
    expect(spread.partitions.map((p) => p.replicas!.length)).toEqual([1, 1, 1]);
    expect(full.partitions.map((p) => [...p.replicas!].sort())).toEqual([BROKER_IDS, BROKER_IDS]);
    for (const p of [...spread.partitions, ...full.partitions]) {
      expect(p.leader).toBe(p.replicas![0]);
      expect([...p.isr!].sort()).toEqual([...p.replicas!].sort());
      expect(p.leaderEpoch).toBe(0);
    }

    // Each broker has exactly its replicas on disk.
    await waitFor(() =>
      BROKER_IDS.every((id) => {
        const want = spread.partitions.filter((p) => p.replicas!.includes(id)).map((p) => p.partition);
        return JSON.stringify(partitionDirs(brokers.get(id)!, "spread")) === JSON.stringify(want) && partitionDirs(brokers.get(id)!, "full").length === 2;
      }), { ...ETCD_WAIT, what: "partition directories on the right brokers" });

    // Only the leader takes a produce; the others answer NOT_LEADER_OR_FOLLOWER.
    for (const p of full.partitions) {
      await waitFor(async () => (await produceTo(brokers.get(p.leader)!, "full", p.partition)) === ErrorCode.NONE, { ...ETCD_WAIT, what: `broker ${p.leader} leads full-${p.partition}` });
      for (const id of BROKER_IDS) {
        const code = await produceTo(brokers.get(id)!, "full", p.partition);
        expect({ partition: p.partition, broker: id, code }).toEqual({ partition: p.partition, broker: id, code: id === p.leader ? ErrorCode.NONE : ErrorCode.NOT_LEADER_OR_FOLLOWER });
      }
    }

    // topics describe (DescribeTopics) carries the same leader, replicas and ISR.
    const [d] = await admin(1).describeTopics(["full"]);
    expect(d.partitions.map((p) => [p.leader, p.replicas])).toEqual(full.partitions.map((p) => [p.leader, p.replicas]));
    expect(d.configs["retention.ms"]).toBe("3600000");

    // kcat -L against one broker's Kafka port: three brokers, and the replicas and ISR per partition.
    const kcat = spawnSync("kcat", ["-L", "-b", `127.0.0.1:${brokers.get(3)!.kafkaPort}`, "-t", "full", "-m", "10"], { encoding: "utf8", timeout: 20_000 });
    expect(kcat.status).toBe(0);
    expect(kcat.stdout).toContain("3 brokers:");
    for (const id of BROKER_IDS) expect(kcat.stdout).toContain(`broker ${id} at 127.0.0.1:${brokers.get(id)!.kafkaPort}`);
    for (const p of full.partitions) {
      expect(kcat.stdout).toContain(`partition ${p.partition}, leader ${p.leader}, replicas: ${p.replicas!.join(",")}, isrs: ${p.isr!.join(",")}`);
    }
  }, 60_000);

  test("the native producer given the three brokers sends each partition to its leader", async () => {
    await admin(1).createTopic("routed", { partitions: 6, replicationFactor: 2 });
    let m: MetadataResponse | undefined;
    await waitFor(async () => {
      m = await admin(1).metadata(["routed"]);
      if (m.topics[0].errorCode !== 0) return false;
      for (const p of m.topics[0].partitions) if ((await produceTo(brokers.get(p.leader)!, "routed", p.partition)) !== ErrorCode.NONE) return false;
      return true;
    }, { ...ETCD_WAIT, what: "routed has leaders that take produces" });
    const leaders = m!.topics[0].partitions.map((p) => p.leader);
    expect(new Set(leaders).size).toBe(3); // leaders spread over the brokers
    const producer = new Producer({ broker: BROKER_IDS.map((id) => `127.0.0.1:${brokers.get(id)!.port}`).join(","), acks: "all" });
    producers.push(producer);
    const PER_PARTITION = 20;
    const acked = await Promise.all(
      Array.from({ length: 6 * PER_PARTITION }, (_, i) => producer.send("routed", { partition: i % 6, value: `v${i}` })),
    );
    // Offsets per partition are consecutive from the leader's log end before (one batch of 2 records from produceTo).
    for (let p = 0; p < 6; p++) {
      const offsets = acked.filter((r) => r.partition === p).map((r) => Number(r.offset));
      expect(offsets).toEqual(Array.from({ length: PER_PARTITION }, (_, k) => offsets[0] + k));
    }
    // Each leader holds its partition's records.
    const descriptions = await Promise.all(BROKER_IDS.map(async (id) => (await admin(id).describeTopics(["routed"]))[0]));
    for (let p = 0; p < 6; p++) {
      const leader = leaders[p];
      expect(descriptions[BROKER_IDS.indexOf(leader)].partitions[p].logEndOffset).toBe(2 + PER_PARTITION);
    }

    // The consumer, bootstrapped from one broker, reads every partition from its leader.
    const consumer = new Consumer({ broker: `127.0.0.1:${brokers.get(1)!.port}`, fetchMaxWaitMs: 100 });
    try {
      consumer.assign(Array.from({ length: 6 }, (_, partition) => ({ topic: "routed", partition, position: "beginning" as const })));
      const got = new Map<number, string[]>();
      let total = 0;
      const deadline = Date.now() + 20_000;
      while (total < 6 * (PER_PARTITION + 2) && Date.now() < deadline) {
        for (const r of await consumer.poll({ maxWaitMs: 500 })) {
          const list = got.get(r.partition) ?? [];
          list.push(r.value === null ? "" : new TextDecoder().decode(r.value));
          got.set(r.partition, list);
          total++;
        }
      }
      for (let p = 0; p < 6; p++) {
        const values = got.get(p) ?? [];
        expect(values.length).toBe(PER_PARTITION + 2);
        // After produceTo's batch of two, this partition's records in the order sent.
        expect(values.slice(2)).toEqual(Array.from({ length: PER_PARTITION }, (_, k) => `v${p + 6 * k}`));
      }
    } finally {
      await consumer.close();
    }
  }, 60_000);

  test("a replication factor above the live brokers is INVALID_REPLICATION_FACTOR; delete removes every broker's replicas", async () => {
    const err = await admin(1).createTopic("too-wide", { partitions: 1, replicationFactor: 4 }).catch((e) => e);
    expect(err).toBeInstanceOf(SluiceError);
    expect((err as SluiceError).code).toBe(ErrorCode.INVALID_REPLICATION_FACTOR);
    const bad = await admin(1).createTopic("bad-isr", { partitions: 1, replicationFactor: 2, configs: { "min.insync.replicas": "3" } }).catch((e) => e);
    expect((bad as SluiceError).code).toBe(ErrorCode.INVALID_CONFIG);

    await admin(1).createTopic("doomed", { partitions: 2, replicationFactor: 3 });
    await waitFor(() => BROKER_IDS.every((id) => partitionDirs(brokers.get(id)!, "doomed").length === 2), { ...ETCD_WAIT, what: "every broker hosts doomed" });
    await admin(3).deleteTopics(["doomed"]);
    await waitFor(() => BROKER_IDS.every((id) => !fs.existsSync(path.join(brokers.get(id)!.dataDir, "topics", "doomed"))), { ...ETCD_WAIT, what: "no broker hosts doomed" });
    const m = await admin(2).metadata(["doomed"]);
    expect(m.topics[0].errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  }, 60_000);

  test("after kill -9 of a leader, metadata shows the controller's new leader, which takes produces", async () => {
    await admin(1).createTopic("failover", { partitions: 1, replicationFactor: 3 });
    let before: MetadataResponse | undefined;
    await waitFor(async () => {
      before = await admin(1).metadata(["failover"]);
      return before.topics[0].errorCode === 0 && BROKER_IDS.every((id) => partitionDirs(brokers.get(id)!, "failover").length === 1);
    }, { ...ETCD_WAIT, what: "failover has a leader everywhere" });
    const p0 = before!.topics[0].partitions[0];
    const victim = p0.leader;
    // A replica's directory exists a moment before its role is set: until then it answers NOT_LEADER_OR_FOLLOWER (retriable).
    await waitFor(async () => (await produceTo(brokers.get(victim)!, "failover", 0)) === ErrorCode.NONE, { ...ETCD_WAIT, what: "the leader takes a produce" });
    // A producer bootstrapped from a survivor; a short connect timeout so the dead leader's link gives up quickly.
    const survivor = BROKER_IDS.find((id) => id !== victim)!;
    const producer = new Producer({ broker: `127.0.0.1:${brokers.get(survivor)!.port}`, acks: "all", connectTimeoutMs: 500 });
    producers.push(producer);
    expect((await producer.send("failover", { partition: 0, value: "before" })).partition).toBe(0);
    await brokers.get(victim)!.kill9();
    // Sent while the leader is dead and before the controller noticed: retried until the new leader takes it.
    const duringFailover = producer.send("failover", { partition: 0, value: "during" });
    const survivors = BROKER_IDS.filter((id) => id !== victim);

    let after: MetadataResponse | undefined;
    await waitFor(async () => {
        const views = await Promise.all(survivors.map((id) => admin(id).metadata(["failover"])));
        after = views[0];
        const p = views[0].topics[0].partitions[0];
        return views.every((v) => agreed(v) === agreed(views[0])) && p.leader !== victim && p.leader !== -1 && v0Brokers(views[0]) === 2;
      }, { ...ETCD_WAIT, what: "a new leader in every survivor's metadata", timeoutMs: 15_000, everyMs: 100 });
    const p = after!.topics[0].partitions[0];
    expect(p.leaderEpoch).toBe(p0.leaderEpoch + 1);
    // A client given several brokers gets past the dead one (bootstrap list, in order), as a string or an array.
    for (const broker of [`127.0.0.1:${brokers.get(victim)!.port},127.0.0.1:${brokers.get(p.leader)!.port}`, [`127.0.0.1:${brokers.get(victim)!.port}`, `127.0.0.1:${brokers.get(p.leader)!.port}`]]) {
      const bootstrapped = new Admin({ broker, connectTimeoutMs: 5_000 });
      admins.push(bootstrapped);
      expect(agreed(await bootstrapped.metadata(["failover"]))).toBe(agreed(after!));
    }
    expect(p.isr).not.toContain(victim);
    await waitFor(async () => (await produceTo(brokers.get(p.leader)!, "failover", 0)) === ErrorCode.NONE, { ...ETCD_WAIT, what: "the new leader takes a produce" });
    // The producer carried on: its retry found the new leader.
    expect((await duringFailover).partition).toBe(0);
    const sent = await producer.send("failover", { partition: 0, value: "after" });
    expect(sent.offset).toBeGreaterThan((await duringFailover).offset);
    const other = survivors.find((id) => id !== p.leader)!;
    expect(await produceTo(brokers.get(other)!, "failover", 0)).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    // Kafka Fetch carries the leader epoch the client believes current (KIP-320).
    expect(await kafkaFetchCode(brokers.get(p.leader)!, "failover", p0.leaderEpoch)).toBe(ErrorCode.FENCED_LEADER_EPOCH);
    expect(await kafkaFetchCode(brokers.get(p.leader)!, "failover", p.leaderEpoch + 1)).toBe(ErrorCode.UNKNOWN_LEADER_EPOCH);
    expect(await kafkaFetchCode(brokers.get(p.leader)!, "failover", p.leaderEpoch)).toBe(ErrorCode.NONE);
    expect(await kafkaFetchCode(brokers.get(other)!, "failover", p.leaderEpoch)).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);

    // The old leader restarts from its disk: it rejoins as a follower and leads nothing it led before.
    replaced.push(brokers.get(victim)!);
    const back = await startBroker({ dataDir: brokers.get(victim)!.dataDir, args: brokerArgs(victim) });
    brokers.set(victim, back);
    await waitFor(async () => agreed(await admin(victim).metadata(["failover"])) === agreed(await admin(p.leader).metadata(["failover"])), { ...ETCD_WAIT, what: "the restarted broker's metadata agrees" });
    expect(await produceTo(back, "failover", 0)).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect(partitionDirs(back, "failover")).toEqual([0]);
  }, 60_000);
});

function v0Brokers(m: MetadataResponse): number {
  return m.brokers.length;
}
