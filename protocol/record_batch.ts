// Kafka RecordBatch v2: the unit producers send, the broker stores byte for
// byte and consumers fetch. The broker never decodes records: it validates a
// batch (validateBatch) and patches the header fields the CRC does not cover
// (base offset, leader epoch) or re-computes the CRC (LogAppendTime).
//
// Layout, big-endian (positions relative to the batch start):
//
//   0  baseOffset            i64   not covered by the CRC
//   8  batchLength           i32   bytes after this field
//  12  partitionLeaderEpoch  i32   not covered by the CRC
//  16  magic                 i8    = 2
//  17  crc                   u32   CRC-32C of bytes [21, end)
//  21  attributes            i16   bits 0-2 compression, 3 timestamp type, 4 transactional, 5 control
//  23  lastOffsetDelta       i32
//  27  firstTimestamp        i64   (Kafka's baseTimestamp)
//  35  maxTimestamp          i64
//  43  producerId            i64
//  51  producerEpoch         i16
//  53  baseSequence          i32
//  57  recordCount           i32
//  61  records (possibly compressed)
//
//   Record = length:varint attributes:i8 timestampDelta:varlong offsetDelta:varint
//            keyLength:varint key valueLength:varint value
//            headersCount:varint [keyLength:varint key(utf8) valueLength:varint value]
//   (a length of -1 means null; varints are zigzag, see varint.ts)

import {
  readI16,
  readI32,
  readI64,
  readI64Number,
  readU32,
  writeI16,
  writeI32,
  writeI64,
  writeI64Number,
} from "./big_endian.ts";
import { assert } from "./assert.ts";
import { CompressionError, decompressRecords } from "./compression/mod.ts";
import { crc32c } from "./crc32c.ts";
import { ErrorCode, SluiceError } from "./errors.ts";
import { BATCH_DECOMPRESSED_BYTES_MAX, BATCH_RECORDS_MAX, BUILDER_INITIAL_BYTES, RECORD_HEADERS_MAX } from "./limits.ts";
import { utf8LengthMax, utf8Read, utf8Write } from "./utf8.ts";
import {
  type Cursor,
  readVarint,
  readVarlong,
  varintSize,
  varlongSize,
  writeVarint,
  writeVarlong,
} from "./varint.ts";

// ---------------------------------------------------------------- constants

export const BASE_OFFSET_OFFSET = 0;
export const BATCH_LENGTH_OFFSET = 8;
export const PARTITION_LEADER_EPOCH_OFFSET = 12;
export const MAGIC_OFFSET = 16;
export const CRC_OFFSET = 17;
export const ATTRIBUTES_OFFSET = 21;
export const LAST_OFFSET_DELTA_OFFSET = 23;
export const FIRST_TIMESTAMP_OFFSET = 27;
export const MAX_TIMESTAMP_OFFSET = 35;
export const PRODUCER_ID_OFFSET = 43;
export const PRODUCER_EPOCH_OFFSET = 51;
export const BASE_SEQUENCE_OFFSET = 53;
export const RECORD_COUNT_OFFSET = 57;
export const RECORDS_OFFSET = 61;

/** Bytes of the batch header, up to the first record. */
export const BATCH_HEADER_BYTES = 61;
/** baseOffset + batchLength: the bytes not counted by batchLength. */
export const BATCH_OVERHEAD_BYTES = 12;
/** The CRC covers attributes up to the end of the batch. */
export const CRC_COVERED_FROM = ATTRIBUTES_OFFSET;
export const MAGIC_V2 = 2;
/** Smallest record body: attributes, timestampDelta, offsetDelta, key -1, value -1, 0 headers. */
export const RECORD_BODY_BYTES_MIN = 6;

export const Compression = { NONE: 0, GZIP: 1, SNAPPY: 2, LZ4: 3, ZSTD: 4 } as const;
export type Compression = (typeof Compression)[keyof typeof Compression];
const COMPRESSION_NAMES = ["none", "gzip", "snappy", "lz4", "zstd"];

export const TimestampType = { CREATE_TIME: 0, LOG_APPEND_TIME: 1 } as const;
export type TimestampType = (typeof TimestampType)[keyof typeof TimestampType];

export const BatchAttribute = {
  COMPRESSION_MASK: 0x07,
  LOG_APPEND_TIME: 0x08,
  TRANSACTIONAL: 0x10,
  CONTROL: 0x20,
} as const;

export function compressionOf(attributes: number): number {
  return attributes & BatchAttribute.COMPRESSION_MASK;
}

export function timestampTypeOf(attributes: number): TimestampType {
  return attributes & BatchAttribute.LOG_APPEND_TIME ? TimestampType.LOG_APPEND_TIME : TimestampType.CREATE_TIME;
}

export function isControlBatch(attributes: number): boolean {
  return (attributes & BatchAttribute.CONTROL) !== 0;
}

export function isTransactionalBatch(attributes: number): boolean {
  return (attributes & BatchAttribute.TRANSACTIONAL) !== 0;
}

// ---------------------------------------------------------------- errors

/**
 * A batch that failed a check. `code` is CORRUPT_MESSAGE (CRC mismatch,
 * truncated, bad length), INVALID_RECORD (magic, record count, structure) or
 * MESSAGE_TOO_LARGE; `position` is the byte (in the array given) where the
 * problem was found.
 */
