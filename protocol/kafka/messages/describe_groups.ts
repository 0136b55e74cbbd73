// DescribeGroups (api key 15), versions 0–5, flexible from v5.
//
// Grammar: each field with the versions it exists in (n+ = from n on);
// [ ] is an array of structs, { } a nested struct. In flexible versions
// strings, bytes and arrays are compact and every struct ends with tagged fields.
//
// DescribeGroupsRequest =>
//   groups [STRING] 0+
//   includeAuthorizedOperations BOOLEAN 3+
// DescribeGroupsResponse =>
//   throttleTimeMs INT32 1+
//   groups [ 0+
//     errorCode INT16 0+
//     groupId STRING 0+
//     groupState STRING 0+
//     protocolType STRING 0+
//     protocolData STRING 0+
//     members [ 0+
//       memberId STRING 0+
//       groupInstanceId STRING 4+ (nullable 4+)
//       clientId STRING 0+
//       clientHost STRING 0+
//       memberMetadata BYTES 0+
//       memberAssignment BYTES 0+
//     ]
//     authorizedOperations INT32 3+
//   ]

import type { KafkaReader } from "../reader.ts";
import { array, arrayOf, decodeMessage, encodeMessage, field, message, type Decoded, type Input } from "../schema.ts";
import { KafkaApiKey } from "../versions.ts";
import type { KafkaWriter } from "../writer.ts";

export const DescribeGroupsRequestSpec = message("DescribeGroupsRequest", KafkaApiKey.DescribeGroups, [
  arrayOf("groups", "string", "0+"),
  field("includeAuthorizedOperations", "bool", "3+"),
] as const);

export const DescribeGroupsResponseSpec = message("DescribeGroupsResponse", KafkaApiKey.DescribeGroups, [
  field("throttleTimeMs", "int32", "1+"),
  array("groups", "0+", [
    field("errorCode", "int16", "0+"),
    field("groupId", "string", "0+"),
    field("groupState", "string", "0+"),
    field("protocolType", "string", "0+"),
    field("protocolData", "string", "0+"),
    array("members", "0+", [
      field("memberId", "string", "0+"),
      field("groupInstanceId", "string", "4+", { nullable: "4+", default: null }),
      field("clientId", "string", "0+"),
      field("clientHost", "string", "0+"),
      field("memberMetadata", "bytes", "0+"),
      field("memberAssignment", "bytes", "0+"),
    ]),
    field("authorizedOperations", "int32", "3+", { default: -2147483648 }),
  ]),
] as const);

export type DescribeGroupsRequest = Decoded<typeof DescribeGroupsRequestSpec.fields>;
export type DescribeGroupsRequestInput = Input<typeof DescribeGroupsRequestSpec.fields>;
export type DescribeGroupsResponse = Decoded<typeof DescribeGroupsResponseSpec.fields>;
export type DescribeGroupsResponseInput = Input<typeof DescribeGroupsResponseSpec.fields>;

export function decodeDescribeGroupsRequest(r: KafkaReader, version: number): DescribeGroupsRequest {
  return decodeMessage(DescribeGroupsRequestSpec, r, version);
}

export function encodeDescribeGroupsResponse(w: KafkaWriter, version: number, value: DescribeGroupsResponseInput): void {
  encodeMessage(DescribeGroupsResponseSpec, w, version, value);
}

/** The client side: for the bench's raw client and tests. */
export function encodeDescribeGroupsRequest(w: KafkaWriter, version: number, value: DescribeGroupsRequestInput): void {
  encodeMessage(DescribeGroupsRequestSpec, w, version, value);
}

export function decodeDescribeGroupsResponse(r: KafkaReader, version: number): DescribeGroupsResponse {
  return decodeMessage(DescribeGroupsResponseSpec, r, version);
}
