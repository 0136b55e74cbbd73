// Zigzag varints as Kafka records use them: `varint` is a signed 32-bit value
// (at most 5 bytes), `varlong` a signed 64-bit value (at most 10 bytes).
// Zigzag maps small magnitudes of either sign to small unsigned values
// (0→0, -1→1, 1→2, -2→3, …), then 7 bits per byte, least significant first,
// high bit set on every byte but the last.
//
// Readers advance a `Cursor` instead of returning a pair, so a decode loop
// allocates nothing. Every read is checked against `end`; a value that runs
// past it or is longer than its type allows throws a SluiceError with code
// CORRUPT_MESSAGE naming the byte where the varint started.

import { ErrorCode, SluiceError } from "./errors.ts";

export interface Cursor {
  pos: number;
}

const TWO_POW_32 = 4294967296;

function truncated(kind: string, start: number): SluiceError {
  return new SluiceError(ErrorCode.CORRUPT_MESSAGE, `truncated ${kind} at byte ${start}`);
}

function tooLong(kind: string, start: number): SluiceError {
  return new SluiceError(ErrorCode.CORRUPT_MESSAGE, `${kind} at byte ${start} is longer than its type allows`);
}

/** Bytes a zigzag varint of the int32 `v` takes. */
export function varintSize(v: number): number {
  const z = ((v << 1) ^ (v >> 31)) >>> 0;
  if (z < 0x80) return 1;
  if (z < 0x4000) return 2;
  if (z < 0x200000) return 3;
  if (z < 0x10000000) return 4;
  return 5;
}

/**
 * Writes the int32 `v` as a zigzag varint at `pos`, returns the position after
 * it. Throws RangeError when `v` is not an int32 or the buffer has no room.
 */
export function writeVarint(buf: Uint8Array, pos: number, v: number): number {
  if ((v | 0) !== v) throw new RangeError(`varint: ${v} is not a 32-bit integer`);
  let z = ((v << 1) ^ (v >> 31)) >>> 0;
  if (pos + varintSize(v) > buf.length) throw new RangeError(`varint: no room at ${pos} of ${buf.length}`);
  while (z >= 0x80) {
    buf[pos++] = (z & 0x7f) | 0x80;
    z >>>= 7;
  }
  buf[pos++] = z;
  return pos;
}

/** Reads a zigzag varint (int32) at `cur.pos`, not past `end`; advances the cursor. */
export function readVarint(buf: Uint8Array, cur: Cursor, end: number): number {
  const start = cur.pos;
  let p = start;
  if (p >= end) throw truncated("varint", start);
  let b = buf[p++];
  let z = b & 0x7f;
  if (b >= 0x80) {
    let shift = 7;
    for (;;) {
      if (p >= end) throw truncated("varint", start);
      b = buf[p++];
      if (shift === 28) {
        // The fifth byte carries the top 4 bits and must end the varint.
        if (b > 0x0f) throw tooLong("varint", start);
        z |= b << 28;
        break;
      }
      z |= (b & 0x7f) << shift;
      if (b < 0x80) break;
      shift += 7;
    }
  }
  cur.pos = p;
  z >>>= 0;
  return (z >>> 1) ^ -(z & 1);
}

// A varlong is handled as two 32-bit halves, so values beyond 2^53 (and the
// full i64 range for bigint callers) are exact without bigint on the fast path.

/** Bytes a zigzag varlong of the safe integer `v` takes. */
export function varlongSize(v: number): number {
  if ((v | 0) === v) {
    // Same zigzag value as the 32-bit form, but the 64-bit zigzag of a negative
    // int32 stays below 2^32, so the sizes agree.
    return varintSize(v);
  }
  const hi = Math.floor(v / TWO_POW_32);
  const lo = v - hi * TWO_POW_32;
  return varlongSizeHiLo(hi | 0, lo >>> 0);
}

function varlongSizeHiLo(hi: number, lo: number): number {
  // zigzag on (hi, lo): z = (v << 1) ^ (v >> 63)
  const sign = hi >> 31;
  const zlo = ((lo << 1) ^ sign) >>> 0;
  const zhi = (((hi << 1) | (lo >>> 31)) ^ sign) >>> 0;
  if (zhi === 0) {
    if (zlo < 0x80) return 1;
    if (zlo < 0x4000) return 2;
    if (zlo < 0x200000) return 3;
    if (zlo < 0x10000000) return 4;
    return 5;
  }
  // bits above 32: each further 7 bits adds a byte (35, 42, 49, 56, 63 bits)
  if (zhi < 0x8) return 5;
  if (zhi < 0x400) return 6;
  if (zhi < 0x20000) return 7;
  if (zhi < 0x1000000) return 8;
  if (zhi < 0x80000000) return 9;
  return 10;
}

