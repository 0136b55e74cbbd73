// Long version of test/faults/group_offsets.test.ts: 100 kill -9 cycles.
// Runs only under `bun run test:long` (SLUICE_LONG=1).

import { expect, test } from "bun:test";
import { runGroupFaults } from "../faults/scenarios/group_offsets.ts";

test.skipIf(!process.env.SLUICE_LONG)("long: group offsets under 100 kill -9 cycles", async () => {
  const r = await runGroupFaults({ cycles: 100, seed: Number(process.env.SLUICE_FAULT_SEED ?? 100) });
  const { report, ...figures } = r;
  console.log(`long group-offset figures: ${JSON.stringify({ ...figures, commitRegressions: report.commitRegressions.length, readRegressions: report.readRegressions.length, pastHighWatermark: report.pastHighWatermark.length })}`);
  expect(r.watermarkRegressions).toEqual([]);
  expect(report.valid).toBe(true);
}, 3_600_000);