export class BatchError extends SluiceError {
  readonly reason: string;
  readonly position: number;
  constructor(code: number, reason: string, position: number, options?: { cause?: unknown }) {
    super(code, `${reason} (at byte ${position})`, options);
    this.reason = reason;
    this.position = position;
  }
}

// ---------------------------------------------------------------- header

export interface BatchHeader {
  baseOffset: bigint;
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  firstTimestamp: bigint;
  maxTimestamp: bigint;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

/** Reads the 61-byte header at `pos`. Checks only that the header bytes exist. */
export function readBatchHeader(bytes: Uint8Array, pos: number): BatchHeader {
  if (pos < 0 || pos + BATCH_HEADER_BYTES > bytes.length) {
    throw new BatchError(
      ErrorCode.CORRUPT_MESSAGE,
      `truncated batch header: ${Math.max(0, bytes.length - pos)} bytes left, need ${BATCH_HEADER_BYTES}`,
      pos,
    );
  }
  return {
    baseOffset: readI64(bytes, pos + BASE_OFFSET_OFFSET),
    batchLength: readI32(bytes, pos + BATCH_LENGTH_OFFSET),
    partitionLeaderEpoch: readI32(bytes, pos + PARTITION_LEADER_EPOCH_OFFSET),
    magic: (bytes[pos + MAGIC_OFFSET] << 24) >> 24,
    crc: readU32(bytes, pos + CRC_OFFSET),
    attributes: readI16(bytes, pos + ATTRIBUTES_OFFSET),
    lastOffsetDelta: readI32(bytes, pos + LAST_OFFSET_DELTA_OFFSET),
    firstTimestamp: readI64(bytes, pos + FIRST_TIMESTAMP_OFFSET),
    maxTimestamp: readI64(bytes, pos + MAX_TIMESTAMP_OFFSET),
    producerId: readI64(bytes, pos + PRODUCER_ID_OFFSET),
    producerEpoch: readI16(bytes, pos + PRODUCER_EPOCH_OFFSET),
    baseSequence: readI32(bytes, pos + BASE_SEQUENCE_OFFSET),
    recordCount: readI32(bytes, pos + RECORD_COUNT_OFFSET),
  };
}

/**
 * Checks that a whole batch starts at `pos` and ends by `end` (or `limit`),
 * that its magic is 2 and its CRC matches. Returns the batch size.
 */
function checkFraming(bytes: Uint8Array, pos: number, end: number): number {
  const left = end - pos;
  if (left < BATCH_OVERHEAD_BYTES) {
    throw new BatchError(
      ErrorCode.CORRUPT_MESSAGE,
      `truncated batch: ${left} bytes left, need ${BATCH_OVERHEAD_BYTES} for offset and length`,
      pos,
    );
  }
  const batchLength = readI32(bytes, pos + BATCH_LENGTH_OFFSET);
  if (batchLength < BATCH_HEADER_BYTES - BATCH_OVERHEAD_BYTES) {
    throw new BatchError(
      ErrorCode.CORRUPT_MESSAGE,
      `batch length ${batchLength} is smaller than the header (${BATCH_HEADER_BYTES - BATCH_OVERHEAD_BYTES})`,
      pos + BATCH_LENGTH_OFFSET,
    );
  }
  const size = BATCH_OVERHEAD_BYTES + batchLength;
  if (size > left) {
    throw new BatchError(
      ErrorCode.CORRUPT_MESSAGE,
      `truncated batch: length says ${size} bytes, ${left} left`,
      pos + BATCH_LENGTH_OFFSET,
    );
  }
  return size;
}

function checkMagic(bytes: Uint8Array, pos: number): void {
  const magic = bytes[pos + MAGIC_OFFSET];
  if (magic !== MAGIC_V2) {
    throw new BatchError(ErrorCode.INVALID_RECORD, `batch magic is ${magic}, only 2 is supported`, pos + MAGIC_OFFSET);
  }
}

function checkMagicAndCrc(bytes: Uint8Array, pos: number, size: number): void {
  checkMagic(bytes, pos);
  const stored = readU32(bytes, pos + CRC_OFFSET);
  const computed = crc32c(bytes, pos + CRC_COVERED_FROM, pos + size);
  if (stored !== computed) {
    throw new BatchError(
      ErrorCode.CORRUPT_MESSAGE,
      `batch CRC mismatch: stored 0x${stored.toString(16)}, computed 0x${computed.toString(16)}`,
      pos + CRC_OFFSET,
    );
  }
}

// ---------------------------------------------------------------- validation

export interface BatchSummary {
  /** 12 + batchLength: the bytes the batch occupies. */
  size: number;
  lastOffsetDelta: number;
  recordCount: number;
  firstTimestamp: number;
  maxTimestamp: number;
  attributes: number;
}

const walkCursor: Cursor = { pos: 0 };

/**
 * Validates the batch at `pos` (which must end by `end`) the way the broker
 * does before storing it: length in range, not above `maxBatchBytes`, magic 2,
 * CRC-32C, 1 ≤ recordCount ≤ BATCH_RECORDS_MAX and lastOffsetDelta ==
 * recordCount - 1 (so a batch consumes exactly as many offsets as it has
 * records, compressed or not: both fields are in the clear header). For an
 * uncompressed batch it also walks the records: each length must fit, each
 * offsetDelta must be its index, and the lengths must add up to the batch end.
 * Compressed batches are not opened (stored and served as they are).
 */
export function validateBatch(bytes: Uint8Array, pos: number, end: number, maxBatchBytes: number): BatchSummary {
  if (end > bytes.length) end = bytes.length;
  const size = checkFraming(bytes, pos, end);
  if (size > maxBatchBytes) {
    throw new BatchError(
      ErrorCode.MESSAGE_TOO_LARGE,
      `batch of ${size} bytes is larger than the limit of ${maxBatchBytes}`,
      pos + BATCH_LENGTH_OFFSET,
    );
  }
  checkMagicAndCrc(bytes, pos, size);
  const attributes = readI16(bytes, pos + ATTRIBUTES_OFFSET);
  const compression = compressionOf(attributes);
  if (compression > Compression.ZSTD) {
    throw new BatchError(ErrorCode.INVALID_RECORD, `unknown compression codec ${compression}`, pos + ATTRIBUTES_OFFSET);
  }
  const recordCount = readI32(bytes, pos + RECORD_COUNT_OFFSET);
  if (recordCount < 1 || recordCount > BATCH_RECORDS_MAX) {
    throw new BatchError(
      ErrorCode.INVALID_RECORD,
      `record count ${recordCount} is outside 1..${BATCH_RECORDS_MAX}`,
      pos + RECORD_COUNT_OFFSET,
    );
  }
  const lastOffsetDelta = readI32(bytes, pos + LAST_OFFSET_DELTA_OFFSET);
  if (lastOffsetDelta !== recordCount - 1) {
    throw new BatchError(
      ErrorCode.INVALID_RECORD,
      `lastOffsetDelta ${lastOffsetDelta} does not match record count ${recordCount}`,
      pos + LAST_OFFSET_DELTA_OFFSET,
    );
  }
  if (compression === Compression.NONE) walkRecordLengths(bytes, pos, pos + size, recordCount);
  return {
    size,
    lastOffsetDelta,
    recordCount,
    firstTimestamp: readI64Number(bytes, pos + FIRST_TIMESTAMP_OFFSET),
    maxTimestamp: readI64Number(bytes, pos + MAX_TIMESTAMP_OFFSET),
    attributes,
  };
}

/** Cheap structural walk of uncompressed records: lengths and offset deltas only. */
function walkRecordLengths(bytes: Uint8Array, pos: number, batchEnd: number, recordCount: number): void {
  const cur = walkCursor;
  cur.pos = pos + RECORDS_OFFSET;
  let recordStart = cur.pos;
  try {
    for (let i = 0; i < recordCount; i++) {
      recordStart = cur.pos;
      const length = readVarint(bytes, cur, batchEnd);
      const recordEnd = cur.pos + length;
      if (length < RECORD_BODY_BYTES_MIN || recordEnd > batchEnd) {
        throw new BatchError(
          ErrorCode.INVALID_RECORD,
          `record ${i} length ${length} does not fit the batch (${batchEnd - cur.pos} bytes left)`,
          recordStart,
        );
      }
      cur.pos += 1; // attributes
      skipVarlong(bytes, cur, recordEnd);
      const offsetDelta = readVarint(bytes, cur, recordEnd);
      if (offsetDelta !== i) {
        throw new BatchError(ErrorCode.INVALID_RECORD, `record ${i} has offsetDelta ${offsetDelta}`, recordStart);
      }
      cur.pos = recordEnd;
    }
  } catch (e) {
    if (e instanceof BatchError) throw e;
    throw new BatchError(ErrorCode.INVALID_RECORD, `record structure: ${(e as Error).message}`, recordStart, { cause: e });
  }
  if (cur.pos !== batchEnd) {
    throw new BatchError(
      ErrorCode.INVALID_RECORD,
      `records end at byte ${cur.pos} but the batch ends at byte ${batchEnd}`,
      cur.pos,
    );
  }
}

function skipVarlong(bytes: Uint8Array, cur: Cursor, end: number): void {
  const start = cur.pos;
  let p = start;
  for (let n = 0; n < 10; n++) {
    if (p >= end) throw new SluiceError(ErrorCode.INVALID_RECORD, `truncated varlong at byte ${start}`);
    if (bytes[p++] < 0x80) {
      cur.pos = p;
      return;
    }
  }
  throw new SluiceError(ErrorCode.INVALID_RECORD, `varlong at byte ${start} is longer than 10 bytes`);
}

export interface BatchesSummary {
  /** Number of batches. */
  batches: number;
  /** Records over all batches (Σ recordCount). */
  records: number;
  /** Offsets the batches consume: Σ (lastOffsetDelta + 1). */
  offsetCount: number;
  /** Largest maxTimestamp of any batch (ms). */
  maxTimestamp: number;
  /** Largest single batch (bytes). */
  largestBatchBytes: number;
}

/**
 * Validates that `bytes` is one or more whole batches back to back that fill
 * it exactly (each checked by validateBatch). Throws BatchError naming what
 * failed and where.
 */
export function validateBatches(bytes: Uint8Array, maxBatchBytes: number): BatchesSummary {
  if (bytes.length === 0) throw new BatchError(ErrorCode.INVALID_RECORD, "records are empty: expected at least one batch", 0);
  let pos = 0;
  let batches = 0;
  let records = 0;
  let offsetCount = 0;
  let maxTimestamp = -Infinity;
  let largestBatchBytes = 0;
  while (pos < bytes.length) {
    const s = validateBatch(bytes, pos, bytes.length, maxBatchBytes);
    batches++;
    records += s.recordCount;
    offsetCount += s.lastOffsetDelta + 1;
    if (s.maxTimestamp > maxTimestamp) maxTimestamp = s.maxTimestamp;
    if (s.size > largestBatchBytes) largestBatchBytes = s.size;
    pos += s.size;
  }
  return { batches, records, offsetCount, maxTimestamp, largestBatchBytes };
}

// ---------------------------------------------------------------- patching

function batchSizeForPatch(bytes: Uint8Array, pos: number): number {
  return checkFraming(bytes, pos, bytes.length);
}

/** Sets the base offset. The CRC does not cover it, so it stays valid. */
export function patchBaseOffset(bytes: Uint8Array, pos: number, baseOffset: number | bigint): void {
  if (pos < 0 || pos + BATCH_HEADER_BYTES > bytes.length) {
    throw new BatchError(ErrorCode.CORRUPT_MESSAGE, "no batch header to patch", pos);
  }
  if (typeof baseOffset === "bigint") writeI64(bytes, pos + BASE_OFFSET_OFFSET, baseOffset);
  else writeI64Number(bytes, pos + BASE_OFFSET_OFFSET, baseOffset);
}

/** Sets the partition leader epoch (not covered by the CRC). */
export function patchLeaderEpoch(bytes: Uint8Array, pos: number, epoch: number): void {
  if (pos < 0 || pos + BATCH_HEADER_BYTES > bytes.length) {
    throw new BatchError(ErrorCode.CORRUPT_MESSAGE, "no batch header to patch", pos);
  }
  writeI32(bytes, pos + PARTITION_LEADER_EPOCH_OFFSET, epoch);
}

/**
 * Marks the batch LogAppendTime with `timestampMs` as its max timestamp and
 * re-computes the CRC. (Consumers then read every record's timestamp as the
 * batch's max timestamp, as Kafka defines it.)
 */
export function patchLogAppendTime(bytes: Uint8Array, pos: number, timestampMs: number): void {
  const size = batchSizeForPatch(bytes, pos);
  const attributes = readI16(bytes, pos + ATTRIBUTES_OFFSET);
  writeI16(bytes, pos + ATTRIBUTES_OFFSET, attributes | BatchAttribute.LOG_APPEND_TIME);
  writeI64Number(bytes, pos + MAX_TIMESTAMP_OFFSET, timestampMs);
  writeI32(bytes, pos + CRC_OFFSET, crc32c(bytes, pos + CRC_COVERED_FROM, pos + size));
}

// ---------------------------------------------------------------- building

export type HeaderValueInput = Uint8Array | string | null;

export interface RecordInput {
  key?: Uint8Array | string | null;
  value: Uint8Array | string | null;
  headers?: Record<string, HeaderValueInput> | Array<[string, HeaderValueInput]>;
  /** Milliseconds since the epoch; defaults to the batch's first timestamp. */
  timestamp?: number;
}

export interface FinishOptions {
  baseOffset?: number | bigint;
  producerId?: bigint | number;
  producerEpoch?: number;
  baseSequence?: number;
  partitionLeaderEpoch?: number;
  /** Extra attribute bits (e.g. BatchAttribute.TRANSACTIONAL). Compression bits must be 0. */
  attributes?: number;
}

type Field = Uint8Array | string | null | undefined;

/**
 * Builds one uncompressed batch at a time into a buffer that is reused across
 * batches (it grows, never shrinks). Nothing is allocated per record: strings
 * are encoded straight into the buffer.
 *
 * The common record of a producer — a byte value, no key, no headers, no
 * timestamp of its own — takes a short path that writes its few fields
 * directly; every other shape takes the general path, which bounds the
 * record's size first so one capacity check covers every write. Both give the
 * bytes of the grammar above (record_batch.test.ts checks them against a
 * plain reference encoding over many record shapes).
 *
 * Timestamps: the batch's first timestamp is the one given to reset(), else
 * the first record's, else the clock at the first append. A record without a
 * timestamp gets the first timestamp (one clock read per batch, not per record).
 *
 * A finished batch (finishView) is a view of the builder's buffer: a caller
 * that keeps it until it is sent (as the producer does, for retries) keeps the
 * builder with it and resets it only afterwards.
 */
export class BatchBuilder {
  private buf: Uint8Array;
  private end = RECORDS_OFFSET;
  private count = 0;
  private firstTimestamp = 0;
  private haveFirstTimestamp = false;
  private maxTimestamp = 0;

