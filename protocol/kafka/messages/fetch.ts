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

import { StringCache } from "../../codec.ts";
import type { KafkaReader } from "../reader.ts";
import { array, arrayOf, checkVersion, decodeMessage, encodeMessage, field, message, struct, type Decoded, type Input } from "../schema.ts";
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

/** The client side: for the bench's raw client and tests. */
export function encodeFetchRequest(w: KafkaWriter, version: number, value: FetchRequestInput): void {
  encodeMessage(FetchRequestSpec, w, version, value);
}

export function decodeFetchResponse(r: KafkaReader, version: number): FetchResponse {
  return decodeMessage(FetchResponseSpec, r, version);
}

// ---- The hot path, by hand ----
// Fetch requests and responses are the read path's messages; the table-driven
// codec costs ~1 µs per message in lookups and branches, these a fraction of
// it. messages.test.ts checks that both give the same bytes and values at
// every version, so the table above stays the one definition.

const topicNames = new StringCache();

/** Smallest partition entry of a request: partition, fetchOffset, partitionMaxBytes. */
const REQUEST_PARTITION_BYTES_MIN = 16;

let taggedClusterId: string | null = null;
function readRequestTag(tag: number, r: KafkaReader): void {
  if (tag === 0) taggedClusterId = r.compactNullableString("clusterId");
}

export function decodeFetchRequest(r: KafkaReader, version: number): FetchRequest {
  checkVersion(FetchRequestSpec, version);
  const flexible = version >= FetchRequestSpec.firstFlexibleVersion;
  const replicaId = r.int32("replicaId");
  const maxWaitMs = r.int32("maxWaitMs");
  const minBytes = r.int32("minBytes");
  const maxBytes = r.int32("maxBytes");
  const isolationLevel = r.int8("isolationLevel");
  let sessionId = 0;
  let sessionEpoch = -1;
  if (version >= 7) {
    sessionId = r.int32("sessionId");
    sessionEpoch = r.int32("sessionEpoch");
  }
  const topicCount = flexible ? r.compactArrayLength("topics") : r.arrayLength("topics");
  const topics: FetchRequest["topics"] = [];
  for (let t = 0; t < topicCount; t++) {
    const topic = r.stringCached("topics.topic", flexible, topicNames);
    const partitionCount = flexible
      ? r.compactArrayLength("topics.partitions", false, REQUEST_PARTITION_BYTES_MIN)
      : r.arrayLength("topics.partitions", false, REQUEST_PARTITION_BYTES_MIN);
    const partitions: FetchRequest["topics"][number]["partitions"] = [];
    for (let p = 0; p < partitionCount; p++) {
      const partition = r.int32("partitions.partition");
      const currentLeaderEpoch = version >= 9 ? r.int32("partitions.currentLeaderEpoch") : -1;
      const fetchOffset = r.int64("partitions.fetchOffset");
      const lastFetchedEpoch = version >= 12 ? r.int32("partitions.lastFetchedEpoch") : -1;
      const logStartOffset = version >= 5 ? r.int64("partitions.logStartOffset") : -1n;
      const partitionMaxBytes = r.int32("partitions.partitionMaxBytes");
      if (flexible) r.taggedFields("partitions._tagged_fields");
      partitions.push({ partition, currentLeaderEpoch, fetchOffset, lastFetchedEpoch, logStartOffset, partitionMaxBytes });
    }
    if (flexible) r.taggedFields("topics._tagged_fields");
    topics.push({ topic, partitions });
  }
  const forgottenTopicsData: FetchRequest["forgottenTopicsData"] = [];
  if (version >= 7) {
    const n = flexible ? r.compactArrayLength("forgottenTopicsData") : r.arrayLength("forgottenTopicsData");
    for (let i = 0; i < n; i++) {
      const topic = flexible ? r.compactString("forgottenTopicsData.topic") : r.string("forgottenTopicsData.topic");
      const count = flexible
        ? r.compactArrayLength("forgottenTopicsData.partitions", false, 4)
        : r.arrayLength("forgottenTopicsData.partitions", false, 4);
      const partitions: number[] = [];
      for (let p = 0; p < count; p++) partitions.push(r.int32("forgottenTopicsData.partitions"));
      if (flexible) r.taggedFields("forgottenTopicsData._tagged_fields");
      forgottenTopicsData.push({ topic, partitions });
    }
  }
  let rackId = "";
  if (version >= 11) rackId = flexible ? r.compactString("rackId") : r.string("rackId");
  let clusterId: string | null = null;
  if (flexible) {
    taggedClusterId = null;
    r.taggedFields("_tagged_fields", readRequestTag);
    clusterId = taggedClusterId;
  }
  r.expectEnd("FetchRequest");
  return {
    clusterId,
    replicaId,
    maxWaitMs,
    minBytes,
    maxBytes,
    isolationLevel,
    sessionId,
    sessionEpoch,
    topics,
    forgottenTopicsData,
    rackId,
  };
}

const NO_RECORDS = new Uint8Array(0);

/**
 * Encodes a Fetch response. Each partition's records are spliced into the
 * writer as they are (KafkaWriter.appendView): write the result with
 * writer.pieces() to send the stored bytes without a copy. Records left out
 * or null are written as empty, never as null: librdkafka 2.0.2 refuses a null
 * records field ("invalid MessageSetSize -1"), and Kafka never sends one.
 */
