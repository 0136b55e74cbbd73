// Executing and watching partition moves from the command line
// (docs/SCALING.md): submitting a plan or a cancel to the controller (a
// request key under a short lease of the CLI's own, cluster/topic_requests.ts),
// reading progress from the leaders' `/metrics` (engine/move_progress.ts,
// through each registration's httpPort), and waiting until moves are done.
// Used by `sluice partitions reassign` and `sluice cluster decommission`.

import {
  ClusterKeys,
  ClusterView,
  EtcdClient,
  type MoveStatus,
  moveStatus,
  readClusterStatus,
  readTopics,
  submitTopicRequest,
  TOPIC_REQUEST_TIMEOUT_MS,
  type TopicRequest,
  type TopicRequestResult,
} from "../cluster/mod.ts";
import type { PartitionAssignment } from "../cluster/reassignment_plan.ts";
import { REASSIGNMENT_REQUEST_PARTITIONS_MAX } from "../protocol/limits.ts";

/** The CLI's lease for its request key outlives the longest wait for the controller's answer. */
const REQUEST_LEASE_TTL_SECONDS = Math.ceil(TOPIC_REQUEST_TIMEOUT_MS / 1000) * 2;
/** How often a wait looks at etcd and the leaders again. */
export const MOVE_POLL_MS = 500;

/** Puts a request under a lease of the CLI's own and waits for the controller's answer (throws its refusal). */
export async function submitRequest(client: EtcdClient, keys: ClusterKeys, request: TopicRequest): Promise<TopicRequestResult> {
  const lease = await client.leaseGrant(REQUEST_LEASE_TTL_SECONDS);
  const view = ClusterView.start({ client, keys });
  try {
    await new Promise<void>((resolve) => {
      if (view.ready) return resolve();
      const off = view.subscribe(() => {
        off();
        resolve();
      });
    });
    return await submitTopicRequest({ client, keys, view, leaseId: lease.id }, request);
  } finally {
    await view.close();
    await client.leaseRevoke(lease.id).catch(() => {});
  }
}

/**
 * Submits the moves of a plan, in requests of at most
 * REASSIGNMENT_REQUEST_PARTITIONS_MAX partitions (a request is one etcd value,
 * under etcd's 1.5 MiB request limit; a plan may name up to
 * REASSIGNMENT_PLAN_PARTITIONS_MAX). Each request starts all or nothing
 * (docs/SCALING.md, "Starting a plan"); a refused one stops the submission,
 * and its error names how many partitions the earlier requests started.
 */
export async function submitPlan(client: EtcdClient, keys: ClusterKeys, plan: readonly PartitionAssignment[], throttleBytesPerSec: number | null): Promise<TopicRequestResult> {
  let started = 0;
  let last: TopicRequestResult | undefined;
  for (let i = 0; i < plan.length || last === undefined; i += REASSIGNMENT_REQUEST_PARTITIONS_MAX) {
    const chunk = plan.slice(i, i + REASSIGNMENT_REQUEST_PARTITIONS_MAX);
    try {
      last = await submitRequest(client, keys, { op: "reassign", partitions: chunk.map((p) => ({ topic: p.topic, partition: p.partition, replicas: [...p.replicas] })), throttleBytesPerSec });
    } catch (e) {
      if (started > 0 && e instanceof Error) e.message = `${e.message} (the first ${started} of the plan's ${plan.length} partitions were submitted and are moving)`;
      throw e;
    }
    started += chunk.length;
  }
  return plan.length <= REASSIGNMENT_REQUEST_PARTITIONS_MAX ? last : { ...last, message: `${plan.length} partitions submitted in ${Math.ceil(plan.length / REASSIGNMENT_REQUEST_PARTITIONS_MAX)} requests; the last: ${last.message ?? "started"}` };
}

export { type MoveStatus, parseMoveMetrics, readMetrics } from "../cluster/mod.ts";

/** Every move in progress, with bytes copied and remaining as its leader tells (cluster/move_status.ts). */
export async function readMoveStatus(client: EtcdClient, keys: ClusterKeys): Promise<MoveStatus[]> {
  const { topics } = await readTopics(client, keys);
  const status = await readClusterStatus(client, keys);
  return moveStatus({
    topics: topics.map((t) => ({ name: t.name, record: t.record, state: (p: number) => t.partitions[p] })),
    brokers: new Map(status.brokers.map((b) => [b.id, b])),
    withProgress: true,
  });
}

