// Produce (api key 0), versions 0–9, flexible from v9.
//
// Grammar: each field with the versions it exists in (n+ = from n on);
// [ ] is an array of structs, { } a nested struct. In flexible versions
// strings, bytes and arrays are compact and every struct ends with tagged fields.
//
// ProduceRequest =>
//   transactionalId STRING 3+ (nullable 3+)
//   acks INT16 0+
//   timeoutMs INT32 0+
//   topicData [ 0+
//     name STRING 0+
//     partitionData [ 0+
//       index INT32 0+
//       records RECORDS 0+ (nullable 0+)
//     ]
//   ]
// ProduceResponse =>
//   responses [ 0+
//     name STRING 0+
//     partitionResponses [ 0+
//       index INT32 0+
//       errorCode INT16 0+
//       baseOffset INT64 0+
//       logAppendTimeMs INT64 2+
//       logStartOffset INT64 5+
//       recordErrors [ 8+
//         batchIndex INT32 8+
//         batchIndexErrorMessage STRING 8+ (nullable 8+)
//       ]
//       errorMessage STRING 8+ (nullable 8+)
//     ]
//   ]
//   throttleTimeMs INT32 1+
//
// records is the RecordBatch bytes as the client sent them, returned as a view of
// the request frame: not copied, not re-encoded. The broker stores v2 batches
// only, so it answers v0–2 (message sets) with UNSUPPORTED_VERSION, though the
// codec reads them. acks: 0 (no response is sent), 1, or -1 (all).

import { StringCache } from "../../codec.ts";
import type { KafkaReader } from "../reader.ts";
import { array, checkVersion, decodeMessage, encodeMessage, field, message, type Decoded, type Input } from "../schema.ts";
import { KafkaApiKey } from "../versions.ts";
import type { KafkaWriter } from "../writer.ts";

export const ProduceRequestSpec = message("ProduceRequest", KafkaApiKey.Produce, [
  field("transactionalId", "string", "3+", { nullable: "3+", default: null }),
  field("acks", "int16", "0+"),
  field("timeoutMs", "int32", "0+"),
  array("topicData", "0+", [
    field("name", "string", "0+"),
    array("partitionData", "0+", [
      field("index", "int32", "0+"),
      field("records", "records", "0+", { nullable: "0+" }),
    ]),
  ]),
] as const);

export const ProduceResponseSpec = message("ProduceResponse", KafkaApiKey.Produce, [
  array("responses", "0+", [
    field("name", "string", "0+"),
    array("partitionResponses", "0+", [
      field("index", "int32", "0+"),
      field("errorCode", "int16", "0+"),
      field("baseOffset", "int64", "0+"),
      field("logAppendTimeMs", "int64", "2+", { default: -1n }),
      field("logStartOffset", "int64", "5+", { default: -1n }),
      array("recordErrors", "8+", [
        field("batchIndex", "int32", "8+"),
        field("batchIndexErrorMessage", "string", "8+", { nullable: "8+", default: null }),
      ]),
      field("errorMessage", "string", "8+", { nullable: "8+", default: null }),
    ]),
  ]),
  field("throttleTimeMs", "int32", "1+", { default: 0 }),
] as const);

export type ProduceRequest = Decoded<typeof ProduceRequestSpec.fields>;
export type ProduceRequestInput = Input<typeof ProduceRequestSpec.fields>;
export type ProduceResponse = Decoded<typeof ProduceResponseSpec.fields>;
export type ProduceResponseInput = Input<typeof ProduceResponseSpec.fields>;

/** The client side: for the bench's raw client and tests. */
export function encodeProduceRequest(w: KafkaWriter, version: number, value: ProduceRequestInput): void {
  encodeMessage(ProduceRequestSpec, w, version, value);
}

export function decodeProduceResponse(r: KafkaReader, version: number): ProduceResponse {
  return decodeMessage(ProduceResponseSpec, r, version);
}

// ---- The hot path, by hand ----
// Produce requests and their responses are the broker's busiest messages; the
// table-driven codec costs ~1 µs per message in lookups and branches, these
// a fraction of it. messages.test.ts checks that both give the same bytes and
// values at every version, so the table above stays the one definition.

const topicNames = new StringCache();

