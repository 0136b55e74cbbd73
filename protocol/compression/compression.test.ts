import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { logLines } from "../../bench/log_lines.ts";
import { ErrorCode } from "../errors.ts";
import { CompressionError } from "./compression_error.ts";
import { decompressLz4Frame, compressLz4Frame, lz4HeaderChecksum } from "./lz4_frame.ts";
import { codecById, codecForWriting, COMPRESSION_NAMES, type CompressionName } from "./mod.ts";
import { compressSnappyXerial, decompressSnappy, XERIAL_MAGIC } from "./snappy_xerial.ts";
import { compressZstd, decompressZstdPortable, zstdWindowBytes } from "./zstd.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((h) => parseInt(h, 16)));
const LIMIT = 64 * 1024 * 1024;

function compressionError(fn: () => unknown): CompressionError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CompressionError) return e;
    throw new Error(`expected a CompressionError, got ${e}`);
  }
  throw new Error("expected a CompressionError, nothing was thrown");
}

/** Inputs that exercise every path: tiny, text across many blocks, incompressible, long runs, overlapping matches. */
function inputs(): [string, Uint8Array][] {
  const random = new Uint8Array(200_000);
  for (let i = 0, x = 12345; i < random.length; i++) random[i] = (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24;
  const runs = new Uint8Array(300_000);
  for (let i = 0; i < runs.length; i++) runs[i] = i % 100_000 < 70_000 ? 7 : i & 0xff;
  return [
    ["1 byte", Uint8Array.of(42)],
    ["13 bytes", enc.encode("hello, world!")],
    ["log lines (350 KiB, several blocks)", enc.encode(logLines(2000).join("\n"))],
    ["random (incompressible)", random],
    ["long runs", runs],
    ["abcabc… (overlapping matches)", enc.encode("abc".repeat(50_000))],
  ];
}

const writable = COMPRESSION_NAMES.filter((n) => n !== "none") as Exclude<CompressionName, "none">[];

describe("each codec round-trips", () => {
  for (const name of writable) {
    test(name, () => {
      const codec = codecForWriting(name)!;
      for (const [what, data] of inputs()) {
        const packed = codec.compress(data);
        const back = codec.decompress(packed, 0, packed.length, LIMIT);
        expect({ what, equal: Buffer.from(back).equals(Buffer.from(data)) }).toEqual({ what, equal: true });
      }
      // Inside a larger array, at an offset.
      const data = enc.encode(logLines(50).join("\n"));
      const packed = codec.compress(data);
      const framed = new Uint8Array(packed.length + 20);
      framed.set(packed, 7);
      expect(dec.decode(codec.decompress(framed, 7, 7 + packed.length, LIMIT))).toBe(dec.decode(data));
    });
  }

  test("log lines compress: every codec at least 2x smaller", () => {
    const data = enc.encode(logLines(2000).join("\n"));
    for (const name of writable) expect({ name, small: codecForWriting(name)!.compress(data).length * 2 < data.length }).toEqual({ name, small: true });
  });
});

describe("lz4: Kafka's frame format (KIP-57)", () => {
  test("our frame header: magic, FLG version 01 + independent blocks, BD 64 KiB, header checksum over the descriptor only", () => {
    const frame = compressLz4Frame(enc.encode("x".repeat(1000)));
    expect(Array.from(frame.subarray(0, 7))).toEqual([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82]);
    expect(lz4HeaderChecksum(frame, 4, 6)).toBe(0x82);
    expect(Array.from(frame.subarray(frame.length - 4))).toEqual([0, 0, 0, 0]); // end mark, no content checksum
  });

  test("a header checksum computed over the magic too (Kafka's pre-KIP-57 bug) is refused", () => {
    const frame = compressLz4Frame(enc.encode("y".repeat(100)));
    frame[6] = lz4HeaderChecksum(frame, 0, 6);
    const e = compressionError(() => decompressLz4Frame(frame, 0, frame.length, LIMIT));
    expect(e.code).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(e.message).toContain("header checksum");
  });

  // Written by the reference lz4 1.9.4 CLI from the same 288-byte text.
  const TEXT =
    "2026-12-06T15:20:01.123Z INFO  broker: partition orders-3 rolled segment 00000000000000123456.log (134217728 bytes)\n" +
    "2026-12-06T15:20:01.124Z INFO  broker: partition orders-3 rolled segment 00000000000000123457.log (134217728 bytes)\n" +
    "2026-12-06T15:20:01.125Z WARN  broker: fsync took 12 ms\n";
  const REF_CHECKSUMS =
    "04224d187c4020010000000000007698000000f83c323032362d31322d30365431353a32303a30312e3132335a20494e464f202062726f6b65723a20706172746974696f6e206f72646572732d3320726f6c6c6564207365676d656e742030300200ff0e3132333435362e6c6f672028313334323137373238206279746573290a7400031f347400321f3774001a76355a205741524ee800f0026673796e6320746f6f6b203132206d730ad5a2c41f00000000040bc12f";
  const REF_PLAIN =
    "04224d186440a798000000f83c323032362d31322d30365431353a32303a30312e3132335a20494e464f202062726f6b65723a20706172746974696f6e206f72646572732d3320726f6c6c6564207365676d656e742030300200ff0e3132333435362e6c6f672028313334323137373238206279746573290a7400031f347400321f3774001a76355a205741524ee800f0026673796e6320746f6f6b203132206d730a00000000040bc12f";

  test("reads the reference implementation's frames (block and content checksums, content size)", () => {
    for (const fixture of [REF_CHECKSUMS, REF_PLAIN]) {
      const b = hex(fixture);
      expect(dec.decode(decompressLz4Frame(b, 0, b.length, LIMIT))).toBe(TEXT);
    }
  });

  test("a flipped byte fails a checksum; a truncated frame and a bad offset are CORRUPT_MESSAGE", () => {
    const withSums = hex(REF_CHECKSUMS);
    withSums[40] ^= 1;
    expect(compressionError(() => decompressLz4Frame(withSums, 0, withSums.length, LIMIT)).message).toContain("checksum");
    const plain = compressLz4Frame(enc.encode(logLines(100).join("\n")));
    for (const cut of [3, 8, 20, plain.length - 1]) {
      expect(compressionError(() => decompressLz4Frame(plain, 0, cut, LIMIT)).code).toBe(ErrorCode.CORRUPT_MESSAGE);
    }
  });

  test("every single-byte change of a frame gives a CompressionError or other bytes, never a crash", () => {
    const data = enc.encode(logLines(40).join("\n"));
    const frame = compressLz4Frame(data);
    for (let i = 0; i < frame.length; i++) {
      for (const v of [0x00, 0xff, frame[i] ^ 0x10]) {
        const b = frame.slice();
        b[i] = v;
        try {
          decompressLz4Frame(b, 0, b.length, data.length * 2);
        } catch (e) {
          expect(e).toBeInstanceOf(CompressionError);
        }
      }
    }
  });

  test("full 64 KiB blocks end with literals: the last match starts at least 12 bytes before the block end", () => {
    // A strict reader (lz4-java's, Kafka's) refuses a match in a full block's last 12 bytes; all-equal bytes tempt one there.
    const frame = compressLz4Frame(new Uint8Array(3 * 65536).fill(9));
    let s = 7;
    for (let block = 0; block < 3; block++) {
      const size = frame[s] | (frame[s + 1] << 8) | (frame[s + 2] << 16) | (frame[s + 3] << 24);
      s += 4;
      // Walk the sequences, tracking output: the final sequence (literals only) must hold >= 5 bytes, the last match end <= 65536 - 5.
      let out = 0;
      let p = s;
      let lastMatchStart = -1;
      for (;;) {
        const token = frame[p++];
        let lit = token >> 4;
        if (lit === 15) for (let b = 255; b === 255; ) lit += b = frame[p++];
        p += lit;
        out += lit;
        if (p === s + size) break;
        p += 2;
        let ml = token & 15;
        if (ml === 15) for (let b = 255; b === 255; ) ml += b = frame[p++];
        lastMatchStart = out;
        out += ml + 4;
      }
      expect(out).toBe(65536);
      expect(lastMatchStart).toBeLessThanOrEqual(65536 - 12);
      s += size;
    }
  });
});

// The reference tools (Debian's lz4 and zstd, in this project's machine image) read what we
// write, and we read what they write with their other settings: dependent blocks, 4 MiB
// blocks, block checksums, several blocks.
const LZ4_CLI = "/usr/bin/lz4";
const ZSTD_CLI = "/usr/bin/zstd";
function tool(cmd: string, args: string[], input: Uint8Array): Uint8Array {
  const r = spawnSync(cmd, args, { input, maxBuffer: 64 * 1024 * 1024, timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return new Uint8Array(r.stdout);
}

describe.skipIf(!fs.existsSync(LZ4_CLI) || !fs.existsSync(ZSTD_CLI))("the reference lz4 and zstd tools", () => {
  const data = enc.encode(logLines(3000, 4).join("\n")); // ~550 KiB: several 64 KiB blocks
  const same = (a: Uint8Array) => Buffer.from(a).equals(Buffer.from(data));

  test("lz4 -d reads our frames; we read lz4's with dependent 64 KiB blocks, 4 MiB blocks, block checksums", () => {
    expect(same(tool(LZ4_CLI, ["-d", "-c"], compressLz4Frame(data)))).toBe(true);
    for (const args of [["-B4", "-BD"], ["-B7"], ["-B5", "-BX", "--content-size"], ["-9", "-B4", "-BD", "--no-frame-crc"]]) {
      const frame = tool(LZ4_CLI, ["-c", ...args], data);
      expect({ args, same: same(decompressLz4Frame(frame, 0, frame.length, LIMIT)) }).toEqual({ args, same: true });
    }
  });

  test("zstd -d reads our frames; we read zstd's at other levels, with and without the Node 20 reader", () => {
    const zstd = codecForWriting("zstd")!;
    expect(same(tool(ZSTD_CLI, ["-d", "-c"], zstd.compress(data)))).toBe(true);
    for (const args of [["-1"], ["-19"], ["-3", "--no-check"]]) {
      const frame = tool(ZSTD_CLI, ["-c", ...args], data);
      expect({ args, native: same(zstd.decompress(frame, 0, frame.length, LIMIT)), portable: same(decompressZstdPortable(frame, LIMIT)) }).toEqual({
        args,
        native: true,
        portable: true,
      });
    }
    // Level 22 on a stream of unknown size asks for a 128 MiB window: libzstd reads it within the
    // output bound, the portable reader (which would allocate the window) refuses it up front.
    const huge = tool(ZSTD_CLI, ["-c", "--ultra", "-22"], data);
    expect(zstdWindowBytes(huge)).toBeGreaterThan(LIMIT);
    expect(same(zstd.decompress(huge, 0, huge.length, LIMIT))).toBe(true);
    expect(compressionError(() => decompressZstdPortable(huge, LIMIT)).code).toBe(ErrorCode.MESSAGE_TOO_LARGE);
  });
});

describe("snappy: xerial framing (Kafka's Java client) and raw blocks (librdkafka)", () => {
  test("golden header: magic, version 1, compatible version 1; then length-prefixed chunks of at most 32 KiB", () => {
    const data = enc.encode(logLines(1000).join("\n"));
    const framed = compressSnappyXerial(data);
    expect(Array.from(framed.subarray(0, 16))).toEqual([...XERIAL_MAGIC, 0, 0, 0, 1, 0, 0, 0, 1]);
    let s = 16;
    let chunks = 0;
    while (s < framed.length) {
      const n = (framed[s] << 24) | (framed[s + 1] << 16) | (framed[s + 2] << 8) | framed[s + 3];
      // Each chunk's preamble (varint uncompressed length) says at most 32 KiB.
      let length = 0;
      for (let i = 0, shift = 0; ; i++, shift += 7) {
        const b = framed[s + 4 + i];
        length |= (b & 0x7f) << shift;
        if (b < 0x80) break;
      }
      expect(length).toBeLessThanOrEqual(32 * 1024);
      s += 4 + n;
      chunks++;
    }
    expect(s).toBe(framed.length);
    expect(chunks).toBe(Math.ceil(data.length / (32 * 1024)));
  });

  test("a raw snappy block (no framing) is read too", () => {
    // Uncompressed length 5, then one literal of 5 bytes (tag (5-1) << 2).
    const raw = Uint8Array.of(0x05, 0x10, ...enc.encode("hello"));
    expect(dec.decode(decompressSnappy(raw, 0, raw.length, LIMIT))).toBe("hello");
  });

  test("a chunk length past the end, and garbage, are CORRUPT_MESSAGE", () => {
    const framed = compressSnappyXerial(enc.encode("z".repeat(5000)));
    framed[19] += 100;
    expect(compressionError(() => decompressSnappy(framed, 0, framed.length, LIMIT)).code).toBe(ErrorCode.CORRUPT_MESSAGE);
    const garbage = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3);
    expect(compressionError(() => decompressSnappy(garbage, 0, garbage.length, LIMIT)).code).toBeOneOf([
      ErrorCode.CORRUPT_MESSAGE,
      ErrorCode.MESSAGE_TOO_LARGE,
    ]);
  });
});

describe("zstd", () => {
  test("a zstd frame (magic 28 B5 2F FD); the portable reader (Node 20's) reads what libzstd wrote", () => {
    const data = enc.encode(logLines(3000).join("\n"));
    const frame = compressZstd(data);
    expect(Array.from(frame.subarray(0, 4))).toEqual([0x28, 0xb5, 0x2f, 0xfd]);
    expect(Buffer.from(decompressZstdPortable(frame, LIMIT)).equals(Buffer.from(data))).toBe(true);
  });

  test("reads the reference CLI's frame (zstd -19)", () => {
    const b = hex(
      "28b52ffd642000f5030012081b1860590710ee3335a9f82bb6479a6164556cd272c41962039700f5ce7baebbfefa429a3d11339d3a120310a8aca175859364d92836b8d61d811c46c11b5f3fe969921e935dd7f3c540a7c466ffebad6e7556e09729b99ed60f358f73aae025362e91976325240ebc03c291030500603381790228eb0e4a560e1005e90471e5",
    );
    const codec = codecById(4);
    expect(dec.decode(codec.decompress(b, 0, b.length, LIMIT))).toContain("fsync took 12 ms");
    expect(dec.decode(decompressZstdPortable(b, LIMIT))).toContain("fsync took 12 ms");
  });

  test("the portable reader refuses a frame whose window is past the limit before allocating it", () => {
    // Window descriptor 0xF8: 2^(10+31) bytes.
    const frame = Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xf8, 0, 0, 0);
    expect(zstdWindowBytes(frame)).toBe(2 ** 41);
    expect(compressionError(() => decompressZstdPortable(frame, LIMIT)).code).toBe(ErrorCode.MESSAGE_TOO_LARGE);
  });
});

describe("bounds: a bomb gets MESSAGE_TOO_LARGE, never the memory", () => {
  const zeros = new Uint8Array(8 * 1024 * 1024);
  for (const name of writable) {
    test(`${name}: 8 MiB of zeros read with a 1 MiB limit`, () => {
      const codec = codecForWriting(name)!;
      const packed = codec.compress(zeros);
      expect(packed.length).toBeLessThan(zeros.length / 20);
      const e = compressionError(() => codec.decompress(packed, 0, packed.length, 1024 * 1024));
      expect(e.code).toBe(ErrorCode.MESSAGE_TOO_LARGE);
      expect(e.message).toContain("BATCH_DECOMPRESSED_BYTES_MAX");
      if (name === "zstd") expect(compressionError(() => decompressZstdPortable(packed, 1024 * 1024)).code).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    });
  }
});

describe("damaged streams", () => {
  for (const name of writable) {
    test(`${name}: every single-byte change gives a CompressionError or some bytes within the limit, never another error`, () => {
      const codec = codecForWriting(name)!;
      const data = enc.encode(logLines(30, 9).join("\n"));
      const packed = codec.compress(data);
      const limit = data.length * 4;
      let failed = 0;
      for (let i = 0; i < packed.length; i++) {
        for (const v of [0x00, 0xff, packed[i] ^ 0x01]) {
          const b = packed.slice();
          b[i] = v;
          try {
            expect(codec.decompress(b, 0, b.length, limit).length).toBeLessThanOrEqual(limit);
          } catch (e) {
            expect(e).toBeInstanceOf(CompressionError);
            failed++;
          }
        }
      }
      expect(failed).toBeGreaterThan(0);
      if (name === "zstd") {
        for (let i = 0; i < packed.length; i += 3) {
          const b = packed.slice();
          b[i] ^= 0x5a;
          try {
            decompressZstdPortable(b, limit);
          } catch (e) {
            expect(e).toBeInstanceOf(CompressionError);
          }
        }
      }
    });
  }
});

describe("names and ids", () => {
  test("codec ids are Kafka's; unknown names and ids are UNSUPPORTED_COMPRESSION_TYPE", () => {
    expect(["gzip", "snappy", "lz4", "zstd"].map((n) => codecForWriting(n)!.id)).toEqual([1, 2, 3, 4]);
    expect(codecForWriting("none")).toBeUndefined();
    expect(compressionError(() => codecForWriting("brotli")).code).toBe(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
    expect(compressionError(() => codecById(5)).code).toBe(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
  });
});
