// Broker epochs (docs/CLUSTER.md, "Broker epochs"): a broker that registers
// again (kill -9 and a quick restart: a new lease, a new registration create
// revision) before the controller handled its old registration's deletion is
// a new incarnation, which may miss what the old one had not fsynced.
//
// - decisions (pure): a restarted leader is replaced at the next leader epoch
//   by a live ISR member that did not restart, a restarted follower leaves the
//   ISR, a restarted broker that is the only live ISR member leads alone at
//   the next leader epoch;
// - against real etcd, with a controller whose passes run only when the test
//   asks (so its pass comes after the restart, as on a starved machine): the
//   old state no longer lets the restarted broker lead, a write keeping it in
//   an ISR is refused, and the controller's pass gives its partitions a new
//   leader epoch with the broker out of their ISRs.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type EtcdCluster, ETCD_WAIT, startEtcd } from "../test/support/etcd.ts";
import { waitFor } from "../test/support/wait_for.ts";
import { registerBroker, type Registration } from "./broker_registration.ts";
import { ClusterKeys } from "./cluster_keys.ts";
import { ClusterView } from "./cluster_view.ts";
import { ControllerElection } from "./controller_election.ts";
import { type ControllerContext, createTopic, updatePartitionState } from "./controller_topics.ts";
import { EtcdClient } from "./etcd_client.ts";
import { LeaseKeeper } from "./lease_keeper.ts";
import { decidePartition, PartitionController, restartedMembers } from "./partition_controller.ts";
import { leadsAsThisIncarnation, NO_LEADER, readTopics, type TopicView, type VersionedPartitionState } from "./topic_metadata.ts";

describe("decisions on a restarted broker", () => {
  const live = (...ids: number[]) => new Set(ids);
  const s = (leader: number, isr: number[], leaderEpoch = 3) => ({ leader, leaderEpoch, isr, partitionEpoch: 7 });
  const restarted = (...ids: number[]) => new Set(ids);

  test("a restarted leader: the first live ISR member that did not restart leads at the next epoch; the restarted one leaves the ISR", () => {
    expect(decidePartition([2, 1, 3], s(2, [1, 2, 3]), live(1, 2, 3), false, undefined, restarted(2))).toEqual({ leader: 1, leaderEpoch: 4, isr: [1, 3] });
    // Without the restart nothing changes: that is what let a new process lead at its old epoch.
    expect(decidePartition([2, 1, 3], s(2, [1, 2, 3]), live(1, 2, 3), false)).toBeUndefined();
  });

  test("a restarted follower leaves the ISR; the leader and its epoch stay", () => {
    expect(decidePartition([1, 2, 3], s(1, [1, 2, 3]), live(1, 2, 3), false, undefined, restarted(3))).toEqual({ leader: 1, leaderEpoch: 3, isr: [1, 2] });
  });

  test("the only live ISR member restarted: it stays in the ISR alone and leads at the next epoch (never an empty ISR, never unclean)", () => {
    expect(decidePartition([2, 1, 3], s(2, [2]), live(1, 2, 3), false, undefined, restarted(2))).toEqual({ leader: 2, leaderEpoch: 4, isr: [2] });
    expect(decidePartition([1, 2], s(1, [1, 2]), live(1, 2), false, undefined, restarted(1, 2))).toEqual({ leader: 1, leaderEpoch: 4, isr: [1] });
    // Offline, its ISR member back (its registration is necessarily newer than the offline state): leads alone.
    expect(decidePartition([1, 2], s(NO_LEADER, [1, 2]), live(1, 2), false, undefined, restarted(1, 2))).toEqual({ leader: 1, leaderEpoch: 4, isr: [1] });
  });

  test("a restarted leader in controlled shutdown with nobody in the ISR to take over leads at the next epoch", () => {
    expect(decidePartition([1, 2, 3], s(1, [1, 2]), live(1), false, new Set([1]), restarted(1))).toEqual({ leader: 1, leaderEpoch: 4, isr: [1] });
  });

  test("restarted members are the leader and ISR members registered after the state's last write", () => {
    const state: VersionedPartitionState = { ...s(1, [1, 2, 3]), modRevision: 100 };
    const regs = new Map([
      [1, 50],
      [2, 120],
    ]);
    expect([...restartedMembers(state, (id) => regs.get(id))]).toEqual([2]);
    expect(leadsAsThisIncarnation(state, 1, 50)).toBe(true);
    expect(leadsAsThisIncarnation(state, 1, 120)).toBe(false);
    expect(leadsAsThisIncarnation(state, 2, 50)).toBe(false);
  });
});

let etcd: EtcdCluster;
beforeAll(async () => {
  etcd = await startEtcd({ members: 1 });
});
afterAll(async () => {
  await etcd?.stop();
});

