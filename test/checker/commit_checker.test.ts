import { describe, expect, test } from "bun:test";
import { checkCommits, type CommitEvent } from "./commit_checker.ts";

const P = "t/0";
const commit = (offset: number, atMs: number, member = "m1"): CommitEvent => ({
  kind: "commitAck",
  group: "g",
  member,
  partition: P,
  offset,
  atMs,
});
const read = (offset: number, requestedAtMs: number, atMs = requestedAtMs + 1): CommitEvent => ({
  kind: "committedRead",
  group: "g",
  partition: P,
  offset,
  requestedAtMs,
  atMs,
});
const hw = (highWatermark: number, atMs: number): CommitEvent => ({ kind: "watermark", partition: P, highWatermark, atMs });

describe("commit checker", () => {
  test("commits moving forward, reads agreeing, all below the high watermark: valid", () => {
    const r = checkCommits([hw(100, 0), commit(10, 1), commit(20, 2), read(20, 3), commit(20, 4), read(20, 5)]);
    expect(r.valid).toBe(true);
    expect(r.counts).toEqual({ commits: 3, reads: 2 });
  });

  test("an acked commit lower than an earlier acked one is a regression", () => {
    const r = checkCommits([hw(100, 0), commit(30, 1, "m1"), commit(25, 2, "m2")]);
    expect(r.commitRegressions).toEqual([{ group: "g", partition: P, member: "m2", from: 30, to: 25 }]);
    expect(r.valid).toBe(false);
  });

  test("after a crash the fetched offset is lower than a commit acked before: an acked commit was lost", () => {
    const r = checkCommits([hw(100, 0), commit(40, 1), read(35, 10)]);
    expect(r.readRegressions).toEqual([{ group: "g", partition: P, from: 40, to: 35, atMs: 11 }]);
  });

  test("a commit acked after the fetch was sent does not bind that fetch", () => {
    const r = checkCommits([hw(100, 0), commit(40, 1), read(40, 2), commit(50, 5), read(40, 4, 6)]);
    expect(r.valid).toBe(true);
  });

  test("fetched offsets going backwards between two fetches", () => {
    const r = checkCommits([hw(100, 0), read(60, 1), read(50, 3)]);
    expect(r.readRegressions.length).toBe(1);
  });

  test("a committed offset past the highest high watermark ever seen", () => {
    const r = checkCommits([hw(10, 0), commit(11, 1), read(12, 2)]);
    expect(r.pastHighWatermark.map((x) => x.offset)).toEqual([11, 12]);
    expect(r.valid).toBe(false);
  });

  test("committing exactly the high watermark (everything read) is allowed", () => {
    expect(checkCommits([hw(10, 0), commit(10, 1)]).valid).toBe(true);
  });
});
