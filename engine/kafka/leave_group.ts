// LeaveGroup (13), versions 0–4: the member goes at once (a rebalance starts
// for the rest). v3+ may name several members, each answered on its own.

import { ErrorCode } from "../../protocol/errors.ts";
import { decodeLeaveGroupRequest, encodeLeaveGroupResponse } from "../../protocol/kafka/messages/leave_group.ts";
import type { GroupCoordinator } from "../groups/coordinator.ts";
import { groupErrorCode } from "./group_errors.ts";
import type { KafkaHandler } from "./kafka_request.ts";

export function leaveGroupHandler(coordinator: GroupCoordinator): KafkaHandler {
  return (req) => {
    const body = decodeLeaveGroupRequest(req.reader, req.apiVersion);
    const log = req.conn.host.log.bind(req.conn.host);
    const leave = (memberId: string): number => {
      try {
        coordinator.leave(body.groupId, memberId);
        return ErrorCode.NONE;
      } catch (e) {
        return groupErrorCode(e, log, "LeaveGroup");
      }
    };
    if (req.apiVersion < 3) {
      const errorCode = leave(body.memberId);
      return req.conn.reply(req, (w) => encodeLeaveGroupResponse(w, req.apiVersion, { throttleTimeMs: 0, errorCode }));
    }
    const members = body.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode: leave(m.memberId) }));
    req.conn.reply(req, (w) => encodeLeaveGroupResponse(w, req.apiVersion, { throttleTimeMs: 0, errorCode: ErrorCode.NONE, members }));
  };
}
