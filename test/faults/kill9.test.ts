// kill -9 of the broker at random moments during pipelined acks=all produce
// with consumers reading: 12 cycles here, 200 in `bun run test:long`.
// Design in scenarios/kill9.ts.

import { expect, test } from "bun:test";
import { runKill9 } from "./scenarios/kill9.ts";

test("kill -9 × 12 during pipelined acks=all produce: nothing acked lost, no offset with two values, all below the high watermark readable", async () => {
  const f = await runKill9({
    cycles: 12,
    seed: Number(process.env.SLUICE_FAULT_SEED ?? 9),
    runMsMin: 100,
    runMsMax: 600,
    producers: 2,
    partitions: 2,
    inflightMax: 8,
    samplesPerCycle: 20,
  });
  const { report, summary, ...figures } = f;
  console.log(`kill-9 figures: ${JSON.stringify(figures)}`);
  expect(summary).toBe(summary.split("\n")[0]); // no anomaly lines
  expect(f.lost).toBe(0);
  expect(f.unreadAcked).toBe(0);
  expect(f.inconsistent).toBe(0);
  expect(f.duplicated).toBe(0);
  expect(f.unexpected).toBe(0);
  expect(f.reordered).toBe(0);
  expect(f.pollSkips).toBe(0);
  expect(f.nonMonotonicPolls).toBe(0);
  expect(f.unreadBelowHighWatermark).toBe(0);
  expect(f.consumerOutOfRange).toBe(0);
  expect(f.brokerComplaints).toEqual([]);
  expect(report.valid).toBe(true);
  // The test did real work: acks in every run, and kills landed with requests in flight.
  expect(f.acked).toBeGreaterThan(1_000);
  expect(report.counts.failedIndeterminate).toBeGreaterThan(0);
}, 300_000);
