// Long version of test/faults/kill9.test.ts: 200 kill -9 cycles.
// Runs only under `bun run test:long` (SLUICE_LONG=1).

import { expect, test } from "bun:test";
import { runKill9 } from "../faults/scenarios/kill9.ts";

test.skipIf(!process.env.SLUICE_LONG)("long: kill -9 × 200 during pipelined acks=all produce", async () => {
  const f = await runKill9({
    cycles: 200,
    seed: Number(process.env.SLUICE_FAULT_SEED ?? 200),
    runMsMin: 100,
    runMsMax: 1_500,
    producers: 3,
    partitions: 3,
    inflightMax: 16,
    samplesPerCycle: 50,
    log: (line) => console.log(line),
  });
  const { report, summary, ...figures } = f;
  console.log(`long kill-9 figures: ${JSON.stringify(figures)}`);
  expect(summary.split("\n").length).toBe(1);
  expect(report.valid).toBe(true);
  expect(f.lost + f.unreadAcked + f.inconsistent + f.duplicated + f.unexpected).toBe(0);
  expect(f.consumerOutOfRange).toBe(0);
  expect(f.brokerComplaints).toEqual([]);
}, 3_600_000);
