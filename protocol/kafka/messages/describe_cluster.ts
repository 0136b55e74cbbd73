// DescribeCluster (api key 60), versions 0–1, flexible from v0.
//
// Grammar: each field with the versions it exists in (n+ = from n on);
// [ ] is an array of structs, { } a nested struct. In flexible versions
// strings, bytes and arrays are compact and every struct ends with tagged fields.
//
// DescribeClusterRequest =>
//   includeClusterAuthorizedOperations BOOLEAN 0+
//   endpointType INT8 1+
// DescribeClusterResponse =>
//   throttleTimeMs INT32 0+
//   errorCode INT16 0+
//   errorMessage STRING 0+ (nullable 0+)
//   endpointType INT8 1+
//   clusterId STRING 0+
//   controllerId INT32 0+
//   brokers [ 0+
//     brokerId INT32 0+
//     host STRING 0+
//     port INT32 0+
//     rack STRING 0+ (nullable 0+)
//   ]
//   clusterAuthorizedOperations INT32 0+

import type { KafkaReader } from "../reader.ts";
import { array, decodeMessage, encodeMessage, field, message, type Decoded, type Input } from "../schema.ts";
import { KafkaApiKey } from "../versions.ts";
import type { KafkaWriter } from "../writer.ts";

export const DescribeClusterRequestSpec = message("DescribeClusterRequest", KafkaApiKey.DescribeCluster, [
  field("includeClusterAuthorizedOperations", "bool", "0+"),
  field("endpointType", "int8", "1+", { default: 1 }),
] as const);

export const DescribeClusterResponseSpec = message("DescribeClusterResponse", KafkaApiKey.DescribeCluster, [
  field("throttleTimeMs", "int32", "0+"),
  field("errorCode", "int16", "0+"),
  field("errorMessage", "string", "0+", { nullable: "0+", default: null }),
  field("endpointType", "int8", "1+", { default: 1 }),
  field("clusterId", "string", "0+"),
  field("controllerId", "int32", "0+", { default: -1 }),
  array("brokers", "0+", [
    field("brokerId", "int32", "0+"),
    field("host", "string", "0+"),
    field("port", "int32", "0+"),
    field("rack", "string", "0+", { nullable: "0+", default: null }),
  ]),
  field("clusterAuthorizedOperations", "int32", "0+", { default: -2147483648 }),
] as const);

export type DescribeClusterRequest = Decoded<typeof DescribeClusterRequestSpec.fields>;
export type DescribeClusterRequestInput = Input<typeof DescribeClusterRequestSpec.fields>;
export type DescribeClusterResponse = Decoded<typeof DescribeClusterResponseSpec.fields>;
export type DescribeClusterResponseInput = Input<typeof DescribeClusterResponseSpec.fields>;

export function decodeDescribeClusterRequest(r: KafkaReader, version: number): DescribeClusterRequest {
  return decodeMessage(DescribeClusterRequestSpec, r, version);
}

export function encodeDescribeClusterResponse(w: KafkaWriter, version: number, value: DescribeClusterResponseInput): void {
  encodeMessage(DescribeClusterResponseSpec, w, version, value);
}

/** The client side: for the bench's raw client and tests. */
export function encodeDescribeClusterRequest(w: KafkaWriter, version: number, value: DescribeClusterRequestInput): void {
  encodeMessage(DescribeClusterRequestSpec, w, version, value);
}

export function decodeDescribeClusterResponse(r: KafkaReader, version: number): DescribeClusterResponse {
  return decodeMessage(DescribeClusterResponseSpec, r, version);
}
