// JoinGroup (11), versions 0–7, over the protocol-neutral coordinator
// (engine/groups): a Kafka group's leader assigns (the classic protocol), so
// the coordinator only forms generations — it picks a protocol every member
// offers and hands the leader every member's metadata, untouched. The
// answer waits for the rebalance (the member's connection closing abandons
// it: the member leaves at once instead of holding the rebalance up).
//
// A new member (empty member id) is admitted at once with the id the
// coordinator gives it, at every version (no MEMBER_ID_REQUIRED round trip:
// clients of v4+ accept either). Static membership (group instance ids) is
// not supported: the id is ignored. rebalance_timeout_ms (v1+) is bounded by
// GROUP_REBALANCE_TIMEOUT_MS_MAX; v0 uses the session timeout.

import { ErrorCode } from "../../protocol/errors.ts";
import { decodeJoinGroupRequest, encodeJoinGroupResponse, type JoinGroupResponseInput } from "../../protocol/kafka/messages/join_group.ts";
import { GROUP_ID_BYTES_MAX, GROUP_REBALANCE_TIMEOUT_MS_MAX } from "../../protocol/limits.ts";
import { utf8Length } from "../../protocol/utf8.ts";
import type { GroupCoordinator } from "../groups/coordinator.ts";
import { subscriptionTopics } from "./consumer_protocol.ts";
import { groupErrorCode } from "./group_errors.ts";
import type { KafkaConnection } from "./kafka_connection.ts";
import type { KafkaHandler } from "./kafka_request.ts";

/** Joins parked per connection, abandoned when it closes: one close hook per connection, not one per join. */
const parkedByConnection = new WeakMap<KafkaConnection, Set<() => void>>();

function trackParked(conn: KafkaConnection, abandon: () => void): () => void {
  let set = parkedByConnection.get(conn);
  if (set === undefined) {
    const s = (set = new Set());
    parkedByConnection.set(conn, s);
    conn.onClose(() => {
      parkedByConnection.delete(conn);
      for (const a of [...s]) a();
    });
  }
  set.add(abandon);
  return () => void set.delete(abandon);
}

export function joinGroupHandler(coordinator: GroupCoordinator): KafkaHandler {
  return (req) => {
    const body = decodeJoinGroupRequest(req.reader, req.apiVersion);
    const { conn, apiVersion } = req;
    const answer = (value: JoinGroupResponseInput): void => conn.reply(req, (w) => encodeJoinGroupResponse(w, apiVersion, { throttleTimeMs: 0, ...value }));
    const fail = (errorCode: number): void =>
      answer({ errorCode, generationId: -1, protocolName: apiVersion >= 7 ? null : "", leader: "", memberId: body.memberId, members: [] });
    if (body.groupId.length === 0 || utf8Length(body.groupId) > GROUP_ID_BYTES_MAX) return fail(ErrorCode.INVALID_GROUP_ID);
    const rebalanceTimeoutMs = Math.min(body.rebalanceTimeoutMs < 0 ? body.sessionTimeoutMs : body.rebalanceTimeoutMs, GROUP_REBALANCE_TIMEOUT_MS_MAX);
    const protocols = body.protocols.map((p) => ({ name: p.name, metadata: p.metadata.slice() }));
    let untrack = (): void => {};
    let joined;
    try {
      joined = coordinator.joinLeaderAssigned(
        {
          groupId: body.groupId,
          memberId: body.memberId,
          clientId: req.clientId ?? "",
          sessionTimeoutMs: body.sessionTimeoutMs,
          rebalanceTimeoutMs,
          protocolType: body.protocolType,
          protocols,
          topics: protocols.length > 0 ? (subscriptionTopics(protocols[0].metadata) ?? []) : [],
        },
        (abandon) => {
          untrack = trackParked(conn, abandon);
        },
      );
    } catch (e) {
      return fail(groupErrorCode(e, conn.host.log.bind(conn.host), "JoinGroup"));
    }
    joined.then(
      (r) => {
        untrack();
        answer({
          errorCode: ErrorCode.NONE,
          generationId: r.generationId,
          protocolType: body.protocolType,
          protocolName: r.assignor,
          leader: r.leaderId,
          memberId: r.memberId,
          members: (r.memberMetadata ?? []).map((m) => ({ memberId: m.memberId, metadata: m.metadata })),
        });
      },
      (e) => {
        untrack();
        fail(groupErrorCode(e, conn.host.log.bind(conn.host), "JoinGroup"));
      },
    );
  };
}
