// Kafka's lz4 codec: the LZ4 frame format (lz4/doc/lz4_Frame_format.md), with
// the header checksum computed as the spec says — over the frame descriptor
// only, not the magic (KIP-57: Kafka before 0.10 got this wrong; v2 batches
// use the correct one).
//
//   magic 0x184D2204 (LE) | FLG | BD | [content size u64 LE] | [dict id] | HC
//   blocks: size u32 LE (high bit: stored uncompressed; 0 = end mark) data [xxh32]
//   [content checksum xxh32 LE]
//
// We write what Kafka's Java client writes: version 01, independent blocks,
// no checksums (the batch CRC-32C covers the compressed bytes), 64 KiB blocks
// (BD 0x40). We read any frame a Kafka client or librdkafka writes: dependent
// or independent blocks, 64 KiB to 4 MiB, with or without block and content
// checksums (verified when present) and content size. Dictionaries are refused.

import { decompressLz4Block, compressLz4Block, lz4BlockBound, newLz4HashTable } from "./lz4_block.ts";
import { BoundedOutput } from "./output_buffer.ts";
import { corrupt, tooLarge } from "./compression_error.ts";
import { xxh32 } from "./xxh32.ts";

export const LZ4_FRAME_MAGIC = 0x184d2204;
const FLG_VERSION_01 = 0x40;
const FLG_VERSION_MASK = 0xc0;
const FLG_BLOCK_INDEPENDENT = 0x20;
const FLG_BLOCK_CHECKSUM = 0x10;
const FLG_CONTENT_SIZE = 0x08;
const FLG_CONTENT_CHECKSUM = 0x04;
const FLG_RESERVED = 0x02;
const FLG_DICT_ID = 0x01;
const BD_RESERVED = 0x8f;
const BLOCK_UNCOMPRESSED = 0x80000000;
/** Block maximum sizes by BD's 3-bit id (4..7). */
const BLOCK_MAX_BYTES: Record<number, number> = { 4: 64 * 1024, 5: 256 * 1024, 6: 1024 * 1024, 7: 4 * 1024 * 1024 };
/** The blocks we write: 64 KiB, as Kafka's Java client does. */
const WRITE_BLOCK_ID = 4;
const WRITE_BLOCK_BYTES = BLOCK_MAX_BYTES[WRITE_BLOCK_ID];

const NAME = "lz4";
const fail = (why: string) => corrupt(NAME, why);

function readU32LE(b: Uint8Array, p: number): number {
  return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
}

function writeU32LE(b: Uint8Array, p: number, v: number): void {
  b[p] = v & 0xff;
  b[p + 1] = (v >>> 8) & 0xff;
  b[p + 2] = (v >>> 16) & 0xff;
  b[p + 3] = v >>> 24;
}

/** The frame header checksum: second byte of xxh32 over the descriptor (FLG to before HC). */
export function lz4HeaderChecksum(b: Uint8Array, descriptorStart: number, descriptorEnd: number): number {
  return (xxh32(b, descriptorStart, descriptorEnd, 0) >>> 8) & 0xff;
}

let sharedTable: Int32Array | undefined;

/** Compresses `src` into one LZ4 frame (a fresh array). */
export function compressLz4Frame(src: Uint8Array): Uint8Array {
  const table = (sharedTable ??= newLz4HashTable());
  const blocks = Math.max(1, Math.ceil(src.length / WRITE_BLOCK_BYTES));
  const dst = new Uint8Array(7 + blocks * (4 + lz4BlockBound(WRITE_BLOCK_BYTES)) + 4);
  writeU32LE(dst, 0, LZ4_FRAME_MAGIC);
  dst[4] = FLG_VERSION_01 | FLG_BLOCK_INDEPENDENT;
  dst[5] = WRITE_BLOCK_ID << 4;
  dst[6] = lz4HeaderChecksum(dst, 4, 6);
  let d = 7;
  for (let s = 0; s < src.length; s += WRITE_BLOCK_BYTES) {
    const end = Math.min(s + WRITE_BLOCK_BYTES, src.length);
    const n = end - s;
    const written = compressLz4Block(src, s, end, dst, d + 4, table) - (d + 4);
    if (written >= n) {
      // Stored: the block did not shrink.
      writeU32LE(dst, d, (BLOCK_UNCOMPRESSED | n) >>> 0);
      dst.set(src.subarray(s, end), d + 4);
      d += 4 + n;
    } else {
      writeU32LE(dst, d, written);
      d += 4 + written;
    }
  }
  writeU32LE(dst, d, 0); // end mark
  return dst.slice(0, d + 4);
}

