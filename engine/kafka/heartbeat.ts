// Heartbeat (12), versions 0–4: keeps the member's session; REBALANCE_IN_PROGRESS
// tells it to rejoin, UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION that it was fenced.

import { ErrorCode } from "../../protocol/errors.ts";
import { decodeHeartbeatRequest, encodeHeartbeatResponse } from "../../protocol/kafka/messages/heartbeat.ts";
import type { GroupCoordinator } from "../groups/coordinator.ts";
import { groupErrorCode } from "./group_errors.ts";
import type { KafkaHandler } from "./kafka_request.ts";

export function heartbeatHandler(coordinator: GroupCoordinator): KafkaHandler {
  return (req) => {
    const body = decodeHeartbeatRequest(req.reader, req.apiVersion);
    let errorCode: number = ErrorCode.NONE;
    try {
      coordinator.heartbeat(body.groupId, body.memberId, body.generationId);
    } catch (e) {
      errorCode = groupErrorCode(e, req.conn.host.log.bind(req.conn.host), "Heartbeat");
    }
    req.conn.reply(req, (w) => encodeHeartbeatResponse(w, req.apiVersion, { throttleTimeMs: 0, errorCode }));
  };
}
