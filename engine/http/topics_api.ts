// Topic routes of the console API: a topic's partitions and configuration,
// and the admin operations the CLI's `sluice topics` has (create, delete, add
// partitions, change configs). They call the same engine methods the native
// protocol's admin handlers call, so a bad name, count or config value is
// refused with the same message that names it (a 400 here).

import type { Engine, PartitionDescription, TopicDescription } from "../engine.ts";
import { ApiError, badRequest } from "./api_errors.ts";
import { intField, stringField, stringMapField } from "./api_params.ts";
import { CONFIG_ENTRIES_MAX, QUERY_VALUE_LENGTH_MAX } from "./console_limits.ts";
import { PARTITIONS_PER_TOPIC_MAX, TOPIC_NAME_LENGTH_MAX } from "../../protocol/limits.ts";
import { ErrorCode } from "../../protocol/errors.ts";

/**
 * A partition taking more than this multiple of its topic's mean inflow is
 * hot: the same rule `sluice topics describe` marks with "<- hot".
 */
export const HOT_PARTITION_FACTOR = 2;

export interface PartitionView extends PartitionDescription {
  /** This partition's part of the topic's messages in per second (0..1; 0 when the topic is idle). */
  share: number;
  hot: boolean;
}

export interface TopicView {
  name: string;
  partitions: PartitionView[];
  configs: Record<string, string>;
  bytes: number;
  messages: number;
  messagesInPerSec: number;
  bytesInPerSec: number;
}

export function topicView(d: TopicDescription): TopicView {
  let rate = 0;
  let bytesRate = 0;
  let bytes = 0;
  let messages = 0;
  for (const p of d.partitions) {
    rate += p.messagesInPerSec;
    bytesRate += p.bytesInPerSec;
    bytes += p.bytes;
    messages += Math.max(0, p.highWatermark - p.logStartOffset);
  }
  const mean = d.partitions.length > 0 ? rate / d.partitions.length : 0;
  const partitions = d.partitions.map((p) => ({
    ...p,
    share: rate > 0 ? p.messagesInPerSec / rate : 0,
    hot: d.partitions.length > 1 && rate > 0 && p.messagesInPerSec > HOT_PARTITION_FACTOR * mean,
  }));
  return { name: d.name, partitions, configs: d.configs, bytes, messages, messagesInPerSec: rate, bytesInPerSec: bytesRate };
}

export function describeTopic(engine: Engine, name: string): TopicView {
  const [d] = engine.describeTopics([name]);
  if (d.errorCode !== ErrorCode.NONE) throw new ApiError(404, "UNKNOWN_TOPIC_OR_PARTITION", d.message ?? `topic '${name}' does not exist`);
  return topicView(d);
}

/** POST /api/v1/topics  { name, partitions?, configs? } */
export async function createTopic(engine: Engine, body: Record<string, unknown>): Promise<TopicView> {
  const name = stringField(body, "name", TOPIC_NAME_LENGTH_MAX + 1);
  const partitions = intField(body, "partitions", 1, PARTITIONS_PER_TOPIC_MAX, -1);
  const configs = stringMapField(body, "configs", CONFIG_ENTRIES_MAX);
  await engine.createTopic(name, { partitions, configs });
  return describeTopic(engine, name);
}

/** DELETE /api/v1/topics/{topic}?confirm={topic}: the name repeated, so a stray request deletes nothing. */
export async function deleteTopic(engine: Engine, name: string, confirm: string | undefined): Promise<{ deleted: string }> {
  if (confirm !== name) throw badRequest(`confirm: repeat the topic's name (confirm=${name}) to delete it`);
  await engine.deleteTopic(name);
  return { deleted: name };
}

/** POST /api/v1/topics/{topic}/partitions  { count }: the new total. */
export async function addPartitions(engine: Engine, name: string, body: Record<string, unknown>): Promise<TopicView> {
  const count = intField(body, "count", 1, PARTITIONS_PER_TOPIC_MAX);
  await engine.createPartitions(name, count);
  return describeTopic(engine, name);
}

/** PATCH /api/v1/topics/{topic}/config  { set?: {KEY: value}, delete?: [KEY] } */
export async function alterConfig(engine: Engine, name: string, body: Record<string, unknown>): Promise<TopicView> {
  const set = stringMapField(body, "set", CONFIG_ENTRIES_MAX);
  const raw = body.delete ?? [];
  if (!Array.isArray(raw) || raw.length > CONFIG_ENTRIES_MAX || raw.some((k) => typeof k !== "string" || k.length > QUERY_VALUE_LENGTH_MAX)) {
    throw badRequest(`delete: expected a list of at most ${CONFIG_ENTRIES_MAX} config names`);
  }
  if (Object.keys(set).length === 0 && raw.length === 0) throw badRequest("set: give at least one config to set or delete");
  await engine.alterTopicConfig(name, set, raw as string[]);
  return describeTopic(engine, name);
}
