// Control APIs: bodies are one MessagePack value (docs/PROTOCOL.md). Requests
// are the whole body; a response is ErrorCode:i16 then the MessagePack value
// when the code is NONE (see response.ts).
//
//   ApiVersions (18)       req  { clientId? }
//                          resp { apis: [[key, minVersion, maxVersion]], broker: "sluice", version }
//   Metadata (3)           req  { topics: [string] | null, allowAutoCreate? }      (null = all topics)
//                          resp { brokers: [{ nodeId, host, port }], controllerId,
//                                 topics: [{ name, errorCode, internal, partitions: [{ partition, errorCode,
//                                 leader, leaderEpoch, logStartOffset, highWatermark }] }] }
//   ListOffsets (2)        req  { topics: [{ name, partitions: [{ partition, timestamp }] }] }
//                                 (timestamp -2 = earliest, -1 = latest, else first offset with ts ≥ it)
//                          resp { topics: [{ name, partitions: [{ partition, errorCode, timestamp, offset }] }] }
//   CreateTopics (19)      req  { topics: [{ name, partitions, configs? }], validateOnly? }  (partitions -1 = default)
//   DeleteTopics (20)      req  { topics: [string] }
//   AlterConfigs (33)      req  { topics: [{ name, set: {key: value}, delete?: [key] }] }
//   CreatePartitions (37)  req  { topics: [{ name, count }] }                        (count = new total)
//                          resp (all four) { topics: [{ name, errorCode, message? }] }
//   InitProducerId (22)    req  { transactionalId?: null, producerId?, producerEpoch? }  (-1/absent = a new producer)
//                          resp { producerId, producerEpoch }
//   ElectLeaders (43)      req  { topic?, partition? }                            (preferred leaders; absent topic = every topic)
//                          resp { partitions: [{ topic, partition, errorCode, reason, leader }], moved, notNeeded, notAvailable, omitted }
//   AlterPartitionReassignments (45), ListPartitionReassignments (46), DescribeCluster (60),
//   ProposeReassignment (1005), BalanceByLoad (1006): messages/reassignments.ts
//   DescribeTopics (1000)  req  { topics: [string] | null }
//                          resp { topics: [{ name, errorCode, configs, partitions: [{ partition, logStartOffset,
//                                 highWatermark, durableOffset, logEndOffset, segments, bytes, messagesIn,
//                                 bytesIn, messagesInPerSec, bytesInPerSec, worker, online }] }] }
//
// Integers are plain MessagePack numbers (offsets there are below 2^53).
// Decoding validates with zod; anything that does not fit is a SluiceError
// INVALID_REQUEST naming the first bad field. Topic names are only bounded
// here: their rules (pattern, length) are per-topic errors the broker reports.

import { decode, encode } from "@msgpack/msgpack";
import { z } from "zod";
import { ApiKey } from "../api_keys.ts";
import { Reader, Writer } from "../codec.ts";
import { ErrorCode, SluiceError } from "../errors.ts";
import { ARRAY_LENGTH_MAX, CONTROL_MSGPACK_LIMITS, STRING_BYTES_MAX } from "../limits.ts";
import {
  AlterPartitionReassignmentsRequestSchema,
  AlterPartitionReassignmentsResponseSchema,
  BalanceByLoadRequestSchema,
  BalanceByLoadResponseSchema,
  DescribeClusterRequestSchema,
  DescribeClusterResponseSchema,
  ListPartitionReassignmentsRequestSchema,
  ListPartitionReassignmentsResponseSchema,
  ProposeReassignmentRequestSchema,
  ProposeReassignmentResponseSchema,
} from "./reassignments.ts";
import { readResponseEnvelope, writeOkPrefix } from "./response.ts";

// ---------------------------------------------------------------- building blocks

const int = z.number().int();
const int32 = int.min(-0x80000000).max(0x7fffffff);
const count = int.min(0);
const offset = int; // safe integers (zod's int); -1 where "none"
const errorCode = int.min(-0x8000).max(0x7fff);
const name = z.string().max(STRING_BYTES_MAX);
const array = <T extends z.ZodType>(item: T) => z.array(item).max(ARRAY_LENGTH_MAX);
const configMap = z.record(z.string().max(STRING_BYTES_MAX), z.string().max(STRING_BYTES_MAX));

