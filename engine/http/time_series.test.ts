// The ring behind the console's charts: oldest first, fixed memory, the
// oldest sample overwritten once full.

import { expect, test } from "bun:test";
import { TimeSeries } from "./time_series.ts";

test("columns are oldest first, in seconds, and keep the last `capacity` samples", () => {
  const s = new TimeSeries(3, 2);
  expect(s.columns()).toEqual([[], [], []]);
  for (let i = 1; i <= 5; i++) s.push(i * 1000, [i, i * 10]);
  expect(s.size).toBe(3);
  expect(s.columns()).toEqual([
    [3, 4, 5],
    [3, 4, 5],
    [30, 40, 50],
  ]);
});

test("a sample with the wrong number of values is a programming error", () => {
  const s = new TimeSeries(2, 1);
  expect(() => s.push(0, [1, 2])).toThrow("expected 1 values");
  expect(() => new TimeSeries(0, 1)).toThrow("capacity");
});
