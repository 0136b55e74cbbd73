// One etcd member (of 3) killed and started again (no broker may lose its
// session, producing goes on), and EIO on a follower's disk (its k-th
// fdatasync fails: its replica goes offline, the leader leaves it out of the
// ISR, producing goes on; restarted with a good disk it catches up), while a
// producer (acks=all, idempotent) and a consumer group run: judged by the
// cluster checker. CI size here (each kind twice); `bun run test:long` runs hundreds
// (test/long/cluster_faults.test.ts).

import { expect, test } from "bun:test";
import { figuresLine, runClusterFaults } from "./scenarios/cluster_fault_run.ts";
import { expectClean } from "./scenarios/expect_clean.ts";

test("an etcd member of 3 killed × 2, EIO on a follower's fdatasync × 2: lost 0", async () => {
  const f = await runClusterFaults({
    faults: { "kill-etcd-member": 2, "eio-follower": 2 },
    etcdMembers: 3,
    seed: Number(process.env.SLUICE_FAULT_SEED ?? 19),
    log: (line) => console.log(line),
  });
  console.log(figuresLine("cluster etcd and disk", f));
  expectClean(f);
  expect(f.faultsInjected).toBe(4);
}, 240_000);
