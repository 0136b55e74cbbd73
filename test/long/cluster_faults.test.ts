// Long version of test/cluster_faults/*.test.ts: 150 faults of each of the
// seven kinds of the failure table (1,050 in all) against three broker
// processes, with a producer (acks=all, idempotent) and a consumer group
// running throughout; the cluster checker judges each run's whole history.
// Runs only under `bun run test:long` (SLUICE_LONG=1). SLUICE_CLUSTER_FAULTS_PER_KIND
// sets another count per kind (a short smoke: 2).

import { expect, test } from "bun:test";
import { figuresLine, runClusterFaults } from "../cluster_faults/scenarios/cluster_fault_run.ts";
import { expectClean } from "../cluster_faults/scenarios/expect_clean.ts";

const PER_KIND = Number(process.env.SLUICE_CLUSTER_FAULTS_PER_KIND ?? 150);
const seed = Number(process.env.SLUICE_FAULT_SEED ?? 1013);
/** A fault with its recovery and the wait for a whole cluster takes ~5-10 s here. */
const TIMEOUT_MS = Math.max(600_000, PER_KIND * 3 * 30_000);
const log = (line: string) => console.log(line);

test.skipIf(!process.env.SLUICE_LONG)(`long: kill -9 of the leader, a follower, the controller × ${PER_KIND} each`, async () => {
  const f = await runClusterFaults({ faults: { "kill-leader": PER_KIND, "kill-follower": PER_KIND, "kill-controller": PER_KIND }, seed, producers: 2, log });
  console.log(figuresLine("long cluster kills", f));
  expectClean(f);
  expect(f.faultsInjected).toBe(3 * PER_KIND);
}, TIMEOUT_MS);

test.skipIf(!process.env.SLUICE_LONG)(`long: SIGSTOP of a leader past its lease, a leader partitioned away × ${PER_KIND} each`, async () => {
  const f = await runClusterFaults({ faults: { "pause-leader": PER_KIND, "partition-leader": PER_KIND }, seed: seed + 1, producers: 2, log });
  console.log(figuresLine("long cluster pause and partition", f));
  expectClean(f);
  expect(f.faultsInjected).toBe(2 * PER_KIND);
}, TIMEOUT_MS);

test.skipIf(!process.env.SLUICE_LONG)(`long: an etcd member of 3 killed, EIO on a follower's disk × ${PER_KIND} each`, async () => {
  const f = await runClusterFaults({ faults: { "kill-etcd-member": PER_KIND, "eio-follower": PER_KIND }, etcdMembers: 3, seed: seed + 2, producers: 2, log });
  console.log(figuresLine("long cluster etcd and disk", f));
  expectClean(f);
  expect(f.faultsInjected).toBe(2 * PER_KIND);
}, TIMEOUT_MS);
