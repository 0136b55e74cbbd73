// A plan larger than one request (`partitions reassign --plan` with more than
// REASSIGNMENT_REQUEST_PARTITIONS_MAX partitions): submitPlan sends it as
// several requests, each an etcd value under etcd's request limit, and every
// partition of the plan ends up moving. Real etcd, registered brokers and an
// elected controller applying requests (no broker process: nothing copies,
// the moves stay recorded).

import { expect, test } from "bun:test";
import { ClusterView } from "../cluster/cluster_view.ts";
import { createTopic } from "../cluster/controller_topics.ts";
import { readTopics } from "../cluster/topic_metadata.ts";
import { TopicRequestServer } from "../cluster/topic_requests.ts";
import { REASSIGNMENT_REQUEST_PARTITIONS_MAX } from "../protocol/limits.ts";
import { startControllerCluster } from "../test/support/controller_cluster.ts";
import { useEtcd } from "../test/support/use_etcd.ts";
import { submitPlan } from "./reassign_exec.ts";

const etcd = useEtcd();
const { cleanups } = etcd;

test("a plan of more partitions than one request goes as several; every partition moves", async () => {
  const c = await startControllerCluster({ endpoints: etcd.endpoints, namePrefix: "rchunks", ids: [1, 2], ttlSeconds: 5, cleanups });
  const partitions = REASSIGNMENT_REQUEST_PARTITIONS_MAX + 100;
  const { record } = await createTopic(c.ctx, { name: "wide", partitions, replicationFactor: 1 });
  const view = ClusterView.start({ client: c.client, keys: c.keys });
  cleanups.push(() => view.close());
  const server = new TopicRequestServer({ ctx: c.ctx, view, isController: () => c.election.isController, log: () => {} });
  cleanups.push(async () => server.stop());
  const unsubscribe = view.subscribe(() => server.schedule());
  cleanups.push(async () => unsubscribe());
  server.schedule();

  // Every partition to the other broker.
  const plan = record.replicas.map((r, p) => ({ topic: "wide", partition: p, replicas: [r[0] === 1 ? 2 : 1] }));
  const r = await submitPlan(c.client, c.keys, plan, null);
  expect(r.message).toContain(`${partitions} partitions submitted in 2 requests`);

  const after = (await readTopics(c.client, c.keys)).topics.find((t) => t.name === "wide")!.record;
  expect(Object.keys(after.moves ?? {}).length).toBe(partitions);
  for (let p = 0; p < partitions; p++) expect(after.moves![String(p)]!.target).toEqual(plan[p]!.replicas);
}, 120_000);
