// Kafka's snappy codec. The Java client writes snappy-java's "xerial" framing:
//
//   header: 0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00 | version i32 BE (1) | min compatible version i32 BE (1)
//   chunks: length i32 BE | one raw snappy block (its preamble: the uncompressed length as a varint)
//
// librdkafka reads that and also a bare raw snappy block (what it wrote
// itself in old versions), so we read both; we write xerial framing with
// 32 KiB chunks, as snappy-java's SnappyOutputStream does. The raw block
// codec is snappyjs (pure JavaScript: Bun, Deno, Node alike); its decoder
// checks every copy against its input and output, and we give it the bytes
// still allowed under the limit as its maximum.

import snappy from "snappyjs";
import { BoundedOutput } from "./output_buffer.ts";
import { corrupt, tooLarge } from "./compression_error.ts";

export const XERIAL_MAGIC = Uint8Array.of(0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00);
const XERIAL_VERSION = 1;
const XERIAL_COMPATIBLE_VERSION = 1;
const XERIAL_HEADER_BYTES = 16;
/** Uncompressed bytes per chunk (snappy-java's default block size). */
const XERIAL_CHUNK_BYTES = 32 * 1024;

const NAME = "snappy";

function hasXerialMagic(b: Uint8Array, start: number, end: number): boolean {
  if (end - start < XERIAL_HEADER_BYTES) return false;
  for (let i = 0; i < XERIAL_MAGIC.length; i++) if (b[start + i] !== XERIAL_MAGIC[i]) return false;
  return true;
}

function readI32BE(b: Uint8Array, p: number): number {
  return (b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3];
}

function writeI32BE(b: Uint8Array, p: number, v: number): void {
  b[p] = v >>> 24;
  b[p + 1] = (v >>> 16) & 0xff;
  b[p + 2] = (v >>> 8) & 0xff;
  b[p + 3] = v & 0xff;
}

/** Compresses `src` into xerial-framed snappy (a fresh array). */
export function compressSnappyXerial(src: Uint8Array): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = XERIAL_HEADER_BYTES;
  for (let s = 0; s < src.length; s += XERIAL_CHUNK_BYTES) {
    const chunk = snappy.compress(src.subarray(s, Math.min(s + XERIAL_CHUNK_BYTES, src.length)));
    chunks.push(chunk);
    total += 4 + chunk.length;
  }
  const out = new Uint8Array(total);
  out.set(XERIAL_MAGIC, 0);
  writeI32BE(out, 8, XERIAL_VERSION);
  writeI32BE(out, 12, XERIAL_COMPATIBLE_VERSION);
  let d = XERIAL_HEADER_BYTES;
  for (const chunk of chunks) {
    writeI32BE(out, d, chunk.length);
    out.set(chunk, d + 4);
    d += 4 + chunk.length;
  }
  return out;
}

function uncompressBlock(block: Uint8Array, maxBytes: number, limit: number): Uint8Array {
  try {
    return snappy.uncompress(block, maxBytes);
  } catch (e) {
    if (e instanceof Error && e.message.includes("is too big")) throw tooLarge(NAME, limit);
    throw corrupt(NAME, (e as Error).message, e);
  }
}

/** Decompresses src[start, end), xerial-framed or one raw snappy block; at most `limit` bytes out. */
export function decompressSnappy(src: Uint8Array, start: number, end: number, limit: number): Uint8Array {
  if (!hasXerialMagic(src, start, end)) return uncompressBlock(src.subarray(start, end), limit, limit);
  const compatible = readI32BE(src, start + 12);
  if (compatible > XERIAL_VERSION) throw corrupt(NAME, `xerial framing needs version ${compatible}, this reader has ${XERIAL_VERSION}`);
  const out = new BoundedOutput(Math.max(64 * 1024, (end - start) * 3), limit, () => tooLarge(NAME, limit));
  let s = start + XERIAL_HEADER_BYTES;
  while (s < end) {
    if (end - s < 4) throw corrupt(NAME, "framing ends inside a chunk length");
    const length = readI32BE(src, s);
    s += 4;
    if (length < 0 || length > end - s) throw corrupt(NAME, `chunk of ${length} bytes runs past the records (${end - s} left)`);
    const block = uncompressBlock(src.subarray(s, s + length), limit - out.length, limit);
    out.append(block);
    s += length;
  }
  return out.result();
}

