// DescribeConfigs (api key 32), versions 0–4, flexible from v4.
//
// Grammar: each field with the versions it exists in (n+ = from n on);
// [ ] is an array of structs, { } a nested struct. In flexible versions
// strings, bytes and arrays are compact and every struct ends with tagged fields.
//
// DescribeConfigsRequest =>
//   resources [ 0+
//     resourceType INT8 0+
//     resourceName STRING 0+
//     configurationKeys [STRING] 0+ (nullable 0+)
//   ]
//   includeSynonyms BOOLEAN 1+
//   includeDocumentation BOOLEAN 3+
// DescribeConfigsResponse =>
//   throttleTimeMs INT32 0+
//   results [ 0+
//     errorCode INT16 0+
//     errorMessage STRING 0+ (nullable 0+)
//     resourceType INT8 0+
//     resourceName STRING 0+
//     configs [ 0+
//       name STRING 0+
//       value STRING 0+ (nullable 0+)
//       readOnly BOOLEAN 0+
//       isDefault BOOLEAN 0
//       configSource INT8 1+
//       isSensitive BOOLEAN 0+
//       synonyms [ 1+
//         name STRING 1+
//         value STRING 1+ (nullable 0+)
//         source INT8 1+
//       ]
//       configType INT8 3+
//       documentation STRING 3+ (nullable 0+)
//     ]
//   ]
//
// resourceType: 2 topic, 4 broker. configurationKeys null asks for all.

import type { KafkaReader } from "../reader.ts";
import { array, arrayOf, decodeMessage, encodeMessage, field, message, type Decoded, type Input } from "../schema.ts";
import { KafkaApiKey } from "../versions.ts";
import type { KafkaWriter } from "../writer.ts";

export const DescribeConfigsRequestSpec = message("DescribeConfigsRequest", KafkaApiKey.DescribeConfigs, [
  array("resources", "0+", [
    field("resourceType", "int8", "0+"),
    field("resourceName", "string", "0+"),
    arrayOf("configurationKeys", "string", "0+", { nullable: "0+" }),
  ]),
  field("includeSynonyms", "bool", "1+", { default: false }),
  field("includeDocumentation", "bool", "3+", { default: false }),
] as const);

export const DescribeConfigsResponseSpec = message("DescribeConfigsResponse", KafkaApiKey.DescribeConfigs, [
  field("throttleTimeMs", "int32", "0+"),
  array("results", "0+", [
    field("errorCode", "int16", "0+"),
    field("errorMessage", "string", "0+", { nullable: "0+" }),
    field("resourceType", "int8", "0+"),
    field("resourceName", "string", "0+"),
    array("configs", "0+", [
      field("name", "string", "0+"),
      field("value", "string", "0+", { nullable: "0+" }),
      field("readOnly", "bool", "0+"),
      field("isDefault", "bool", "0"),
      field("configSource", "int8", "1+", { default: -1 }),
      field("isSensitive", "bool", "0+"),
      array("synonyms", "1+", [
        field("name", "string", "1+"),
        field("value", "string", "1+", { nullable: "0+" }),
        field("source", "int8", "1+"),
      ]),
      field("configType", "int8", "3+", { default: 0 }),
      field("documentation", "string", "3+", { nullable: "0+" }),
    ]),
  ]),
] as const);

export type DescribeConfigsRequest = Decoded<typeof DescribeConfigsRequestSpec.fields>;
export type DescribeConfigsRequestInput = Input<typeof DescribeConfigsRequestSpec.fields>;
export type DescribeConfigsResponse = Decoded<typeof DescribeConfigsResponseSpec.fields>;
export type DescribeConfigsResponseInput = Input<typeof DescribeConfigsResponseSpec.fields>;

export function decodeDescribeConfigsRequest(r: KafkaReader, version: number): DescribeConfigsRequest {
  return decodeMessage(DescribeConfigsRequestSpec, r, version);
}

export function encodeDescribeConfigsResponse(w: KafkaWriter, version: number, value: DescribeConfigsResponseInput): void {
  encodeMessage(DescribeConfigsResponseSpec, w, version, value);
}

/** The client side: for the bench's raw client and tests. */
export function encodeDescribeConfigsRequest(w: KafkaWriter, version: number, value: DescribeConfigsRequestInput): void {
  encodeMessage(DescribeConfigsRequestSpec, w, version, value);
}

export function decodeDescribeConfigsResponse(r: KafkaReader, version: number): DescribeConfigsResponse {
  return decodeMessage(DescribeConfigsResponseSpec, r, version);
}
