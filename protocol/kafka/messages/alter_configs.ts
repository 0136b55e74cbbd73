// AlterConfigs (api key 33), versions 0–2, flexible from v2.
//
// Grammar: each field with the versions it exists in (n+ = from n on);
// [ ] is an array of structs, { } a nested struct. In flexible versions
// strings, bytes and arrays are compact and every struct ends with tagged fields.
//
// AlterConfigsRequest =>
//   resources [ 0+
//     resourceType INT8 0+
//     resourceName STRING 0+
//     configs [ 0+
//       name STRING 0+
//       value STRING 0+ (nullable 0+)
//     ]
//   ]
//   validateOnly BOOLEAN 0+
// AlterConfigsResponse =>
//   throttleTimeMs INT32 0+
//   responses [ 0+
//     errorCode INT16 0+
//     errorMessage STRING 0+ (nullable 0+)
//     resourceType INT8 0+
//     resourceName STRING 0+
//   ]

import type { KafkaReader } from "../reader.ts";
import { array, decodeMessage, encodeMessage, field, message, type Decoded, type Input } from "../schema.ts";
import { KafkaApiKey } from "../versions.ts";
import type { KafkaWriter } from "../writer.ts";

export const AlterConfigsRequestSpec = message("AlterConfigsRequest", KafkaApiKey.AlterConfigs, [
  array("resources", "0+", [
    field("resourceType", "int8", "0+"),
    field("resourceName", "string", "0+"),
    array("configs", "0+", [
      field("name", "string", "0+"),
      field("value", "string", "0+", { nullable: "0+" }),
    ]),
  ]),
  field("validateOnly", "bool", "0+"),
] as const);

export const AlterConfigsResponseSpec = message("AlterConfigsResponse", KafkaApiKey.AlterConfigs, [
  field("throttleTimeMs", "int32", "0+"),
  array("responses", "0+", [
    field("errorCode", "int16", "0+"),
    field("errorMessage", "string", "0+", { nullable: "0+" }),
    field("resourceType", "int8", "0+"),
    field("resourceName", "string", "0+"),
  ]),
] as const);

export type AlterConfigsRequest = Decoded<typeof AlterConfigsRequestSpec.fields>;
export type AlterConfigsRequestInput = Input<typeof AlterConfigsRequestSpec.fields>;
export type AlterConfigsResponse = Decoded<typeof AlterConfigsResponseSpec.fields>;
export type AlterConfigsResponseInput = Input<typeof AlterConfigsResponseSpec.fields>;

export function decodeAlterConfigsRequest(r: KafkaReader, version: number): AlterConfigsRequest {
  return decodeMessage(AlterConfigsRequestSpec, r, version);
}

export function encodeAlterConfigsResponse(w: KafkaWriter, version: number, value: AlterConfigsResponseInput): void {
  encodeMessage(AlterConfigsResponseSpec, w, version, value);
}

/** The client side: for the bench's raw client and tests. */
export function encodeAlterConfigsRequest(w: KafkaWriter, version: number, value: AlterConfigsRequestInput): void {
  encodeMessage(AlterConfigsRequestSpec, w, version, value);
}

export function decodeAlterConfigsResponse(r: KafkaReader, version: number): AlterConfigsResponse {
  return decodeMessage(AlterConfigsResponseSpec, r, version);
}
