// Partition moves and leader elections as admin calls (docs/SCALING.md, "The
// admin API"), with a real etcd and three `sluice serve` processes, one
// cluster for the whole file:
//
// - the native Admin: describeCluster; per-partition typed refusals that move
//   nothing; a throttled move listed with its bytes, cancelled back to the old
//   replicas, then moved to the end; a proposed plan; a decommission that
//   empties a broker;
// - a real Kafka client, @platformatic/kafka 2.12.1, over the Kafka listener:
//   ApiVersions advertises 43, 45 and 46; AlterPartitionReassignments (its
//   own v1 codec) refuses a bad partition, cancels a move and moves a
//   partition; ListPartitionReassignments (its v0 codec) lists it; ElectLeaders
//   (the client has no codec for it: the request is written with the client's
//   own Writer and sent on its Connection) elects a preferred leader, then
//   answers ELECTION_NOT_NEEDED, and refuses an unclean election;
// - a single node (no etcd): the same calls answer INVALID_REQUEST, as its
//   ElectLeaders does; describeCluster describes itself.
//
// kcat and kafkajs have none of these apis (kafkajs 2.2.4 has no
// ElectLeaders or reassignment calls; kcat only produces, consumes and reads
// metadata), so they are not used here.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ClusterKeys, ClusterView, EtcdClient } from "../cluster/mod.ts";
import { Admin, Producer } from "../client/mod.ts";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { type BrokerProcess, startBroker } from "./support/broker.ts";
import { ETCD_WAIT, type EtcdCluster, startEtcd } from "./support/etcd.ts";
import { waitFor, waitForValue } from "./support/wait_for.ts";

const TOPIC = "adm";
const PARTITIONS = 3;
/** Records written into each partition before the moves: enough bytes that a throttled copy takes a while. */
const RECORDS_PER_PARTITION = 600;
const RECORD_BYTES = 1_000;
/** A throttle slow enough that the move is still running while it is listed and cancelled. */
const SLOW_THROTTLE_BYTES_PER_SEC = 16 * 1024;
const MOVE_TIMEOUT_MS = 60_000;

let etcd: EtcdCluster;
let client: EtcdClient;
let view: ClusterView;
const brokers = new Map<number, BrokerProcess>();
const clusterName = `admapi${process.pid}`;
let admin: Admin;
let kafka: any;
let kconn: any;

const bootstrap = () => [...brokers.values()].map((b) => `127.0.0.1:${b.port}`).join(",");
const replicasOf = (p: number) => view.topics.get(TOPIC)!.replicas[p];
const moving = (p: number) => view.topics.get(TOPIC)?.moves?.[String(p)] !== undefined;

beforeAll(async () => {
  etcd = await startEtcd({ members: 1 });
  client = new EtcdClient({ endpoints: etcd.endpoints });
  view = ClusterView.start({ client, keys: new ClusterKeys(clusterName) });
  for (const id of [1, 2, 3]) {
    brokers.set(
      id,
      await startBroker({
        args: ["--cluster-etcd", etcd.endpoints.join(","), "--broker-id", String(id), "--cluster-name", clusterName, "--cluster-lease-ttl-seconds", "2", "--workers", "1"],
      }),
    );
  }
  await waitFor(() => view.brokers.size === 3 && view.controller !== undefined, { ...ETCD_WAIT, what: "three brokers and a controller" });
  admin = new Admin({ broker: bootstrap() });
  await admin.createTopic(TOPIC, { partitions: PARTITIONS, replicationFactor: 2, configs: { "min.insync.replicas": "1" } });
  await waitFor(() => Array.from({ length: PARTITIONS }, (_, p) => view.partitionState(TOPIC, p)).every((s) => s !== undefined && s.isr.length === 2), {
    ...ETCD_WAIT,
    what: "every partition with two in-sync replicas",
  });
  const producer = new Producer({ broker: bootstrap(), acks: "all" });
  try {
    const value = "x".repeat(RECORD_BYTES);
    const sends: Promise<unknown>[] = [];
    for (let p = 0; p < PARTITIONS; p++) for (let i = 0; i < RECORDS_PER_PARTITION; i++) sends.push(producer.send(TOPIC, { partition: p, value }));
    await Promise.all(sends);
  } finally {
    await producer.close();
  }
  kafka = await import("@platformatic/kafka");
  kconn = new kafka.Connection("sluice-admin-test");
  await kconn.connect("127.0.0.1", brokers.get(1)!.kafkaPort);
}, 90_000);

afterAll(async () => {
  await kconn?.close().catch(() => {});
  await admin?.close();
  await view?.close();
  for (const b of brokers.values()) await b.cleanup();
  await etcd?.stop();
});

