// ListGroups (16), versions 0–4: every group of the broker (native and Kafka
// ones, and groups that only have committed offsets), with its protocol type
// and (v4+) its state; v4 may filter by state.

import { ErrorCode } from "../../protocol/errors.ts";
import { decodeListGroupsRequest, encodeListGroupsResponse } from "../../protocol/kafka/messages/list_groups.ts";
import type { GroupState } from "../../protocol/messages/groups.ts";
import type { GroupCoordinator } from "../groups/coordinator.ts";
import type { KafkaHandler } from "./kafka_request.ts";

export function listGroupsHandler(coordinator: GroupCoordinator): KafkaHandler {
  return (req) => {
    const body = decodeListGroupsRequest(req.reader, req.apiVersion);
    const states = body.statesFilter.length > 0 ? (body.statesFilter as GroupState[]) : undefined;
    const groups = coordinator.listGroups({ states }).groups.map((g) => ({
      groupId: g.groupId,
      protocolType: coordinator.membership(g.groupId)?.protocolType ?? "",
      groupState: g.state,
    }));
    req.conn.reply(req, (w) => encodeListGroupsResponse(w, req.apiVersion, { throttleTimeMs: 0, errorCode: ErrorCode.NONE, groups }));
  };
}
