// The controller's partition state machine: decisions (pure), and against
// real etcd with brokers whose sessions really expire: a dead leader's
// partitions get a new leader from the ISR with the next leader epoch, dead
// followers leave the ISR, a partition with no live ISR member goes offline
// and comes back with its ISR member, and a new controller finishes the work
// of a dead one.

import { describe, expect, test } from "bun:test";
import { useEtcd } from "../test/support/use_etcd.ts";
import { startMembers } from "../test/support/cluster_members.ts";
import { waitFor } from "../test/support/wait_for.ts";
import type { ClusterMember } from "./cluster_member.ts";
import { readClusterStatus } from "./cluster_status.ts";
import { ControllerFencedError } from "./controller_election.ts";
import type { EtcdClient } from "./etcd_client.ts";
import { decidePartition } from "./partition_controller.ts";
import { NO_LEADER, readTopics, type TopicView } from "./topic_metadata.ts";

describe("partition decisions", () => {
  const live = (...ids: number[]) => new Set(ids);
  const s = (leader: number, isr: number[], leaderEpoch = 3) => ({ leader, leaderEpoch, isr, partitionEpoch: 7 });

  test("nothing to do while the leader and the whole ISR live", () => {
    expect(decidePartition([1, 2, 3], s(1, [1, 2, 3]), live(1, 2, 3), false)).toBeUndefined();
    expect(decidePartition([1, 2, 3], s(1, [1, 2]), live(1, 2, 3), false)).toBeUndefined(); // 3 rejoins by catching up, not here
  });

  test("a dead follower leaves the ISR; the leader and its epoch stay", () => {
    expect(decidePartition([1, 2, 3], s(1, [1, 2, 3]), live(1, 3), false)).toEqual({ leader: 1, leaderEpoch: 3, isr: [1, 3] });
  });

  test("a dead leader: the first live ISR member in assignment order leads, next leader epoch", () => {
    expect(decidePartition([1, 2, 3], s(1, [3, 1, 2]), live(2, 3), false)).toEqual({ leader: 2, leaderEpoch: 4, isr: [3, 2] });
    // a live replica outside the ISR is never chosen by a clean election
    expect(decidePartition([1, 2, 3], s(1, [1, 3]), live(2, 3), false)).toEqual({ leader: 3, leaderEpoch: 4, isr: [3] });
  });

  test("no live ISR member: offline with the ISR kept; its member leads again when back; unclean only when asked", () => {
    const offline = decidePartition([1, 2], s(1, [1]), live(2), false);
    expect(offline).toEqual({ leader: NO_LEADER, leaderEpoch: 4, isr: [1] });
    expect(decidePartition([1, 2], s(NO_LEADER, [1], 4), live(2), false)).toBeUndefined();
    expect(decidePartition([1, 2], s(NO_LEADER, [1], 4), live(1, 2), false)).toEqual({ leader: 1, leaderEpoch: 5, isr: [1] });
    expect(decidePartition([1, 2], s(1, [1]), live(2), true)).toEqual({ leader: 2, leaderEpoch: 4, isr: [2] });
  });
});

const TTL = 2;
const etcd = useEtcd();
const { cleanups } = etcd;
const logs: string[] = [];

let seq = 0;

function brokers(ids: number[]) {
  return startMembers({ endpoints: etcd.endpoints, clusterName: `pc${process.pid}-${++seq}`, ids, leaseTtlSeconds: TTL, log: (line) => logs.push(line), cleanups });
}

async function topic(client: EtcdClient, keys: ClusterMember["keys"], name: string): Promise<TopicView> {
  return (await readTopics(client, keys)).topics.find((t) => t.name === name)!;
}

