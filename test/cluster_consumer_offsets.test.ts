// In a cluster only a partition's leader answers ListOffsets. The consumer's
// listOffsets() asks each partition's leader (client/consumer.ts), so a
// consumer bootstrapped from any broker, and a group consumer (whose start
// positions come from listOffsets), read every partition. Three real broker
// processes and one etcd (support/cluster_harness.ts).

import { afterAll, beforeAll, expect, test } from "bun:test";
import { Consumer, ErrorCode, GroupConsumer, Producer } from "../client/mod.ts";
import { type ClusterHarness, startCluster } from "./support/cluster_harness.ts";
import { waitFor } from "./support/wait_for.ts";

let c: ClusterHarness;
const PER_PARTITION = 10;

beforeAll(async () => {
  c = await startCluster({ brokers: 3 });
  await c.createTopic("lo", { partitions: 3, replicationFactor: 2 });
  const p = new Producer({ broker: c.bootstrap(), acks: "all" });
  try {
    for (let i = 0; i < 3 * PER_PARTITION; i++) await p.send("lo", { partition: i % 3, value: `v${i}` });
  } finally {
    await p.close();
  }
}, 60_000);

afterAll(async () => {
  await c?.cleanup();
});

test("listOffsets from a consumer bootstrapped at one broker answers every partition, led by any broker", async () => {
  const leaders = await Promise.all([0, 1, 2].map((p) => c.waitForLeader("lo", p)));
  expect(new Set(leaders).size).toBeGreaterThan(1); // some partition is led elsewhere than the bootstrap broker
  for (const id of c.ids) {
    const consumer = new Consumer({ broker: c.broker(id).address });
    try {
      const answers = await consumer.listOffsets([0, 1, 2].flatMap((partition) => [{ topic: "lo", partition, at: "latest" as const }, { topic: "lo", partition, at: "earliest" as const }]));
      expect(answers.map((a) => [a.partition, a.errorCode, Number(a.offset)])).toEqual([0, 1, 2].flatMap((p) => [[p, ErrorCode.NONE, PER_PARTITION], [p, ErrorCode.NONE, 0]]));
    } finally {
      await consumer.close();
    }
  }
}, 60_000);

test("a group consumer bootstrapped at one broker reads every partition from its start", async () => {
  const got: string[] = [];
  const g = new GroupConsumer({ broker: c.broker(c.ids[0]).address, groupId: "lo-group", pollWaitMs: 200, log: () => {} });
  g.subscribe(["lo"]);
  const run = g.run({ eachMessage: (m) => void got.push(new TextDecoder().decode(m.value!)) });
  try {
    await waitFor(() => got.length >= 3 * PER_PARTITION, { timeoutMs: 30_000, what: "every record delivered to the group" });
  } finally {
    await g.close();
    await run.catch(() => {});
  }
  expect(got.sort()).toEqual(Array.from({ length: 3 * PER_PARTITION }, (_, i) => `v${i}`).sort());
}, 60_000);
