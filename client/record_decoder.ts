// Decodes a fetched RecordBatch v2 straight into the records the consumer
// hands out. The checks are those of protocol/record_batch.ts's
// forEachRecord — framing, magic, CRC-32C, record count, every length against
// its record's end — but no intermediate record object, no header array per
// record without headers, no bigint timestamps: per record one FetchedRecord,
// one view per non-null key and value, and its offset.
//
// Compressed batches (gzip) go through forEachRecord, which inflates them.

import { readI16, readI32, readI64, readI64Number, readU32 } from "../protocol/big_endian.ts";
import { crc32c } from "../protocol/crc32c.ts";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { BATCH_RECORDS_MAX, RECORD_HEADERS_MAX } from "../protocol/limits.ts";
import {
  ATTRIBUTES_OFFSET,
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_OFFSET,
  BATCH_OVERHEAD_BYTES,
  BatchAttribute,
  BatchError,
  Compression,
  CRC_COVERED_FROM,
  CRC_OFFSET,
  FIRST_TIMESTAMP_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  MAGIC_OFFSET,
  MAGIC_V2,
  MAX_TIMESTAMP_OFFSET,
  RECORD_BODY_BYTES_MIN,
  RECORD_COUNT_OFFSET,
  RECORDS_OFFSET,
  compressionOf,
  forEachRecord,
} from "../protocol/record_batch.ts";
import { utf8Read } from "../protocol/utf8.ts";
import { type Cursor, readVarint, readVarlong } from "../protocol/varint.ts";

export type RecordHeaders = ReadonlyArray<readonly [string, Uint8Array | null]>;

/** A consumed record; keys, values and header values are views into the fetched bytes. */
export class FetchedRecord {
  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly offset: bigint,
    readonly timestamp: number,
    readonly key: Uint8Array | null,
    readonly value: Uint8Array | null,
    readonly headers: RecordHeaders,
  ) {}
}

/** The headers of every record that has none (one shared, frozen array). */
export const NO_HEADERS: RecordHeaders = Object.freeze([]) as RecordHeaders;

export interface FetchedBatchInfo {
  /** Bytes the batch occupies. */
  readonly size: number;
  readonly baseOffset: bigint;
  /** The offset after the batch's last one. */
  readonly nextOffset: bigint;
  readonly attributes: number;
  readonly recordCount: number;
}

// Decoding is synchronous and calls out to nothing: one cursor serves every call.
const cur: Cursor = { pos: 0 };

/**
 * Checks the batch at `pos` (which must end by `bytes.length`) and appends
 * its records at or past offset `position` to `out`. Throws BatchError
 * (CORRUPT_MESSAGE or INVALID_RECORD) naming what failed and where.
 */
export function decodeFetchedBatch(
  bytes: Uint8Array,
  pos: number,
  topic: string,
  partition: number,
  position: bigint,
  out: FetchedRecord[],
): FetchedBatchInfo {
  const info = checkFetchedBatch(bytes, pos);
  decodeFetchedRecords(bytes, pos, info, topic, partition, position, out);
  return info;
}

/**
 * Checks what can be checked without walking the records — framing, magic,
 * CRC-32C (so every byte is as the producer wrote it; unless `checkCrc` is
 * false), record count — and reads the header fields the consumer needs.
 */
export function checkFetchedBatch(bytes: Uint8Array, pos: number, checkCrc = true): FetchedBatchInfo {
  const left = bytes.length - pos;
  if (left < BATCH_OVERHEAD_BYTES) {
    throw new BatchError(ErrorCode.CORRUPT_MESSAGE, `truncated batch: ${left} bytes left, need ${BATCH_OVERHEAD_BYTES} for offset and length`, pos);
  }
  const batchLength = readI32(bytes, pos + BATCH_LENGTH_OFFSET);
  if (batchLength < BATCH_HEADER_BYTES - BATCH_OVERHEAD_BYTES) {
    throw new BatchError(ErrorCode.CORRUPT_MESSAGE, `batch length ${batchLength} is smaller than the header`, pos + BATCH_LENGTH_OFFSET);
  }
  const size = BATCH_OVERHEAD_BYTES + batchLength;
  if (size > left) throw new BatchError(ErrorCode.CORRUPT_MESSAGE, `truncated batch: length says ${size} bytes, ${left} left`, pos + BATCH_LENGTH_OFFSET);
  const magic = bytes[pos + MAGIC_OFFSET];
  if (magic !== MAGIC_V2) throw new BatchError(ErrorCode.INVALID_RECORD, `batch magic is ${magic}, only 2 is supported`, pos + MAGIC_OFFSET);
  const batchEnd = pos + size;
  const stored = readU32(bytes, pos + CRC_OFFSET);
  const computed = checkCrc ? crc32c(bytes, pos + CRC_COVERED_FROM, batchEnd) : stored;
  if (stored !== computed) {
    throw new BatchError(
      ErrorCode.CORRUPT_MESSAGE,
      `batch CRC mismatch: stored 0x${stored.toString(16)}, computed 0x${computed.toString(16)}`,
      pos + CRC_OFFSET,
    );
  }
  const recordCount = readI32(bytes, pos + RECORD_COUNT_OFFSET);
  if (recordCount < 0 || recordCount > BATCH_RECORDS_MAX) {
    throw new BatchError(ErrorCode.INVALID_RECORD, `record count ${recordCount} is outside 0..${BATCH_RECORDS_MAX}`, pos + RECORD_COUNT_OFFSET);
  }
  const attributes = readI16(bytes, pos + ATTRIBUTES_OFFSET);
  const baseOffset = readI64(bytes, pos);
  const nextOffset = baseOffset + BigInt(readI32(bytes, pos + LAST_OFFSET_DELTA_OFFSET)) + 1n;
  return { size, baseOffset, nextOffset, attributes, recordCount };
}

