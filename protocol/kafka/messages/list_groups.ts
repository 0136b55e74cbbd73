// ListGroups (api key 16), versions 0–4, flexible from v3.
//
// Grammar: each field with the versions it exists in (n+ = from n on);
// [ ] is an array of structs, { } a nested struct. In flexible versions
// strings, bytes and arrays are compact and every struct ends with tagged fields.
//
// ListGroupsRequest =>
//   statesFilter [STRING] 4+
// ListGroupsResponse =>
//   throttleTimeMs INT32 1+
//   errorCode INT16 0+
//   groups [ 0+
//     groupId STRING 0+
//     protocolType STRING 0+
//     groupState STRING 4+
//   ]

import type { KafkaReader } from "../reader.ts";
import { array, arrayOf, decodeMessage, encodeMessage, field, message, type Decoded, type Input } from "../schema.ts";
import { KafkaApiKey } from "../versions.ts";
import type { KafkaWriter } from "../writer.ts";

export const ListGroupsRequestSpec = message("ListGroupsRequest", KafkaApiKey.ListGroups, [
  arrayOf("statesFilter", "string", "4+"),
] as const);

export const ListGroupsResponseSpec = message("ListGroupsResponse", KafkaApiKey.ListGroups, [
  field("throttleTimeMs", "int32", "1+"),
  field("errorCode", "int16", "0+"),
  array("groups", "0+", [
    field("groupId", "string", "0+"),
    field("protocolType", "string", "0+"),
    field("groupState", "string", "4+"),
  ]),
] as const);

export type ListGroupsRequest = Decoded<typeof ListGroupsRequestSpec.fields>;
export type ListGroupsRequestInput = Input<typeof ListGroupsRequestSpec.fields>;
export type ListGroupsResponse = Decoded<typeof ListGroupsResponseSpec.fields>;
export type ListGroupsResponseInput = Input<typeof ListGroupsResponseSpec.fields>;

export function decodeListGroupsRequest(r: KafkaReader, version: number): ListGroupsRequest {
  return decodeMessage(ListGroupsRequestSpec, r, version);
}

export function encodeListGroupsResponse(w: KafkaWriter, version: number, value: ListGroupsResponseInput): void {
  encodeMessage(ListGroupsResponseSpec, w, version, value);
}

/** The client side: for the bench's raw client and tests. */
export function encodeListGroupsRequest(w: KafkaWriter, version: number, value: ListGroupsRequestInput): void {
  encodeMessage(ListGroupsRequestSpec, w, version, value);
}

export function decodeListGroupsResponse(r: KafkaReader, version: number): ListGroupsResponse {
  return decodeMessage(ListGroupsResponseSpec, r, version);
}
