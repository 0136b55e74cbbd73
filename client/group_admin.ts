// Group administration over the group APIs: list, describe (with lag), fetch
// committed offsets, reset the offsets of an empty group. Used by
// `sluice groups`; works on any GroupRpc (client/group_transport.ts).

import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import {
  DescribeGroupsResponseSchema,
  type GroupDescription,
  GroupApiKey,
  type GroupState,
  ListGroupsResponseSchema,
  OffsetFetchResponseSchema,
  parseGroupMessage,
  ResetGroupOffsetsResponseSchema,
  type ResetGroupOffsetsResponse,
} from "../protocol/messages/groups.ts";
import type { GroupRpc } from "./group_membership.ts";

const ADMIN_TIMEOUT_MS = 30_000;

export class GroupAdmin {
  constructor(private readonly rpc: GroupRpc) {}

  async listGroups(states?: GroupState[]): Promise<Array<{ groupId: string; state: GroupState; members: number }>> {
    const res = parseGroupMessage(ListGroupsResponseSchema, await this.rpc.call(GroupApiKey.ListGroups, { states }, ADMIN_TIMEOUT_MS));
    return res.groups;
  }

  /** Descriptions in the order asked; a group the broker does not know has errorCode GROUP_ID_NOT_FOUND. */
  async describeGroups(groupIds: string[]): Promise<GroupDescription[]> {
    const res = parseGroupMessage(DescribeGroupsResponseSchema, await this.rpc.call(GroupApiKey.DescribeGroups, { groupIds }, ADMIN_TIMEOUT_MS));
    return res.groups;
  }

  /** Throws GROUP_ID_NOT_FOUND for a group without members or offsets. */
  async describeGroup(groupId: string): Promise<GroupDescription> {
    const [d] = await this.describeGroups([groupId]);
    if (d === undefined || d.errorCode !== ErrorCode.NONE) throw new SluiceError(d?.errorCode ?? ErrorCode.GROUP_ID_NOT_FOUND, `group ${groupId} does not exist`);
    return d;
  }

  /** Committed offsets: topic → partition → offset (−1 where none). */
  async committedOffsets(groupId: string, topics: Array<{ name: string; partitions?: number[] }> | null = null): Promise<Map<string, Map<number, number>>> {
    const res = parseGroupMessage(OffsetFetchResponseSchema, await this.rpc.call(GroupApiKey.OffsetFetch, { groupId, topics }, ADMIN_TIMEOUT_MS));
    return new Map(res.topics.map((t) => [t.name, new Map(t.partitions.map((p) => [p.partition, p.offset]))]));
  }

  /** Moves an empty group's offsets of one topic; NON_EMPTY_GROUP while it has members. */
  async resetOffsets(groupId: string, topic: string, to: "earliest" | "latest" | number, partitions?: number[]): Promise<ResetGroupOffsetsResponse> {
    return parseGroupMessage(
      ResetGroupOffsetsResponseSchema,
      await this.rpc.call(GroupApiKey.ResetGroupOffsets, { groupId, topic, to, partitions }, ADMIN_TIMEOUT_MS),
    );
  }
}
