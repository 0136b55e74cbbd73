// Starting a plan's moves all or nothing (move_start.ts): the pure decisions,
// etcd's transaction limit the chunks are sized by, and against real etcd a
// plan over several topics started in one transaction with its answer, a
// controller deposed before that transaction (nothing started; the successor
// starts it all), a plan larger than one transaction whose controller loses
// the election after its first chunk (the successor finishes every topic,
// leaves a move cancelled meanwhile cancelled, and answers once), and a
// request whose asker left (nothing started). A cancel over several topics
// likewise: one transaction with its answer, refused whole by one unsafe
// partition, and nothing written by a deposed controller.

import { describe, expect, test } from "bun:test";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { ETCD_WAIT } from "../test/support/etcd.ts";
import { registerBrokers } from "../test/support/controller_cluster.ts";
import { useEtcd } from "../test/support/use_etcd.ts";
import { waitFor } from "../test/support/wait_for.ts";
import { ETCD_TXN_OPS_MAX, MOVE_START_TOPICS_PER_TXN_MAX } from "./cluster_limits.ts";
import { ClusterKeys } from "./cluster_keys.ts";
import { ClusterView } from "./cluster_view.ts";
import { ControllerElection, ControllerFencedError } from "./controller_election.ts";
import { type ControllerContext, createTopic, updatePartitionState } from "./controller_topics.ts";
import { EtcdClient } from "./etcd_client.ts";
import { op } from "./etcd_wire.ts";
import { LeaseKeeper } from "./lease_keeper.ts";
import { chunkWrites, type PlanAsker, readPlans, startPlan, startTopicMoves } from "./move_start.ts";
import { cancelMoves, cancelPlan } from "./reassignment_controller.ts";
import type { PartitionAssignment } from "./reassignment_plan.ts";
import { answerOfReassign, parseTopicRequest, type TopicRequest, TopicRequestServer } from "./topic_requests.ts";
import { readTopics, type TopicRecord } from "./topic_metadata.ts";

describe("deciding a topic's moves", () => {
  const record: TopicRecord = { topicId: "x", partitions: 3, replicationFactor: 2, configs: {}, replicas: [[1, 2], [2, 3], [3, 1]] };

  test("fresh: moves recorded (old ∪ target, adding last), an order-only change rewritten at once, an unchanged entry skipped", () => {
    const r = startTopicMoves("t", record, [{ topic: "t", partition: 0, replicas: [1, 4] }, { topic: "t", partition: 1, replicas: [3, 2] }, { topic: "t", partition: 2, replicas: [3, 1] }], 1000, "fresh")!;
    expect(r.moving).toBe(1);
    expect(r.record.replicas).toEqual([[1, 2, 4], [3, 2], [3, 1]]);
    expect(r.record.moves).toEqual({ "0": { target: [1, 4], adding: [4], removing: [2], throttleBytesPerSec: 1000 } });
    expect(startTopicMoves("t", record, [{ topic: "t", partition: 2, replicas: [3, 1] }], null, "fresh")).toBeUndefined();
  });

  test("fresh refuses a moving or missing partition; resume skips them, and a partition already moving to the target", () => {
    const moving = startTopicMoves("t", record, [{ topic: "t", partition: 0, replicas: [1, 4] }], null, "fresh")!.record;
    const again = [{ topic: "t", partition: 0, replicas: [1, 4] }];
    expect(() => startTopicMoves("t", moving, again, null, "fresh")).toThrow(expect.objectContaining({ code: ErrorCode.REASSIGNMENT_IN_PROGRESS }));
    expect(() => startTopicMoves("t", record, [{ topic: "t", partition: 9, replicas: [1, 4] }], null, "fresh")).toThrow(expect.objectContaining({ code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }));
    expect(startTopicMoves("t", moving, again, null, "resume")).toBeUndefined();
    expect(startTopicMoves("t", record, [{ topic: "t", partition: 9, replicas: [1, 4] }], null, "resume")).toBeUndefined();
    const r = startTopicMoves("t", moving, [...again, { topic: "t", partition: 1, replicas: [2, 4] }], null, "resume")!;
    expect(r.moving).toBe(1);
    expect(Object.keys(r.record.moves!)).toEqual(["0", "1"]);
  });

  test("chunks: at most the topic count and the bytes, a topic over the bytes alone", () => {
    const w = (n: number, size = 10) => Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: "v".repeat(size) }));
    expect(chunkWrites(w(7), 3, 1e6).map((c) => c.length)).toEqual([3, 3, 1]);
    expect(chunkWrites(w(4, 100), 60, 250).map((c) => c.length)).toEqual([2, 2]);
    expect(chunkWrites(w(2, 1000), 60, 250).map((c) => c.length)).toEqual([1, 1]);
    expect(chunkWrites([], 3, 10)).toEqual([]);
  });
});

