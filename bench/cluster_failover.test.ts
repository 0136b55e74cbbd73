// The failover benchmark's small mode: one round of each kind, so it cannot rot.

import { expect, test } from "bun:test";
import { runFailoverBench } from "./cluster_failover.ts";

test("cluster failover bench, small mode: each kind of failover completes within its lease TTL and a little", async () => {
  const results = await runFailoverBench({ rounds: 1, ttlSeconds: 2, partitions: 3 });
  for (const r of results) {
    expect(r.samplesMs.length).toBe(1);
    expect(r.samplesMs[0]).toBeGreaterThan(1_000); // nobody is declared dead before its lease could expire
    expect(r.samplesMs[0]).toBeLessThan(2_000 + 3_000);
  }
});
