// Produce (api key 0, version 0): the hot write path. Binary.
//
//   Request  = Acks:i16 TimeoutMs:i32 Topics:[Topic]
//     Topic     = Name:String Partitions:[Partition]
//     Partition = Index:i32 Records:Bytes        ; one or more whole RecordBatch v2, back to back
//   Response = ErrorCode:i16 Topics:[TopicR]     ; ErrorCode ≠ 0: Message:String instead of Topics
//     TopicR     = Name:String Partitions:[PartitionR]
//     PartitionR = Index:i32 ErrorCode:i16 BaseOffset:i64 LogAppendTimeMs:i64 LogStartOffset:i64
//
// The decoder checks the grammar only (lengths, counts, limits). What the
// values mean (acks in {-1, 0, 1}, batches valid) is checked by the broker.
// Records are views into the request frame, never copied here.

import { readI16, readI32, readI64 } from "../big_endian.ts";
import { Reader, StringCache, type Writer } from "../codec.ts";
import { STRING_FIELD_BYTES_MAX } from "../limits.ts";
import { ErrorCode, SluiceError } from "../errors.ts";
import { readResponseEnvelope, writeOkPrefix } from "./response.ts";

export const Acks = { NONE: 0, LEADER: 1, ALL: -1 } as const;
export type Acks = (typeof Acks)[keyof typeof Acks];

export interface ProducePartition {
  index: number;
  /** Whole batches back to back (a view into the frame when decoded). */
  records: Uint8Array;
}

export interface ProduceTopic {
  name: string;
  partitions: ProducePartition[];
}

export interface ProduceRequest {
  acks: number;
  timeoutMs: number;
  topics: ProduceTopic[];
}

export interface ProducePartitionResult {
  index: number;
  errorCode: number;
  /** Offset of the first record of the first batch; -1 on error. */
  baseOffset: bigint;
  /** -1 for CreateTime topics. */
  logAppendTimeMs: bigint;
  logStartOffset: bigint;
}

export interface ProduceTopicResult {
  name: string;
  partitions: ProducePartitionResult[];
}

export interface ProduceResponse {
  topics: ProduceTopicResult[];
}

// Smallest encodings, to bound counts by the bytes left before looping.
const TOPIC_BYTES_MIN = 2 + 4; // name length + partition count
const PARTITION_BYTES_MIN = 4 + 4; // index + records length

/**
 * A PartitionR (one partition's result in a Produce response): the one
 * definition of its layout. Every writer goes through
 * writeProducePartitionResult, every reader reads at these offsets
 * (decodeProduceResponse below; the producer's ProduceResponseReader,
 * client/produce_request.ts).
 */
export const ProducePartitionResultField = {
  /** i32 */
  INDEX: 0,
  /** i16 */
  ERROR_CODE: 4,
  /** i64 */
  BASE_OFFSET: 6,
  /** i64 */
  LOG_APPEND_TIME_MS: 14,
  /** i64 */
  LOG_START_OFFSET: 22,
} as const;

/** Bytes of a PartitionR. */
export const PRODUCE_PARTITION_RESULT_BYTES = ProducePartitionResultField.LOG_START_OFFSET + 8;

/**
 * Writes one PartitionR. Offsets and times are numbers: inside the broker they
 * are safe integers (below 2^53), and -1 means none.
 */
export function writeProducePartitionResult(
  w: Writer,
  index: number,
  errorCode: number,
  baseOffset: number,
  logAppendTimeMs: number,
  logStartOffset: number,
): void {
  w.writeI32(index).writeI16(errorCode).writeI64Number(baseOffset).writeI64Number(logAppendTimeMs).writeI64Number(logStartOffset);
}

/** Reads the PartitionR at `bytes[at, at + PRODUCE_PARTITION_RESULT_BYTES)`; the caller checked the bytes are there. */
export function readProducePartitionResult(bytes: Uint8Array, at: number): ProducePartitionResult {
  const F = ProducePartitionResultField;
  return {
    index: readI32(bytes, at + F.INDEX),
    errorCode: readI16(bytes, at + F.ERROR_CODE),
    baseOffset: readI64(bytes, at + F.BASE_OFFSET),
    logAppendTimeMs: readI64(bytes, at + F.LOG_APPEND_TIME_MS),
    logStartOffset: readI64(bytes, at + F.LOG_START_OFFSET),
  };
}

export function writeProduceRequest(w: Writer, req: ProduceRequest): void {
  w.writeI16(req.acks).writeI32(req.timeoutMs).writeArrayCount(req.topics.length);
  for (const t of req.topics) {
    w.writeString(t.name).writeArrayCount(t.partitions.length);
    for (const p of t.partitions) w.writeI32(p.index).writeBytes(p.records);
  }
}

