// Preferred leader elections against real etcd, with registered brokers whose
// leases are real: `electLeaders` asked as a request key and answered by the
// controller's request server (moved / already leader / not in ISR / not
// registered / shutting down, each with its code; states written with the
// next leader epoch and nothing else touched), a scope that names nothing
// refused, and the automatic balancer moving back only the partitions of a
// broker above the imbalance threshold, on its timer.

import { describe, expect, test } from "bun:test";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { useEtcd } from "../test/support/use_etcd.ts";
import { startControllerCluster } from "../test/support/controller_cluster.ts";
import { waitFor } from "../test/support/wait_for.ts";
import { ClusterView } from "./cluster_view.ts";
import { announceShutdown } from "./controlled_shutdown.ts";
import { createTopic, updatePartitionState } from "./controller_topics.ts";
import { LeaderBalancer } from "./leader_balancer.ts";
import type { PartitionState } from "./topic_metadata.ts";
import { submitTopicRequest, TopicRequestServer } from "./topic_requests.ts";

const TTL = 2;
const etcd = useEtcd();
const { cleanups } = etcd;

/** `ids` registered brokers, the first controller, a view and the controller's request server. */
async function cluster(ids: number[]) {
  const c = await startControllerCluster({ endpoints: etcd.endpoints, namePrefix: "elect", ids, ttlSeconds: TTL, cleanups });
  const view = ClusterView.start({ client: c.client, keys: c.keys });
  cleanups.push(() => view.close());
  await waitFor(() => view.ready && view.brokers.size === ids.length, { what: "the view" });
  return { ...c, view };
}

/** Sets a partition's leader and ISR by the controller's CAS (a past failover, in short). */
async function setState(c: Awaited<ReturnType<typeof cluster>>, topic: string, p: number, leader: number, isr: number[]): Promise<void> {
  const state = c.view.partitionState(topic, p)!;
  const r = await updatePartitionState(c.ctx, topic, p, state, (s) => ({ leader, leaderEpoch: s.leaderEpoch + 1, isr }));
  expect(r.applied).toBe(true);
  await waitFor(() => c.view.partitionState(topic, p)?.partitionEpoch === state.partitionEpoch + 1, { what: `the view of ${topic}/${p}` });
}