/** Moves in progress by "topic-partition". */
export function moveKeys(list: readonly { topic: string; partition: number }[]): Set<string> {
  return new Set(list.map((m) => `${m.topic}-${m.partition}`));
}

function fmtBytes(n: number | null): string {
  if (n === null) return "?";
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

/** Bytes per second from two readings of the same moves. */
export function etaSeconds(before: readonly MoveStatus[], after: readonly MoveStatus[], seconds: number): Map<string, { rate: number | null; eta: number | null }> {
  const out = new Map<string, { rate: number | null; eta: number | null }>();
  for (const a of after) {
    const b = before.find((x) => x.topic === a.topic && x.partition === a.partition);
    const k = `${a.topic}-${a.partition}`;
    if (b === undefined || a.bytesCopied === null || b.bytesCopied === null || seconds <= 0) {
      out.set(k, { rate: null, eta: null });
      continue;
    }
    const rate = Math.max(0, (a.bytesCopied - b.bytesCopied) / seconds);
    out.set(k, { rate, eta: rate > 0 && a.bytesRemaining !== null ? a.bytesRemaining / rate : null });
  }
  return out;
}

/** The status as a table, with a progress bar per partition when `bars`. */
export function formatMoveStatus(list: readonly MoveStatus[], eta: ReadonlyMap<string, { rate: number | null; eta: number | null }>, bars: boolean): string {
  if (list.length === 0) return "no partition is moving";
  const lines: string[] = [];
  for (const m of list) {
    const k = `${m.topic}-${m.partition}`;
    const e = eta.get(k);
    const frac = m.bytesTotal === null || m.bytesCopied === null ? null : m.bytesTotal === 0 ? 1 : m.bytesCopied / m.bytesTotal;
    const bar = bars && frac !== null ? ` [${"#".repeat(Math.round(frac * 20)).padEnd(20, ".")}]` : "";
    const pct = frac === null ? "?" : `${(frac * 100).toFixed(1)}%`;
    const rate = e?.rate == null ? "" : ` ${fmtBytes(Math.round(e.rate))}/s`;
    const etaText = e?.eta == null ? "" : ` ETA ${Math.ceil(e.eta)} s`;
    lines.push(
      `${k}: [${m.replicas}] -> [${m.target}] adding [${m.adding}] removing [${m.removing}] leader ${m.leader} isr [${m.isr}]${bar} ${pct} copied ${fmtBytes(m.bytesCopied)} remaining ${fmtBytes(m.bytesRemaining)}${rate}${etaText}`,
    );
  }
  return lines.join("\n");
}

/**
 * Waits until none of `wanted` (topic-partition) is moving any more, printing
 * progress on stderr when `progress`; throws after `timeoutMs`.
 */
export async function waitForMoves(client: EtcdClient, keys: ClusterKeys, wanted: ReadonlySet<string>, timeoutMs: number, progress: (line: string) => void): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last: { at: number; list: MoveStatus[] } | undefined;
  for (;;) {
    const list = (await readMoveStatus(client, keys)).filter((m) => wanted.has(`${m.topic}-${m.partition}`));
    if (list.length === 0) return;
    const at = performance.now();
    const eta = last === undefined ? new Map() : etaSeconds(last.list, list, (at - last.at) / 1000);
    const copied = list.reduce((s, m) => s + (m.bytesCopied ?? 0), 0);
    const remaining = list.reduce((s, m) => s + (m.bytesRemaining ?? 0), 0);
    const rate = [...eta.values()].reduce((s, e) => s + (e.rate ?? 0), 0);
    progress(`${list.length} of ${wanted.size} partitions still moving: copied ${fmtBytes(copied)}, remaining ${fmtBytes(remaining)}${rate > 0 ? `, ${fmtBytes(Math.round(rate))}/s, ETA ${Math.ceil(remaining / rate)} s` : ""}`);
    last = { at, list };
    if (at > deadline) throw new Error(`${list.length} partition(s) still moving after ${Math.round(timeoutMs / 1000)} s: ${list.slice(0, 5).map((m) => `${m.topic}-${m.partition}`).join(", ")}`);
    await new Promise((r) => setTimeout(r, MOVE_POLL_MS));
  }
}