function writeVarlongHiLo(buf: Uint8Array, pos: number, hi: number, lo: number): number {
  if (pos + varlongSizeHiLo(hi, lo) > buf.length) throw new RangeError(`varlong: no room at ${pos} of ${buf.length}`);
  const sign = hi >> 31;
  let zlo = ((lo << 1) ^ sign) >>> 0;
  let zhi = (((hi << 1) | (lo >>> 31)) ^ sign) >>> 0;
  while (zhi !== 0 || zlo >= 0x80) {
    buf[pos++] = (zlo & 0x7f) | 0x80;
    zlo = ((zlo >>> 7) | (zhi << 25)) >>> 0;
    zhi >>>= 7;
  }
  buf[pos++] = zlo;
  return pos;
}

/** Writes the safe integer `v` as a zigzag varlong; returns the position after it. */
export function writeVarlong(buf: Uint8Array, pos: number, v: number): number {
  if ((v | 0) === v) return writeVarint(buf, pos, v);
  if (!Number.isSafeInteger(v)) throw new RangeError(`varlong: ${v} is not a safe integer`);
  const hi = Math.floor(v / TWO_POW_32);
  return writeVarlongHiLo(buf, pos, hi | 0, (v - hi * TWO_POW_32) >>> 0);
}

/** Writes any i64 as a zigzag varlong. */
export function writeVarlongBig(buf: Uint8Array, pos: number, v: bigint): number {
  const u = BigInt.asUintN(64, v);
  return writeVarlongHiLo(buf, pos, Number(u >> 32n) | 0, Number(u & 0xffffffffn));
}

// Reads the raw zigzag halves into these two slots (module state: no allocation).
let readHi = 0;
let readLo = 0;

function readVarlongHiLo(buf: Uint8Array, cur: Cursor, end: number): void {
  const start = cur.pos;
  let p = start;
  let lo = 0;
  let hi = 0;
  for (let i = 0; ; i++) {
    if (p >= end) throw truncated("varlong", start);
    const b = buf[p++];
    const bits = b & 0x7f;
    if (i < 4) lo |= bits << (7 * i);
    else if (i === 4) {
      lo |= bits << 28;
      hi |= bits >>> 4;
    } else if (i < 9) hi |= bits << (7 * i - 32);
    else {
      // tenth byte: only the lowest bit (bit 63) may be set
      if (b > 0x01) throw tooLong("varlong", start);
      hi |= bits << 31;
    }
    if (b < 0x80) break;
  }
  cur.pos = p;
  // un-zigzag: v = (z >>> 1) ^ -(z & 1)
  const neg = -(lo & 1);
  readLo = (((lo >>> 1) | (hi << 31)) ^ neg) >>> 0;
  readHi = ((hi >>> 1) ^ neg) | 0;
}

/**
 * Reads a zigzag varlong as a number. Throws CORRUPT_MESSAGE when the value is
 * outside the safe-integer range (use readVarlongBig for full i64).
 */
export function readVarlong(buf: Uint8Array, cur: Cursor, end: number): number {
  const start = cur.pos;
  // Fast path: a one-byte varlong (|v| < 64), the common timestamp delta.
  if (start < end) {
    const b0 = buf[start];
    if (b0 < 0x80) {
      cur.pos = start + 1;
      return (b0 >>> 1) ^ -(b0 & 1);
    }
  }
  readVarlongHiLo(buf, cur, end);
  const v = readHi * TWO_POW_32 + readLo;
  if (!Number.isSafeInteger(v)) {
    throw new SluiceError(ErrorCode.CORRUPT_MESSAGE, `varlong at byte ${start} is beyond 2^53`);
  }
  return v;
}

export function readVarlongBig(buf: Uint8Array, cur: Cursor, end: number): bigint {
  readVarlongHiLo(buf, cur, end);
  return (BigInt(readHi) << 32n) | BigInt(readLo);
}
