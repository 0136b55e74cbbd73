// Writes a Produce request (protocol/messages/produce.ts has the grammar)
// whose partitions carry one or more finished batches each, straight from the
// batches' own buffers into the connection's output buffer: the Records field
// is the batches back to back, so its length is their sum and each batch is
// copied once, with no intermediate concatenation.
//
// Same bytes as writeProduceRequest with the batches concatenated (checked by
// client/produce_request.test.ts).
//
// The response is walked in place by ProduceResponseReader (the producer's
// per-request cost: no result objects, no topic-name string).

import { readI16, readI32, readI64 } from "../protocol/big_endian.ts";
import { Reader, Writer } from "../protocol/codec.ts";
import { ErrorCode, SluiceError, errorInfo } from "../protocol/errors.ts";
import { PRODUCE_PARTITION_RESULT_BYTES, ProducePartitionResultField } from "../protocol/messages/produce.ts";

export interface ProducePartitionBatches {
  readonly index: number;
  readonly batches: readonly Uint8Array[];
}

export interface ProduceTopicBatches {
  readonly name: string;
  readonly partitions: readonly ProducePartitionBatches[];
}

export function writeProduceRequestBatches(
  w: Writer,
  acks: number,
  timeoutMs: number,
  topics: readonly ProduceTopicBatches[],
): void {
  w.writeI16(acks).writeI32(timeoutMs).writeArrayCount(topics.length);
  for (const t of topics) {
    w.writeString(t.name).writeArrayCount(t.partitions.length);
    for (const p of t.partitions) {
      let bytes = 0;
      for (const b of p.batches) bytes += b.length;
      w.writeI32(p.index).writeI32(bytes);
      w.ensure(bytes);
      for (const b of p.batches) w.writeRaw(b);
    }
  }
}

/** The topic name as an encoded String field (i16 length, UTF-8): written with one copy per request. */
export function encodeStringField(s: string): Uint8Array {
  const w = new Writer({ initialBytes: 2 + s.length * 3 });
  w.writeString(s);
  return w.finish().slice();
}

/** One partition's part of a Produce request, as the producer keeps it. */
export interface ProduceEntry {
  /** encodeStringField(topic), one array per topic: entries of a topic share it. */
  readonly topicField: Uint8Array;
  readonly partition: number;
  readonly batches: readonly { readonly bytes: Uint8Array | undefined }[];
}

/**
 * writeProduceRequestBatches for the producer's entries: the same bytes, with
 * the topic name copied from its encoded field. Entries of one topic must be
 * adjacent (each run of entries with the same topicField is one topic).
 */
export function writeProduceRequestEntries(w: Writer, acks: number, timeoutMs: number, entries: readonly ProduceEntry[]): void {
  let topicCount = 0;
  for (let i = 0; i < entries.length; i++) if (i === 0 || entries[i].topicField !== entries[i - 1].topicField) topicCount++;
  w.writeI16(acks).writeI32(timeoutMs).writeArrayCount(topicCount);
  for (let i = 0; i < entries.length; ) {
    const topicField = entries[i].topicField;
    let end = i + 1;
    while (end < entries.length && entries[end].topicField === topicField) end++;
    w.writeRaw(topicField).writeArrayCount(end - i);
    for (; i < end; i++) {
      const { partition, batches } = entries[i];
      let bytes = 0;
      for (let b = 0; b < batches.length; b++) bytes += batches[b].bytes!.length;
      w.writeI32(partition).writeI32(bytes);
      w.ensure(bytes);
      for (let b = 0; b < batches.length; b++) w.writeRaw(batches[b].bytes!);
    }
  }
}

/**
 * Walks a Produce response body without building objects: topic names are
 * compared as bytes (`topicIs`), only the base offset becomes a bigint. One
 * reader serves every response of a producer (start() begins the next).
 * Malformed bodies throw SluiceError, as decodeProduceResponse does; a
 * request-level error (non-zero envelope code) throws SluiceError(code, message).
 */
export class ProduceResponseReader {
  private body: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private end = 0;
  private nameStart = 0;
  private nameEnd = 0;
  /** The current partition result (after nextPartition()). */
  index = 0;
  errorCode = 0;
  baseOffset = 0n;

  /** Begins the body `bytes[start, end)` (read in place); returns its topic count. */
  start(bytes: Uint8Array, start: number, end: number): number {
    this.body = bytes;
    this.pos = start;
    this.end = end;
    const code = readI16(bytes, this.need(2, "response error code"));
    if (code !== ErrorCode.NONE) {
      const r = new Reader(bytes, this.pos, end);
      throw new SluiceError(code, r.readString("response error message") ?? errorInfo(code).message);
    }
    return this.count("topics", 2 + 4);
  }

  /** Reads the next topic's name and returns its partition count. */
  nextTopic(): number {
    const length = readI16(this.body, this.need(2, "topics[].name"));
    if (length < 0) throw new SluiceError(ErrorCode.INVALID_REQUEST, "topics[].name is null");
    this.nameStart = this.need(length, "topics[].name");
    this.nameEnd = this.nameStart + length;
    return this.count("topics[].partitions", PRODUCE_PARTITION_RESULT_BYTES);
  }

  /** Whether the current topic's name is `field` (an encodeStringField). */
  topicIs(field: Uint8Array): boolean {
    const body = this.body;
    const start = this.nameStart - 2;
    if (field.length !== this.nameEnd - start) return false;
    for (let i = 0; i < field.length; i++) if (field[i] !== body[start + i]) return false;
    return true;
  }

  nextPartition(): void {
    const at = this.need(PRODUCE_PARTITION_RESULT_BYTES, "partitions[]");
    const body = this.body;
    this.index = readI32(body, at + ProducePartitionResultField.INDEX);
    this.errorCode = readI16(body, at + ProducePartitionResultField.ERROR_CODE);
    this.baseOffset = readI64(body, at + ProducePartitionResultField.BASE_OFFSET);
  }

  /** Throws unless the whole body was read; lets go of it. */
  finish(): void {
    const left = this.end - this.pos;
    this.body = EMPTY;
    if (left !== 0) throw new SluiceError(ErrorCode.INVALID_REQUEST, `${left} unexpected bytes after the produce response`);
  }

  private need(n: number, field: string): number {
    const at = this.pos;
    if (n > this.end - at) throw new SluiceError(ErrorCode.INVALID_REQUEST, `truncated ${field}: needs ${n} bytes, ${this.end - at} left`);
    this.pos = at + n;
    return at;
  }

  private count(field: string, entryBytesMin: number): number {
    const n = readI32(this.body, this.need(4, field));
    if (n < 0 || n * entryBytesMin > this.end - this.pos) {
      throw new SluiceError(ErrorCode.INVALID_REQUEST, `${field}: count ${n} does not fit the ${this.end - this.pos} bytes left`);
    }
    return n;
  }
}

const EMPTY = new Uint8Array(0);
