import { describe, expect, test } from "bun:test";
import { Writer } from "./codec.ts";
import { ErrorCode } from "./errors.ts";
import {
  FRAME_SIZE_BYTES,
  FrameError,
  FrameParser,
  beginRequestFrame,
  beginResponseFrame,
  encodeRequestFrame,
  encodeResponseFrame,
  endFrame,
  readRequestHeader,
  readResponseCorrelationId,
  requestBody,
  responseBody,
} from "./frame.ts";
import { FRAME_BYTES_MAX, FRAME_PARSER_RETAINED_BYTES_MAX } from "./limits.ts";

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Deterministic pseudo-random numbers (tests must be repeatable). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function requestFrames(count: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const body = new Uint8Array((i * 37) % 300).map((_, j) => (i + j) & 0xff);
    out.push(encodeRequestFrame({ apiKey: i % 20, apiVersion: 0, correlationId: 1000 + i }, body));
  }
  return out;
}

function collect(kind: "request" | "response", frameBytesMax?: number) {
  const frames: Uint8Array[] = [];
  const errors: FrameError[] = [];
  const parser = new FrameParser({
    kind,
    frameBytesMax,
    onFrame: (f) => frames.push(f.slice()), // views are valid only during the call
    onError: (e) => errors.push(e),
  });
  return { parser, frames, errors };
}

describe("frame encoding", () => {
  test("request and response frames (fixture bytes)", () => {
    expect([...encodeRequestFrame({ apiKey: 1, apiVersion: 0, correlationId: 0x01020304 }, new Uint8Array([0xaa]))]).toEqual([
      0, 0, 0, 9, 0, 1, 0, 0, 1, 2, 3, 4, 0xaa,
    ]);
    expect([...encodeResponseFrame(0xfffffffe, new Uint8Array([0, 0]))]).toEqual([0, 0, 0, 6, 0xff, 0xff, 0xff, 0xfe, 0, 0]);
  });

  test("begin/end frame in a Writer equals the one-shot encoders; headers read back", () => {
    const w = new Writer();
    const a = beginRequestFrame(w, { apiKey: 18, apiVersion: 0, correlationId: 7 });
    w.writeI16(42);
    endFrame(w, a);
    const b = beginResponseFrame(w, 7);
    w.writeI16(0);
    endFrame(w, b);
    const out = w.finish();
    const req = encodeRequestFrame({ apiKey: 18, apiVersion: 0, correlationId: 7 }, new Uint8Array([0, 42]));
    const resp = encodeResponseFrame(7, new Uint8Array([0, 0]));
    expect([...out]).toEqual([...req, ...resp]);
    expect(readRequestHeader(req.subarray(4))).toEqual({ apiKey: 18, apiVersion: 0, correlationId: 7 });
    expect([...requestBody(req.subarray(4))]).toEqual([0, 42]);
    expect(readResponseCorrelationId(resp.subarray(4))).toBe(7);
    expect([...responseBody(resp.subarray(4))]).toEqual([0, 0]);
  });

  test("endFrame refuses a frame over the limit", () => {
    const w = new Writer();
    const start = beginResponseFrame(w, 1);
    w.writeRaw(new Uint8Array(100));
    expect(() => endFrame(w, start, 50)).toThrow("larger than 50");
  });
});

