// DescribeGroups (15), versions 0–5: state, protocol type, the chosen
// protocol and each member with the metadata it offered and the assignment
// its leader gave it (Kafka groups; a native group's members show empty
// bytes: its assignment is the coordinator's, `sluice groups describe` shows
// it). A group the broker does not know is "Dead", as Kafka answers; one
// it does not coordinate (a cluster) carries NOT_COORDINATOR.

import { ErrorCode } from "../../protocol/errors.ts";
import { decodeDescribeGroupsRequest, encodeDescribeGroupsResponse } from "../../protocol/kafka/messages/describe_groups.ts";
import type { GroupCoordinator } from "../groups/coordinator.ts";
import type { KafkaHandler } from "./kafka_request.ts";

const EMPTY = new Uint8Array(0);

export function describeGroupsHandler(coordinator: GroupCoordinator): KafkaHandler {
  return (req) => {
    const body = decodeDescribeGroupsRequest(req.reader, req.apiVersion);
    const groups = coordinator.describeGroups(body.groups).groups.map((d) => {
      const g = coordinator.membership(d.groupId);
      const known = d.errorCode === ErrorCode.NONE;
      // A group this broker does not coordinate (cluster mode) answers NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS: the client finds the coordinator.
      const notHere = d.errorCode !== ErrorCode.NONE && d.errorCode !== ErrorCode.GROUP_ID_NOT_FOUND;
      return {
        errorCode: notHere ? d.errorCode : ErrorCode.NONE,
        groupId: d.groupId,
        groupState: known ? d.state : "Dead",
        protocolType: g?.protocolType ?? "",
        protocolData: d.assignor,
        members: d.members.map((m) => {
          const member = g?.members.get(m.memberId);
          return {
            memberId: m.memberId,
            clientId: m.clientId,
            clientHost: "",
            memberMetadata: member?.protocols?.find((p) => p.name === d.assignor)?.metadata ?? EMPTY,
            memberAssignment: member?.assignmentBytes ?? EMPTY,
          };
        }),
      };
    });
    req.conn.reply(req, (w) => encodeDescribeGroupsResponse(w, req.apiVersion, { throttleTimeMs: 0, groups }));
  };
}
