import { describe, expect, test } from "bun:test";
import { History, type HistoryEvent } from "./history.ts";
import { checkQueueHistory, summarizeQueueReport } from "./queue_checker.ts";

/** 10x the values may take at most this many times as long (linear: ~10; quadratic: ~100). */
const SCALING_RATIO_MAX = 35;

const P = "t/0";
const Q = "t/1";

/** A clean history: producer "a" sends v0..v(n-1) to P, all acked at offsets 0..n-1, consumer "c" reads them all. */
function clean(n: number): History {
  const h = new History();
  for (let i = 0; i < n; i++) h.send("a", P, `v${i}`);
  for (let i = 0; i < n; i++) h.ack("a", P, `v${i}`, i);
  h.seek("c", P, 0);
  h.poll("c", P, Array.from({ length: n }, (_, i) => ({ offset: i, value: `v${i}` })));
  h.watermark(P, n);
  return h;
}

describe("queue checker", () => {
  test("a clean history is valid, drained or not", () => {
    const h = clean(10);
    const r = checkQueueHistory(h.events, { drained: true });
    expect(summarizeQueueReport(r)).not.toContain("=1 e.g.");
    expect(r.valid).toBe(true);
    expect(r.counts).toMatchObject({ sent: 10, acked: 10, read: 10, lost: 0, unreadAcked: 0, polls: 1 });
  });

  test("lost: acked, never read, while a later offset was read", () => {
    const h = new History();
    for (const v of ["a", "b", "c"]) h.send("p", P, v);
    h.ack("p", P, "a", 0);
    h.ack("p", P, "b", 1);
    h.ack("p", P, "c", 2);
    h.poll("c1", P, [{ offset: 0, value: "a" }]);
    h.poll("c1", P, [{ offset: 2, value: "c" }]);
    const r = checkQueueHistory(h.events);
    expect(r.valid).toBe(false);
    expect(r.counts.lost).toBe(1);
    expect(r.lost).toEqual([{ value: "b", partition: P, ackOffset: 1, maxReadOffset: 2 }]);
    // The consumer also jumped from 0 to 2.
    expect(r.pollSkips).toEqual([{ consumer: "c1", partition: P, expected: 1, got: 2 }]);
  });

  test("acked but not read with nothing read past it is unread, not lost — unless the test drained", () => {
    const h = new History();
    h.send("p", P, "a");
    h.send("p", P, "b");
    h.ack("p", P, "a", 0);
    h.ack("p", P, "b", 1);
    h.poll("c", P, [{ offset: 0, value: "a" }]);
    const loose = checkQueueHistory(h.events);
    expect(loose.valid).toBe(true);
    expect(loose.counts.lost).toBe(0);
    expect(loose.unreadAcked).toEqual([{ value: "b", partition: P, ackOffset: 1 }]);
    const drained = checkQueueHistory(h.events, { drained: true });
    expect(drained.valid).toBe(false);
  });

  test("duplicated: one value read at two offsets", () => {
    const h = clean(3);
    h.poll("c", P, [{ offset: 3, value: "v1" }]);
    const r = checkQueueHistory(h.events);
    expect(r.valid).toBe(false);
    expect(r.duplicated.length).toBe(1);
    expect(r.duplicated[0]!.value).toBe("v1");
    expect([...new Set(r.duplicated[0]!.placements.map((p) => p.offset))].sort()).toEqual([1, 3]);
  });

  test("duplicated: a value read at an offset other than the one its ack named", () => {
    const h = new History();
    h.send("p", P, "x");
    h.ack("p", P, "x", 5);
    h.poll("c", P, [{ offset: 4, value: "x" }]);
    const r = checkQueueHistory(h.events);
    expect(r.duplicated.map((d) => d.value)).toEqual(["x"]);
  });

  test("duplicated across partitions", () => {
    const h = new History();
    h.send("p", P, "x");
    h.poll("c", P, [{ offset: 0, value: "x" }]);
    h.poll("c", Q, [{ offset: 0, value: "x" }]);
    const r = checkQueueHistory(h.events);
    expect(r.duplicated.length).toBe(1);
    expect(new Set(r.duplicated[0]!.placements.map((p) => p.partition))).toEqual(new Set([P, Q]));
  });

  test("inconsistent: one offset read with two values (e.g. before and after a crash)", () => {
    const h = new History();
    h.send("p", P, "a");
    h.send("p", P, "b");
    h.poll("c1", P, [{ offset: 0, value: "a" }]);
    h.poll("c2", P, [{ offset: 0, value: "b" }]);
    const r = checkQueueHistory(h.events);
    expect(r.valid).toBe(false);
    expect(r.inconsistent).toEqual([{ partition: P, offset: 0, values: ["a", "b"] }]);
  });

  test("inconsistent: an ack and a read disagree about what is at an offset", () => {
    const h = new History();
    h.send("p", P, "a");
    h.send("q", P, "b");
    h.ack("p", P, "a", 0);
    h.poll("c", P, [{ offset: 0, value: "b" }]);
    const r = checkQueueHistory(h.events);
    expect(r.inconsistent).toEqual([{ partition: P, offset: 0, values: ["a", "b"] }]);
    // "a" is acked and unread with nothing read past it: unread, not lost.
    expect(r.counts.lost).toBe(0);
  });

  test("reordered: one producer's values at offsets that fall in send order", () => {
    const h = new History();
    for (const v of ["a", "b", "c"]) h.send("p", P, v);
    h.send("other", P, "z");
    h.poll("c", P, [
      { offset: 0, value: "b" },
      { offset: 1, value: "a" },
      { offset: 2, value: "z" },
      { offset: 3, value: "c" },
    ]);
    const r = checkQueueHistory(h.events);
    expect(r.valid).toBe(false);
    expect(r.reordered).toEqual([{ producer: "p", partition: P, value: "b", offset: 0, sentAfter: "a", sentAfterOffset: 1 }]);
  });

  test("different producers interleaving is not reordering", () => {
    const h = new History();
    h.send("p", P, "a1");
    h.send("q", P, "b1");
    h.send("p", P, "a2");
    h.send("q", P, "b2");
    h.poll("c", P, [
      { offset: 0, value: "b1" },
      { offset: 1, value: "a1" },
      { offset: 2, value: "b2" },
      { offset: 3, value: "a2" },
    ]);
    expect(checkQueueHistory(h.events).valid).toBe(true);
  });

  test("reordering judged by ack offsets when values were not read", () => {
    const h = new History();
    h.send("p", P, "a");
    h.send("p", P, "b");
    h.ack("p", P, "b", 0);
    h.ack("p", P, "a", 1);
    const r = checkQueueHistory(h.events);
    expect(r.reordered.length).toBe(1);
    expect(r.reordered[0]!.value).toBe("b");
  });

  test("poll skip: a consumer jumps past an offset without a seek", () => {
    const h = clean(5);
    h.seek("d", P, 0);
    h.poll("d", P, [{ offset: 0, value: "v0" }, { offset: 1, value: "v1" }]);
    h.poll("d", P, [{ offset: 3, value: "v3" }, { offset: 4, value: "v4" }]);
    const r = checkQueueHistory(h.events);
    expect(r.pollSkips).toEqual([{ consumer: "d", partition: P, expected: 2, got: 3 }]);
    expect(r.nonMonotonicPolls).toEqual([]);
  });

  test("poll skip right after a seek: the first record must be at the seek offset", () => {
    const h = clean(5);
    h.seek("d", P, 2);
    h.poll("d", P, [{ offset: 3, value: "v3" }]);
    expect(checkQueueHistory(h.events).pollSkips).toEqual([{ consumer: "d", partition: P, expected: 2, got: 3 }]);
  });

  test("non-monotonic poll: a consumer goes back without a seek, and a seek makes it legal", () => {
    const h = clean(5);
    h.seek("d", P, 0);
    h.poll("d", P, [{ offset: 0, value: "v0" }, { offset: 1, value: "v1" }, { offset: 2, value: "v2" }]);
    h.poll("d", P, [{ offset: 1, value: "v1" }]);
    const r = checkQueueHistory(h.events);
    expect(r.nonMonotonicPolls).toEqual([{ consumer: "d", partition: P, expected: 3, got: 1 }]);

    const ok = clean(5);
    ok.seek("d", P, 0);
    ok.poll("d", P, [{ offset: 0, value: "v0" }, { offset: 1, value: "v1" }, { offset: 2, value: "v2" }]);
    ok.seek("d", P, 1); // restarted from a committed offset
    ok.poll("d", P, [{ offset: 1, value: "v1" }, { offset: 2, value: "v2" }]);
    expect(checkQueueHistory(ok.events).valid).toBe(true);
  });

  test("the same offset delivered twice within one poll is non-monotonic", () => {
    const h = clean(3);
    h.seek("d", P, 0);
    h.poll("d", P, [{ offset: 0, value: "v0" }, { offset: 0, value: "v0" }]);
    expect(checkQueueHistory(h.events).nonMonotonicPolls.length).toBe(1);
  });

  test("unexpected: a value read that nobody sent (corrupt bytes served as data)", () => {
    const h = clean(2);
    h.poll("c", P, [{ offset: 2, value: "v\u0000garbage" }]);
    const r = checkQueueHistory(h.events);
    expect(r.unexpected).toEqual([{ value: "v\u0000garbage", partition: P, offset: 2 }]);
    expect(r.valid).toBe(false);
  });

  test("a definite failure read anyway is an anomaly; an indeterminate one is recovered", () => {
    const h = new History();
    h.send("p", P, "a");
    h.send("p", P, "b");
    h.fail("p", P, "a", true);
    h.fail("p", P, "b", false);
    h.poll("c", P, [{ offset: 0, value: "a" }, { offset: 1, value: "b" }]);
    const r = checkQueueHistory(h.events);
    expect(r.failedButPresent).toEqual([{ value: "a", partition: P, offset: 0 }]);
    expect(r.counts.recovered).toBe(1);
    expect(r.counts).toMatchObject({ failedDefinite: 1, failedIndeterminate: 1 });
  });

  test("watermark regression: a high watermark seen lower than before", () => {
    const h = clean(3);
    h.watermark(P, 2);
    const r = checkQueueHistory(h.events);
    expect(r.watermarkRegressions).toEqual([{ partition: P, from: 3, to: 2 }]);
  });

  test("drained: an offset below the high watermark nobody read (a hole after restart)", () => {
    const h = new History();
    for (let i = 0; i < 4; i++) h.send("p", P, `v${i}`);
    h.seek("c", P, 0);
    h.poll("c", P, [{ offset: 0, value: "v0" }, { offset: 1, value: "v1" }]);
    h.seek("c", P, 3); // a buggy consumer seeks past 2
    h.poll("c", P, [{ offset: 3, value: "v3" }]);
    h.watermark(P, 4);
    const r = checkQueueHistory(h.events, { drained: true });
    expect(r.unreadBelowHighWatermark).toEqual([{ partition: P, highWatermark: 4, missing: 1, firstMissing: 2 }]);
    expect(checkQueueHistory(h.events).unreadBelowHighWatermark).toEqual([]);
  });

  test("drained check starts at the log start offset a response reported", () => {
    const h = new History();
    h.send("p", P, "v5");
    h.seek("c", P, 5);
    h.poll("c", P, [{ offset: 5, value: "v5" }]);
    h.watermark(P, 6, 5);
    expect(checkQueueHistory(h.events, { drained: true }).valid).toBe(true);
  });

  test("a malformed history is refused, not judged", () => {
    const dup: HistoryEvent[] = [
      { kind: "send", producer: "p", partition: P, value: "a", atMs: 0 },
      { kind: "send", producer: "p", partition: P, value: "a", atMs: 1 },
    ];
    expect(() => checkQueueHistory(dup)).toThrow(/sent twice/);
    expect(() => checkQueueHistory([{ kind: "ack", producer: "p", partition: P, value: "zz", offset: 0, atMs: 0 }])).toThrow(
      /never sent/,
    );
  });

  test("summary names each anomaly with its count", () => {
    const h = clean(3);
    h.poll("x", P, [{ offset: 1, value: "other" }]);
    const s = summarizeQueueReport(checkQueueHistory(h.events));
    expect(s).toContain("inconsistent=1");
    expect(s).toContain("unexpected=1");
  });

  test("scales linearly: 10x the values takes nowhere near 100x the time", () => {
    // A ratio measured in one run, not a time limit: a loaded machine slows both
    // sizes alike, while an accidental quadratic pass makes the ratio ~100.
    // Best of three for each size, so one collection pause does not decide it.
    const bestMs = (n: number): number => {
      const h = clean(n);
      let best = Infinity;
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        const r = checkQueueHistory(h.events, { drained: true });
        best = Math.min(best, performance.now() - t0);
        expect(r.valid).toBe(true);
        expect(r.counts.read).toBe(n);
      }
      return best;
    };
    const small = bestMs(20_000);
    const large = bestMs(200_000);
    console.log(`queue checker: 20,000 values ${small.toFixed(1)} ms, 200,000 values ${large.toFixed(1)} ms (ratio ${(large / small).toFixed(1)})`);
    expect(large / small).toBeLessThan(SCALING_RATIO_MAX);
  }, 60_000);
});
