// `sluice partitions reassign --generate` against real etcd: a topic placed on
// three brokers, a fourth joins, and the printed plan (read back with the plan
// parser) balances replicas and leaders over four, moving a quarter of the
// replicas; a broker that is not registered is refused.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { registerBroker } from "../cluster/broker_registration.ts";
import { ClusterKeys } from "../cluster/cluster_keys.ts";
import { ControllerElection } from "../cluster/controller_election.ts";
import { createTopic } from "../cluster/controller_topics.ts";
import { EtcdClient } from "../cluster/etcd_client.ts";
import { LeaseKeeper } from "../cluster/lease_keeper.ts";
import { parseReassignmentPlan } from "../cluster/reassignment_plan.ts";
import { readTopics } from "../cluster/topic_metadata.ts";
import { type EtcdCluster, startEtcd } from "../test/support/etcd.ts";

const ROOT = path.resolve(import.meta.dir, "..");
const BUN = path.join(ROOT, "node_modules", ".bin", "bun");
let etcd: EtcdCluster;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  etcd = await startEtcd({ members: 1 });
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await etcd?.stop();
});

function cli(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(BUN, ["cli/main.ts", "partitions", ...args], { cwd: ROOT, encoding: "utf8", timeout: 30_000, env: { ...process.env, SLUICE_CLUSTER_ETCD: "" } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test("3 → 4 brokers: the generated plan moves a quarter of the replicas and evens replicas and leaders", async () => {
  const client = new EtcdClient({ endpoints: etcd.endpoints });
  const keys = new ClusterKeys(`reassign${process.pid}`);
  const leases = new Map<number, LeaseKeeper>();
  const join = async (id: number) => {
    const lease = await LeaseKeeper.grant(client, { ttlSeconds: 5 });
    cleanups.push(() => lease.revoke());
    await registerBroker(client, keys, lease, { id, host: "127.0.0.1", port: 9000 + id, httpPort: 9100 + id, rack: null, startedAtMs: Date.now() });
    leases.set(id, lease);
  };
  for (const id of [1, 2, 3]) await join(id);
  const election = new ControllerElection({ client, keys, lease: leases.get(1)!, brokerId: 1 });
  cleanups.push(() => election.close());
  expect(await election.campaign()).toBe(true);
  let n = 0;
  const ctx = { client, keys, election, random: (below: number) => n++ % below };
  await createTopic(ctx, { name: "orders", partitions: 8, replicationFactor: 3, configs: {} });
  await createTopic(ctx, { name: "audit", partitions: 4, replicationFactor: 2, configs: {} });
  await join(4);

  const common = ["reassign", "--generate", "--etcd", etcd.endpoints.join(","), "--cluster-name", keys.cluster];
  const r = cli([...common, "--brokers", "1,2,3,4"]);
  expect(r.stderr).toContain("BROKER");
  expect(r.code).toBe(0);
  const plan = parseReassignmentPlan(r.stdout);
  // 8×3 + 4×2 = 32 replicas: broker 4 must end with 8, and only those are copied.
  expect(r.stderr).toContain("8 replicas to copy");
  const after = new Map<number, { replicas: number; leaders: number }>([1, 2, 3, 4].map((b) => [b, { replicas: 0, leaders: 0 }]));
  const { topics } = await readTopics(client, keys);
  for (const t of topics) {
    t.record.replicas.forEach((replicas, p) => {
      const planned = plan.partitions.find((e) => e.topic === t.name && e.partition === p)?.replicas ?? replicas;
      expect(new Set(planned).size).toBe(replicas.length);
      planned.forEach((b, i) => {
        after.get(b)!.replicas++;
        if (i === 0) after.get(b)!.leaders++;
      });
    });
  }
  expect([...after.values()].map((l) => l.replicas)).toEqual([8, 8, 8, 8]);
  expect([...after.values()].map((l) => l.leaders)).toEqual([3, 3, 3, 3]);

  // Limited to one topic: only its partitions are planned.
  const one = cli([...common, "--brokers", "1,2,3,4", "--topics", "orders"]);
  expect(one.code).toBe(0);
  expect(parseReassignmentPlan(one.stdout).partitions.every((e) => e.topic === "orders")).toBe(true);

  // Refusals name the problem.
  const ghost = cli([...common, "--brokers", "1,2,3,9"]);
  expect(ghost.code).toBe(1);
  expect(ghost.stderr).toContain("broker 9 not registered");
  const unknown = cli([...common, "--brokers", "1,2,3,4", "--topics", "nope"]);
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toContain("UNKNOWN_TOPIC_OR_PARTITION");
  const usage = cli(["reassign", "--generate", "--etcd", etcd.endpoints.join(",")]);
  expect(usage.code).toBe(2);
  expect(usage.stderr).toContain("--brokers is needed");
});
