// Consumer-group APIs: request and response bodies (MessagePack), their
// schemas and types. Shared by the broker's coordinator (engine/groups) and
// the client's GroupConsumer / Admin.
//
// Grammar (every body is one MessagePack map; a response body follows
// ErrorCode:i16, and only when that code is 0):
//
//   JoinGroup (11)   req  { groupId, memberId, clientId?, topics: [string], sessionTimeoutMs,
//                           rebalanceTimeoutMs, assignors: [string] }
//                    resp { generationId, memberId, leaderId, assignor, members: [{ memberId, topics }] }
//   SyncGroup (14)   req  { groupId, generationId, memberId }
//                    resp { assignment: [{ topic, partitions: [int] }] }
//   Heartbeat (12)   req  { groupId, generationId, memberId }                 resp {}
//   LeaveGroup (13)  req  { groupId, memberId }                               resp {}
//   OffsetCommit (8) req  { groupId, generationId, memberId,
//                           topics: [{ name, partitions: [{ partition, offset, metadata? }] }] }
//                    resp { topics: [{ name, partitions: [{ partition, errorCode }] }] }
//   OffsetFetch (9)  req  { groupId, topics: [{ name, partitions?: [int] }] | null }
//                    resp { topics: [{ name, partitions: [{ partition, offset, metadata, errorCode }] }] }
//   ListGroups (16)  req  { states?: [string] }
//                    resp { groups: [{ groupId, state, members }] }
//   DescribeGroups (15) req { groupIds: [string] }
//                    resp { groups: [GroupDescription] }
//   FindCoordinator (10) req { groupId }
//                    resp { nodeId, host, port }      (the broker that coordinates the group; in a
//                                                      cluster the leader of its __consumer_offsets partition)
//   ResetGroupOffsets (1001) req { groupId, topic, to: "earliest" | "latest" | int, partitions?: [int] }
//                    resp { topic, partitions: [{ partition, errorCode, offset }] }
//
// Offsets are plain MessagePack integers (below 2^53, see docs/PROTOCOL.md).

import { decode, encode } from "@msgpack/msgpack";
import { z } from "zod";
import { ErrorCode, SluiceError } from "../errors.ts";
import {
  ARRAY_LENGTH_MAX,
  GROUP_ASSIGNORS_MAX,
  GROUP_ID_BYTES_MAX,
  GROUP_REBALANCE_TIMEOUT_MS_MAX,
  GROUP_SUBSCRIBED_TOPICS_MAX,
  OFFSET_COMMIT_METADATA_BYTES_MAX,
  OFFSET_COMMIT_PARTITIONS_MAX,
  PARTITIONS_PER_TOPIC_MAX,
  STRING_BYTES_MAX,
  TOPIC_NAME_LENGTH_MAX,
} from "../limits.ts";
import { utf8Length } from "../utf8.ts";

export const GroupApiKey = {
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  LeaveGroup: 13,
  SyncGroup: 14,
  DescribeGroups: 15,
  ListGroups: 16,
  ResetGroupOffsets: 1001,
} as const;

/** A group's state as the coordinator reports it (see engine/groups/group.ts for the transitions). */
export const GroupState = {
  Empty: "Empty",
  PreparingRebalance: "PreparingRebalance",
  CompletingRebalance: "CompletingRebalance",
  Stable: "Stable",
} as const;
export type GroupState = (typeof GroupState)[keyof typeof GroupState];

/** The generation a member outside any generation (a standalone commit) sends. */
export const NO_GENERATION = -1;
/** The member id of a member joining for the first time. */
export const NO_MEMBER_ID = "";
/** The offset OffsetFetch reports for a partition without a committed offset. */
export const NO_OFFSET = -1;

const int = z.number().int();
const offset = int.min(0).max(Number.MAX_SAFE_INTEGER);
const partitionIndex = int.min(0).max(PARTITIONS_PER_TOPIC_MAX - 1);
const boundedString = (bytesMax: number) =>
  z.string().refine((s) => utf8Length(s) <= bytesMax, { message: `longer than ${bytesMax} bytes` });
const groupId = boundedString(GROUP_ID_BYTES_MAX).refine((s) => s.length > 0, { message: "empty group id" });
const memberId = boundedString(STRING_BYTES_MAX);
const topicName = z.string().min(1).max(TOPIC_NAME_LENGTH_MAX);
const generationId = int.min(NO_GENERATION).max(0x7fffffff);
const array = <T extends z.ZodType>(item: T, max = ARRAY_LENGTH_MAX) => z.array(item).max(max);

