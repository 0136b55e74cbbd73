// OffsetCommit (api key 8), versions 2–8, flexible from v8.
//
// Grammar: each field with the versions it exists in (n+ = from n on);
// [ ] is an array of structs, { } a nested struct. In flexible versions
// strings, bytes and arrays are compact and every struct ends with tagged fields.
//
// OffsetCommitRequest =>
//   groupId STRING 2+
//   generationIdOrMemberEpoch INT32 2+
//   memberId STRING 2+
//   groupInstanceId STRING 7+ (nullable 7+)
//   retentionTimeMs INT64 2-4
//   topics [ 2+
//     name STRING 2+
//     partitions [ 2+
//       partitionIndex INT32 2+
//       committedOffset INT64 2+
//       committedLeaderEpoch INT32 6+
//       committedMetadata STRING 2+ (nullable 2+)
//     ]
//   ]
// OffsetCommitResponse =>
//   throttleTimeMs INT32 3+
//   topics [ 2+
//     name STRING 2+
//     partitions [ 2+
//       partitionIndex INT32 2+
//       errorCode INT16 2+
//     ]
//   ]
//
// v2–4 carry a retentionTimeMs (ignored, as Kafka does since 2.1).

import type { KafkaReader } from "../reader.ts";
import { array, decodeMessage, encodeMessage, field, message, type Decoded, type Input } from "../schema.ts";
import { KafkaApiKey } from "../versions.ts";
import type { KafkaWriter } from "../writer.ts";

export const OffsetCommitRequestSpec = message("OffsetCommitRequest", KafkaApiKey.OffsetCommit, [
  field("groupId", "string", "2+"),
  field("generationIdOrMemberEpoch", "int32", "2+", { default: -1 }),
  field("memberId", "string", "2+"),
  field("groupInstanceId", "string", "7+", { nullable: "7+", default: null }),
  field("retentionTimeMs", "int64", "2-4", { default: -1n }),
  array("topics", "2+", [
    field("name", "string", "2+"),
    array("partitions", "2+", [
      field("partitionIndex", "int32", "2+"),
      field("committedOffset", "int64", "2+"),
      field("committedLeaderEpoch", "int32", "6+", { default: -1 }),
      field("committedMetadata", "string", "2+", { nullable: "2+" }),
    ]),
  ]),
] as const);

export const OffsetCommitResponseSpec = message("OffsetCommitResponse", KafkaApiKey.OffsetCommit, [
  field("throttleTimeMs", "int32", "3+"),
  array("topics", "2+", [
    field("name", "string", "2+"),
    array("partitions", "2+", [
      field("partitionIndex", "int32", "2+"),
      field("errorCode", "int16", "2+"),
    ]),
  ]),
] as const);

export type OffsetCommitRequest = Decoded<typeof OffsetCommitRequestSpec.fields>;
export type OffsetCommitRequestInput = Input<typeof OffsetCommitRequestSpec.fields>;
export type OffsetCommitResponse = Decoded<typeof OffsetCommitResponseSpec.fields>;
export type OffsetCommitResponseInput = Input<typeof OffsetCommitResponseSpec.fields>;

export function decodeOffsetCommitRequest(r: KafkaReader, version: number): OffsetCommitRequest {
  return decodeMessage(OffsetCommitRequestSpec, r, version);
}

export function encodeOffsetCommitResponse(w: KafkaWriter, version: number, value: OffsetCommitResponseInput): void {
  encodeMessage(OffsetCommitResponseSpec, w, version, value);
}

/** The client side: for the bench's raw client and tests. */
export function encodeOffsetCommitRequest(w: KafkaWriter, version: number, value: OffsetCommitRequestInput): void {
  encodeMessage(OffsetCommitRequestSpec, w, version, value);
}

export function decodeOffsetCommitResponse(r: KafkaReader, version: number): OffsetCommitResponse {
  return decodeMessage(OffsetCommitResponseSpec, r, version);
}