const TTL = 2;
const etcd = useEtcd();
const { cleanups } = etcd;
const logs: string[] = [];

let seq = 0;

/** Brokers 1 and 2 registered; two controller candidates on sessions of their own (so one can lose its election alone); the first elected. */
async function cluster() {
  const client = new EtcdClient({ endpoints: etcd.endpoints });
  const keys = new ClusterKeys(`mstart${process.pid}-${++seq}`);
  await registerBrokers(client, keys, { ids: [1, 2], ttlSeconds: TTL, cleanups });
  const candidate = async (brokerId: number) => {
    const lease = await LeaseKeeper.grant(client, { ttlSeconds: TTL });
    cleanups.push(() => lease.revoke());
    const election = new ControllerElection({ client, keys, lease, brokerId });
    cleanups.push(() => election.close());
    let next = 0;
    const ctx: ControllerContext = { client, keys, election, random: (below) => next++ % below };
    return { lease, election, ctx };
  };
  const first = await candidate(1);
  expect(await first.election.campaign()).toBe(true);
  const second = await candidate(2);
  const view = ClusterView.start({ client, keys });
  cleanups.push(() => view.close());
  /** The successor: elected once the first's session is gone, applying requests and finishing accepted plans over `view`. */
  const takeOver = async () => {
    await client.leaseRevoke(first.lease.id).catch(() => {}); // revoked already where the test deposed it earlier
    expect(await second.election.campaign()).toBe(true);
    const server = new TopicRequestServer({ ctx: second.ctx, view, isController: () => second.election.isController, log: (l) => logs.push(l) });
    cleanups.push(async () => server.stop());
    const unsubscribe = view.subscribe(() => server.schedule());
    cleanups.push(async () => unsubscribe());
    server.schedule();
    return server;
  };
  return { client, keys, view, first, second, takeOver };
}

type Cluster = Awaited<ReturnType<typeof cluster>>;

/** `n` topics of one partition, RF 1, and a plan moving each to the other broker. */
async function topicsAndPlan(c: Cluster, prefix: string, n: number): Promise<PartitionAssignment[]> {
  const plan: PartitionAssignment[] = [];
  for (let i = 0; i < n; i++) {
    const { record } = await createTopic(c.first.ctx, { name: `${prefix}${i}`, partitions: 1, replicationFactor: 1 });
    plan.push({ topic: `${prefix}${i}`, partition: 0, replicas: [record.replicas[0][0] === 1 ? 2 : 1] });
  }
  await waitFor(() => plan.every((e) => c.view.topics.has(e.topic)) && c.view.brokers.size === 2, { ...ETCD_WAIT, what: "the view has every topic" });
  return plan;
}

/** Puts a reassign request (or `other`) as a broker would (under its lease); resolves with the asker as the controller reads it. */
async function ask(c: Cluster, plan: readonly PartitionAssignment[], other?: TopicRequest): Promise<{ asker: PlanAsker; request: TopicRequest }> {
  const lease = await LeaseKeeper.grant(c.client, { ttlSeconds: 30 });
  cleanups.push(() => lease.revoke());
  const request: TopicRequest = other ?? { op: "reassign", partitions: plan.map((e) => ({ ...e, replicas: [...e.replicas] })), throttleBytesPerSec: null };
  const id = crypto.randomUUID();
  await c.client.put(c.keys.request(id), JSON.stringify({ request, lease: lease.id }), { lease: lease.id });
  const kv = (await c.client.range(c.keys.request(id))).kvs[0];
  return { asker: { id, createRevision: kv.createRevision, modRevision: kv.modRevision, lease: lease.id }, request };
}

