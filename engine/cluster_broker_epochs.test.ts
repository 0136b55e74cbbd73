// Broker epochs in replica fetches, in a cluster (docs/CLUSTER.md, "Broker
// epochs"; cluster_replicas.ts): two real brokers in-process (worker threads,
// files, native listeners on 127.0.0.1 port 0) on a real etcd. The follower's
// fetches carry its registration's create revision; when the follower's id is
// registered again (a new incarnation, here a registration without a process,
// so no fetch of it can arrive), the leader drops what it recorded of the
// follower from its view of etcd alone, before any fetch.

import { afterAll, beforeAll, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ClusterKeys, ClusterMember, EtcdClient, LeaseKeeper, registerBroker } from "../cluster/mod.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { encodeBatch } from "../protocol/record_batch.ts";
import { ETCD_WAIT, type EtcdCluster, startEtcd } from "../test/support/etcd.ts";
import { waitFor, waitForValue } from "../test/support/wait_for.ts";
import { Broker } from "./broker.ts";
import { parseBrokerConfig } from "./broker_config.ts";

const TOPIC = "epochs";

let etcd: EtcdCluster;
let root: string;
beforeAll(async () => {
  etcd = await startEtcd({ members: 1 });
  root = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-bepoch-"));
});
afterAll(async () => {
  await etcd?.stop();
  if (root !== undefined) fs.rmSync(root, { recursive: true, force: true });
});

function produce(b: Broker, partition: number, value: string): Promise<number> {
  return new Promise((resolve) => {
    const ok = b.engine.produce(TOPIC, partition, encodeBatch([{ value }]), -1, (err) => resolve(err));
    if (!ok) resolve(-1);
  });
}

test("a follower's fetches carry its registration's create revision; its id registered again, the leader drops the follower's offsets from the view, before any fetch", async () => {
  const client = new EtcdClient({ endpoints: etcd.endpoints });
  const clusterName = `bepoch${process.pid}`;
  const closers: (() => Promise<void>)[] = [];
  try {
    const start = async (id: number) => {
      const broker = await Broker.start(
        parseBrokerConfig({ dataDir: path.join(root, String(id)), host: "127.0.0.1", port: 0, httpPort: 0, kafkaPort: -1, workers: 1, brokerId: id }),
        { log: () => {} },
      );
      const member = await ClusterMember.start({
        client,
        clusterName,
        leaseTtlSeconds: 2,
        broker: { id, host: "127.0.0.1", port: broker.port, httpPort: 0, rack: null },
        log: () => {},
      });
      broker.engine.attachCluster(member, { defaultReplicationFactor: 2, defaultMinInsyncReplicas: 1 });
      const stop = async () => {
        await broker.stop();
        await member.close();
      };
      closers.push(stop);
      return { broker, member, stop };
    };
    const b1 = await start(1);
    await waitFor(() => b1.member.isController, { ...ETCD_WAIT, what: "broker 1 is controller" });
    const b2 = await start(2);
    await waitFor(() => b1.member.view.brokers.size === 2, { ...ETCD_WAIT, what: "broker 1 sees both brokers" });
    await b1.broker.engine.createTopic(TOPIC, { partitions: 2, replicationFactor: 2 });
    const p = await waitForValue(() => {
      for (const i of [0, 1]) if (b1.member.view.partitionState(TOPIC, i)?.leader === 1) return i;
      return undefined;
    }, { ...ETCD_WAIT, what: "a partition led by broker 1" });
    await waitForValue(async () => ((await produce(b1.broker, p, "a")) === ErrorCode.NONE ? true : undefined), { ...ETCD_WAIT, what: "broker 1 leads and takes acks=all" });
    const leader = await waitForValue(() => b1.broker.engine.replication.leaderOf(b1.broker.engine.resolve(TOPIC, p)), { ...ETCD_WAIT, what: "the leader state" });
    const f = leader.followers.get(2)!;
    // acks=all answered: broker 2 reported the record durable, in fetches carrying its registration's revision.
    const registered = b2.member.registration!.createRevision;
    expect(f.brokerEpoch).toBe(registered);
    expect(f.durableOffset).toBe(1);

    // Broker 2's process leaves; its id is registered again (a new incarnation that has not fetched yet).
    await b2.stop();
    await waitFor(() => !b1.member.view.brokers.has(2), { ...ETCD_WAIT, what: "broker 2's registration gone from broker 1's view" });
    expect(f.durableOffset).toBe(1);
    const lease = await LeaseKeeper.grant(client, { ttlSeconds: 5 });
    closers.push(() => lease.revoke());
    const again = await registerBroker(client, new ClusterKeys(clusterName), lease, { id: 2, host: "127.0.0.1", port: 1, httpPort: 0, rack: null, startedAtMs: Date.now() });
    expect(again.createRevision).toBeGreaterThan(registered);
    await waitFor(() => b1.member.view.brokers.get(2)?.createRevision === again.createRevision, { ...ETCD_WAIT, what: "broker 1's view holds the new registration" });
    // The partition still names broker 2 a replica (no move): the leader keeps a state of it, now the new incarnation's.
    expect(leader.followers.get(2)).toBe(f);
    expect(f.brokerEpoch).toBe(again.createRevision);
    expect([f.fetchOffset, f.durableOffset, f.lastFetchMs]).toEqual([0, 0, 0]);
    expect(leader.shouldExpand()).toEqual([]);
  } finally {
    for (const c of closers.reverse()) await c().catch(() => {});
  }
}, 60_000);
