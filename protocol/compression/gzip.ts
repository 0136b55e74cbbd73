// Kafka's gzip codec: a plain gzip stream (RFC 1952) of the records section.
// node:zlib has it on Bun, Deno and Node alike; maxOutputLength bounds reading.
// Level 6 (zlib's default, as the Java client and librdkafka use).

import zlib from "node:zlib";
import { corrupt, tooLarge } from "./compression_error.ts";

const NAME = "gzip";

export function compressGzip(src: Uint8Array): Uint8Array {
  const out = zlib.gzipSync(src);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

export function decompressGzip(src: Uint8Array, start: number, end: number, limit: number): Uint8Array {
  try {
    const out = zlib.gunzipSync(src.subarray(start, end), { maxOutputLength: limit });
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (e) {
    if ((e as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") throw tooLarge(NAME, limit);
    throw corrupt(NAME, (e as Error).message, e);
  }
}