describe("preferred leader elections", () => {
  test("elect-leaders moves each partition whose first replica is registered, staying and in the ISR, and says why the others stay", async () => {
    const c = await cluster([1, 2, 3, 4]);
    const server = new TopicRequestServer({ ctx: c.ctx, view: c.view, isController: () => c.election.isController, log: () => {} });
    cleanups.push(async () => server.stop());
    const unsubscribe = c.view.subscribe(() => server.schedule());
    cleanups.push(async () => void unsubscribe());
    const { record } = await createTopic(c.ctx, { name: "t", partitions: 8, replicationFactor: 3, configs: {} });
    await waitFor(() => c.view.topics.has("t") && c.view.partitions.get("t")?.size === 8, { what: "the topic in the view" });
    // Per first replica, two partitions each: set the states a failover would have left.
    const expected = new Map<number, { code: number; reason: string }>();
    const seen = new Map<number, number>();
    for (let p = 0; p < 8; p++) {
      const [first, second] = record.replicas[p];
      const nth = seen.get(first) ?? 0;
      seen.set(first, nth + 1);
      const all = [...record.replicas[p]];
      if (first === 4) {
        await setState(c, "t", p, second, all);
        expected.set(p, { code: ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, reason: "not registered" });
      } else if (first === 3) {
        await setState(c, "t", p, second, all);
        expected.set(p, { code: ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, reason: "shutting down" });
      } else if (nth === 0) {
        await setState(c, "t", p, second, all);
        expected.set(p, { code: ErrorCode.NONE, reason: "moved" });
      } else if (first === 1) {
        await setState(c, "t", p, second, all.filter((b) => b !== 1));
        expected.set(p, { code: ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, reason: "not in ISR" });
      } else {
        expected.set(p, { code: ErrorCode.ELECTION_NOT_NEEDED, reason: "already leader" });
      }
    }
    expect([...seen.values()]).toEqual([2, 2, 2, 2]);
    await announceShutdown(c.client, c.keys, { brokerId: 3, registrationRevision: c.registrations.get(3)!, leaseId: c.leases.get(3)!.id });
    await c.leases.get(4)!.revoke();
    await waitFor(() => c.view.shuttingDownBrokerIds().has(3) && !c.view.brokers.has(4), { what: "3 shutting down, 4 gone" });
    const before = new Map([...c.view.partitions.get("t")!].map(([p, s]) => [p, { ...s }]));

    const r = await submitTopicRequest({ client: c.client, keys: c.keys, view: c.view, leaseId: c.leases.get(2)!.id }, { op: "electLeaders" });
    const e = r.elections!;
    expect(e.partitions.length).toBe(8);
    for (const got of e.partitions) expect({ p: got.partition, code: got.errorCode, reason: got.reason }).toEqual({ p: got.partition, ...expected.get(got.partition)! });
    expect(e.moved).toBe(2);
    expect(e.notNeeded).toBe(1);
    expect(e.notAvailable).toBe(5);
    expect(e.omitted).toBe(0);
    // Already leader sorts last.
    expect(e.partitions[7].errorCode).toBe(ErrorCode.ELECTION_NOT_NEEDED);
    for (let p = 0; p < 8; p++) {
      const s = c.view.partitionState("t", p)!;
      const b = before.get(p)!;
      if (expected.get(p)!.code === ErrorCode.NONE) {
        expect(s).toMatchObject({ leader: record.replicas[p][0], leaderEpoch: b.leaderEpoch + 1, isr: b.isr, partitionEpoch: b.partitionEpoch + 1 });
      } else {
        expect(s.partitionEpoch).toBe(b.partitionEpoch);
      }
    }

    // One partition: the one whose first replica was out of the ISR, once it is back in.
    const outOfSync = [...expected].find(([, x]) => x.reason === "not in ISR")![0];
    await setState(c, "t", outOfSync, record.replicas[outOfSync][1], [...record.replicas[outOfSync]]);
    const one = await submitTopicRequest({ client: c.client, keys: c.keys, view: c.view, leaseId: c.leases.get(2)!.id }, { op: "electLeaders", topic: "t", partition: outOfSync });
    expect(one.elections!.partitions).toEqual([{ topic: "t", partition: outOfSync, errorCode: ErrorCode.NONE, reason: "moved", leader: 1 }]);
    expect(c.view.partitionState("t", outOfSync)!.leader).toBe(1);

    // A scope that names nothing is refused with its code.
    const asked = (req: Parameters<typeof submitTopicRequest>[1]) =>
      submitTopicRequest({ client: c.client, keys: c.keys, view: c.view, leaseId: c.leases.get(2)!.id }, req).then(
        () => undefined,
        (err) => err as SluiceError,
      );
    expect((await asked({ op: "electLeaders", topic: "nope" }))?.code).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect((await asked({ op: "electLeaders", topic: "t", partition: 8 }))?.code).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect((await asked({ op: "electLeaders", partition: 0 }))?.code).toBe(ErrorCode.INVALID_REQUEST);
  });

  test("the automatic balancer moves back only the partitions of a broker above the threshold, on its timer", async () => {
    const c = await cluster([1, 2, 3]);
    const { record } = await createTopic(c.ctx, { name: "b", partitions: 6, replicationFactor: 3, configs: {} });
    await waitFor(() => c.view.partitions.get("b")?.size === 6, { what: "the topic in the view" });
    // Broker 1's two preferred partitions both led by others (imbalance 1.0); broker 2 one of two (0.5); broker 3 none.
    const firstOf = (b: number) => [0, 1, 2, 3, 4, 5].filter((p) => record.replicas[p][0] === b);
    const moved: number[] = [];
    for (const p of firstOf(1)) {
      await setState(c, "b", p, record.replicas[p][1], [...record.replicas[p]]);
      moved.push(p);
    }
    const halfOf2 = firstOf(2)[0];
    await setState(c, "b", halfOf2, record.replicas[halfOf2][1], [...record.replicas[halfOf2]]);
    const state = (p: number): PartitionState => c.view.partitionState("b", p)!;
    const epochOf2 = state(halfOf2).partitionEpoch;

    const logs: string[] = [];
    const balancer = new LeaderBalancer({ ctx: c.ctx, view: c.view, isController: () => c.election.isController, intervalMs: 100, thresholdRatio: 0.6, log: (l) => logs.push(l) });
    cleanups.push(() => balancer.stop());
    await waitFor(() => moved.every((p) => state(p).leader === 1), { what: "broker 1's partitions back on broker 1" });
    // At 50 %, broker 2 is below 60 %: its partition stays where it is, check after check.
    const checks = balancer.stats.checks;
    await waitFor(() => balancer.stats.checks >= checks + 3, { what: "three more checks" });
    expect(state(halfOf2).partitionEpoch).toBe(epochOf2);
    expect(balancer.stats.moved).toBe(2);
    expect(logs.filter((l) => l.includes("(preferred;")).length).toBe(2);
  });
});
