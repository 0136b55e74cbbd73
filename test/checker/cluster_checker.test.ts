import { describe, expect, test } from "bun:test";
import { checkClusterHistory, summarizeClusterReport } from "./cluster_checker.ts";
import { type ClusterHistory, ClusterHistoryRecorder } from "./cluster_history.ts";

const T = "t";

/** Keys k0/k1 alternating, values v0..v(n-1) to partition 0, all acked at 0..n-1; a consumer and the final read hold them all. */
function clean(n: number): ClusterHistoryRecorder {
  const h = new ClusterHistoryRecorder();
  for (let i = 0; i < n; i++) h.sent(`v${i}`, `k${i % 2}`, T, 0);
  for (let i = 0; i < n; i++) h.acked(`v${i}`, 0, i);
  for (let i = 0; i < n; i++) h.read("c", T, 0, i, `v${i}`);
  for (let i = 0; i < n; i++) h.final(T, 0, i, `v${i}`);
  return h;
}

/** A history with its final read replaced. */
function withFinal(h: ClusterHistory, finalRead: [number, string][], partition = 0): ClusterHistory {
  return { ...h, finalRead: finalRead.map(([offset, value]) => ({ consumer: "final", topic: T, partition, offset, value })) };
}

describe("cluster checker", () => {
  test("a clean history is valid, every count zero", () => {
    const r = checkClusterHistory(clean(10).history());
    expect(r.valid).toBe(true);
    expect(r.counts).toEqual({
      produced: 10,
      acked: 10,
      read: 10,
      finalRecords: 10,
      ackedLost: 0,
      ackedMoved: 0,
      conflicts: 0,
      readThenMissing: 0,
      orderViolations: 0,
      unexpected: 0,
      finalGaps: 0,
      duplicates: 0,
      recovered: 0,
      redeliveries: 0,
    });
    expect(summarizeClusterReport(r).split("\n")).toHaveLength(1);
  });

  test("acked and lost: an acked record the final read does not hold (the new leader's log lacks it)", () => {
    const h = new ClusterHistoryRecorder();
    for (const v of ["a", "b", "c"]) h.sent(v, "k", T, 0);
    h.acked("a", 0, 0);
    h.acked("b", 0, 1);
    // c was never acked: its absence is not a loss.
    h.final(T, 0, 0, "a");
    const r = checkClusterHistory(h.history());
    expect(r.valid).toBe(false);
    expect(r.counts.ackedLost).toBe(1);
    expect(r.ackedLost).toEqual([{ value: "b", at: { topic: T, partition: 0, offset: 1 } }]);
    expect(summarizeClusterReport(r)).toContain("ackedLost=1");
  });

  test("an acked record found at another offset than its ack named is ackedMoved", () => {
    const h = new ClusterHistoryRecorder();
    h.sent("a", "k", T, 0);
    h.sent("b", "k", T, 0);
    h.acked("a", 0, 0);
    h.acked("b", 0, 1);
    h.final(T, 0, 0, "a");
    h.final(T, 0, 1, "x-unacked-stranger");
    h.final(T, 0, 2, "b");
    const r = checkClusterHistory(h.history());
    expect(r.valid).toBe(false);
    expect(r.counts.ackedLost).toBe(0);
    expect(r.ackedMoved).toEqual([{ value: "b", acked: { topic: T, partition: 0, offset: 1 }, found: [{ topic: T, partition: 0, offset: 2 }] }]);
    // Offset 1 was acked as b and is read as the stranger: a conflict too, and the stranger was never produced.
    expect(r.conflicts).toEqual([{ at: { topic: T, partition: 0, offset: 1 }, values: ["b", "x-unacked-stranger"] }]);
    expect(r.counts.unexpected).toBe(1);
  });

  test("an offset read with two different records: a consumer read one value, the final read holds another there", () => {
    const base = clean(4).history();
    const w = { value: "w", key: "k9", topic: T, partition: 0, acked: false, offset: undefined };
    // After a leader change the new leader holds w at offset 2, where a consumer had read v2 (which also vanished).
    const r = checkClusterHistory(withFinal({ ...base, produced: [...base.produced, w] }, [[0, "v0"], [1, "v1"], [2, "w"], [3, "v3"]]));
    expect(r.valid).toBe(false);
    expect(r.conflicts).toEqual([{ at: { topic: T, partition: 0, offset: 2 }, values: ["v2", "w"] }]);
    expect(r.counts.ackedLost).toBe(1);
    expect(r.readThenMissing).toEqual([{ value: "v2", consumer: "c", at: { topic: T, partition: 0, offset: 2 } }]);
  });

  test("two consumers reading one offset as two values is a conflict even without a final read there", () => {
    const h = new ClusterHistoryRecorder();
    h.sent("a", "k", T, 0);
    h.sent("b", "k", T, 0);
    h.read("c1", T, 0, 0, "a");
    h.read("c2", T, 0, 0, "b");
    h.final(T, 0, 0, "a");
    h.final(T, 0, 1, "b");
    const r = checkClusterHistory(h.history());
    expect(r.valid).toBe(false);
    expect(r.counts.conflicts).toBe(1);
    expect(r.conflicts[0].values).toEqual(["a", "b"]);
  });

  test("a record a consumer read and the final read lacks is readThenMissing, even unacked", () => {
    const h = new ClusterHistoryRecorder();
    h.sent("a", "k", T, 0);
    h.sent("b", "k", T, 0); // never acked (the producer saw a timeout), but a consumer read it: it was committed
    h.acked("a", 0, 0);
    h.read("c", T, 0, 0, "a");
    h.read("c", T, 0, 1, "b");
    h.final(T, 0, 0, "a");
    const r = checkClusterHistory(h.history());
    expect(r.valid).toBe(false);
    expect(r.counts.ackedLost).toBe(0);
    expect(r.readThenMissing).toEqual([{ value: "b", consumer: "c", at: { topic: T, partition: 0, offset: 1 } }]);
  });

  test("per-key order: a key's later record at a lower offset than an earlier one; other keys interleave freely", () => {
    const h = new ClusterHistoryRecorder();
    // Sent: a1 (key a), b1 (key b), a2 (key a), b2 (key b).
    for (const [v, k] of [["a1", "a"], ["b1", "b"], ["a2", "a"], ["b2", "b"]]) h.sent(v, k, T, 0);
    // In the log: b2 before b1 (violation for key b); a1 before a2 (fine); keys interleaved (fine).
    for (const [o, v] of [[0, "a1"], [1, "b2"], [2, "a2"], [3, "b1"]] as const) {
      h.acked(v, 0, o);
      h.final(T, 0, o, v);
    }
    const r = checkClusterHistory(h.history());
    expect(r.valid).toBe(false);
    expect(r.orderViolations).toEqual([{ key: "b", topic: T, partition: 0, value: "b1", offset: 3, sentBefore: "b2", sentBeforeOffset: 1 }]);
  });

  test("a retried duplicate later in the log is a duplicate, not an order violation; duplicates alone keep the report valid", () => {
    const h = new ClusterHistoryRecorder();
    for (const v of ["a", "b", "c"]) h.sent(v, "k", T, 0);
    h.acked("a", 0, 0);
    h.acked("b", 0, 1);
    h.acked("c", 0, 3);
    for (const [o, v] of [[0, "a"], [1, "b"], [2, "a"], [3, "c"]] as const) h.final(T, 0, o, v);
    const r = checkClusterHistory(h.history());
    expect(r.counts.orderViolations).toBe(0);
    expect(r.counts.duplicates).toBe(1);
    expect(r.duplicates).toEqual([{ value: "a", places: [{ topic: T, partition: 0, offset: 0 }, { topic: T, partition: 0, offset: 2 }] }]);
    expect(r.valid).toBe(true);
    expect(summarizeClusterReport(r)).toContain("duplicates=1");
  });

  test("an unacked record present at the end counts as recovered; a consumer delivering an offset again counts as a redelivery", () => {
    const h = new ClusterHistoryRecorder();
    h.sent("a", "k", T, 0);
    h.sent("b", "k", T, 0);
    h.acked("a", 0, 0);
    h.read("c", T, 0, 0, "a");
    h.read("c", T, 0, 1, "b");
    h.read("c", T, 0, 0, "a"); // the group moved: re-read from its committed offset
    h.final(T, 0, 0, "a");
    h.final(T, 0, 1, "b");
    const r = checkClusterHistory(h.history());
    expect(r.valid).toBe(true);
    expect(r.counts.recovered).toBe(1);
    expect(r.counts.redeliveries).toBe(1);
    expect(r.counts.duplicates).toBe(0);
  });

  test("a value nobody produced is unexpected; a hole in the final read is a gap", () => {
    const h = clean(5).history();
    const r = checkClusterHistory(withFinal(h, [[0, "v0"], [1, "v1"], [3, "v3"], [4, "v4"], [5, "garbage"]]));
    expect(r.valid).toBe(false);
    expect(r.finalGaps).toEqual([{ topic: T, partition: 0, missingFrom: 2, missingTo: 2 }]);
    expect(r.unexpected).toEqual([{ value: "garbage", at: { topic: T, partition: 0, offset: 5 } }]);
  });

  test("partitions are judged apart: the same offset in two partitions holds different values without conflict", () => {
    const h = new ClusterHistoryRecorder();
    h.sent("a", "k", T, 0);
    h.sent("b", "j", T, 1);
    h.acked("a", 0, 0);
    h.acked("b", 1, 0);
    h.final(T, 0, 0, "a");
    h.final(T, 1, 0, "b");
    expect(checkClusterHistory(h.history()).valid).toBe(true);
  });

  test("bad histories are refused: a value sent twice, an ack of something never sent", () => {
    const h = new ClusterHistoryRecorder();
    h.sent("a", "k", T, 0);
    expect(() => h.sent("a", "k", T, 0)).toThrow(/sent twice/);
    expect(() => h.acked("zz", 0, 0)).toThrow(/never sent/);
    h.acked("a", 0, 0);
    expect(() => h.acked("a", 0, 0)).toThrow(/acked twice/);
  });

  test("linear in the history: 200,000 records check in well under the test's time", () => {
    const r = checkClusterHistory(clean(200_000).history());
    expect(r.valid).toBe(true);
    expect(r.counts.finalRecords).toBe(200_000);
  });
});
