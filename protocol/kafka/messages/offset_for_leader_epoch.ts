// OffsetForLeaderEpoch (api key 23), versions 0–4, flexible from v4.
//
// Grammar: each field with the versions it exists in (n+ = from n on);
// [ ] is an array of structs. In flexible versions strings and arrays are
// compact and every struct ends with tagged fields.
//
// OffsetForLeaderEpochRequest =>
//   replicaId INT32 3+            (-1 from a consumer; a follower's broker id)
//   topics [ 0+
//     topic STRING 0+
//     partitions [ 0+
//       partition INT32 0+
//       currentLeaderEpoch INT32 2+   (fences a client with old metadata: KIP-320)
//       leaderEpoch INT32 0+          (the epoch whose end offset is asked for)
//     ]
//   ]
// OffsetForLeaderEpochResponse =>
//   throttleTimeMs INT32 2+
//   topics [ 0+
//     topic STRING 0+
//     partitions [ 0+
//       errorCode INT16 0+
//       partition INT32 0+
//       leaderEpoch INT32 1+   (the largest epoch ≤ the one asked that the leader knows; -1 none)
//       endOffset INT64 0+     (where that epoch ends on the leader; -1 none)
//     ]
//   ]
//
// A consumer asks it after a leader change (KIP-320) to learn whether the
// log it read was truncated: if the end offset is below its position, it
// resets there.

import type { KafkaReader } from "../reader.ts";
import { array, decodeMessage, encodeMessage, field, message, type Decoded, type Input } from "../schema.ts";
import { KafkaApiKey } from "../versions.ts";
import type { KafkaWriter } from "../writer.ts";

export const OffsetForLeaderEpochRequestSpec = message("OffsetForLeaderEpochRequest", KafkaApiKey.OffsetForLeaderEpoch, [
  field("replicaId", "int32", "3+", { default: -1 }),
  array("topics", "0+", [
    field("topic", "string", "0+"),
    array("partitions", "0+", [
      field("partition", "int32", "0+"),
      field("currentLeaderEpoch", "int32", "2+", { default: -1 }),
      field("leaderEpoch", "int32", "0+"),
    ]),
  ]),
] as const);

export const OffsetForLeaderEpochResponseSpec = message("OffsetForLeaderEpochResponse", KafkaApiKey.OffsetForLeaderEpoch, [
  field("throttleTimeMs", "int32", "2+"),
  array("topics", "0+", [
    field("topic", "string", "0+"),
    array("partitions", "0+", [
      field("errorCode", "int16", "0+"),
      field("partition", "int32", "0+"),
      field("leaderEpoch", "int32", "1+", { default: -1 }),
      field("endOffset", "int64", "0+", { default: -1n }),
    ]),
  ]),
] as const);

export type OffsetForLeaderEpochRequest = Decoded<typeof OffsetForLeaderEpochRequestSpec.fields>;
export type OffsetForLeaderEpochRequestInput = Input<typeof OffsetForLeaderEpochRequestSpec.fields>;
export type OffsetForLeaderEpochResponse = Decoded<typeof OffsetForLeaderEpochResponseSpec.fields>;
export type OffsetForLeaderEpochResponseInput = Input<typeof OffsetForLeaderEpochResponseSpec.fields>;

export function decodeOffsetForLeaderEpochRequest(r: KafkaReader, version: number): OffsetForLeaderEpochRequest {
  return decodeMessage(OffsetForLeaderEpochRequestSpec, r, version);
}

export function encodeOffsetForLeaderEpochResponse(w: KafkaWriter, version: number, value: OffsetForLeaderEpochResponseInput): void {
  encodeMessage(OffsetForLeaderEpochResponseSpec, w, version, value);
}

/** The client side: for tests. */
export function encodeOffsetForLeaderEpochRequest(w: KafkaWriter, version: number, value: OffsetForLeaderEpochRequestInput): void {
  encodeMessage(OffsetForLeaderEpochRequestSpec, w, version, value);
}

export function decodeOffsetForLeaderEpochResponse(r: KafkaReader, version: number): OffsetForLeaderEpochResponse {
  return decodeMessage(OffsetForLeaderEpochResponseSpec, r, version);
}
