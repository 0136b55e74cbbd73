// Controlled shutdown: the controller's decisions (pure), then against real
// etcd with brokers whose sessions really end: a shutting-down broker's
// leaderships move to the next in-sync replica with the next leader epoch, it
// leaves every ISR that keeps another member, a partition where it is the
// only ISR member stays with it, a deposed controller's hand-off is refused,
// an election after a death skips a shutting-down broker, and the
// announcement dies with the session (a restarted broker is not shutting down).

import { describe, expect, test } from "bun:test";
import { ETCD_WAIT } from "../test/support/etcd.ts";
import { useEtcd } from "../test/support/use_etcd.ts";
import { startMembers } from "../test/support/cluster_members.ts";
import { waitFor } from "../test/support/wait_for.ts";
import { registerBroker } from "./broker_registration.ts";
import { ClusterKeys } from "./cluster_keys.ts";
import { ClusterView } from "./cluster_view.ts";
import { alterPartition } from "./alter_partition.ts";
import { announceShutdown } from "./controlled_shutdown.ts";
import { ControllerElection, ControllerFencedError } from "./controller_election.ts";
import { type ControllerContext, createTopic, updatePartitionState } from "./controller_topics.ts";
import { EtcdClient } from "./etcd_client.ts";
import { LeaseKeeper } from "./lease_keeper.ts";
import { decidePartition, PartitionController } from "./partition_controller.ts";
import { NO_LEADER, readTopics, type TopicView } from "./topic_metadata.ts";
import { ErrorCode } from "../protocol/errors.ts";

describe("decisions with brokers in controlled shutdown", () => {
  const set = (...ids: number[]) => new Set(ids);
  const s = (leader: number, isr: number[], leaderEpoch = 3) => ({ leader, leaderEpoch, isr, partitionEpoch: 7 });

  test("a shutting-down leader: the next ISR member in assignment order that stays leads, next epoch, the leader leaves the ISR", () => {
    expect(decidePartition([2, 3, 1], s(2, [1, 2, 3]), set(1, 2, 3), false, set(2))).toEqual({ leader: 3, leaderEpoch: 4, isr: [1, 3] });
    // the next in assignment order (3) is shutting down too: 1
    expect(decidePartition([2, 3, 1], s(2, [1, 2, 3]), set(1, 2, 3), false, set(2, 3))).toEqual({ leader: 1, leaderEpoch: 4, isr: [1] });
    // the next in assignment order is live but out of the ISR: skipped
    expect(decidePartition([2, 3, 1], s(2, [2, 1]), set(1, 2, 3), false, set(2))).toEqual({ leader: 1, leaderEpoch: 4, isr: [1] });
  });

  test("a shutting-down follower leaves the ISR; the leader and its epoch stay", () => {
    expect(decidePartition([1, 2, 3], s(1, [1, 2, 3]), set(1, 2, 3), false, set(3))).toEqual({ leader: 1, leaderEpoch: 3, isr: [1, 2] });
    expect(decidePartition([1, 2, 3], s(1, [1, 2]), set(1, 2, 3), false, set(3))).toBeUndefined(); // not in the ISR: nothing to do
  });

  test("no other in-sync replica to take over: the shutting-down leader keeps the partition (offline when it stops)", () => {
    expect(decidePartition([2], s(2, [2]), set(1, 2), false, set(2))).toBeUndefined();
    expect(decidePartition([2, 1], s(2, [2]), set(1, 2), false, set(2))).toBeUndefined(); // 1 is live but not in sync
    expect(decidePartition([2, 1, 3], s(2, [2, 1, 3]), set(2, 3), false, set(2, 3))).toEqual({ leader: 2, leaderEpoch: 3, isr: [2, 3] }); // 1 dead, 3 leaving too
  });

  test("an election after a death never picks a shutting-down broker, clean or unclean", () => {
    // leader 1 died; 2 is first in the ISR by assignment order but shutting down: 3
    expect(decidePartition([1, 2, 3], s(1, [1, 2, 3]), set(2, 3), false, set(2))).toEqual({ leader: 3, leaderEpoch: 4, isr: [3] });
    // only a shutting-down ISR member is live: offline, ISR kept (it is the one that has the records; it leads again once back)
    expect(decidePartition([1, 2], s(1, [1, 2]), set(2), false, set(2))).toEqual({ leader: NO_LEADER, leaderEpoch: 4, isr: [1, 2] });
    // unclean election takes a live replica that stays, not one shutting down
    expect(decidePartition([1, 2, 3], s(1, [1]), set(2, 3), true, set(2))).toEqual({ leader: 3, leaderEpoch: 4, isr: [3] });
    expect(decidePartition([1, 2], s(1, [1]), set(2), true, set(2))).toEqual({ leader: NO_LEADER, leaderEpoch: 4, isr: [1] });
  });
});