/** Decompresses the single LZ4 frame src[start, end); at most `limit` bytes out. */
export function decompressLz4Frame(src: Uint8Array, start: number, end: number, limit: number): Uint8Array {
  if (end - start < 7) throw fail(`${end - start} bytes are too few for a frame header`);
  const magic = readU32LE(src, start);
  if (magic !== LZ4_FRAME_MAGIC) throw fail(`frame magic is 0x${magic.toString(16)}, expected 0x${LZ4_FRAME_MAGIC.toString(16)}`);
  let s = start + 4;
  const flg = src[s];
  const bd = src[s + 1];
  if ((flg & FLG_VERSION_MASK) !== FLG_VERSION_01) throw fail(`frame version bits are ${flg >>> 6}, expected 1`);
  if ((flg & FLG_RESERVED) !== 0 || (bd & BD_RESERVED) !== 0) throw fail("reserved frame descriptor bits are set");
  if ((flg & FLG_DICT_ID) !== 0) throw fail("frames that need a dictionary are not supported");
  const blockMax = BLOCK_MAX_BYTES[(bd >>> 4) & 7];
  if (blockMax === undefined) throw fail(`block size id ${(bd >>> 4) & 7} is not 4..7`);
  const descriptorEnd = s + 2 + ((flg & FLG_CONTENT_SIZE) !== 0 ? 8 : 0);
  if (descriptorEnd + 1 > end) throw fail("frame ends inside its descriptor");
  const hc = lz4HeaderChecksum(src, s, descriptorEnd);
  if (src[descriptorEnd] !== hc) throw fail(`header checksum is 0x${src[descriptorEnd].toString(16)}, computed 0x${hc.toString(16)}`);
  s = descriptorEnd + 1;
  const independent = (flg & FLG_BLOCK_INDEPENDENT) !== 0;
  const blockChecksums = (flg & FLG_BLOCK_CHECKSUM) !== 0;
  const out = new BoundedOutput(Math.max(64 * 1024, (end - start) * 4), limit, () => tooLarge(NAME, limit));
  for (;;) {
    if (end - s < 4) throw fail("frame ends before its end mark");
    const word = readU32LE(src, s);
    s += 4;
    if (word === 0) break;
    const size = word & 0x7fffffff;
    if (size > blockMax) throw fail(`block of ${size} bytes is larger than the frame's maximum of ${blockMax}`);
    if (size + (blockChecksums ? 4 : 0) > end - s) throw fail(`block of ${size} bytes runs past the frame`);
    if (blockChecksums) {
      const stored = readU32LE(src, s + size);
      if (xxh32(src, s, s + size) !== stored) throw fail("block checksum mismatch");
    }
    if (word & BLOCK_UNCOMPRESSED) {
      out.append(src.subarray(s, s + size));
    } else {
      // Dependent blocks may refer back into the previous 64 KiB of output.
      const windowStart = independent ? out.length : Math.max(0, out.length - 65_536);
      decompressLz4Block(src, s, s + size, out, windowStart, blockMax, fail);
    }
    s += size + (blockChecksums ? 4 : 0);
  }
  if ((flg & FLG_CONTENT_SIZE) !== 0) {
    const at = start + 6;
    const declared = readU32LE(src, at) + readU32LE(src, at + 4) * 2 ** 32;
    if (declared !== out.length) throw fail(`frame declares ${declared} bytes of content, its blocks hold ${out.length}`);
  }
  if ((flg & FLG_CONTENT_CHECKSUM) !== 0) {
    if (end - s < 4) throw fail("frame ends before its content checksum");
    if (xxh32(out.buf, 0, out.length) !== readU32LE(src, s)) throw fail("content checksum mismatch");
    s += 4;
  }
  if (s !== end) throw fail(`${end - s} bytes after the frame`);
  return out.result();
}
