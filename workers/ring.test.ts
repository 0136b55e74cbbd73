import { describe, expect, test } from "bun:test";
import { RingConsumer, RingProducer, createRing } from "./ring.ts";
import { EntryKind, RING_HEADER_BYTES, RingWord, entryBytes } from "./shared_layout.ts";
import { patternByte } from "./testing/ring_pattern.ts";

function fill(p: RingProducer, at: number, seq: number, n: number): void {
  for (let i = 0; i < n; i++) p.bytes[at + i] = patternByte(seq, i);
}

function check(c: RingConsumer, seq: number): void {
  for (let i = 0; i < c.length; i++) {
    if (c.bytes[c.offset + i] !== patternByte(seq, i)) throw new Error(`entry ${seq} byte ${i} differs`);
  }
}

/** Move an empty ring's head and tail to byte `position` with empty filler entries. */
function advanceTo(p: RingProducer, c: RingConsumer, position: number): void {
  for (let at = 0; at < position; at += 8) {
    p.reserve(1, 0);
    p.commit();
  }
  p.publish();
  while (c.read() !== -1) c.advance();
  c.release();
  expect(p.bytesUsed()).toBe(0);
}

describe("ring, one thread", () => {
  test("rejects capacities that are not a power of two", () => {
    expect(() => createRing(100)).toThrow(RangeError);
    expect(() => createRing(32)).toThrow(RangeError);
    expect(() => new RingConsumer(new SharedArrayBuffer(RING_HEADER_BYTES + 64))).toThrow(/magic/);
  });

  test("entries become visible only on publish, and in order", () => {
    const sab = createRing(1024);
    const p = new RingProducer(sab);
    const c = new RingConsumer(sab);
    for (let seq = 0; seq < 3; seq++) {
      const at = p.reserve(5, 10 + seq);
      fill(p, at, seq, 10 + seq);
      p.commit();
    }
    expect(c.read()).toBe(-1);
    expect(p.unpublished).toBe(true);
    p.publish();
    expect(p.unpublished).toBe(false);
    for (let seq = 0; seq < 3; seq++) {
      expect(c.read()).toBe(5);
      expect(c.length).toBe(10 + seq);
      expect(c.offset % 8).toBe(0);
      check(c, seq);
      c.advance();
    }
    expect(c.read()).toBe(-1);
  });

  test("full: reserve fails without side effects, and space returns only on release", () => {
    const sab = createRing(256);
    const p = new RingProducer(sab);
    const c = new RingConsumer(sab);
    // 8 entries of 32 bytes (8 header + 24 payload) fill 256 exactly.
    for (let i = 0; i < 8; i++) {
      expect(p.reserve(1, 24)).toBeGreaterThanOrEqual(0);
      p.commit();
    }
    expect(p.canReserve(0)).toBe(false);
    expect(p.reserve(1, 0)).toBe(-1);
    p.publish();
    expect(c.bytesUsed()).toBe(256);
    expect(c.read()).toBe(1);
    c.advance();
    // Advanced but not released: the producer still sees a full ring.
    expect(p.reserve(1, 24)).toBe(-1);
    c.release();
    expect(p.reserve(1, 24)).toBeGreaterThanOrEqual(0);
    p.commit();
    p.publish();
    let n = 0;
    while (c.read() !== -1) {
      c.advance();
      n++;
    }
    c.release();
    expect(n).toBe(8);
    expect(p.bytesUsed()).toBe(0);
  });

  test("wrap-around at every alignment keeps every payload intact", () => {
    const capacity = 512;
    // For every entry size and every 8-byte start position, write two entries and read
    // them back: covers "fits exactly before the end", "needs a WRAP marker" and "the
    // marker itself is the last 8 bytes".
    let wraps = 0;
    for (let payload = 0; payload <= 96; payload++) {
      for (let start = 0; start < capacity; start += 8) {
        const sab = createRing(capacity);
        const p = new RingProducer(sab);
        const c = new RingConsumer(sab);
        advanceTo(p, c, start);
        for (let seq = 0; seq < 2; seq++) {
          const at = p.reserve(3, payload);
          expect(at).toBeGreaterThanOrEqual(0);
          expect(at + payload).toBeLessThanOrEqual(capacity);
          fill(p, at, seq, payload);
          p.commit();
        }
        if (p.bytesUsed() > 2 * entryBytes(payload)) wraps++;
        p.publish();
        for (let seq = 0; seq < 2; seq++) {
          expect(c.read()).toBe(3);
          expect(c.length).toBe(payload);
          check(c, seq);
          c.advance();
        }
        expect(c.read()).toBe(-1);
      }
    }
    expect(wraps).toBeGreaterThan(1000);
  });

  test("the largest entry fits an empty ring wherever its position is", () => {
    const capacity = 256;
    for (let start = 0; start < capacity; start += 8) {
      const sab = createRing(capacity);
      const p = new RingProducer(sab);
      const c = new RingConsumer(sab);
      advanceTo(p, c, start);
      const at = p.reserve(2, p.payloadBytesMax);
      expect(at).toBeGreaterThanOrEqual(0);
      fill(p, at, 7, p.payloadBytesMax);
      p.commit();
      p.publish();
      expect(c.read()).toBe(2);
      expect(c.length).toBe(p.payloadBytesMax);
      check(c, 7);
    }
    const p = new RingProducer(createRing(capacity));
    expect(() => p.reserve(1, p.payloadBytesMax + 1)).toThrow(RangeError);
    expect(p.canReserve(p.payloadBytesMax + 1)).toBe(false);
  });

  test("commit may shrink a reservation; the next entry follows the shrunk one", () => {
    const sab = createRing(256);
    const p = new RingProducer(sab);
    const c = new RingConsumer(sab);
    const at = p.reserve(4, 100);
    fill(p, at, 1, 10);
    p.commit(10);
    const at2 = p.reserve(4, 3);
    expect(at2).toBe(at + entryBytes(10));
    p.commit();
    expect(() => p.commit()).toThrow();
    p.publish();
    expect(c.read()).toBe(4);
    expect(c.length).toBe(10);
    check(c, 1);
    c.advance();
    expect(c.read()).toBe(4);
    expect(c.length).toBe(3);
    expect(() => {
      p.reserve(4, 8);
      p.commit(9);
    }).toThrow(RangeError);
  });

  test("positions wrap past 2^32 without losing track of used bytes", () => {
    const sab = createRing(128);
    const ctrl = new Int32Array(sab, 0, 8);
    const start = (2 ** 32 - 40) | 0;
    ctrl[RingWord.HEAD] = start;
    Atomics.store(new Int32Array(sab, 0, RING_HEADER_BYTES / 4), RingWord.TAIL, start);
    const p = new RingProducer(sab);
    const c = new RingConsumer(sab);
    for (let seq = 0; seq < 100; seq++) {
      const at = p.reserve(9, 20);
      expect(at).toBeGreaterThanOrEqual(0);
      fill(p, at, seq, 20);
      p.commit();
      p.publish();
      expect(c.read()).toBe(9);
      check(c, seq);
      c.advance();
      c.release();
      expect(p.bytesUsed()).toBe(0);
    }
    expect(Atomics.load(new Int32Array(sab, 0, RING_HEADER_BYTES / 4), RingWord.TAIL) >>> 0).toBeLessThan(2 ** 31);
  });

  test("WRAP is not a kind a caller may write", () => {
    const p = new RingProducer(createRing(128));
    expect(() => p.reserve(EntryKind.WRAP, 0)).toThrow(RangeError);
  });

  test("waitForData resolves on publish, and times out when nothing comes", async () => {
    const sab = createRing(256);
    const p = new RingProducer(sab);
    const c = new RingConsumer(sab);
    expect(await c.waitForData(5)).toBe("timed-out");
    const waiting = c.waitForData(10_000);
    p.reserve(1, 4);
    p.commit();
    p.publish();
    expect(await waiting).toBe("ready");
  });
});