export function encodeFetchResponse(w: KafkaWriter, version: number, value: FetchResponseInput): void {
  if (needsTaggedPartitionFields(value)) {
    // Diverging epochs, leader hints and snapshot ids (tagged, v12+) are rare: the table-driven codec writes them.
    encodeMessage(FetchResponseSpec, w, version, withEmptyRecords(value));
    return;
  }
  const [lo, hi] = FetchResponseSpec.validVersions;
  if (version < lo || version > hi) throw new RangeError(`FetchResponse: version ${version} is outside ${lo}..${hi}`);
  const flexible = version >= FetchResponseSpec.firstFlexibleVersion;
  w.int32(value.throttleTimeMs ?? 0);
  if (version >= 7) w.int16(value.errorCode ?? 0).int32(value.sessionId ?? 0);
  const responses = value.responses ?? [];
  if (flexible) w.compactArrayLength(responses.length);
  else w.arrayLength(responses.length);
  for (const t of responses) {
    if (flexible) w.compactString(t.topic ?? "");
    else w.string(t.topic ?? "");
    const parts = t.partitions ?? [];
    if (flexible) w.compactArrayLength(parts.length);
    else w.arrayLength(parts.length);
    for (const p of parts) {
      w.int32(p.partitionIndex ?? 0).int16(p.errorCode ?? 0).int64(p.highWatermark ?? 0n).int64(p.lastStableOffset ?? -1n);
      if (version >= 5) w.int64(p.logStartOffset ?? -1n);
      const aborted = p.abortedTransactions;
      if (aborted === null || aborted === undefined) {
        if (flexible) w.compactArrayLength(-1);
        else w.arrayLength(-1);
      } else {
        if (flexible) w.compactArrayLength(aborted.length);
        else w.arrayLength(aborted.length);
        for (const a of aborted) {
          w.int64(a.producerId ?? 0n).int64(a.firstOffset ?? 0n);
          if (flexible) w.emptyTaggedFields();
        }
      }
      if (version >= 11) w.int32(p.preferredReadReplica ?? -1);
      const records = p.records ?? NO_RECORDS;
      if (flexible) w.compactBytes(records);
      else w.bytesField(records);
      if (flexible) w.emptyTaggedFields();
    }
    if (flexible) w.emptyTaggedFields();
  }
  if (flexible) w.emptyTaggedFields();
}

function needsTaggedPartitionFields(value: FetchResponseInput): boolean {
  for (const t of value.responses ?? []) {
    for (const p of t.partitions ?? []) {
      if (p.divergingEpoch !== undefined || p.currentLeader !== undefined || p.snapshotId !== undefined) return true;
    }
  }
  return false;
}

function withEmptyRecords(value: FetchResponseInput): FetchResponseInput {
  return {
    ...value,
    responses: (value.responses ?? []).map((t) => ({
      ...t,
      partitions: (t.partitions ?? []).map((p) => ({ ...p, records: p.records ?? NO_RECORDS })),
    })),
  };
}

/**
 * What a broker found for each partition of a Fetch request, flat over the
 * request's topics and partitions in request order (encodeFetchResults).
 * Partition i's records are `records[starts[i], starts[i] + lengths[i])`.
 */
export interface FetchResults {
  readonly codes: Int16Array;
  readonly highWatermarks: Float64Array;
  readonly logStartOffsets: Float64Array;
  readonly records: Uint8Array;
  readonly starts: Int32Array;
  readonly lengths: Int32Array;
}

/**
 * The broker's Fetch response, written straight from the request and the
 * per-partition results: the bytes encodeFetchResponse writes for the same
 * values (throttle 0, no top-level error, no session, the last stable offset
 * = the high watermark, aborted transactions null — an empty array when the
 * request is read_committed —, no preferred replica), without building a
 * response object, an array or a bigint per partition. Records are spliced
 * as views (KafkaWriter.appendView), as there.
 */
export function encodeFetchResults(w: KafkaWriter, version: number, request: FetchRequest, results: FetchResults): void {
  const [lo, hi] = FetchResponseSpec.validVersions;
  if (version < lo || version > hi) throw new RangeError(`FetchResponse: version ${version} is outside ${lo}..${hi}`);
  const flexible = version >= FetchResponseSpec.firstFlexibleVersion;
  const readCommitted = request.isolationLevel === 1;
  const { codes, highWatermarks, logStartOffsets, records, starts, lengths } = results;
  w.int32(0);
  if (version >= 7) w.int16(0).int32(0);
  const topics = request.topics;
  if (flexible) w.compactArrayLength(topics.length);
  else w.arrayLength(topics.length);
  let i = 0;
  for (let t = 0; t < topics.length; t++) {
    const topic = topics[t];
    if (flexible) w.compactString(topic.topic);
    else w.string(topic.topic);
    const parts = topic.partitions;
    if (flexible) w.compactArrayLength(parts.length);
    else w.arrayLength(parts.length);
    for (let p = 0; p < parts.length; p++, i++) {
      const hw = highWatermarks[i];
      w.int32(parts[p].partition).int16(codes[i]).int64Number(hw).int64Number(hw);
      if (version >= 5) w.int64Number(logStartOffsets[i]);
      // Aborted transactions: none (no transactions); null unless read_committed, as Kafka sends.
      if (flexible) w.compactArrayLength(readCommitted ? 0 : -1);
      else w.arrayLength(readCommitted ? 0 : -1);
      if (version >= 11) w.int32(-1);
      const view = records.subarray(starts[i], starts[i] + lengths[i]);
      if (flexible) w.compactBytes(view).emptyTaggedFields();
      else w.bytesField(view);
    }
    if (flexible) w.emptyTaggedFields();
  }
  if (flexible) w.emptyTaggedFields();
}
