// Heartbeat (api key 12), versions 0–4, flexible from v4.
//
// Grammar: each field with the versions it exists in (n+ = from n on);
// [ ] is an array of structs, { } a nested struct. In flexible versions
// strings, bytes and arrays are compact and every struct ends with tagged fields.
//
// HeartbeatRequest =>
//   groupId STRING 0+
//   generationId INT32 0+
//   memberId STRING 0+
//   groupInstanceId STRING 3+ (nullable 3+)
// HeartbeatResponse =>
//   throttleTimeMs INT32 1+
//   errorCode INT16 0+

import type { KafkaReader } from "../reader.ts";
import { decodeMessage, encodeMessage, field, message, type Decoded, type Input } from "../schema.ts";
import { KafkaApiKey } from "../versions.ts";
import type { KafkaWriter } from "../writer.ts";

export const HeartbeatRequestSpec = message("HeartbeatRequest", KafkaApiKey.Heartbeat, [
  field("groupId", "string", "0+"),
  field("generationId", "int32", "0+"),
  field("memberId", "string", "0+"),
  field("groupInstanceId", "string", "3+", { nullable: "3+", default: null }),
] as const);

export const HeartbeatResponseSpec = message("HeartbeatResponse", KafkaApiKey.Heartbeat, [
  field("throttleTimeMs", "int32", "1+"),
  field("errorCode", "int16", "0+"),
] as const);

export type HeartbeatRequest = Decoded<typeof HeartbeatRequestSpec.fields>;
export type HeartbeatRequestInput = Input<typeof HeartbeatRequestSpec.fields>;
export type HeartbeatResponse = Decoded<typeof HeartbeatResponseSpec.fields>;
export type HeartbeatResponseInput = Input<typeof HeartbeatResponseSpec.fields>;

export function decodeHeartbeatRequest(r: KafkaReader, version: number): HeartbeatRequest {
  return decodeMessage(HeartbeatRequestSpec, r, version);
}

export function encodeHeartbeatResponse(w: KafkaWriter, version: number, value: HeartbeatResponseInput): void {
  encodeMessage(HeartbeatResponseSpec, w, version, value);
}

/** The client side: for the bench's raw client and tests. */
export function encodeHeartbeatRequest(w: KafkaWriter, version: number, value: HeartbeatRequestInput): void {
  encodeMessage(HeartbeatRequestSpec, w, version, value);
}

export function decodeHeartbeatResponse(r: KafkaReader, version: number): HeartbeatResponse {
  return decodeMessage(HeartbeatResponseSpec, r, version);
}
