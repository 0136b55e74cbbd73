// The pool benchmark in small mode, so it cannot rot. Throughput is not
// asserted (a shared machine makes it noisy); `bun bench/pool_bench.ts` reports it.

import { expect, test } from "bun:test";
import { runPoolBench } from "./pool_bench.ts";

test("bench/pool_bench small mode acknowledges durable batches and measures them", async () => {
  const r = await runPoolBench({ seconds: 0.3, workers: 1, partitions: 2, window: 8, flushIntervalMs: 0, acks: -1, print: false });
  expect(r.errors).toBe(0);
  expect(r.batches).toBeGreaterThan(0);
  expect(r.records).toBe(r.batches * r.recordsPerBatch);
  expect(r.recordsPerSec).toBeGreaterThan(0);
  expect(r.ackMsP50).toBeGreaterThan(0);
  expect(r.ackMsP99).toBeGreaterThanOrEqual(r.ackMsP50);
  // acks=all: every acknowledged batch was covered by a reported fdatasync.
  expect(r.advances).toBeGreaterThan(0);
}, 60_000);