/** A broker outside the partition's replicas. */
function outsider(p: number): number {
  return [1, 2, 3].find((b) => !replicasOf(p).includes(b))!;
}

describe("native admin calls", () => {
  test("describeCluster lists the registered brokers with their ports and the controller", async () => {
    const d = await admin.describeCluster();
    expect(d.clusterName).toBe(clusterName);
    expect(d.controllerId).toBe(view.controller!.brokerId);
    expect(d.brokers.map((b) => b.nodeId).sort()).toEqual([1, 2, 3]);
    for (const b of d.brokers) {
      expect(b.port).toBe(brokers.get(b.nodeId)!.port);
      expect(b.kafkaPort).toBe(brokers.get(b.nodeId)!.kafkaPort);
      expect(b.httpPort).toBe(brokers.get(b.nodeId)!.httpPort);
    }
  });

  test("bad changes are refused per partition with typed codes and move nothing", async () => {
    const before = view.topics.get(TOPIC)!.replicas.map((r) => [...r]);
    const r1 = await admin.alterPartitionReassignments([
      { topic: "nope", partition: 0, replicas: [1, 2] },
      { topic: TOPIC, partition: 9, replicas: [1, 2] },
      { topic: TOPIC, partition: 0, replicas: [1, 1] },
      { topic: TOPIC, partition: 1, replicas: [1, 2, 3] },
      { topic: TOPIC, partition: 2, replicas: [] },
    ]);
    expect(r1.map((o) => o.errorCode)).toEqual([
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      ErrorCode.INVALID_REPLICATION_FACTOR,
      ErrorCode.INVALID_REPLICA_ASSIGNMENT,
    ]);
    const r2 = await admin.alterPartitionReassignments([
      { topic: TOPIC, partition: 0, replicas: [1, 9] },
      { topic: TOPIC, partition: 1, replicas: null },
    ]);
    expect(r2.map((o) => o.errorCode)).toEqual([ErrorCode.BROKER_NOT_AVAILABLE, ErrorCode.NO_REASSIGNMENT_IN_PROGRESS]);
    const r3 = await admin.alterPartitionReassignments([
      { topic: TOPIC, partition: 2, replicas: null },
      { topic: TOPIC, partition: 2, replicas: null },
    ]);
    expect(r3.map((o) => o.errorCode)).toEqual([ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST]);
    await expect(admin.alterPartitionReassignments(Array.from({ length: 2_001 }, (_, p) => ({ topic: TOPIC, partition: p, replicas: [1, 2] })))).rejects.toMatchObject({
      code: ErrorCode.INVALID_REQUEST,
    });
    expect((await admin.listPartitionReassignments()).partitions).toEqual([]);
    expect(view.topics.get(TOPIC)!.replicas).toEqual(before);
  });

  test("a throttled move is listed with its bytes, cancelled back to the old replicas, then moved to the end", async () => {
    const p = 0;
    const old = [...replicasOf(p)];
    const target = [outsider(p), old[1]];
    const [started] = await admin.alterPartitionReassignments([{ topic: TOPIC, partition: p, replicas: target }], { throttleBytesPerSec: SLOW_THROTTLE_BYTES_PER_SEC });
    expect(started.errorCode).toBe(ErrorCode.NONE);

    const listed = await waitForValue(
      async () => {
        const r = await admin.listPartitionReassignments({ topics: { [TOPIC]: [p] }, progress: true });
        const m = r.partitions[0];
        return m !== undefined && m.bytesTotal !== null ? m : undefined;
      },
      { ...ETCD_WAIT, what: "the move listed with the leader's byte counts" },
    );
    expect(listed.replicas).toEqual([...old, target[0]]);
    expect(listed.target).toEqual(target);
    expect(listed.adding).toEqual([target[0]]);
    expect(listed.removing).toEqual([old[0]]);
    expect(listed.throttleBytesPerSec).toBe(SLOW_THROTTLE_BYTES_PER_SEC);
    expect(listed.bytesTotal!).toBeGreaterThanOrEqual(RECORDS_PER_PARTITION * RECORD_BYTES);
    expect(listed.bytesCopied! + listed.bytesRemaining!).toBe(listed.bytesTotal!);
    expect(listed.bytesRemaining!).toBeGreaterThan(0);
    // Without progress the broker reads no leader page: the byte fields are null.
    const quick = await admin.listPartitionReassignments();
    expect(quick.progress).toBe(false);
    expect(quick.partitions.map((m) => [m.topic, m.partition, m.bytesTotal])).toEqual([[TOPIC, p, null]]);
    // A moving partition is not retargeted.
    const [again] = await admin.alterPartitionReassignments([{ topic: TOPIC, partition: p, replicas: old }]);
    expect(again.errorCode).toBe(ErrorCode.REASSIGNMENT_IN_PROGRESS);

    const [cancelled] = await admin.cancelPartitionReassignments([{ topic: TOPIC, partition: p }]);
    expect(cancelled.errorCode).toBe(ErrorCode.NONE);
    await waitFor(() => !moving(p), { ...ETCD_WAIT, what: "the cancel in the view" });
    expect(replicasOf(p)).toEqual(old);
    expect((await admin.listPartitionReassignments()).partitions).toEqual([]);

    const [moved] = await admin.alterPartitionReassignments([{ topic: TOPIC, partition: p, replicas: target }]);
    expect(moved.errorCode).toBe(ErrorCode.NONE);
    await admin.waitForReassignments([{ topic: TOPIC, partition: p }], { timeoutMs: MOVE_TIMEOUT_MS });
    await waitFor(() => !moving(p), { ...ETCD_WAIT, what: "the cut-over in the view" });
    expect(replicasOf(p)).toEqual(target);
  }, 120_000);
});

