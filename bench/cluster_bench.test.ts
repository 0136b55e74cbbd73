// The cluster bench in its small mode, so it cannot rot: 1 etcd member and 3
// broker processes, each run a second or two, every figure present and nothing lost.

import { expect, test } from "bun:test";
import { runClusterBench, summary } from "./cluster_bench.ts";

test("cluster bench, small mode: RF 3 and RF 1 produce, consume and e2e against 3 broker processes, lost 0", async () => {
  const f = await runClusterBench({ durationSec: 1, partitions: 2, producers: 1, ratePerSec: 5_000, consumeMessages: 20_000, etcdMembers: 1 });
  for (const r of [f.rf3, f.rf1]) {
    expect(r.acked).toBeGreaterThan(0);
    expect(r.errors).toBe(0);
  }
  expect(f.rf3.parameters.replicationFactor).toBe(3);
  expect(f.rf1.parameters.replicationFactor).toBe(1);
  expect(f.consume?.consumed).toBe(20_000);
  expect(f.consume?.lost).toBe(0);
  expect(f.e2e?.lost).toBe(0);
  expect(f.e2e?.p99Ms).not.toBeNull();
  expect(summary(f)).toContain("RF 3 / RF 1");
}, 120_000);
