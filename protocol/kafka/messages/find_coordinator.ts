// FindCoordinator (api key 10), versions 0–4, flexible from v3.
//
// Grammar: each field with the versions it exists in (n+ = from n on);
// [ ] is an array of structs, { } a nested struct. In flexible versions
// strings, bytes and arrays are compact and every struct ends with tagged fields.
//
// FindCoordinatorRequest =>
//   key STRING 0-3
//   keyType INT8 1+
//   coordinatorKeys [STRING] 4+
// FindCoordinatorResponse =>
//   throttleTimeMs INT32 1+
//   errorCode INT16 0-3
//   errorMessage STRING 1-3 (nullable 1-3)
//   nodeId INT32 0-3
//   host STRING 0-3
//   port INT32 0-3
//   coordinators [ 4+
//     key STRING 4+
//     nodeId INT32 4+
//     host STRING 4+
//     port INT32 4+
//     errorCode INT16 4+
//     errorMessage STRING 4+ (nullable 4+)
//   ]
//
// Before v4 one key per request (key, keyType); from v4 a list (coordinatorKeys)
// answered with a list (coordinators). keyType 0 is a group, 1 a transaction.

import type { KafkaReader } from "../reader.ts";
import { array, arrayOf, decodeMessage, encodeMessage, field, message, type Decoded, type Input } from "../schema.ts";
import { KafkaApiKey } from "../versions.ts";
import type { KafkaWriter } from "../writer.ts";

export const FindCoordinatorRequestSpec = message("FindCoordinatorRequest", KafkaApiKey.FindCoordinator, [
  field("key", "string", "0-3"),
  field("keyType", "int8", "1+", { default: 0 }),
  arrayOf("coordinatorKeys", "string", "4+"),
] as const);

export const FindCoordinatorResponseSpec = message("FindCoordinatorResponse", KafkaApiKey.FindCoordinator, [
  field("throttleTimeMs", "int32", "1+"),
  field("errorCode", "int16", "0-3"),
  field("errorMessage", "string", "1-3", { nullable: "1-3" }),
  field("nodeId", "int32", "0-3"),
  field("host", "string", "0-3"),
  field("port", "int32", "0-3"),
  array("coordinators", "4+", [
    field("key", "string", "4+"),
    field("nodeId", "int32", "4+"),
    field("host", "string", "4+"),
    field("port", "int32", "4+"),
    field("errorCode", "int16", "4+"),
    field("errorMessage", "string", "4+", { nullable: "4+" }),
  ]),
] as const);

export type FindCoordinatorRequest = Decoded<typeof FindCoordinatorRequestSpec.fields>;
export type FindCoordinatorRequestInput = Input<typeof FindCoordinatorRequestSpec.fields>;
export type FindCoordinatorResponse = Decoded<typeof FindCoordinatorResponseSpec.fields>;
export type FindCoordinatorResponseInput = Input<typeof FindCoordinatorResponseSpec.fields>;

export function decodeFindCoordinatorRequest(r: KafkaReader, version: number): FindCoordinatorRequest {
  return decodeMessage(FindCoordinatorRequestSpec, r, version);
}

export function encodeFindCoordinatorResponse(w: KafkaWriter, version: number, value: FindCoordinatorResponseInput): void {
  encodeMessage(FindCoordinatorResponseSpec, w, version, value);
}

/** The client side: for the bench's raw client and tests. */
export function encodeFindCoordinatorRequest(w: KafkaWriter, version: number, value: FindCoordinatorRequestInput): void {
  encodeMessage(FindCoordinatorRequestSpec, w, version, value);
}

export function decodeFindCoordinatorResponse(r: KafkaReader, version: number): FindCoordinatorResponse {
  return decodeMessage(FindCoordinatorResponseSpec, r, version);
}