describe("FrameParser", () => {
  test("whole frames in one chunk are emitted as views of that chunk (no copy)", () => {
    const stream = concat(requestFrames(3));
    const views: Uint8Array[] = [];
    const parser = new FrameParser({ kind: "request", onFrame: (f) => views.push(f), onError: () => {} });
    parser.push(stream);
    expect(views.length).toBe(3);
    for (const v of views) expect(v.buffer).toBe(stream.buffer);
    expect(parser.inFrame).toBe(false);
  });

  test("one byte at a time yields the same frames", () => {
    const frames = requestFrames(40);
    const stream = concat(frames);
    const { parser, frames: out, errors } = collect("request");
    for (let i = 0; i < stream.length; i++) {
      parser.push(stream.subarray(i, i + 1));
      if (i < stream.length - 1) expect(parser.bufferedBytes).toBeLessThanOrEqual(4 + 8 + 300);
    }
    expect(errors).toEqual([]);
    expect(out.map((f) => [...f])).toEqual(frames.map((f) => [...f.subarray(4)]));
    expect(parser.inFrame).toBe(false);
  });

  test("random chunk splits (including empty chunks) yield the same frames", () => {
    const frames = requestFrames(200);
    const stream = concat(frames);
    const expected = frames.map((f) => [...f.subarray(4)]);
    for (let seed = 1; seed <= 30; seed++) {
      const random = rng(seed);
      const { parser, frames: out } = collect("request");
      let p = 0;
      while (p < stream.length) {
        const n = Math.floor(random() * random() * 700); // many small, some large, some 0
        parser.push(stream.subarray(p, Math.min(stream.length, p + n)));
        p += n;
      }
      expect(out.map((f) => [...f])).toEqual(expected);
    }
  });

  test("response frames parse too; the smallest valid frame is the bare header", () => {
    const { parser, frames } = collect("response");
    parser.push(concat([encodeResponseFrame(5, new Uint8Array(0)), encodeResponseFrame(6, new Uint8Array([1]))]));
    expect(frames.map((f) => readResponseCorrelationId(f))).toEqual([5, 6]);
  });

  test("a size over the limit is refused with the correlation id, without buffering the body", () => {
    const { parser, frames, errors } = collect("request", 1000);
    const good = encodeRequestFrame({ apiKey: 0, apiVersion: 0, correlationId: 1 }, new Uint8Array(10));
    const bad = new Uint8Array(12);
    new DataView(bad.buffer).setUint32(0, 1001);
    new DataView(bad.buffer).setUint16(4, 1);
    new DataView(bad.buffer).setUint32(8, 77);
    parser.push(concat([good, bad, new Uint8Array(5000)]));
    expect(frames.length).toBe(1);
    expect(errors.length).toBe(1);
    const e = errors[0];
    expect(e).toBeInstanceOf(FrameError);
    expect(e.code).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    expect(e.size).toBe(1001);
    expect(e.correlationId).toBe(77);
    expect(e.apiKey).toBe(1);
    expect(parser.hasFailed).toBe(true);
    expect(parser.bufferedBytes).toBe(0);
    parser.push(good); // ignored after the failure
    expect(frames.length).toBe(1);
    expect(errors.length).toBe(1);
  });

  test("an oversized size arriving a byte at a time waits only for the header, then reports", () => {
    const { parser, errors } = collect("request");
    const bad = new Uint8Array(12 + 100);
    new DataView(bad.buffer).setUint32(0, 0xffffffff);
    new DataView(bad.buffer).setUint32(8, 123);
    for (let i = 0; i < bad.length; i++) {
      parser.push(bad.subarray(i, i + 1));
      expect(parser.bufferedBytes).toBeLessThanOrEqual(12);
      if (i < 11) expect(errors.length).toBe(0);
    }
    expect(errors.length).toBe(1);
    expect(errors[0].correlationId).toBe(123);
    expect(errors[0].size).toBe(0xffffffff);
    expect(errors[0].code).toBe(ErrorCode.MESSAGE_TOO_LARGE);
  });

  test("FRAME_BYTES_MAX itself is accepted as a size, one more is not", () => {
    const ok = collect("request");
    const head = new Uint8Array(12);
    new DataView(head.buffer).setUint32(0, FRAME_BYTES_MAX);
    ok.parser.push(head);
    expect(ok.errors.length).toBe(0);
    expect(ok.parser.inFrame).toBe(true);
    const tooBig = collect("request");
    new DataView(head.buffer).setUint32(0, FRAME_BYTES_MAX + 1);
    tooBig.parser.push(head);
    expect(tooBig.errors[0].code).toBe(ErrorCode.MESSAGE_TOO_LARGE);
  });

  test("a size below the header is INVALID_REQUEST, reported at once without a correlation id", () => {
    for (const size of [0, 1, 7]) {
      const { parser, errors } = collect("request");
      const bad = new Uint8Array(4);
      new DataView(bad.buffer).setUint32(0, size);
      parser.push(bad);
      expect(errors.length).toBe(1);
      expect(errors[0].code).toBe(ErrorCode.INVALID_REQUEST);
      expect(errors[0].correlationId).toBeNull();
    }
    const split = collect("response");
    split.parser.push(new Uint8Array([0, 0]));
    split.parser.push(new Uint8Array([0, 3]));
    expect(split.errors[0].code).toBe(ErrorCode.INVALID_REQUEST);
  });

  test("a large frame split across chunks grows the buffer only with the bytes that arrive, then releases it", () => {
    const body = new Uint8Array(3 * 1024 * 1024).map((_, i) => i & 0xff);
    const frame = encodeRequestFrame({ apiKey: 0, apiVersion: 0, correlationId: 9 }, body);
    const { parser, frames } = collect("request");
    parser.push(frame.subarray(0, 100));
    expect(parser.bufferedBytes).toBe(100);
    // the parser's buffer is a private detail; its growth is bounded by what arrived:
    const acc = (parser as unknown as { acc: Uint8Array }).acc;
    expect(acc.length).toBeLessThan(10_000);
    parser.push(frame.subarray(100, 200_000));
    expect((parser as unknown as { acc: Uint8Array }).acc.length).toBeLessThanOrEqual(2 * 200_000);
    parser.push(frame.subarray(200_000));
    expect(frames.length).toBe(1);
    expect(frames[0].length).toBe(8 + body.length);
    expect(frames[0][8 + 12345]).toBe(12345 & 0xff);
    expect(3 * 1024 * 1024).toBeGreaterThan(FRAME_PARSER_RETAINED_BYTES_MAX);
    expect((parser as unknown as { acc: Uint8Array | null }).acc).toBeNull();
  });

  test("with a larger retainedBytesMax, large split frames one after another are gathered into the same buffer", () => {
    const body = new Uint8Array(3 * 1024 * 1024).map((_, i) => i & 0xff);
    const frame = encodeRequestFrame({ apiKey: 0, apiVersion: 0, correlationId: 9 }, body);
    const seen: { buffer: ArrayBufferLike; at12345: number }[] = [];
    const parser = new FrameParser({ kind: "request", retainedBytesMax: 4 * 1024 * 1024, onFrame: (f) => seen.push({ buffer: f.buffer, at12345: f[8 + 12345] }), onError: () => {} });
    for (let i = 0; i < 2; i++) {
      parser.push(frame.subarray(0, 200_000));
      parser.push(frame.subarray(200_000));
    }
    expect(seen.length).toBe(2);
    expect(seen[1].buffer).toBe(seen[0].buffer);
    expect(seen.map((s) => s.at12345)).toEqual([12345 & 0xff, 12345 & 0xff]);
    expect((parser as unknown as { acc: Uint8Array | null }).acc?.length).toBe(frame.length);
  });

  test("a frame completing in the middle of a chunk is followed by the rest of that chunk", () => {
    const frames = requestFrames(3);
    const stream = concat(frames);
    const { parser, frames: out } = collect("request");
    parser.push(stream.subarray(0, frames[0].length - 1));
    parser.push(stream.subarray(frames[0].length - 1));
    expect(out.length).toBe(3);
    expect(readRequestHeader(out[2]).correlationId).toBe(1002);
  });

  test("reset() clears a failure and a partial frame", () => {
    const { parser, frames, errors } = collect("request");
    parser.push(new Uint8Array([0, 0, 0, 1]));
    expect(errors.length).toBe(1);
    parser.reset();
    parser.push(encodeRequestFrame({ apiKey: 3, apiVersion: 0, correlationId: 4 }, new Uint8Array(0)));
    expect(frames.length).toBe(1);
  });
});

