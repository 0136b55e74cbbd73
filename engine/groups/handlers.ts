// The group APIs as request handlers: check the decoded MessagePack body
// against its schema, call the coordinator, return the response body. Errors
// are thrown as SluiceError; the dispatcher turns the code into the response's
// ErrorCode (and a schema failure into INVALID_REQUEST).

import {
  DescribeGroupsRequestSchema,
  GroupApiKey,
  HeartbeatRequestSchema,
  JoinGroupRequestSchema,
  LeaveGroupRequestSchema,
  ListGroupsRequestSchema,
  OffsetCommitRequestSchema,
  OffsetFetchRequestSchema,
  parseGroupMessage,
  ResetGroupOffsetsRequestSchema,
  SyncGroupRequestSchema,
} from "../../protocol/messages/groups.ts";
import type { GroupCoordinator } from "./coordinator.ts";

/** What a handler needs of the request's connection (engine/native/dispatch.ts RequestContext). */
export interface GroupRequestContext {
  readonly connectionId: number;
  onConnectionClose(cb: () => void): void;
}

export type GroupHandler = (body: unknown, ctx: GroupRequestContext) => Promise<unknown>;

export function groupHandlers(coordinator: GroupCoordinator): Map<number, GroupHandler> {
  const c = coordinator;
  // Parked joins per connection, abandoned when it closes. One close hook per connection
  // (not per join), so a long-lived member rejoining many times does not pile up hooks.
  const parkedByConnection = new Map<number, Set<() => void>>();
  const join: GroupHandler = async (body, ctx) => {
    const req = parseGroupMessage(JoinGroupRequestSchema, body);
    let abandonThis: (() => void) | undefined;
    const response = c.join(req, (abandon) => {
      let parked = parkedByConnection.get(ctx.connectionId);
      if (parked === undefined) {
        const set = (parked = new Set());
        parkedByConnection.set(ctx.connectionId, set);
        ctx.onConnectionClose(() => {
          parkedByConnection.delete(ctx.connectionId);
          for (const a of [...set]) a();
        });
      }
      parked.add(abandon);
      abandonThis = abandon;
    });
    try {
      return await response;
    } finally {
      if (abandonThis !== undefined) parkedByConnection.get(ctx.connectionId)?.delete(abandonThis);
    }
  };
  return new Map<number, GroupHandler>([
    [GroupApiKey.JoinGroup, join],
    [
      GroupApiKey.SyncGroup,
      async (body) => {
        const r = parseGroupMessage(SyncGroupRequestSchema, body);
        return c.sync(r.groupId, r.memberId, r.generationId);
      },
    ],
    [
      GroupApiKey.Heartbeat,
      async (body) => {
        const r = parseGroupMessage(HeartbeatRequestSchema, body);
        return c.heartbeat(r.groupId, r.memberId, r.generationId);
      },
    ],
    [
      GroupApiKey.LeaveGroup,
      async (body) => {
        const r = parseGroupMessage(LeaveGroupRequestSchema, body);
        return c.leave(r.groupId, r.memberId);
      },
    ],
    [GroupApiKey.OffsetCommit, async (body) => c.commit(parseGroupMessage(OffsetCommitRequestSchema, body))],
    [GroupApiKey.OffsetFetch, async (body) => c.fetchOffsets(parseGroupMessage(OffsetFetchRequestSchema, body))],
    [GroupApiKey.ListGroups, async (body) => c.listGroups(parseGroupMessage(ListGroupsRequestSchema, body ?? {}))],
    [GroupApiKey.DescribeGroups, async (body) => c.describeGroups(parseGroupMessage(DescribeGroupsRequestSchema, body).groupIds)],
    [GroupApiKey.ResetGroupOffsets, async (body) => c.resetOffsets(parseGroupMessage(ResetGroupOffsetsRequestSchema, body))],
  ]);
}
