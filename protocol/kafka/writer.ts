// KafkaWriter: the primitive types of the Kafka protocol (see reader.ts for the
// grammar), written into one growable buffer that a connection reuses across
// responses (reset() keeps the memory, up to a retained bound).
//
// Zero-copy record bytes: appendView(view) does not copy a large view into the
// buffer; it remembers where in the written bytes the view belongs. segments()
// then gives the response as [buffer part, view, buffer part, view, …], which a
// listener writes one after the other (or with writev). A Fetch response is
// thus the encoder's few hundred bytes of headers around the stored batches,
// which stay where the partition worker put them. byteLength counts both, so
// a size prefix reserved at the start can be patched with the whole length.

import { writeI16, writeI32, writeI64 } from "../big_endian.ts";
import { KAFKA_STRING_BYTES_MAX } from "../limits.ts";
import { utf8LengthMax, utf8Write } from "../utf8.ts";
import { writeVarint, writeVarlongBig } from "../varint.ts";

const WRITER_INITIAL_BYTES = 4096;

/**
 * Views shorter than this are copied into the buffer: a separate segment costs
 * a socket write (or an iovec) and an array slot, more than copying a few
 * hundred bytes does.
 */
export const VIEW_COPY_BYTES_MAX = 512;

const TWO_POW_32 = 4294967296;

export class KafkaWriter {
  private buf: Uint8Array;
  private pos = 0;
  /** Views spliced in without a copy: view i belongs after buffer byte viewAt[i]. */
  private readonly views: Uint8Array[] = [];
  private readonly viewAt: number[] = [];
  private viewBytes = 0;
  private dv: DataView;

  constructor(opts?: { initialBytes?: number }) {
    this.buf = new Uint8Array(Math.max(16, opts?.initialBytes ?? WRITER_INITIAL_BYTES));
    this.dv = new DataView(this.buf.buffer);
  }

  /**
   * Forgets what was written and the views it held. Keeps the buffer unless it
   * grew past `retainBytesMax`, so one large response does not pin its memory.
   */
  reset(retainBytesMax = Number.POSITIVE_INFINITY): this {
    this.pos = 0;
    if (this.views.length !== 0) {
      this.views.length = 0;
      this.viewAt.length = 0;
      this.viewBytes = 0;
    }
    if (this.buf.length > retainBytesMax) {
      this.buf = new Uint8Array(WRITER_INITIAL_BYTES);
      this.dv = new DataView(this.buf.buffer);
    }
    return this;
  }

  /** Bytes in the writer's own buffer. */
  get length(): number {
    return this.pos;
  }

  /** All bytes of the message: the buffer's plus the spliced views'. */
  get byteLength(): number {
    return this.pos + this.viewBytes;
  }

  get capacity(): number {
    return this.buf.length;
  }