describe("ring, waking", () => {
  test("publishTail makes entries visible without a wake; notifyIfWaiting wakes a parked consumer once", async () => {
    const sab = createRing(256);
    const p = new RingProducer(sab);
    const c = new RingConsumer(sab);
    const seen: { outcome: string | null } = { outcome: null };
    const waiting = c.waitForData(10_000).then((o) => (seen.outcome = o));
    p.reserve(1, 4);
    p.commit();
    expect(p.unpublishedBytes).toBe(16);
    expect(p.publishTail()).toBe(true);
    expect(p.unpublished).toBe(false);
    expect(p.unpublishedBytes).toBe(0);
    expect(c.hasData()).toBe(true);
    // A full event-loop turn later the parked consumer has still not been woken.
    await new Promise((r) => setImmediate(r));
    expect(seen.outcome).toBeNull();
    expect(p.notifyIfWaiting()).toBe(true);
    await waiting;
    expect(seen.outcome).toBe("ready");
    // One wake per publication: nothing new since, so no second notify.
    expect(p.notifyIfWaiting()).toBe(false);
    expect(p.publishTail()).toBe(false);
  });

  test("a publish that adds nothing wakes nobody; a running consumer is not notified", async () => {
    const sab = createRing(256);
    const p = new RingProducer(sab);
    const c = new RingConsumer(sab);
    p.reserve(1, 4);
    p.commit();
    // Consumer not parked (its WAITING word is down): the tail is stored, no notify.
    expect(p.publishTail()).toBe(true);
    expect(p.notifyIfWaiting()).toBe(false);
    expect(c.read()).toBe(1);
    c.advance();
    c.release();
    const waiting = c.waitForData(30);
    p.publish();
    expect(await waiting).toBe("timed-out");
  });

  test("release wakes a producer parked for room only when it gave space back", async () => {
    const sab = createRing(256);
    const p = new RingProducer(sab);
    const c = new RingConsumer(sab);
    for (let i = 0; i < 8; i++) {
      p.reserve(1, 24);
      p.commit();
    }
    p.publish();
    const idle = p.waitForRoom(24, 30);
    c.release();
    expect(await idle).toBe("timed-out");
    const waiting = p.waitForRoom(24, 10_000);
    expect(c.read()).toBe(1);
    c.advance();
    c.release();
    expect(await waiting).toBe("ready");
    expect(p.canReserve(24)).toBe(true);
  });
});