const TTL = 2;
const etcd = useEtcd();
const { cleanups } = etcd;
const logs: string[] = [];

let seq = 0;

function brokers(ids: number[]) {
  return startMembers({ endpoints: etcd.endpoints, clusterName: `cs${process.pid}-${++seq}`, ids, leaseTtlSeconds: TTL, log: (line) => logs.push(line), cleanups });
}

async function topic(client: EtcdClient, keys: ClusterKeys, name: string): Promise<TopicView> {
  return (await readTopics(client, keys)).topics.find((t) => t.name === name)!;
}

describe("controlled shutdown against etcd", () => {
  test("a shutting-down broker's leaderships move to the next ISR member with the next epoch, and it leaves every ISR, before it leaves", async () => {
    const { client, members, keys, start } = await brokers([1, 2, 3]);
    await members.get(1)!.createTopic({ name: "t", partitions: 6, replicationFactor: 3 });
    const before = await topic(client, keys, "t");
    const ledBy2 = before.partitions.map((p, i) => (p!.leader === 2 ? i : -1)).filter((i) => i >= 0);
    expect(ledBy2.length).toBe(2);
    await waitFor(() => members.get(2)!.view.topics.has("t"), { ...ETCD_WAIT, what: "broker 2 sees t" });

    const r = await members.get(2)!.controlledShutdown(10_000);
    expect(r).toMatchObject({ announced: true, timedOut: false, pending: [], stays: [] });
    // Decided and written while broker 2 is still registered: a hand-off, not a failover.
    expect(members.get(1)!.view.brokers.has(2)).toBe(true);
    expect((await client.range(keys.broker(2))).kvs.length).toBe(1);
    const after = await topic(client, keys, "t");
    for (let p = 0; p < 6; p++) {
      const was = before.partitions[p]!;
      const now = after.partitions[p]!;
      expect(now.isr).toEqual(was.isr.filter((b) => b !== 2));
      expect(now.partitionEpoch).toBe(1);
      if (ledBy2.includes(p)) {
        expect(now.leader).toBe(before.record.replicas[p].find((b) => b !== 2)!);
        expect(now.leaderEpoch).toBe(was.leaderEpoch + 1);
      } else {
        expect(now.leader).toBe(was.leader);
        expect(now.leaderEpoch).toBe(was.leaderEpoch);
      }
    }
    expect(members.get(1)!.partitionController!.stats.leaderChanges).toBe(2);
    expect(members.get(1)!.partitionController!.stats.isrChanges).toBe(4);
    logs.push(`hand-off of 2 leaderships and 6 ISR places: ${Math.round(r.waitedMs)} ms`);
    expect(r.waitedMs).toBeLessThan(5_000);

    // Leaving: the announcement goes with the lease; the same id registers again and is not shutting down.
    await members.get(2)!.close();
    expect((await client.range(keys.shutdown(2))).kvs.length).toBe(0);
    const back = await start(2);
    await waitFor(() => members.get(1)!.view.brokers.has(2) && back.view.ready, { ...ETCD_WAIT, what: "broker 2 registered again" });
    expect(members.get(1)!.view.shuttingDownBrokerIds().size).toBe(0);
    expect((await topic(client, keys, "t")).partitions.every((p) => p!.leader !== 2)).toBe(true);
  });

  test("a partition whose only ISR member is shutting down stays with it; the controller shutting down hands off its own", async () => {
    const { client, members, keys } = await brokers([1, 2]);
    await members.get(1)!.createTopic({ name: "solo", partitions: 2, replicationFactor: 1 });
    await members.get(1)!.createTopic({ name: "pair", partitions: 2, replicationFactor: 2 });
    const solo0 = await topic(client, keys, "solo");
    const onOne = solo0.partitions.findIndex((p) => p!.leader === 1);
    const pair0 = await topic(client, keys, "pair");
    await waitFor(() => members.get(1)!.view.topics.size === 2, { ...ETCD_WAIT, what: "the controller sees both topics" });

    // Broker 1 is the controller: it decides its own hand-off.
    const r = await members.get(1)!.controlledShutdown(10_000);
    expect(r.timedOut).toBe(false);
    expect(r.stays).toEqual([`solo/${onOne}`]);
    expect(logs.some((l) => l.includes("go offline when this broker stops") && l.includes(`solo/${onOne}`))).toBe(true);
    const solo = await topic(client, keys, "solo");
    expect(solo.partitions[onOne]).toEqual(solo0.partitions[onOne]); // untouched
    const pair = await topic(client, keys, "pair");
    for (let p = 0; p < 2; p++) {
      expect(pair.partitions[p]).toMatchObject({ leader: 2, isr: [2] });
      expect(pair.partitions[p]!.leaderEpoch).toBe(pair0.partitions[p]!.leaderEpoch + (pair0.partitions[p]!.leader === 1 ? 1 : 0));
    }
    // Once it stops, the partition only it had goes offline with its ISR kept, as after a crash.
    await members.get(1)!.close();
    await waitFor(async () => (await topic(client, keys, "solo")).partitions[onOne]!.leader === NO_LEADER, { ...ETCD_WAIT, what: "solo offline" });
    expect((await topic(client, keys, "solo")).partitions[onOne]!.isr).toEqual([1]);
  });

  test("a broker dying while another shuts down: its partitions go to the broker that stays", async () => {
    const { client, members, keys } = await brokers([1, 2, 3]);
    await members.get(1)!.createTopic({ name: "d", partitions: 3, replicationFactor: 3 });
    const t0 = await topic(client, keys, "d");
    await waitFor(() => members.get(3)!.view.topics.has("d"), { ...ETCD_WAIT, what: "broker 3 sees d" });
    // Broker 3 announces and waits; broker 2 dies meanwhile (stops renewing: gone after its TTL).
    const r3 = members.get(3)!.controlledShutdown(15_000);
    await members.get(2)!.abandon();
    expect((await r3).timedOut).toBe(false);
    await waitFor(async () => (await topic(client, keys, "d")).partitions.every((p) => p!.leader !== 2 && !p!.isr.includes(2)), { ...ETCD_WAIT, what: "broker 2 gone from d" });
    const t = await topic(client, keys, "d");
    for (let p = 0; p < 3; p++) {
      // Broker 1 is the only live replica that stays: it leads everything, alone in the ISR; 3 is in no ISR.
      expect(t.partitions[p]).toMatchObject({ leader: 1, isr: [1] });
      if (t0.partitions[p]!.leader === 1) expect(t.partitions[p]!.leaderEpoch).toBe(t0.partitions[p]!.leaderEpoch);
      else expect(t.partitions[p]!.leaderEpoch).toBeGreaterThan(t0.partitions[p]!.leaderEpoch);
    }
  });
});

