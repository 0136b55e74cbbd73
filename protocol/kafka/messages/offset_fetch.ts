// OffsetFetch (api key 9), versions 1–8, flexible from v6.
//
// Grammar: each field with the versions it exists in (n+ = from n on);
// [ ] is an array of structs, { } a nested struct. In flexible versions
// strings, bytes and arrays are compact and every struct ends with tagged fields.
//
// OffsetFetchRequest =>
//   groupId STRING 1-7
//   topics [ 1-7 (nullable 2-7)
//     name STRING 1-7
//     partitionIndexes [INT32] 1-7
//   ]
//   groups [ 8+
//     groupId STRING 8+
//     topics [ 8+ (nullable 8+)
//       name STRING 8+
//       partitionIndexes [INT32] 8+
//     ]
//   ]
//   requireStable BOOLEAN 7+
// OffsetFetchResponse =>
//   throttleTimeMs INT32 3+
//   topics [ 1-7
//     name STRING 1-7
//     partitions [ 1-7
//       partitionIndex INT32 1-7
//       committedOffset INT64 1-7
//       committedLeaderEpoch INT32 5-7
//       metadata STRING 1-7 (nullable 1-7)
//       errorCode INT16 1-7
//     ]
//   ]
//   errorCode INT16 2-7
//   groups [ 8+
//     groupId STRING 8+
//     topics [ 8+
//       name STRING 8+
//       partitions [ 8+
//         partitionIndex INT32 8+
//         committedOffset INT64 8+
//         committedLeaderEpoch INT32 8+
//         metadata STRING 8+ (nullable 8+)
//         errorCode INT16 8+
//       ]
//     ]
//     errorCode INT16 8+
//   ]
//
// Before v8 one group per request (groupId, topics); from v8 a list of groups.
// topics null asks for every committed offset of the group (v2+).

import type { KafkaReader } from "../reader.ts";
import { array, arrayOf, decodeMessage, encodeMessage, field, message, type Decoded, type Input } from "../schema.ts";
import { KafkaApiKey } from "../versions.ts";
import type { KafkaWriter } from "../writer.ts";

export const OffsetFetchRequestSpec = message("OffsetFetchRequest", KafkaApiKey.OffsetFetch, [
  field("groupId", "string", "1-7"),
  array("topics", "1-7", [
    field("name", "string", "1-7"),
    arrayOf("partitionIndexes", "int32", "1-7"),
  ], { nullable: "2-7" }),
  array("groups", "8+", [
    field("groupId", "string", "8+"),
    array("topics", "8+", [
      field("name", "string", "8+"),
      arrayOf("partitionIndexes", "int32", "8+"),
    ], { nullable: "8+" }),
  ]),
  field("requireStable", "bool", "7+", { default: false }),
] as const);

export const OffsetFetchResponseSpec = message("OffsetFetchResponse", KafkaApiKey.OffsetFetch, [
  field("throttleTimeMs", "int32", "3+"),
  array("topics", "1-7", [
    field("name", "string", "1-7"),
    array("partitions", "1-7", [
      field("partitionIndex", "int32", "1-7"),
      field("committedOffset", "int64", "1-7"),
      field("committedLeaderEpoch", "int32", "5-7", { default: -1 }),
      field("metadata", "string", "1-7", { nullable: "1-7" }),
      field("errorCode", "int16", "1-7"),
    ]),
  ]),
  field("errorCode", "int16", "2-7", { default: 0 }),
  array("groups", "8+", [
    field("groupId", "string", "8+"),
    array("topics", "8+", [
      field("name", "string", "8+"),
      array("partitions", "8+", [
        field("partitionIndex", "int32", "8+"),
        field("committedOffset", "int64", "8+"),
        field("committedLeaderEpoch", "int32", "8+", { default: -1 }),
        field("metadata", "string", "8+", { nullable: "8+" }),
        field("errorCode", "int16", "8+"),
      ]),
    ]),
    field("errorCode", "int16", "8+", { default: 0 }),
  ]),
] as const);

export type OffsetFetchRequest = Decoded<typeof OffsetFetchRequestSpec.fields>;
export type OffsetFetchRequestInput = Input<typeof OffsetFetchRequestSpec.fields>;
export type OffsetFetchResponse = Decoded<typeof OffsetFetchResponseSpec.fields>;
export type OffsetFetchResponseInput = Input<typeof OffsetFetchResponseSpec.fields>;

export function decodeOffsetFetchRequest(r: KafkaReader, version: number): OffsetFetchRequest {
  return decodeMessage(OffsetFetchRequestSpec, r, version);
}

export function encodeOffsetFetchResponse(w: KafkaWriter, version: number, value: OffsetFetchResponseInput): void {
  encodeMessage(OffsetFetchResponseSpec, w, version, value);
}

/** The client side: for the bench's raw client and tests. */
export function encodeOffsetFetchRequest(w: KafkaWriter, version: number, value: OffsetFetchRequestInput): void {
  encodeMessage(OffsetFetchRequestSpec, w, version, value);
}

export function decodeOffsetFetchResponse(r: KafkaReader, version: number): OffsetFetchResponse {
  return decodeMessage(OffsetFetchResponseSpec, r, version);
}
