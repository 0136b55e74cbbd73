// CreatePartitions (api key 37), versions 0–3, flexible from v2.
//
// Grammar: each field with the versions it exists in (n+ = from n on);
// [ ] is an array of structs, { } a nested struct. In flexible versions
// strings, bytes and arrays are compact and every struct ends with tagged fields.
//
// CreatePartitionsRequest =>
//   topics [ 0+
//     name STRING 0+
//     count INT32 0+
//     assignments [ 0+ (nullable 0+)
//       brokerIds [INT32] 0+
//     ]
//   ]
//   timeoutMs INT32 0+
//   validateOnly BOOLEAN 0+
// CreatePartitionsResponse =>
//   throttleTimeMs INT32 0+
//   results [ 0+
//     name STRING 0+
//     errorCode INT16 0+
//     errorMessage STRING 0+ (nullable 0+)
//   ]

import type { KafkaReader } from "../reader.ts";
import { array, arrayOf, decodeMessage, encodeMessage, field, message, type Decoded, type Input } from "../schema.ts";
import { KafkaApiKey } from "../versions.ts";
import type { KafkaWriter } from "../writer.ts";

export const CreatePartitionsRequestSpec = message("CreatePartitionsRequest", KafkaApiKey.CreatePartitions, [
  array("topics", "0+", [
    field("name", "string", "0+"),
    field("count", "int32", "0+"),
    array("assignments", "0+", [
      arrayOf("brokerIds", "int32", "0+"),
    ], { nullable: "0+" }),
  ]),
  field("timeoutMs", "int32", "0+"),
  field("validateOnly", "bool", "0+"),
] as const);

export const CreatePartitionsResponseSpec = message("CreatePartitionsResponse", KafkaApiKey.CreatePartitions, [
  field("throttleTimeMs", "int32", "0+"),
  array("results", "0+", [
    field("name", "string", "0+"),
    field("errorCode", "int16", "0+"),
    field("errorMessage", "string", "0+", { nullable: "0+", default: null }),
  ]),
] as const);

export type CreatePartitionsRequest = Decoded<typeof CreatePartitionsRequestSpec.fields>;
export type CreatePartitionsRequestInput = Input<typeof CreatePartitionsRequestSpec.fields>;
export type CreatePartitionsResponse = Decoded<typeof CreatePartitionsResponseSpec.fields>;
export type CreatePartitionsResponseInput = Input<typeof CreatePartitionsResponseSpec.fields>;

export function decodeCreatePartitionsRequest(r: KafkaReader, version: number): CreatePartitionsRequest {
  return decodeMessage(CreatePartitionsRequestSpec, r, version);
}

export function encodeCreatePartitionsResponse(w: KafkaWriter, version: number, value: CreatePartitionsResponseInput): void {
  encodeMessage(CreatePartitionsResponseSpec, w, version, value);
}

/** The client side: for the bench's raw client and tests. */
export function encodeCreatePartitionsRequest(w: KafkaWriter, version: number, value: CreatePartitionsRequestInput): void {
  encodeMessage(CreatePartitionsRequestSpec, w, version, value);
}

export function decodeCreatePartitionsResponse(r: KafkaReader, version: number): CreatePartitionsResponse {
  return decodeMessage(CreatePartitionsResponseSpec, r, version);
}
