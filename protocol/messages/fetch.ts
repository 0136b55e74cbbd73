// Fetch (api key 1, version 0): the hot read path, long-poll. Binary.
//
//   Request  = MaxWaitMs:i32 MinBytes:i32 MaxBytes:i32 Topics:[Topic]
//     Topic     = Name:String Partitions:[Partition]
//     Partition = Index:i32 FetchOffset:i64 PartitionMaxBytes:i32
//   Response = ErrorCode:i16 Topics:[TopicR]     ; ErrorCode ≠ 0: Message:String instead of Topics
//     TopicR     = Name:String Partitions:[PartitionR]
//     PartitionR = Index:i32 ErrorCode:i16 HighWatermark:i64 LogStartOffset:i64 Records:Bytes
//
// Records are stored batch bytes, byte for byte; decoding returns them as a
// view into the response frame. A null Records field decodes as an empty view.
// The first batch may start below FetchOffset: clients skip those records.
// The response's layout (writeFetchLayout…) is shared with ReplicaFetch
// (replica_fetch.ts), whose partitions carry a longer head.

import { Reader, type Writer } from "../codec.ts";
import { readResponseEnvelope, writeOkPrefix } from "./response.ts";

export interface FetchPartition {
  index: number;
  fetchOffset: bigint;
  partitionMaxBytes: number;
}

export interface FetchTopic {
  name: string;
  partitions: FetchPartition[];
}

export interface FetchRequest {
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  topics: FetchTopic[];
}

export interface FetchPartitionResult {
  index: number;
  errorCode: number;
  highWatermark: bigint;
  logStartOffset: bigint;
  /** Whole batches back to back (possibly empty). */
  records: Uint8Array;
}

export interface FetchTopicResult {
  name: string;
  partitions: FetchPartitionResult[];
}

export interface FetchResponse {
  topics: FetchTopicResult[];
}

const TOPIC_BYTES_MIN = 2 + 4;
const PARTITION_BYTES = 4 + 8 + 4;
/** Bytes of a PartitionR without its records: index, error code, high watermark, log start offset, records length. */
export const FETCH_PARTITION_RESULT_BYTES_MIN = 4 + 2 + 8 + 8 + 4;
const EMPTY = new Uint8Array(0);

export function writeFetchRequest(w: Writer, req: FetchRequest): void {
  w.writeI32(req.maxWaitMs).writeI32(req.minBytes).writeI32(req.maxBytes).writeArrayCount(req.topics.length);
  for (const t of req.topics) {
    w.writeString(t.name).writeArrayCount(t.partitions.length);
    for (const p of t.partitions) w.writeI32(p.index).writeI64(p.fetchOffset).writeI32(p.partitionMaxBytes);
  }
}

export function decodeFetchRequest(body: Uint8Array): FetchRequest {
  const r = new Reader(body);
  const maxWaitMs = r.readI32("maxWaitMs");
  const minBytes = r.readI32("minBytes");
  const maxBytes = r.readI32("maxBytes");
  const topicCount = r.readArrayCount("topics", TOPIC_BYTES_MIN);
  const topics: FetchTopic[] = [];
  for (let i = 0; i < topicCount; i++) {
    const name = r.readStringNotNull("topics[].name");
    const partitionCount = r.readArrayCount("topics[].partitions", PARTITION_BYTES);
    const partitions: FetchPartition[] = [];
    for (let j = 0; j < partitionCount; j++) {
      partitions.push({
        index: r.readI32("topics[].partitions[].index"),
        fetchOffset: r.readI64("topics[].partitions[].fetchOffset"),
        partitionMaxBytes: r.readI32("topics[].partitions[].partitionMaxBytes"),
      });
    }
    topics.push({ name, partitions });
  }
  r.expectEnd("the fetch request");
  return { maxWaitMs, minBytes, maxBytes, topics };
}

/**
 * The response layout Fetch and ReplicaFetch (replica_fetch.ts) share:
 * ErrorCode NONE, then [Name:String [PartitionR]], every PartitionR a
 * message-specific head followed by Records:Bytes. One writer for the copied
 * form, one for the pieces, one decoder; each message gives only its head.
 */
export interface FetchLayoutTopic<P extends { records: Uint8Array }> {
  name: string;
  partitions: readonly P[];
}

/** Writes everything of a PartitionR before its Records field. */
export type PartitionHeadWriter<P> = (w: Writer, p: P) => void;

/** Writes a successful response body in the shared layout; records are copied into the writer. */
export function writeFetchLayout<P extends { records: Uint8Array }>(w: Writer, topics: readonly FetchLayoutTopic<P>[], writeHead: PartitionHeadWriter<P>): void {
  writeOkPrefix(w);
  w.writeArrayCount(topics.length);
  for (const t of topics) {
    w.writeString(t.name).writeArrayCount(t.partitions.length);
    for (const p of t.partitions) {
      writeHead(w, p);
      w.writeBytes(p.records);
    }
  }
}

