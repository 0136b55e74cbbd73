// Topics in etcd, written by the controller against real etcd: placement over
// the live brokers only, the first partition states, RF above the live count
// refused, the partition state CAS, and every write fenced.

import { describe, expect, test } from "bun:test";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { useEtcd } from "../test/support/use_etcd.ts";
import { startControllerCluster } from "../test/support/controller_cluster.ts";
import { waitFor } from "../test/support/wait_for.ts";
import { listBrokers } from "./broker_registration.ts";
import { readClusterStatus } from "./cluster_status.ts";
import { ControllerElection, ControllerFencedError } from "./controller_election.ts";
import { createTopic, deleteTopic, updatePartitionState } from "./controller_topics.ts";
import { readTopics } from "./topic_metadata.ts";

const TTL = 2;
const etcd = useEtcd();
const { cleanups } = etcd;

/** `ids` registered brokers, the first of them controller. */
function cluster(ids: number[]) {
  return startControllerCluster({ endpoints: etcd.endpoints, namePrefix: "topics", ids, ttlSeconds: TTL, cleanups });
}

async function refusal(p: Promise<unknown>): Promise<SluiceError> {
  const e = await p.then(() => undefined, (err) => err);
  expect(e).toBeInstanceOf(SluiceError);
  return e as SluiceError;
}

