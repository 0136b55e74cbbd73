// The assertions every cluster fault test makes on its figures.

import { expect } from "bun:test";
import type { ClusterFaultFigures } from "./cluster_fault_run.ts";

export function expectClean(f: ClusterFaultFigures): void {
  expect(f.aborted).toBeUndefined();
  // One line: the counts, and no anomaly line after them.
  expect(f.summary.split("\n").slice(1)).toEqual([]);
  expect(f.lost).toBe(0);
  expect(f.ackedMoved).toBe(0);
  expect(f.conflicts).toBe(0);
  expect(f.readThenMissing).toBe(0);
  expect(f.orderViolations).toBe(0);
  expect(f.staleAcks).toBe(0);
  expect(f.report.valid).toBe(true);
  // Every fault recovered: acks on every partition again within the deadline.
  for (const [kind, k] of Object.entries(f.byKind)) expect({ kind, notRecovered: k.notRecovered }).toEqual({ kind, notRecovered: 0 });
  // The run did real work: acks, and the group read.
  expect(f.acked).toBeGreaterThan(100);
  expect(f.delivered).toBeGreaterThan(0);
}
