import { describe, expect, test } from "bun:test";
import { ErrorCode } from "../protocol/errors.ts";
import { encodeResponseFrame, FrameError } from "../protocol/frame.ts";
import { RESPONSE_HEADER_BYTES } from "../protocol/limits.ts";
import { concat } from "../test/log/helpers.ts";
import { ResponseReader } from "./response_reader.ts";


/** Deterministic pseudo-random numbers (tests must be repeatable). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Response frames of assorted sizes (empty body up to 70 KB), each body filled with its index. */
function frames(count: number): Uint8Array[] {
  const sizes = [0, 1, 3, 4, 5, 100, 70_000, 17, 4096];
  return Array.from({ length: count }, (_, i) => encodeResponseFrame(i + 1, new Uint8Array(sizes[i % sizes.length]).fill(i & 0xff)));
}

function collect() {
  const got: { frame: Uint8Array; owned: boolean }[] = [];
  const errors: FrameError[] = [];
  const reader = new ResponseReader({
    // Copy views: the test reuses nothing, but a view must still hold the right bytes when looked at later.
    onFrame: (bytes, start, end) => {
      const owned = start === 0 && end === bytes.length;
      got.push({ frame: owned ? bytes : bytes.slice(start, end), owned });
    },
    onError: (e) => errors.push(e),
  });
  return { reader, got, errors };
}

const strip = (f: Uint8Array) => f.subarray(4); // encoded frame without its size prefix

describe("ResponseReader", () => {
  test("frames wholly inside a chunk are views of it; the stream's frames come out in order", () => {
    const fs = frames(9);
    const stream = concat(fs);
    const views: Uint8Array[] = [];
    const reader = new ResponseReader({
      onFrame: (bytes, start, end) => {
        expect(bytes).toBe(stream);
        views.push(bytes.subarray(start, end));
      },
      onError: () => {},
    });
    reader.push(stream);
    expect(views.map((v) => [...v])).toEqual(fs.map((f) => [...strip(f)]));
    for (const v of views) expect(v.buffer).toBe(stream.buffer);
  });

  test("one byte at a time yields the same frames, each split one in a buffer of its exact size", () => {
    const fs = frames(12);
    const { reader, got, errors } = collect();
    for (const b of concat(fs)) reader.push(new Uint8Array([b]));
    expect(errors).toEqual([]);
    expect(got.map((g) => [...g.frame])).toEqual(fs.map((f) => [...strip(f)]));
    for (const g of got) {
      expect(g.owned).toBe(true);
      expect(g.frame.byteLength).toBe(g.frame.buffer.byteLength);
    }
    expect(reader.bufferedBytes).toBe(0);
  });

  test("random splits (with empty chunks) yield the same frames", () => {
    const fs = frames(40);
    const stream = concat(fs);
    for (let seed = 1; seed <= 20; seed++) {
      const random = rng(seed);
      const { reader, got, errors } = collect();
      for (let at = 0; at < stream.length; ) {
        const n = Math.floor(random() * random() * 9000);
        reader.push(stream.subarray(at, at + n));
        at += n;
      }
      expect(errors).toEqual([]);
      expect(got.length).toBe(fs.length);
      for (let i = 0; i < fs.length; i++) expect(got[i].frame).toEqual(strip(fs[i]));
    }
  });

  test("a size over the limit or below the header is refused once, and later bytes are ignored", () => {
    const got: Uint8Array[] = [];
    const errors: FrameError[] = [];
    const tooLarge = new Uint8Array(8);
    new DataView(tooLarge.buffer).setUint32(0, 1001);
    const small = new ResponseReader({ onFrame: (b, s, e) => got.push(b.subarray(s, e)), onError: (e) => errors.push(e), frameBytesMax: 1000 });
    small.push(tooLarge);
    small.push(concat(frames(3)));
    expect(errors.map((e) => e.code)).toEqual([ErrorCode.MESSAGE_TOO_LARGE]);
    expect(got).toEqual([]);

    const under = collect();
    const bad = new Uint8Array(4);
    new DataView(bad.buffer).setUint32(0, RESPONSE_HEADER_BYTES - 1);
    under.reader.push(bad.subarray(0, 2));
    under.reader.push(bad.subarray(2));
    expect(under.errors.map((e) => e.code)).toEqual([ErrorCode.INVALID_REQUEST]);
  });
});