  constructor(opts?: { initialBytes?: number }) {
    this.buf = new Uint8Array(Math.max(opts?.initialBytes ?? BUILDER_INITIAL_BYTES, BATCH_HEADER_BYTES + 64));
  }

  /** Starts a new batch, keeping the buffer. */
  reset(firstTimestamp?: number): void {
    this.end = RECORDS_OFFSET;
    this.count = 0;
    this.haveFirstTimestamp = firstTimestamp !== undefined;
    this.firstTimestamp = firstTimestamp ?? 0;
    this.maxTimestamp = this.firstTimestamp;
  }

  /** Bytes the batch would have if finished now (header included). */
  get sizeBytes(): number {
    return this.end;
  }

  get recordCount(): number {
    return this.count;
  }

  append(record: RecordInput): void {
    const count = this.count;
    if (count >= BATCH_RECORDS_MAX) {
      throw new SluiceError(ErrorCode.INVALID_RECORD, `a batch holds at most ${BATCH_RECORDS_MAX} records`);
    }
    const timestamp = record.timestamp;
    if (timestamp !== undefined && !Number.isSafeInteger(timestamp)) {
      throw new SluiceError(ErrorCode.INVALID_TIMESTAMP, `record timestamp ${timestamp} is not an integer of ms`);
    }
    if (!this.haveFirstTimestamp) {
      this.firstTimestamp = this.maxTimestamp = timestamp ?? Date.now();
      this.haveFirstTimestamp = true;
    }
    const { key, value, headers } = record;
    if (timestamp === undefined && headers === undefined && (key === undefined || key === null) && value instanceof Uint8Array) {
      // The common record: attributes 0, timestamp delta 0, key null, no headers.
      const n = value.length;
      const body = 4 + varintSize(count) + varintSize(n) + n;
      this.ensureCapacity(this.end + 5 + body);
      const buf = this.buf;
      let p = writeVarint(buf, this.end, body);
      buf[p++] = 0; // attributes
      buf[p++] = 0; // timestamp delta
      p = writeVarint(buf, p, count);
      buf[p++] = 1; // key: null (zigzag -1)
      p = writeVarint(buf, p, n);
      buf.set(value, p);
      p += n;
      buf[p++] = 0; // no headers
      this.end = p;
      this.count = count + 1;
      return;
    }
    this.appendGeneral(record, timestamp ?? this.firstTimestamp);
  }

