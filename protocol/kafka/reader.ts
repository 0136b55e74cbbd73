// KafkaReader: the primitive types of the Kafka protocol, read from a range of
// a Uint8Array (https://kafka.apache.org/protocol#protocol_types).
//
//   INT8/16/32/64, UINT16/32, FLOAT64, BOOLEAN  big-endian; INT64 as bigint
//   UNSIGNED_VARINT   7 bits per byte, low first (lengths of flexible fields)
//   VARINT/VARLONG    zigzag varints (protocol/varint.ts)
//   STRING            i16 length + UTF-8; NULLABLE_STRING: length -1 is null
//   COMPACT_STRING    uvarint (length + 1) + UTF-8; 0 is null for the nullable kind
//   BYTES             i32 length + bytes; COMPACT_BYTES: uvarint (length + 1)
//   ARRAY             i32 count (-1 null); COMPACT_ARRAY: uvarint (count + 1), 0 null
//   TAGGED_FIELDS     uvarint count, then per field uvarint tag, uvarint size, bytes
//   UUID              16 bytes
//
// The rule of this file: no length read from the wire is used to allocate,
// slice or loop before it has been checked against the bytes left and against
// its named limit (protocol/limits.ts). Array counts are further charged to a
// per-request entry budget, so nested arrays cannot multiply past it. Every
// failure is a KafkaDecodeError naming the field. Bytes come back as views of
// the frame (no copy): a caller that keeps them past the frame's life copies.

import { readI16, readI32, readI64, readU16, readU32 } from "../big_endian.ts";
import type { StringCache } from "../codec.ts";
import {
  KAFKA_ARRAY_LENGTH_MAX,
  KAFKA_BYTES_MAX,
  KAFKA_REQUEST_ENTRIES_MAX,
  KAFKA_STRING_BYTES_MAX,
  KAFKA_TAGGED_FIELD_BYTES_MAX,
  KAFKA_TAGGED_FIELDS_MAX,
} from "../limits.ts";
import { utf8Read } from "../utf8.ts";
import { readVarint, readVarlongBig } from "../varint.ts";
import { KafkaDecodeError, KafkaDecodeReason } from "./decode_error.ts";

const TWO_POW_32 = 4294967296;

/** Called for each tagged field a struct knows; `r` is positioned at its value, bounded to its size. */
export type TaggedFieldHandler = (tag: number, r: KafkaReader) => void;