describe("FrameParser onFrameAt", () => {
  test("gives the same frames as onFrame, as ranges, whether frames arrive whole, split or gathered", () => {
    const frames = [0, 1, 7, 300, 5000].map((n, i) =>
      encodeRequestFrame({ apiKey: i, apiVersion: 0, correlationId: 100 + i }, new Uint8Array(n).map((_, k) => (k * 31 + i) & 0xff)),
    );
    const stream = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    let at = 0;
    for (const f of frames) {
      stream.set(f, at);
      at += f.length;
    }
    for (const step of [1, 3, 64, 4096, stream.length]) {
      const viaView: number[][] = [];
      const viaRange: number[][] = [];
      const a = new FrameParser({ kind: "request", onFrame: (frame) => viaView.push([...frame]), onError: () => {} });
      const b = new FrameParser({
        kind: "request",
        onFrameAt: (buf, start, end) => viaRange.push([...buf.subarray(start, end)]),
        onError: () => {},
      });
      for (let p = 0; p < stream.length; p += step) {
        const chunk = stream.slice(p, Math.min(stream.length, p + step));
        a.push(chunk);
        b.push(chunk);
      }
      expect(viaRange.length).toBe(frames.length);
      expect(viaRange).toEqual(viaView);
      expect(viaRange.map((f) => f.length)).toEqual(frames.map((f) => f.length - FRAME_SIZE_BYTES));
    }
  });

  test("a parser without either callback is refused", () => {
    expect(() => new FrameParser({ kind: "request", onError: () => {} })).toThrow(/onFrame or onFrameAt/);
  });
});
