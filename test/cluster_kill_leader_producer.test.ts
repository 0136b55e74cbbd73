// kill -9 of a partition's leader under a producer with the client's default
// settings: its batches reach the new leader as soon as the cluster has one,
// not when the connection to the dead broker gives up (client/leader_router.ts,
// produce_sender.ts). Real broker processes (cli/dev_cluster.ts: `sluice serve
// --cluster-etcd`, lease TTL 2 s by default) on real ports, one real etcd.
//
// The dead broker's port refuses connects at once, yet a request waiting for
// its connection used to wait connectTimeoutMs (10 s by default): the
// producers here set connectTimeoutMs to 60 s, far above the bound the
// recovery must meet (a few lease TTLs), so waiting for that connection fails
// the test. Two producers: a busy one (a request in flight when the leader
// dies) and an idle one (connected to the leader, nothing in flight; its next
// send meets the refused address first).

import { afterAll, beforeAll, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Admin, Consumer, Producer } from "../client/mod.ts";
import { type DevCluster, startDevCluster } from "../cli/dev_cluster.ts";
import { LEASE_TTL_SECONDS_DEFAULT } from "../cluster/cluster_limits.ts";
import { takeRecords } from "./support/take_records.ts";
import { waitForValue } from "./support/wait_for.ts";

const TOPIC = "kill-leader";
const IDLE_TOPIC = "kill-leader-idle";
/** One partition per broker, so one of them is led by the broker killed. */
const IDLE_PARTITIONS = 3;
/** Far above the recovery bound: a request waiting for the dead broker's connection cannot pass. */
const CONNECT_TIMEOUT_MS = 60_000;
/**
 * kill -9 to the first acknowledgement by the new leader, at most: the lease
 * expires within one TTL, the election and the followers' catching up take
 * well under another, the producer's metadata polling and retry a fraction of
 * one; a generous slack for a loaded machine, still far below CONNECT_TIMEOUT_MS.
 */
const RECOVERY_BOUND_MS = 4 * LEASE_TTL_SECONDS_DEFAULT * 1000;
/** Sends kept outstanding, so batches are queued (not only one in flight) when the leader dies. */
const OUTSTANDING_SENDS = 20;
const SENDS_AFTER_KILL = 50;

let dir: string;
let cluster: DevCluster;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-kill-leader-"));
  cluster = await startDevCluster({ brokers: 3, etcdMembers: 1, basePort: 0, dir, brokerLog: () => {} });
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
});

