// Preferred leader elections the controller makes on request
// (`sluice cluster elect-leaders --preferred`, op "electLeaders" of
// topic_requests.ts; docs/SCALING.md, "Preferred leaders"): every partition
// in scope whose first replica can lead gets it as leader, leader epoch + 1,
// by the fenced partition state CAS. Nothing unclean: a first replica outside
// the ISR would lose acknowledged records, so it is reported, not elected.
//
// Per partition the answer is one of (Kafka's ElectLeaders codes):
//   NONE                             moved to the first replica
//   ELECTION_NOT_NEEDED              the first replica leads already
//   PREFERRED_LEADER_NOT_AVAILABLE   the first replica is not registered, is shutting down, or is not in the ISR (reason says which)
//   UNKNOWN_TOPIC_OR_PARTITION       no state in etcd

import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { ELECT_LEADERS_RESULTS_MAX } from "./cluster_limits.ts";
import type { ClusterView } from "./cluster_view.ts";
import { type ControllerContext, updatePartitionState } from "./controller_topics.ts";
import { preferredLeaderChange } from "./preferred_leaders.ts";
import type { VersionedPartitionState } from "./topic_metadata.ts";

export interface ElectLeadersScope {
  /** Only this topic (absent: every topic). */
  readonly topic?: string;
  /** Only this partition of `topic`. */
  readonly partition?: number;
}

export interface PartitionElection {
  readonly topic: string;
  readonly partition: number;
  readonly errorCode: number;
  /** Why not moved ("already leader", "not registered", "shutting down", "not in ISR", "no state"), or "moved". */
  readonly reason: string;
  /** The leader after this call. */
  readonly leader: number;
}

export interface ElectLeadersResult {
  /** Outcomes, at most ELECT_LEADERS_RESULTS_MAX (moved and refused first, "already leader" last). */
  readonly partitions: PartitionElection[];
  readonly moved: number;
  readonly notNeeded: number;
  readonly notAvailable: number;
  /** Outcomes left out of `partitions` to keep the answer bounded. */
  readonly omitted: number;
}

/** Tries of one partition's write when another change lands between the view and it (decided again each time). */
const ELECTION_TRIES = 3;

/** Why `replicas[0]` cannot lead `state` now, or undefined when it can (or leads). */
function unavailable(first: number, state: VersionedPartitionState, live: ReadonlySet<number>, shuttingDown: ReadonlySet<number>): string | undefined {
  if (!live.has(first)) return "not registered";
  if (shuttingDown.has(first)) return "shutting down";
  if (!state.isr.includes(first)) return "not in ISR";
  return undefined;
}

/**
 * Elects preferred leaders in `scope` as the controller. Throws
 * ControllerFencedError when this broker is not the controller (the request
 * is then left for the next one), SluiceError UNKNOWN_TOPIC_OR_PARTITION for
 * a scope that names nothing.
 */
export async function electPreferredLeaders(ctx: ControllerContext, view: ClusterView, scope: ElectLeadersScope): Promise<ElectLeadersResult> {
  if (scope.partition !== undefined && scope.topic === undefined) throw new SluiceError(ErrorCode.INVALID_REQUEST, "a partition is named only with its topic");
  const topics = scope.topic === undefined ? [...view.topics.keys()].sort() : [scope.topic];
  for (const t of topics) if (!view.topics.has(t)) throw new SluiceError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${t}' does not exist`);
  if (scope.partition !== undefined) {
    const n = view.topics.get(topics[0])!.partitions;
    if (scope.partition >= n) throw new SluiceError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${topics[0]}' has ${n} partitions, no partition ${scope.partition}`);
  }
  const out: PartitionElection[] = [];
  for (const topic of topics) {
    const record = view.topics.get(topic)!;
    const ps = scope.partition === undefined ? Array.from({ length: record.partitions }, (_, p) => p) : [scope.partition];
    for (const partition of ps) out.push(await electOne(ctx, view, topic, partition, record.replicas[partition]));
  }
  const rank = (e: PartitionElection) => (e.errorCode === ErrorCode.ELECTION_NOT_NEEDED ? 1 : 0);
  const sorted = [...out].sort((a, b) => rank(a) - rank(b));
  return {
    partitions: sorted.slice(0, ELECT_LEADERS_RESULTS_MAX),
    moved: out.filter((e) => e.errorCode === ErrorCode.NONE).length,
    notNeeded: out.filter((e) => e.errorCode === ErrorCode.ELECTION_NOT_NEEDED).length,
    notAvailable: out.filter((e) => e.errorCode !== ErrorCode.NONE && e.errorCode !== ErrorCode.ELECTION_NOT_NEEDED).length,
    omitted: Math.max(0, out.length - ELECT_LEADERS_RESULTS_MAX),
  };
}

async function electOne(ctx: ControllerContext, view: ClusterView, topic: string, partition: number, replicas: readonly number[]): Promise<PartitionElection> {
  const first = replicas[0];
  let state = view.partitionState(topic, partition);
  for (let attempt = 1; ; attempt++) {
    if (state === undefined) return { topic, partition, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, reason: "no state", leader: -1 };
    if (state.leader === first) return { topic, partition, errorCode: ErrorCode.ELECTION_NOT_NEEDED, reason: "already leader", leader: first };
    const why = unavailable(first, state, view.liveBrokerIds(), view.shuttingDownBrokerIds());
    if (why !== undefined) return { topic, partition, errorCode: ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, reason: why, leader: state.leader };
    const to = preferredLeaderChange(replicas, state, () => true)!;
    const r = await updatePartitionState(ctx, topic, partition, state, () => to);
    if (r.applied) return { topic, partition, errorCode: ErrorCode.NONE, reason: "moved", leader: first };
    // Another change landed first (an ISR change, a failover): decide again from what etcd holds now.
    if (attempt >= ELECTION_TRIES) {
      return { topic, partition, errorCode: ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, reason: "state kept changing", leader: r.current?.leader ?? -1 };
    }
    state = r.current;
  }
}
