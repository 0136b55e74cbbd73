// ISR changes proposed by a partition's leader and decided by the controller
// (alter_partition.ts), against real etcd: the checks and their codes, the
// write fenced on the asker's registration lease, and the whole round trip as
// a request key (topic_requests.ts) answered with the new state.

import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { type EtcdCluster, startEtcd } from "../test/support/etcd.ts";
import { waitFor } from "../test/support/wait_for.ts";
import { alterPartition, type AlterPartitionRequest } from "./alter_partition.ts";
import { registerBroker } from "./broker_registration.ts";
import { ClusterKeys } from "./cluster_keys.ts";
import { ClusterView } from "./cluster_view.ts";
import { ControllerElection, ControllerFencedError } from "./controller_election.ts";
import { type ControllerContext, createTopic, updatePartitionState } from "./controller_topics.ts";
import { EtcdClient } from "./etcd_client.ts";
import { LeaseKeeper } from "./lease_keeper.ts";
import { submitTopicRequest, TopicRequestServer } from "./topic_requests.ts";

const TTL = 2;
let etcd: EtcdCluster;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  etcd = await startEtcd({ members: 1 });
});
afterAll(async () => {
  await etcd?.stop();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => {});
});

let seq = 0;

/** Brokers 1, 2, 3 registered, broker 1 controller, a topic "t" of one partition with replicas [1, 2, 3] led by 1, and a view. */
async function cluster() {
  const client = new EtcdClient({ endpoints: etcd.endpoints });
  const keys = new ClusterKeys(`alter${process.pid}-${++seq}`);
  const sessions = new Map<number, LeaseKeeper>();
  for (const id of [1, 2, 3]) {
    const lease = await LeaseKeeper.grant(client, { ttlSeconds: TTL });
    cleanups.push(() => lease.revoke());
    await registerBroker(client, keys, lease, { id, host: "127.0.0.1", port: 9000 + id, httpPort: 9100 + id, rack: null, startedAtMs: Date.now() });
    sessions.set(id, lease);
  }
  const election = new ControllerElection({ client, keys, lease: sessions.get(1)!, brokerId: 1 });
  cleanups.push(() => election.close());
  expect(await election.campaign()).toBe(true);
  // Placement offsets 0: partition 0's replicas are [1, 2, 3], led by 1.
  const ctx: ControllerContext = { client, keys, election, random: () => 0 };
  await createTopic(ctx, { name: "t", partitions: 1, replicationFactor: 3 });
  const view = ClusterView.start({ client, keys });
  cleanups.push(() => view.close());
  await waitFor(() => view.partitionState("t", 0) !== undefined && view.brokers.size === 3, { what: "the view has the topic" });
  expect(view.partitionState("t", 0)).toMatchObject({ leader: 1, isr: [1, 2, 3], leaderEpoch: 0, partitionEpoch: 0 });
  return { client, keys, sessions, election, ctx, view };
}

const base: AlterPartitionRequest = { topic: "t", partition: 0, brokerId: 1, leaderEpoch: 0, partitionEpoch: 0, isr: [1, 2] };

