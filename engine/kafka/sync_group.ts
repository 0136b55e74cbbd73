// SyncGroup (14), versions 0–5: the leader brings every member's assignment
// (opaque bytes; the broker reads the consumer protocol's topics and
// partitions only to show them and their lag); each member gets its own.
// A member's SyncGroup before the leader's waits for it; a rebalance starting
// meanwhile answers REBALANCE_IN_PROGRESS (the member rejoins).

import { ErrorCode } from "../../protocol/errors.ts";
import { decodeSyncGroupRequest, encodeSyncGroupResponse } from "../../protocol/kafka/messages/sync_group.ts";
import type { GroupCoordinator } from "../groups/coordinator.ts";
import { assignmentPartitions } from "./consumer_protocol.ts";
import { groupErrorCode } from "./group_errors.ts";
import type { KafkaHandler } from "./kafka_request.ts";

const EMPTY = new Uint8Array(0);

export function syncGroupHandler(coordinator: GroupCoordinator): KafkaHandler {
  return (req) => {
    const body = decodeSyncGroupRequest(req.reader, req.apiVersion);
    const { conn, apiVersion } = req;
    const answer = (errorCode: number, assignment: Uint8Array): void => {
      const group = coordinator.membership(body.groupId);
      conn.reply(req, (w) =>
        encodeSyncGroupResponse(w, apiVersion, {
          throttleTimeMs: 0,
          errorCode,
          protocolType: errorCode === ErrorCode.NONE ? (group?.protocolType ?? null) : null,
          protocolName: errorCode === ErrorCode.NONE ? (group?.assignor ?? null) : null,
          assignment,
        }),
      );
    };
    // Copied: the request frame is not kept past this call.
    const assignments = new Map(body.assignments.map((a) => [a.memberId, a.assignment.slice()]));
    let synced;
    try {
      synced = coordinator.syncLeaderAssigned(body.groupId, body.memberId, body.generationId, assignments, assignmentPartitions);
    } catch (e) {
      return answer(groupErrorCode(e, conn.host.log.bind(conn.host), "SyncGroup"), EMPTY);
    }
    synced.then(
      (bytes) => answer(ErrorCode.NONE, bytes),
      (e) => answer(groupErrorCode(e, conn.host.log.bind(conn.host), "SyncGroup"), EMPTY),
    );
  };
}