describe("a real Kafka client (@platformatic/kafka) over the Kafka listener", () => {
  test("ApiVersions advertises ElectLeaders, AlterPartitionReassignments and ListPartitionReassignments", async () => {
    const r = await kafka.apiVersionsV3.api.async(kconn, "sluice-test", "1.0.0");
    const byKey = new Map(r.apiKeys.map((a: { apiKey: number; minVersion: number; maxVersion: number }) => [a.apiKey, [a.minVersion, a.maxVersion]]));
    expect(byKey.get(43)).toEqual([0, 2]);
    expect(byKey.get(45)).toEqual([0, 1]);
    expect(byKey.get(46)).toEqual([0, 0]);
  });

  test("AlterPartitionReassignments refuses per partition, cancels a move and moves a partition; ListPartitionReassignments lists it", async () => {
    const alter = (topics: unknown[]) => kafka.alterPartitionReassignmentsV1.api.async(kconn, 30_000, true, topics);
    const list = (topics: unknown[] | null) => kafka.listPartitionReassignmentsV0.api.async(kconn, 30_000, topics);

    const refused = await alter([{ name: "nope", partitions: [{ partitionIndex: 0, replicas: [1, 2] }] }]).then(
      () => undefined,
      (e: { response?: { responses: { name: string; partitions: { partitionIndex: number; errorCode: number }[] }[] } }) => e.response,
    );
    expect(refused?.responses).toMatchObject([{ name: "nope", partitions: [{ partitionIndex: 0, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }] }]);
    // Past REASSIGNMENT_REQUEST_PARTITIONS_MAX the whole request is refused at the edge, nothing moves.
    const tooMany = await alter([{ name: TOPIC, partitions: Array.from({ length: 2_001 }, (_, i) => ({ partitionIndex: i, replicas: [1, 2] })) }]).then(
      () => undefined,
      (e: { response?: { errorCode: number } }) => e.response,
    );
    expect(tooMany?.errorCode).toBe(ErrorCode.INVALID_REQUEST);
    expect((await list(null)).topics).toEqual([]);

    const p = 1;
    const old = [...replicasOf(p)];
    const target = [outsider(p), old[0]];
    // Started slow (a throttle is the native api's) so the Kafka client sees it moving.
    expect((await admin.alterPartitionReassignments([{ topic: TOPIC, partition: p, replicas: target }], { throttleBytesPerSec: SLOW_THROTTLE_BYTES_PER_SEC }))[0].errorCode).toBe(ErrorCode.NONE);
    await waitFor(() => moving(p), { ...ETCD_WAIT, what: "the move in the view" });
    const listed = await list([{ name: TOPIC, partitionIndexes: [p] }]);
    expect(listed.errorCode).toBe(0);
    expect(listed.topics).toEqual([{ name: TOPIC, partitions: [{ partitionIndex: p, replicas: [...old, target[0]], addingReplicas: [target[0]], removingReplicas: [old[1]] }] }]);
    expect((await list(null)).topics.map((t: { name: string }) => t.name)).toEqual([TOPIC]);

    const cancel = await alter([{ name: TOPIC, partitions: [{ partitionIndex: p, replicas: null }] }]);
    expect(cancel.errorCode).toBe(0);
    expect(cancel.responses).toEqual([{ name: TOPIC, partitions: [{ partitionIndex: p, errorCode: 0, errorMessage: null }] }]);
    await waitFor(() => !moving(p), { ...ETCD_WAIT, what: "the cancel in the view" });
    expect(replicasOf(p)).toEqual(old);
    expect((await list(null)).topics).toEqual([]);

    const moved = await alter([{ name: TOPIC, partitions: [{ partitionIndex: p, replicas: target }] }]);
    expect(moved.responses[0].partitions[0].errorCode).toBe(0);
    await waitFor(async () => (await list([{ name: TOPIC, partitionIndexes: [p] }])).topics.length === 0, { timeoutMs: MOVE_TIMEOUT_MS, everyMs: 100, what: "the Kafka-started move to finish" });
    await waitFor(() => !moving(p), { ...ETCD_WAIT, what: "the cut-over in the view" });
    expect(replicasOf(p)).toEqual(target);
  }, 120_000);

  test("ElectLeaders elects the preferred leader, then needs no election, and refuses an unclean one", async () => {
    // ElectLeaders v2 (flexible): the client has no codec for it, so the body is written with its own Writer.
    const electV2 = kafka.createAPI(
      43,
      2,
      (electionType: number, topicPartitions: { topic: string; partitions: number[] }[] | null, timeoutMs: number) =>
        kafka.Writer.create()
          .appendInt8(electionType)
          .appendArray(topicPartitions, (w: any, t: { topic: string; partitions: number[] }) => w.appendString(t.topic).appendArray(t.partitions, (w2: any, id: number) => w2.appendInt32(id), true, false))
          .appendInt32(timeoutMs)
          .appendTaggedFields(),
      (_correlationId: number, _apiKey: number, _apiVersion: number, reader: any) => {
        const r = {
          throttleTimeMs: reader.readInt32(),
          errorCode: reader.readInt16(),
          results: reader.readArray((t: any) => ({
            topic: t.readString(),
            partitions: t.readArray((q: any) => ({ partitionId: q.readInt32(), errorCode: q.readInt16(), errorMessage: q.readNullableString() })),
          })),
        };
        reader.readTaggedFields();
        return r;
      },
    );
    const p = 2;
    const [first, second] = replicasOf(p);
    const leader = view.partitionState(TOPIC, p)!.leader;
    // The preferred leader is the first replica: reorder so it is the one not leading (a reorder copies nothing).
    const wanted = leader === first ? [second, first] : [first, second];
    const reorder = await kafka.alterPartitionReassignmentsV1.api.async(kconn, 30_000, true, [{ name: TOPIC, partitions: [{ partitionIndex: p, replicas: wanted }] }]);
    expect(reorder.responses[0].partitions[0].errorCode).toBe(0);
    await waitFor(() => replicasOf(p)[0] === wanted[0], { ...ETCD_WAIT, what: "the reordered replicas in the view" });
    expect(view.partitionState(TOPIC, p)!.leader).not.toBe(wanted[0]);

    const elected = await electV2.async(kconn, 0, [{ topic: TOPIC, partitions: [p] }], 30_000);
    expect(elected.errorCode).toBe(0);
    expect(elected.results).toEqual([{ topic: TOPIC, partitions: [{ partitionId: p, errorCode: 0, errorMessage: null }] }]);
    await waitFor(() => view.partitionState(TOPIC, p)?.leader === wanted[0], { ...ETCD_WAIT, what: "the preferred leader in etcd" });

    const again = await electV2.async(kconn, 0, [{ topic: TOPIC, partitions: [p] }], 30_000);
    expect(again.results[0].partitions[0].errorCode).toBe(ErrorCode.ELECTION_NOT_NEEDED);
    const unknown = await electV2.async(kconn, 0, [{ topic: "nope", partitions: [0] }], 30_000);
    expect(unknown.results[0].partitions[0].errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const all = await electV2.async(kconn, 0, null, 30_000);
    expect(all.errorCode).toBe(0);
    expect(all.results.flatMap((t: { partitions: { errorCode: number }[] }) => t.partitions.map((q) => q.errorCode)).every((c: number) => c === ErrorCode.ELECTION_NOT_NEEDED || c === ErrorCode.NONE)).toBe(true);
    // Past KAFKA_ELECT_LEADERS_PARTITIONS_MAX named partitions: refused at the edge.
    const tooMany = await electV2.async(kconn, 0, [{ topic: TOPIC, partitions: Array.from({ length: 1_001 }, (_, i) => i) }], 30_000);
    expect(tooMany.errorCode).toBe(ErrorCode.INVALID_REQUEST);

    const unclean = await electV2.async(kconn, 1, [{ topic: TOPIC, partitions: [p] }], 30_000);
    expect(unclean.errorCode).toBe(ErrorCode.POLICY_VIOLATION);
    expect(unclean.results[0].partitions[0].errorCode).toBe(ErrorCode.POLICY_VIOLATION);
    expect(view.partitionState(TOPIC, p)!.leader).toBe(wanted[0]);
  }, 60_000);
});

describe("plans", () => {
  test("proposeReassignment plans over the brokers given; decommission empties a broker", async () => {
    const holds3 = () => view.topics.get(TOPIC)!.replicas.some((r) => r.includes(3));
    if (!holds3()) {
      // The moves above may have taken every replica off broker 3: give it one, so there is something to plan and to empty.
      const [put] = await admin.alterPartitionReassignments([{ topic: TOPIC, partition: 0, replicas: [3, replicasOf(0)[1]] }]);
      expect(put.errorCode).toBe(ErrorCode.NONE);
      await admin.waitForReassignments(undefined, { timeoutMs: MOVE_TIMEOUT_MS });
      await waitFor(() => holds3() && !moving(0), { ...ETCD_WAIT, what: "a replica on broker 3" });
    }
    const plan = await admin.proposeReassignment([1, 2]);
    expect(plan.plan.partitions.length).toBeGreaterThan(0);
    for (const e of plan.plan.partitions) expect(e.replicas.every((b) => b === 1 || b === 2)).toBe(true);
    expect(plan.after.find((l) => l.broker === 3)?.replicas ?? 0).toBe(0);
    await expect(admin.proposeReassignment([1, 9])).rejects.toMatchObject({ code: ErrorCode.BROKER_NOT_AVAILABLE });
    await expect(admin.proposeReassignment([1, 2], { topics: ["nope"] })).rejects.toMatchObject({ code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });

    const balance = await admin.balanceByLoad();
    expect(balance.before.map((l) => l.broker).sort()).toEqual([1, 2, 3]);

    expect(holds3()).toBe(true);
    const d = await admin.decommission(3);
    expect(d.outcomes.length).toBe(d.plan.plan.partitions.length);
    expect(d.outcomes.every((o) => o.errorCode === ErrorCode.NONE)).toBe(true);
    await admin.waitForReassignments(undefined, { timeoutMs: MOVE_TIMEOUT_MS });
    await waitFor(() => !holds3(), { ...ETCD_WAIT, what: "broker 3 out of every replica list" });
    await expect(admin.decommission(9)).rejects.toMatchObject({ code: ErrorCode.BROKER_NOT_AVAILABLE });
  }, 120_000);
});

describe("a single node", () => {
  test("answers the cluster calls with INVALID_REQUEST, as its ElectLeaders, and describes itself", async () => {
    const node = await startBroker();
    const one = new Admin({ broker: `127.0.0.1:${node.port}` });
    const conn: any = new kafka.Connection("sluice-admin-test-single");
    try {
      const invalid = { code: ErrorCode.INVALID_REQUEST };
      await expect(one.electLeaders()).rejects.toMatchObject(invalid);
      await expect(one.alterPartitionReassignments([{ topic: "t", partition: 0, replicas: [0] }])).rejects.toMatchObject(invalid);
      await expect(one.listPartitionReassignments()).rejects.toMatchObject(invalid);
      await expect(one.proposeReassignment([0])).rejects.toMatchObject(invalid);
      await expect(one.balanceByLoad()).rejects.toMatchObject(invalid);
      await expect(one.decommission(0)).rejects.toBeInstanceOf(SluiceError);
      const d = await one.describeCluster();
      expect(d).toEqual({ clusterName: null, controllerId: 0, brokers: [{ nodeId: 0, host: "127.0.0.1", port: node.port, kafkaPort: null, httpPort: null, rack: null }] });

      await conn.connect("127.0.0.1", node.kafkaPort);
      const listed = await kafka.listPartitionReassignmentsV0.api.async(conn, 30_000, null).then(
        () => undefined,
        (e: { response?: { errorCode: number } }) => e.response,
      );
      expect(listed?.errorCode).toBe(ErrorCode.INVALID_REQUEST);
      const altered = await kafka.alterPartitionReassignmentsV1.api.async(conn, 30_000, true, [{ name: "t", partitions: [{ partitionIndex: 0, replicas: [0] }] }]).then(
        () => undefined,
        (e: { response?: { errorCode: number } }) => e.response,
      );
      expect(altered?.errorCode).toBe(ErrorCode.INVALID_REQUEST);
    } finally {
      await conn.close().catch(() => {});
      await one.close();
      await node.cleanup();
    }
  }, 60_000);
});