  private appendGeneral(record: RecordInput, timestamp: number): void {
    const count = this.count;
    const { key, value, headers } = record;
    const timestampDelta = timestamp - this.firstTimestamp;
    let headerCount = 0;
    let headersBytesMax = 0;
    if (headers !== undefined) {
      if (Array.isArray(headers)) {
        headerCount = headers.length;
        for (let i = 0; i < headers.length; i++) headersBytesMax += fieldBytesMax(headers[i][0]) + fieldBytesMax(headers[i][1]);
      } else {
        for (const k in headers) {
          if (!Object.hasOwn(headers, k)) continue;
          headerCount++;
          headersBytesMax += fieldBytesMax(k) + fieldBytesMax(headers[k]);
        }
      }
      if (headerCount > RECORD_HEADERS_MAX) {
        throw new SluiceError(ErrorCode.INVALID_RECORD, `a record holds at most ${RECORD_HEADERS_MAX} headers`);
      }
    }
    // Upper bound of the record body, so one capacity check covers every write.
    const bodyBytesMax =
      1 +
      varlongSize(timestampDelta) +
      varintSize(count) +
      fieldBytesMax(key) +
      fieldBytesMax(value) +
      varintSize(headerCount) +
      headersBytesMax;
    if (bodyBytesMax > 0x7fffffff - 5) throw new SluiceError(ErrorCode.MESSAGE_TOO_LARGE, "record too large");
    const lengthBytesMax = varintSize(bodyBytesMax);
    const recordStart = this.end;
    this.ensureCapacity(recordStart + lengthBytesMax + bodyBytesMax);
    const buf = this.buf;
    const bodyStart = recordStart + lengthBytesMax;
    let p = bodyStart;
    buf[p++] = 0; // record attributes: unused in v2
    p = writeVarlong(buf, p, timestampDelta);
    p = writeVarint(buf, p, count);
    p = writeField(buf, p, key);
    p = writeField(buf, p, value);
    p = writeVarint(buf, p, headerCount);
    if (headers !== undefined) {
      if (Array.isArray(headers)) {
        for (let i = 0; i < headers.length; i++) {
          p = writeField(buf, p, headers[i][0]);
          p = writeField(buf, p, headers[i][1]);
        }
      } else {
        for (const k in headers) {
          if (!Object.hasOwn(headers, k)) continue;
          p = writeField(buf, p, k);
          p = writeField(buf, p, headers[k]);
        }
      }
    }
    const bodyBytes = p - bodyStart;
    // The capacity was checked once against the bound: every write above must have stayed within it.
    assert(bodyBytes <= bodyBytesMax, "batch builder: a record body stays within its computed bound", bodyBytes);
    const lengthBytes = varintSize(bodyBytes);
    // The bound over-reserved room for the length (only when it straddles a varint size).
    if (lengthBytes < lengthBytesMax) buf.copyWithin(recordStart + lengthBytes, bodyStart, p);
    writeVarint(buf, recordStart, bodyBytes);
    this.end = recordStart + lengthBytes + bodyBytes;
    this.count = count + 1;
    if (timestamp > this.maxTimestamp) this.maxTimestamp = timestamp;
  }

