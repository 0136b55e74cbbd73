// The faults of docs/CLUSTER.md's failure table, one function each, injected
// into a running test cluster while the workload runs. Each one: picks its
// victim from what etcd says (a partition's leader, a follower, the
// controller), injects the fault, waits until the cluster decided what the
// failure table says it decides, measures the time to recover (from the
// injection to an ack, on every partition, of a record sent after it), then
// undoes the fault (restart, SIGCONT, heal) and leaves the cluster whole for
// the next one (cluster_fault_run.ts waits for that).

import fs from "node:fs";
import path from "node:path";
import { ErrorCode } from "../../../protocol/errors.ts";
import { decodeProduceResponse } from "../../../protocol/messages/produce.ts";
import { encodeBatch } from "../../../protocol/record_batch.ts";
import type { ClusterHarness } from "../../support/cluster_harness.ts";
import type { ClusterWorkload } from "../../support/cluster_workload.ts";
import { ETCD_WAIT } from "../../support/etcd.ts";
import { RawClient, produceBody } from "../../support/raw_client.ts";
import { pollUntil, waitForValue } from "../../support/wait_for.ts";
import { describePartitions } from "../../faults/support/broker_ops.ts";
import type { Rng } from "../../faults/support/rng.ts";

export const FAULT_KINDS = ["kill-leader", "kill-follower", "kill-controller", "pause-leader", "partition-leader", "kill-etcd-member", "eio-follower"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultContext {
  readonly cluster: ClusterHarness;
  readonly workload: ClusterWorkload;
  readonly topic: string;
  readonly partitions: number;
  readonly rng: Rng;
  /** Longest wait for the workload to make progress again after a fault. */
  readonly recoverTimeoutMs: number;
  readonly log: (line: string) => void;
}

export interface FaultOutcome {
  readonly kind: FaultKind;
  readonly victim: string;
  /** From the injection to every partition's first ack of a record sent after it; undefined: not within recoverTimeoutMs. */
  readonly recoverMs: number | undefined;
  /** From the injection to etcd naming a new leader (or controller), where the fault calls for one. */
  readonly electMs?: number;
  /** pause-leader only: produces the resumed old leader answered with success (must be 0). */
  readonly staleAcks?: number;
}

async function recover(ctx: FaultContext, t0: number): Promise<number | undefined> {
  return ctx.workload.waitForProgress(t0, ctx.recoverTimeoutMs);
}

async function randomLeader(ctx: FaultContext): Promise<{ partition: number; leader: number }> {
  const partition = ctx.rng.below(ctx.partitions);
  return { partition, leader: await ctx.cluster.waitForLeader(ctx.topic, partition) };
}

async function killLeader(ctx: FaultContext): Promise<FaultOutcome> {
  const { partition, leader } = await randomLeader(ctx);
  const t0 = performance.now();
  await ctx.cluster.broker(leader).kill9();
  await ctx.cluster.waitForLeader(ctx.topic, partition, (l) => l !== leader);
  const electMs = performance.now() - t0;
  const recoverMs = await recover(ctx, t0);
  await ctx.cluster.broker(leader).start();
  return { kind: "kill-leader", victim: `broker ${leader} (leader of ${partition})`, recoverMs, electMs };
}

async function killFollower(ctx: FaultContext): Promise<FaultOutcome> {
  const { partition, leader } = await randomLeader(ctx);
  const state = (await ctx.cluster.partitionState(ctx.topic, partition))!;
  const follower = ctx.rng.pick(state.isr.filter((id) => id !== leader));
  const t0 = performance.now();
  await ctx.cluster.broker(follower).kill9();
  const recoverMs = await recover(ctx, t0);
  await ctx.cluster.broker(follower).start();
  return { kind: "kill-follower", victim: `broker ${follower} (follower of ${partition})`, recoverMs };
}

async function killController(ctx: FaultContext): Promise<FaultOutcome> {
  const controller = await ctx.cluster.waitForController();
  const t0 = performance.now();
  await ctx.cluster.broker(controller).kill9();
  await ctx.cluster.waitForController((id) => id !== controller);
  const electMs = performance.now() - t0;
  const recoverMs = await recover(ctx, t0);
  await ctx.cluster.broker(controller).start();
  return { kind: "kill-controller", victim: `broker ${controller} (controller)`, recoverMs, electMs };
}

/**
 * SIGSTOP of a leader until etcd has elected another one (its lease expired),
 * then SIGCONT. At once after SIGCONT a produce (acks=all) goes straight to
 * the resumed broker's listener: it must not be acknowledged (the broker is
 * past its lease deadline: not a leader any more). The probe is in the
 * history, so if it were acked and then lost the checker would say so too.
 */
async function pauseLeader(ctx: FaultContext): Promise<FaultOutcome> {
  const { partition, leader } = await randomLeader(ctx);
  const b = ctx.cluster.broker(leader);
  const t0 = performance.now();
  b.pause();
  let staleAcks = 0;
  try {
    await ctx.cluster.waitForLeader(ctx.topic, partition, (l) => l !== leader);
    const electMs = performance.now() - t0;
    const recoverMs = await recover(ctx, t0);
    const value = `stale-probe-${leader}-${Math.round(t0)}`;
    ctx.workload.history.sent(value, "stale-probe", ctx.topic, partition);
    const client = await RawClient.connect(b.listenerPort!);
    const answer = client.request(0, produceBody({ topic: ctx.topic, acks: -1, timeoutMs: 3_000, partitions: [{ index: partition, records: encodeBatch([{ value }]) }] }), { timeoutMs: 20_000 });
    b.resume();
    try {
      const p = decodeProduceResponse((await answer).body).topics[0].partitions[0];
      if (p.errorCode === ErrorCode.NONE) {
        staleAcks++;
        ctx.workload.history.acked(value, partition, Number(p.baseOffset));
        ctx.log(`stale ack: broker ${leader} acked ${value} at ${p.baseOffset} after SIGCONT`);
      }
    } finally {
      client.close();
    }
    return { kind: "pause-leader", victim: `broker ${leader} (leader of ${partition})`, recoverMs, electMs, staleAcks };
  } finally {
    if (b.paused) b.resume();
  }
}

/** The leader cut from etcd and from every broker and client until another leader is elected; then healed. */
async function partitionLeader(ctx: FaultContext): Promise<FaultOutcome> {
  const { partition, leader } = await randomLeader(ctx);
  const t0 = performance.now();
  ctx.cluster.isolate(leader);
  try {
    await ctx.cluster.waitForLeader(ctx.topic, partition, (l) => l !== leader);
    const electMs = performance.now() - t0;
    const recoverMs = await recover(ctx, t0);
    return { kind: "partition-leader", victim: `broker ${leader} (leader of ${partition})`, recoverMs, electMs };
  } finally {
    ctx.cluster.heal();
  }
}

/** One etcd member (of 3) killed, then started again on its data dir; no broker may lose its session meanwhile. */
async function killEtcdMember(ctx: FaultContext): Promise<FaultOutcome> {
  const etcd = ctx.cluster.etcd;
  if (etcd.members.length < 3) throw new Error("kill-etcd-member needs 3 etcd members");
  const i = ctx.rng.below(etcd.members.length);
  const t0 = performance.now();
  await etcd.kill(i);
  const recoverMs = await recover(ctx, t0);
  const registered = await ctx.cluster.registeredBrokers();
  if (registered.length !== ctx.cluster.ids.length) throw new Error(`etcd member ${i} killed: brokers registered ${registered.join(",")}, expected all of ${ctx.cluster.ids.join(",")}`);
  await etcd.restart(i);
  return { kind: "kill-etcd-member", victim: `etcd member ${i}`, recoverMs };
}

/** The file whose existence makes every fdatasync of broker `id`'s replica of `partition` fail (SLUICE_FAULTS eioFile). */
export function eioFileOf(clusterDir: string, id: number, partition: number | "{partition}"): string {
  return path.join(clusterDir, `disk-dead-broker-${id}-partition-${partition}`);
}

/**
 * EIO on a follower's disk, while it runs: from now on every fdatasync of its
 * replica of one partition fails (SLUICE_FAULTS eioFile, engine/fault_hooks.ts;
 * its other replicas keep a good disk). The replica goes offline, the leader
 * leaves it out of the ISR after the lag time, producing goes on. Then the
 * disk is good again and the follower restarts on its data dir and catches up.
 */
async function eioFollower(ctx: FaultContext): Promise<FaultOutcome> {
  const { partition, leader } = await randomLeader(ctx);
  const state = (await ctx.cluster.partitionState(ctx.topic, partition))!;
  const follower = ctx.rng.pick(state.isr.filter((id) => id !== leader));
  const b = ctx.cluster.broker(follower);
  const file = eioFileOf(ctx.cluster.dir, follower, partition);
  const t0 = performance.now();
  fs.writeFileSync(file, "");
  try {
    await waitForValue(async () => {
      const parts = await describePartitions(b.listenerPort!, ctx.topic).catch(() => []);
      return parts.find((p) => p.partition === partition)?.online === false;
    }, { ...ETCD_WAIT, timeoutMs: 30_000, what: `broker ${follower}'s replica of ${partition} offline after its fdatasync failed` });
    const recoverMs = await recover(ctx, t0);
    return { kind: "eio-follower", victim: `broker ${follower} (follower of ${partition})`, recoverMs };
  } finally {
    fs.rmSync(file, { force: true });
    await b.restart();
  }
}

export const INJECT: Record<FaultKind, (ctx: FaultContext) => Promise<FaultOutcome>> = {
  "kill-leader": killLeader,
  "kill-follower": killFollower,
  "kill-controller": killController,
  "pause-leader": pauseLeader,
  "partition-leader": partitionLeader,
  "kill-etcd-member": killEtcdMember,
  "eio-follower": eioFollower,
};

/** The cluster whole again: every broker registered, every partition led with its full ISR. */
export async function waitWhole(ctx: FaultContext, timeoutMs: number): Promise<void> {
  let seen = "";
  const whole = await pollUntil(async () => {
    const registered = await ctx.cluster.registeredBrokers();
    const states = [];
    for (let p = 0; p < ctx.partitions; p++) states.push(await ctx.cluster.partitionState(ctx.topic, p));
    seen = `registered ${registered.join(",")}; ${states.map((s, p) => `${p}: leader ${s?.leader} epoch ${s?.leaderEpoch} isr ${s?.isr.join(",")}`).join("; ")}`;
    return registered.length === ctx.cluster.ids.length && states.every((s) => s !== undefined && s.leader >= 0 && s.isr.length === ctx.cluster.ids.length);
  }, { timeoutMs, everyMs: 100 });
  if (!whole) throw new Error(`the cluster is not whole again within ${timeoutMs} ms (every broker registered, every ISR full): ${seen}`);
}
