// The producer's batch encoder: RecordBatch v2 (protocol/record_batch.ts has
// the layout) built record by record into a buffer reused across batches.
//
// Why not protocol's BatchBuilder: it is general (any record shape, bounds
// computed before every write). The producer's common record — a byte value,
// no key, no headers, no explicit timestamp — is encoded here by a short path
// that writes its few fields directly; every other shape takes the general
// path. Both give the same bytes BatchBuilder gives for the same records
// (client/record_batch_writer.test.ts checks that over many shapes).
//
// Timestamps as BatchBuilder does them: the batch's first timestamp is the
// first record's, or the clock at the first append; a record without one gets
// the first timestamp (one clock read per batch).

import { writeI16, writeI32, writeI64Number } from "../protocol/big_endian.ts";
import { crc32c } from "../protocol/crc32c.ts";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { BATCH_RECORDS_MAX, RECORD_HEADERS_MAX } from "../protocol/limits.ts";
import {
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_OFFSET,
  BATCH_OVERHEAD_BYTES,
  CRC_COVERED_FROM,
  CRC_OFFSET,
  FIRST_TIMESTAMP_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  MAGIC_OFFSET,
  MAGIC_V2,
  MAX_TIMESTAMP_OFFSET,
  PARTITION_LEADER_EPOCH_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORD_COUNT_OFFSET,
  RECORDS_OFFSET,
  type RecordInput,
} from "../protocol/record_batch.ts";
import { utf8LengthMax, utf8Write } from "../protocol/utf8.ts";
import { varintSize, varlongSize, writeVarint, writeVarlong } from "../protocol/varint.ts";

type Field = Uint8Array | string | null | undefined;

/** Upper bound of a length-prefixed field's bytes (strings at 3 bytes per UTF-16 unit: no pass over them). */
function fieldSizeMax(v: Field): number {
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

export class RecordBatchWriter {
  private buf: Uint8Array;
  private end = RECORDS_OFFSET;
  private count = 0;
  private firstTimestamp = 0;
  private haveFirstTimestamp = false;
  private maxTimestamp = 0;

  constructor(initialBytes: number) {
    this.buf = new Uint8Array(Math.max(initialBytes, BATCH_HEADER_BYTES + 64));
  }

  /** Starts a new batch, keeping the buffer. */
  reset(): void {
    this.end = RECORDS_OFFSET;
    this.count = 0;
    this.haveFirstTimestamp = false;
    this.firstTimestamp = 0;
    this.maxTimestamp = 0;
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
      buf[p++] = 1; // key: null
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
    let headersSizeMax = 0;
    if (headers !== undefined) {
      if (Array.isArray(headers)) {
        headerCount = headers.length;
        for (let i = 0; i < headers.length; i++) headersSizeMax += fieldSizeMax(headers[i][0]) + fieldSizeMax(headers[i][1]);
      } else {
        for (const k in headers) {
          if (!Object.hasOwn(headers, k)) continue;
          headerCount++;
          headersSizeMax += fieldSizeMax(k) + fieldSizeMax(headers[k]);
        }
      }
      if (headerCount > RECORD_HEADERS_MAX) {
        throw new SluiceError(ErrorCode.INVALID_RECORD, `a record holds at most ${RECORD_HEADERS_MAX} headers`);
      }
    }
    // An upper bound of the body, so one capacity check covers every write.
    const bodyMax =
      1 + varlongSize(timestampDelta) + varintSize(count) + fieldSizeMax(key) + fieldSizeMax(value) + varintSize(headerCount) + headersSizeMax;
    if (bodyMax > 0x7fffffff - 5) throw new SluiceError(ErrorCode.MESSAGE_TOO_LARGE, "record too large");
    const lengthBytesMax = varintSize(bodyMax);
    const recordStart = this.end;
    this.ensureCapacity(recordStart + lengthBytesMax + bodyMax);
    const buf = this.buf;
    const bodyStart = recordStart + lengthBytesMax;
    let p = bodyStart;
    buf[p++] = 0; // attributes: unused in v2
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
    const body = p - bodyStart;
    const lengthBytes = varintSize(body);
    // The bound over-reserved room for the length (only when it straddles a varint size).
    if (lengthBytes < lengthBytesMax) buf.copyWithin(recordStart + lengthBytes, bodyStart, p);
    writeVarint(buf, recordStart, body);
    this.end = recordStart + lengthBytes + body;
    this.count = count + 1;
    if (timestamp > this.maxTimestamp) this.maxTimestamp = timestamp;
  }

  /**
   * Writes the header and CRC and returns the batch as a view of the
   * writer's buffer: valid until the next reset()/append().
   */
  finishView(): Uint8Array {
    if (this.count === 0) throw new SluiceError(ErrorCode.INVALID_RECORD, "cannot finish a batch with no records");
    const b = this.buf;
    const size = this.end;
    writeI64Number(b, BASE_OFFSET_OFFSET, 0);
    writeI32(b, BATCH_LENGTH_OFFSET, size - BATCH_OVERHEAD_BYTES);
    writeI32(b, PARTITION_LEADER_EPOCH_OFFSET, -1);
    b[MAGIC_OFFSET] = MAGIC_V2;
    writeI16(b, ATTRIBUTES_OFFSET, 0);
    writeI32(b, LAST_OFFSET_DELTA_OFFSET, this.count - 1);
    writeI64Number(b, FIRST_TIMESTAMP_OFFSET, this.firstTimestamp);
    writeI64Number(b, MAX_TIMESTAMP_OFFSET, this.maxTimestamp);
    writeI64Number(b, PRODUCER_ID_OFFSET, -1);
    writeI16(b, PRODUCER_EPOCH_OFFSET, -1);
    writeI32(b, BASE_SEQUENCE_OFFSET, -1);
    writeI32(b, RECORD_COUNT_OFFSET, this.count);
    writeI32(b, CRC_OFFSET, crc32c(b, CRC_COVERED_FROM, size));
    return b.subarray(0, size);
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
