// Primitive codecs of the wire protocol (docs/PROTOCOL.md, "Conventions"):
// big-endian integers, String (i16 length, -1 null), Bytes (i32 length, -1
// null) and array counts (i32).
//
// Writer: one growable buffer, reused across messages (reset() keeps the
// memory). Reader: walks a range of a Uint8Array and checks every length
// against the bytes left and against its limit *before* allocating or
// slicing anything from it; a short or oversized field throws
// SluiceError(INVALID_REQUEST) naming the field. Bytes are returned as views.

import {
  readI16,
  readI32,
  readI64,
  readI64Number,
  readU16,
  readU32,
  writeI16,
  writeI32,
  writeI64,
  writeI64Number,
} from "./big_endian.ts";
import { ErrorCode, SluiceError } from "./errors.ts";
import {
  ARRAY_LENGTH_MAX,
  FRAME_BYTES_MAX,
  STRING_BYTES_MAX,
  STRING_CACHE_BYTES_MAX,
  STRING_FIELD_BYTES_MAX,
  WRITER_INITIAL_BYTES,
} from "./limits.ts";
import { utf8LengthMax, utf8Read, utf8Write } from "./utf8.ts";

export class Writer {
  private buf: Uint8Array;
  private pos = 0;

  constructor(opts?: { initialBytes?: number }) {
    this.buf = new Uint8Array(Math.max(16, opts?.initialBytes ?? WRITER_INITIAL_BYTES));
  }

  /** Forgets what was written, keeps the memory. Views from finish() become invalid. */
  reset(): void {
    this.pos = 0;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.pos;
  }

  /** Capacity of the current buffer (for tests and for callers that cap retained memory). */
  get capacity(): number {
    return this.buf.length;
  }

  /**
   * The bytes written so far, as a view of the writer's buffer: valid until the
   * next write or reset(). Copy it (`.slice()`) to keep it longer.
   */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    const needed = this.pos + n;
    if (needed <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < needed) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buf.subarray(0, this.pos));
    this.buf = grown;
  }

  writeI8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }

  writeI16(v: number): this {
    this.ensure(2);
    writeI16(this.buf, this.pos, v);
    this.pos += 2;
    return this;
  }

  writeU16(v: number): this {
    return this.writeI16(v);
  }

  writeI32(v: number): this {
    this.ensure(4);
    writeI32(this.buf, this.pos, v);
    this.pos += 4;
    return this;
  }

  writeU32(v: number): this {
    return this.writeI32(v);
  }

  writeI64(v: bigint): this {
    this.ensure(8);
    writeI64(this.buf, this.pos, v);
    this.pos += 8;
    return this;
  }

  /** An i64 from a safe integer (offsets and timestamps inside the broker). */
  writeI64Number(v: number): this {
    this.ensure(8);
    writeI64Number(this.buf, this.pos, v);
    this.pos += 8;
    return this;
  }

  /** String: i16 byte length (-1 for null) then UTF-8. At most STRING_BYTES_MAX bytes. */
  writeString(s: string | null): this {
    if (s === null) return this.writeI16(-1);
    this.ensure(2 + utf8LengthMax(s));
    const n = utf8Write(this.buf, this.pos + 2, s);
    if (n > STRING_FIELD_BYTES_MAX) {
      throw new SluiceError(ErrorCode.INVALID_REQUEST, `string of ${n} bytes is longer than ${STRING_FIELD_BYTES_MAX}`);
    }
    writeI16(this.buf, this.pos, n);
    this.pos += 2 + n;
    return this;
  }

  /** Bytes: i32 length (-1 for null) then the bytes. */
  writeBytes(b: Uint8Array | null): this {
    if (b === null) return this.writeI32(-1);
    this.ensure(4 + b.length);
    writeI32(this.buf, this.pos, b.length);
    this.buf.set(b, this.pos + 4);
    this.pos += 4 + b.length;
    return this;
  }

  /** The i32 count in front of an array. */
  writeArrayCount(n: number): this {
    if (n < 0 || n > ARRAY_LENGTH_MAX) {
      throw new SluiceError(ErrorCode.INVALID_REQUEST, `array of ${n} entries is outside 0..${ARRAY_LENGTH_MAX}`);
    }
    return this.writeI32(n);
  }

  /** Raw bytes, no length prefix (an already-encoded body, the rest of a frame). */
  writeRaw(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** Reserves an i32 to be filled later (a size prefix); returns its position. */
  reserveI32(): number {
    this.ensure(4);
    const at = this.pos;
    this.pos += 4;
    return at;
  }

  /** Writes an i32 at a position reserved earlier. */
  patchI32(at: number, v: number): void {
    if (at < 0 || at + 4 > this.pos) throw new RangeError(`patchI32: ${at} is not inside the written bytes`);
    writeI32(this.buf, at, v);
  }
}

function truncated(field: string, need: number, left: number): SluiceError {
  return new SluiceError(ErrorCode.INVALID_REQUEST, `truncated ${field}: needs ${need} bytes, ${left} left`);
}

/**
 * Reads fields from `bytes[start, end)`. Every read names its field, so an
 * error says what was short ("truncated topics[].name: needs 9 bytes, 3 left").
 */