/** The request's answer in etcd (undefined while unanswered), and how often the key was written. */
async function answerOf(c: Cluster, id: string) {
  const kv = (await c.client.range(c.keys.request(id))).kvs[0];
  return kv === undefined ? undefined : { result: parseTopicRequest(kv)?.result, version: kv.version };
}

/** For each plan entry: moving to its target (true), untouched (false). */
async function movingState(c: Cluster, plan: readonly PartitionAssignment[]): Promise<boolean[]> {
  const { topics } = await readTopics(c.client, c.keys);
  return plan.map((e) => {
    const t = topics.find((x) => x.name === e.topic)!;
    const move = t.record.moves?.[String(e.partition)];
    if (move === undefined) {
      expect(t.record.replicas[e.partition]).not.toEqual(e.replicas);
      return false;
    }
    expect(move.target).toEqual([...e.replicas]);
    expect(t.record.replicas[e.partition]).toEqual([...t.record.replicas[e.partition].slice(0, 1), ...e.replicas]);
    return true;
  });
}

describe("etcd's transaction limit", () => {
  test(`a transaction of ${ETCD_TXN_OPS_MAX} operations is taken, one more is refused (the limit the chunks are sized by)`, async () => {
    const c = await cluster();
    const puts = (n: number) => Array.from({ length: n }, (_, i) => op.put(`${c.keys.root}limit/${i}`, "x"));
    expect((await c.client.txn({ compare: [], success: puts(ETCD_TXN_OPS_MAX) })).succeeded).toBe(true);
    const refused = await c.client.txn({ compare: [], success: puts(ETCD_TXN_OPS_MAX + 1) }).then(() => undefined, (e: Error) => e);
    expect(refused?.message).toMatch(/too many operations/);
  });
});