  /**
   * Writes the header and CRC and returns the batch as a view of the
   * builder's buffer: valid only until the next reset()/append(). Use it to
   * copy the batch straight into a frame, or keep the builder with it.
   */
  finishView(opts?: FinishOptions): Uint8Array {
    if (this.count === 0) throw new SluiceError(ErrorCode.INVALID_RECORD, "cannot finish a batch with no records");
    const b = this.buf;
    const size = this.end;
    let attributes = 0;
    let baseOffset: number | bigint = 0;
    let producerId: number | bigint = -1;
    let partitionLeaderEpoch = -1;
    let producerEpoch = -1;
    let baseSequence = -1;
    if (opts !== undefined) {
      attributes = opts.attributes ?? 0;
      if (compressionOf(attributes) !== Compression.NONE) {
        throw new SluiceError(ErrorCode.INVALID_RECORD, "the builder writes uncompressed batches only");
      }
      baseOffset = opts.baseOffset ?? 0;
      producerId = opts.producerId ?? -1;
      partitionLeaderEpoch = opts.partitionLeaderEpoch ?? -1;
      producerEpoch = opts.producerEpoch ?? -1;
      baseSequence = opts.baseSequence ?? -1;
    }
    if (typeof baseOffset === "bigint") writeI64(b, BASE_OFFSET_OFFSET, baseOffset);
    else writeI64Number(b, BASE_OFFSET_OFFSET, baseOffset);
    writeI32(b, BATCH_LENGTH_OFFSET, size - BATCH_OVERHEAD_BYTES);
    writeI32(b, PARTITION_LEADER_EPOCH_OFFSET, partitionLeaderEpoch);
    b[MAGIC_OFFSET] = MAGIC_V2;
    writeI16(b, ATTRIBUTES_OFFSET, attributes);
    writeI32(b, LAST_OFFSET_DELTA_OFFSET, this.count - 1);
    writeI64Number(b, FIRST_TIMESTAMP_OFFSET, this.firstTimestamp);
    writeI64Number(b, MAX_TIMESTAMP_OFFSET, this.maxTimestamp);
    if (typeof producerId === "bigint") writeI64(b, PRODUCER_ID_OFFSET, producerId);
    else writeI64Number(b, PRODUCER_ID_OFFSET, producerId);
    writeI16(b, PRODUCER_EPOCH_OFFSET, producerEpoch);
    writeI32(b, BASE_SEQUENCE_OFFSET, baseSequence);
    writeI32(b, RECORD_COUNT_OFFSET, this.count);
    writeI32(b, CRC_OFFSET, crc32c(b, CRC_COVERED_FROM, size));
    return b.subarray(0, size);
  }

