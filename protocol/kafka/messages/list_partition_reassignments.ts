// ListPartitionReassignments (api key 46), version 0, flexible from v0 (KIP-455).
//
// Grammar: each field with the versions it exists in (n+ = from n on);
// [ ] is an array of structs. Flexible: compact strings and arrays, tagged
// fields at the end of every struct.
//
// ListPartitionReassignmentsRequest =>
//   timeoutMs INT32 0+ (default 60000)
//   topics [ 0+ (nullable 0+, default null)   (null: every partition being moved)
//     name STRING 0+
//     partitionIndexes [INT32] 0+
//   ]
// ListPartitionReassignmentsResponse =>
//   throttleTimeMs INT32 0+
//   errorCode INT16 0+
//   errorMessage STRING 0+ (nullable 0+)
//   topics [ 0+
//     name STRING 0+
//     partitions [ 0+
//       partitionIndex INT32 0+
//       replicas [INT32] 0+          (the current set: old replicas and the adding ones)
//       addingReplicas [INT32] 0+
//       removingReplicas [INT32] 0+
//     ]
//   ]

import type { KafkaReader } from "../reader.ts";
import { array, arrayOf, decodeMessage, encodeMessage, field, message, type Decoded, type Input } from "../schema.ts";
import { KafkaApiKey } from "../versions.ts";
import type { KafkaWriter } from "../writer.ts";

export const ListPartitionReassignmentsRequestSpec = message("ListPartitionReassignmentsRequest", KafkaApiKey.ListPartitionReassignments, [
  field("timeoutMs", "int32", "0+", { default: 60_000 }),
  array("topics", "0+", [
    field("name", "string", "0+"),
    arrayOf("partitionIndexes", "int32", "0+"),
  ], { nullable: "0+", default: null }),
] as const);

export const ListPartitionReassignmentsResponseSpec = message("ListPartitionReassignmentsResponse", KafkaApiKey.ListPartitionReassignments, [
  field("throttleTimeMs", "int32", "0+"),
  field("errorCode", "int16", "0+"),
  field("errorMessage", "string", "0+", { nullable: "0+", default: null }),
  array("topics", "0+", [
    field("name", "string", "0+"),
    array("partitions", "0+", [
      field("partitionIndex", "int32", "0+"),
      arrayOf("replicas", "int32", "0+"),
      arrayOf("addingReplicas", "int32", "0+"),
      arrayOf("removingReplicas", "int32", "0+"),
    ]),
  ]),
] as const);

export type ListPartitionReassignmentsRequest = Decoded<typeof ListPartitionReassignmentsRequestSpec.fields>;
export type ListPartitionReassignmentsRequestInput = Input<typeof ListPartitionReassignmentsRequestSpec.fields>;
export type ListPartitionReassignmentsResponse = Decoded<typeof ListPartitionReassignmentsResponseSpec.fields>;
export type ListPartitionReassignmentsResponseInput = Input<typeof ListPartitionReassignmentsResponseSpec.fields>;

export function decodeListPartitionReassignmentsRequest(r: KafkaReader, version: number): ListPartitionReassignmentsRequest {
  return decodeMessage(ListPartitionReassignmentsRequestSpec, r, version);
}

export function encodeListPartitionReassignmentsResponse(w: KafkaWriter, version: number, value: ListPartitionReassignmentsResponseInput): void {
  encodeMessage(ListPartitionReassignmentsResponseSpec, w, version, value);
}

/** The client side: for tests. */
export function encodeListPartitionReassignmentsRequest(w: KafkaWriter, version: number, value: ListPartitionReassignmentsRequestInput): void {
  encodeMessage(ListPartitionReassignmentsRequestSpec, w, version, value);
}

export function decodeListPartitionReassignmentsResponse(r: KafkaReader, version: number): ListPartitionReassignmentsResponse {
  return decodeMessage(ListPartitionReassignmentsResponseSpec, r, version);
}