describe("a broker registered again before the controller handled its deletion", () => {
  test("its old leaderships are not its own, a write keeping it in an ISR is refused, and the controller's pass moves them at the next epoch", async () => {
    const client = new EtcdClient({ endpoints: etcd.endpoints });
    const keys = new ClusterKeys(`bep${process.pid}`);
    const leases: LeaseKeeper[] = [];
    const closers: (() => Promise<void>)[] = [];
    const logs: string[] = [];
    const register = async (id: number): Promise<{ lease: LeaseKeeper; registration: Registration }> => {
      const lease = await LeaseKeeper.grant(client, { ttlSeconds: 5 });
      leases.push(lease);
      const registration = await registerBroker(client, keys, lease, { id, host: "127.0.0.1", port: 9000 + id, httpPort: 0, rack: null, startedAtMs: Date.now() });
      return { lease, registration };
    };
    try {
      // The controller: its own session, an election won, a view, and the partition state machine run only when asked.
      const controllerLease = await LeaseKeeper.grant(client, { ttlSeconds: 5 });
      leases.push(controllerLease);
      const election = new ControllerElection({ client, keys, lease: controllerLease, brokerId: 0 });
      expect(await election.campaign()).toBe(true);
      const view = ClusterView.start({ client, keys });
      closers.push(() => view.close());
      const controller = new PartitionController({ client, election, view, log: (l) => logs.push(l) });
      closers.push(() => controller.stop());
      const ctx: ControllerContext = { client, keys, election, random: () => 0 };

      const brokers = new Map<number, { lease: LeaseKeeper; registration: Registration }>();
      for (const id of [1, 2, 3]) brokers.set(id, await register(id));
      await createTopic(ctx, { name: "t", partitions: 3, replicationFactor: 3 });
      await createTopic(ctx, { name: "solo", partitions: 3, replicationFactor: 1 });
      const read = async (name: string): Promise<TopicView> => (await readTopics(client, keys)).topics.find((t) => t.name === name)!;
      const t0 = await read("t");
      const solo0 = await read("solo");
      const victim = t0.partitions[0]!.leader;
      const ledByVictim = t0.partitions.map((s, p) => (s!.leader === victim ? p : -1)).filter((p) => p >= 0);
      const soloOfVictim = solo0.partitions.findIndex((s) => s!.leader === victim);
      expect(ledByVictim.length).toBeGreaterThan(0);
      expect(soloOfVictim).toBeGreaterThanOrEqual(0);
      const oldEpoch = brokers.get(victim)!.registration.createRevision;
      for (const p of ledByVictim) expect(leadsAsThisIncarnation(t0.partitions[p]!, victim, oldEpoch)).toBe(true);

      // A pass over a healthy cluster writes nothing.
      await waitFor(() => view.ready && view.partitionState("solo", 2) !== undefined && view.topics.has("solo"), { ...ETCD_WAIT, what: "the controller's view holds both topics" });
      controller.schedule();
      await controller.idle();
      expect(controller.stats.passes).toBeGreaterThan(0);
      expect((await read("t")).partitions.every((s) => s!.partitionEpoch === 0)).toBe(true);

      // kill -9 and a quick restart: the old lease ends (revoked: as its expiry, without the wait), a new process registers.
      await brokers.get(victim)!.lease.revoke();
      const again = await register(victim);
      const newEpoch = again.registration.createRevision;
      expect(newEpoch).toBeGreaterThan(oldEpoch);
      await waitFor(() => view.brokers.get(victim)?.createRevision === newEpoch, { ...ETCD_WAIT, what: "the controller's view holds the new registration" });

      // Before the controller's pass: etcd still names the victim leader at the old epoch, but not for this incarnation.
      const stale = await read("t");
      for (const p of ledByVictim) {
        expect(stale.partitions[p]).toMatchObject({ leader: victim, leaderEpoch: 0 });
        expect(leadsAsThisIncarnation(stale.partitions[p]!, victim, newEpoch)).toBe(false);
      }
      // A leader's ISR change that keeps the restarted broker in (as a stale AlterPartition would) is refused.
      const other = stale.partitions.findIndex((s) => s!.leader !== victim);
      expect(other).toBeGreaterThanOrEqual(0);
      const o = stale.partitions[other]!;
      const dropped = o.isr.find((b) => b !== victim && b !== o.leader)!;
      const refused = await updatePartitionState(ctx, "t", other, o, (s) => ({ leader: s.leader, leaderEpoch: s.leaderEpoch, isr: s.isr.filter((b) => b !== dropped) }));
      expect(refused.applied).toBe(false);
      expect((await read("t")).partitions[other]!.modRevision).toBe(o.modRevision);

      // The controller's pass, after the restart.
      controller.schedule();
      await controller.idle();
      const after = await read("t");
      for (let p = 0; p < 3; p++) {
        const was = t0.partitions[p]!;
        const now = after.partitions[p]!;
        expect(now.isr).toEqual(was.isr.filter((b) => b !== victim));
        if (ledByVictim.includes(p)) {
          expect(now.leader).toBe(t0.record.replicas[p].find((b) => b !== victim)!);
          expect(now.leaderEpoch).toBe(1);
        } else {
          expect(now).toMatchObject({ leader: was.leader, leaderEpoch: 0 });
        }
        expect(leadsAsThisIncarnation(now, victim, newEpoch)).toBe(false);
      }
      // Its only-replica partition: it leads again, at the next epoch, as this incarnation.
      const solo = (await read("solo")).partitions[soloOfVictim]!;
      expect(solo).toMatchObject({ leader: victim, leaderEpoch: 1, isr: [victim] });
      expect(leadsAsThisIncarnation(solo, victim, newEpoch)).toBe(true);
      expect(logs.some((l) => l.includes(`registered again since the state was written`))).toBe(true);

      // Its leaders take it back into the ISR once it caught up (an AlterPartition now lands), and nothing more moves.
      const back = after.partitions[0]!;
      const readmitted = await updatePartitionState(ctx, "t", 0, back, (s) => ({ leader: s.leader, leaderEpoch: s.leaderEpoch, isr: [...s.isr, victim] }));
      expect(readmitted.applied).toBe(true);
      await waitFor(() => view.partitionState("t", 0)?.isr.includes(victim) === true, { ...ETCD_WAIT, what: "the view holds the expansion" });
      controller.schedule();
      await controller.idle();
      expect((await read("t")).partitions[0]).toMatchObject({ leader: back.leader, leaderEpoch: 1, isr: [...back.isr, victim] });
    } finally {
      for (const c of closers.reverse()) await c().catch(() => {});
      for (const l of leases) await l.revoke().catch(() => {});
    }
  }, 60_000);
});
