// The four codecs of Kafka's RecordBatch v2 (attributes bits 0-2: 1 gzip,
// 2 snappy, 3 lz4, 4 zstd), each with the framing Kafka clients write and
// read, so a batch compressed here is readable by any Kafka client and the
// other way round. Each codec compresses a records section into a fresh
// array, and decompresses one into at most `limit` bytes, throwing
// CompressionError (CORRUPT_MESSAGE, MESSAGE_TOO_LARGE past the limit,
// UNSUPPORTED_COMPRESSION_TYPE) and never allocating past the limit.

import { ErrorCode } from "../errors.ts";
import { CompressionError } from "./compression_error.ts";
import { compressGzip, decompressGzip } from "./gzip.ts";
import { compressLz4Frame, decompressLz4Frame } from "./lz4_frame.ts";
import { compressSnappyXerial, decompressSnappy } from "./snappy_xerial.ts";
import { compressZstd, decompressZstd, zstdCompressionAvailable } from "./zstd.ts";

export { CompressionError } from "./compression_error.ts";
export { zstdCompressionAvailable } from "./zstd.ts";

/** Codec ids as in the batch attributes (the same numbers as record_batch.ts's Compression). */
export const CodecId = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
export type CodecId = (typeof CodecId)[keyof typeof CodecId];
export type CompressionName = keyof typeof CodecId;
export const COMPRESSION_NAMES: readonly CompressionName[] = ["none", "gzip", "snappy", "lz4", "zstd"];

export interface Codec {
  readonly id: CodecId;
  readonly name: CompressionName;
  compress(src: Uint8Array): Uint8Array;
  decompress(src: Uint8Array, start: number, end: number, limit: number): Uint8Array;
}

const CODECS: readonly (Codec | undefined)[] = [
  undefined,
  { id: CodecId.gzip, name: "gzip", compress: compressGzip, decompress: decompressGzip },
  { id: CodecId.snappy, name: "snappy", compress: compressSnappyXerial, decompress: decompressSnappy },
  { id: CodecId.lz4, name: "lz4", compress: compressLz4Frame, decompress: decompressLz4Frame },
  { id: CodecId.zstd, name: "zstd", compress: compressZstd, decompress: decompressZstd },
];

/** The codec of attribute bits `id` (1..4); throws UNSUPPORTED_COMPRESSION_TYPE for any other. */
export function codecById(id: number): Codec {
  const codec = CODECS[id];
  if (codec === undefined) throw new CompressionError(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `compression codec ${id} is not one of 1..4`);
  return codec;
}

/**
 * The codec a user named ("none" gives undefined). Throws
 * UNSUPPORTED_COMPRESSION_TYPE for an unknown name, or for zstd where this
 * runtime cannot write it (Node before 22.15).
 */
export function codecForWriting(name: string): Codec | undefined {
  if (!Object.hasOwn(CodecId, name)) {
    throw new CompressionError(
      ErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
      `compression must be one of ${COMPRESSION_NAMES.join(", ")}, got '${name}'`,
    );
  }
  if (name === "none") return undefined;
  if (name === "zstd" && !zstdCompressionAvailable) compressZstd(new Uint8Array(0)); // throws the runtime's reason
  return CODECS[CodecId[name as CompressionName]];
}

/** Decompresses src[start, end) of codec `id` into at most `limit` bytes. */
export function decompressRecords(id: number, src: Uint8Array, start: number, end: number, limit: number): Uint8Array {
  return codecById(id).decompress(src, start, end, limit);
}