/** Topic names of recent produce requests (see StringCache). */
const topicNames = new StringCache();

/** Decodes the request body `body[start, end)` (default: all of it). */
export function decodeProduceRequest(body: Uint8Array, start = 0, end = body.length): ProduceRequest {
  const r = new Reader(body, start, end);
  const acks = r.readI16("acks");
  const timeoutMs = r.readI32("timeoutMs");
  const topicCount = r.readArrayCount("topics", TOPIC_BYTES_MIN);
  const topics: ProduceTopic[] = [];
  for (let i = 0; i < topicCount; i++) {
    const name = r.readStringNotNull("topics[].name", topicNames);
    const partitionCount = r.readArrayCount("topics[].partitions", PARTITION_BYTES_MIN);
    const partitions: ProducePartition[] = [];
    for (let j = 0; j < partitionCount; j++) {
      const index = r.readI32("topics[].partitions[].index");
      const records = r.readBytes("topics[].partitions[].records");
      if (records === null) {
        throw new SluiceError(ErrorCode.INVALID_REQUEST, `records of ${name}/${index} are null`);
      }
      partitions.push({ index, records });
    }
    topics.push({ name, partitions });
  }
  r.expectEnd("the produce request");
  return { acks, timeoutMs, topics };
}

/** The fields of a request of one topic with one partition (readSingleProduce fills it). */
export interface SingleProduce {
  acks: number;
  timeoutMs: number;
  topic: string;
  partition: number;
  /** The records are body[recordsStart, recordsEnd). */
  recordsStart: number;
  recordsEnd: number;
}

/**
 * Reads a request body `body[start, end)` of exactly one topic with one
 * partition and non-null records into `out`, without the objects and arrays
 * decodeProduceRequest builds (the shape of nearly every request of a client
 * that sends as it goes). false for any other shape, or anything malformed:
 * the caller then uses decodeProduceRequest, which says what is wrong.
 */
export function readSingleProduce(body: Uint8Array, start: number, end: number, out: SingleProduce): boolean {
  // acks(2) timeout(4) topics(4) nameLength(2) | name | partitions(4) index(4) recordsLength(4) | records
  if (end - start < 2 + 4 + 4 + 2 + 4 + 4 + 4) return false;
  if (readI32(body, start + 6) !== 1) return false;
  const nameBytes = readI16(body, start + 10);
  if (nameBytes < 0 || nameBytes > STRING_FIELD_BYTES_MAX) return false;
  const nameStart = start + 12;
  const p = nameStart + nameBytes;
  if (p + 12 > end || readI32(body, p) !== 1) return false;
  const recordsBytes = readI32(body, p + 8);
  if (recordsBytes < 0 || p + 12 + recordsBytes !== end) return false;
  out.acks = readI16(body, start);
  out.timeoutMs = readI32(body, start + 2);
  out.topic = topicNames.read(body, nameStart, p);
  out.partition = readI32(body, p + 4);
  out.recordsStart = p + 12;
  out.recordsEnd = end;
  return true;
}

/** Writes a successful response body (ErrorCode NONE, then the topics). */
export function writeProduceResponse(w: Writer, resp: ProduceResponse): void {
  writeOkPrefix(w);
  w.writeArrayCount(resp.topics.length);
  for (const t of resp.topics) {
    w.writeString(t.name).writeArrayCount(t.partitions.length);
    for (const p of t.partitions) {
      writeProducePartitionResult(w, p.index, p.errorCode, Number(p.baseOffset), Number(p.logAppendTimeMs), Number(p.logStartOffset));
    }
  }
}

/** Decodes a response body; a request-level error is thrown as SluiceError(code, message). */
export function decodeProduceResponse(body: Uint8Array): ProduceResponse {
  const r = new Reader(body);
  readResponseEnvelope(r);
  const topicCount = r.readArrayCount("topics", TOPIC_BYTES_MIN);
  const topics: ProduceTopicResult[] = [];
  for (let i = 0; i < topicCount; i++) {
    const name = r.readStringNotNull("topics[].name");
    // The count is checked against the bytes left, so every result read below is whole.
    const partitionCount = r.readArrayCount("topics[].partitions", PRODUCE_PARTITION_RESULT_BYTES);
    const partitions: ProducePartitionResult[] = [];
    for (let j = 0; j < partitionCount; j++) {
      partitions.push(readProducePartitionResult(r.bytes, r.pos));
      r.pos += PRODUCE_PARTITION_RESULT_BYTES;
    }
    topics.push({ name, partitions });
  }
  r.expectEnd("the produce response");
  return { topics };
}
