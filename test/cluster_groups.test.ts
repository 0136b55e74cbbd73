// Consumer groups in a cluster (docs/CLUSTER.md, "Consumer groups in a
// cluster"), with a real etcd and three real `sluice serve` processes
// (support/cluster_harness.ts, Kafka listeners on):
//
// - the first FindCoordinator creates `__consumer_offsets` (16 partitions,
//   RF 3) through the controller; every broker names the same coordinator for
//   a group (the leader of its partition); the others answer NOT_COORDINATOR;
//   clients cannot produce to, delete or grow the internal topic;
// - kill -9 of the coordinator's broker: a survivor names a new coordinator,
//   which returns every committed offset; a native, a kafkajs and a kcat -G
//   (librdkafka) consumer group, running across the kill, miss no record and
//   never go back before an offset they had committed (re-deliveries counted
//   and printed); the moved partitions' new leaders answer OffsetForLeaderEpoch.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn } from "node:child_process";
import { Kafka, logLevel } from "kafkajs";
import { Admin, Producer } from "../client/mod.ts";
import { GroupAdmin } from "../client/group_admin.ts";
import { GroupConsumer } from "../client/group_consumer.ts";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { GroupApiKey } from "../protocol/messages/groups.ts";
import { offsetsPartitionFor } from "../engine/groups/offsets_topic.ts";
import { type ClusterHarness, startCluster } from "./support/cluster_harness.ts";
import { ETCD_WAIT } from "./support/etcd.ts";
import { RawClient } from "./support/raw_client.ts";
import { KafkaRawClient } from "./support/kafka_raw_client.ts";
import { decodeOffsetForLeaderEpochResponse, encodeOffsetForLeaderEpochRequest } from "../protocol/kafka/messages/offset_for_leader_epoch.ts";
import { KafkaApiKey } from "../protocol/kafka/versions.ts";
import { waitFor, waitForValue } from "./support/wait_for.ts";

const LAG_TIME_MS = 1_000;
const OFFSETS = "__consumer_offsets";
let c: ClusterHarness;
let BROKER_IDS: number[];
const closers: (() => Promise<unknown>)[] = [];

const admin = (id: number): Admin => c.admin(c.broker(id).address);

async function raw(id: number): Promise<RawClient> {
  const r = await RawClient.connect(c.broker(id).inbound.port);
  closers.push(async () => r.close());
  return r;
}

const live = () => BROKER_IDS.filter((id) => c.broker(id).running);
const nativeBrokers = () => c.bootstrap(BROKER_IDS.filter((id) => !c.broker(id).running));
const kafkaAddress = (id: number) => `127.0.0.1:${c.broker(id).kafkaPort}`;

type Found = { nodeId: number; host: string; port: number } | { errorCode: number; message: string };

async function findCoordinator(via: number, groupId: string): Promise<Found> {
  const r = await raw(via);
  try {
    return await r.control<{ nodeId: number; host: string; port: number }>(GroupApiKey.FindCoordinator, { groupId });
  } finally {
    r.close();
  }
}

/** The coordinator's broker id once `via` names one. */
async function coordinatorOf(via: number, groupId: string): Promise<number> {
  return await waitForValue(async () => {
    const f = await findCoordinator(via, groupId);
    return "nodeId" in f ? f.nodeId : false;
  }, { ...ETCD_WAIT, what: `broker ${via} names the coordinator of ${groupId}` });
}

beforeAll(async () => {
  // Kafka listeners on: kafkajs and kcat take part (they reach the brokers straight, not through the proxies).
  c = await startCluster({ brokers: 3, kafkaListener: true, brokerArgs: ["--replica-lag-time-max-ms", String(LAG_TIME_MS)] });
  BROKER_IDS = c.ids;
  await c.waitForMetadata();
}, 60_000);

afterAll(async () => {
  for (const f of closers) await f().catch(() => {});
  await c?.cleanup();
});

