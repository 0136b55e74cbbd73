// Consumer-group offsets under kill -9 of the broker and of consumers: 10
// cycles here, 100 in `bun run test:long`. Design in scenarios/group_offsets.ts.

import { expect, test } from "bun:test";
import { runGroupFaults } from "./scenarios/group_offsets.ts";

test("group offsets under kill -9 of broker and members: a committed offset never goes backwards, never passes the high watermark", async () => {
  const r = await runGroupFaults({ cycles: 10, seed: Number(process.env.SLUICE_FAULT_SEED ?? 5) });
  const { report, ...figures } = r;
  console.log(
    `group-offset figures: ${JSON.stringify({ ...figures, watermarkRegressions: r.watermarkRegressions.length, commitRegressions: report.commitRegressions.length, readRegressions: report.readRegressions.length, pastHighWatermark: report.pastHighWatermark.length, firstProblem: report.commitRegressions[0] ?? report.readRegressions[0] ?? report.pastHighWatermark[0] })}`,
  );
  expect(r.watermarkRegressions).toEqual([]);
  expect(report.readRegressions).toEqual([]);
  expect(report.commitRegressions).toEqual([]);
  expect(report.pastHighWatermark).toEqual([]);
  expect(r.commits).toBeGreaterThan(50);
  expect(r.reads).toBeGreaterThan(100);
  expect(r.brokerKills + r.memberKills).toBe(10);
}, 180_000);