/** The per-topic result of CreateTopics, DeleteTopics, AlterConfigs and CreatePartitions. */
export const TopicResultSchema = z.object({ name, errorCode, message: z.string().nullish() });
export type TopicResult = z.infer<typeof TopicResultSchema>;
const TopicResultsResponseSchema = z.object({ topics: array(TopicResultSchema) });

// ---------------------------------------------------------------- ApiVersions

export const ApiVersionsRequestSchema = z.object({ clientId: name.optional() });
export type ApiVersionsRequest = z.infer<typeof ApiVersionsRequestSchema>;
export const ApiVersionsResponseSchema = z.object({
  apis: array(z.tuple([int, int, int])),
  broker: z.string(),
  version: z.string(),
});
export type ApiVersionsResponse = z.infer<typeof ApiVersionsResponseSchema>;

// ---------------------------------------------------------------- Metadata

export const MetadataRequestSchema = z.object({
  topics: array(name).nullable(),
  allowAutoCreate: z.boolean().optional(),
});
export type MetadataRequest = z.infer<typeof MetadataRequestSchema>;

/** kafkaPort: cluster mode, the broker's Kafka listener (null: none). */
export const BrokerSchema = z.object({ nodeId: int32, host: z.string(), port: int.min(0).max(65535), kafkaPort: int.min(0).max(65535).nullish() });
export type Broker = z.infer<typeof BrokerSchema>;
export const PartitionMetadataSchema = z.object({
  partition: int32,
  errorCode,
  leader: int32,
  leaderEpoch: int32,
  logStartOffset: offset,
  highWatermark: offset,
  /** Cluster mode: the partition's replicas and in-sync replicas (broker ids). */
  replicas: array(int32).optional(),
  isr: array(int32).optional(),
});
export type PartitionMetadata = z.infer<typeof PartitionMetadataSchema>;
export const TopicMetadataSchema = z.object({
  name,
  errorCode,
  internal: z.boolean(),
  partitions: array(PartitionMetadataSchema),
});
export type TopicMetadata = z.infer<typeof TopicMetadataSchema>;
export const MetadataResponseSchema = z.object({
  brokers: array(BrokerSchema),
  controllerId: int32,
  topics: array(TopicMetadataSchema),
});
export type MetadataResponse = z.infer<typeof MetadataResponseSchema>;

// ---------------------------------------------------------------- ListOffsets

/** Special ListOffsets timestamps. */
export const OffsetSpec = { EARLIEST: -2, LATEST: -1 } as const;

export const ListOffsetsRequestSchema = z.object({
  topics: array(z.object({ name, partitions: array(z.object({ partition: int32, timestamp: int })) })),
});
export type ListOffsetsRequest = z.infer<typeof ListOffsetsRequestSchema>;
export const ListOffsetsResponseSchema = z.object({
  topics: array(
    z.object({
      name,
      partitions: array(z.object({ partition: int32, errorCode, timestamp: int, offset })),
    }),
  ),
});
export type ListOffsetsResponse = z.infer<typeof ListOffsetsResponseSchema>;

// ---------------------------------------------------------------- CreateTopics

export const CreateTopicsRequestSchema = z.object({
  /** replicationFactor: cluster mode (absent or -1: the cluster's default); a single node accepts only 1. */
  topics: array(z.object({ name, partitions: int32, configs: configMap.optional(), replicationFactor: int32.optional() })),
  validateOnly: z.boolean().optional(),
});
export type CreateTopicsRequest = z.infer<typeof CreateTopicsRequestSchema>;
export const CreateTopicsResponseSchema = TopicResultsResponseSchema;
export type CreateTopicsResponse = z.infer<typeof CreateTopicsResponseSchema>;

// ---------------------------------------------------------------- DeleteTopics

export const DeleteTopicsRequestSchema = z.object({ topics: array(name) });
export type DeleteTopicsRequest = z.infer<typeof DeleteTopicsRequestSchema>;
export const DeleteTopicsResponseSchema = TopicResultsResponseSchema;
export type DeleteTopicsResponse = z.infer<typeof DeleteTopicsResponseSchema>;

// ---------------------------------------------------------------- AlterConfigs

export const AlterConfigsRequestSchema = z.object({
  topics: array(z.object({ name, set: configMap, delete: array(z.string().max(STRING_BYTES_MAX)).optional() })),
});
export type AlterConfigsRequest = z.infer<typeof AlterConfigsRequestSchema>;
export const AlterConfigsResponseSchema = TopicResultsResponseSchema;
export type AlterConfigsResponse = z.infer<typeof AlterConfigsResponseSchema>;