/** Decodes a Produce request; each partition's records are a view of the frame (no copy). */
export function decodeProduceRequest(r: KafkaReader, version: number): ProduceRequest {
  checkVersion(ProduceRequestSpec, version);
  const flexible = version >= ProduceRequestSpec.firstFlexibleVersion;
  let transactionalId: string | null = null;
  if (version >= 3) transactionalId = flexible ? r.compactNullableString("transactionalId") : r.nullableString("transactionalId");
  const acks = r.int16("acks");
  const timeoutMs = r.int32("timeoutMs");
  const topicCount = flexible ? r.compactArrayLength("topicData") : r.arrayLength("topicData");
  const topicData: ProduceRequest["topicData"] = [];
  for (let t = 0; t < topicCount; t++) {
    const name = r.stringCached("topicData.name", flexible, topicNames);
    const partitionCount = flexible
      ? r.compactArrayLength("topicData.partitionData", false, PARTITION_BYTES_MIN)
      : r.arrayLength("topicData.partitionData", false, PARTITION_BYTES_MIN);
    const partitionData: ProduceRequest["topicData"][number]["partitionData"] = [];
    for (let p = 0; p < partitionCount; p++) {
      const index = r.int32("partitionData.index");
      const records = flexible ? r.compactNullableBytes("partitionData.records") : r.nullableBytes("partitionData.records");
      if (flexible) r.taggedFields("partitionData._tagged_fields");
      partitionData.push({ index, records });
    }
    if (flexible) r.taggedFields("topicData._tagged_fields");
    topicData.push({ name, partitionData });
  }
  if (flexible) r.taggedFields("_tagged_fields");
  r.expectEnd("ProduceRequest");
  return { transactionalId, acks, timeoutMs, topicData };
}

/** A partition entry takes at least an index and a records length. */
const PARTITION_BYTES_MIN = 5;

/** Encodes a Produce response (acks 0 gets none: the caller sends nothing). */
export function encodeProduceResponse(w: KafkaWriter, version: number, value: ProduceResponseInput): void {
  if (version >= 8 && hasRecordErrors(value)) {
    // Per-record errors (v8+) are rare: the table-driven codec writes them.
    encodeMessage(ProduceResponseSpec, w, version, value);
    return;
  }
  checkEncodeVersion(version);
  const flexible = version >= ProduceResponseSpec.firstFlexibleVersion;
  const responses = value.responses ?? [];
  if (flexible) w.compactArrayLength(responses.length);
  else w.arrayLength(responses.length);
  for (const t of responses) {
    if (flexible) w.compactString(t.name ?? "");
    else w.string(t.name ?? "");
    const parts = t.partitionResponses ?? [];
    if (flexible) w.compactArrayLength(parts.length);
    else w.arrayLength(parts.length);
    for (const p of parts) {
      w.int32(p.index ?? 0).int16(p.errorCode ?? 0).int64(p.baseOffset ?? 0n);
      if (version >= 2) w.int64(p.logAppendTimeMs ?? -1n);
      if (version >= 5) w.int64(p.logStartOffset ?? -1n);
      if (version >= 8) {
        if (flexible) w.compactArrayLength(0).compactNullableString(p.errorMessage ?? null);
        else w.arrayLength(0).nullableString(p.errorMessage ?? null);
      }
      if (flexible) w.emptyTaggedFields();
    }
    if (flexible) w.emptyTaggedFields();
  }
  if (version >= 1) w.int32(value.throttleTimeMs ?? 0);
  if (flexible) w.emptyTaggedFields();
}

function hasRecordErrors(value: ProduceResponseInput): boolean {
  for (const t of value.responses ?? []) {
    for (const p of t.partitionResponses ?? []) if (p.recordErrors !== undefined && p.recordErrors.length > 0) return true;
  }
  return false;
}

function checkEncodeVersion(version: number): void {
  const [lo, hi] = ProduceResponseSpec.validVersions;
  if (version < lo || version > hi) throw new RangeError(`ProduceResponse: version ${version} is outside ${lo}..${hi}`);
}

/** The fields of a request of one topic with one partition (readSingleProduce fills it). */
export interface SingleProduce {
  transactionalId: string | null;
  acks: number;
  timeoutMs: number;
  topic: string;
  partition: number;
  /** The records are the reader's bytes [recordsStart, recordsEnd). */
  recordsStart: number;
  recordsEnd: number;
}

/** Fields of a one-partition request, read into `out` by readSingleProduce. */
export function newSingleProduce(): SingleProduce {
  return { transactionalId: null, acks: 0, timeoutMs: 0, topic: "", partition: 0, recordsStart: 0, recordsEnd: 0 };
}