  /** Like finishView, but returns a fresh copy, so the builder can be reset and reused at once. */
  finish(opts?: FinishOptions): Uint8Array {
    return this.finishView(opts).slice();
  }

  private ensureCapacity(bytes: number): void {
    if (bytes <= this.buf.length) return;
    let n = this.buf.length * 2;
    while (n < bytes) n *= 2;
    const grown = new Uint8Array(n);
    grown.set(this.buf.subarray(0, this.end));
    this.buf = grown;
  }
}

/** Upper bound of the bytes a length-prefixed field takes (strings at 3 bytes per UTF-16 unit: no pass over them). */
function fieldBytesMax(v: Field): number {
  if (v === null || v === undefined) return 1;
  const n = typeof v === "string" ? utf8LengthMax(v) : v.length;
  return varintSize(n) + n;
}

/**
 * Writes a varint length (-1 for null) and the bytes. A string is encoded
 * straight into the buffer after room for its largest possible length; the
 * gap is closed if the real length took fewer varint bytes (rare: only when
 * the lengths straddle 64, 8192, ...).
 */
function writeField(buf: Uint8Array, p: number, v: Field): number {
  if (v === null || v === undefined) {
    buf[p] = 1; // zigzag(-1)
    return p + 1;
  }
  if (typeof v === "string") {
    const reserved = varintSize(utf8LengthMax(v));
    const n = utf8Write(buf, p + reserved, v);
    const lengthBytes = varintSize(n);
    if (lengthBytes < reserved) buf.copyWithin(p + lengthBytes, p + reserved, p + reserved + n);
    writeVarint(buf, p, n);
    return p + lengthBytes + n;
  }
  p = writeVarint(buf, p, v.length);
  buf.set(v, p);
  return p + v.length;
}

/** Encodes `records` as one uncompressed batch (a fresh Uint8Array). */
export function encodeBatch(records: RecordInput[], opts?: FinishOptions & { firstTimestamp?: number }): Uint8Array {
  const builder = new BatchBuilder({ initialBytes: BATCH_HEADER_BYTES + 64 * Math.max(records.length, 1) });
  builder.reset(opts?.firstTimestamp);
  for (const r of records) builder.append(r);
  return builder.finishView(opts).slice();
}

// ---------------------------------------------------------------- decoding

/** A record's headers, in order (repeated names allowed); values are views. */
export type RecordHeaders = ReadonlyArray<readonly [string, Uint8Array | null]>;

/** The headers of every record that has none: one shared, frozen array (no array per record). */
export const NO_HEADERS: RecordHeaders = Object.freeze([]) as RecordHeaders;

export interface DecodedRecord {
  offset: bigint;
  timestamp: bigint;
  /** A view into the batch bytes (or the decompressed records), not a copy. */
  key: Uint8Array | null;
  value: Uint8Array | null;
  /** NO_HEADERS (shared) when the record has none. */
  headers: RecordHeaders;
}

export interface DecodedBatch {
  header: BatchHeader;
  records: DecodedRecord[];
  size: number;
}

/**
 * Checks what can be checked of the batch at `pos` without walking its
 * records: whole (ends by `bytes.length`), magic 2, CRC-32C (unless `checkCrc`
 * is false: a reader that trusts its source, as a consumer may the broker,
 * which checks every batch it serves) and a record count in
 * 0..BATCH_RECORDS_MAX. Returns the batch size. Throws BatchError.
 */
export function checkBatch(bytes: Uint8Array, pos: number, checkCrc = true): number {
  const size = checkFraming(bytes, pos, bytes.length);
  if (checkCrc) checkMagicAndCrc(bytes, pos, size);
  else checkMagic(bytes, pos);
  const recordCount = readI32(bytes, pos + RECORD_COUNT_OFFSET);
  if (recordCount < 0 || recordCount > BATCH_RECORDS_MAX) {
    throw new BatchError(
      ErrorCode.INVALID_RECORD,
      `record count ${recordCount} is outside 0..${BATCH_RECORDS_MAX}`,
      pos + RECORD_COUNT_OFFSET,
    );
  }
  return size;
}

/**
 * Reads the records of one batch one at a time into its own fields, so a
 * decode loop allocates nothing per record but a view per non-null key and
 * value (and, for a record that has headers, their array): no record object,
 * no bigint. Every length is checked against its record's end before use.
 *
 *   const reader = new RecordReader(bytes, pos, checkBatch(bytes, pos));
 *   while (reader.next()) use(reader.offsetDelta, reader.timestampMs, reader.key, reader.value, reader.headers);
 *
 * The fields describe the current record until the next call of next().
 * Compressed records (gzip, snappy, lz4, zstd: protocol/compression/) are
 * decompressed when the reader is made, bounded by BATCH_DECOMPRESSED_BYTES_MAX.
 */
export class RecordReader implements Cursor {
  /** Where the next record starts (the reader is its own varint cursor). */
  pos: number;
  /** Index of the current record (-1 before the first next()). */
  index = -1;
  offsetDelta = 0;
  /** The record's timestamp delta from the batch's first timestamp (0 under LogAppendTime). */
  timestampDelta = 0;
  /** Milliseconds (the batch's max timestamp under LogAppendTime); exact while below 2^53, as every real clock is. */
  timestampMs = 0;
  key: Uint8Array | null = null;
  value: Uint8Array | null = null;
  headers: RecordHeaders = NO_HEADERS;
  /** Records in the batch (its header's recordCount). */
  readonly recordCount: number;
  /** The batch's header fields the records are relative to. */
  readonly attributes: number;
  readonly firstTimestampMs: number;
  readonly maxTimestampMs: number;
  private readonly records: Uint8Array;
  private readonly end: number;
  private readonly logAppendTime: boolean;