/**
 * Appends the records of the batch at `pos` (already checked: `info`) at or
 * past offset `position` to `out`, checking every length against its
 * record's end. Throws BatchError (INVALID_RECORD) naming the record.
 */
export function decodeFetchedRecords(
  bytes: Uint8Array,
  pos: number,
  info: FetchedBatchInfo,
  topic: string,
  partition: number,
  position: bigint,
  out: FetchedRecord[],
): void {
  const { size, baseOffset, attributes, recordCount } = info;
  const batchEnd = pos + size;
  if (compressionOf(attributes) !== Compression.NONE) {
    forEachRecord(bytes, pos, (r) => {
      if (r.offset < position) return;
      out.push(new FetchedRecord(topic, partition, r.offset, Number(r.timestamp), r.key, r.value, r.headers.length === 0 ? NO_HEADERS : r.headers));
    });
    return;
  }
  const logAppendTime = (attributes & BatchAttribute.LOG_APPEND_TIME) !== 0;
  const firstTimestamp = readI64Number(bytes, pos + FIRST_TIMESTAMP_OFFSET);
  const maxTimestamp = readI64Number(bytes, pos + MAX_TIMESTAMP_OFFSET);
  // Records below the position are checked but not handed out; compare deltas, not bigints.
  const below = position - baseOffset;
  const skipBelowDelta = below <= 0n ? 0 : below > 0x7fffffffn ? Infinity : Number(below);
  // Offsets are stepped (one bigint add) while deltas run one by one, as they do in every valid batch.
  let prevDelta = -1;
  let prevOffset = baseOffset - 1n;
  cur.pos = pos + RECORDS_OFFSET;
  let recordStart = cur.pos;
  let i = 0;
  try {
    for (; i < recordCount; i++) {
      recordStart = cur.pos;
      const length = readVarint(bytes, cur, batchEnd);
      const recordEnd = cur.pos + length;
      if (length < RECORD_BODY_BYTES_MIN || recordEnd > batchEnd) {
        throw new SluiceError(ErrorCode.INVALID_RECORD, `length ${length} does not fit (${batchEnd - cur.pos} bytes left)`);
      }
      cur.pos += 1; // attributes: unused in v2
      const timestampDelta = readVarlong(bytes, cur, recordEnd);
      const offsetDelta = readVarint(bytes, cur, recordEnd);
      const key = readField(bytes, recordEnd, "key");
      const value = readField(bytes, recordEnd, "value");
      const headerCount = readVarint(bytes, cur, recordEnd);
      const headers = headerCount === 0 ? NO_HEADERS : readHeaders(bytes, recordEnd, headerCount);
      if (cur.pos !== recordEnd) throw new SluiceError(ErrorCode.INVALID_RECORD, `fields end at byte ${cur.pos}, the record at byte ${recordEnd}`);
      if (offsetDelta < skipBelowDelta) continue;
      const offset = offsetDelta === prevDelta + 1 ? prevOffset + 1n : baseOffset + BigInt(offsetDelta);
      prevDelta = offsetDelta;
      prevOffset = offset;
      out.push(new FetchedRecord(topic, partition, offset, logAppendTime ? maxTimestamp : firstTimestamp + timestampDelta, key, value, headers));
    }
  } catch (e) {
    if (e instanceof BatchError) throw e;
    throw new BatchError(ErrorCode.INVALID_RECORD, `record ${i}: ${(e as Error).message}`, recordStart, { cause: e });
  }
  if (cur.pos !== batchEnd) throw new BatchError(ErrorCode.INVALID_RECORD, `${batchEnd - cur.pos} bytes after the last record`, cur.pos);
}

function readField(bytes: Uint8Array, end: number, what: string): Uint8Array | null {
  const n = readVarint(bytes, cur, end);
  if (n === -1) return null;
  const at = cur.pos;
  if (n < -1 || n > end - at) throw new SluiceError(ErrorCode.INVALID_RECORD, `${what} length ${n} is invalid (${end - at} bytes left)`);
  cur.pos = at + n;
  return bytes.subarray(at, at + n);
}

function readHeaders(bytes: Uint8Array, end: number, count: number): RecordHeaders {
  // Each header takes at least two bytes, so the count is bounded by what is left.
  if (count < 0 || count > RECORD_HEADERS_MAX || count * 2 > end - cur.pos) {
    throw new SluiceError(ErrorCode.INVALID_RECORD, `header count ${count} is invalid for ${end - cur.pos} bytes left`);
  }
  const headers: Array<[string, Uint8Array | null]> = [];
  for (let h = 0; h < count; h++) {
    const keyLength = readVarint(bytes, cur, end);
    if (keyLength < 0 || keyLength > end - cur.pos) throw new SluiceError(ErrorCode.INVALID_RECORD, `header key length ${keyLength} is invalid`);
    const name = utf8Read(bytes, cur.pos, cur.pos + keyLength);
    cur.pos += keyLength;
    headers.push([name, readField(bytes, end, "header value")]);
  }
  return headers;
}