describe("ring, room for several entries", () => {
  test("canReserveMany counts whole entries and the skip at the end, and agrees with reserve", () => {
    const sab = createRing(256);
    const p = new RingProducer(sab);
    const c = new RingConsumer(sab);
    expect(p.canReserveMany(0, 24)).toBe(true);
    expect(p.canReserveMany(8, 24)).toBe(true);
    expect(p.canReserveMany(9, 24)).toBe(false);
    expect(p.canReserveMany(1, p.payloadBytesMax + 1)).toBe(false);
    // 16 bytes before the end: entries of 32 bytes skip them once.
    advanceTo(p, c, 240);
    expect(p.canReserveMany(7, 24)).toBe(true);
    expect(p.canReserveMany(8, 24)).toBe(false);
    for (let i = 0; i < 7; i++) {
      expect(p.reserve(1, 24)).toBeGreaterThanOrEqual(0);
      p.commit();
    }
    expect(p.reserve(1, 24)).toBe(-1);
    expect(p.canReserveMany(1, 24)).toBe(false);
    // Smaller entries fit where the larger ones were counted: 7 x 16-byte payloads from 240 again.
    p.publish();
    while (c.read() !== -1) c.advance();
    c.release();
    expect(p.canReserveMany(7, 24)).toBe(true);
    for (let i = 0; i < 7; i++) {
      expect(p.reserve(1, 16)).toBeGreaterThanOrEqual(0);
      p.commit();
    }
  });
});

