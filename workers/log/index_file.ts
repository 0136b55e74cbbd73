// The on-disk form shared by a segment's `.index` and `.timeindex` files: a
// fixed header with a CRC of its own and a CRC of the entries, then the
// entries. The header also carries the segment's summary (next offset, size,
// largest timestamp), so a sealed segment comes online from its index header
// alone, without reading its log.
//
// Contract: decodeIndexHeader returns a reason string instead of a header for
// anything that does not check out, and the caller then rebuilds the index
// from the log. An index file is never trusted for more bytes of log than its
// header says it covers.
//
//   0  magic         u32  "SLXI"
//   4  version       u16  1
//   6  kind          u16  1 = offset index, 2 = time index
//   8  entryBytes    u32
//  12  entryCount    u32
//  16  baseOffset    i64
//  24  nextOffset    i64  offset after the last batch covered
//  32  logBytes      u32  bytes of the .log file covered
//  36  maxTimestamp  i64  largest batch max timestamp covered (-1 if none)
//  44  entriesCrc    u32  CRC-32C of the entries
//  48  headerCrc     u32  CRC-32C of bytes [0, 48)
//  52  entries

import { assert } from "../../protocol/assert.ts";
import { readI64Number, readU16, readU32, writeI16, writeI32, writeI64Number } from "../../protocol/big_endian.ts";
import { crc32c } from "../../protocol/crc32c.ts";

export const INDEX_MAGIC = 0x534c5849;
export const INDEX_VERSION = 1;
export const INDEX_HEADER_BYTES = 52;

export const IndexKind = { OFFSET: 1, TIME: 2 } as const;
export type IndexKind = (typeof IndexKind)[keyof typeof IndexKind];

/** What a segment's index header says about the segment. */
export interface SegmentSummary {
  baseOffset: number;
  nextOffset: number;
  logBytes: number;
  maxTimestamp: number;
}

export interface IndexFileHeader extends SegmentSummary {
  kind: IndexKind;
  entryBytes: number;
  entryCount: number;
  entriesCrc: number;
}

/** Builds a whole index file: header followed by `entries` (already encoded). */
export function encodeIndexFile(
  kind: IndexKind,
  summary: SegmentSummary,
  entryBytes: number,
  entries: Uint8Array,
): Uint8Array {
  assert(entries.length % entryBytes === 0, "index file: entries are a whole number of entries", entries.length);
  const out = new Uint8Array(INDEX_HEADER_BYTES + entries.length);
  writeI32(out, 0, INDEX_MAGIC);
  writeI16(out, 4, INDEX_VERSION);
  writeI16(out, 6, kind);
  writeI32(out, 8, entryBytes);
  writeI32(out, 12, entries.length / entryBytes);
  writeI64Number(out, 16, summary.baseOffset);
  writeI64Number(out, 24, summary.nextOffset);
  writeI32(out, 32, summary.logBytes);
  writeI64Number(out, 36, summary.maxTimestamp);
  writeI32(out, 44, crc32c(entries));
  writeI32(out, 48, crc32c(out, 0, 48));
  out.set(entries, INDEX_HEADER_BYTES);
  return out;
}

/** Decodes and checks a header; returns why it is unusable instead when it is. */
export function decodeIndexHeader(
  bytes: Uint8Array,
  expect: { kind: IndexKind; entryBytes: number; baseOffset: number; fileBytes: number },
): IndexFileHeader | string {
  if (bytes.length < INDEX_HEADER_BYTES) return "shorter than its header";
  if (readU32(bytes, 0) !== INDEX_MAGIC) return "bad magic";
  if (readU32(bytes, 48) !== crc32c(bytes, 0, 48)) return "header CRC mismatch";
  if (readU16(bytes, 4) !== INDEX_VERSION) return `unknown version ${readU16(bytes, 4)}`;
  const h: IndexFileHeader = {
    kind: readU16(bytes, 6) as IndexKind,
    entryBytes: readU32(bytes, 8),
    entryCount: readU32(bytes, 12),
    baseOffset: readI64Number(bytes, 16),
    nextOffset: readI64Number(bytes, 24),
    logBytes: readU32(bytes, 32),
    maxTimestamp: readI64Number(bytes, 36),
    entriesCrc: readU32(bytes, 44),
  };
  if (h.kind !== expect.kind) return `kind ${h.kind}, expected ${expect.kind}`;
  if (h.entryBytes !== expect.entryBytes) return `entry size ${h.entryBytes}, expected ${expect.entryBytes}`;
  if (h.baseOffset !== expect.baseOffset) return `base offset ${h.baseOffset}, expected ${expect.baseOffset}`;
  if (h.nextOffset < h.baseOffset) return `next offset ${h.nextOffset} below base ${h.baseOffset}`;
  if (INDEX_HEADER_BYTES + h.entryCount * h.entryBytes !== expect.fileBytes) {
    return `${h.entryCount} entries do not match a file of ${expect.fileBytes} bytes`;
  }
  return h;
}

/** True when the entries after the header match the header's CRC. */
export function indexEntriesIntact(bytes: Uint8Array, header: IndexFileHeader): boolean {
  const end = INDEX_HEADER_BYTES + header.entryCount * header.entryBytes;
  return end <= bytes.length && crc32c(bytes, INDEX_HEADER_BYTES, end) === header.entriesCrc;
}
