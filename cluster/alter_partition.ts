// The controller's side of an ISR change a partition's leader proposes
// (docs/CLUSTER.md, "ISR changes"; Kafka's AlterPartition, KIP-497). The
// proposal reaches the controller as a request key under the leader's session
// lease (topic_requests.ts, op "alterPartition"); this decides it and writes
// it with the partition state's fenced compare-and-swap.
//
// Checks, in order (each failure is the answer, with Kafka's code):
//   - the partition exists                           UNKNOWN_TOPIC_OR_PARTITION
//   - its leader epoch is the current one            FENCED_LEADER_EPOCH (older) / UNKNOWN_LEADER_EPOCH (newer)
//   - the asker is the partition's leader            NOT_LEADER_OR_FOLLOWER
//   - its partition epoch is the current one         INVALID_UPDATE_VERSION
//   - the new ISR is a subset of the replicas, without repeats, and holds the leader    INVALID_REQUEST
//   - every member it adds is registered             INELIGIBLE_REPLICA (KIP-841)
//     and not in controlled shutdown                 INELIGIBLE_REPLICA
//   - the asker's registration is the session that asked (compared in the write)        STALE_BROKER_EPOCH
// A write that loses its compare-and-swap to another change is decided again
// from the state etcd answered with (the partition epoch check then refuses
// it, unless the other change was something else, such as a topic rewrite).

import { ErrorCode } from "../protocol/errors.ts";
import type { ClusterView } from "./cluster_view.ts";
import { type ControllerContext, updatePartitionState } from "./controller_topics.ts";
import { cmp } from "./etcd_wire.ts";
import type { PartitionState, VersionedPartitionState } from "./topic_metadata.ts";

export interface AlterPartitionRequest {
  readonly topic: string;
  readonly partition: number;
  /** The leader asking. */
  readonly brokerId: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly isr: readonly number[];
}

export interface AlterPartitionResult {
  readonly errorCode: number;
  readonly message: string | null;
  /** The partition's state after the change (errorCode NONE). */
  readonly state?: PartitionState;
}

/** Tries of the write when another change lands between the read and it. */
const ALTER_PARTITION_TRIES = 3;

/**
 * Decides and writes one ISR change. `lease`: the session lease the request
 * key was put under (the asker's). Throws ControllerFencedError when this
 * broker is not the controller (the request is then left for the next one).
 */
export async function alterPartition(ctx: ControllerContext, view: ClusterView, req: AlterPartitionRequest, lease: string): Promise<AlterPartitionResult> {
  const record = view.topics.get(req.topic);
  let state: VersionedPartitionState | undefined = view.partitionState(req.topic, req.partition);
  if (record === undefined || req.partition >= record.partitions || state === undefined) {
    return refuse(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `partition ${req.topic}-${req.partition} does not exist`);
  }
  const replicas = record.replicas[req.partition];
  for (let attempt = 1; ; attempt++) {
    const problem = check(req, replicas, state, view);
    if (problem !== undefined) return problem;
    const r = await updatePartitionState(
      ctx,
      req.topic,
      req.partition,
      state,
      (s) => ({ leader: s.leader, leaderEpoch: s.leaderEpoch, isr: [...req.isr] }),
      [cmp.leaseIs(ctx.keys.broker(req.brokerId), lease)],
    );
    if (r.applied) {
      const { modRevision: _, ...next } = r.state;
      return { errorCode: ErrorCode.NONE, message: null, state: next };
    }
    if (r.current === undefined) return refuse(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `partition ${req.topic}-${req.partition} was deleted`);
    if (r.current.modRevision === state.modRevision) {
      return refuse(
        ErrorCode.STALE_BROKER_EPOCH,
        `broker ${req.brokerId}'s registration is not the session that asked (it ended or restarted), or an ISR member it keeps registered again since the state was written`,
      );
    }
    state = r.current;
    if (attempt >= ALTER_PARTITION_TRIES) return refuse(ErrorCode.INVALID_UPDATE_VERSION, `partition ${req.topic}-${req.partition} kept changing; read it again`);
  }
}

function check(req: AlterPartitionRequest, replicas: readonly number[], state: PartitionState, view: ClusterView): AlterPartitionResult | undefined {
  const where = `${req.topic}-${req.partition}`;
  if (req.leaderEpoch < state.leaderEpoch) return refuse(ErrorCode.FENCED_LEADER_EPOCH, `${where}: leader epoch ${req.leaderEpoch} is older than ${state.leaderEpoch}`);
  if (req.leaderEpoch > state.leaderEpoch) return refuse(ErrorCode.UNKNOWN_LEADER_EPOCH, `${where}: leader epoch ${req.leaderEpoch} is newer than ${state.leaderEpoch}`);
  if (state.leader !== req.brokerId) return refuse(ErrorCode.NOT_LEADER_OR_FOLLOWER, `broker ${req.brokerId} does not lead ${where} (leader ${state.leader})`);
  if (req.partitionEpoch !== state.partitionEpoch) {
    return refuse(ErrorCode.INVALID_UPDATE_VERSION, `${where}: partition epoch ${req.partitionEpoch} is not the current ${state.partitionEpoch}`);
  }
  if (new Set(req.isr).size !== req.isr.length || !req.isr.every((b) => replicas.includes(b)) || !req.isr.includes(req.brokerId)) {
    return refuse(ErrorCode.INVALID_REQUEST, `${where}: the ISR [${req.isr}] must be distinct replicas of [${replicas}] including the leader ${req.brokerId}`);
  }
  const unregistered = req.isr.filter((b) => !state.isr.includes(b) && !view.brokers.has(b));
  if (unregistered.length > 0) return refuse(ErrorCode.INELIGIBLE_REPLICA, `${where}: broker(s) ${unregistered.join(", ")} proposed into the ISR are not registered`);
  // A broker in controlled shutdown is on its way out (controlled_shutdown.ts): caught up or not, it does not rejoin.
  const leaving = view.shuttingDownBrokerIds();
  const shuttingDown = req.isr.filter((b) => !state.isr.includes(b) && leaving.has(b));
  if (shuttingDown.length > 0) return refuse(ErrorCode.INELIGIBLE_REPLICA, `${where}: broker(s) ${shuttingDown.join(", ")} proposed into the ISR are shutting down`);
  return undefined;
}

function refuse(errorCode: number, message: string): AlterPartitionResult {
  return { errorCode, message };
}