describe("ring, early wrap", () => {
  /** Reserve, fill and commit one entry of `n` bytes; returns its payload index. */
  function put(p: RingProducer, seq: number, n: number): number {
    const at = p.reserve(1, n);
    if (at === -1) throw new Error(`entry ${seq}: no room`);
    fill(p, at, seq, n);
    p.commit();
    return at;
  }

  test("with the consumer caught up, the producer goes back to the start past rewindAtBytes: the same entries, fewer bytes touched", () => {
    const sab = createRing(4096);
    const p = new RingProducer(sab, { rewindAtBytes: 512 });
    const c = new RingConsumer(sab);
    let highest = 0;
    for (let seq = 0; seq < 500; seq++) {
      const at = put(p, seq, 56);
      highest = Math.max(highest, at);
      p.publish();
      expect(c.read()).toBe(1);
      expect(c.length).toBe(56);
      check(c, seq);
      c.advance();
      c.release();
    }
    // 500 entries of 64 bytes are ~8 laps of a 4 KiB ring; all of them stayed in its first 576 bytes.
    expect(highest).toBeLessThan(512 + 64);
    expect(p.rewinds).toBeGreaterThanOrEqual(60);
    // Without it (rewindAtBytes 0) the same load runs every lap to the end.
    const plain = new RingProducer(createRing(4096), { rewindAtBytes: 0 });
    expect(plain.rewindAtBytes).toBe(0);
  });

  test("no early wrap while the consumer is more than half of rewindAtBytes behind", () => {
    // A ring with room for the skip: only the backlog rule keeps the producer going on.
    const sab = createRing(16384);
    const p = new RingProducer(sab, { rewindAtBytes: 2048 });
    const c = new RingConsumer(sab);
    // The consumer stays 20 entries (1,280 bytes > 1,024) behind while the producer passes 2048 and goes on to 4096.
    let read = 0;
    for (let seq = 0; seq < 64; seq++) {
      expect(put(p, seq, 56)).toBe(seq * 64 + 8);
      p.publish();
      while (seq - read >= 20) {
        expect(c.read()).toBe(1);
        check(c, read++);
        c.advance();
      }
      c.release();
    }
    expect(p.rewinds).toBe(0);
    // Caught up: the next entry wraps early.
    while (c.read() !== -1) {
      check(c, read++);
      c.advance();
    }
    c.release();
    expect(put(p, 64, 56)).toBe(8);
    expect(p.rewinds).toBe(1);
  });

  test("room canReserveMany reported stays reservable: no early wrap that would take it", () => {
    const sab = createRing(4096);
    const c = new RingConsumer(sab);
    advanceTo(new RingProducer(sab, { rewindAtBytes: 0 }), c, 1024);
    const p2 = new RingProducer(sab, { rewindAtBytes: 1024 });
    // The whole ring is promised: a skip of the 3 KiB to the end would leave 1 KiB.
    expect(p2.canReserveMany(64, 56)).toBe(true);
    for (let seq = 0; seq < 64; seq++) put(p2, seq, 56);
    expect(p2.rewinds).toBe(0);
    expect(p2.reserve(1, 0)).toBe(-1);
    // A smaller promise leaves room for the skip: the early wrap is taken, and the promise kept.
    p2.publish();
    while (c.read() !== -1) c.advance();
    c.release();
    expect(p2.bytesUsed()).toBe(0);
    advanceTo(new RingProducer(sab, { rewindAtBytes: 0 }), c, 1024);
    const p3 = new RingProducer(sab, { rewindAtBytes: 1024 });
    expect(p3.canReserveMany(12, 56)).toBe(true);
    expect(put(p3, 0, 56)).toBe(8);
    expect(p3.rewinds).toBe(1);
    for (let seq = 1; seq < 12; seq++) put(p3, seq, 56);
  });

  test("a promise longer than rewindAtBytes survives an early wrap inside it", () => {
    const sab = createRing(16384);
    const c = new RingConsumer(sab);
    advanceTo(new RingProducer(sab, { rewindAtBytes: 0 }), c, 4096);
    const p = new RingProducer(sab, { rewindAtBytes: 1024 });
    // 48 entries of 64 bytes (3 KiB, longer than rewindAtBytes), promised at index 4096.
    expect(p.canReserveMany(48, 56)).toBe(true);
    // The first one wraps early (the skip and all 48 fit), then the consumer keeps up to index 1024...
    let seq = 0;
    for (; seq < 16; seq++) {
      put(p, seq, 56);
      p.publish();
      expect(c.read()).toBe(1);
      check(c, seq);
      c.advance();
      c.release();
    }
    expect(p.rewinds).toBe(1);
    // ...and stops. At index 1024 a second early wrap would leave 1 KiB for the 2 KiB still promised.
    for (; seq < 48; seq++) put(p, seq, 56);
    expect(p.rewinds).toBe(1);
    p.publish();
    for (let k = 16; k < 48; k++) {
      expect(c.read()).toBe(1);
      check(c, k);
      c.advance();
    }
    expect(c.read()).toBe(-1);
  });

  test("rewindAtBytes must be a non-negative integer; at half the capacity or more it is off", () => {
    expect(() => new RingProducer(createRing(4096), { rewindAtBytes: -1 })).toThrow(RangeError);
    expect(new RingProducer(createRing(4096), { rewindAtBytes: 2048 }).rewindAtBytes).toBe(0);
    expect(new RingProducer(createRing(4096), { rewindAtBytes: 1024 }).rewindAtBytes).toBe(1024);
  });
});

