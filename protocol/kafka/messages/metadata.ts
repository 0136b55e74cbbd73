// Metadata (api key 3), versions 0–12, flexible from v9.
//
// Grammar: each field with the versions it exists in (n+ = from n on);
// [ ] is an array of structs, { } a nested struct. In flexible versions
// strings, bytes and arrays are compact and every struct ends with tagged fields.
//
// MetadataRequest =>
//   topics [ 0+ (nullable 1+)
//     topicId UUID 10+
//     name STRING 0+ (nullable 10+)
//   ]
//   allowAutoTopicCreation BOOLEAN 4+
//   includeClusterAuthorizedOperations BOOLEAN 8-10
//   includeTopicAuthorizedOperations BOOLEAN 8+
// MetadataResponse =>
//   throttleTimeMs INT32 3+
//   brokers [ 0+
//     nodeId INT32 0+
//     host STRING 0+
//     port INT32 0+
//     rack STRING 1+ (nullable 1+)
//   ]
//   clusterId STRING 2+ (nullable 2+)
//   controllerId INT32 1+
//   topics [ 0+
//     errorCode INT16 0+
//     name STRING 0+ (nullable 12+)
//     topicId UUID 10+
//     isInternal BOOLEAN 1+
//     partitions [ 0+
//       errorCode INT16 0+
//       partitionIndex INT32 0+
//       leaderId INT32 0+
//       leaderEpoch INT32 7+
//       replicaNodes [INT32] 0+
//       isrNodes [INT32] 0+
//       offlineReplicas [INT32] 5+
//     ]
//     topicAuthorizedOperations INT32 8+
//   ]
//   clusterAuthorizedOperations INT32 8-10
//
// topics: v0 has no null, and an empty array means every topic; from v1 null
// means every topic and an empty array none. allowAutoTopicCreation defaults to
// true before v4.

import type { KafkaReader } from "../reader.ts";
import { array, arrayOf, decodeMessage, encodeMessage, field, message, type Decoded, type Input } from "../schema.ts";
import { KafkaApiKey } from "../versions.ts";
import type { KafkaWriter } from "../writer.ts";

export const MetadataRequestSpec = message("MetadataRequest", KafkaApiKey.Metadata, [
  array("topics", "0+", [
    field("topicId", "uuid", "10+"),
    field("name", "string", "0+", { nullable: "10+" }),
  ], { nullable: "1+" }),
  field("allowAutoTopicCreation", "bool", "4+", { default: true }),
  field("includeClusterAuthorizedOperations", "bool", "8-10"),
  field("includeTopicAuthorizedOperations", "bool", "8+"),
] as const);

export const MetadataResponseSpec = message("MetadataResponse", KafkaApiKey.Metadata, [
  field("throttleTimeMs", "int32", "3+"),
  array("brokers", "0+", [
    field("nodeId", "int32", "0+"),
    field("host", "string", "0+"),
    field("port", "int32", "0+"),
    field("rack", "string", "1+", { nullable: "1+", default: null }),
  ]),
  field("clusterId", "string", "2+", { nullable: "2+", default: null }),
  field("controllerId", "int32", "1+", { default: -1 }),
  array("topics", "0+", [
    field("errorCode", "int16", "0+"),
    field("name", "string", "0+", { nullable: "12+" }),
    field("topicId", "uuid", "10+"),
    field("isInternal", "bool", "1+", { default: false }),
    array("partitions", "0+", [
      field("errorCode", "int16", "0+"),
      field("partitionIndex", "int32", "0+"),
      field("leaderId", "int32", "0+"),
      field("leaderEpoch", "int32", "7+", { default: -1 }),
      arrayOf("replicaNodes", "int32", "0+"),
      arrayOf("isrNodes", "int32", "0+"),
      arrayOf("offlineReplicas", "int32", "5+"),
    ]),
    field("topicAuthorizedOperations", "int32", "8+", { default: -2147483648 }),
  ]),
  field("clusterAuthorizedOperations", "int32", "8-10", { default: -2147483648 }),
] as const);

export type MetadataRequest = Decoded<typeof MetadataRequestSpec.fields>;
export type MetadataRequestInput = Input<typeof MetadataRequestSpec.fields>;
export type MetadataResponse = Decoded<typeof MetadataResponseSpec.fields>;
export type MetadataResponseInput = Input<typeof MetadataResponseSpec.fields>;

export function decodeMetadataRequest(r: KafkaReader, version: number): MetadataRequest {
  return decodeMessage(MetadataRequestSpec, r, version);
}

export function encodeMetadataResponse(w: KafkaWriter, version: number, value: MetadataResponseInput): void {
  encodeMessage(MetadataResponseSpec, w, version, value);
}

/** The client side: for the bench's raw client and tests. */
export function encodeMetadataRequest(w: KafkaWriter, version: number, value: MetadataRequestInput): void {
  encodeMessage(MetadataRequestSpec, w, version, value);
}

export function decodeMetadataResponse(r: KafkaReader, version: number): MetadataResponse {
  return decodeMessage(MetadataResponseSpec, r, version);
}
