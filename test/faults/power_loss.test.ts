// Power loss under the partition log: see scenarios/power_loss.ts for the design.
// CI: 200 seeded runs of 4 crash cycles. `bun run test:long`: 2,000 runs of 6 cycles.

import { expect, test } from "bun:test";
import { runPowerLoss } from "./scenarios/power_loss.ts";

test("power loss (drop, tear, reorder; cuts inside operations): no acked value lost, no ack before its fdatasync", () => {
  const seeds = Array.from({ length: 200 }, (_, i) => i + 1);
  const f = runPowerLoss({ seeds, cycles: 4, appendsMax: 40 });
  console.log(`power-loss figures: ${JSON.stringify({ ...f, failedRuns: f.failedRuns.length })}`);
  expect(f.failedRuns.slice(0, 3)).toEqual([]);
  expect(f.lost).toBe(0);
  expect(f.inconsistent).toBe(0);
  expect(f.earlyAcks).toBe(0);
  expect(f.unmappedAcks).toBe(0);
  // The runs did what they claim: every mode ran, cuts fell inside operations and recoveries, data was acked.
  for (const mode of ["drop", "tear", "reorder"] as const) expect(f.crashesByMode[mode]).toBeGreaterThan(60);
  expect(f.cutsMidOperation).toBeGreaterThan(200);
  expect(f.cutsDuringRecovery).toBeGreaterThan(10);
  expect(f.acked).toBeGreaterThan(10_000);
  expect(f.ackChecks).toBe(f.acked);
});

test("negative control: acking at write time (before fdatasync) is caught as early acks and lost values", () => {
  const f = runPowerLoss({ seeds: [1, 2, 3, 4, 5, 6, 7, 8], cycles: 4, appendsMax: 40, ackOnWrite: true });
  expect(f.earlyAcks).toBeGreaterThan(0);
  expect(f.lost).toBeGreaterThan(0);
  expect(f.failedRuns.length).toBeGreaterThan(0);
});