export const TopicPartitionsSchema = z.object({ topic: topicName, partitions: array(partitionIndex, PARTITIONS_PER_TOPIC_MAX) });
export type TopicPartitions = z.infer<typeof TopicPartitionsSchema>;

// ---- JoinGroup ----
export const JoinGroupRequestSchema = z.object({
  groupId,
  memberId,
  clientId: boundedString(STRING_BYTES_MAX).optional(),
  topics: array(topicName, GROUP_SUBSCRIBED_TOPICS_MAX).min(1),
  sessionTimeoutMs: int,
  rebalanceTimeoutMs: int.min(0).max(GROUP_REBALANCE_TIMEOUT_MS_MAX),
  assignors: array(z.string().min(1).max(64), GROUP_ASSIGNORS_MAX).min(1),
});
export type JoinGroupRequest = z.infer<typeof JoinGroupRequestSchema>;

export const JoinGroupResponseSchema = z.object({
  generationId,
  memberId,
  leaderId: memberId,
  assignor: z.string(),
  members: array(z.object({ memberId, topics: array(topicName) })),
});
export type JoinGroupResponse = z.infer<typeof JoinGroupResponseSchema>;

// ---- SyncGroup ----
export const SyncGroupRequestSchema = z.object({ groupId, generationId, memberId });
export type SyncGroupRequest = z.infer<typeof SyncGroupRequestSchema>;
export const SyncGroupResponseSchema = z.object({ assignment: array(TopicPartitionsSchema) });
export type SyncGroupResponse = z.infer<typeof SyncGroupResponseSchema>;

// ---- Heartbeat / LeaveGroup ----
export const HeartbeatRequestSchema = z.object({ groupId, generationId, memberId });
export type HeartbeatRequest = z.infer<typeof HeartbeatRequestSchema>;
export const LeaveGroupRequestSchema = z.object({ groupId, memberId });
export type LeaveGroupRequest = z.infer<typeof LeaveGroupRequestSchema>;
export const EmptyResponseSchema = z.object({});

// ---- OffsetCommit ----
export const OffsetCommitRequestSchema = z.object({
  groupId,
  generationId,
  memberId,
  topics: array(
    z.object({
      name: topicName,
      partitions: array(
        z.object({
          partition: partitionIndex,
          // Range (negative, beyond the high watermark) is checked per partition by the coordinator.
          offset: int.min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER),
          metadata: z.string().nullable().optional(),
        }),
        OFFSET_COMMIT_PARTITIONS_MAX,
      ),
    }),
    OFFSET_COMMIT_PARTITIONS_MAX,
  ),
});
export type OffsetCommitRequest = z.infer<typeof OffsetCommitRequestSchema>;

export const PartitionErrorSchema = z.object({ partition: partitionIndex, errorCode: int });
export const OffsetCommitResponseSchema = z.object({
  topics: array(z.object({ name: topicName, partitions: array(PartitionErrorSchema) })),
});
export type OffsetCommitResponse = z.infer<typeof OffsetCommitResponseSchema>;

// ---- OffsetFetch ----
export const OffsetFetchRequestSchema = z.object({
  groupId,
  topics: array(z.object({ name: topicName, partitions: array(partitionIndex, PARTITIONS_PER_TOPIC_MAX).optional() })).nullable(),
});
export type OffsetFetchRequest = z.infer<typeof OffsetFetchRequestSchema>;

export const CommittedOffsetSchema = z.object({
  partition: partitionIndex,
  offset: int.min(NO_OFFSET),
  metadata: z.string(),
  errorCode: int,
});
export type CommittedOffset = z.infer<typeof CommittedOffsetSchema>;
export const OffsetFetchResponseSchema = z.object({
  topics: array(z.object({ name: topicName, partitions: array(CommittedOffsetSchema) })),
});
export type OffsetFetchResponse = z.infer<typeof OffsetFetchResponseSchema>;

// ---- ListGroups ----
const groupState = z.enum([GroupState.Empty, GroupState.PreparingRebalance, GroupState.CompletingRebalance, GroupState.Stable]);
export const FindCoordinatorRequestSchema = z.object({ groupId });
export type FindCoordinatorRequest = z.infer<typeof FindCoordinatorRequestSchema>;
export const FindCoordinatorResponseSchema = z.object({ nodeId: int, host: boundedString(STRING_BYTES_MAX), port: int.min(0).max(65_535) });
export type FindCoordinatorResponse = z.infer<typeof FindCoordinatorResponseSchema>;

