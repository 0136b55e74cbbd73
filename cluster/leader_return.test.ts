// When does a restarted broker lead its preferred partitions again without an
// election request? Against real etcd, three in-process members with the
// automatic leader balancer off (test/cluster_leaders.test.ts's setting):
//
// - a SIGTERM-style restart (controlled shutdown, close, register again) and
//   the broker's return to every ISR give it nothing back: neither the
//   controller's partition state machine, nor the ISR expansion, nor the
//   balancer (off) moves a leadership to it;
// - a later failure of the broker that took over (its session lost, as when
//   its keepalives stall past the lease TTL on a loaded machine) does: the
//   failover election takes the first live ISR member in assignment order,
//   which is the restarted broker wherever it is the first replica (Kafka
//   elects the same way). That is the one path, and it is legitimate.

import { describe, expect, test } from "bun:test";
import { ETCD_WAIT } from "../test/support/etcd.ts";
import { useEtcd } from "../test/support/use_etcd.ts";
import { waitFor } from "../test/support/wait_for.ts";
import { ClusterMember } from "./cluster_member.ts";
import { EtcdClient } from "./etcd_client.ts";
import { readTopics, type TopicView } from "./topic_metadata.ts";

const TTL = 2;
const PARTITIONS = 6;
const etcd = useEtcd();
const { cleanups } = etcd;
const logs: string[] = [];

async function topic(client: EtcdClient, keys: ClusterMember["keys"], name: string): Promise<TopicView> {
  return (await readTopics(client, keys)).topics.find((t) => t.name === name)!;
}

describe("a restarted broker's preferred leaderships, balancer off", () => {
  test("nothing gives them back after the restart and the ISR return; a later failover of their leader does (first live ISR replica)", async () => {
    const client = new EtcdClient({ endpoints: etcd.endpoints });
    const members = new Map<number, ClusterMember>();
    const start = async (id: number) => {
      const m = await ClusterMember.start({
        client,
        clusterName: `lret${process.pid}`,
        leaseTtlSeconds: TTL,
        broker: { id, host: "127.0.0.1", port: 9000 + id, httpPort: 9100 + id, rack: null },
        log: (l) => logs.push(l),
        leaderBalance: { enabled: false, imbalancePercent: 10, intervalMs: 1_000 },
      });
      cleanups.push(() => m.close());
      members.set(id, m);
      expect(m.leaderBalancer).toBeUndefined();
      return m;
    };
    for (const id of [1, 2, 3]) {
      await start(id);
      if (id === 1) await waitFor(() => members.get(1)!.isController, { ...ETCD_WAIT, what: "broker 1 controller" });
    }
    await waitFor(() => [...members.values()].every((m) => m.view.brokers.size === 3), { ...ETCD_WAIT, what: "every view sees every broker" });
    const keys = members.get(1)!.keys;
    await members.get(1)!.createTopic({ name: "t", partitions: PARTITIONS, replicationFactor: 3 });
    const t0 = await topic(client, keys, "t");
    const victim = 2;
    const preferred = t0.record.replicas.map((r, p) => (r[0] === victim ? p : -1)).filter((p) => p >= 0);
    expect(preferred.length).toBeGreaterThan(0);
    for (const p of preferred) expect(t0.partitions[p]!.leader).toBe(victim);
    await waitFor(() => members.get(victim)!.view.topics.has("t"), { ...ETCD_WAIT, what: "the victim sees t" });

    // The restart: controlled shutdown (leaderships handed to the next ISR member in assignment order), close, register again.
    expect(await members.get(victim)!.controlledShutdown(10_000)).toMatchObject({ timedOut: false, pending: [], stays: [] });
    await members.get(victim)!.close();
    await start(victim);
    const controller = members.get(1)!;
    await waitFor(() => controller.view.brokers.has(victim) && members.get(victim)!.view.ready, { ...ETCD_WAIT, what: "the victim registered again" });
    // Back into every ISR, as its leaders propose once it caught up (AlterPartition).
    for (let p = 0; p < PARTITIONS; p++) {
      const s = (await topic(client, keys, "t")).partitions[p]!;
      expect(s.leader).not.toBe(victim);
      expect(s.isr).not.toContain(victim);
      await waitFor(() => members.get(s.leader)!.view.partitionState("t", p)?.partitionEpoch === s.partitionEpoch, { ...ETCD_WAIT, what: `leader ${s.leader} sees t/${p}` });
      await members.get(s.leader)!.alterPartition({ topic: "t", partition: p, leaderEpoch: s.leaderEpoch, partitionEpoch: s.partitionEpoch, isr: [...s.isr, victim] });
    }
    await waitFor(() => controller.view.partitionState("t", PARTITIONS - 1)?.isr.includes(victim) === true, { ...ETCD_WAIT, what: "the controller sees the last expansion" });
    controller.partitionController!.schedule();
    await controller.partitionController!.idle();
    const healthy = await topic(client, keys, "t");
    // Every ISR full again, and the victim leads nothing: the restart and the ISR return alone give nothing back.
    for (let p = 0; p < PARTITIONS; p++) {
      expect(healthy.partitions[p]!.isr.length).toBe(3);
      expect(healthy.partitions[p]!.leader).not.toBe(victim);
    }

    // The broker that took over one of the victim's preferred partitions loses its session (stops renewing; etcd expires it).
    const p0 = preferred[0];
    const taker = healthy.partitions[p0]!.leader;
    const fromTaker = preferred.filter((p) => healthy.partitions[p]!.leader === taker);
    await members.get(taker)!.abandon();
    await waitFor(async () => (await topic(client, keys, "t")).partitions.every((s) => s!.leader !== taker), { ...ETCD_WAIT, what: `broker ${taker}'s partitions failed over` });
    const after = await topic(client, keys, "t");
    for (const p of fromTaker) {
      // The failover election: the first replica in assignment order that is live and in the ISR — the victim, its first replica.
      expect(after.partitions[p]).toMatchObject({ leader: victim, leaderEpoch: healthy.partitions[p]!.leaderEpoch + 1 });
      expect(logs.some((l) => l.includes(`t/${p} leader ${taker} → ${victim}`))).toBe(true);
    }
    // No other leader moved to the victim: only partitions whose leader failed changed leader.
    for (let p = 0; p < PARTITIONS; p++) {
      if (healthy.partitions[p]!.leader !== taker) expect(after.partitions[p]!.leader).toBe(healthy.partitions[p]!.leader);
    }
  }, 60_000);
});
