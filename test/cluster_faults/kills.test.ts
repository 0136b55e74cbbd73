// kill -9 of a partition's leader, of a follower and of the controller, while
// a producer (acks=all, idempotent) and a consumer group run against three
// broker processes and one etcd: nothing acknowledged lost, no offset read
// with two values, no read undone, per-key order kept (the cluster checker).
// CI size here; `bun run test:long` runs hundreds (test/long/cluster_faults.test.ts).

import { expect, test } from "bun:test";
import { figuresLine, runClusterFaults } from "./scenarios/cluster_fault_run.ts";
import { expectClean } from "./scenarios/expect_clean.ts";

test("kill -9 of the leader × 4, a follower × 3, the controller × 3 under acks=all: lost 0", async () => {
  const f = await runClusterFaults({
    faults: { "kill-leader": 4, "kill-follower": 3, "kill-controller": 3 },
    seed: Number(process.env.SLUICE_FAULT_SEED ?? 13),
    log: (line) => console.log(line),
  });
  console.log(figuresLine("cluster kills", f));
  expectClean(f);
  expect(f.faultsInjected).toBe(10);
}, 240_000);