export class KafkaReader {
  bytes: Uint8Array;
  pos: number;
  end: number;
  /** Array entries this request may still declare (KAFKA_REQUEST_ENTRIES_MAX in all). */
  entriesLeft = KAFKA_REQUEST_ENTRIES_MAX;
  private view: DataView | null = null;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    if (start < 0 || end > bytes.length || start > end) {
      throw new RangeError(`KafkaReader: range [${start}, ${end}) outside 0..${bytes.length}`);
    }
    this.bytes = bytes;
    this.pos = start;
    this.end = end;
  }

  /** Points the reader at another frame (a connection reuses one reader); the entry budget starts over. */
  reset(bytes: Uint8Array, start = 0, end = bytes.length): this {
    if (start < 0 || end > bytes.length || start > end) {
      throw new RangeError(`KafkaReader: range [${start}, ${end}) outside 0..${bytes.length}`);
    }
    this.bytes = bytes;
    this.pos = start;
    this.end = end;
    this.entriesLeft = KAFKA_REQUEST_ENTRIES_MAX;
    this.view = null;
    return this;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** Claims `n` bytes (already known to be >= 0) and returns where they start. */
  private take(n: number, field: string): number {
    const at = this.pos;
    if (n > this.end - at) {
      throw new KafkaDecodeError(KafkaDecodeReason.TRUNCATED, field, `needs ${n} bytes, ${this.end - at} left`);
    }
    this.pos = at + n;
    return at;
  }

  int8(field: string): number {
    const at = this.take(1, field);
    return (this.bytes[at] << 24) >> 24;
  }

  bool(field: string): boolean {
    return this.bytes[this.take(1, field)] !== 0;
  }

  int16(field: string): number {
    return readI16(this.bytes, this.take(2, field));
  }

  uint16(field: string): number {
    return readU16(this.bytes, this.take(2, field));
  }

  int32(field: string): number {
    return readI32(this.bytes, this.take(4, field));
  }

  uint32(field: string): number {
    return readU32(this.bytes, this.take(4, field));
  }

  int64(field: string): bigint {
    const at = this.take(8, field);
    const hi = readI32(this.bytes, at);
    // |v| < 2^53: one BigInt from a number instead of two and a shift.
    if (hi >= -0x200000 && hi < 0x200000) return BigInt(hi * TWO_POW_32 + readU32(this.bytes, at + 4));
    return readI64(this.bytes, at);
  }

  /** An INT64 that must be a safe integer (timeouts, epochs as numbers): else INVALID_VALUE. */
  int64Number(field: string): number {
    const at = this.take(8, field);
    const v = readI32(this.bytes, at) * TWO_POW_32 + readU32(this.bytes, at + 4);
    if (!Number.isSafeInteger(v)) {
      throw new KafkaDecodeError(KafkaDecodeReason.INVALID_VALUE, field, `${v} is beyond 2^53`);
    }
    return v;
  }

  float64(field: string): number {
    const at = this.take(8, field);
    this.view ??= new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    return this.view.getFloat64(at, false);
  }

  /** A UUID as a 16-byte copy (small, and a topic id outlives its frame). */
  uuid(field: string): Uint8Array {
    const at = this.take(16, field);
    return this.bytes.slice(at, at + 16);
  }

  /** An unsigned varint of at most 32 bits (5 bytes). */
  uvarint(field: string): number {
    const start = this.pos;
    // One byte: every compact length under 127 and every empty tagged-field section.
    if (start < this.end) {
      const b0 = this.bytes[start];
      if (b0 < 0x80) {
        this.pos = start + 1;
        return b0;
      }
    }
    let p = start;
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      if (p >= this.end) {
        throw new KafkaDecodeError(KafkaDecodeReason.TRUNCATED, field, `unsigned varint at byte ${start} runs past the end`);
      }
      const b = this.bytes[p++];
      if (shift === 28) {
        if (b > 0x0f) {
          throw new KafkaDecodeError(KafkaDecodeReason.VARINT_TOO_LONG, field, `unsigned varint at byte ${start} is over 32 bits`);
        }
        v += b * 0x10000000; // bit 28..31 without going through a signed shift
        break;
      }
      v |= (b & 0x7f) << shift;
      if (b < 0x80) break;
    }
    this.pos = p;
    return v;
  }

  /** A zigzag varint (int32). */
  varint(field: string): number {
    try {
      return readVarint(this.bytes, this, this.end);
    } catch (e) {
      throw this.varintError(field, e);
    }
  }

  /** A zigzag varlong (int64). */
  varlong(field: string): bigint {
    try {
      return readVarlongBig(this.bytes, this, this.end);
    } catch (e) {
      throw this.varintError(field, e);
    }
  }

  private varintError(field: string, e: unknown): KafkaDecodeError {
    const msg = e instanceof Error ? e.message : String(e);
    const reason = msg.includes("truncated") ? KafkaDecodeReason.TRUNCATED : KafkaDecodeReason.VARINT_TOO_LONG;
    return new KafkaDecodeError(reason, field, msg, { cause: e });
  }

  private checkStringLength(n: number, field: string): void {
    if (n > KAFKA_STRING_BYTES_MAX) {
      throw new KafkaDecodeError(KafkaDecodeReason.OVER_LIMIT, field, `string of ${n} bytes is over ${KAFKA_STRING_BYTES_MAX}`);
    }
  }

  private stringOfLength(n: number, field: string): string {
    this.checkStringLength(n, field);
    const at = this.take(n, field);
    return utf8Read(this.bytes, at, at + n);
  }

  /** STRING: may not be null. */
  string(field: string): string {
    const n = this.int16(field);
    if (n < 0) throw new KafkaDecodeError(KafkaDecodeReason.LENGTH_INVALID, field, `string length ${n}`);
    return this.stringOfLength(n, field);
  }

  /** NULLABLE_STRING. */
  nullableString(field: string): string | null {
    const n = this.int16(field);
    if (n === -1) return null;
    if (n < 0) throw new KafkaDecodeError(KafkaDecodeReason.LENGTH_INVALID, field, `string length ${n}`);
    return this.stringOfLength(n, field);
  }

  /** COMPACT_STRING: may not be null. */
  compactString(field: string): string {
    const n1 = this.uvarint(field);
    if (n1 === 0) throw new KafkaDecodeError(KafkaDecodeReason.LENGTH_INVALID, field, "null where a string is required");
    return this.stringOfLength(n1 - 1, field);
  }

  /**
   * A non-null STRING (or COMPACT_STRING when `compact`) read through `cache`:
   * a topic name repeated in every request is decoded once and comes back as
   * the same string, whose hash the engine's map lookups already hold.
   */
  stringCached(field: string, compact: boolean, cache: StringCache): string {
    let n: number;
    if (compact) {
      const n1 = this.uvarint(field);
      if (n1 === 0) throw new KafkaDecodeError(KafkaDecodeReason.LENGTH_INVALID, field, "null where a string is required");
      n = n1 - 1;
    } else {
      n = this.int16(field);
      if (n < 0) throw new KafkaDecodeError(KafkaDecodeReason.LENGTH_INVALID, field, `string length ${n}`);
    }
    this.checkStringLength(n, field);
    const at = this.take(n, field);
    return cache.read(this.bytes, at, at + n);
  }

  /** COMPACT_NULLABLE_STRING. */
  compactNullableString(field: string): string | null {
    const n1 = this.uvarint(field);
    if (n1 === 0) return null;
    return this.stringOfLength(n1 - 1, field);
  }

  private bytesOfLength(n: number, field: string): Uint8Array {
    if (n > KAFKA_BYTES_MAX) {
      throw new KafkaDecodeError(KafkaDecodeReason.OVER_LIMIT, field, `${n} bytes is over ${KAFKA_BYTES_MAX}`);
    }
    const at = this.take(n, field);
    return this.bytes.subarray(at, at + n);
  }

  /** BYTES as a view: may not be null. */
  bytesField(field: string): Uint8Array {
    const n = this.int32(field);
    if (n < 0) throw new KafkaDecodeError(KafkaDecodeReason.LENGTH_INVALID, field, `bytes length ${n}`);
    return this.bytesOfLength(n, field);
  }

  /** NULLABLE_BYTES (and RECORDS in non-flexible versions) as a view. */
  nullableBytes(field: string): Uint8Array | null {
    const n = this.int32(field);
    if (n === -1) return null;
    if (n < 0) throw new KafkaDecodeError(KafkaDecodeReason.LENGTH_INVALID, field, `bytes length ${n}`);
    return this.bytesOfLength(n, field);
  }

  /** COMPACT_BYTES as a view: may not be null. */
  compactBytes(field: string): Uint8Array {
    const n1 = this.uvarint(field);
    if (n1 === 0) throw new KafkaDecodeError(KafkaDecodeReason.LENGTH_INVALID, field, "null where bytes are required");
    return this.bytesOfLength(n1 - 1, field);
  }

  /** COMPACT_NULLABLE_BYTES (and RECORDS in flexible versions) as a view. */
  compactNullableBytes(field: string): Uint8Array | null {
    const n1 = this.uvarint(field);
    if (n1 === 0) return null;
    return this.bytesOfLength(n1 - 1, field);
  }

  /**
   * Steps over a NULLABLE_BYTES (or COMPACT_NULLABLE_BYTES when `compact`)
   * without making a view: returns its length (-1 for null); its bytes end at
   * the new `pos`. For hot paths that keep positions instead of views.
   */
  skipNullableBytes(field: string, compact: boolean): number {
    let n: number;
    if (compact) n = this.uvarint(field) - 1;
    else {
      n = this.int32(field);
      if (n < -1) throw new KafkaDecodeError(KafkaDecodeReason.LENGTH_INVALID, field, `bytes length ${n}`);
    }
    if (n === -1) return -1;
    if (n > KAFKA_BYTES_MAX) {
      throw new KafkaDecodeError(KafkaDecodeReason.OVER_LIMIT, field, `${n} bytes is over ${KAFKA_BYTES_MAX}`);
    }
    this.take(n, field);
    return n;
  }

  /**
   * Checks an array count against KAFKA_ARRAY_LENGTH_MAX, the bytes left (each
   * entry takes at least `entryBytesMin`) and the request's entry budget.
   */
  private checkCount(n: number, field: string, entryBytesMin: number): number {
    if (n > KAFKA_ARRAY_LENGTH_MAX) {
      throw new KafkaDecodeError(KafkaDecodeReason.OVER_LIMIT, field, `array of ${n} entries is over ${KAFKA_ARRAY_LENGTH_MAX}`);
    }
    if (n * entryBytesMin > this.end - this.pos) {
      throw new KafkaDecodeError(
        KafkaDecodeReason.TRUNCATED,
        field,
        `array of ${n} entries needs at least ${n * entryBytesMin} bytes, ${this.end - this.pos} left`,
      );
    }
    if (n > this.entriesLeft) {
      throw new KafkaDecodeError(
        KafkaDecodeReason.OVER_LIMIT,
        field,
        `the request declares more than ${KAFKA_REQUEST_ENTRIES_MAX} array entries in all`,
      );
    }
    this.entriesLeft -= n;
    return n;
  }

  /** ARRAY count; -1 (null) only when `nullable`. */
  arrayLength(field: string, nullable = false, entryBytesMin = 1): number {
    const n = this.int32(field);
    if (n === -1 && nullable) return -1;
    if (n < 0) throw new KafkaDecodeError(KafkaDecodeReason.LENGTH_INVALID, field, `array count ${n}`);
    return this.checkCount(n, field, entryBytesMin);
  }

  /** COMPACT_ARRAY count; -1 (null, encoded 0) only when `nullable`. */
  compactArrayLength(field: string, nullable = false, entryBytesMin = 1): number {
    const n1 = this.uvarint(field);
    if (n1 === 0) {
      if (nullable) return -1;
      throw new KafkaDecodeError(KafkaDecodeReason.LENGTH_INVALID, field, "null where an array is required");
    }
    return this.checkCount(n1 - 1, field, entryBytesMin);
  }

  /**
   * A TAGGED_FIELDS section. Known tags go to `onTag` with the reader bounded to
   * the field's bytes (what it leaves unread is skipped); unknown tags are
   * skipped, as the protocol requires.
   */
  taggedFields(field: string, onTag?: TaggedFieldHandler): void {
    const count = this.uvarint(field);
    if (count === 0) return;
    if (count > KAFKA_TAGGED_FIELDS_MAX) {
      throw new KafkaDecodeError(KafkaDecodeReason.OVER_LIMIT, field, `${count} tagged fields is over ${KAFKA_TAGGED_FIELDS_MAX}`);
    }
    let lastTag = -1;
    for (let i = 0; i < count; i++) {
      const tag = this.uvarint(field);
      if (tag <= lastTag) {
        throw new KafkaDecodeError(KafkaDecodeReason.INVALID_VALUE, field, `tag ${tag} after tag ${lastTag} (tags ascend)`);
      }
      lastTag = tag;
      const size = this.uvarint(field);
      if (size > KAFKA_TAGGED_FIELD_BYTES_MAX) {
        throw new KafkaDecodeError(KafkaDecodeReason.OVER_LIMIT, field, `tagged field of ${size} bytes is over ${KAFKA_TAGGED_FIELD_BYTES_MAX}`);
      }
      const at = this.take(size, field);
      if (onTag === undefined) continue;
      const outerEnd = this.end;
      this.pos = at;
      this.end = at + size;
      try {
        onTag(tag, this);
      } finally {
        this.pos = at + size;
        this.end = outerEnd;
      }
    }
  }

  /** The rest of the range as a view. */
  rest(): Uint8Array {
    const at = this.pos;
    this.pos = this.end;
    return this.bytes.subarray(at, this.end);
  }

  /** Throws TRAILING_BYTES when bytes are left after `what`. */
  expectEnd(what: string): void {
    if (this.pos !== this.end) {
      throw new KafkaDecodeError(KafkaDecodeReason.TRAILING_BYTES, what, `${this.end - this.pos} unexpected bytes after it`);
    }
  }
}
