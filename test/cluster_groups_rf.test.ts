// The offsets topic's replication factor is never lowered to fit
// (docs/CLUSTER.md, "Consumer groups in a cluster"; Kafka's
// offsets.topic.replication.factor): with one live broker and the default
// replication factor 3, FindCoordinator answers COORDINATOR_NOT_AVAILABLE
// (retriable) and no `__consumer_offsets` exists; once three brokers are
// live, the next FindCoordinator creates it with three replicas per partition.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { Admin } from "../client/mod.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { GroupApiKey } from "../protocol/messages/groups.ts";
import { type BrokerProcess, startBroker } from "./support/broker.ts";
import { ETCD_WAIT, type EtcdCluster, startEtcd } from "./support/etcd.ts";
import { RawClient } from "./support/raw_client.ts";
import { waitFor, waitForValue } from "./support/wait_for.ts";

const OFFSETS = "__consumer_offsets";
let etcd: EtcdCluster;
const brokers: BrokerProcess[] = [];
const closers: (() => Promise<unknown>)[] = [];
const clusterName = `groupsrf${process.pid}`;

const brokerArgs = (id: number) => ["--cluster-etcd", etcd.endpoints.join(","), "--broker-id", String(id), "--cluster-name", clusterName, "--cluster-lease-ttl-seconds", "2", "--workers", "1"];

beforeAll(async () => {
  etcd = await startEtcd({ members: 1 });
  brokers.push(await startBroker({ args: brokerArgs(1) }));
}, 60_000);

afterAll(async () => {
  for (const c of closers) await c().catch(() => {});
  for (const b of brokers) await b.cleanup();
  await etcd?.stop();
});

async function findCoordinator(b: BrokerProcess, groupId: string): Promise<{ nodeId: number } | { errorCode: number; message: string }> {
  const c = await RawClient.connect(b.port);
  try {
    return await c.control<{ nodeId: number }>(GroupApiKey.FindCoordinator, { groupId }, { timeoutMs: 10_000 });
  } finally {
    c.close();
  }
}

test("one live broker, replication factor 3: COORDINATOR_NOT_AVAILABLE and no offsets topic; three live brokers: created with 3 replicas", async () => {
  const admin = new Admin({ broker: `127.0.0.1:${brokers[0].port}` });
  closers.push(() => admin.close());
  await waitFor(async () => (await admin.metadata([])).brokers.length === 1, { ...ETCD_WAIT, what: "the broker registered" });
  const refused = await findCoordinator(brokers[0], "g");
  expect(refused).toMatchObject({ errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE });
  expect((refused as { message: string }).message).toContain("replication factor");
  expect((await admin.metadata([OFFSETS])).topics[0].errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);

  brokers.push(await startBroker({ args: brokerArgs(2) }), await startBroker({ args: brokerArgs(3) }));
  await waitFor(async () => (await admin.metadata([])).brokers.length === 3, { ...ETCD_WAIT, what: "three brokers registered" });
  const coordinator = await waitForValue(async () => {
    const f = await findCoordinator(brokers[0], "g");
    return "nodeId" in f ? f.nodeId : false;
  }, { ...ETCD_WAIT, what: "a coordinator once three brokers are live" });
  expect([1, 2, 3]).toContain(coordinator);
  const t = (await admin.metadata([OFFSETS])).topics[0];
  expect(t.partitions.length).toBe(16);
  for (const p of t.partitions) expect(p.replicas!.length).toBe(3);
}, 90_000);
