// IncrementalAlterConfigs (api key 44), versions 0–1, flexible from v1.
//
// Grammar: each field with the versions it exists in (n+ = from n on);
// [ ] is an array of structs, { } a nested struct. In flexible versions
// strings, bytes and arrays are compact and every struct ends with tagged fields.
//
// IncrementalAlterConfigsRequest =>
//   resources [ 0+
//     resourceType INT8 0+
//     resourceName STRING 0+
//     configs [ 0+
//       name STRING 0+
//       configOperation INT8 0+
//       value STRING 0+ (nullable 0+)
//     ]
//   ]
//   validateOnly BOOLEAN 0+
// IncrementalAlterConfigsResponse =>
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

export const IncrementalAlterConfigsRequestSpec = message("IncrementalAlterConfigsRequest", KafkaApiKey.IncrementalAlterConfigs, [
  array("resources", "0+", [
    field("resourceType", "int8", "0+"),
    field("resourceName", "string", "0+"),
    array("configs", "0+", [
      field("name", "string", "0+"),
      field("configOperation", "int8", "0+"),
      field("value", "string", "0+", { nullable: "0+" }),
    ]),
  ]),
  field("validateOnly", "bool", "0+"),
] as const);

export const IncrementalAlterConfigsResponseSpec = message("IncrementalAlterConfigsResponse", KafkaApiKey.IncrementalAlterConfigs, [
  field("throttleTimeMs", "int32", "0+"),
  array("responses", "0+", [
    field("errorCode", "int16", "0+"),
    field("errorMessage", "string", "0+", { nullable: "0+" }),
    field("resourceType", "int8", "0+"),
    field("resourceName", "string", "0+"),
  ]),
] as const);

export type IncrementalAlterConfigsRequest = Decoded<typeof IncrementalAlterConfigsRequestSpec.fields>;
export type IncrementalAlterConfigsRequestInput = Input<typeof IncrementalAlterConfigsRequestSpec.fields>;
export type IncrementalAlterConfigsResponse = Decoded<typeof IncrementalAlterConfigsResponseSpec.fields>;
export type IncrementalAlterConfigsResponseInput = Input<typeof IncrementalAlterConfigsResponseSpec.fields>;

export function decodeIncrementalAlterConfigsRequest(r: KafkaReader, version: number): IncrementalAlterConfigsRequest {
  return decodeMessage(IncrementalAlterConfigsRequestSpec, r, version);
}

export function encodeIncrementalAlterConfigsResponse(w: KafkaWriter, version: number, value: IncrementalAlterConfigsResponseInput): void {
  encodeMessage(IncrementalAlterConfigsResponseSpec, w, version, value);
}

/** The client side: for the bench's raw client and tests. */
export function encodeIncrementalAlterConfigsRequest(w: KafkaWriter, version: number, value: IncrementalAlterConfigsRequestInput): void {
  encodeMessage(IncrementalAlterConfigsRequestSpec, w, version, value);
}

export function decodeIncrementalAlterConfigsResponse(r: KafkaReader, version: number): IncrementalAlterConfigsResponse {
  return decodeMessage(IncrementalAlterConfigsResponseSpec, r, version);
}