export const ListGroupsRequestSchema = z.object({ states: array(groupState, 8).optional() });
export type ListGroupsRequest = z.infer<typeof ListGroupsRequestSchema>;
export const ListGroupsResponseSchema = z.object({
  groups: array(z.object({ groupId, state: groupState, members: int.min(0) })),
});
export type ListGroupsResponse = z.infer<typeof ListGroupsResponseSchema>;

// ---- DescribeGroups ----
export const DescribeGroupsRequestSchema = z.object({ groupIds: array(groupId, 1_000) });
export type DescribeGroupsRequest = z.infer<typeof DescribeGroupsRequestSchema>;

export const MemberDescriptionSchema = z.object({
  memberId,
  clientId: z.string(),
  topics: array(topicName),
  assignment: array(TopicPartitionsSchema),
  sessionTimeoutMs: int,
  rebalanceTimeoutMs: int,
  /** Milliseconds since the coordinator last heard from the member. */
  lastSeenAgoMs: int.min(0),
});
export type MemberDescription = z.infer<typeof MemberDescriptionSchema>;

export const PartitionLagSchema = z.object({
  topic: topicName,
  partition: partitionIndex,
  /** The committed offset, or −1 when the group has none for the partition. */
  committedOffset: int.min(NO_OFFSET),
  /** −1 when the partition no longer exists. */
  highWatermark: int.min(-1),
  /** highWatermark − committedOffset (the whole partition from its log start when nothing is committed); −1 when unknown. */
  lag: int.min(-1),
  metadata: z.string(),
  /** The member the partition is assigned to in the current generation, "" when none. */
  memberId: z.string(),
});
export type PartitionLag = z.infer<typeof PartitionLagSchema>;

export const GroupDescriptionSchema = z.object({
  groupId,
  errorCode: int,
  state: groupState,
  generationId,
  assignor: z.string(),
  leaderId: z.string(),
  members: array(MemberDescriptionSchema),
  offsets: array(PartitionLagSchema),
});
export type GroupDescription = z.infer<typeof GroupDescriptionSchema>;
export const DescribeGroupsResponseSchema = z.object({ groups: array(GroupDescriptionSchema) });
export type DescribeGroupsResponse = z.infer<typeof DescribeGroupsResponseSchema>;

// ---- ResetGroupOffsets ----
export const ResetGroupOffsetsRequestSchema = z.object({
  groupId,
  topic: topicName,
  to: z.union([z.literal("earliest"), z.literal("latest"), offset]),
  partitions: array(partitionIndex, PARTITIONS_PER_TOPIC_MAX).optional(),
});
export type ResetGroupOffsetsRequest = z.infer<typeof ResetGroupOffsetsRequestSchema>;
export const ResetGroupOffsetsResponseSchema = z.object({
  topic: topicName,
  partitions: array(z.object({ partition: partitionIndex, errorCode: int, offset: int.min(NO_OFFSET) })),
});
export type ResetGroupOffsetsResponse = z.infer<typeof ResetGroupOffsetsResponseSchema>;

// ---- helpers ----

/**
 * Checks a decoded MessagePack value against a schema. Anything that does not
 * fit is INVALID_REQUEST naming the first bad field (INVALID_GROUP_ID for the
 * group id); nothing of it is used.
 */
export function parseGroupMessage<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.length ? issue.path.join(".") : "body";
    // A bad group id has its own code (Kafka's), so a client can tell it from a malformed request.
    const code = where === "groupId" || where.startsWith("groupIds") ? ErrorCode.INVALID_GROUP_ID : ErrorCode.INVALID_REQUEST;
    throw new SluiceError(code, `invalid ${where}: ${issue?.message ?? "malformed"}`);
  }
  return result.data;
}

/** Decodes one MessagePack body and checks it against a schema. */
export function decodeGroupMessage<T extends z.ZodType>(schema: T, bytes: Uint8Array): z.infer<T> {
  let value: unknown;
  try {
    value = decode(bytes);
  } catch (cause) {
    throw new SluiceError(ErrorCode.INVALID_REQUEST, "body is not one MessagePack value", { cause });
  }
  return parseGroupMessage(schema, value);
}

export function encodeGroupMessage(value: unknown): Uint8Array {
  return encode(value, { ignoreUndefined: true });
}
