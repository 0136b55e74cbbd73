// DeleteTopics (api key 20), versions 1–6, flexible from v4.
//
// Grammar: each field with the versions it exists in (n+ = from n on);
// [ ] is an array of structs, { } a nested struct. In flexible versions
// strings, bytes and arrays are compact and every struct ends with tagged fields.
//
// DeleteTopicsRequest =>
//   topics [ 6+
//     name STRING 6+ (nullable 6+)
//     topicId UUID 6+
//   ]
//   topicNames [STRING] 1-5
//   timeoutMs INT32 1+
// DeleteTopicsResponse =>
//   throttleTimeMs INT32 1+
//   responses [ 1+
//     name STRING 1+ (nullable 6+)
//     topicId UUID 6+
//     errorCode INT16 1+
//     errorMessage STRING 5+ (nullable 5+)
//   ]

import type { KafkaReader } from "../reader.ts";
import { array, arrayOf, decodeMessage, encodeMessage, field, message, type Decoded, type Input } from "../schema.ts";
import { KafkaApiKey } from "../versions.ts";
import type { KafkaWriter } from "../writer.ts";

export const DeleteTopicsRequestSpec = message("DeleteTopicsRequest", KafkaApiKey.DeleteTopics, [
  array("topics", "6+", [
    field("name", "string", "6+", { nullable: "6+", default: null }),
    field("topicId", "uuid", "6+"),
  ]),
  arrayOf("topicNames", "string", "1-5"),
  field("timeoutMs", "int32", "1+"),
] as const);

export const DeleteTopicsResponseSpec = message("DeleteTopicsResponse", KafkaApiKey.DeleteTopics, [
  field("throttleTimeMs", "int32", "1+"),
  array("responses", "1+", [
    field("name", "string", "1+", { nullable: "6+" }),
    field("topicId", "uuid", "6+"),
    field("errorCode", "int16", "1+"),
    field("errorMessage", "string", "5+", { nullable: "5+", default: null }),
  ]),
] as const);

export type DeleteTopicsRequest = Decoded<typeof DeleteTopicsRequestSpec.fields>;
export type DeleteTopicsRequestInput = Input<typeof DeleteTopicsRequestSpec.fields>;
export type DeleteTopicsResponse = Decoded<typeof DeleteTopicsResponseSpec.fields>;
export type DeleteTopicsResponseInput = Input<typeof DeleteTopicsResponseSpec.fields>;

export function decodeDeleteTopicsRequest(r: KafkaReader, version: number): DeleteTopicsRequest {
  return decodeMessage(DeleteTopicsRequestSpec, r, version);
}

export function encodeDeleteTopicsResponse(w: KafkaWriter, version: number, value: DeleteTopicsResponseInput): void {
  encodeMessage(DeleteTopicsResponseSpec, w, version, value);
}

/** The client side: for the bench's raw client and tests. */
export function encodeDeleteTopicsRequest(w: KafkaWriter, version: number, value: DeleteTopicsRequestInput): void {
  encodeMessage(DeleteTopicsRequestSpec, w, version, value);
}

export function decodeDeleteTopicsResponse(r: KafkaReader, version: number): DeleteTopicsResponse {
  return decodeMessage(DeleteTopicsResponseSpec, r, version);
}