describe("starting a plan against etcd", () => {
  test("a plan over three topics starts in one transaction with its answer", async () => {
    const c = await cluster();
    const plan = await topicsAndPlan(c, "s", 3);
    const { asker } = await ask(c, plan);
    const r = await startPlan(c.first.ctx, c.view, { partitions: plan, throttleBytesPerSec: null }, asker, answerOfReassign);
    expect(r).toEqual({ moving: 3, answered: true });
    expect(await movingState(c, plan)).toEqual([true, true, true]);
    expect(await answerOf(c, asker.id)).toEqual({ result: { errorCode: ErrorCode.NONE, message: "3 partition(s) moving" }, version: 2 });
    // Applied again (a view that had not shown the answer yet): refused whole, and the answer is not overwritten.
    await expect(startPlan(c.first.ctx, c.view, { partitions: plan, throttleBytesPerSec: null }, { ...asker }, answerOfReassign)).rejects.toBeInstanceOf(SluiceError);
    expect((await answerOf(c, asker.id))?.version).toBe(2);
  });

  test("a plan refused by one entry starts nothing", async () => {
    const c = await cluster();
    const plan = await topicsAndPlan(c, "r", 3);
    const bad = [...plan.slice(0, 2), { ...plan[2], replicas: [7] }];
    const { asker } = await ask(c, bad);
    const e = await startPlan(c.first.ctx, c.view, { partitions: bad, throttleBytesPerSec: null }, asker, answerOfReassign).then(() => undefined, (err) => err as SluiceError);
    expect(e?.code).toBe(ErrorCode.BROKER_NOT_AVAILABLE);
    expect(await movingState(c, plan)).toEqual([false, false, false]);
  });

  test("a controller deposed before its start writes nothing; the successor starts the whole plan and answers once", async () => {
    const c = await cluster();
    const plan = await topicsAndPlan(c, "f", 4);
    const { asker } = await ask(c, plan);
    await c.client.leaseRevoke(c.first.lease.id);
    await expect(startPlan(c.first.ctx, c.view, { partitions: plan, throttleBytesPerSec: null }, asker, answerOfReassign)).rejects.toBeInstanceOf(ControllerFencedError);
    expect(await movingState(c, plan)).toEqual([false, false, false, false]);
    expect((await answerOf(c, asker.id))?.result).toBeUndefined();
    await c.takeOver();
    await waitFor(async () => (await answerOf(c, asker.id))?.result !== undefined, { ...ETCD_WAIT, what: "the successor's answer" });
    expect(await answerOf(c, asker.id)).toEqual({ result: { errorCode: ErrorCode.NONE, message: "4 partition(s) moving" }, version: 2 });
    expect(await movingState(c, plan)).toEqual([true, true, true, true]);
  });

  test(`a plan over more topics than one transaction holds (${MOVE_START_TOPICS_PER_TXN_MAX}), its controller deposed after the first chunk: the successor finishes every topic`, async () => {
    const c = await cluster();
    const n = MOVE_START_TOPICS_PER_TXN_MAX + 10;
    const plan = await topicsAndPlan(c, "big", n);
    const { asker } = await ask(c, plan);
    const progress: number[] = [];
    // The worst moment: accepted, part of it started, no answer yet. The first controller loses its election right there.
    const first = startPlan(c.first.ctx, c.view, { partitions: plan, throttleBytesPerSec: 5_000_000 }, asker, answerOfReassign, {
      onProgress: async (p) => {
        progress.push(p.topicsDone);
        if (progress.length === 1) await c.client.leaseRevoke(c.first.lease.id);
      },
    });
    await expect(first).rejects.toBeInstanceOf(ControllerFencedError);
    expect(progress).toEqual([MOVE_START_TOPICS_PER_TXN_MAX]);
    const half = await movingState(c, plan);
    expect(half.filter(Boolean).length).toBe(MOVE_START_TOPICS_PER_TXN_MAX);
    expect((await answerOf(c, asker.id))?.result).toBeUndefined();
    const accepted = await readPlans(c.first.ctx);
    expect(accepted.map((p) => [p.id, p.done.size, p.record.moving])).toEqual([[asker.id, MOVE_START_TOPICS_PER_TXN_MAX, n]]);

    // Meanwhile one started move is cancelled (by the successor, as a cancel request would): finishing must not start it again.
    const server = await c.takeOver();
    expect(server).toBeDefined();
    await waitFor(async () => (await answerOf(c, asker.id))?.result !== undefined, { ...ETCD_WAIT, what: "the successor finishing the plan" });
    expect(await answerOf(c, asker.id)).toEqual({ result: { errorCode: ErrorCode.NONE, message: `${n} partition(s) moving` }, version: 2 });
    expect((await movingState(c, plan)).every(Boolean)).toBe(true);
    expect(await readPlans(c.second.ctx)).toEqual([]);
    expect((await c.client.range(c.keys.movePlansPrefix, { prefix: true })).kvs).toEqual([]);
    const { topics } = await readTopics(c.client, c.keys);
    for (const e of plan) expect(topics.find((t) => t.name === e.topic)!.record.moves!["0"].throttleBytesPerSec).toBe(5_000_000);
  });

  test("an accepted plan finished after a move of it was cancelled leaves that move cancelled", async () => {
    const c = await cluster();
    const n = MOVE_START_TOPICS_PER_TXN_MAX + 2;
    const plan = await topicsAndPlan(c, "cx", n);
    const { asker } = await ask(c, plan);
    let cancelled = 0;
    const first = startPlan(c.first.ctx, c.view, { partitions: plan, throttleBytesPerSec: null }, asker, answerOfReassign, {
      onProgress: async () => {
        if (cancelled > 0) return;
        // A cancel of one started partition lands between the chunks, then the controller loses its election.
        await waitFor(() => c.view.topics.get(plan[0].topic)?.moves !== undefined, { ...ETCD_WAIT, what: "the view has the first chunk" });
        cancelled = await cancelMoves(c.first.ctx, c.view, [{ topic: plan[0].topic, partition: 0 }]);
        await c.client.leaseRevoke(c.first.lease.id);
      },
    });
    await expect(first).rejects.toBeInstanceOf(ControllerFencedError);
    expect(cancelled).toBe(1);
    await c.takeOver();
    await waitFor(async () => (await answerOf(c, asker.id))?.result !== undefined, { ...ETCD_WAIT, what: "the successor finishing the plan" });
    expect(await movingState(c, plan)).toEqual([false, ...Array.from({ length: n - 1 }, () => true)]);
  });

  test("a request whose asker left before the start starts nothing", async () => {
    const c = await cluster();
    const plan = await topicsAndPlan(c, "g", 2);
    const { asker } = await ask(c, plan);
    await c.client.leaseRevoke(asker.lease);
    expect(await startPlan(c.first.ctx, c.view, { partitions: plan, throttleBytesPerSec: null }, asker, answerOfReassign)).toEqual({ moving: 0, answered: true });
    expect(await movingState(c, plan)).toEqual([false, false]);
  });
});

