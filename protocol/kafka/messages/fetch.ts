// Fetch (api key 1), versions 4–12, flexible from v12.
//
// Grammar: each field with the versions it exists in (n+ = from n on);
// [ ] is an array of structs, { } a nested struct. In flexible versions
// strings, bytes and arrays are compact and every struct ends with tagged fields.
//
// FetchRequest =>
//   clusterId STRING 12+ (nullable 12+, tag 0)
//   replicaId INT32 4+
//   maxWaitMs INT32 4+
//   minBytes INT32 4+
//   maxBytes INT32 4+
//   isolationLevel INT8 4+
//   sessionId INT32 7+
//   sessionEpoch INT32 7+
//   topics [ 4+
//     topic STRING 4-12
//     partitions [ 4+
//       partition INT32 4+
//       currentLeaderEpoch INT32 9+
//       fetchOffset INT64 4+
//       lastFetchedEpoch INT32 12+
//       logStartOffset INT64 5+
//       partitionMaxBytes INT32 4+
//     ]
//   ]
//   forgottenTopicsData [ 7+
//     topic STRING 7-12
//     partitions [INT32] 7+
//   ]
//   rackId STRING 11+
// FetchResponse =>
//   throttleTimeMs INT32 4+
//   errorCode INT16 7+
//   sessionId INT32 7+
//   responses [ 4+
//     topic STRING 4-12
//     partitions [ 4+
//       partitionIndex INT32 4+
//       errorCode INT16 4+
//       highWatermark INT64 4+
//       lastStableOffset INT64 4+
//       logStartOffset INT64 5+
//       divergingEpoch { 12+ (tag 0)
//         epoch INT32 12+
//         endOffset INT64 12+
//       }
//       currentLeader { 12+ (tag 1)
//         leaderId INT32 12+
//         leaderEpoch INT32 12+
//       }
//       snapshotId { 12+ (tag 2)
//         endOffset INT64 4+
//         epoch INT32 4+
//       }
//       abortedTransactions [ 4+ (nullable 4+)
//         producerId INT64 4+
//         firstOffset INT64 4+
//       ]
//       preferredReadReplica INT32 11+
//       records RECORDS 4+ (nullable 4+)
//     ]
//   ]
//
// records are written as they were stored: the writer splices each partition's
// stored bytes in as their own segment (KafkaWriter.appendView), so a response is
// a few hundred bytes of fields around views of the stored batches, written out
// with no copy. Sessions (sessionId/sessionEpoch, KIP-227) are answered as
// "no session" (sessionId 0), which every client supports.

import type { KafkaReader } from "../reader.ts";
import { array, arrayOf, decodeMessage, encodeMessage, field, message, struct, type Decoded, type Input } from "../schema.ts";
import { KafkaApiKey } from "../versions.ts";
import type { KafkaWriter } from "../writer.ts";

export const FetchRequestSpec = message("FetchRequest", KafkaApiKey.Fetch, [
  field("clusterId", "string", "12+", { nullable: "12+", tag: 0, default: null }),
  field("replicaId", "int32", "4+", { default: -1 }),
  field("maxWaitMs", "int32", "4+"),
  field("minBytes", "int32", "4+"),
  field("maxBytes", "int32", "4+", { default: 2147483647 }),
  field("isolationLevel", "int8", "4+", { default: 0 }),
  field("sessionId", "int32", "7+", { default: 0 }),
  field("sessionEpoch", "int32", "7+", { default: -1 }),
  array("topics", "4+", [
    field("topic", "string", "4-12"),
    array("partitions", "4+", [
      field("partition", "int32", "4+"),
      field("currentLeaderEpoch", "int32", "9+", { default: -1 }),
      field("fetchOffset", "int64", "4+"),
      field("lastFetchedEpoch", "int32", "12+", { default: -1 }),
      field("logStartOffset", "int64", "5+", { default: -1n }),
      field("partitionMaxBytes", "int32", "4+"),
    ]),
  ]),
  array("forgottenTopicsData", "7+", [
    field("topic", "string", "7-12"),
    arrayOf("partitions", "int32", "7+"),
  ]),
  field("rackId", "string", "11+", { default: "" }),
] as const);

export const FetchResponseSpec = message("FetchResponse", KafkaApiKey.Fetch, [
  field("throttleTimeMs", "int32", "4+"),
  field("errorCode", "int16", "7+"),
  field("sessionId", "int32", "7+", { default: 0 }),
  array("responses", "4+", [
    field("topic", "string", "4-12"),
    array("partitions", "4+", [
      field("partitionIndex", "int32", "4+"),
      field("errorCode", "int16", "4+"),
      field("highWatermark", "int64", "4+"),
      field("lastStableOffset", "int64", "4+", { default: -1n }),
      field("logStartOffset", "int64", "5+", { default: -1n }),
      struct("divergingEpoch", "12+", [
        field("epoch", "int32", "12+", { default: -1 }),
        field("endOffset", "int64", "12+", { default: -1n }),
      ], { tag: 0 }),
      struct("currentLeader", "12+", [
        field("leaderId", "int32", "12+", { default: -1 }),
        field("leaderEpoch", "int32", "12+", { default: -1 }),
      ], { tag: 1 }),
      struct("snapshotId", "12+", [
        field("endOffset", "int64", "4+", { default: -1n }),
        field("epoch", "int32", "4+", { default: -1 }),
      ], { tag: 2 }),
      array("abortedTransactions", "4+", [
        field("producerId", "int64", "4+"),
        field("firstOffset", "int64", "4+"),
      ], { nullable: "4+" }),
      field("preferredReadReplica", "int32", "11+", { default: -1 }),
      field("records", "records", "4+", { nullable: "4+" }),
    ]),
  ]),
] as const);

export type FetchRequest = Decoded<typeof FetchRequestSpec.fields>;
export type FetchRequestInput = Input<typeof FetchRequestSpec.fields>;
export type FetchResponse = Decoded<typeof FetchResponseSpec.fields>;
export type FetchResponseInput = Input<typeof FetchResponseSpec.fields>;

export function decodeFetchRequest(r: KafkaReader, version: number): FetchRequest {
  return decodeMessage(FetchRequestSpec, r, version);
}

export function encodeFetchResponse(w: KafkaWriter, version: number, value: FetchResponseInput): void {
  encodeMessage(FetchResponseSpec, w, version, value);
}

/** The client side: for the bench's raw client and tests. */
export function encodeFetchRequest(w: KafkaWriter, version: number, value: FetchRequestInput): void {
  encodeMessage(FetchRequestSpec, w, version, value);
}

export function decodeFetchResponse(r: KafkaReader, version: number): FetchResponse {
  return decodeMessage(FetchResponseSpec, r, version);
}