  /** `size` is the batch's size as checkBatch returned it (the caller checked the batch). */
  constructor(bytes: Uint8Array, pos: number, size: number) {
    this.recordCount = readI32(bytes, pos + RECORD_COUNT_OFFSET);
    const attributes = readI16(bytes, pos + ATTRIBUTES_OFFSET);
    this.attributes = attributes;
    this.firstTimestampMs = readI64Number(bytes, pos + FIRST_TIMESTAMP_OFFSET);
    this.maxTimestampMs = readI64Number(bytes, pos + MAX_TIMESTAMP_OFFSET);
    this.logAppendTime = (attributes & BatchAttribute.LOG_APPEND_TIME) !== 0;
    const compression = compressionOf(attributes);
    if (compression === Compression.NONE) {
      this.records = bytes;
      this.pos = pos + RECORDS_OFFSET;
      this.end = pos + size;
    } else {
      this.records = decompressBatchRecords(bytes, pos, size, compression);
      this.pos = 0;
      this.end = this.records.length;
    }
  }

  /**
   * Reads the next record into the fields; false after the last one (having
   * checked that the records fill the batch exactly). Throws BatchError
   * (INVALID_RECORD) naming the record and the byte where it starts.
   */
  next(): boolean {
    const index = this.index + 1;
    if (index >= this.recordCount) {
      if (this.pos !== this.end) {
        throw new BatchError(ErrorCode.INVALID_RECORD, `${this.end - this.pos} bytes after the last record`, this.pos);
      }
      return false;
    }
    // One function for the whole record (no call to a helper): next() is called once per record.
    const recordStart = this.pos;
    try {
      const records = this.records;
      const end = this.end;
      const length = readVarint(records, this, end);
      const recordEnd = this.pos + length;
      if (length < RECORD_BODY_BYTES_MIN || recordEnd > end) {
        throw new Error(`length ${length} does not fit (${end - this.pos} bytes left)`);
      }
      this.pos += 1; // attributes: unused in v2
      const timestampDelta = readVarlong(records, this, recordEnd);
      this.offsetDelta = readVarint(records, this, recordEnd);
      this.key = readField(records, this, recordEnd, "key");
      this.value = readField(records, this, recordEnd, "value");
      const headerCount = readVarint(records, this, recordEnd);
      this.headers = headerCount === 0 ? NO_HEADERS : readHeaders(records, this, recordEnd, headerCount);
      if (this.pos !== recordEnd) throw new Error(`fields end at byte ${this.pos}, the record at byte ${recordEnd}`);
      if (this.logAppendTime) {
        this.timestampDelta = 0;
        this.timestampMs = this.maxTimestampMs;
      } else {
        this.timestampDelta = timestampDelta;
        this.timestampMs = this.firstTimestampMs + timestampDelta;
      }
    } catch (e) {
      if (e instanceof BatchError) throw e;
      throw new BatchError(ErrorCode.INVALID_RECORD, `record ${index}: ${(e as Error).message}`, recordStart, { cause: e });
    }
    this.index = index;
    return true;
  }
}

/**
 * The records section of a compressed batch, decompressed (at most
 * BATCH_DECOMPRESSED_BYTES_MAX bytes: a bomb gets MESSAGE_TOO_LARGE, never
 * more memory). Throws BatchError with the codec's code: CORRUPT_MESSAGE,
 * MESSAGE_TOO_LARGE or UNSUPPORTED_COMPRESSION_TYPE.
 */
function decompressBatchRecords(bytes: Uint8Array, pos: number, size: number, compression: number): Uint8Array {
  const start = pos + RECORDS_OFFSET;
  try {
    return decompressRecords(compression, bytes, start, pos + size, BATCH_DECOMPRESSED_BYTES_MAX);
  } catch (e) {
    if (!(e instanceof CompressionError)) throw e;
    const name = COMPRESSION_NAMES[compression] ?? `codec ${compression}`;
    throw new BatchError(e.code, `compressed batch (${name}): ${e.message}`, start, { cause: e });
  }
}

function readField(buf: Uint8Array, cur: Cursor, end: number, what: string): Uint8Array | null {
  const n = readVarint(buf, cur, end);
  if (n === -1) return null;
  const at = cur.pos;
  if (n < -1 || n > end - at) throw new Error(`${what} length ${n} is invalid (${end - at} bytes left)`);
  cur.pos = at + n;
  return buf.subarray(at, at + n);
}

function readHeaders(buf: Uint8Array, cur: Cursor, end: number, count: number): RecordHeaders {
  // Each header takes at least two bytes, so the count is bounded by what is left.
  if (count < 0 || count > RECORD_HEADERS_MAX || count * 2 > end - cur.pos) {
    throw new Error(`header count ${count} is invalid for ${end - cur.pos} bytes left`);
  }
  const headers: Array<[string, Uint8Array | null]> = [];
  for (let h = 0; h < count; h++) {
    const keyLength = readVarint(buf, cur, end);
    if (keyLength < 0 || keyLength > end - cur.pos) throw new Error(`header key length ${keyLength} is invalid`);
    const name = utf8Read(buf, cur.pos, cur.pos + keyLength);
    cur.pos += keyLength;
    headers.push([name, readField(buf, cur, end, "header value")]);
  }
  return headers;
}

/**
 * Checks framing, magic and CRC of the batch at `pos`, then calls `fn` for
 * each record in order. Keys and values are views, not copies; a record
 * without headers has NO_HEADERS. Per record one object and one bigint (its
 * offset); timestamps share the bigint of the record before while their
 * deltas repeat (as they do when records carry no timestamp of their own).
 * Compressed batches are decompressed (bounded by BATCH_DECOMPRESSED_BYTES_MAX). Returns the header and the batch size.
 * A caller that needs no record objects reads with RecordReader instead.
 */
export function forEachRecord(
  bytes: Uint8Array,
  pos: number,
  fn: (record: DecodedRecord) => void,
): { header: BatchHeader; size: number } {
  const size = checkBatch(bytes, pos);
  const header = readBatchHeader(bytes, pos);
  const reader = new RecordReader(bytes, pos, size);
  const { baseOffset, firstTimestamp } = header;
  let offset = baseOffset - 1n;
  let prevOffsetDelta = -1;
  // Under LogAppendTime every record has the max timestamp (the reader reports delta 0 for each).
  let timestamp = timestampTypeOf(header.attributes) === TimestampType.LOG_APPEND_TIME ? header.maxTimestamp : firstTimestamp;
  let timestampDelta = 0;
  while (reader.next()) {
    const offsetDelta = reader.offsetDelta;
    offset = offsetDelta === prevOffsetDelta + 1 ? offset + 1n : baseOffset + BigInt(offsetDelta);
    prevOffsetDelta = offsetDelta;
    if (reader.timestampDelta !== timestampDelta) {
      timestampDelta = reader.timestampDelta;
      timestamp = firstTimestamp + BigInt(timestampDelta);
    }
    // Outside the reader's checks: an error of the caller's stays the caller's.
    fn({ offset, timestamp, key: reader.key, value: reader.value, headers: reader.headers });
  }
  return { header, size };
}

/** Decodes the batch at `pos` (default 0) into its header and records. */
export function decodeBatch(bytes: Uint8Array, pos = 0): DecodedBatch {
  const records: DecodedRecord[] = [];
  const { header, size } = forEachRecord(bytes, pos, (r) => records.push(r));
  return { header, records, size };
}

/**
 * Decodes a records blob of whole batches back to back (as in a Fetch
 * response). A partial batch at the end is an error: the broker never splits one.
 */
export function decodeBatches(bytes: Uint8Array): DecodedBatch[] {
  const out: DecodedBatch[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const batch = decodeBatch(bytes, pos);
    out.push(batch);
    pos += batch.size;
  }
  return out;
}
