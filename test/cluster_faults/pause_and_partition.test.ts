// A leader SIGSTOPped past its lease, then SIGCONT (it must step down: a
// produce sent to it at once after SIGCONT is not acknowledged), and a network
// partition that isolates a leader from etcd and from every other broker and
// client (support/link_proxy.ts on every link), while a producer (acks=all,
// idempotent) and a consumer group run: judged by the cluster checker.
// CI size here (each kind twice); `bun run test:long` runs hundreds (test/long/cluster_faults.test.ts).

import { expect, test } from "bun:test";
import { figuresLine, runClusterFaults } from "./scenarios/cluster_fault_run.ts";
import { expectClean } from "./scenarios/expect_clean.ts";

test("SIGSTOP of a leader past its lease × 2, a leader isolated by a network partition × 2: lost 0, no ack after SIGCONT", async () => {
  const f = await runClusterFaults({
    faults: { "pause-leader": 2, "partition-leader": 2 },
    seed: Number(process.env.SLUICE_FAULT_SEED ?? 17),
    log: (line) => console.log(line),
  });
  console.log(figuresLine("cluster pause and partition", f));
  expectClean(f);
  expect(f.faultsInjected).toBe(4);
}, 240_000);