/**
 * The response body in the shared layout as pieces for a vectored socket
 * write, without copying records. Everything but the records goes into the
 * writer; the pieces are views of the writer's bytes *from byte 0* (so a frame
 * header begun in `w` with beginResponseFrame, or earlier responses, come out
 * in the first piece) interleaved with each partition's records view. Patch a
 * frame header's size with `w.patchI32(start, w.length - start - 4 + recordBytes)`
 * (endFrame would miss the records). Do not write to or reset `w` until the
 * pieces are sent.
 */
export function writeFetchLayoutPieces<P extends { records: Uint8Array }>(
  w: Writer,
  topics: readonly FetchLayoutTopic<P>[],
  writeHead: PartitionHeadWriter<P>,
): { pieces: Uint8Array[]; recordBytes: number } {
  const cuts: number[] = [];
  const records: Uint8Array[] = [];
  let recordBytes = 0;
  writeOkPrefix(w);
  w.writeArrayCount(topics.length);
  for (const t of topics) {
    w.writeString(t.name).writeArrayCount(t.partitions.length);
    for (const p of t.partitions) {
      writeHead(w, p);
      w.writeI32(p.records.length);
      if (p.records.length > 0) {
        cuts.push(w.length);
        records.push(p.records);
        recordBytes += p.records.length;
      }
    }
  }
  const all = w.finish(); // taken after the last write: the writer may have grown on the way
  const pieces: Uint8Array[] = [];
  let at = 0;
  for (let i = 0; i < cuts.length; i++) {
    pieces.push(all.subarray(at, cuts[i]));
    pieces.push(records[i]);
    at = cuts[i];
  }
  pieces.push(all.subarray(at));
  return { pieces, recordBytes };
}

/**
 * Decodes a response body in the shared layout; `readPartition` reads one
 * whole PartitionR (its records with readRecords: a view, empty when null),
 * whose smallest size is `partitionBytesMin`. A request-level error is thrown
 * as SluiceError(code, message).
 */
export function decodeFetchLayout<P extends { records: Uint8Array }>(
  body: Uint8Array,
  partitionBytesMin: number,
  readPartition: (r: Reader) => P,
  what: string,
): { topics: { name: string; partitions: P[] }[] } {
  const r = new Reader(body);
  readResponseEnvelope(r);
  const topicCount = r.readArrayCount("topics", TOPIC_BYTES_MIN);
  const topics: { name: string; partitions: P[] }[] = [];
  for (let i = 0; i < topicCount; i++) {
    const name = r.readStringNotNull("topics[].name");
    const partitionCount = r.readArrayCount("topics[].partitions", partitionBytesMin);
    const partitions: P[] = [];
    for (let j = 0; j < partitionCount; j++) partitions.push(readPartition(r));
    topics.push({ name, partitions });
  }
  r.expectEnd(what);
  return { topics };
}

/** A PartitionR's Records field: a view into the body, empty when null. */
export function readRecords(r: Reader): Uint8Array {
  return r.readBytes("partitions[].records") ?? EMPTY;
}

/** A PartitionR's fields before its Records; the replica fetch's (replica_fetch.ts) start with the same four. */
export function writeFetchPartitionHead(w: Writer, p: Omit<FetchPartitionResult, "records">): void {
  w.writeI32(p.index).writeI16(p.errorCode).writeI64(p.highWatermark).writeI64(p.logStartOffset);
}

/** Reads what writeFetchPartitionHead wrote. */
export function readFetchPartitionHead(r: Reader): Omit<FetchPartitionResult, "records"> {
  return {
    index: r.readI32("partitions[].index"),
    errorCode: r.readI16("partitions[].errorCode"),
    highWatermark: r.readI64("partitions[].highWatermark"),
    logStartOffset: r.readI64("partitions[].logStartOffset"),
  };
}

function readFetchPartition(r: Reader): FetchPartitionResult {
  return { ...readFetchPartitionHead(r), records: readRecords(r) };
}

/** Writes a successful response body (ErrorCode NONE, then the topics); records are copied into the writer. */
export function writeFetchResponse(w: Writer, resp: FetchResponse): void {
  writeFetchLayout(w, resp.topics, writeFetchPartitionHead);
}

/** Decodes a response body; records are views. A request-level error is thrown as SluiceError(code, message). */
export function decodeFetchResponse(body: Uint8Array): FetchResponse {
  return decodeFetchLayout(body, FETCH_PARTITION_RESULT_BYTES_MIN, readFetchPartition, "the fetch response");
}

/** The response body as pieces for a vectored socket write, without copying records (writeFetchLayoutPieces). */
export function writeFetchResponsePieces(w: Writer, resp: FetchResponse): { pieces: Uint8Array[]; recordBytes: number } {
  return writeFetchLayoutPieces(w, resp.topics, writeFetchPartitionHead);
}
