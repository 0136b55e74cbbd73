// SyncGroup (api key 14), versions 0–5, flexible from v4.
//
// Grammar: each field with the versions it exists in (n+ = from n on);
// [ ] is an array of structs, { } a nested struct. In flexible versions
// strings, bytes and arrays are compact and every struct ends with tagged fields.
//
// SyncGroupRequest =>
//   groupId STRING 0+
//   generationId INT32 0+
//   memberId STRING 0+
//   groupInstanceId STRING 3+ (nullable 3+)
//   protocolType STRING 5+ (nullable 5+)
//   protocolName STRING 5+ (nullable 5+)
//   assignments [ 0+
//     memberId STRING 0+
//     assignment BYTES 0+
//   ]
// SyncGroupResponse =>
//   throttleTimeMs INT32 1+
//   errorCode INT16 0+
//   protocolType STRING 5+ (nullable 5+)
//   protocolName STRING 5+ (nullable 5+)
//   assignment BYTES 0+
//
// The leader sends the assignments it computed; every member gets its own back
// as opaque bytes.

import type { KafkaReader } from "../reader.ts";
import { array, decodeMessage, encodeMessage, field, message, type Decoded, type Input } from "../schema.ts";
import { KafkaApiKey } from "../versions.ts";
import type { KafkaWriter } from "../writer.ts";

export const SyncGroupRequestSpec = message("SyncGroupRequest", KafkaApiKey.SyncGroup, [
  field("groupId", "string", "0+"),
  field("generationId", "int32", "0+"),
  field("memberId", "string", "0+"),
  field("groupInstanceId", "string", "3+", { nullable: "3+", default: null }),
  field("protocolType", "string", "5+", { nullable: "5+", default: null }),
  field("protocolName", "string", "5+", { nullable: "5+", default: null }),
  array("assignments", "0+", [
    field("memberId", "string", "0+"),
    field("assignment", "bytes", "0+"),
  ]),
] as const);

export const SyncGroupResponseSpec = message("SyncGroupResponse", KafkaApiKey.SyncGroup, [
  field("throttleTimeMs", "int32", "1+"),
  field("errorCode", "int16", "0+"),
  field("protocolType", "string", "5+", { nullable: "5+", default: null }),
  field("protocolName", "string", "5+", { nullable: "5+", default: null }),
  field("assignment", "bytes", "0+"),
] as const);

export type SyncGroupRequest = Decoded<typeof SyncGroupRequestSpec.fields>;
export type SyncGroupRequestInput = Input<typeof SyncGroupRequestSpec.fields>;
export type SyncGroupResponse = Decoded<typeof SyncGroupResponseSpec.fields>;
export type SyncGroupResponseInput = Input<typeof SyncGroupResponseSpec.fields>;

export function decodeSyncGroupRequest(r: KafkaReader, version: number): SyncGroupRequest {
  return decodeMessage(SyncGroupRequestSpec, r, version);
}

export function encodeSyncGroupResponse(w: KafkaWriter, version: number, value: SyncGroupResponseInput): void {
  encodeMessage(SyncGroupResponseSpec, w, version, value);
}

/** The client side: for the bench's raw client and tests. */
export function encodeSyncGroupRequest(w: KafkaWriter, version: number, value: SyncGroupRequestInput): void {
  encodeMessage(SyncGroupRequestSpec, w, version, value);
}

export function decodeSyncGroupResponse(r: KafkaReader, version: number): SyncGroupResponse {
  return decodeMessage(SyncGroupResponseSpec, r, version);
}