describe("cancelling moves over several topics against etcd", () => {
  /** A plan over three topics started, and a cancel request of every move. */
  async function moving(c: Cluster, prefix: string) {
    const plan = await topicsAndPlan(c, prefix, 3);
    expect((await startPlan(c.first.ctx, c.view, { partitions: plan, throttleBytesPerSec: null })).moving).toBe(3);
    await waitFor(() => plan.every((e) => c.view.topics.get(e.topic)?.moves !== undefined), { ...ETCD_WAIT, what: "the view has the moves" });
    const { asker, request } = await ask(c, plan, { op: "cancelReassignment", partitions: null });
    const answer = (n: number) => JSON.stringify({ request, lease: asker.lease, result: { errorCode: ErrorCode.NONE, message: `${n} move(s) rolled back` } });
    return { plan, asker, answer };
  }

  test("one transaction: every topic back to its old replicas, the states' epochs moved on, and the answer", async () => {
    const c = await cluster();
    const { plan, asker, answer } = await moving(c, "ca");
    const before = await readTopics(c.client, c.keys);
    expect(await cancelPlan(c.first.ctx, c.view, null, asker, answer)).toEqual({ cancelled: 3, answered: true });
    expect(await movingState(c, plan)).toEqual([false, false, false]);
    const after = await readTopics(c.client, c.keys);
    for (const e of plan) {
      const was = before.topics.find((t) => t.name === e.topic)!;
      const now = after.topics.find((t) => t.name === e.topic)!;
      expect(now.record.replicas[0]).toEqual(was.record.replicas[0].slice(0, 1));
      expect(now.partitions[0]!.partitionEpoch).toBe(was.partitions[0]!.partitionEpoch + 1);
    }
    expect(await answerOf(c, asker.id)).toEqual({ result: { errorCode: ErrorCode.NONE, message: "3 move(s) rolled back" }, version: 2 });
  });

  test("one partition that cannot roll back safely refuses the whole cancel", async () => {
    const c = await cluster();
    const { plan, asker, answer } = await moving(c, "cu");
    // The adding replica of the last topic caught up and leads alone: no old replica is in its ISR, so that move must finish.
    const last = plan[2];
    const state = c.view.partitionState(last.topic, 0)!;
    expect((await updatePartitionState(c.first.ctx, last.topic, 0, state, (s) => ({ leader: last.replicas[0], leaderEpoch: s.leaderEpoch + 1, isr: [last.replicas[0]] }))).applied).toBe(true);
    const e = await cancelPlan(c.first.ctx, c.view, null, asker, answer).then(() => undefined, (err) => err as SluiceError);
    expect(e?.code).toBe(ErrorCode.NOT_ENOUGH_REPLICAS);
    expect(await movingState(c, plan)).toEqual([true, true, true]);
  });

  test("a controller deposed before its cancel writes nothing; the successor rolls every move back and answers", async () => {
    const c = await cluster();
    const { plan, asker } = await moving(c, "cd");
    await c.client.leaseRevoke(c.first.lease.id);
    await expect(cancelMoves(c.first.ctx, c.view, null)).rejects.toBeInstanceOf(ControllerFencedError);
    expect(await movingState(c, plan)).toEqual([true, true, true]);
    await c.takeOver();
    await waitFor(async () => (await answerOf(c, asker.id))?.result !== undefined, { ...ETCD_WAIT, what: "the successor's answer" });
    expect(await answerOf(c, asker.id)).toEqual({ result: { errorCode: ErrorCode.NONE, message: "3 move(s) rolled back" }, version: 2 });
    expect(await movingState(c, plan)).toEqual([false, false, false]);
  });
});
