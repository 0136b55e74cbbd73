// The console's view of consumer groups: the group coordinator plugin's own
// control handlers (ListGroups, DescribeGroups, ResetGroupOffsets), called in
// process. Going through the handlers rather than the coordinator object keeps
// the console to the plugin's public contract, and gives the console exactly
// the checks and refusals the CLI gets over the wire (reset-offsets refused
// with NON_EMPTY_GROUP while the group has members). A broker without the
// plugin has no groups: `available` is false.

import { SluiceError, ErrorCode } from "../../protocol/errors.ts";
import {
  type DescribeGroupsResponse,
  type GroupDescription,
  GroupApiKey,
  type ListGroupsResponse,
  type ResetGroupOffsetsRequest,
  type ResetGroupOffsetsResponse,
} from "../../protocol/messages/groups.ts";
import type { Dispatcher, RequestContext } from "../native/dispatch.ts";

export class GroupsSource {
  readonly #dispatcher: Dispatcher;

  constructor(dispatcher: Dispatcher) {
    this.#dispatcher = dispatcher;
  }

  get available(): boolean {
    return this.#dispatcher.controlHandler(GroupApiKey.ListGroups) !== undefined;
  }

  async list(): Promise<ListGroupsResponse["groups"]> {
    return ((await this.#call(GroupApiKey.ListGroups, {})) as ListGroupsResponse).groups;
  }

  async describe(groupIds: string[]): Promise<GroupDescription[]> {
    if (groupIds.length === 0) return [];
    return ((await this.#call(GroupApiKey.DescribeGroups, { groupIds })) as DescribeGroupsResponse).groups;
  }

  async resetOffsets(req: ResetGroupOffsetsRequest): Promise<ResetGroupOffsetsResponse> {
    return (await this.#call(GroupApiKey.ResetGroupOffsets, req)) as ResetGroupOffsetsResponse;
  }

  async #call(apiKey: number, body: unknown): Promise<unknown> {
    const handler = this.#dispatcher.controlHandler(apiKey);
    if (handler === undefined) throw new SluiceError(ErrorCode.COORDINATOR_NOT_AVAILABLE, "this broker runs no group coordinator");
    return handler(body, consoleContext(apiKey));
  }
}

/** The console's requests come from no connection: nothing is tied to one closing. */
function consoleContext(apiKey: number): RequestContext {
  return { connectionId: 0, remoteAddress: "console", apiKey, apiVersion: 0, correlationId: 0, onConnectionClose() {} };
}

/** Total lag of a group: the sum of its partitions' known lags. */
export function totalLag(d: GroupDescription): number {
  let lag = 0;
  for (const o of d.offsets) if (o.lag > 0) lag += o.lag;
  return lag;
}