describe("a deposed controller's hand-off", () => {
  test("is refused by etcd; the new controller makes it", async () => {
    const client = new EtcdClient({ endpoints: etcd.endpoints });
    const keys = new ClusterKeys(`csfence${process.pid}`);
    const sessions = new Map<number, LeaseKeeper>();
    const registrations = new Map<number, number>();
    for (const id of [1, 2, 3]) {
      const lease = await LeaseKeeper.grant(client, { ttlSeconds: TTL });
      cleanups.push(() => lease.revoke());
      registrations.set(id, (await registerBroker(client, keys, lease, { id, host: "127.0.0.1", port: 9000 + id, httpPort: 9100 + id, rack: null, startedAtMs: Date.now() })).createRevision);
      sessions.set(id, lease);
    }
    const old = new ControllerElection({ client, keys, lease: sessions.get(1)!, brokerId: 1 });
    cleanups.push(() => old.close());
    expect(await old.campaign()).toBe(true);
    let next = 0;
    const ctx: ControllerContext = { client, keys, election: old, random: (below) => next++ % below };
    await createTopic(ctx, { name: "f", partitions: 3, replicationFactor: 3 });
    expect(await announceShutdown(client, keys, { brokerId: 3, registrationRevision: registrations.get(3)!, leaseId: sessions.get(3)!.id })).toBe(true);
    // Announcing twice under the same lease is the same announcement.
    expect(await announceShutdown(client, keys, { brokerId: 3, registrationRevision: registrations.get(3)!, leaseId: sessions.get(3)!.id })).toBe(true);
    // A stale registration revision (a restarted broker's old announcement) is refused.
    expect(await announceShutdown(client, keys, { brokerId: 2, registrationRevision: registrations.get(2)! - 1, leaseId: sessions.get(2)!.id })).toBe(false);

    // Broker 2 takes over after broker 1's session ends; broker 1 still "decides" the hand-off from what it read.
    const successor = new ControllerElection({ client, keys, lease: sessions.get(2)!, brokerId: 2 });
    cleanups.push(() => successor.close());
    const before = await topic(client, keys, "f");
    // The case that matters: a partition led by the broker that dies, whose next ISR member in assignment order is the one shutting down.
    const skipping = before.record.replicas.findIndex((r, p) => before.partitions[p]!.leader === 1 && r.indexOf(3) < r.indexOf(2));
    expect(skipping).toBeGreaterThanOrEqual(0);
    await client.leaseRevoke(sessions.get(1)!.id);
    expect(await successor.campaign()).toBe(true);
    for (let p = 0; p < 3; p++) {
      const state = before.partitions[p]!;
      const decided = decidePartition(before.record.replicas[p], state, new Set([1, 2, 3]), false, new Set([3]));
      expect(decided).toBeDefined();
      await expect(updatePartitionState(ctx, "f", p, state, () => decided!)).rejects.toBeInstanceOf(ControllerFencedError);
    }
    expect(await topic(client, keys, "f")).toEqual(before);

    // The successor's partition state machine, over a view of the same keys: broker 1 died and broker 3 is shutting down, in
    // one pass; every election skips 3 (for partition `skipping` it comes before 2 in assignment order), and 3 leaves the ISRs.
    const view = ClusterView.start({ client, keys });
    cleanups.push(() => view.close());
    const pc = new PartitionController({ client, election: successor, view, log: (l) => logs.push(l) });
    cleanups.push(() => pc.stop());
    view.subscribe(() => pc.schedule());
    await waitFor(async () => (await topic(client, keys, "f")).partitions.every((p) => p!.leader === 2 && p!.isr.join() === "2"), { ...ETCD_WAIT, what: "the successor's hand-off" });
  });
});

