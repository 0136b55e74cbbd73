// AlterPartitionReassignments (api key 45), versions 0–1, flexible from v0
// (KIP-455; v1 adds allowReplicationFactorChange, KIP-860).
//
// Grammar: each field with the versions it exists in (n+ = from n on);
// [ ] is an array of structs. Every version is flexible: compact strings and
// arrays, tagged fields at the end of every struct.
//
// AlterPartitionReassignmentsRequest =>
//   timeoutMs INT32 0+ (default 60000)
//   allowReplicationFactorChange BOOLEAN 1+ (default true)
//   topics [ 0+
//     name STRING 0+
//     partitions [ 0+
//       partitionIndex INT32 0+
//       replicas [INT32] 0+ (nullable 0+, default null)   (null cancels the partition's pending move)
//     ]
//   ]
// AlterPartitionReassignmentsResponse =>
//   throttleTimeMs INT32 0+
//   allowReplicationFactorChange BOOLEAN 1+ (default true)
//   errorCode INT16 0+
//   errorMessage STRING 0+ (nullable 0+)
//   responses [ 0+
//     name STRING 0+
//     partitions [ 0+
//       partitionIndex INT32 0+
//       errorCode INT16 0+
//       errorMessage STRING 0+ (nullable 0+)
//     ]
//   ]

import type { KafkaReader } from "../reader.ts";
import { array, arrayOf, decodeMessage, encodeMessage, field, message, type Decoded, type Input } from "../schema.ts";
import { KafkaApiKey } from "../versions.ts";
import type { KafkaWriter } from "../writer.ts";

export const AlterPartitionReassignmentsRequestSpec = message("AlterPartitionReassignmentsRequest", KafkaApiKey.AlterPartitionReassignments, [
  field("timeoutMs", "int32", "0+", { default: 60_000 }),
  field("allowReplicationFactorChange", "bool", "1+", { default: true }),
  array("topics", "0+", [
    field("name", "string", "0+"),
    array("partitions", "0+", [
      field("partitionIndex", "int32", "0+"),
      arrayOf("replicas", "int32", "0+", { nullable: "0+", default: null }),
    ]),
  ]),
] as const);

export const AlterPartitionReassignmentsResponseSpec = message("AlterPartitionReassignmentsResponse", KafkaApiKey.AlterPartitionReassignments, [
  field("throttleTimeMs", "int32", "0+"),
  field("allowReplicationFactorChange", "bool", "1+", { default: true }),
  field("errorCode", "int16", "0+"),
  field("errorMessage", "string", "0+", { nullable: "0+", default: null }),
  array("responses", "0+", [
    field("name", "string", "0+"),
    array("partitions", "0+", [
      field("partitionIndex", "int32", "0+"),
      field("errorCode", "int16", "0+"),
      field("errorMessage", "string", "0+", { nullable: "0+", default: null }),
    ]),
  ]),
] as const);

export type AlterPartitionReassignmentsRequest = Decoded<typeof AlterPartitionReassignmentsRequestSpec.fields>;
export type AlterPartitionReassignmentsRequestInput = Input<typeof AlterPartitionReassignmentsRequestSpec.fields>;
export type AlterPartitionReassignmentsResponse = Decoded<typeof AlterPartitionReassignmentsResponseSpec.fields>;
export type AlterPartitionReassignmentsResponseInput = Input<typeof AlterPartitionReassignmentsResponseSpec.fields>;

export function decodeAlterPartitionReassignmentsRequest(r: KafkaReader, version: number): AlterPartitionReassignmentsRequest {
  return decodeMessage(AlterPartitionReassignmentsRequestSpec, r, version);
}

export function encodeAlterPartitionReassignmentsResponse(w: KafkaWriter, version: number, value: AlterPartitionReassignmentsResponseInput): void {
  encodeMessage(AlterPartitionReassignmentsResponseSpec, w, version, value);
}

/** The client side: for tests. */
export function encodeAlterPartitionReassignmentsRequest(w: KafkaWriter, version: number, value: AlterPartitionReassignmentsRequestInput): void {
  encodeMessage(AlterPartitionReassignmentsRequestSpec, w, version, value);
}

export function decodeAlterPartitionReassignmentsResponse(r: KafkaReader, version: number): AlterPartitionReassignmentsResponse {
  return decodeMessage(AlterPartitionReassignmentsResponseSpec, r, version);
}
