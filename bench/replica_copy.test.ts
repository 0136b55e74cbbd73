// The copy CPU bench in its small mode, so it cannot rot: a small partition
// copied between two in-process brokers, the CPU of the copy counted.

import { expect, test } from "bun:test";
import { replicaCopy } from "./replica_copy.ts";

test("replica copy bench, small mode: the copy finishes and its CPU is counted", async () => {
  const r = await replicaCopy(4);
  expect(r.mibPerSec).toBeGreaterThan(0);
  const total = [...r.cpuMsPerMib.values()].reduce((a, b) => a + b, 0);
  expect(total).toBeGreaterThan(0);
}, 60_000);