// ---------------------------------------------------------------- CreatePartitions

export const CreatePartitionsRequestSchema = z.object({ topics: array(z.object({ name, count: int32 })) });
export type CreatePartitionsRequest = z.infer<typeof CreatePartitionsRequestSchema>;
export const CreatePartitionsResponseSchema = TopicResultsResponseSchema;
export type CreatePartitionsResponse = z.infer<typeof CreatePartitionsResponseSchema>;

// ---------------------------------------------------------------- ElectLeaders

export const ElectLeadersRequestSchema = z.object({ topic: name.nullish(), partition: int32.min(0).nullish() });
export type ElectLeadersRequest = z.infer<typeof ElectLeadersRequestSchema>;
export const ElectLeadersResponseSchema = z.object({
  /** Per partition: NONE moved, ELECTION_NOT_NEEDED already leader, PREFERRED_LEADER_NOT_AVAILABLE with the reason. */
  partitions: array(z.object({ topic: name, partition: int32, errorCode, reason: z.string().max(STRING_BYTES_MAX), leader: int32 })),
  moved: count,
  notNeeded: count,
  notAvailable: count,
  /** Outcomes the answer left out to stay bounded. */
  omitted: count,
});
export type ElectLeadersResponse = z.infer<typeof ElectLeadersResponseSchema>;

// ---------------------------------------------------------------- DescribeTopics

export const DescribeTopicsRequestSchema = z.object({ topics: array(name).nullable() });
export type DescribeTopicsRequest = z.infer<typeof DescribeTopicsRequestSchema>;
export const PartitionDescriptionSchema = z.object({
  partition: int32,
  logStartOffset: offset,
  highWatermark: offset,
  durableOffset: offset,
  logEndOffset: offset,
  segments: count,
  bytes: count,
  messagesIn: count,
  bytesIn: count,
  messagesInPerSec: z.number().min(0),
  bytesInPerSec: z.number().min(0),
  worker: int,
  online: z.boolean(),
  /** Cluster mode: the partition's leader, leader epoch, replicas and ISR as etcd says. */
  leader: int32.optional(),
  leaderEpoch: int32.optional(),
  replicas: array(int32).optional(),
  isr: array(int32).optional(),
});
export type PartitionDescription = z.infer<typeof PartitionDescriptionSchema>;
export const TopicDescriptionSchema = z.object({
  name,
  errorCode,
  configs: configMap,
  partitions: array(PartitionDescriptionSchema),
});
export type TopicDescription = z.infer<typeof TopicDescriptionSchema>;
export const DescribeTopicsResponseSchema = z.object({ topics: array(TopicDescriptionSchema) });
export type DescribeTopicsResponse = z.infer<typeof DescribeTopicsResponseSchema>;

// ---------------------------------------------------------------- idempotent producers

/** A transactional id is accepted by the schema so the broker can refuse it by name (TRANSACTIONAL_ID_NOT_FOUND). */
export const InitProducerIdRequestSchema = z.object({
  transactionalId: z.string().max(STRING_BYTES_MAX).nullable().optional(),
  producerId: int.min(-1).max(Number.MAX_SAFE_INTEGER).optional(),
  producerEpoch: int.min(-1).max(0x7fff).optional(),
});
export type InitProducerIdRequest = z.infer<typeof InitProducerIdRequestSchema>;
export const InitProducerIdResponseSchema = z.object({
  producerId: int.min(0).max(Number.MAX_SAFE_INTEGER),
  producerEpoch: int.min(0).max(0x7fff),
});
export type InitProducerIdResponse = z.infer<typeof InitProducerIdResponseSchema>;

// ---------------------------------------------------------------- the table