test("kill -9 of the leader: with default client settings the first ack on the new leader comes within a few lease TTLs, not connectTimeoutMs; every record once, in order", async () => {
  expect(RECOVERY_BOUND_MS * 4).toBeLessThan(CONNECT_TIMEOUT_MS);
  const bootstrap = cluster.brokers.map((b) => `127.0.0.1:${b.port}`).join(",");
  const admin = new Admin({ broker: bootstrap });
  // Defaults but for connectTimeoutMs (idempotent, acks all, retries, back-offs, linger, delivery timeout).
  const producer = new Producer({ broker: bootstrap, connectTimeoutMs: CONNECT_TIMEOUT_MS });
  const idleProducer = new Producer({ broker: bootstrap, connectTimeoutMs: CONNECT_TIMEOUT_MS });
  const consumer = new Consumer({ broker: bootstrap, fetchMaxWaitMs: 100 });
  try {
    await admin.createTopic(TOPIC, { partitions: 1, replicationFactor: 3, configs: { "min.insync.replicas": "2" } });
    const leaderWithFullIsr = async () => {
      const p = (await admin.metadata([TOPIC])).topics.find((t) => t.name === TOPIC)?.partitions[0];
      return p !== undefined && p.leader >= 0 && (p.isr ?? []).length === 3 ? p.leader : undefined;
    };
    const leader = await waitForValue(() => leaderWithFullIsr().catch(() => undefined), { what: "a leader and a full ISR", timeoutMs: 60_000 });
    const victim = cluster.brokers.find((b) => b.id === leader)!;
    // The idle producer's partition led by the same broker; one send connects it there.
    await admin.createTopic(IDLE_TOPIC, { partitions: IDLE_PARTITIONS, replicationFactor: 3, configs: { "min.insync.replicas": "2" } });
    const idlePartition = await waitForValue(async () => {
      const parts = (await admin.metadata([IDLE_TOPIC]).catch(() => undefined))?.topics.find((t) => t.name === IDLE_TOPIC)?.partitions ?? [];
      if (parts.length !== IDLE_PARTITIONS || parts.some((p) => p.leader < 0 || (p.isr ?? []).length !== 3)) return undefined;
      return parts.find((p) => p.leader === leader)?.partition ?? -1;
    }, { what: "the idle topic's leaders and full ISRs", timeoutMs: 60_000 });
    if (idlePartition < 0) throw new Error(`no partition of ${IDLE_TOPIC} is led by broker ${leader}`);
    expect((await idleProducer.send(IDLE_TOPIC, { partition: idlePartition, value: "before" })).offset).toBe(0n);

    // Sends run in a window of OUTSTANDING_SENDS; each acknowledgement is stamped with when it came.
    const acked: { value: string; offset: bigint; sentAt: number; ackedAt: number }[] = [];
    const failures: unknown[] = [];
    let next = 0;
    let stopAt = Infinity;
    const sendOne = async (): Promise<void> => {
      while (next < stopAt) {
        const value = `m${next++}`;
        const sentAt = performance.now();
        try {
          const md = await producer.send(TOPIC, { partition: 0, value });
          acked.push({ value, offset: md.offset, sentAt, ackedAt: performance.now() });
        } catch (e) {
          failures.push(e);
        }
      }
    };
    const senders = Array.from({ length: OUTSTANDING_SENDS }, () => sendOne());
    await waitForValue(() => acked.length >= 100, { what: "acknowledgements before the kill", timeoutMs: 30_000 });

    const killedAt = performance.now();
    victim.proc.kill("SIGKILL");
    await victim.exited;
    let idleAck: { offset: bigint; ackedAt: number } | undefined;
    let idleError: unknown;
    idleProducer.send(IDLE_TOPIC, { partition: idlePartition, value: "after" }).then(
      (md) => (idleAck = { offset: md.offset, ackedAt: performance.now() }),
      (e) => (idleError = e),
    );
    // The first ack of a record sent after the kill (so not an answer of the dead leader).
    const first = await waitForValue(() => acked.find((a) => a.sentAt >= killedAt), {
      what: "an acknowledgement of a record sent after the kill",
      timeoutMs: RECOVERY_BOUND_MS,
      everyMs: 5,
    });
    const recoveryMs = first.ackedAt - killedAt;
    stopAt = next + SENDS_AFTER_KILL;
    await Promise.all(senders);
    console.error(`kill -9 of leader ${leader}: first ack of a record sent after it ${recoveryMs.toFixed(0)} ms later (bound ${RECOVERY_BOUND_MS} ms, connectTimeoutMs ${CONNECT_TIMEOUT_MS})`);
    expect(recoveryMs).toBeLessThan(RECOVERY_BOUND_MS);
    expect(failures).toEqual([]);
    const idle = await waitForValue(() => (idleError !== undefined ? Promise.reject(idleError) : idleAck), {
      what: "the idle producer's send after the kill acknowledged",
      timeoutMs: Math.max(0, killedAt + RECOVERY_BOUND_MS - performance.now()),
    });
    console.error(`idle producer: its first send after the kill acknowledged ${(idle.ackedAt - killedAt).toFixed(0)} ms after it`);
    expect(idle.ackedAt - killedAt).toBeLessThan(RECOVERY_BOUND_MS);
    expect(idle.offset).toBe(1n);

    const newLeader = await waitForValue(async () => {
      const p = (await admin.metadata([TOPIC]).catch(() => undefined))?.topics.find((t) => t.name === TOPIC)?.partitions[0];
      return p !== undefined && p.leader >= 0 && p.leader !== leader ? p.leader : undefined;
    }, { what: "the new leader in Metadata", timeoutMs: 30_000 });
    expect(newLeader).not.toBe(leader);

    // Idempotent and in order: offsets 0..n-1 each acknowledged once, and the log holds each record once.
    const total = acked.length;
    const offsets = acked.map((a) => a.offset).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    expect(offsets).toEqual(Array.from({ length: total }, (_, i) => BigInt(i)));
    consumer.assign([{ topic: TOPIC, partition: 0, position: "beginning" }]);
    const records = await takeRecords(consumer, total, 30_000);
    const byOffset = new Map(acked.map((a) => [a.offset, a.value]));
    for (const r of records) expect(new TextDecoder().decode(r.value!)).toBe(byOffset.get(r.offset)!);
    // Records sent one after another on the partition are stored in that order.
    const order = records.map((r) => Number(new TextDecoder().decode(r.value!).slice(1)));
    for (let i = 1; i < order.length; i++) expect(order[i]).toBeGreaterThan(order[i - 1]);
  } finally {
    await producer.close({ timeoutMs: 5_000 }).catch(() => {});
    await idleProducer.close({ timeoutMs: 5_000 }).catch(() => {});
    await consumer.close().catch(() => {});
    await admin.close().catch(() => {});
  }
}, 180_000);
