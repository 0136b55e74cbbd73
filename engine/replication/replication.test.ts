// Replication between real brokers (in-process, each with its own worker
// threads, data dir and native listener on 127.0.0.1 port 0), roles given
// through the engine API: the replica fetch over TCP, the follower's append and
// truncation, the high watermark as the ISR minimum, acks=all over the ISR.

import { afterEach, describe, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKey } from "../../protocol/api_keys.ts";
import { NO_BROKER_EPOCH, REPLICA_FETCH_VERSION, writeReplicaFetchRequest } from "../../protocol/messages/replica_fetch.ts";
import { decodeResponseEnvelope } from "../../protocol/messages/response.ts";
import { encodeBatch } from "../../protocol/record_batch.ts";
import { encodeBody, RawClient } from "../../test/support/raw_client.ts";
import { waitFor } from "../../test/support/wait_for.ts";
import { Broker } from "../broker.ts";
import { REPLICA_FETCH_WAIT_MS } from "./replication_limits.ts";
import { parseBrokerConfig } from "../broker_config.ts";
import type { Acks } from "../engine.ts";
import type { ProduceResult } from "../partition_pool.ts";
import { LeaderPartition } from "./leader_partition.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const TOPIC = "r";

async function startBroker(brokerId: number, dataDir?: string): Promise<Broker> {
  const dir = dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "sluice-repl-"));
  if (dataDir === undefined) cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const broker = await Broker.start(parseBrokerConfig({ dataDir: dir, host: "127.0.0.1", port: 0, httpPort: 0, kafkaPort: -1, workers: 1, brokerId }), { log: () => {} });
  cleanups.push(() => broker.stop()); // idempotent
  return broker;
}

async function cluster(n: number): Promise<Broker[]> {
  const brokers: Broker[] = [];
  for (let id = 1; id <= n; id++) {
    const b = await startBroker(id);
    await b.engine.createTopic(TOPIC, { partitions: 1 });
    brokers.push(b);
  }
  return brokers;
}

interface Answer {
  err: number;
  res: ProduceResult | null;
}

/** One produce through the engine; resolves with its answer. */
function produce(b: Broker, value: string, acks: Acks = -1): { answer: Promise<Answer>; answered: () => boolean } {
  let done = false;
  const answer = new Promise<Answer>((resolve) => {
    const records = encodeBatch([{ value }, { value: `${value}-2` }]);
    const send = (): void => {
      const taken = b.engine.produce(TOPIC, 0, records, acks, (err, res) => {
        done = true;
        resolve({ err, res });
      });
      if (!taken) b.engine.onWritable(TOPIC, 0, send);
    };
    send();
  });
  return { answer, answered: () => done };
}

function state(b: Broker) {
  return b.engine.pool.state(b.engine.resolve(TOPIC, 0));
}

/** The segment files of the partition, name → bytes. */
function segmentFiles(b: Broker): Map<string, Buffer> {
  const dir = path.join(b.config.dataDir, "topics", TOPIC, "0");
  const out = new Map<string, Buffer>();
  for (const name of fs.readdirSync(dir).sort()) if (name.endsWith(".log")) out.set(name, fs.readFileSync(path.join(dir, name)));
  return out;
}

function leaderAddress(b: Broker): { host: string; port: number } {
  return { host: "127.0.0.1", port: b.port };
}

