// AlterPartitionReassignments (45), versions 0–1 (KIP-455): starts partition
// moves and cancels them (replicas null), through the same broker-side checks
// and controller requests as the native api (cluster/reassignment_admin.ts).
// Per partition: NONE, UNKNOWN_TOPIC_OR_PARTITION, INVALID_REPLICA_ASSIGNMENT,
// INVALID_REPLICATION_FACTOR (a move keeps the replication factor, whatever
// allowReplicationFactorChange says), BROKER_NOT_AVAILABLE,
// REASSIGNMENT_IN_PROGRESS (Sluice does not retarget a moving partition:
// cancel it first), NO_REASSIGNMENT_IN_PROGRESS, NOT_ENOUGH_REPLICAS (a
// cancel that would leave too few in-sync old replicas).
//
// Top-level errors: INVALID_REQUEST on a single node (nothing to move, as its
// ElectLeaders) and past REASSIGNMENT_REQUEST_PARTITIONS_MAX partitions.
// Kafka sets a move's throttle through broker configs; this api carries none,
// so moves started here are unthrottled (the native api and the CLI take one).
// timeoutMs is not used: the controller's answer is awaited for
// TOPIC_REQUEST_TIMEOUT_MS (REQUEST_TIMED_OUT after it).

import { alterReassignments, type ReassignmentOutcome } from "../../cluster/mod.ts";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import { decodeAlterPartitionReassignmentsRequest, encodeAlterPartitionReassignmentsResponse } from "../../protocol/kafka/messages/alter_partition_reassignments.ts";
import { REASSIGNMENT_REQUEST_PARTITIONS_MAX } from "../../protocol/limits.ts";
import { clusterMemberOf, reassignmentHost } from "../cluster_admin.ts";
import type { KafkaHandler } from "./kafka_request.ts";

export const handleAlterPartitionReassignments: KafkaHandler = (req) => {
  const body = decodeAlterPartitionReassignmentsRequest(req.reader, req.apiVersion);
  const { conn, apiVersion } = req;
  const engine = conn.host.engine;
  const changes = body.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex, replicas: p.replicas })));
  const reply = (errorCode: number, errorMessage: string | null, outcomes: readonly ReassignmentOutcome[]) => {
    const byTopic = new Map<string, { partitionIndex: number; errorCode: number; errorMessage: string | null }[]>();
    for (const o of outcomes) {
      const list = byTopic.get(o.topic) ?? [];
      list.push({ partitionIndex: o.partition, errorCode: o.errorCode, errorMessage: o.message });
      byTopic.set(o.topic, list);
    }
    conn.reply(req, (w) =>
      encodeAlterPartitionReassignmentsResponse(w, apiVersion, {
        throttleTimeMs: 0,
        allowReplicationFactorChange: body.allowReplicationFactorChange,
        errorCode,
        errorMessage,
        responses: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
      }),
    );
  };
  const refuseAll = (code: number, message: string) => reply(code, message, changes.map((c) => ({ ...c, errorCode: code, message })));
  let member;
  try {
    member = clusterMemberOf(engine, "replica to move");
  } catch (e) {
    return refuseAll((e as SluiceError).code, (e as Error).message);
  }
  if (changes.length > REASSIGNMENT_REQUEST_PARTITIONS_MAX) {
    return refuseAll(ErrorCode.INVALID_REQUEST, `${changes.length} partitions in one request; at most ${REASSIGNMENT_REQUEST_PARTITIONS_MAX}`);
  }
  alterReassignments(reassignmentHost(member), changes, null).then(
    (outcomes) => reply(ErrorCode.NONE, null, outcomes),
    (e) => refuseAll(e instanceof SluiceError ? e.code : ErrorCode.UNKNOWN_SERVER_ERROR, (e as Error)?.message ?? String(e)),
  );
};
