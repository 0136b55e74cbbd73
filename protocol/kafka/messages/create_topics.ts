// CreateTopics (api key 19), versions 2–7, flexible from v5.
//
// Grammar: each field with the versions it exists in (n+ = from n on);
// [ ] is an array of structs, { } a nested struct. In flexible versions
// strings, bytes and arrays are compact and every struct ends with tagged fields.
//
// CreateTopicsRequest =>
//   topics [ 2+
//     name STRING 2+
//     numPartitions INT32 2+
//     replicationFactor INT16 2+
//     assignments [ 2+
//       partitionIndex INT32 2+
//       brokerIds [INT32] 2+
//     ]
//     configs [ 2+
//       name STRING 2+
//       value STRING 2+ (nullable 2+)
//     ]
//   ]
//   timeoutMs INT32 2+
//   validateOnly BOOLEAN 2+
// CreateTopicsResponse =>
//   throttleTimeMs INT32 2+
//   topics [ 2+
//     name STRING 2+
//     topicId UUID 7+
//     errorCode INT16 2+
//     errorMessage STRING 2+ (nullable 2+)
//     topicConfigErrorCode INT16 5+ (tag 0)
//     numPartitions INT32 5+
//     replicationFactor INT16 5+
//     configs [ 5+ (nullable 5+)
//       name STRING 5+
//       value STRING 5+ (nullable 5+)
//       readOnly BOOLEAN 5+
//       configSource INT8 5+
//       isSensitive BOOLEAN 5+
//     ]
//   ]

import type { KafkaReader } from "../reader.ts";
import { array, arrayOf, decodeMessage, encodeMessage, field, message, type Decoded, type Input } from "../schema.ts";
import { KafkaApiKey } from "../versions.ts";
import type { KafkaWriter } from "../writer.ts";

export const CreateTopicsRequestSpec = message("CreateTopicsRequest", KafkaApiKey.CreateTopics, [
  array("topics", "2+", [
    field("name", "string", "2+"),
    field("numPartitions", "int32", "2+"),
    field("replicationFactor", "int16", "2+"),
    array("assignments", "2+", [
      field("partitionIndex", "int32", "2+"),
      arrayOf("brokerIds", "int32", "2+"),
    ]),
    array("configs", "2+", [
      field("name", "string", "2+"),
      field("value", "string", "2+", { nullable: "2+" }),
    ]),
  ]),
  field("timeoutMs", "int32", "2+", { default: 60000 }),
  field("validateOnly", "bool", "2+", { default: false }),
] as const);

export const CreateTopicsResponseSpec = message("CreateTopicsResponse", KafkaApiKey.CreateTopics, [
  field("throttleTimeMs", "int32", "2+"),
  array("topics", "2+", [
    field("name", "string", "2+"),
    field("topicId", "uuid", "7+"),
    field("errorCode", "int16", "2+"),
    field("errorMessage", "string", "2+", { nullable: "2+" }),
    field("topicConfigErrorCode", "int16", "5+", { tag: 0 }),
    field("numPartitions", "int32", "5+", { default: -1 }),
    field("replicationFactor", "int16", "5+", { default: -1 }),
    array("configs", "5+", [
      field("name", "string", "5+"),
      field("value", "string", "5+", { nullable: "5+" }),
      field("readOnly", "bool", "5+"),
      field("configSource", "int8", "5+", { default: -1 }),
      field("isSensitive", "bool", "5+"),
    ], { nullable: "5+" }),
  ]),
] as const);

export type CreateTopicsRequest = Decoded<typeof CreateTopicsRequestSpec.fields>;
export type CreateTopicsRequestInput = Input<typeof CreateTopicsRequestSpec.fields>;
export type CreateTopicsResponse = Decoded<typeof CreateTopicsResponseSpec.fields>;
export type CreateTopicsResponseInput = Input<typeof CreateTopicsResponseSpec.fields>;

export function decodeCreateTopicsRequest(r: KafkaReader, version: number): CreateTopicsRequest {
  return decodeMessage(CreateTopicsRequestSpec, r, version);
}

export function encodeCreateTopicsResponse(w: KafkaWriter, version: number, value: CreateTopicsResponseInput): void {
  encodeMessage(CreateTopicsResponseSpec, w, version, value);
}

/** The client side: for the bench's raw client and tests. */
export function encodeCreateTopicsRequest(w: KafkaWriter, version: number, value: CreateTopicsRequestInput): void {
  encodeMessage(CreateTopicsRequestSpec, w, version, value);
}

export function decodeCreateTopicsResponse(r: KafkaReader, version: number): CreateTopicsResponse {
  return decodeMessage(CreateTopicsResponseSpec, r, version);
}
