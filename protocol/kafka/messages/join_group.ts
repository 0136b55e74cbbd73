// JoinGroup (api key 11), versions 0–7, flexible from v6.
//
// Grammar: each field with the versions it exists in (n+ = from n on);
// [ ] is an array of structs, { } a nested struct. In flexible versions
// strings, bytes and arrays are compact and every struct ends with tagged fields.
//
// JoinGroupRequest =>
//   groupId STRING 0+
//   sessionTimeoutMs INT32 0+
//   rebalanceTimeoutMs INT32 1+
//   memberId STRING 0+
//   groupInstanceId STRING 5+ (nullable 5+)
//   protocolType STRING 0+
//   protocols [ 0+
//     name STRING 0+
//     metadata BYTES 0+
//   ]
// JoinGroupResponse =>
//   throttleTimeMs INT32 2+
//   errorCode INT16 0+
//   generationId INT32 0+
//   protocolType STRING 7+ (nullable 7+)
//   protocolName STRING 0+ (nullable 7+)
//   leader STRING 0+
//   memberId STRING 0+
//   members [ 0+
//     memberId STRING 0+
//     groupInstanceId STRING 5+ (nullable 5+)
//     metadata BYTES 0+
//   ]
//
// protocols carry opaque metadata of the group's protocol type ("consumer"): the
// broker passes it to the leader in members without reading it.

import type { KafkaReader } from "../reader.ts";
import { array, decodeMessage, encodeMessage, field, message, type Decoded, type Input } from "../schema.ts";
import { KafkaApiKey } from "../versions.ts";
import type { KafkaWriter } from "../writer.ts";

export const JoinGroupRequestSpec = message("JoinGroupRequest", KafkaApiKey.JoinGroup, [
  field("groupId", "string", "0+"),
  field("sessionTimeoutMs", "int32", "0+"),
  field("rebalanceTimeoutMs", "int32", "1+", { default: -1 }),
  field("memberId", "string", "0+"),
  field("groupInstanceId", "string", "5+", { nullable: "5+", default: null }),
  field("protocolType", "string", "0+"),
  array("protocols", "0+", [
    field("name", "string", "0+"),
    field("metadata", "bytes", "0+"),
  ]),
] as const);

export const JoinGroupResponseSpec = message("JoinGroupResponse", KafkaApiKey.JoinGroup, [
  field("throttleTimeMs", "int32", "2+"),
  field("errorCode", "int16", "0+"),
  field("generationId", "int32", "0+", { default: -1 }),
  field("protocolType", "string", "7+", { nullable: "7+", default: null }),
  field("protocolName", "string", "0+", { nullable: "7+" }),
  field("leader", "string", "0+"),
  field("memberId", "string", "0+"),
  array("members", "0+", [
    field("memberId", "string", "0+"),
    field("groupInstanceId", "string", "5+", { nullable: "5+", default: null }),
    field("metadata", "bytes", "0+"),
  ]),
] as const);

export type JoinGroupRequest = Decoded<typeof JoinGroupRequestSpec.fields>;
export type JoinGroupRequestInput = Input<typeof JoinGroupRequestSpec.fields>;
export type JoinGroupResponse = Decoded<typeof JoinGroupResponseSpec.fields>;
export type JoinGroupResponseInput = Input<typeof JoinGroupResponseSpec.fields>;

export function decodeJoinGroupRequest(r: KafkaReader, version: number): JoinGroupRequest {
  return decodeMessage(JoinGroupRequestSpec, r, version);
}

export function encodeJoinGroupResponse(w: KafkaWriter, version: number, value: JoinGroupResponseInput): void {
  encodeMessage(JoinGroupResponseSpec, w, version, value);
}

/** The client side: for the bench's raw client and tests. */
export function encodeJoinGroupRequest(w: KafkaWriter, version: number, value: JoinGroupRequestInput): void {
  encodeMessage(JoinGroupRequestSpec, w, version, value);
}

export function decodeJoinGroupResponse(r: KafkaReader, version: number): JoinGroupResponse {
  return decodeMessage(JoinGroupResponseSpec, r, version);
}