/**
 * Reads a Produce request of exactly one topic with one partition and
 * non-null records into `out`, without the objects and arrays
 * decodeProduceRequest builds: the shape of nearly every request of a client
 * that sends as it goes. false for any other shape or anything malformed, with
 * the reader back where it was: the caller then uses decodeProduceRequest,
 * which says what is wrong.
 */
export function readSingleProduce(r: KafkaReader, version: number, out: SingleProduce): boolean {
  const start = r.pos;
  const entries = r.entriesLeft;
  if (version < ProduceRequestSpec.validVersions[0] || version > ProduceRequestSpec.validVersions[1]) return false;
  const flexible = version >= ProduceRequestSpec.firstFlexibleVersion;
  try {
    let transactionalId: string | null = null;
    if (version >= 3) transactionalId = flexible ? r.compactNullableString("transactionalId") : r.nullableString("transactionalId");
    const acks = r.int16("acks");
    const timeoutMs = r.int32("timeoutMs");
    if ((flexible ? r.compactArrayLength("topicData") : r.arrayLength("topicData")) !== 1) return restore(r, start, entries);
    const topic = r.stringCached("topicData.name", flexible, topicNames);
    if ((flexible ? r.compactArrayLength("partitionData") : r.arrayLength("partitionData")) !== 1) return restore(r, start, entries);
    const partition = r.int32("partitionData.index");
    const recordsLength = r.skipNullableBytes("partitionData.records", flexible);
    if (recordsLength < 0) return restore(r, start, entries);
    const recordsEnd = r.pos;
    if (flexible) {
      r.taggedFields("partitionData._tagged_fields");
      r.taggedFields("topicData._tagged_fields");
      r.taggedFields("_tagged_fields");
    }
    if (r.pos !== r.end) return restore(r, start, entries);
    out.transactionalId = transactionalId;
    out.acks = acks;
    out.timeoutMs = timeoutMs;
    out.topic = topic;
    out.partition = partition;
    out.recordsStart = recordsEnd - recordsLength;
    out.recordsEnd = recordsEnd;
    return true;
  } catch {
    return restore(r, start, entries);
  }
}

function restore(r: KafkaReader, pos: number, entries: number): false {
  r.pos = pos;
  r.entriesLeft = entries;
  return false;
}

/**
 * What a broker found for each partition of a Produce request, flat over the
 * request's topics and partitions in request order (encodeProduceResults).
 * Offsets and times are safe integers (-1: none).
 */
export interface ProduceResults {
  readonly codes: Int16Array;
  readonly baseOffsets: Float64Array;
  readonly logAppendTimes: Float64Array;
  readonly logStartOffsets: Float64Array;
  /** v8+: the error message of a partition, or null. */
  readonly messages: readonly (string | null)[];
}

/**
 * The broker's Produce response, written straight from the request and the
 * per-partition results: the bytes encodeProduceResponse writes for the same
 * values (no per-record errors, throttle 0), without a response object, an
 * array or a bigint per partition.
 */
export function encodeProduceResults(w: KafkaWriter, version: number, request: ProduceRequest, results: ProduceResults): void {
  checkEncodeVersion(version);
  const flexible = version >= ProduceResponseSpec.firstFlexibleVersion;
  const { codes, baseOffsets, logAppendTimes, logStartOffsets, messages } = results;
  const topics = request.topicData;
  if (flexible) w.compactArrayLength(topics.length);
  else w.arrayLength(topics.length);
  let i = 0;
  for (let t = 0; t < topics.length; t++) {
    const topic = topics[t];
    if (flexible) w.compactString(topic.name);
    else w.string(topic.name);
    const parts = topic.partitionData;
    if (flexible) w.compactArrayLength(parts.length);
    else w.arrayLength(parts.length);
    for (let p = 0; p < parts.length; p++, i++) {
      w.int32(parts[p].index).int16(codes[i]).int64Number(baseOffsets[i]);
      if (version >= 2) w.int64Number(logAppendTimes[i]);
      if (version >= 5) w.int64Number(logStartOffsets[i]);
      if (version >= 8) {
        if (flexible) w.compactArrayLength(0).compactNullableString(messages[i]);
        else w.arrayLength(0).nullableString(messages[i]);
      }
      if (flexible) w.emptyTaggedFields();
    }
    if (flexible) w.emptyTaggedFields();
  }
  if (version >= 1) w.int32(0);
  if (flexible) w.emptyTaggedFields();
}