  private ensure(n: number): void {
    const needed = this.pos + n;
    if (needed <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < needed) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buf.subarray(0, this.pos));
    this.buf = grown;
    this.dv = new DataView(grown.buffer);
  }

  int8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }

  bool(v: boolean): this {
    return this.int8(v ? 1 : 0);
  }

  int16(v: number): this {
    this.ensure(2);
    writeI16(this.buf, this.pos, v);
    this.pos += 2;
    return this;
  }

  uint16(v: number): this {
    return this.int16(v);
  }

  int32(v: number): this {
    this.ensure(4);
    writeI32(this.buf, this.pos, v);
    this.pos += 4;
    return this;
  }

  uint32(v: number): this {
    return this.int32(v);
  }

  /** An INT64 from a bigint, or from a number that must be a safe integer. */
  int64(v: bigint | number): this {
    // Offsets and timestamps are safe integers: writing them as numbers skips
    // three bigint operations (shift, mask, asUintN), several times slower.
    if (typeof v === "number") return this.int64Number(v);
    const n = Number(v);
    if (Number.isSafeInteger(n)) return this.int64Number(n);
    this.ensure(8);
    writeI64(this.buf, this.pos, v);
    this.pos += 8;
    return this;
  }

  /** An INT64 from a safe integer, without a bigint. */
  int64Number(v: number): this {
    if (!Number.isSafeInteger(v)) throw new RangeError(`int64: ${v} is not a safe integer`);
    this.ensure(8);
    const buf = this.buf;
    const p = this.pos;
    if (v >= 0 && v <= 0x7fffffff) {
      // the common case (offsets, ids): high word 0
      buf[p] = 0;
      buf[p + 1] = 0;
      buf[p + 2] = 0;
      buf[p + 3] = 0;
      writeI32(buf, p + 4, v);
    } else {
      const hi = Math.floor(v / TWO_POW_32);
      writeI32(buf, p, hi);
      writeI32(buf, p + 4, v - hi * TWO_POW_32);
    }
    this.pos = p + 8;
    return this;
  }

  float64(v: number): this {
    this.ensure(8);
    this.dv.setFloat64(this.pos, v, false);
    this.pos += 8;
    return this;
  }

  uuid(v: Uint8Array): this {
    if (v.length !== 16) throw new RangeError(`uuid: ${v.length} bytes, not 16`);
    return this.raw(v);
  }

  uvarint(v: number): this {
    if (!(v >= 0 && v <= 0xffffffff && Number.isInteger(v))) throw new RangeError(`uvarint: ${v} is not a u32`);
    this.ensure(5);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
    return this;
  }

  varint(v: number): this {
    this.ensure(5);
    this.pos = writeVarint(this.buf, this.pos, v);
    return this;
  }

  varlong(v: bigint): this {
    this.ensure(10);
    this.pos = writeVarlongBig(this.buf, this.pos, v);
    return this;
  }

  /** Writes UTF-8 of `s` after a length written by `prefix`; returns this. */
  private utf8(s: string, compact: boolean): this {
    const max = utf8LengthMax(s);
    // Room for the longest prefix (5 bytes) and the longest encoding.
    this.ensure(5 + max);
    // Encode first, after the longest prefix the length could need, then move
    // it back when the prefix is shorter (only for strings over 127 bytes).
    const prefixMax = compact ? (max + 1 < 0x80 ? 1 : max + 1 < 0x4000 ? 2 : 3) : 2;
    const start = this.pos + prefixMax;
    const n = utf8Write(this.buf, start, s);
    if (n > KAFKA_STRING_BYTES_MAX) throw new RangeError(`string of ${n} bytes is over ${KAFKA_STRING_BYTES_MAX}`);
    if (!compact) {
      writeI16(this.buf, this.pos, n);
      this.pos = start + n;
      return this;
    }
    const prefix = n + 1 < 0x80 ? 1 : n + 1 < 0x4000 ? 2 : 3;
    if (prefix !== prefixMax) this.buf.copyWithin(this.pos + prefix, start, start + n);
    this.uvarint(n + 1);
    this.pos += n;
    return this;
  }

  string(s: string): this {
    return this.utf8(s, false);
  }

  nullableString(s: string | null): this {
    return s === null ? this.int16(-1) : this.utf8(s, false);
  }

  compactString(s: string): this {
    return this.utf8(s, true);
  }

  compactNullableString(s: string | null): this {
    return s === null ? this.uvarint(0) : this.utf8(s, true);
  }

  bytesField(b: Uint8Array): this {
    this.int32(b.length);
    return this.appendView(b);
  }

  nullableBytes(b: Uint8Array | null): this {
    return b === null ? this.int32(-1) : this.bytesField(b);
  }

  compactBytes(b: Uint8Array): this {
    this.uvarint(b.length + 1);
    return this.appendView(b);
  }

  compactNullableBytes(b: Uint8Array | null): this {
    return b === null ? this.uvarint(0) : this.compactBytes(b);
  }

  arrayLength(n: number): this {
    return this.int32(n);
  }

  /** COMPACT_ARRAY count; -1 writes null. */
  compactArrayLength(n: number): this {
    return this.uvarint(n + 1);
  }

  /** An empty TAGGED_FIELDS section. */
  emptyTaggedFields(): this {
    return this.int8(0);
  }

  /** Copies bytes in. */
  raw(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** Puts `b` next in the message: copied when small, else spliced in as its own segment (no copy). */
  appendView(b: Uint8Array): this {
    if (b.length <= VIEW_COPY_BYTES_MAX) return this.raw(b);
    this.views.push(b);
    this.viewAt.push(this.pos);
    this.viewBytes += b.length;
    return this;
  }

  /** Reserves an INT32 to patch later (a size prefix); returns its position in the buffer. */
  reserveInt32(): number {
    this.ensure(4);
    const at = this.pos;
    this.pos += 4;
    return at;
  }

  patchInt32(at: number, v: number): void {
    if (at < 0 || at + 4 > this.pos) throw new RangeError(`patchInt32: ${at} is not inside the written bytes`);
    writeI32(this.buf, at, v);
  }

  /**
   * The message as segments to write in order: views of the writer's buffer
   * (valid until the next write or reset) and the spliced views themselves.
   */
  segments(): Uint8Array[] {
    const out: Uint8Array[] = [];
    let from = 0;
    for (let i = 0; i < this.views.length; i++) {
      const at = this.viewAt[i];
      if (at > from) out.push(this.buf.subarray(from, at));
      out.push(this.views[i]);
      from = at;
    }
    if (this.pos > from || out.length === 0) out.push(this.buf.subarray(from, this.pos));
    return out;
  }

  /**
   * The message as alternating pieces: even indices are the writer's own bytes
   * (possibly empty), odd ones the spliced views, so a caller can copy the
   * former when the socket does not take them at once (the writer is reused)
   * and keep the latter as they are (the shape of engine/native's
   * OutputQueue.commitPieces). Views of the writer's buffer are valid until
   * the next write or reset.
   */
  pieces(): Uint8Array[] {
    const out: Uint8Array[] = [];
    let from = 0;
    for (let i = 0; i < this.views.length; i++) {
      const at = this.viewAt[i];
      out.push(this.buf.subarray(from, at), this.views[i]);
      from = at;
    }
    out.push(this.buf.subarray(from, this.pos));
    return out;
  }

  /**
   * The whole message as one Uint8Array: a view of the buffer when nothing was
   * spliced, else a copy joining the segments (for tests and small messages).
   */
  finish(): Uint8Array {
    if (this.views.length === 0) return this.buf.subarray(0, this.pos);
    const out = new Uint8Array(this.byteLength);
    let p = 0;
    for (const s of this.segments()) {
      out.set(s, p);
      p += s.length;
    }
    return out;
  }
}
