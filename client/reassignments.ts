// Partition placement in a cluster, as admin calls (docs/SCALING.md, "The
// admin API"): the functions behind Admin's alterPartitionReassignments,
// listPartitionReassignments, describeCluster, proposeReassignment,
// balanceByLoad, decommission and waitForReassignments. Any broker of the
// cluster serves them (it hands changes to the controller); a single node
// refuses them with INVALID_REQUEST.
//
// Decommission is not an api of its own: it is exactly the plan
// ProposeReassignment makes over every registered broker but the one leaving
// (a broker left out is emptied), started with AlterPartitionReassignments
// (in requests of at most REASSIGNMENT_REQUEST_PARTITIONS_MAX partitions).
// Waiting for the moves is ListPartitionReassignments until none of them is
// left; the leaving broker deletes its copies as it sees each cut-over.

import { ApiKey } from "../protocol/api_keys.ts";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { REASSIGNMENT_REQUEST_PARTITIONS_MAX } from "../protocol/limits.ts";
import type {
  BalanceByLoadResponse,
  DescribeClusterResponse,
  ListPartitionReassignmentsResponse,
  ProposeReassignmentResponse,
  ReassignmentOutcome,
} from "../protocol/messages/reassignments.ts";
import { controlCall, type RequestLink } from "./broker_link.ts";
import { REASSIGNMENT_POLL_MS } from "./client_limits.ts";

/** One partition's new replica list (first = preferred leader), or null to cancel its move. */
export interface PartitionReassignmentChange {
  readonly topic: string;
  readonly partition: number;
  readonly replicas: readonly number[] | null;
}

export function alterPartitionReassignments(
  link: RequestLink,
  changes: readonly PartitionReassignmentChange[],
  throttleBytesPerSec: number | null,
): Promise<ReassignmentOutcome[]> {
  if (changes.length > REASSIGNMENT_REQUEST_PARTITIONS_MAX) {
    return Promise.reject(new SluiceError(ErrorCode.INVALID_REQUEST, `${changes.length} partitions in one reassignment request; at most ${REASSIGNMENT_REQUEST_PARTITIONS_MAX}`));
  }
  return controlCall(link, ApiKey.AlterPartitionReassignments, {
    partitions: changes.map((c) => ({ topic: c.topic, partition: c.partition, replicas: c.replicas === null ? null : [...c.replicas] })),
    throttleBytesPerSec,
  }).then((r) => r.partitions);
}

/** `only`: topic → partitions ([] = every partition of it); undefined: every move. */
export function listPartitionReassignments(
  link: RequestLink,
  only: Readonly<Record<string, readonly number[]>> | undefined,
  progress: boolean,
): Promise<ListPartitionReassignmentsResponse> {
  const topics = only === undefined ? null : Object.entries(only).map(([name, partitions]) => ({ name, partitions: [...partitions] }));
  return controlCall(link, ApiKey.ListPartitionReassignments, { topics, progress });
}

export function describeCluster(link: RequestLink): Promise<DescribeClusterResponse> {
  return controlCall(link, ApiKey.DescribeCluster, {});
}

export function proposeReassignment(link: RequestLink, brokers: readonly number[], topics: readonly string[] | null): Promise<ProposeReassignmentResponse> {
  return controlCall(link, ApiKey.ProposeReassignment, { brokers: [...brokers], topics: topics === null ? null : [...topics] });
}

export function balanceByLoad(link: RequestLink): Promise<BalanceByLoadResponse> {
  return controlCall(link, ApiKey.BalanceByLoad, {});
}

export interface DecommissionResult {
  /** The plan that empties the broker (partitions whose replica list changes). */
  readonly plan: ProposeReassignmentResponse;
  /** One outcome per plan entry, in plan order. */
  readonly outcomes: ReassignmentOutcome[];
}

/**
 * Moves every replica off `brokerId`: the balanced plan over the other
 * registered brokers, started in requests of at most
 * REASSIGNMENT_REQUEST_PARTITIONS_MAX partitions. Resolves once the moves
 * are started (see waitForReassignments); throws BROKER_NOT_AVAILABLE when
 * the broker is not registered, or INVALID_REQUEST when it is the only one.
 */
export async function decommission(link: RequestLink, brokerId: number, throttleBytesPerSec: number | null): Promise<DecommissionResult> {
  const cluster = await describeCluster(link);
  if (cluster.clusterName === null) throw new SluiceError(ErrorCode.INVALID_REQUEST, "this broker is a single node (no --cluster-etcd): there is no other broker to move partitions to");
  if (!cluster.brokers.some((b) => b.nodeId === brokerId)) throw new SluiceError(ErrorCode.BROKER_NOT_AVAILABLE, `broker ${brokerId} is not registered`);
  const others = cluster.brokers.map((b) => b.nodeId).filter((id) => id !== brokerId);
  if (others.length === 0) throw new SluiceError(ErrorCode.INVALID_REQUEST, `broker ${brokerId} is the only broker: its partitions have nowhere to go`);
  const plan = await proposeReassignment(link, others, null);
  const outcomes: ReassignmentOutcome[] = [];
  for (let from = 0; from < plan.plan.partitions.length; from += REASSIGNMENT_REQUEST_PARTITIONS_MAX) {
    const chunk = plan.plan.partitions.slice(from, from + REASSIGNMENT_REQUEST_PARTITIONS_MAX);
    outcomes.push(...(await alterPartitionReassignments(link, chunk, throttleBytesPerSec)));
  }
  return { plan, outcomes };
}

/**
 * Resolves once none of `partitions` (undefined: none at all) is moving any
 * more, polling ListPartitionReassignments every REASSIGNMENT_POLL_MS;
 * `onProgress` gets each answer (with bytes when `progress`). Throws
 * REQUEST_TIMED_OUT after `timeoutMs`, naming what still moves.
 */
export async function waitForReassignments(
  list: (progress: boolean) => Promise<ListPartitionReassignmentsResponse>,
  partitions: readonly { topic: string; partition: number }[] | undefined,
  options: { timeoutMs: number; progress?: boolean; onProgress?: (r: ListPartitionReassignmentsResponse) => void },
): Promise<void> {
  const wanted = partitions === undefined ? undefined : new Set(partitions.map((p) => `${p.topic}\u0000${p.partition}`));
  const deadline = performance.now() + options.timeoutMs;
  for (;;) {
    const r = await list(options.progress ?? false);
    const still = r.partitions.filter((p) => wanted === undefined || wanted.has(`${p.topic}\u0000${p.partition}`));
    options.onProgress?.({ ...r, partitions: still });
    if (still.length === 0) return;
    if (performance.now() >= deadline) {
      const names = still.slice(0, 5).map((p) => `${p.topic}-${p.partition}`).join(", ");
      throw new SluiceError(ErrorCode.REQUEST_TIMED_OUT, `${still.length} partition(s) still moving after ${options.timeoutMs} ms: ${names}${still.length > 5 ? ", …" : ""}`);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(REASSIGNMENT_POLL_MS, Math.max(1, deadline - performance.now()))));
  }
}
