// The Kafka wire protocol: primitives, headers, the versions table and one
// codec per api. Pure code, no I/O (see README.md).

export { KafkaDecodeError, KafkaDecodeReason } from "./decode_error.ts";
export {
  beginRequestFrame,
  beginResponseFrame,
  decodeRequestHeader,
  decodeResponseHeader,
  encodeRequestHeader,
  encodeResponseHeader,
  endFrame,
  type KafkaRequestHeader,
} from "./header.ts";
export * from "./messages/mod.ts";
export { KafkaReader } from "./reader.ts";
export { type Decoded, type Input, type MessageSpec } from "./schema.ts";
export {
  isFlexible,
  isVersionSupported,
  KAFKA_APIS,
  type KafkaApi,
  kafkaApi,
  KafkaApiKey,
  PRODUCE_VERSION_ACCEPTED_MIN,
  requestHeaderVersion,
  responseHeaderVersion,
} from "./versions.ts";
export { KafkaWriter, VIEW_COPY_BYTES_MAX } from "./writer.ts";