describe("a leader's ISR expansion", () => {
  test("does not take a shutting-down broker back, however caught up; once it registered again it may", async () => {
    const client = new EtcdClient({ endpoints: etcd.endpoints });
    const keys = new ClusterKeys(`csexpand${process.pid}`);
    const sessions = new Map<number, LeaseKeeper>();
    const registrations = new Map<number, number>();
    const register = async (id: number) => {
      const lease = await LeaseKeeper.grant(client, { ttlSeconds: TTL });
      cleanups.push(() => lease.revoke());
      registrations.set(id, (await registerBroker(client, keys, lease, { id, host: "127.0.0.1", port: 9000 + id, httpPort: 9100 + id, rack: null, startedAtMs: Date.now() })).createRevision);
      sessions.set(id, lease);
    };
    for (const id of [1, 2, 3]) await register(id);
    const election = new ControllerElection({ client, keys, lease: sessions.get(1)!, brokerId: 1 });
    cleanups.push(() => election.close());
    expect(await election.campaign()).toBe(true);
    const ctx: ControllerContext = { client, keys, election, random: () => 0 }; // partition 0: replicas [1, 2, 3], led by 1
    await createTopic(ctx, { name: "x", partitions: 1, replicationFactor: 3 });
    const view = ClusterView.start({ client, keys });
    cleanups.push(() => view.close());
    await waitFor(() => view.partitionState("x", 0) !== undefined && view.brokers.size === 3, { what: "the view has x" });
    // Broker 3 announces its shutdown and leaves the ISR (as the controller's pass would do).
    expect(await announceShutdown(client, keys, { brokerId: 3, registrationRevision: registrations.get(3)!, leaseId: sessions.get(3)!.id })).toBe(true);
    await waitFor(() => view.shuttingDownBrokerIds().has(3), { what: "the view sees 3 shutting down" });
    expect((await updatePartitionState(ctx, "x", 0, view.partitionState("x", 0)!, (s) => ({ ...s, isr: [1, 2] }))).applied).toBe(true);
    await waitFor(() => view.partitionState("x", 0)?.partitionEpoch === 1, { what: "the view has the shrink" });
    const expand = { topic: "x", partition: 0, brokerId: 1, leaderEpoch: 0, partitionEpoch: 1, isr: [1, 2, 3] };
    const refused = await alterPartition(ctx, view, expand, sessions.get(1)!.id);
    expect(refused.errorCode).toBe(ErrorCode.INELIGIBLE_REPLICA);
    expect(refused.message).toContain("shutting down");
    // Restarted: a new session and registration, no announcement; the same expansion lands.
    sessions.get(3)!.abandon();
    await client.leaseRevoke(sessions.get(3)!.id);
    await register(3);
    await waitFor(() => view.brokers.get(3)?.createRevision === registrations.get(3) && !view.shuttingDownBrokerIds().has(3), { what: "3 registered again" });
    expect((await alterPartition(ctx, view, expand, sessions.get(1)!.id)).errorCode).toBe(ErrorCode.NONE);
  });
});