export class Reader {
  readonly bytes: Uint8Array;
  pos: number;
  readonly end: number;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    if (start < 0 || end > bytes.length || start > end) {
      throw new RangeError(`Reader: range [${start}, ${end}) outside 0..${bytes.length}`);
    }
    this.bytes = bytes;
    this.pos = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, field: string): number {
    const at = this.pos;
    if (n > this.end - at) throw truncated(field, n, this.end - at);
    this.pos = at + n;
    return at;
  }

  readI8(field: string): number {
    const at = this.need(1, field);
    return (this.bytes[at] << 24) >> 24;
  }

  readI16(field: string): number {
    return readI16(this.bytes, this.need(2, field));
  }

  readU16(field: string): number {
    return readU16(this.bytes, this.need(2, field));
  }

  readI32(field: string): number {
    return readI32(this.bytes, this.need(4, field));
  }

  readU32(field: string): number {
    return readU32(this.bytes, this.need(4, field));
  }

  readI64(field: string): bigint {
    return readI64(this.bytes, this.need(8, field));
  }

  /** An i64 that must be a safe integer (else INVALID_REQUEST). */
  readI64Number(field: string): number {
    const v = readI64Number(this.bytes, this.need(8, field));
    if (!Number.isSafeInteger(v)) throw new SluiceError(ErrorCode.INVALID_REQUEST, `${field} ${v} is beyond 2^53`);
    return v;
  }

  /** String or null; length checked against the bytes left and STRING_BYTES_MAX. */
  readString(field: string): string | null {
    const n = this.readI16(field);
    if (n === -1) return null;
    if (n < -1) throw new SluiceError(ErrorCode.INVALID_REQUEST, `${field} has length ${n}`);
    if (n > STRING_FIELD_BYTES_MAX) {
      throw new SluiceError(ErrorCode.INVALID_REQUEST, `${field} is ${n} bytes, longer than ${STRING_FIELD_BYTES_MAX}`);
    }
    const at = this.need(n, field);
    return utf8Read(this.bytes, at, at + n);
  }

  /** A String that may not be null. With `cache`, a string read before is returned as the same string. */
  readStringNotNull(field: string, cache?: StringCache): string {
    if (cache === undefined) {
      const s = this.readString(field);
      if (s === null) throw new SluiceError(ErrorCode.INVALID_REQUEST, `${field} is null`);
      return s;
    }
    const n = this.readI16(field);
    if (n === -1) throw new SluiceError(ErrorCode.INVALID_REQUEST, `${field} is null`);
    if (n < -1) throw new SluiceError(ErrorCode.INVALID_REQUEST, `${field} has length ${n}`);
    if (n > STRING_FIELD_BYTES_MAX) {
      throw new SluiceError(ErrorCode.INVALID_REQUEST, `${field} is ${n} bytes, longer than ${STRING_FIELD_BYTES_MAX}`);
    }
    const at = this.need(n, field);
    return cache.read(this.bytes, at, at + n);
  }

  /** Bytes or null, as a view (no copy); length checked against the bytes left and FRAME_BYTES_MAX. */
  readBytes(field: string): Uint8Array | null {
    const n = this.readI32(field);
    if (n === -1) return null;
    if (n < -1) throw new SluiceError(ErrorCode.INVALID_REQUEST, `${field} has length ${n}`);
    if (n > FRAME_BYTES_MAX) {
      throw new SluiceError(ErrorCode.INVALID_REQUEST, `${field} is ${n} bytes, longer than ${FRAME_BYTES_MAX}`);
    }
    const at = this.need(n, field);
    return this.bytes.subarray(at, at + n);
  }

  /**
   * An array count, checked against ARRAY_LENGTH_MAX (or a smaller `max`) and
   * against the bytes left given each entry takes at least `entryBytesMin`,
   * so a caller can size loops (or arrays) from it safely.
   */
  readArrayCount(field: string, entryBytesMin = 1, max = ARRAY_LENGTH_MAX): number {
    const n = this.readI32(field);
    if (n < 0 || n > max) {
      throw new SluiceError(ErrorCode.INVALID_REQUEST, `${field} count ${n} is outside 0..${max}`);
    }
    if (n * entryBytesMin > this.end - this.pos) throw truncated(`${field} (${n} entries)`, n * entryBytesMin, this.end - this.pos);
    return n;
  }

  /** The rest of the range as a view (e.g. a MessagePack body). */
  readRest(): Uint8Array {
    const at = this.pos;
    this.pos = this.end;
    return this.bytes.subarray(at, this.end);
  }

  /** Throws INVALID_REQUEST if bytes are left over after `what`. */
  expectEnd(what: string): void {
    if (this.pos !== this.end) {
      throw new SluiceError(ErrorCode.INVALID_REQUEST, `${this.end - this.pos} unexpected bytes after ${what}`);
    }
  }
}

/**
 * The last few strings read at one call site, by their bytes. A topic name
 * repeated in every request is then decoded once and returned as the same
 * string, whose hash the engine's Map lookups have already computed: on the
 * produce path that was ~8% of the router's time (decode, then hash, per request).
 */
export class StringCache {
  readonly #bytes: Uint8Array[] = [];
  readonly #values: string[] = [];
  readonly #size: number;
  #next = 0;

  constructor(size = 8) {
    this.#size = size;
  }

  /** The string of `buf[start, end)`, from the cache when the same bytes were read recently. */
  read(buf: Uint8Array, start: number, end: number): string {
    const n = end - start;
    const cached = this.#bytes;
    for (let i = 0; i < cached.length; i++) {
      const b = cached[i];
      if (b.length !== n) continue;
      let j = 0;
      while (j < n && b[j] === buf[start + j]) j++;
      if (j === n) return this.#values[i];
    }
    const value = utf8Read(buf, start, end);
    if (n <= STRING_CACHE_BYTES_MAX) {
      const slot = this.#next;
      this.#next = (slot + 1) % this.#size;
      cached[slot] = buf.slice(start, end);
      this.#values[slot] = value;
    }
    return value;
  }
}