/** Request and response schemas of every control api this file covers, by api key. */
export const ControlSchemas = {
  [ApiKey.ApiVersions]: { request: ApiVersionsRequestSchema, response: ApiVersionsResponseSchema },
  [ApiKey.Metadata]: { request: MetadataRequestSchema, response: MetadataResponseSchema },
  [ApiKey.ListOffsets]: { request: ListOffsetsRequestSchema, response: ListOffsetsResponseSchema },
  [ApiKey.CreateTopics]: { request: CreateTopicsRequestSchema, response: CreateTopicsResponseSchema },
  [ApiKey.DeleteTopics]: { request: DeleteTopicsRequestSchema, response: DeleteTopicsResponseSchema },
  [ApiKey.AlterConfigs]: { request: AlterConfigsRequestSchema, response: AlterConfigsResponseSchema },
  [ApiKey.CreatePartitions]: { request: CreatePartitionsRequestSchema, response: CreatePartitionsResponseSchema },
  [ApiKey.DescribeTopics]: { request: DescribeTopicsRequestSchema, response: DescribeTopicsResponseSchema },
  [ApiKey.ElectLeaders]: { request: ElectLeadersRequestSchema, response: ElectLeadersResponseSchema },
  [ApiKey.InitProducerId]: { request: InitProducerIdRequestSchema, response: InitProducerIdResponseSchema },
  // Partition placement in a cluster (reassignments.ts).
  [ApiKey.AlterPartitionReassignments]: { request: AlterPartitionReassignmentsRequestSchema, response: AlterPartitionReassignmentsResponseSchema },
  [ApiKey.ListPartitionReassignments]: { request: ListPartitionReassignmentsRequestSchema, response: ListPartitionReassignmentsResponseSchema },
  [ApiKey.DescribeCluster]: { request: DescribeClusterRequestSchema, response: DescribeClusterResponseSchema },
  [ApiKey.ProposeReassignment]: { request: ProposeReassignmentRequestSchema, response: ProposeReassignmentResponseSchema },
  [ApiKey.BalanceByLoad]: { request: BalanceByLoadRequestSchema, response: BalanceByLoadResponseSchema },
} as const;

export type ControlApiKey = keyof typeof ControlSchemas;
export type ControlRequest<K extends ControlApiKey> = z.infer<(typeof ControlSchemas)[K]["request"]>;
export type ControlResponse<K extends ControlApiKey> = z.infer<(typeof ControlSchemas)[K]["response"]>;

export function isControlApiKey(key: number): key is ControlApiKey {
  return Object.hasOwn(ControlSchemas, key);
}

// ---------------------------------------------------------------- codecs

/**
 * Checks a decoded value against a schema; a mismatch is INVALID_REQUEST
 * naming the first bad field ("invalid topics.0.partitions: expected number").
 */
export function parseControlBody<T extends z.ZodType>(schema: T, value: unknown, what = "body"): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.length ? issue.path.map(String).join(".") : what;
    throw new SluiceError(ErrorCode.INVALID_REQUEST, `invalid ${where}: ${issue?.message ?? "malformed"}`);
  }
  return result.data;
}

/** Decodes exactly one MessagePack value (bounded, see CONTROL_MSGPACK_LIMITS) and validates it. */
export function decodeMsgpackBody<T extends z.ZodType>(schema: T, bytes: Uint8Array, what = "body"): z.infer<T> {
  let value: unknown;
  try {
    value = decode(bytes, CONTROL_MSGPACK_LIMITS);
  } catch (cause) {
    throw new SluiceError(
      ErrorCode.INVALID_REQUEST,
      `${what} is not one MessagePack value: ${(cause as Error).message}`,
      { cause },
    );
  }
  return parseControlBody(schema, value, what);
}

export function encodeMsgpackBody(value: unknown): Uint8Array {
  return encode(value, { ignoreUndefined: true });
}

export function encodeControlRequest<K extends ControlApiKey>(_key: K, request: ControlRequest<K>): Uint8Array {
  return encodeMsgpackBody(request);
}

export function decodeControlRequest<K extends ControlApiKey>(key: K, body: Uint8Array): ControlRequest<K> {
  return decodeMsgpackBody(ControlSchemas[key].request, body, "request") as ControlRequest<K>;
}

/** Writes a successful response body: ErrorCode NONE then the MessagePack value. */
export function writeControlResponse<K extends ControlApiKey>(w: Writer, _key: K, response: ControlResponse<K>): void {
  writeOkPrefix(w);
  w.writeRaw(encodeMsgpackBody(response));
}

export function encodeControlResponse<K extends ControlApiKey>(key: K, response: ControlResponse<K>): Uint8Array {
  const w = new Writer({ initialBytes: 256 });
  writeControlResponse(w, key, response);
  return w.finish().slice();
}

/** Decodes a response body; a request-level error is thrown as SluiceError(code, message). */
export function decodeControlResponse<K extends ControlApiKey>(key: K, body: Uint8Array): ControlResponse<K> {
  const r = new Reader(body);
  readResponseEnvelope(r);
  return decodeMsgpackBody(ControlSchemas[key].response, r.readRest(), "response") as ControlResponse<K>;
}
