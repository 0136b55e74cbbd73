// Compression of a producer batch's records section: 128 KiB (the producer's
// default batchBytes) of realistic log lines (bench/log_lines.ts), per codec
// and per candidate implementation. MB/s are of the uncompressed bytes (in for
// compress, out for decompress); the ratios (uncompressed / compressed) are
// printed once before the table. client/README.md says which candidates we
// chose and why.
//
// Candidates always measured: what the client ships (gzip and zstd from
// node:zlib, snappyjs inside our xerial framing, our LZ4 frame codec, fzstd as
// Node 20's zstd reader) and lz4js (a dev dependency: the pure-JS LZ4 we did
// not choose). Native addons are measured when installed, for comparison only
// (npm i --no-save snappy lz4-napi): they would not run from the single-file
// binary or on Deno without extra steps.

import { createRequire } from "node:module";
import zlib from "node:zlib";
import snappyjs from "snappyjs";
import type { Bench } from "tinybench";
import { codecForWriting } from "../../protocol/compression/mod.ts";
import { decompressZstdPortable } from "../../protocol/compression/zstd.ts";
import { encodeBatch, RECORDS_OFFSET } from "../../protocol/record_batch.ts";
import { logLines } from "../log_lines.ts";
import type { MicroOptions } from "./run.ts";

const require = createRequire(import.meta.url);
const LIMIT = 64 * 1024 * 1024;

/** An optional package, or undefined when it is not installed. */
function optional<T>(name: string): T | undefined {
  try {
    return require(name) as T;
  } catch {
    return undefined;
  }
}

/** The records section of a batch of log lines, about `bytes` long. */
function recordsSection(bytes: number): Uint8Array {
  const lines = logLines(Math.ceil(bytes / 150), 42);
  const records = [];
  let total = 0;
  for (const value of lines) {
    if (total + value.length + 8 > bytes) break;
    records.push({ value });
    total += value.length + 8;
  }
  return encodeBatch(records, { firstTimestamp: 1_765_000_000_000 }).subarray(RECORDS_OFFSET).slice();
}

interface Candidate {
  name: string;
  compress: (src: Uint8Array) => Uint8Array;
  decompress?: (packed: Uint8Array) => Uint8Array;
  /** false: only a reader (its input is another candidate's output). */
  timeCompress?: boolean;
}

export function register(bench: Bench, opts: MicroOptions): void {
  const src = recordsSection(opts.small ? 8 * 1024 : 128 * 1024);
  const ours = (name: string) => codecForWriting(name)!;
  const zlibZstd = zlib as unknown as {
    zstdCompressSync(b: Uint8Array, o: object): Uint8Array;
    zstdDecompressSync(b: Uint8Array): Uint8Array;
    constants: Record<string, number>;
  };
  const zstdLevel = (level: number) => (b: Uint8Array) => zlibZstd.zstdCompressSync(b, { params: { [zlibZstd.constants.ZSTD_c_compressionLevel]: level } });
  const candidates: Candidate[] = [
    { name: "gzip node:zlib level 6 (chosen)", compress: ours("gzip").compress, decompress: (p) => ours("gzip").decompress(p, 0, p.length, LIMIT) },
    { name: "gzip node:zlib level 1", compress: (b) => zlib.gzipSync(b, { level: 1 }) },
    { name: "snappy snappyjs + xerial (chosen)", compress: ours("snappy").compress, decompress: (p) => ours("snappy").decompress(p, 0, p.length, LIMIT) },
    { name: "snappy snappyjs raw block", compress: (b) => snappyjs.compress(b), decompress: (p) => snappyjs.uncompress(p) },
    { name: "lz4 ours, frame (chosen)", compress: ours("lz4").compress, decompress: (p) => ours("lz4").decompress(p, 0, p.length, LIMIT) },
    { name: "zstd node:zlib level 3", compress: zstdLevel(3) },
    { name: "zstd node:zlib level 1 (chosen)", compress: ours("zstd").compress, decompress: (p) => ours("zstd").decompress(p, 0, p.length, LIMIT) },
    { name: "zstd fzstd reader (Node 20)", compress: ours("zstd").compress, decompress: (p) => decompressZstdPortable(p, LIMIT), timeCompress: false },
  ];
  const lz4js = optional<{ compress(b: Uint8Array): Uint8Array; decompress(b: Uint8Array): Uint8Array }>("lz4js");
  if (lz4js !== undefined) candidates.push({ name: "lz4 lz4js, frame", compress: (b) => lz4js.compress(b), decompress: (p) => lz4js.decompress(p) });
  const snappyNative = optional<{ compressSync(b: Uint8Array): Uint8Array; uncompressSync(b: Uint8Array): Uint8Array }>("snappy");
  if (snappyNative !== undefined) {
    candidates.push({ name: "snappy napi-rs (native addon)", compress: (b) => snappyNative.compressSync(b), decompress: (p) => snappyNative.uncompressSync(p) });
  }
  const lz4Native = optional<{ compressFrameSync(b: Uint8Array): Uint8Array; decompressFrameSync(b: Uint8Array): Uint8Array }>("lz4-napi");
  if (lz4Native !== undefined) {
    candidates.push({ name: "lz4 lz4-napi frame (native addon)", compress: (b) => lz4Native.compressFrameSync(b), decompress: (p) => lz4Native.decompressFrameSync(p) });
  }

  const ratios: string[] = [];
  for (const c of candidates) {
    const packed = c.compress(src);
    if (c.decompress !== undefined) {
      const back = c.decompress(packed);
      if (back.length !== src.length || !back.every((v, i) => v === src[i])) throw new Error(`${c.name} does not round-trip`);
    }
    if (c.timeCompress !== false) {
      ratios.push(`  ${c.name.padEnd(40)} ${(src.length / packed.length).toFixed(2)}x  (${src.length} -> ${packed.length} bytes)`);
      const compressTask = `compress ${c.name}`;
      bench.add(compressTask, () => c.compress(src));
      opts.bytesPerOp(compressTask, src.length);
    }
    if (c.decompress !== undefined) {
      const decompressTask = `decompress ${c.name}`;
      const decompress = c.decompress;
      bench.add(decompressTask, () => decompress(packed));
      opts.bytesPerOp(decompressTask, src.length);
    }
  }
  console.log(`compression ratio on ${src.length} bytes of log-line records:\n${ratios.join("\n")}`);
}
