// The LZ4 block format (lz4/doc/lz4_Block_format.md): sequences of a token,
// literals and a match (offset back into the output, length). The compressor
// follows the reference's greedy single-probe search with its end-of-block
// rules — the last match starts at least MFLIMIT (12) bytes before the end and
// the last LAST_LITERALS (5) bytes are literals — which strict decoders such as
// lz4-java (Kafka's) enforce on full blocks. The decoder checks every length
// and offset against its input, the block's output window and the bound.

import type { BoundedOutput } from "./output_buffer.ts";

const MIN_MATCH = 4;
const LAST_LITERALS = 5;
const MFLIMIT = 12;
const MAX_DISTANCE = 65_535;
/** Hash table entries (2^14 × 4 bytes = 64 KiB, reused across calls). */
const HASH_LOG = 14;
/** The search steps faster through data that does not match (the reference's acceleration). */
const SKIP_TRIGGER = 6;

/** Worst-case compressed size of `n` bytes (incompressible input: literals and their length bytes). */
export function lz4BlockBound(n: number): number {
  return n + Math.floor(n / 255) + 16;
}

function read32(b: Uint8Array, p: number): number {
  return b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24);
}

function hash(seq: number): number {
  return Math.imul(seq, 2654435761) >>> (32 - HASH_LOG);
}

/** Positions of the last occurrence of each hashed 4-byte sequence; stale entries are harmless (every candidate is verified). */
export function newLz4HashTable(): Int32Array {
  return new Int32Array(1 << HASH_LOG).fill(-1);
}

function writeLength(dst: Uint8Array, d: number, n: number): number {
  for (; n >= 255; n -= 255) dst[d++] = 255;
  dst[d++] = n;
  return d;
}

/**
 * Compresses src[start, end) as one independent block into dst at `d`
 * (room: lz4BlockBound(end - start)). Returns the end of what was written.
 */
export function compressLz4Block(src: Uint8Array, start: number, end: number, dst: Uint8Array, d: number, table: Int32Array): number {
  let anchor = start;
  if (end - start >= MFLIMIT + 1) {
    const matchLimit = end - LAST_LITERALS; // a match ends at or before this
    const lastMatchStart = end - MFLIMIT; // and starts at or before this
    let ip = start;
    outer: for (;;) {
      // Find a match: the candidate at this sequence's hash, verified.
      let ref: number;
      let searches = 1 << SKIP_TRIGGER;
      for (;;) {
        if (ip > lastMatchStart) break outer;
        const seq = read32(src, ip);
        const h = hash(seq);
        ref = table[h];
        table[h] = ip;
        if (ref >= start && ref < ip && ip - ref <= MAX_DISTANCE && read32(src, ref) === seq) break;
        ip += searches++ >> SKIP_TRIGGER;
      }
      // Extend backwards over bytes the literals would otherwise carry.
      while (ip > anchor && ref > start && src[ip - 1] === src[ref - 1]) {
        ip--;
        ref--;
      }
      const literals = ip - anchor;
      const token = d++;
      if (literals >= 15) {
        dst[token] = 15 << 4;
        d = writeLength(dst, d, literals - 15);
      } else dst[token] = literals << 4;
      d = copyBytes(src, anchor, ip, dst, d);
      const offset = ip - ref;
      dst[d++] = offset & 0xff;
      dst[d++] = offset >>> 8;
      const matchStart = ip;
      ip += MIN_MATCH;
      ref += MIN_MATCH;
      // Four bytes at a time while they can be, then byte by byte.
      while (ip < matchLimit - 3 && read32(src, ip) === read32(src, ref)) {
        ip += 4;
        ref += 4;
      }
      while (ip < matchLimit && src[ip] === src[ref]) {
        ip++;
        ref++;
      }
      const extra = ip - matchStart - MIN_MATCH;
      if (extra >= 15) {
        dst[token] |= 15;
        d = writeLength(dst, d, extra - 15);
      } else dst[token] |= extra;
      anchor = ip;
      // Index a position inside the match too, as the reference does: the next match is often there.
      if (ip - 2 > start) table[hash(read32(src, ip - 2))] = ip - 2;
    }
  }
  // The last literals.
  const literals = end - anchor;
  if (literals >= 15) {
    dst[d++] = 15 << 4;
    d = writeLength(dst, d, literals - 15);
  } else dst[d++] = literals << 4;
  return copyBytes(src, anchor, end, dst, d);
}

/** Below this many bytes a loop beats subarray + set (which allocates a view). */
const SHORT_COPY_BYTES = 32;

function copyBytes(src: Uint8Array, from: number, to: number, dst: Uint8Array, d: number): number {
  if (to - from < SHORT_COPY_BYTES) {
    while (from < to) dst[d++] = src[from++];
    return d;
  }
  dst.set(src.subarray(from, to), d);
  return d + (to - from);
}

/**
 * Decodes the block src[s, sEnd) onto the end of `out`. A match may reach back
 * to `windowStart` in out (the block's own start for independent blocks) but
 * no further; the block may add at most `blockMax` bytes. Throws what
 * `corrupt(why)` returns on any malformed length or offset.
 */
export function decompressLz4Block(
  src: Uint8Array,
  s: number,
  sEnd: number,
  out: BoundedOutput,
  windowStart: number,
  blockMax: number,
  corrupt: (why: string) => Error,
): void {
  const outEnd = out.length + blockMax;
  for (;;) {
    if (s >= sEnd) throw corrupt("block ends inside a sequence");
    const token = src[s++];
    let literals = token >>> 4;
    if (literals === 15) {
      let b: number;
      do {
        if (s >= sEnd) throw corrupt("block ends inside a literal length");
        b = src[s++];
        literals += b;
      } while (b === 255);
    }
    if (literals > sEnd - s) throw corrupt(`${literals} literals, ${sEnd - s} bytes left in the block`);
    if (out.length + literals > outEnd) throw corrupt(`block inflates past its maximum of ${blockMax} bytes`);
    out.reserve(literals);
    out.length = copyBytes(src, s, s + literals, out.buf, out.length);
    s += literals;
    if (s === sEnd) return; // the last sequence has literals only
    if (sEnd - s < 2) throw corrupt("block ends inside a match offset");
    const offset = src[s] | (src[s + 1] << 8);
    s += 2;
    if (offset === 0 || offset > out.length - windowStart) throw corrupt(`match offset ${offset} reaches before the window`);
    let length = token & 15;
    if (length === 15) {
      let b: number;
      do {
        if (s >= sEnd) throw corrupt("block ends inside a match length");
        b = src[s++];
        length += b;
      } while (b === 255);
    }
    length += MIN_MATCH;
    if (out.length + length > outEnd) throw corrupt(`block inflates past its maximum of ${blockMax} bytes`);
    out.reserve(length);
    const buf = out.buf;
    let o = out.length;
    let from = o - offset;
    if (offset >= length && length >= SHORT_COPY_BYTES) buf.copyWithin(o, from, from + length);
    else for (const stop = o + length; o < stop; ) buf[o++] = buf[from++]; // short, or overlapping (repeats the last `offset` bytes)
    out.length += length;
  }
}
