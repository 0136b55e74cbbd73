// LeaveGroup (api key 13), versions 0–4, flexible from v4.
//
// Grammar: each field with the versions it exists in (n+ = from n on);
// [ ] is an array of structs, { } a nested struct. In flexible versions
// strings, bytes and arrays are compact and every struct ends with tagged fields.
//
// LeaveGroupRequest =>
//   groupId STRING 0+
//   memberId STRING 0-2
//   members [ 3+
//     memberId STRING 3+
//     groupInstanceId STRING 3+ (nullable 3+)
//   ]
// LeaveGroupResponse =>
//   throttleTimeMs INT32 1+
//   errorCode INT16 0+
//   members [ 3+
//     memberId STRING 3+
//     groupInstanceId STRING 3+ (nullable 3+)
//     errorCode INT16 3+
//   ]

import type { KafkaReader } from "../reader.ts";
import { array, decodeMessage, encodeMessage, field, message, type Decoded, type Input } from "../schema.ts";
import { KafkaApiKey } from "../versions.ts";
import type { KafkaWriter } from "../writer.ts";

export const LeaveGroupRequestSpec = message("LeaveGroupRequest", KafkaApiKey.LeaveGroup, [
  field("groupId", "string", "0+"),
  field("memberId", "string", "0-2"),
  array("members", "3+", [
    field("memberId", "string", "3+"),
    field("groupInstanceId", "string", "3+", { nullable: "3+", default: null }),
  ]),
] as const);

export const LeaveGroupResponseSpec = message("LeaveGroupResponse", KafkaApiKey.LeaveGroup, [
  field("throttleTimeMs", "int32", "1+"),
  field("errorCode", "int16", "0+"),
  array("members", "3+", [
    field("memberId", "string", "3+"),
    field("groupInstanceId", "string", "3+", { nullable: "3+" }),
    field("errorCode", "int16", "3+"),
  ]),
] as const);

export type LeaveGroupRequest = Decoded<typeof LeaveGroupRequestSpec.fields>;
export type LeaveGroupRequestInput = Input<typeof LeaveGroupRequestSpec.fields>;
export type LeaveGroupResponse = Decoded<typeof LeaveGroupResponseSpec.fields>;
export type LeaveGroupResponseInput = Input<typeof LeaveGroupResponseSpec.fields>;

export function decodeLeaveGroupRequest(r: KafkaReader, version: number): LeaveGroupRequest {
  return decodeMessage(LeaveGroupRequestSpec, r, version);
}

export function encodeLeaveGroupResponse(w: KafkaWriter, version: number, value: LeaveGroupResponseInput): void {
  encodeMessage(LeaveGroupResponseSpec, w, version, value);
}

/** The client side: for the bench's raw client and tests. */
export function encodeLeaveGroupRequest(w: KafkaWriter, version: number, value: LeaveGroupRequestInput): void {
  encodeMessage(LeaveGroupRequestSpec, w, version, value);
}

export function decodeLeaveGroupResponse(r: KafkaReader, version: number): LeaveGroupResponse {
  return decodeMessage(LeaveGroupResponseSpec, r, version);
}
