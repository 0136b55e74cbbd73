// A cluster fault run: a test cluster (support/cluster_harness.ts), one RF 3
// topic with min.insync.replicas 2, the workload (producers with acks=all and
// idempotence, a consumer group) running throughout, and a schedule of faults
// (fault_kinds.ts) injected one after another, each undone and the cluster
// whole again before the next. At the end: the workload stops, every broker
// runs, the final read takes every partition to its high watermark, and the
// cluster checker (test/checker/cluster_checker.ts) judges the whole history.
//
// Shared by the CI tests (test/cluster_faults/*.test.ts: a few faults of each
// kind) and the long run (test/long/cluster_faults.test.ts: 1,000+).

import { checkClusterHistory, type ClusterCheckReport, summarizeClusterReport } from "../../checker/cluster_checker.ts";
import { type ClusterHarness, startCluster } from "../../support/cluster_harness.ts";
import { ClusterWorkload } from "../../support/cluster_workload.ts";
import { quantile } from "../../faults/support/workload.ts";
import { Rng } from "../../faults/support/rng.ts";
import { eioFileOf, type FaultContext, type FaultKind, type FaultOutcome, INJECT, waitWhole } from "./fault_kinds.ts";

export interface ClusterFaultRunOptions {
  /** How many faults of each kind, in a shuffled schedule. */
  readonly faults: Partial<Record<FaultKind, number>>;
  readonly seed: number;
  readonly etcdMembers?: 1 | 3;
  readonly partitions?: number;
  readonly producers?: number;
  readonly consumers?: number;
  readonly inflightMax?: number;
  /** The workload runs at least this long between two faults, ms. */
  readonly runMsBetween?: number;
  readonly recoverTimeoutMs?: number;
  /** Longest wait for the cluster to be whole again after a fault. */
  readonly wholeTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

export interface ClusterFaultFigures {
  faultsInjected: number;
  /** Why the schedule stopped early, if it did (the history was checked all the same). */
  aborted: string | undefined;
  byKind: Record<string, { injected: number; recoverMsP50: number; recoverMsMax: number; electMsP50?: number; notRecovered: number }>;
  sent: number;
  acked: number;
  failedSends: number;
  sendErrors: Record<string, number>;
  lost: number;
  ackedMoved: number;
  conflicts: number;
  readThenMissing: number;
  orderViolations: number;
  duplicates: number;
  delivered: number;
  staleAcks: number;
  consumerRestarts: number;
  elapsedMs: number;
  report: ClusterCheckReport;
  summary: string;
}

export const LEASE_TTL_SECONDS = 2;
export const REPLICA_LAG_TIME_MAX_MS = 2_000;

export async function runClusterFaults(opts: ClusterFaultRunOptions): Promise<ClusterFaultFigures> {
  const started = performance.now();
  const log = opts.log ?? (() => {});
  const rng = new Rng(opts.seed);
  const partitions = opts.partitions ?? 3;
  const topic = "faults";
  const schedule: FaultKind[] = [];
  for (const [kind, n] of Object.entries(opts.faults) as [FaultKind, number][]) for (let i = 0; i < n; i++) schedule.push(kind);
  rng.shuffle(schedule);

  const cluster: ClusterHarness = await startCluster({
    brokers: 3,
    etcdMembers: opts.etcdMembers ?? 1,
    leaseTtlSeconds: LEASE_TTL_SECONDS,
    brokerArgs: ["--replica-lag-time-max-ms", String(REPLICA_LAG_TIME_MAX_MS)],
    // Every broker's disk can be made to fail, one partition at a time, by creating a file (fault_kinds.ts, eio-follower).
    brokerEnv: (id, dir) => ({ SLUICE_FAULTS: JSON.stringify({ [topic]: { eioFile: eioFileOf(dir, id, "{partition}") } }) }),
  });
  const workload = new ClusterWorkload({
    bootstrap: () => cluster.bootstrap(),
    topic,
    partitions,
    producers: opts.producers ?? 1,
    consumers: opts.consumers ?? 2,
    inflightMax: opts.inflightMax ?? 128,
    log,
  });
  const outcomes: FaultOutcome[] = [];
  // A fault the cluster did not get over (no progress, not whole again) ends the schedule, but the
  // history is still read back and checked: what was acked must be there whatever else went wrong.
  let aborted: string | undefined;
  try {
    try {
      await cluster.createTopic(topic, { partitions, replicationFactor: 3, configs: { "min.insync.replicas": "2" } });
      const ctx: FaultContext = { cluster, workload, topic, partitions, rng, recoverTimeoutMs: opts.recoverTimeoutMs ?? 30_000, log };
      await waitWhole(ctx, opts.wholeTimeoutMs ?? 30_000);
      workload.start();
      const first = await workload.waitForProgress(performance.now(), 30_000);
      if (first === undefined) throw new Error(`the workload made no progress on a healthy cluster: ${JSON.stringify(workload.stats, mapReplacer)}`);
      for (const kind of schedule) {
        // Let the workload run between faults, on every partition.
        await workload.waitForProgress(performance.now() + (opts.runMsBetween ?? 300), 30_000);
        const o = await INJECT[kind](ctx);
        outcomes.push(o);
        log(`fault ${outcomes.length}/${schedule.length}: ${kind} ${o.victim}: ${o.electMs === undefined ? "" : `new leader in ${Math.round(o.electMs)} ms, `}recovered in ${o.recoverMs === undefined ? "-" : Math.round(o.recoverMs)} ms (per partition ${JSON.stringify(workload.lastProgressMs)}); acked ${workload.stats.acked}`);
        await waitWhole(ctx, opts.wholeTimeoutMs ?? 30_000);
      }
      await workload.waitForDelivered(1, 30_000);
    } catch (e) {
      aborted = `after ${outcomes.length} of ${schedule.length} faults: ${(e as Error)?.message ?? e}`;
      log(`run aborted ${aborted}`);
    } finally {
      await workload.stop();
    }
    cluster.heal();
    for (const b of cluster.brokers.values()) {
      if (b.paused) b.resume();
      if (b.pid === undefined) await b.start({});
    }
    await cluster.waitForRegistered(cluster.ids);
    await workload.finalRead(async (p) => cluster.broker(await cluster.waitForLeader(topic, p)).address);
  } finally {
    await cluster.cleanup();
  }

  const report = checkClusterHistory(workload.history.history());
  const byKind: ClusterFaultFigures["byKind"] = {};
  for (const kind of new Set(outcomes.map((o) => o.kind))) {
    const of = outcomes.filter((o) => o.kind === kind);
    const ms = of.flatMap((o) => (o.recoverMs === undefined ? [] : [Math.round(o.recoverMs)]));
    const elect = of.flatMap((o) => (o.electMs === undefined ? [] : [Math.round(o.electMs)]));
    byKind[kind] = {
      injected: of.length,
      recoverMsP50: quantile(ms, 0.5),
      recoverMsMax: ms.length === 0 ? NaN : Math.max(...ms),
      ...(elect.length > 0 ? { electMsP50: quantile(elect, 0.5) } : {}),
      notRecovered: of.length - ms.length,
    };
  }
  return {
    faultsInjected: outcomes.length,
    aborted,
    byKind,
    sent: workload.stats.sent,
    acked: workload.stats.acked,
    failedSends: workload.stats.failed,
    sendErrors: Object.fromEntries(workload.stats.errors),
    lost: report.counts.ackedLost,
    ackedMoved: report.counts.ackedMoved,
    conflicts: report.counts.conflicts,
    readThenMissing: report.counts.readThenMissing,
    orderViolations: report.counts.orderViolations,
    duplicates: report.counts.duplicates,
    delivered: workload.stats.delivered,
    staleAcks: outcomes.reduce((n, o) => n + (o.staleAcks ?? 0), 0),
    consumerRestarts: workload.stats.consumerRestarts,
    elapsedMs: Math.round(performance.now() - started),
    report,
    summary: summarizeClusterReport(report),
  };
}

function mapReplacer(_key: string, value: unknown): unknown {
  return value instanceof Map ? Object.fromEntries(value) : value;
}

/** The line a test prints: everything but the report itself. */
export function figuresLine(name: string, f: ClusterFaultFigures): string {
  const { report: _report, summary, ...rest } = f;
  return `${name}: ${JSON.stringify(rest)}\n${summary}`;
}
