// kill -9 of a partition's leader, of a follower and of the controller, while
// a producer (acks=all, idempotent) and a consumer group run against three
// broker processes and one etcd: nothing acknowledged lost, no offset read
// with two values, no read undone, per-key order kept (the cluster checker).
// CI size here (each kind twice: a broker faulted again after its restart);
// `bun run test:long` runs hundreds (test/long/cluster_faults.test.ts).

import { expect, test } from "bun:test";
import { figuresLine, runClusterFaults } from "./scenarios/cluster_fault_run.ts";
import { expectClean } from "./scenarios/expect_clean.ts";

test("kill -9 of the leader × 2, a follower × 2, the controller × 2 under acks=all: lost 0", async () => {
  const f = await runClusterFaults({
    faults: { "kill-leader": 2, "kill-follower": 2, "kill-controller": 2 },
    seed: Number(process.env.SLUICE_FAULT_SEED ?? 13),
    log: (line) => console.log(line),
  });
  console.log(figuresLine("cluster kills", f));
  expectClean(f);
  expect(f.faultsInjected).toBe(6);
}, 240_000);
