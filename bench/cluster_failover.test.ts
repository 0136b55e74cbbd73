// The failover benchmark's small mode: one round of each kind, so it cannot rot.

import { expect, test } from "bun:test";
import { runFailoverBench } from "./cluster_failover.ts";
import { runKillFailoverBench } from "./cluster_kill_failover.ts";

test("cluster failover bench, small mode: each kind of failover completes within its lease TTL and a little", async () => {
  const results = await runFailoverBench({ rounds: 1, ttlSeconds: 2, partitions: 3 });
  for (const r of results) {
    expect(r.samplesMs.length).toBe(1);
    expect(r.samplesMs[0]).toBeGreaterThan(1_000); // nobody is declared dead before its lease could expire
    expect(r.samplesMs[0]).toBeLessThan(2_000 + 3_000);
  }
});

test("kill -9 failover bench, small mode: one kill of a leader process, the first acked produce on the new leader comes after the lease could expire", async () => {
  const samples = await runKillFailoverBench({ kills: 1 });
  expect(samples).toHaveLength(1);
  expect(samples[0].newLeader).not.toBe(samples[0].victim);
  expect(samples[0].ms).toBeGreaterThan(1_000); // the leader is declared dead only once its 2 s lease may have expired
  expect(samples[0].ms).toBeLessThan(30_000);
}, 120_000);