describe("AlterPartition decided by the controller", () => {
  test("a shrink from the current state lands with the partition epoch bumped; stale or wrong proposals get their codes and write nothing", async () => {
    const { ctx, view, sessions } = await cluster();
    const lease1 = sessions.get(1)!.id;
    // Refusals first, each against the current state (partition epoch 0).
    const codes = async (req: Partial<AlterPartitionRequest>, lease = lease1) => (await alterPartition(ctx, view, { ...base, ...req }, lease)).errorCode;
    expect(await codes({ topic: "nope" })).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect(await codes({ partition: 1 })).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect(await codes({ brokerId: 2 }, sessions.get(2)!.id)).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect(await codes({ leaderEpoch: 1 })).toBe(ErrorCode.UNKNOWN_LEADER_EPOCH);
    expect(await codes({ partitionEpoch: 1 })).toBe(ErrorCode.INVALID_UPDATE_VERSION);
    expect(await codes({ isr: [2, 3] })).toBe(ErrorCode.INVALID_REQUEST); // without the leader
    expect(await codes({ isr: [1, 4] })).toBe(ErrorCode.INVALID_REQUEST); // 4 is not a replica
    expect(await codes({ isr: [1, 1] })).toBe(ErrorCode.INVALID_REQUEST);
    // Broker 1's registration is under its own lease, not broker 2's: the write is refused.
    expect(await codes({}, sessions.get(2)!.id)).toBe(ErrorCode.STALE_BROKER_EPOCH);
    expect(view.partitionState("t", 0)).toMatchObject({ isr: [1, 2, 3], partitionEpoch: 0 });

    const r = await alterPartition(ctx, view, base, lease1);
    expect(r).toEqual({ errorCode: ErrorCode.NONE, message: null, state: { leader: 1, leaderEpoch: 0, isr: [1, 2], partitionEpoch: 1 } });
    await waitFor(() => view.partitionState("t", 0)?.partitionEpoch === 1, { what: "the view has the change" });
    // The same proposal again is stale now.
    expect(await codes({})).toBe(ErrorCode.INVALID_UPDATE_VERSION);
    // Expanding with a broker that is not registered is refused; with a registered one it lands.
    sessions.get(3)!.abandon();
    await ctx.client.leaseRevoke(sessions.get(3)!.id);
    await waitFor(() => !view.brokers.has(3), { what: "broker 3 gone from the view" });
    expect(await codes({ partitionEpoch: 1, isr: [1, 2, 3] })).toBe(ErrorCode.INELIGIBLE_REPLICA);
    expect(await codes({ partitionEpoch: 1, isr: [1] })).toBe(ErrorCode.NONE);
    await waitFor(() => view.partitionState("t", 0)?.partitionEpoch === 2, { what: "the view has the second change" });
    expect(await codes({ partitionEpoch: 2, isr: [1, 2] })).toBe(ErrorCode.NONE);
  });

  test("an older leader epoch is FENCED_LEADER_EPOCH; a deposed controller writes nothing", async () => {
    const { ctx, view, sessions, client, keys } = await cluster();
    // A leader change (as the partition state machine writes it): broker 2 leads in epoch 1.
    const s0 = view.partitionState("t", 0)!;
    const moved = await updatePartitionState(ctx, "t", 0, s0, (s) => ({ leader: 2, leaderEpoch: s.leaderEpoch + 1, isr: [2, 3] }));
    expect(moved.applied).toBe(true);
    await waitFor(() => view.partitionState("t", 0)?.leaderEpoch === 1, { what: "the view has the new leader" });
    expect((await alterPartition(ctx, view, { ...base, partitionEpoch: 1 }, sessions.get(1)!.id)).errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH);
    // Broker 2 takes the controllership after broker 1's session ends: broker 1's decisions no longer land.
    const other = new ControllerElection({ client, keys, lease: sessions.get(2)!, brokerId: 2 });
    cleanups.push(() => other.close());
    sessions.get(1)!.abandon();
    await client.leaseRevoke(sessions.get(1)!.id);
    expect(await other.campaign()).toBe(true);
    await expect(alterPartition(ctx, view, { ...base, brokerId: 2, leaderEpoch: 1, partitionEpoch: 1, isr: [2] }, sessions.get(2)!.id)).rejects.toBeInstanceOf(ControllerFencedError);
  });

  test("the round trip as a request key: the leader puts it under its lease, the controller answers with the new state", async () => {
    const { client, keys, ctx, view, sessions, election } = await cluster();
    const server = new TopicRequestServer({ ctx, view, isController: () => election.isController, log: () => {} });
    cleanups.push(() => server.stop());
    const unsubscribe = view.subscribe(() => server.schedule());
    cleanups.push(unsubscribe);
    const ask = (req: Partial<AlterPartitionRequest>) =>
      submitTopicRequest({ client, keys, view, leaseId: sessions.get(1)!.id }, { op: "alterPartition", ...base, ...req, isr: [...(req.isr ?? base.isr)] }, 5_000);
    const r = await ask({});
    expect(r.state).toEqual({ leader: 1, leaderEpoch: 0, isr: [1, 2], partitionEpoch: 1 });
    const refused = await ask({}).then(() => undefined, (e) => e);
    expect(refused).toBeInstanceOf(SluiceError);
    expect((refused as SluiceError).code).toBe(ErrorCode.INVALID_UPDATE_VERSION);
    // The asker deleted its request keys once answered.
    await waitFor(() => view.requests.size === 0, { what: "no request key left" });
  });
});
