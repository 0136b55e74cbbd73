// Long version of test/faults/power_loss.test.ts: 2,000 seeded runs of 6 crash
// cycles. Runs only under `bun run test:long` (SLUICE_LONG=1).

import { expect, test } from "bun:test";
import { runPowerLoss } from "../faults/scenarios/power_loss.ts";

test.skipIf(!process.env.SLUICE_LONG)("long: power loss, 2,000 seeded runs", () => {
  const seeds = Array.from({ length: 2_000 }, (_, i) => 1_000_000 + i);
  const f = runPowerLoss({ seeds, cycles: 6, appendsMax: 60 });
  console.log(`long power-loss figures: ${JSON.stringify({ ...f, failedRuns: f.failedRuns.length })}`);
  expect(f.failedRuns.slice(0, 3)).toEqual([]);
  expect(f.lost).toBe(0);
  expect(f.inconsistent).toBe(0);
  expect(f.earlyAcks).toBe(0);
  expect(f.unmappedAcks).toBe(0);
});
