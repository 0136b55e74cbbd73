// ListOffsets (api key 2), versions 1–7, flexible from v6.
//
// Grammar: each field with the versions it exists in (n+ = from n on);
// [ ] is an array of structs, { } a nested struct. In flexible versions
// strings, bytes and arrays are compact and every struct ends with tagged fields.
//
// ListOffsetsRequest =>
//   replicaId INT32 1+
//   isolationLevel INT8 2+
//   topics [ 1+
//     name STRING 1+
//     partitions [ 1+
//       partitionIndex INT32 1+
//       currentLeaderEpoch INT32 4+
//       timestamp INT64 1+
//     ]
//   ]
// ListOffsetsResponse =>
//   throttleTimeMs INT32 2+
//   topics [ 1+
//     name STRING 1+
//     partitions [ 1+
//       partitionIndex INT32 1+
//       errorCode INT16 1+
//       timestamp INT64 1+
//       offset INT64 1+
//       leaderEpoch INT32 4+
//     ]
//   ]
//
// timestamp -1 asks for the end (the next offset), -2 for the start; any other
// value asks for the first offset whose batch max timestamp is at or after it.
// v0 (several offsets per partition) is not supported.

import type { KafkaReader } from "../reader.ts";
import { array, decodeMessage, encodeMessage, field, message, type Decoded, type Input } from "../schema.ts";
import { KafkaApiKey } from "../versions.ts";
import type { KafkaWriter } from "../writer.ts";

export const ListOffsetsRequestSpec = message("ListOffsetsRequest", KafkaApiKey.ListOffsets, [
  field("replicaId", "int32", "1+"),
  field("isolationLevel", "int8", "2+"),
  array("topics", "1+", [
    field("name", "string", "1+"),
    array("partitions", "1+", [
      field("partitionIndex", "int32", "1+"),
      field("currentLeaderEpoch", "int32", "4+", { default: -1 }),
      field("timestamp", "int64", "1+"),
    ]),
  ]),
] as const);

export const ListOffsetsResponseSpec = message("ListOffsetsResponse", KafkaApiKey.ListOffsets, [
  field("throttleTimeMs", "int32", "2+"),
  array("topics", "1+", [
    field("name", "string", "1+"),
    array("partitions", "1+", [
      field("partitionIndex", "int32", "1+"),
      field("errorCode", "int16", "1+"),
      field("timestamp", "int64", "1+", { default: -1n }),
      field("offset", "int64", "1+", { default: -1n }),
      field("leaderEpoch", "int32", "4+", { default: -1 }),
    ]),
  ]),
] as const);

export type ListOffsetsRequest = Decoded<typeof ListOffsetsRequestSpec.fields>;
export type ListOffsetsRequestInput = Input<typeof ListOffsetsRequestSpec.fields>;
export type ListOffsetsResponse = Decoded<typeof ListOffsetsResponseSpec.fields>;
export type ListOffsetsResponseInput = Input<typeof ListOffsetsResponseSpec.fields>;

export function decodeListOffsetsRequest(r: KafkaReader, version: number): ListOffsetsRequest {
  return decodeMessage(ListOffsetsRequestSpec, r, version);
}

export function encodeListOffsetsResponse(w: KafkaWriter, version: number, value: ListOffsetsResponseInput): void {
  encodeMessage(ListOffsetsResponseSpec, w, version, value);
}

/** The client side: for the bench's raw client and tests. */
export function encodeListOffsetsRequest(w: KafkaWriter, version: number, value: ListOffsetsRequestInput): void {
  encodeMessage(ListOffsetsRequestSpec, w, version, value);
}

export function decodeListOffsetsResponse(r: KafkaReader, version: number): ListOffsetsResponse {
  return decodeMessage(ListOffsetsResponseSpec, r, version);
}
