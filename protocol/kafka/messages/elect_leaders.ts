// ElectLeaders (api key 43), versions 0–2, flexible from v2 (KIP-460 added the
// election type in v1 and the top-level error code of the response).
//
// Grammar: each field with the versions it exists in (n+ = from n on);
// [ ] is an array of structs. In flexible versions strings and arrays are
// compact and every struct ends with tagged fields.
//
// ElectLeadersRequest =>
//   electionType INT8 1+            (0 preferred: the first replica; 1 unclean: any live replica if no ISR)
//   topicPartitions [ 0+ (nullable 0+)   (null: every partition)
//     topic STRING 0+
//     partitions [INT32] 0+
//   ]
//   timeoutMs INT32 0+ (default 60000)
// ElectLeadersResponse =>
//   throttleTimeMs INT32 0+
//   errorCode INT16 1+
//   replicaElectionResults [ 0+
//     topic STRING 0+
//     partitionResult [ 0+
//       partitionId INT32 0+
//       errorCode INT16 0+
//       errorMessage STRING 0+ (nullable 0+)
//     ]
//   ]

import type { KafkaReader } from "../reader.ts";
import { array, arrayOf, decodeMessage, encodeMessage, field, message, type Decoded, type Input } from "../schema.ts";
import { KafkaApiKey } from "../versions.ts";
import type { KafkaWriter } from "../writer.ts";

/** Kafka's election types (ElectionType in the Java client). */
export const KafkaElectionType = { PREFERRED: 0, UNCLEAN: 1 } as const;

export const ElectLeadersRequestSpec = message("ElectLeadersRequest", KafkaApiKey.ElectLeaders, [
  field("electionType", "int8", "1+", { default: KafkaElectionType.PREFERRED }),
  array("topicPartitions", "0+", [
    field("topic", "string", "0+"),
    arrayOf("partitions", "int32", "0+"),
  ], { nullable: "0+", default: null }),
  field("timeoutMs", "int32", "0+", { default: 60_000 }),
] as const);

export const ElectLeadersResponseSpec = message("ElectLeadersResponse", KafkaApiKey.ElectLeaders, [
  field("throttleTimeMs", "int32", "0+"),
  field("errorCode", "int16", "1+"),
  array("replicaElectionResults", "0+", [
    field("topic", "string", "0+"),
    array("partitionResult", "0+", [
      field("partitionId", "int32", "0+"),
      field("errorCode", "int16", "0+"),
      field("errorMessage", "string", "0+", { nullable: "0+", default: null }),
    ]),
  ]),
] as const);

export type ElectLeadersRequest = Decoded<typeof ElectLeadersRequestSpec.fields>;
export type ElectLeadersRequestInput = Input<typeof ElectLeadersRequestSpec.fields>;
export type ElectLeadersResponse = Decoded<typeof ElectLeadersResponseSpec.fields>;
export type ElectLeadersResponseInput = Input<typeof ElectLeadersResponseSpec.fields>;

export function decodeElectLeadersRequest(r: KafkaReader, version: number): ElectLeadersRequest {
  return decodeMessage(ElectLeadersRequestSpec, r, version);
}

export function encodeElectLeadersResponse(w: KafkaWriter, version: number, value: ElectLeadersResponseInput): void {
  encodeMessage(ElectLeadersResponseSpec, w, version, value);
}

/** The client side: for tests. */
export function encodeElectLeadersRequest(w: KafkaWriter, version: number, value: ElectLeadersRequestInput): void {
  encodeMessage(ElectLeadersRequestSpec, w, version, value);
}

export function decodeElectLeadersResponse(r: KafkaReader, version: number): ElectLeadersResponse {
  return decodeMessage(ElectLeadersResponseSpec, r, version);
}
