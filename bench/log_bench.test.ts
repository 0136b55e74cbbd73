// The log benchmark in small mode, so it cannot rot. The bars (ratio ≥ 0.7,
// large-log lookups within 2× of small-log ones) are not asserted: a shared
// disk makes them noisy; `bun run bench:log` reports them.

import { expect, test } from "bun:test";
import { runLogBench } from "./log_bench.ts";

test("bench:log small mode measures every figure", () => {
  const r = runLogBench({ seconds: 0.3, small: true });
  for (const key of ["appendMBps", "recordsPerSec", "rawMBps", "ratio", "lookupUsSmallLog", "lookupUsLargeLog"] as const) {
    expect(Number.isFinite(r[key])).toBe(true);
    expect(r[key]).toBeGreaterThan(0);
  }
  expect(r.ratio).toBeCloseTo(r.appendMBps / r.rawMBps, 6);
  expect(r.lookupRatio).toBeCloseTo(r.lookupUsLargeLog / r.lookupUsSmallLog, 6);
  expect(r.flushes).toBeGreaterThan(0);
  expect(r.recordsPerSec).toBeGreaterThan(r.appendMBps); // 100-byte records: many more records than MiB
}, 60_000);