describe("the controller repairs partitions when brokers die", () => {
  test("a dead follower broker leaves every ISR; a dead leader broker's partitions move, with the next leader epoch", async () => {
    const { client, members, keys } = await brokers([1, 2, 3]);
    const controller = members.get(1)!;
    await controller.createTopic({ name: "t", partitions: 6, replicationFactor: 3 });
    const before = await topic(client, keys, "t");
    const ledBy2 = before.partitions.map((p, i) => (p!.leader === 2 ? i : -1)).filter((i) => i >= 0);
    expect(ledBy2.length).toBe(2);
    const diedAt = performance.now();
    await members.get(2)!.abandon(); // broker 2 stops renewing: etcd expires it after the TTL
    await waitFor(async () => (await topic(client, keys, "t")).partitions.every((p) => p!.leader !== 2 && !p!.isr.includes(2)), { what: "broker 2 in no partition's state", timeoutMs: 10_000, everyMs: 25 });
    const repairedMs = performance.now() - diedAt;
    const after = await topic(client, keys, "t");
    for (let p = 0; p < 6; p++) {
      const was = before.partitions[p]!;
      const now = after.partitions[p]!;
      expect(now.isr).toEqual(was.isr.filter((b) => b !== 2));
      expect(now.partitionEpoch).toBe(1);
      if (ledBy2.includes(p)) {
        expect(now.leader).toBe(before.record.replicas[p].find((b) => b !== 2)!);
        expect(now.leaderEpoch).toBe(1);
      } else {
        expect(now.leader).toBe(was.leader);
        expect(now.leaderEpoch).toBe(0);
      }
    }
    expect(repairedMs).toBeLessThan(TTL * 1000 + 1_500);
    expect(controller.partitionController!.stats.leaderChanges).toBe(2);
    expect(controller.partitionController!.stats.isrChanges).toBe(4);
    expect((await readClusterStatus(client, keys)).partitions).toEqual({ total: 6, offline: 0, underReplicated: 6 });
  });

  test("when the controller itself dies, the new controller repairs its partitions", async () => {
    const { client, members, keys } = await brokers([1, 2, 3]);
    await members.get(1)!.createTopic({ name: "c", partitions: 3, replicationFactor: 2 });
    await expect(members.get(2)!.createTopic({ name: "not-controller", partitions: 1, replicationFactor: 1 })).rejects.toBeInstanceOf(ControllerFencedError);
    await members.get(1)!.abandon();
    await waitFor(() => members.get(2)!.isController || members.get(3)!.isController, { what: "a new controller", timeoutMs: 10_000, everyMs: 25 });
    await waitFor(async () => (await topic(client, keys, "c")).partitions.every((p) => p!.leader !== 1 && !p!.isr.includes(1)), { what: "no partition names broker 1", timeoutMs: 10_000, everyMs: 25 });
    const t = await topic(client, keys, "c");
    for (let i = 0; i < 3; i++) {
      const p = t.partitions[i]!;
      expect(p.isr).toEqual(t.record.replicas[i].filter((b) => b !== 1));
      expect(p.leader).toBe(p.isr[0]);
    }
  });

  test("a partition with no live ISR member goes offline, and comes back led by that member when it returns", async () => {
    const { client, members, keys, start } = await brokers([1, 2]);
    await members.get(1)!.createTopic({ name: "solo", partitions: 2, replicationFactor: 1 });
    const t0 = await topic(client, keys, "solo");
    const onTwo = t0.partitions.findIndex((p) => p!.leader === 2);
    expect(onTwo).toBeGreaterThanOrEqual(0);
    await members.get(2)!.abandon();
    await waitFor(async () => (await topic(client, keys, "solo")).partitions[onTwo]!.leader === NO_LEADER, { what: "offline", timeoutMs: 10_000, everyMs: 25 });
    const offline = (await topic(client, keys, "solo")).partitions[onTwo]!;
    expect(offline).toMatchObject({ leader: NO_LEADER, leaderEpoch: 1, isr: [2] });
    expect((await readClusterStatus(client, keys)).partitions.offline).toBe(1);
    await start(2); // the same broker id registers again (its old lease expired)
    await waitFor(async () => (await topic(client, keys, "solo")).partitions[onTwo]!.leader === 2, { what: "back online", timeoutMs: 10_000, everyMs: 25 });
    expect((await topic(client, keys, "solo")).partitions[onTwo]).toMatchObject({ leader: 2, leaderEpoch: 2, isr: [2] });
    expect((await readClusterStatus(client, keys)).partitions.offline).toBe(0);
  });
});