describe("ring, across threads", () => {
  test("a worker consumes 2M entries of varying size intact and answers each in order (both rings wrapping early)", async () => {
    const count = 2_000_000;
    const requests = createRing(1 << 20);
    const replies = createRing(1 << 16);
    const worker = new Worker(new URL("./testing/ring_echo_worker.ts", import.meta.url).href, { type: "module" });
    const done = new Promise<{ errors: number }>((resolve, reject) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.onerror = (e) => reject(e);
    });
    worker.postMessage({ requests, replies, count, rewindAtBytes: 4096 });
    // At most 512 entries (< 110 KB) unanswered: the consumer is always within half of
    // rewindAtBytes behind, so every lap past it must wrap early.
    const p = new RingProducer(requests, { rewindAtBytes: 256 * 1024 });
    const c = new RingConsumer(replies);
    let sent = 0;
    let answered = 0;
    let badReplies = 0;
    const started = performance.now();
    while (answered < count) {
      // Produce a batch (sizes 0..199 bytes: every alignment, many wraps).
      let batch = 0;
      while (sent < count && batch < 256 && sent - answered < 512) {
        const n = (sent * 13) % 200;
        const at = p.reserve(sent + 1, n);
        if (at === -1) break;
        for (let i = 0; i < n; i++) p.bytes[at + i] = patternByte(sent, i);
        p.commit();
        sent++;
        batch++;
      }
      p.publish();
      let got = 0;
      while (c.read() !== -1) {
        const base = c.offset >>> 2;
        const seq = c.u32[base];
        const length = c.u32[base + 2];
        let checksum = 0;
        for (let i = 0; i < length; i++) checksum = (checksum * 33 + patternByte(seq, i)) >>> 0;
        if (seq !== answered || length !== (seq * 13) % 200 || c.u32[base + 1] !== checksum || c.u32[base + 3] !== 0) badReplies++;
        c.advance();
        answered++;
        got++;
      }
      c.release();
      if (got === 0 && (batch === 0 || sent === count)) await c.waitForData(1000);
    }
    const seconds = (performance.now() - started) / 1000;
    const result = await done;
    await worker.terminate();
    expect(result.errors).toBe(0);
    expect(badReplies).toBe(0);
    expect(answered).toBe(count);
    // ~200 MB through a 1 MiB ring: hundreds of laps, each ending with an early wrap.
    expect(p.rewinds).toBeGreaterThan(100);
    console.error(`ring round trip: ${count} entries in ${seconds.toFixed(2)} s (${Math.round(count / seconds / 1000)}k/s)`);
    // Keep both buffers referenced until the worker has ended (docs/RUNTIME.md).
    expect(requests.byteLength + replies.byteLength).toBeGreaterThan(0);
  }, 60_000);
});