describe("topics written by the controller", () => {
  test("RF 3 over three brokers: every partition on all three, leaders spread, ISR = replicas, epochs 0", async () => {
    const { client, keys, ctx } = await cluster([1, 2, 3]);
    const created = await createTopic(ctx, { name: "orders", partitions: 6, replicationFactor: 3, configs: { "min.insync.replicas": "2" } });
    const { topics } = await readTopics(client, keys);
    expect(topics.map((t) => t.name)).toEqual(["orders"]);
    const t = topics[0];
    expect(t.record).toEqual(created.record);
    expect(t.record.configs).toEqual({ "min.insync.replicas": "2" });
    const leaders = new Map<number, number>();
    for (let p = 0; p < 6; p++) {
      const replicas = t.record.replicas[p];
      expect([...replicas].sort()).toEqual([1, 2, 3]);
      const s = t.partitions[p]!;
      expect(s).toMatchObject({ leader: replicas[0], leaderEpoch: 0, isr: replicas, partitionEpoch: 0 });
      expect(s.modRevision).toBeGreaterThan(0);
      leaders.set(s.leader, (leaders.get(s.leader) ?? 0) + 1);
    }
    expect([...leaders.values()]).toEqual([2, 2, 2]);
    const status = await readClusterStatus(client, keys);
    expect(status.topics).toBe(1);
    expect(status.partitions).toEqual({ total: 6, offline: 0, underReplicated: 0 });
  });

  test("RF above the live brokers is INVALID_REPLICATION_FACTOR and writes nothing; an existing topic is TOPIC_ALREADY_EXISTS", async () => {
    const { client, keys, ctx } = await cluster([1, 2]);
    const e = await refusal(createTopic(ctx, { name: "big", partitions: 2, replicationFactor: 3 }));
    expect(e.code).toBe(ErrorCode.INVALID_REPLICATION_FACTOR);
    expect(e.message).toContain("larger than the number of live brokers (2: 1, 2)");
    expect((await client.range(keys.root, { prefix: true })).kvs.filter((kv) => !kv.key.startsWith(keys.brokersPrefix) && kv.key !== keys.controller)).toEqual([]);
    await createTopic(ctx, { name: "t", partitions: 1, replicationFactor: 2 });
    expect((await refusal(createTopic(ctx, { name: "t", partitions: 3, replicationFactor: 1 }))).code).toBe(ErrorCode.TOPIC_ALREADY_EXISTS);
    expect((await refusal(createTopic(ctx, { name: "bad/name", partitions: 1, replicationFactor: 1 }))).code).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION);
    expect((await refusal(createTopic(ctx, { name: "z", partitions: 0, replicationFactor: 1 }))).code).toBe(ErrorCode.INVALID_PARTITIONS);
  });

  test("replicas go only to live brokers: a broker whose lease expired gets none, and RF 3 of 2 live is refused", async () => {
    const { client, keys, ctx, leases } = await cluster([1, 2, 3]);
    leases.get(3)!.abandon();
    await waitFor(async () => (await listBrokers(client, keys)).brokers.length === 2, { what: "broker 3 gone", timeoutMs: 10_000, everyMs: 50 });
    const { record } = await createTopic(ctx, { name: "after", partitions: 8, replicationFactor: 2 });
    expect(new Set(record.replicas.flat())).toEqual(new Set([1, 2]));
    expect((await refusal(createTopic(ctx, { name: "three", partitions: 1, replicationFactor: 3 }))).code).toBe(ErrorCode.INVALID_REPLICATION_FACTOR);
  });

  test("a topic of 250 partitions (more than one transaction) is written whole", async () => {
    const { client, keys, ctx } = await cluster([1, 2, 3]);
    await createTopic(ctx, { name: "wide", partitions: 250, replicationFactor: 2 });
    const { topics } = await readTopics(client, keys);
    expect(topics[0].partitions.length).toBe(250);
    expect(topics[0].partitions.every((s) => s !== undefined && s.isr.length === 2)).toBe(true);
    await deleteTopic(ctx, "wide");
    expect((await client.range(keys.partitionsOf("wide"), { prefix: true })).count).toBe(0);
    expect((await readTopics(client, keys)).topics).toEqual([]);
    expect((await refusal(deleteTopic(ctx, "wide"))).code).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  test("partition state CAS: of two changes from the same state one lands, the other sees the new state; epochs only grow", async () => {
    const { client, keys, ctx } = await cluster([1, 2, 3]);
    await createTopic(ctx, { name: "cas", partitions: 1, replicationFactor: 3 });
    const s0 = (await readTopics(client, keys)).topics[0].partitions[0]!;
    const [shrink, elect] = await Promise.all([
      updatePartitionState(ctx, "cas", 0, s0, (s) => ({ ...s, isr: s.isr.filter((b) => b !== s.isr[2]) })),
      updatePartitionState(ctx, "cas", 0, s0, (s) => ({ ...s, leader: s.isr[1], leaderEpoch: s.leaderEpoch + 1 })),
    ]);
    expect([shrink.applied, elect.applied].filter(Boolean).length).toBe(1);
    const won = shrink.applied ? shrink : elect;
    const lost = shrink.applied ? elect : shrink;
    if (!won.applied || lost.applied) throw new Error("unreachable");
    expect(won.state.partitionEpoch).toBe(1);
    expect(lost.current).toEqual(won.state);
    const stored = (await readTopics(client, keys)).topics[0].partitions[0]!;
    expect(stored).toEqual(won.state);
    // Deciding again from the current state lands.
    expect((await readClusterStatus(client, keys)).partitions.underReplicated).toBe(shrink.applied ? 1 : 0);
    const again = await updatePartitionState(ctx, "cas", 0, lost.current!, (s) => ({ ...s, isr: s.isr.slice(0, 2) }));
    if (!again.applied) throw new Error("the change from the current state must land");
    expect(again.state.partitionEpoch).toBe(2);
    const bumped = await updatePartitionState(ctx, "cas", 0, again.state, (s) => ({ ...s, leaderEpoch: s.leaderEpoch + 1 }));
    if (!bumped.applied) throw new Error("the leader epoch bump must land");
    await expect(updatePartitionState(ctx, "cas", 0, bumped.state, (s) => ({ ...s, leaderEpoch: s.leaderEpoch - 1 }))).rejects.toThrow(/cannot go back/);
  });

  test("a deposed controller can neither create topics nor change partition states", async () => {
    const { client, keys, ctx, leases } = await cluster([1, 2]);
    await createTopic(ctx, { name: "before", partitions: 1, replicationFactor: 2 });
    const s0 = (await readTopics(client, keys)).topics[0].partitions[0]!;
    // Broker 2 takes over after broker 1's session is revoked (as if it expired).
    const other = new ControllerElection({ client, keys, lease: leases.get(2)!, brokerId: 2 });
    cleanups.push(() => other.close());
    await client.leaseRevoke(leases.get(1)!.id);
    expect(await other.campaign()).toBe(true);
    await expect(createTopic(ctx, { name: "after", partitions: 1, replicationFactor: 1 })).rejects.toBeInstanceOf(ControllerFencedError);
    await expect(updatePartitionState(ctx, "before", 0, s0, (s) => ({ ...s, isr: [s.leader] }))).rejects.toBeInstanceOf(ControllerFencedError);
    const { topics } = await readTopics(client, keys);
    expect(topics.map((t) => t.name)).toEqual(["before"]);
    expect(topics[0].partitions[0]).toEqual(s0);
  });
});
