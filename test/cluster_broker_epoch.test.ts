// kill -9 of a leader and its restart at once (same data dir, same broker id)
// under acks=all load, where no controller handles its old registration's
// deletion before the new process registers (docs/CLUSTER.md, "Broker
// epochs"): the other two brokers are SIGSTOPped first, so their sessions end
// too and the restarted broker, registered again, becomes the controller that
// finds its own old leaderships in etcd. Three `sluice serve` processes, one
// etcd, RF 3, min.insync.replicas 2, the cluster workload (idempotent acks=all
// producer, a consumer group) throughout.
//
// Checked: every partition the killed broker led gets a new leader epoch (the
// new process does not lead at its old one's epoch; before broker epochs it
// did: nothing told the controller it had restarted); the cluster is whole
// again once the others resume; and the cluster checker finds nothing lost,
// moved, read twice at one offset or undone.

import { expect, test } from "bun:test";
import { checkClusterHistory, summarizeClusterReport } from "./checker/cluster_checker.ts";
import { Rng } from "./faults/support/rng.ts";
import { type FaultContext, waitWhole } from "./cluster_faults/scenarios/fault_kinds.ts";
import { startCluster } from "./support/cluster_harness.ts";
import { ClusterWorkload } from "./support/cluster_workload.ts";
import { ETCD_WAIT } from "./support/etcd.ts";
import { waitFor, waitForValue } from "./support/wait_for.ts";

const TOPIC = "epochs";
const PARTITIONS = 3;
const LEASE_TTL_SECONDS = 2;

test("kill -9 of a leader and an immediate restart before any controller handled it: new leader epochs, lost 0, no offset with two records", async () => {
  const log: string[] = [];
  const cluster = await startCluster({ brokers: 3, etcdMembers: 1, leaseTtlSeconds: LEASE_TTL_SECONDS, brokerArgs: ["--replica-lag-time-max-ms", "2000"] });
  const workload = new ClusterWorkload({ bootstrap: () => cluster.bootstrap(), topic: TOPIC, partitions: PARTITIONS, producers: 1, consumers: 1, inflightMax: 64, log: (l) => log.push(l) });
  const ctx: FaultContext = { cluster, workload, topic: TOPIC, partitions: PARTITIONS, rng: new Rng(1), recoverTimeoutMs: 30_000, log: (l) => log.push(l) };
  let stopped = false;
  try {
    await cluster.createTopic(TOPIC, { partitions: PARTITIONS, replicationFactor: 3, configs: { "min.insync.replicas": "2" } });
    await waitWhole(ctx, 30_000);
    workload.start();
    expect(await workload.waitForProgress(performance.now(), 30_000)).toBeDefined();

    const victim = await cluster.waitForLeader(TOPIC, 0);
    const others = cluster.ids.filter((id) => id !== victim);
    const before = new Map<number, number>();
    for (let p = 0; p < PARTITIONS; p++) {
      const s = (await cluster.partitionState(TOPIC, p))!;
      if (s.leader === victim) before.set(p, s.leaderEpoch);
    }
    const oldRegistration = (await cluster.etcdClient.get(cluster.keys.broker(victim)))!.createRevision;

    // Nobody left to handle the deletion: the others stop (their sessions end with it), the victim dies and starts again at once.
    for (const id of others) cluster.broker(id).pause();
    await cluster.broker(victim).restart();
    const newRegistration = await waitForValue(async () => {
      const kv = await cluster.etcdClient.get(cluster.keys.broker(victim));
      return kv !== undefined && kv.createRevision !== oldRegistration ? kv.createRevision : undefined;
    }, { ...ETCD_WAIT, what: "the restarted broker registered again" });
    // Its partitions get the next leader epoch from a controller that never saw the old registration go.
    for (const [p, epoch] of before) {
      await waitFor(async () => ((await cluster.partitionState(TOPIC, p))?.leaderEpoch ?? -1) > epoch, { ...ETCD_WAIT, what: `${TOPIC}/${p}: a leader epoch after ${epoch}` });
    }
    for (const id of others) cluster.broker(id).resume();
    await waitWhole(ctx, 30_000);
    expect(await workload.waitForProgress(performance.now(), 30_000)).toBeDefined();
    // Still this registration: the epochs above were given to the new process, not taken from a later restart.
    expect((await cluster.etcdClient.get(cluster.keys.broker(victim)))!.createRevision).toBe(newRegistration);
    expect(cluster.broker(victim).output()).not.toContain("could not act on");

    await workload.stop();
    stopped = true;
    await workload.finalRead(async (p) => cluster.broker(await cluster.waitForLeader(TOPIC, p)).address);
  } finally {
    if (!stopped) await workload.stop().catch(() => {});
    for (const b of cluster.brokers.values()) if (b.paused) b.resume();
    await cluster.cleanup();
  }
  const report = checkClusterHistory(workload.history.history());
  const summary = summarizeClusterReport(report);
  console.log(`broker epochs: ${summary.split("\n")[0]}`);
  expect(summary.split("\n").slice(1)).toEqual([]);
  expect(report.counts.ackedLost).toBe(0);
  expect(report.counts.ackedMoved).toBe(0);
  expect(report.counts.conflicts).toBe(0);
  expect(report.counts.readThenMissing).toBe(0);
  expect(report.valid).toBe(true);
  expect(report.counts.acked).toBeGreaterThan(100);
}, 180_000);
