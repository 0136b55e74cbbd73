// The log benchmark in small mode, so it cannot rot. The bars (ratio ≥ 0.7,
// large-log lookups within 2× of small-log ones) are not asserted: a shared
// disk makes them noisy; `bun run bench:log` reports them. What is asserted is
// that the append phase is the pipelined one the bars are about: the producer
// thread ran, and fdatasyncs covered more than one batch each (group commit).

import { expect, test } from "bun:test";
import { APPEND_BATCH_BYTES, runLogBench } from "./log_bench.ts";

test("bench:log small mode measures every figure, with appends grouped under each fdatasync", async () => {
  const r = await runLogBench({ seconds: 0.3, small: true });
  for (const key of ["appendMBps", "recordsPerSec", "rawMBps", "ratio", "lookupUsSmallLog", "lookupUsLargeLog", "stageUsP50", "workMsPerMiB", "flushMsPerMiB", "rawWriteMsPerMiB", "rawSyncMsPerMiB"] as const) {
    expect(Number.isFinite(r[key])).toBe(true);
    expect(r[key]).toBeGreaterThan(0);
  }
  expect(r.ratio).toBeCloseTo(r.appendMBps / r.rawMBps, 6);
  expect(r.lookupRatio).toBeCloseTo(r.lookupUsLargeLog / r.lookupUsSmallLog, 6);
  expect(r.flushes).toBeGreaterThan(0);
  expect(r.recordsPerSec).toBeGreaterThan(r.appendMBps); // 100-byte records: many more records than MiB
  // Appends that arrived during an fdatasync rode the next one: with one flush per append this is one batch.
  expect(r.bytesPerFlushP50).toBeGreaterThan(2 * APPEND_BATCH_BYTES);
  expect(r.idleShare).toBeGreaterThanOrEqual(0);
  expect(r.idleShare).toBeLessThan(1);
}, 60_000);
