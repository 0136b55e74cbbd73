// The connection output queue against a socket that takes only as many bytes
// as the test allows: bytes leave in the order they were committed whatever
// the mix of plain responses and pieces, a caller's buffer is released only
// once the socket took the last of its bytes (and at close), the writer's
// bytes are never referenced after commitPieces returns, and a peer that does
// not read is cut off at the bound.

import { describe, expect, test } from "bun:test";
import type { ServerSocket } from "../../runtime/listener_bun.ts";
import { OutputQueue } from "./output_queue.ts";

/** Takes at most `room` bytes (Infinity: all), keeps what it took. */
class FakeSocket implements ServerSocket {
  room = Infinity;
  writes = 0;
  readonly taken: number[] = [];
  readonly remoteAddress = "127.0.0.1";
  write(bytes: Uint8Array, offset: number, length: number): number {
    this.writes++;
    const n = Math.max(0, Math.min(length, this.room));
    this.room -= n;
    for (let i = 0; i < n; i++) this.taken.push(bytes[offset + i]);
    return n;
  }
  pause(): void {}
  resume(): void {}
  end(): void {}
  terminate(): void {}
}

function setup(bytesMax = 1 << 20) {
  const socket = new FakeSocket();
  let overflows = 0;
  let flushed = 0;
  const out = new OutputQueue({ socket, bytesMax, onOverflow: () => overflows++, onFlushed: () => flushed++ });
  return { socket, out, overflows: () => overflows, flushed: () => flushed };
}

/** Bytes k, k+1, … (mod 256) of length n. */
function seq(n: number, from: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (from + i) & 0xff);
}

/** Commits `n` plain bytes continuing the sequence. */
function plain(out: OutputQueue, n: number, from: number): number {
  const w = out.writer;
  for (let i = 0; i < n; i++) w.writeI8((from + i) & 0xff);
  out.commit();
  return from + n;
}

/** Commits a response as pieces (writer bytes, a caller view, writer bytes, a caller view, writer bytes) continuing the sequence. */
function pieces(out: OutputQueue, sizes: [number, number, number, number, number], from: number, release: () => void): number {
  const w = out.writer;
  const cuts: number[] = [];
  const caller: Uint8Array[] = [];
  let at = from;
  for (let k = 0; k < 5; k++) {
    if ((k & 1) === 0) {
      for (let i = 0; i < sizes[k]; i++) w.writeI8((at + i) & 0xff);
      cuts.push(w.length);
    } else {
      caller.push(seq(sizes[k], at));
    }
    at += sizes[k];
  }
  // Views of the writer from byte 0 (earlier committed bytes included), taken after it stopped growing.
  const all = w.finish();
  out.commitPieces([all.subarray(0, cuts[0]), caller[0], all.subarray(cuts[0], cuts[1]), caller[1], all.subarray(cuts[1], cuts[2])], release);
  return at;
}

function expectInOrder(taken: number[], total: number): void {
  expect(taken.length).toBe(total);
  for (let i = 0; i < total; i++) if (taken[i] !== (i & 0xff)) throw new Error(`byte ${i} is ${taken[i]}, expected ${i & 0xff}`);
}

describe("OutputQueue", () => {
  test("pieces go straight to the socket with what was pending before them; the caller's buffer is released at once", () => {
    const { socket, out } = setup();
    let at = plain(out, 100, 0);
    let released = 0;
    at = pieces(out, [10, 5000, 30, 7000, 4], at, () => released++);
    expect(released).toBe(1);
    expect(out.queuedBytes).toBe(0);
    expectInOrder(socket.taken, at);
    expect(out.writer.length).toBe(0);
  });

  test("a socket that takes bytes little by little: order kept across plain responses and pieces; release waits for the last caller byte", () => {
    const { socket, out } = setup();
    socket.room = 50;
    let at = plain(out, 120, 0);
    out.flush();
    let released = 0;
    at = pieces(out, [10, 300, 20, 400, 6], at, () => released++);
    // The writer is reused at once: overwrite what it held, the queue must have copied it.
    out.writer.writeI8(0xee);
    out.writer.reset();
    at = plain(out, 70, at);
    expect(released).toBe(0);
    let rounds = 0;
    while (out.queuedBytes > 0) {
      socket.room = 37;
      out.drain();
      if (++rounds > 1000) throw new Error("no progress");
      if (socket.taken.length < 120 + 10 + 300 + 20 + 400) expect(released).toBe(0);
    }
    expect(released).toBe(1);
    expectInOrder(socket.taken, at);
    expect(out.heldSegments).toBe(0);
  });

  test("a refused caller piece is kept as a view (not copied): later changes to the caller's buffer show", () => {
    const { socket, out } = setup();
    socket.room = 0;
    const w = out.writer;
    w.writeI8(1);
    const payload = new Uint8Array([2, 3, 4]);
    out.commitPieces([w.finish(), payload, new Uint8Array(0)], () => {});
    payload[2] = 9;
    socket.room = Infinity;
    out.drain();
    expect(socket.taken).toEqual([1, 2, 3, 9]);
  });

  test("close releases every caller buffer still held; nothing is written after it", () => {
    const { socket, out } = setup();
    socket.room = 3;
    let released = 0;
    pieces(out, [4, 100, 4, 100, 4], 0, () => released++);
    pieces(out, [4, 100, 4, 100, 4], 0, () => released++);
    expect(released).toBe(0);
    out.close();
    expect(released).toBe(2);
    const writes = socket.writes;
    out.drain();
    let late = 0;
    pieces(out, [4, 100, 4, 100, 4], 0, () => late++);
    expect(late).toBe(1);
    expect(socket.writes).toBe(writes);
  });

  test("a peer that does not read is cut off once the queued bytes pass the bound", () => {
    const { socket, out, overflows } = setup(10_000);
    socket.room = 100;
    let at = 0;
    // 2 × 4,030 bytes asked, 100 taken: within the bound.
    for (let i = 0; i < 2; i++) at = pieces(out, [10, 2000, 10, 2000, 10], at, () => {});
    expect(overflows()).toBe(0);
    expect(out.queuedBytes).toBe(2 * 4030 - 100);
    pieces(out, [10, 1100, 10, 1100, 10], at, () => {}); // 7,960 + 2,230 > 10,000
    expect(overflows()).toBe(1);
  });
});