describe("consumer groups across brokers", () => {
  test("the first FindCoordinator creates __consumer_offsets; every broker names the leader of the group's partition; the others answer NOT_COORDINATOR", async () => {
    const group = "static-probe";
    const coordinator = await coordinatorOf(2, group);
    for (const id of BROKER_IDS) expect(await coordinatorOf(id, group)).toBe(coordinator);
    const m = await admin(1).metadata([OFFSETS]);
    const t = m.topics[0];
    expect(t.errorCode).toBe(ErrorCode.NONE);
    expect(t.partitions.length).toBe(16);
    for (const p of t.partitions) expect([...p.replicas!].sort()).toEqual(BROKER_IDS);
    expect(t.partitions[offsetsPartitionFor(group)].leader).toBe(coordinator);

    // Each broker serves (has loaded) exactly the offsets partitions it leads: /metrics says how many.
    for (const id of BROKER_IDS) {
      const leads = t.partitions.filter((p) => p.leader === id).length;
      await waitFor(async () => {
        const text = await (await fetch(`http://127.0.0.1:${c.broker(id).httpPort}/metrics`)).text();
        return text.includes(`sluice_group_coordinator_partitions{state="loaded"} ${leads}\n`) && text.includes(`sluice_group_coordinator_partitions{state="loading"} 0\n`);
      }, { ...ETCD_WAIT, what: `broker ${id} serves its ${leads} offsets partitions` });
    }

    // A commit from outside any generation, at the coordinator; read back there; refused elsewhere.
    const commit = { groupId: group, generationId: -1, memberId: "", topics: [] as unknown[] };
    await admin(1).createTopic("probe", { partitions: 1, replicationFactor: 3 });
    commit.topics = [{ name: "probe", partitions: [{ partition: 0, offset: 0, metadata: "m" }] }];
    const at = await raw(coordinator);
    await waitFor(async () => {
      const r = await at.control<{ topics: { partitions: { errorCode: number }[] }[] }>(GroupApiKey.OffsetCommit, commit);
      return "topics" in r && r.topics[0].partitions[0].errorCode === ErrorCode.NONE;
    }, { ...ETCD_WAIT, what: "a commit at the coordinator succeeds (its partition loaded)" });
    const fetched = await at.control(GroupApiKey.OffsetFetch, { groupId: group, topics: null });
    expect(fetched).toEqual({ topics: [{ name: "probe", partitions: [{ partition: 0, offset: 0, metadata: "m", errorCode: 0 }] }] });
    for (const other of BROKER_IDS.filter((id) => id !== coordinator)) {
      const r = await raw(other);
      expect(await r.control(GroupApiKey.OffsetFetch, { groupId: group, topics: null })).toMatchObject({ errorCode: ErrorCode.NOT_COORDINATOR });
      expect(await r.control(GroupApiKey.Heartbeat, { groupId: group, generationId: 1, memberId: "x" })).toMatchObject({ errorCode: ErrorCode.NOT_COORDINATOR });
    }

    // The internal topic is the brokers' own.
    const producer = new Producer({ broker: nativeBrokers(), acks: "all", retries: 0 });
    closers.push(() => producer.close({ timeoutMs: 1_000 }));
    const produced = await producer.send(OFFSETS, { partition: 0, value: "x" }).then(
      () => ErrorCode.NONE,
      (e: unknown) => (e instanceof SluiceError ? e.code : -1),
    );
    expect(produced).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION);
    const deleted = await admin(1).deleteTopics([OFFSETS]).then(
      () => ErrorCode.NONE,
      (e: unknown) => (e instanceof SluiceError ? e.code : -1),
    );
    expect(deleted).toBe(ErrorCode.POLICY_VIOLATION);
    const codeOf = (p: Promise<unknown>) => p.then(() => ErrorCode.NONE, (e: unknown) => (e instanceof SluiceError ? e.code : -1));
    expect(await codeOf(admin(2).createPartitions(OFFSETS, 32))).toBe(ErrorCode.POLICY_VIOLATION);
    expect(await codeOf(admin(3).createTopic(OFFSETS, { partitions: 1, replicationFactor: 3 }))).toBe(ErrorCode.POLICY_VIOLATION);
    expect((await admin(1).metadata([OFFSETS])).topics[0].partitions.length).toBe(16);
  }, 60_000);

  test("kill -9 of the coordinator: a survivor names a new one that returns every committed offset; a native, a kafkajs and a kcat -G group consume across the kill, nothing missed, nothing before a commit", async () => {
    const TOPIC = "orders";
    const PARTITIONS = 3;
    const BEFORE = 300;
    const AFTER = 300;
    await admin(1).createTopic(TOPIC, { partitions: PARTITIONS, replicationFactor: 3 });
    const producer = new Producer({ broker: nativeBrokers(), acks: "all", connectTimeoutMs: 500 });
    closers.push(() => producer.close({ timeoutMs: 1_000 }));
    const send = async (from: number, n: number) => {
      await Promise.all(Array.from({ length: n }, (_, i) => producer.send(TOPIC, { partition: (from + i) % PARTITIONS, key: `k${from + i}`, value: `v${from + i}` })));
    };
    await send(0, BEFORE);

    // Three groups coordinated by one broker: a static one (committed once), a native one, a kafkajs one.
    const nativeGroup = "native-g";
    const victim = await coordinatorOf(1, nativeGroup);
    const sameCoordinator = async (prefix: string): Promise<string> => {
      const leaders = (await admin(1).metadata([OFFSETS])).topics[0].partitions.map((p) => p.leader);
      for (let i = 0; i < 1_000; i++) if (leaders[offsetsPartitionFor(`${prefix}-${i}`)] === victim) return `${prefix}-${i}`;
      throw new Error("no group id hashes to the victim's partitions");
    };
    const staticGroup = await sameCoordinator("static");
    const kafkaGroup = await sameCoordinator("kj");
    const kcatGroup = await sameCoordinator("kc");

    // Who saw what: "partition:offset" → times delivered.
    const seenNative = new Map<string, number>();
    const seenKafka = new Map<string, number>();
    const seenKcat = new Map<string, number>();
    const see = (m: Map<string, number>, p: number, o: number) => m.set(`${p}:${o}`, (m.get(`${p}:${o}`) ?? 0) + 1);

    const nativeConsumer = new GroupConsumer({
      broker: nativeBrokers(),
      groupId: nativeGroup,
      autoCommitIntervalMs: 100,
      sessionTimeoutMs: 6_000,
      heartbeatIntervalMs: 300,
      connectTimeoutMs: 500,
      pollWaitMs: 200,
    });
    closers.push(() => nativeConsumer.close());
    nativeConsumer.subscribe([TOPIC]);
    const nativeRun = nativeConsumer.run({ eachMessage: (m) => void see(seenNative, m.partition, m.offset) });
    nativeRun.catch(() => {});

    const kafka = new Kafka({
      brokers: live().map(kafkaAddress),
      clientId: "groups-failover",
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1_000,
      retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1_000 },
    });
    // kafkajs keeps asking the killed broker (ECONNREFUSED) until its consumer's retries run out, then restarts the
    // consumer, which finds the new leaders and coordinator: 5 retries (~5 s) rather than 30 (~26 s) of that. Its
    // fetches wait at most 250 ms, so a disconnect (and a rejoin) does not wait out a 5 s long poll.
    const kafkaConsumer = kafka.consumer({ groupId: kafkaGroup, sessionTimeout: 6_000, heartbeatInterval: 300, rebalanceTimeout: 10_000, maxWaitTimeInMs: 250, retry: { retries: 5 } });
    closers.push(() => kafkaConsumer.disconnect());
    await kafkaConsumer.connect();
    await kafkaConsumer.subscribe({ topic: TOPIC, fromBeginning: true });
    await kafkaConsumer.run({ autoCommitInterval: 100, eachMessage: async ({ partition, message }) => void see(seenKafka, partition, Number(message.offset)) });

    // librdkafka's balanced consumer (kcat -G), printing "partition offset" per record, unbuffered.
    const kcatProc: ChildProcess = spawn(
      "/usr/bin/kcat",
      [
        "-b", live().map(kafkaAddress).join(","),
        "-G", kcatGroup, TOPIC,
        "-u", "-q", "-f", "%p %o\\n",
        "-X", "auto.offset.reset=earliest",
        "-X", "auto.commit.interval.ms=100",
        "-X", "session.timeout.ms=6000",
        "-X", "heartbeat.interval.ms=300",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    closers.push(async () => {
      if (kcatProc.exitCode === null && kcatProc.signalCode === null) kcatProc.kill("SIGKILL");
    });
    let kcatTail = "";
    kcatProc.stdout!.on("data", (chunk: Buffer) => {
      const lines = (kcatTail + chunk.toString("utf8")).split("\n");
      kcatTail = lines.pop()!;
      for (const line of lines) {
        const [p, o] = line.trim().split(" ").map(Number);
        if (Number.isInteger(p) && Number.isInteger(o)) see(seenKcat, p, o);
      }
    });
    kcatProc.stderr!.resume();

    const groups = new GroupAdmin({ broker: nativeBrokers(), connectTimeoutMs: 500 });
    closers.push(() => groups.close());
    // The static group: commit once, outside any generation (at the coordinator, found by the client).
    const staticOffsets = [17, 42, 99];
    for (let p = 0; p < PARTITIONS; p++) await groups.resetOffsets(staticGroup, TOPIC, staticOffsets[p], [p]);

    const committedOf = async (g: string): Promise<number[]> => {
      const offsets = (await groups.committedOffsets(g, [{ name: TOPIC, partitions: [0, 1, 2] }])).get(TOPIC);
      return [0, 1, 2].map((p) => offsets?.get(p) ?? -1);
    };
    const perPartition = BEFORE / PARTITIONS;
    for (const g of [nativeGroup, kafkaGroup, kcatGroup]) {
      await waitFor(async () => (await committedOf(g)).every((o) => o === perPartition), { ...ETCD_WAIT, what: `${g} committed all ${BEFORE} records` }).catch(async (e) => {
        throw new Error(`${(e as Error).message}: committed ${await committedOf(g)}; seen native ${seenNative.size}, kafkajs ${seenKafka.size}, kcat ${seenKcat.size}`);
      });
    }
    const committedBefore = new Map<string, number[]>([
      [nativeGroup, await committedOf(nativeGroup)],
      [kafkaGroup, await committedOf(kafkaGroup)],
      [kcatGroup, await committedOf(kcatGroup)],
      [staticGroup, await committedOf(staticGroup)],
    ]);
    expect(committedBefore.get(staticGroup)).toEqual(staticOffsets);
    // Seen so far (before the kill): what a consumer sees again after it counts as a re-delivery.
    const beforeKill = { native: new Map(seenNative), kafka: new Map(seenKafka), kcat: new Map(seenKcat) };

    // The victim's "orders" partitions and their leader epoch: after the kill, their new leader says where that epoch ended.
    const ordersBefore = (await admin(1).metadata([TOPIC])).topics[0].partitions;
    const victimLed = ordersBefore.filter((p) => p.leader === victim);
    expect(victimLed.length).toBeGreaterThan(0);

    const killedAt = performance.now();
    await c.broker(victim).kill9();
    const survivor = live()[0];

    // A new coordinator, named by a survivor, with every committed offset.
    const next = await waitForValue(async () => {
      const f = await findCoordinator(survivor, staticGroup);
      return "nodeId" in f && f.nodeId !== victim ? f.nodeId : false;
    }, { ...ETCD_WAIT, what: "a survivor names a new coordinator" });
    const nextAt = await raw(next);
    const staticAfter = await waitForValue(async () => {
      const r = await nextAt.control<{ topics: { name: string; partitions: { partition: number; offset: number }[] }[] }>(GroupApiKey.OffsetFetch, { groupId: staticGroup, topics: null });
      return "topics" in r ? r.topics : false;
    }, { ...ETCD_WAIT, what: "the new coordinator serves the group" });
    const failoverMs = performance.now() - killedAt;
    expect(staticAfter.flatMap((t) => t.partitions.map((p) => p.offset))).toEqual(staticOffsets);
    for (const g of [nativeGroup, kafkaGroup, kcatGroup]) {
      const now = await committedOf(g);
      for (let p = 0; p < PARTITIONS; p++) expect(now[p]).toBeGreaterThanOrEqual(committedBefore.get(g)![p]);
    }

    // OffsetForLeaderEpoch (Kafka api 23, v2 as librdkafka sends it) at each moved partition's new leader.
    for (const old of victimLed) {
      const moved = await waitForValue(async () => {
        const p = (await admin(survivor).metadata([TOPIC])).topics[0].partitions[old.partition];
        return p.leader !== victim && p.leader >= 0 && p.leaderEpoch! > old.leaderEpoch! ? p : false;
      }, { ...ETCD_WAIT, what: `a new leader of ${TOPIC}-${old.partition}` });
      const k = await KafkaRawClient.connect(c.broker(moved.leader).kafkaPort!);
      closers.push(async () => k.close());
      const ask = (currentLeaderEpoch: number, leaderEpoch: number) =>
        k.call(
          KafkaApiKey.OffsetForLeaderEpoch,
          2,
          (w) => encodeOffsetForLeaderEpochRequest(w, 2, { replicaId: -1, topics: [{ topic: TOPIC, partitions: [{ partition: old.partition, currentLeaderEpoch, leaderEpoch }] }] }),
          decodeOffsetForLeaderEpochResponse,
        ).then((r) => r.topics[0].partitions[0]);
      // The old epoch ended where the new leader's began: after the records acked before the kill.
      expect(await ask(moved.leaderEpoch!, old.leaderEpoch!)).toMatchObject({ errorCode: ErrorCode.NONE, leaderEpoch: old.leaderEpoch, endOffset: BigInt(perPartition) });
      // A client with old metadata is fenced; a follower does not answer.
      expect((await ask(old.leaderEpoch!, old.leaderEpoch!)).errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH);
      const follower = live().find((id) => id !== moved.leader)!;
      const f = await KafkaRawClient.connect(c.broker(follower).kafkaPort!);
      closers.push(async () => f.close());
      const fromFollower = await f.call(
        KafkaApiKey.OffsetForLeaderEpoch,
        2,
        (w) => encodeOffsetForLeaderEpochRequest(w, 2, { replicaId: -1, topics: [{ topic: TOPIC, partitions: [{ partition: old.partition, currentLeaderEpoch: moved.leaderEpoch!, leaderEpoch: old.leaderEpoch! }] }] }),
        decodeOffsetForLeaderEpochResponse,
      );
      expect(fromFollower.topics[0].partitions[0].errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    }

    // Both groups go on: every record of both rounds is delivered.
    await send(BEFORE, AFTER);
    const total = BEFORE + AFTER;
    const complete = (m: Map<string, number>) => m.size === total;
    await waitFor(() => complete(seenNative) && complete(seenKafka) && complete(seenKcat), { timeoutMs: 60_000, everyMs: 50, what: `every group to see all ${total} records` }).catch((e) => {
      throw new Error(`${(e as Error).message} (native saw ${seenNative.size}, kafkajs ${seenKafka.size}, kcat ${seenKcat.size})`);
    });
    const report: string[] = [];
    for (const [name, seen, group, before] of [
      ["native", seenNative, nativeGroup, beforeKill.native],
      ["kafkajs", seenKafka, kafkaGroup, beforeKill.kafka],
      ["kcat -G", seenKcat, kcatGroup, beforeKill.kcat],
    ] as const) {
      let redelivered = 0;
      for (const [key, times] of seen) {
        const [p, o] = key.split(":").map(Number);
        const extra = times - 1;
        if (extra <= 0) continue;
        redelivered += extra;
        // Never before the offset the group had committed when the coordinator died.
        expect(o).toBeGreaterThanOrEqual(committedBefore.get(group)![p]);
      }
      for (let p = 0; p < PARTITIONS; p++) for (let o = 0; o < total / PARTITIONS; o++) expect(seen.has(`${p}:${o}`)).toBe(true);
      report.push(`${name}: ${seen.size} records, ${redelivered} re-delivered (seen before the kill: ${before.size})`);
    }
    // Every broker lists the groups it coordinates; the admin client asks them all.
    const listed = (await groups.listGroups()).map((g) => g.groupId);
    for (const g of [nativeGroup, kafkaGroup, kcatGroup, staticGroup]) expect(listed).toContain(g);
    console.error(`groups failover: coordinator ${victim} killed; new coordinator ${next} served the committed offsets ${failoverMs.toFixed(0)} ms later; ${report.join("; ")}`);
  }, 120_000);
});
