// Group administration over the group APIs: list, describe (with lag), fetch
// committed offsets, reset the offsets of an empty group. Used by
// `sluice groups`.
//
//   const admin = new GroupAdmin({ broker: "127.0.0.1:9900" });   // like Admin
//   const d = await admin.describeGroup("billing");
//   await admin.close();
//
// It opens a connection of its own on first use (client/group_transport.ts).
// Given a GroupRpc instead of options (the older form, still accepted) it uses
// that channel and leaves closing it to its owner.

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
import { ClientClosedError } from "./errors.ts";
import type { GroupRpc } from "./group_membership.ts";
import { CoordinatorRpc } from "./coordinator_rpc.ts";
import { type ClosableGroupRpc, connectGroupRpc } from "./group_transport.ts";
import { GROUP_ADMIN_TIMEOUT_MS } from "./client_limits.ts";
import { type ClientOptions, clientConfig } from "./options.ts";

/** The options every client takes (`broker`, `clientId`, timeouts, …). */
export interface GroupAdminOptions extends ClientOptions {
  /** A group API channel to use instead of a connection of its own (not closed by close()). */
  readonly rpc?: GroupRpc;
}

function isGroupRpc(x: GroupAdminOptions | GroupRpc): x is GroupRpc {
  return typeof (x as GroupRpc).call === "function";
}

export class GroupAdmin {
  private rpc: GroupRpc | undefined;
  private readonly options: ClientOptions;
  private connecting: Promise<ClosableGroupRpc> | undefined;
  private closed = false;

  constructor(options: GroupAdminOptions | GroupRpc = {}) {
    if (isGroupRpc(options)) {
      this.rpc = options;
      this.options = {};
    } else {
      clientConfig(options); // bad options fail here, not at the first call
      this.rpc = options.rpc;
      this.options = options;
    }
  }

  /** Every group, by id: in a cluster each broker lists the groups it coordinates, so every broker is asked. */
  async listGroups(states?: GroupState[]): Promise<Array<{ groupId: string; state: GroupState; members: number }>> {
    const rpc = await this.channel();
    if (!(rpc instanceof CoordinatorRpc)) return parseGroupMessage(ListGroupsResponseSchema, await rpc.call(GroupApiKey.ListGroups, { states }, GROUP_ADMIN_TIMEOUT_MS)).groups;
    const answers = await rpc.callEveryBroker(GroupApiKey.ListGroups, { states }, GROUP_ADMIN_TIMEOUT_MS);
    const byId = new Map<string, { groupId: string; state: GroupState; members: number }>();
    for (const a of answers) for (const g of parseGroupMessage(ListGroupsResponseSchema, a).groups) byId.set(g.groupId, g);
    return [...byId.values()].sort((x, y) => (x.groupId < y.groupId ? -1 : x.groupId > y.groupId ? 1 : 0));
  }

  /** Descriptions in the order asked; a group the broker does not know has errorCode GROUP_ID_NOT_FOUND. */
  async describeGroups(groupIds: string[]): Promise<GroupDescription[]> {
    const res = parseGroupMessage(DescribeGroupsResponseSchema, await this.call(GroupApiKey.DescribeGroups, { groupIds }));
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
    const res = parseGroupMessage(OffsetFetchResponseSchema, await this.call(GroupApiKey.OffsetFetch, { groupId, topics }));
    return new Map(res.topics.map((t) => [t.name, new Map(t.partitions.map((p) => [p.partition, p.offset]))]));
  }

  /** Moves an empty group's offsets of one topic; NON_EMPTY_GROUP while it has members. */
  async resetOffsets(groupId: string, topic: string, to: "earliest" | "latest" | number, partitions?: number[]): Promise<ResetGroupOffsetsResponse> {
    return parseGroupMessage(ResetGroupOffsetsResponseSchema, await this.call(GroupApiKey.ResetGroupOffsets, { groupId, topic, to, partitions }));
  }

  /** Closes the connection it opened (a channel it was given stays open). */
  async close(): Promise<void> {
    this.closed = true;
    const own = this.connecting;
    this.connecting = undefined;
    if (own !== undefined) await (await own.catch(() => undefined))?.close();
  }

  private async call(apiKey: number, body: unknown): Promise<unknown> {
    return (await this.channel()).call(apiKey, body, GROUP_ADMIN_TIMEOUT_MS);
  }

  /** The channel given, or the one of its own (connected on first use). */
  private async channel(): Promise<GroupRpc> {
    if (this.closed) throw new ClientClosedError("group admin");
    if (this.rpc !== undefined) return this.rpc;
    this.connecting ??= connectGroupRpc(this.options);
    const connecting = this.connecting;
    try {
      return await connecting;
    } catch (e) {
      if (this.connecting === connecting) this.connecting = undefined; // the next call tries again
      throw e;
    }
  }
}