describe("replication between brokers", () => {
  test("RF 3, acks=all: every answer comes after all three replicas have it durably; the segment files end byte-identical; the HW never passes a follower's durable offset", async () => {
    const [b1, b2, b3] = await cluster(3);
    await b1.engine.becomeLeader(TOPIC, 0, { epoch: 1, isr: [1, 2, 3], replicas: [1, 2, 3], minInsyncReplicas: 2 });
    b2.engine.becomeFollower(TOPIC, 0, { epoch: 1, leader: leaderAddress(b1) });
    b3.engine.becomeFollower(TOPIC, 0, { epoch: 1, leader: leaderAddress(b1) });

    let hwAboveFollower = 0;
    const leader = b1.engine.replication.leaderOf(b1.engine.resolve(TOPIC, 0))!;
    const COUNT = 60;
    const pending: Promise<Answer>[] = [];
    for (let i = 0; i < COUNT; i++) {
      const p = produce(b1, `v${i}`);
      pending.push(
        p.answer.then((a) => {
          // At the moment of the answer, both followers hold the batch durably.
          if (a.err === ErrorCode.NONE) {
            for (const f of [b2, b3]) if (state(f).durableOffset <= a.res!.lastOffset) hwAboveFollower++;
          }
          return a;
        }),
      );
      if (leader.highWatermark > Math.min(state(b2).durableOffset, state(b3).durableOffset)) hwAboveFollower++;
    }
    const answers = await Promise.all(pending);
    expect(answers.every((a) => a.err === ErrorCode.NONE)).toBe(true);
    expect(answers.map((a) => a.res!.baseOffset)).toEqual(Array.from({ length: COUNT }, (_, i) => i * 2));
    expect(hwAboveFollower).toBe(0);
    expect(leader.highWatermark).toBe(COUNT * 2);
    expect(state(b2).logEndOffset).toBe(COUNT * 2);
    expect(state(b3).logEndOffset).toBe(COUNT * 2);
    const files = segmentFiles(b1);
    expect(files.size).toBeGreaterThan(0);
    expect(segmentFiles(b2)).toEqual(files);
    expect(segmentFiles(b3)).toEqual(files);
    // The followers' high watermark follows the leader's, and bounds what their consumers read.
    await waitFor(() => b2.engine.replication.followerState(TOPIC, 0)!.highWatermark === COUNT * 2, { what: "follower HW" });
    expect(b2.engine.topicView().highWatermark(TOPIC, 0)).toBe(COUNT * 2);
    // A follower refuses produces.
    expect((await produce(b2, "no", 1).answer).err).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
  }, 60_000);

  test("pipelined follower: its durable report reaches the leader while its next fetch is parked, so acks=all on an idle partition does not wait for the fetch's long-poll", async () => {
    const [b1, b2, b3] = await cluster(3);
    await b1.engine.becomeLeader(TOPIC, 0, { epoch: 1, isr: [1, 2, 3], replicas: [1, 2, 3], minInsyncReplicas: 3 });
    b2.engine.becomeFollower(TOPIC, 0, { epoch: 1, leader: leaderAddress(b1) });
    b3.engine.becomeFollower(TOPIC, 0, { epoch: 1, leader: leaderAddress(b1) });
    expect((await produce(b1, "warm").answer).err).toBe(ErrorCode.NONE);
    // Each produce finds both followers' fetches parked (nothing new): the batch wakes them, they append
    // and fetch again at once (parked again), and their fdatasync is reported by a MaxBytes-0 report.
    // Without the report the ack would wait for the parked fetch to time out (REPLICA_FETCH_WAIT_MS).
    const tookMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const a = await produce(b1, `idle${i}`).answer;
      expect(a.err).toBe(ErrorCode.NONE);
      tookMs.push(performance.now() - started);
    }
    tookMs.sort((x, y) => x - y);
    expect(tookMs[2]).toBeLessThan(REPLICA_FETCH_WAIT_MS / 2);
    const reports = b2.engine.replication.followerState(TOPIC, 0)!.reports + b3.engine.replication.followerState(TOPIC, 0)!.reports;
    expect(reports).toBeGreaterThan(0);
    expect(segmentFiles(b2)).toEqual(segmentFiles(b1));
  }, 60_000);

  test("consumers on the leader never read at or above the HW: with one follower's reports missing, acks=1 records stay invisible until the follower reports them durable", async () => {
    const [b1, b2] = await cluster(2);
    // Broker 2 is in the ISR but follows nobody yet: the HW cannot pass 0.
    await b1.engine.becomeLeader(TOPIC, 0, { epoch: 1, isr: [1, 2], replicas: [1, 2] });
    const a = await produce(b1, "x", 1).answer;
    expect(a.err).toBe(ErrorCode.NONE);
    await waitFor(() => state(b1).durableOffset === 2, { what: "leader durable" });
    expect(b1.engine.topicView().highWatermark(TOPIC, 0)).toBe(0);
    const read = () =>
      new Promise<{ bytes: number; hw: number }>((resolve) => {
        let bytes = 0;
        let hw = -1;
        b1.engine.fetch(
          { maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, partitions: [{ topic: TOPIC, partition: 0, offset: 0, maxBytes: 1 << 20 }] },
          { partition: (_i, _e, b, h) => ((bytes = b?.length ?? 0), (hw = h)), reset: () => {}, done: () => resolve({ bytes, hw }) },
        );
      });
    expect(await read()).toEqual({ bytes: 0, hw: 0 });
    // The follower starts fetching: its durable report moves the HW, and the record becomes readable.
    b2.engine.becomeFollower(TOPIC, 0, { epoch: 1, leader: leaderAddress(b1) });
    await waitFor(() => b1.engine.topicView().highWatermark(TOPIC, 0) === 2, { what: "HW from the follower's report" });
    // The follower has the batch durably; its consumers see it only once the leader's HW in a fetch answer covers it.
    await waitFor(() => b2.engine.topicView().highWatermark(TOPIC, 0) === 2, { what: "the follower's HW" });
    const after = await read();
    expect(after.hw).toBe(2);
    expect(after.bytes).toBeGreaterThan(0);
  }, 60_000);

  test("a stopped follower holds acks=all until the ISR is shrunk through the API; below min.insync.replicas produces are refused", async () => {
    const [b1, b2, b3] = await cluster(3);
    await b1.engine.becomeLeader(TOPIC, 0, { epoch: 1, isr: [1, 2, 3], replicas: [1, 2, 3], minInsyncReplicas: 2, replicaLagTimeMaxMs: 300 });
    b2.engine.becomeFollower(TOPIC, 0, { epoch: 1, leader: leaderAddress(b1) });
    b3.engine.becomeFollower(TOPIC, 0, { epoch: 1, leader: leaderAddress(b1) });
    expect((await produce(b1, "first").answer).err).toBe(ErrorCode.NONE);
    await b3.stop();
    const leader = b1.engine.replication.leaderOf(b1.engine.resolve(TOPIC, 0))!;
    const held = produce(b1, "held");
    // Durable on the leader and on broker 2, and still not answered: broker 3 is in the ISR.
    await waitFor(() => state(b2).durableOffset >= 4 && leader.followers.get(2)!.durableOffset >= 4, { what: "broker 2 durable" });
    expect(held.answered()).toBe(false);
    // The leader says broker 3 should leave once it lagged past replica.lag.time.max.ms.
    await waitFor(() => leader.shouldShrink(Date.now()).includes(3), { what: "shrink proposal" });
    expect(leader.shouldShrink(Date.now())).toEqual([3]);
    b1.engine.replication.setIsr(TOPIC, 0, [1, 2]);
    expect((await held.answer).err).toBe(ErrorCode.NONE);
    // ISR of one, below min.insync.replicas 2: refused before the append.
    b1.engine.replication.setIsr(TOPIC, 0, [1]);
    const before = state(b1).logEndOffset;
    expect((await produce(b1, "refused").answer).err).toBe(ErrorCode.NOT_ENOUGH_REPLICAS);
    expect(state(b1).logEndOffset).toBe(before);
  }, 60_000);

  test("a follower whose tail forked (epoch history diverged) truncates to the leader's and ends byte-identical", async () => {
    const [b1, b2] = await cluster(2);
    await b1.engine.becomeLeader(TOPIC, 0, { epoch: 1, isr: [1, 2], replicas: [1, 2] });
    b2.engine.becomeFollower(TOPIC, 0, { epoch: 1, leader: leaderAddress(b1) });
    for (let i = 0; i < 3; i++) expect((await produce(b1, `common${i}`).answer).err).toBe(ErrorCode.NONE);
    // The fork: broker 1 keeps leading epoch 1 alone and writes on; broker 2 leads epoch 2 alone and writes other records at the same offsets.
    b1.engine.replication.setIsr(TOPIC, 0, [1]);
    await b2.engine.becomeLeader(TOPIC, 0, { epoch: 2, isr: [2], replicas: [1, 2] });
    for (let i = 0; i < 4; i++) expect((await produce(b1, `lost${i}`, 1).answer).err).toBe(ErrorCode.NONE);
    for (let i = 0; i < 2; i++) expect((await produce(b2, `kept${i}`, 1).answer).err).toBe(ErrorCode.NONE);
    expect(state(b1).logEndOffset).toBe(14);
    expect(state(b2).logEndOffset).toBe(10);
    // Broker 2 leads epoch 3 with broker 1 as follower: 1's epoch 1 ends at 6 on the leader, so it cuts its tail there.
    await b2.engine.becomeLeader(TOPIC, 0, { epoch: 3, isr: [2, 1], replicas: [1, 2] });
    b1.engine.becomeFollower(TOPIC, 0, { epoch: 3, leader: leaderAddress(b2) });
    expect((await produce(b2, "after").answer).err).toBe(ErrorCode.NONE);
    await waitFor(() => state(b1).logEndOffset === 12 && state(b1).durableOffset === 12, { what: "follower caught up" });
    expect(b1.engine.replication.followerState(TOPIC, 0)!.truncations).toBe(1);
    expect(segmentFiles(b1)).toEqual(segmentFiles(b2));
  }, 60_000);

  test("a follower closed and restarted on the same data dir catches up", async () => {
    const [b1, b2] = await cluster(2);
    await b1.engine.becomeLeader(TOPIC, 0, { epoch: 1, isr: [1], replicas: [1, 2] });
    b2.engine.becomeFollower(TOPIC, 0, { epoch: 1, leader: leaderAddress(b1) });
    for (let i = 0; i < 5; i++) expect((await produce(b1, `a${i}`).answer).err).toBe(ErrorCode.NONE);
    await waitFor(() => state(b2).durableOffset === 10, { what: "follower durable" });
    const dir = b2.config.dataDir;
    await b2.stop();
    for (let i = 0; i < 5; i++) expect((await produce(b1, `b${i}`).answer).err).toBe(ErrorCode.NONE);
    const again = await startBroker(2, dir);
    again.engine.becomeFollower(TOPIC, 0, { epoch: 1, leader: leaderAddress(b1) });
    await waitFor(() => state(again).durableOffset === 20, { what: "restarted follower caught up" });
    expect(segmentFiles(again)).toEqual(segmentFiles(b1));
    // Back in sync: the leader would take it into the ISR.
    const leader = b1.engine.replication.leaderOf(b1.engine.resolve(TOPIC, 0))!;
    await waitFor(() => leader.shouldExpand().includes(2), { what: "expand proposal" });
  }, 60_000);

  test("broker epochs: a fetch older than the follower broker's known epoch is refused (STALE_BROKER_EPOCH) and records nothing; a newer one drops the previous process's offsets, so they never bring it back into the ISR", async () => {
    const [b1, b2] = await cluster(2);
    // In a cluster the epoch is the registration's create revision (cluster_replicas.ts); here set by hand.
    b2.engine.replication.brokerEpoch = () => 5;
    await b1.engine.becomeLeader(TOPIC, 0, { epoch: 1, isr: [1, 2], replicas: [1, 2], minInsyncReplicas: 2 });
    b2.engine.becomeFollower(TOPIC, 0, { epoch: 1, leader: leaderAddress(b1) });
    for (let i = 0; i < 3; i++) expect((await produce(b1, `a${i}`).answer).err).toBe(ErrorCode.NONE);
    const leader = b1.engine.replication.leaderOf(b1.engine.resolve(TOPIC, 0))!;
    const f = leader.followers.get(2)!;
    expect(f.brokerEpoch).toBe(5);
    expect(f.durableOffset).toBe(6);
    // Broker 2's process goes; as the controller does when it registers again, it leaves the ISR.
    const dir = b2.config.dataDir;
    await b2.stop();
    b1.engine.replication.setIsr(TOPIC, 0, [1]);
    // The old process's numbers alone would take it straight back in.
    expect(leader.shouldExpand()).toEqual([2]);

    const raw = await RawClient.connect(b1.port);
    cleanups.push(() => raw.close());
    const body = (brokerEpoch: number, currentLeaderEpoch: number, version = REPLICA_FETCH_VERSION, replicaId = 2) =>
      encodeBody((w) =>
        writeReplicaFetchRequest(
          w,
          {
            replicaId,
            brokerEpoch,
            maxWaitMs: 0,
            minBytes: 0,
            maxBytes: 0,
            topics: [{ name: TOPIC, partitions: [{ index: 0, currentLeaderEpoch, fetchOffset: 6n, lastFetchedEpoch: 1, durableOffset: 6n, partitionMaxBytes: 0 }] }],
          },
          version,
        ),
      );
    const codeOf = async (b: Uint8Array, apiVersion = REPLICA_FETCH_VERSION) => decodeResponseEnvelope((await raw.request(ApiKey.ReplicaFetch, b, { apiVersion })).body).errorCode;
    // An older incarnation than the leader knows: refused whole, nothing recorded.
    const fetchedAt = f.lastFetchMs;
    expect(await codeOf(body(4, 1))).toBe(ErrorCode.STALE_BROKER_EPOCH);
    expect(f.lastFetchMs).toBe(fetchedAt);
    expect(f.durableOffset).toBe(6);
    // A newer one (the leader's view of etcd may trail it) is taken: even a fetch whose partition is refused
    // (a leader epoch not known here yet) drops the previous process's offsets.
    expect(await codeOf(body(6, 2))).toBe(ErrorCode.NONE);
    expect(f.brokerEpoch).toBe(6);
    expect([f.fetchOffset, f.durableOffset, f.lastFetchMs]).toEqual([0, 0, 0]);
    expect(leader.shouldExpand()).toEqual([]);
    // From now on the previous epoch is stale too.
    expect(await codeOf(body(5, 1))).toBe(ErrorCode.STALE_BROKER_EPOCH);
    expect(f.durableOffset).toBe(0);

    // The new process (epoch 6) catches up and is proposed back in on its own reports.
    const again = await startBroker(2, dir);
    again.engine.replication.brokerEpoch = () => 6;
    again.engine.becomeFollower(TOPIC, 0, { epoch: 1, leader: leaderAddress(b1) });
    await waitFor(() => leader.shouldExpand().includes(2), { what: "expand proposal on the new process's fetches" });
    expect(f.durableOffset).toBe(6);

    // The view shows broker 2 registered again (epoch 8) before any fetch of that process: its offsets drop at once.
    b1.engine.replication.noteBrokerEpoch(2, 8);
    expect(f.brokerEpoch).toBe(8);
    expect([f.fetchOffset, f.durableOffset]).toEqual([0, 0]);
    expect(leader.shouldExpand()).toEqual([]);
    // An older view (or a repeat) changes nothing.
    b1.engine.replication.noteBrokerEpoch(2, 7);
    expect(f.brokerEpoch).toBe(8);
    // A fetch claiming an epoch no registration has (invented) stands only until the view has caught up with
    // that revision: a view at or past it that still registers broker 2 at 8 takes 8 back.
    expect(await codeOf(body(1000, 1))).toBe(ErrorCode.NONE);
    expect(f.brokerEpoch).toBe(1000);
    b1.engine.replication.noteBrokerEpoch(2, 8, 999);
    expect(f.brokerEpoch).toBe(1000);
    expect(await codeOf(body(8, 1))).toBe(ErrorCode.STALE_BROKER_EPOCH);
    b1.engine.replication.noteBrokerEpoch(2, 8, 1000);
    expect(f.brokerEpoch).toBe(8);
    expect(await codeOf(body(8, 1))).toBe(ErrorCode.NONE);
    // A follower of an earlier build (version 0, no epoch field) is served unchecked, as before broker epochs.
    expect(await codeOf(body(0, 1, 0), 0)).toBe(ErrorCode.NONE);
    expect([f.brokerEpoch, f.durableOffset]).toEqual([8, 6]);
    // An id that is no replica here is not remembered (the epochs kept stay bounded by the cluster's brokers).
    expect(await codeOf(body(50, 1, REPLICA_FETCH_VERSION, 99))).toBe(ErrorCode.NONE);
    expect(await codeOf(body(40, 1, REPLICA_FETCH_VERSION, 99))).toBe(ErrorCode.NONE);
  }, 60_000);

  test("in a cluster a leader answers only while its session is alive: a produce arriving after, and an acks=all answered after, are NOT_LEADER_OR_FOLLOWER", async () => {
    const [b1, b2, b3] = await cluster(3);
    await b1.engine.becomeLeader(TOPIC, 0, { epoch: 1, isr: [1, 2, 3], replicas: [1, 2, 3], minInsyncReplicas: 2 });
    b2.engine.becomeFollower(TOPIC, 0, { epoch: 1, leader: leaderAddress(b1) });
    b3.engine.becomeFollower(TOPIC, 0, { epoch: 1, leader: leaderAddress(b1) });
    // The cluster's check (cluster_replicas.ts gives the lease's deadline); here a flag stands for the clock passing it.
    let alive = true;
    b1.engine.replication.leaseAlive = () => alive;
    expect((await produce(b1, "first").answer).err).toBe(ErrorCode.NONE);
    await b3.stop();
    const held = produce(b1, "held");
    const leader = b1.engine.replication.leaderOf(b1.engine.resolve(TOPIC, 0))!;
    await waitFor(() => leader.followers.get(2)!.durableOffset >= 4, { what: "broker 2 has the held batch durably" });
    expect(held.answered()).toBe(false);
    // The deadline passes while it waits; then the ISR shrinks and the HW passes it: the answer is a refusal, not an ack.
    alive = false;
    b1.engine.replication.setIsr(TOPIC, 0, [1, 2]);
    expect((await held.answer).err).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    // A produce arriving past the deadline is refused before the append, whatever its acks.
    const end = state(b1).logEndOffset;
    expect((await produce(b1, "late", 1).answer).err).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect((await produce(b1, "late-all", -1).answer).err).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect(state(b1).logEndOffset).toBe(end);
    alive = true;
    expect((await produce(b1, "again", 1).answer).err).toBe(ErrorCode.NONE);
  }, 60_000);
});

