import { describe, expect, test } from "bun:test";
import { RateSchedule, splitCount } from "./rate_schedule.ts";

describe("RateSchedule", () => {
  test("intended times are fixed in advance, so a stall shows up as latency of every message due during it", () => {
    const s = new RateSchedule({ ratePerSec: 1000, startMs: 10_000 });
    expect(s.intendedMs(0)).toBe(10_000);
    expect(s.intendedMs(250)).toBe(10_250);
    // A producer stalled until t=10_500 finds 501 messages due; message 100 waited 400 ms.
    expect(s.dueBy(10_500)).toBe(501);
    expect(10_500 - s.intendedMs(100)).toBe(400);
    expect(s.dueBy(9_999)).toBe(0);
    expect(s.waitMs(600, 10_500)).toBe(100);
    expect(s.waitMs(10, 10_500)).toBe(0);
  });

  test("rejects a rate that is not positive and finite", () => {
    expect(() => new RateSchedule({ ratePerSec: 0, startMs: 0 })).toThrow(RangeError);
    expect(() => new RateSchedule({ ratePerSec: Infinity, startMs: 0 })).toThrow(RangeError);
  });

  test("splitCount hands out every message exactly once", () => {
    expect(splitCount(10, 3)).toEqual([4, 3, 3]);
    expect(splitCount(2000, 4).reduce((a, b) => a + b)).toBe(2000);
  });
});
