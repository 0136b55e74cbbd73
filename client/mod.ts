// The client's public face: producer, consumer, admin, the group consumer and
// group admin, their errors and partitioners. Runs on Bun and Deno directly
// and on Node 20+ through the bundle (`npm run build:client` →
// dist/client/mod.js).

export { Producer, PRODUCER_DEFAULTS, type ProducerOptions, type ProducerMessage, type AcksOption, type RecordMetadata, type SentRange } from "./producer.ts";
export {
  Consumer,
  CONSUMER_DEFAULTS,
  type ConsumerOptions,
  type ConsumerRecord,
  type ConsumerBatch,
  type SeekPosition,
  type PartitionAssignment,
  type TopicPartition,
  type AutoOffsetReset,
} from "./consumer.ts";
export {
  GroupConsumer,
  GROUP_CONSUMER_DEFAULTS,
  type GroupConsumerOptions,
  type GroupMessage,
  type RunOptions,
  type RevokeInfo,
} from "./group_consumer.ts";
export { GroupAdmin, type GroupAdminOptions } from "./group_admin.ts";
export type { OffsetToCommit } from "./group_membership.ts";
export type { TopicPartitions } from "../protocol/messages/groups.ts";
export {
  Admin,
  type AdminOptions,
  type BalanceByLoadResponse,
  type ClusterBroker,
  type DecommissionResult,
  type DescribeClusterResponse,
  type ElectLeadersResponse,
  type ListPartitionReassignmentsResponse,
  type MetadataResponse,
  type NewTopic,
  type PartitionDescription,
  type PartitionReassignment,
  type PartitionReassignmentChange,
  type ProposeReassignmentResponse,
  type ReassignmentOutcome,
  type TopicDescription,
} from "./admin.ts";
export type { OffsetQuery, OffsetRequest, OffsetAnswer } from "./list_offsets.ts";
export { CLIENT_DEFAULTS, DEFAULT_BROKER, type ClientOptions } from "./options.ts";
export {
  ClientErrorCode,
  ConnectionError,
  RequestTimeoutError,
  BufferExhaustedError,
  ClientClosedError,
  InvalidArgumentError,
  OffsetOutOfRangeError,
  errorCodeName,
} from "./errors.ts";
export { ErrorCode, SluiceError, isRetriable } from "../protocol/errors.ts";
export { COMPRESSION_NAMES, CompressionError, zstdCompressionAvailable, type CompressionName } from "../protocol/compression/mod.ts";
export { BatchError } from "../protocol/record_batch.ts";
export {
  kafkaKeyPartition,
  roundRobinPartitioner,
  hashPartitioner,
  randomPartitioner,
  type PartitionerFn,
  type PartitionerInput,
  type PartitionerName,
} from "./partitioners.ts";
export { murmur2, toPositive } from "./murmur2.ts";
export { defaultTransport, runtimeName, bunTransport, nodeTransport, type Transport } from "../runtime/mod.ts";