describe("the leader's commit policy (LeaderPartition)", () => {
  const role = { epoch: 1, replicas: [1, 2, 3], minInsyncReplicas: 1, replicaLagTimeMaxMs: 1_000, partitionEpoch: 0 };

  test("a new leader starts at the HW it learnt as follower, never above its own durable offset", () => {
    expect(new LeaderPartition(1, { ...role, isr: [1, 2, 3] }, 8, 0, 5).highWatermark).toBe(5);
    expect(new LeaderPartition(1, { ...role, isr: [1, 2, 3] }, 8, 0, 12).highWatermark).toBe(8);
    expect(new LeaderPartition(1, { ...role, isr: [1, 2, 3] }, 8, 0).highWatermark).toBe(0);
  });

  test("an acks=all whose fdatasync returns after the leadership ended is refused at once, not left waiting on the dropped leader", () => {
    const lp = new LeaderPartition(1, { ...role, isr: [1, 2] }, 0, 0);
    const answers: number[] = [];
    const result = { baseOffset: 0, lastOffset: 4 } as unknown as Parameters<LeaderPartition["waitForIsr"]>[0];
    expect(lp.waitForIsr(result, (err) => answers.push(err))).toBe(true);
    lp.failAll(ErrorCode.NOT_LEADER_OR_FOLLOWER, "no longer led here");
    expect(answers).toEqual([ErrorCode.NOT_LEADER_OR_FOLLOWER]);
    // The produce that was in its fdatasync when the role changed.
    expect(lp.waitForIsr(result, (err) => answers.push(err))).toBe(true);
    expect(answers).toEqual([ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.NOT_LEADER_OR_FOLLOWER]);
    expect(lp.waitingCount).toBe(0);
  });

  test("while an ISR change is pending the HW is taken over the maximal ISR: members being added and removed both count", () => {
    const now = 1_000_000;
    // Expand pending: broker 3 (durable 4) is being added; broker 2's report to 10 cannot move the HW past 4... nor back.
    const lp = new LeaderPartition(1, { ...role, isr: [1, 2] }, 10, now);
    lp.onFollowerFetch(2, NO_BROKER_EPOCH, 6, 6, 10, now);
    lp.onFollowerFetch(3, NO_BROKER_EPOCH, 4, 4, 10, now);
    lp.recompute(10);
    expect(lp.highWatermark).toBe(6);
    lp.pendingIsr = [1, 2, 3];
    lp.onFollowerFetch(2, NO_BROKER_EPOCH, 10, 10, 10, now);
    expect(lp.recompute(10)).toBe(false);
    expect(lp.highWatermark).toBe(6);
    // The answer: ISR [1, 2, 3]; broker 3 reports 10 too.
    lp.pendingIsr = undefined;
    lp.update({ ...role, isr: [1, 2, 3], partitionEpoch: 1 }, 10, now);
    lp.onFollowerFetch(3, NO_BROKER_EPOCH, 10, 10, 10, now);
    expect(lp.recompute(10)).toBe(true);
    expect(lp.highWatermark).toBe(10);
    expect(lp.partitionEpoch).toBe(1);
    // Shrink pending: broker 3 (stuck at 10) still holds the HW until the change lands.
    lp.pendingIsr = [1, 2];
    lp.onFollowerFetch(2, NO_BROKER_EPOCH, 15, 15, 15, now);
    expect(lp.recompute(15)).toBe(false);
    lp.pendingIsr = undefined;
    lp.update({ ...role, isr: [1, 2], partitionEpoch: 2 }, 15, now);
    expect(lp.highWatermark).toBe(15);
  });

  test("proposals: a lagging follower out, a caught-up one in, a stopped one whose old reports match an idle HW not back in", () => {
    const t0 = 1_000_000;
    const lp = new LeaderPartition(1, { ...role, isr: [1, 2, 3] }, 10, t0);
    lp.onFollowerFetch(2, NO_BROKER_EPOCH, 10, 10, 10, t0);
    lp.onFollowerFetch(3, NO_BROKER_EPOCH, 10, 10, 10, t0);
    lp.recompute(10);
    expect(lp.proposal(t0 + 500)).toBeUndefined();
    // Broker 3 stops fetching; broker 2 goes on. Past the lag time 3 is proposed out.
    lp.onFollowerFetch(2, NO_BROKER_EPOCH, 10, 10, 10, t0 + 1_200);
    expect(lp.proposal(t0 + 1_200)).toEqual([1, 2]);
    lp.update({ ...role, isr: [1, 2], partitionEpoch: 1 }, 10, t0 + 1_200);
    // Idle partition: 3's last report equals the HW, but it has not fetched for longer than the lag time: not back in.
    expect(lp.proposal(t0 + 1_300)).toBeUndefined();
    // It fetches again at the log end: proposed back in.
    lp.onFollowerFetch(3, NO_BROKER_EPOCH, 10, 10, 10, t0 + 1_400);
    expect(lp.proposal(t0 + 1_400)).toEqual([1, 2, 3]);
  });
});
