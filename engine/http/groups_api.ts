// Group routes of the console API, over the coordinator's handlers
// (groups_source.ts): a group's state, generation, members and their
// assignment, committed offset and lag per partition, its lag history, and
// reset-offsets (refused with 409 NON_EMPTY_GROUP while the group has members,
// as `sluice groups reset-offsets` is).

import { ErrorCode } from "../../protocol/errors.ts";
import type { GroupDescription } from "../../protocol/messages/groups.ts";
import { badRequest, fromErrorCode } from "./api_errors.ts";
import { intField, stringField } from "./api_params.ts";
import { type GroupsSource, totalLag } from "./groups_source.ts";
import type { LiveSampler } from "./live_sampler.ts";
import { PARTITIONS_PER_TOPIC_MAX, TOPIC_NAME_LENGTH_MAX } from "../../protocol/limits.ts";

export interface GroupPage extends GroupDescription {
  lag: number;
  /** [seconds, total lag] columns, or null when the group is not among the sampled ones. */
  lagHistory: number[][] | null;
}

export async function describeGroup(groups: GroupsSource, sampler: LiveSampler, groupId: string): Promise<GroupPage> {
  const [d] = await groups.describe([groupId]);
  if (d.errorCode !== ErrorCode.NONE) throw fromErrorCode(d.errorCode, d.errorCode === ErrorCode.GROUP_ID_NOT_FOUND ? `group '${groupId}' does not exist` : undefined);
  return { ...d, lag: totalLag(d), lagHistory: sampler.lagHistory(groupId) };
}

/** POST /api/v1/groups/{group}/reset-offsets  { topic, to: "earliest" | "latest" | OFFSET, partitions?: [p] } */
export async function resetOffsets(groups: GroupsSource, groupId: string, body: Record<string, unknown>): Promise<unknown> {
  const topic = stringField(body, "topic", TOPIC_NAME_LENGTH_MAX + 1);
  let to: "earliest" | "latest" | number;
  if (body.to === "earliest" || body.to === "latest") to = body.to;
  else to = intField(body, "to", 0, Number.MAX_SAFE_INTEGER);
  let partitions: number[] | undefined;
  if (body.partitions !== undefined && body.partitions !== null) {
    if (!Array.isArray(body.partitions) || body.partitions.length > PARTITIONS_PER_TOPIC_MAX) throw badRequest("partitions: expected a list of partition numbers");
    partitions = body.partitions.map((p: unknown, i: number) => {
      if (typeof p !== "number" || !Number.isInteger(p) || p < 0 || p >= PARTITIONS_PER_TOPIC_MAX) throw badRequest(`partitions[${i}]: expected a partition number`);
      return p;
    });
  }
  return groups.resetOffsets({ groupId, topic, to, partitions });
}
