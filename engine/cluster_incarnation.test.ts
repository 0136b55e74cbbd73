// A broker leads only a partition state written for its current incarnation
// (docs/CLUSTER.md, "Broker epochs"; cluster_replicas.ts): one real engine
// (worker threads, files) in a cluster on a real etcd, its partition's state
// written by a controller whose passes run only when the test asks. The broker
// is stopped and started again on its data dir before that controller's pass:
// the new process finds etcd naming it leader at the old leader epoch and does
// not lead (produce: NOT_LEADER_OR_FOLLOWER) until the controller's pass gives
// the partition the next leader epoch; then it leads and appends after what it
// kept.

import { afterAll, beforeAll, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  ClusterKeys,
  ClusterMember,
  ClusterView,
  type ControllerContext,
  ControllerElection,
  createTopic,
  EtcdClient,
  LeaseKeeper,
  PartitionController,
  readTopics,
  registerBroker,
} from "../cluster/mod.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { encodeBatch } from "../protocol/record_batch.ts";
import { ETCD_WAIT, type EtcdCluster, startEtcd } from "../test/support/etcd.ts";
import { waitFor, waitForValue } from "../test/support/wait_for.ts";
import { parseBrokerConfig } from "./broker_config.ts";
import { Engine } from "./engine.ts";

const ME = 1;
const TOPIC = "solo";

let etcd: EtcdCluster;
let dir: string;
beforeAll(async () => {
  etcd = await startEtcd({ members: 1 });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-incarnation-"));
});
afterAll(async () => {
  await etcd?.stop();
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
});

function produce(engine: Engine, partition: number, value: string): Promise<{ err: number; offset: number }> {
  return new Promise((resolve) => {
    const ok = engine.produce(TOPIC, partition, encodeBatch([{ value }]), 1, (err, res) => resolve({ err, offset: res === null ? -1 : Number(res.baseOffset) }));
    if (!ok) resolve({ err: -1, offset: -1 });
  });
}

test("restarted before the controller's pass, a broker does not lead its old leader epoch; it leads the next one once written", async () => {
  const client = new EtcdClient({ endpoints: etcd.endpoints });
  const clusterName = `inc${process.pid}`;
  const keys = new ClusterKeys(clusterName);
  const closers: (() => Promise<void>)[] = [];
  const logs: string[] = [];
  try {
    // The controller, first to campaign (the broker's candidacy then waits), passing only when asked.
    const controllerLease = await LeaseKeeper.grant(client, { ttlSeconds: 5 });
    closers.push(() => controllerLease.revoke());
    const election = new ControllerElection({ client, keys, lease: controllerLease, brokerId: 0 });
    expect(await election.campaign()).toBe(true);
    const view = ClusterView.start({ client, keys });
    closers.push(() => view.close());
    const controller = new PartitionController({ client, election, view, log: () => {} });
    closers.push(() => controller.stop());
    const ctx: ControllerContext = { client, keys, election };
    // Two more registered brokers (no processes): the topic's other partitions go to them.
    for (const id of [2, 3]) {
      const lease = await LeaseKeeper.grant(client, { ttlSeconds: 5 });
      closers.push(() => lease.revoke());
      await registerBroker(client, keys, lease, { id, host: "127.0.0.1", port: 1, httpPort: 0, rack: null, startedAtMs: Date.now() });
    }

    const start = async () => {
      const engine = await Engine.open({
        config: parseBrokerConfig({ dataDir: dir, workers: 1, brokerId: ME, clusterEtcd: etcd.endpoints, clusterName }),
        log: (l) => logs.push(l),
      });
      const member = await ClusterMember.start({
        client,
        clusterName,
        leaseTtlSeconds: 2,
        broker: { id: ME, host: "127.0.0.1", port: 1, httpPort: 0, rack: null },
        log: (l) => logs.push(l),
      });
      engine.attachCluster(member, {});
      return { engine, member };
    };
    let broker = await start();
    closers.push(async () => {
      await broker.engine.close();
      await broker.member.close();
    });
    await waitFor(() => view.brokers.size === 3, { ...ETCD_WAIT, what: "three brokers registered" });
    await createTopic(ctx, { name: TOPIC, partitions: 3, replicationFactor: 1 });
    const t0 = (await readTopics(client, keys)).topics.find((t) => t.name === TOPIC)!;
    const mine = t0.partitions.findIndex((s) => s!.leader === ME);
    expect(mine).toBeGreaterThanOrEqual(0);
    const first = await waitForValue(async () => {
      const r = await produce(broker.engine, mine, "before");
      return r.err === ErrorCode.NONE ? r : undefined;
    }, { ...ETCD_WAIT, what: "the broker leads its partition" });
    expect(first.offset).toBe(0);

    // Stopped (its session abandoned: etcd expires it) and started again on its data dir, with no controller pass between.
    const oldRegistration = broker.member.registration!.createRevision;
    await broker.engine.close();
    await broker.member.abandon();
    broker = await start();
    const newRegistration = broker.member.registration!.createRevision;
    expect(newRegistration).toBeGreaterThan(oldRegistration);
    await waitFor(() => logs.some((l) => l.includes(`${TOPIC}-${mine}: etcd names this broker leader at epoch 0, written before its registration`)), {
      ...ETCD_WAIT,
      what: "the restarted broker declines its old leadership",
    });
    expect(await produce(broker.engine, mine, "stale")).toMatchObject({ err: ErrorCode.NOT_LEADER_OR_FOLLOWER });

    // The controller's pass: the only ISR member restarted, so it leads alone at the next leader epoch.
    await waitFor(() => view.brokers.get(ME)?.createRevision === newRegistration, { ...ETCD_WAIT, what: "the controller's view holds the new registration" });
    controller.schedule();
    await controller.idle();
    expect((await readTopics(client, keys)).topics.find((t) => t.name === TOPIC)!.partitions[mine]).toMatchObject({ leader: ME, leaderEpoch: 1, isr: [ME] });
    const after = await waitForValue(async () => {
      const r = await produce(broker.engine, mine, "after");
      return r.err === ErrorCode.NONE ? r : undefined;
    }, { ...ETCD_WAIT, what: "the broker leads at the next epoch" });
    expect(after.offset).toBe(1);
  } finally {
    for (const c of closers.reverse()) await c().catch(() => {});
  }
}, 60_000);
