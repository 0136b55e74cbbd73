// Topic-side triggers and independence of groups, with in-process members on
// a real broker: more partitions on a subscribed topic rebalance the group and
// the new partitions get read; two groups on one topic each read all of it.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { GroupConsumer, type GroupConsumerOptions } from "../client/group_consumer.ts";
import { Producer } from "../client/producer.ts";
import { type BrokerProcess, startBroker } from "./support/broker.ts";
import { addPartitions, createTopic, describeGroup } from "./groups_support.ts";
import { waitFor } from "./support/wait_for.ts";

let broker: BrokerProcess;
const consumers: GroupConsumer[] = [];
beforeAll(async () => {
  broker = await startBroker();
});
afterAll(async () => {
  await Promise.all(consumers.map((c) => c.close().catch(() => {})));
  await broker?.cleanup();
});

function member(groupId: string, topic: string, seen: string[], over: Partial<GroupConsumerOptions> = {}): GroupConsumer {
  const c = new GroupConsumer({
    brokers: [`127.0.0.1:${broker.port}`],
    groupId,
    sessionTimeoutMs: 3_000,
    heartbeatIntervalMs: 100,
    autoCommitIntervalMs: 100,
    pollWaitMs: 100,
    ...over,
  });
  c.subscribe([topic]);
  void c.run({ eachMessage: (m) => void seen.push(`${m.partition}:${m.offset}`) });
  consumers.push(c);
  return c;
}

async function produce(topic: string, perPartition: number, partitions: number[]): Promise<void> {
  const p = new Producer({ broker: `127.0.0.1:${broker.port}`, acks: "all" });
  const sends = [];
  for (const partition of partitions) for (let i = 0; i < perPartition; i++) sends.push(p.send(topic, { value: `${partition}-${i}`, partition }));
  await Promise.all(sends);
  await p.close();
}

const owned = (cs: GroupConsumer[]) => cs.flatMap((c) => c.assignment().flatMap((tp) => tp.partitions)).sort((a, b) => a - b);

test("adding partitions to a subscribed topic triggers a rebalance that assigns them", async () => {
  await createTopic(broker.port, "growing", 2);
  const seen: string[] = [];
  const group = [member("grow-group", "growing", seen), member("grow-group", "growing", seen)];
  await waitFor(() => owned(group).join() === "0,1" && group.every((c) => c.assignment().length === 1), { what: "both partitions owned, one each", timeoutMs: 20_000 });
  const generationBefore = (await describeGroup(broker.port, "grow-group")).generationId;

  await addPartitions(broker.port, "growing", 5);
  await waitFor(() => owned(group).join() === "0,1,2,3,4", { what: "all five partitions owned", timeoutMs: 20_000 });
  const d = await describeGroup(broker.port, "grow-group");
  expect(d.generationId).toBeGreaterThan(generationBefore);
  expect(d.members.flatMap((m) => m.assignment.flatMap((a) => a.partitions)).sort()).toEqual([0, 1, 2, 3, 4]);

  await produce("growing", 10, [0, 1, 2, 3, 4]);
  await waitFor(() => new Set(seen).size === 50, { what: "the new partitions are read", timeoutMs: 20_000 });
  for (const p of [2, 3, 4]) expect(seen.filter((s) => s.startsWith(`${p}:`)).length).toBe(10);
}, 60_000);

test("two groups on one topic each read all of it, each with its own committed offsets", async () => {
  await createTopic(broker.port, "shared", 3);
  await produce("shared", 40, [0, 1, 2]);
  const seenA: string[] = [];
  const seenB: string[] = [];
  const groupA = [member("group-a", "shared", seenA), member("group-a", "shared", seenA)];
  const groupB = [member("group-b", "shared", seenB)];
  await waitFor(() => new Set(seenA).size === 120 && new Set(seenB).size === 120, { what: "both groups read all 120 records", timeoutMs: 20_000 });
  expect(seenA.length).toBe(120); // exactly once within each group
  expect(seenB.length).toBe(120);
  await waitFor(async () => {
    const [a, b] = await Promise.all([describeGroup(broker.port, "group-a"), describeGroup(broker.port, "group-b")]);
    return [...a.offsets, ...b.offsets].every((o) => o.committedOffset === 40 && o.lag === 0);
  }, { what: "both groups committed everything", timeoutMs: 10_000 });
  // One group's progress does not move the other's offsets.
  await Promise.all(groupB.map((c) => c.close()));
  await produce("shared", 5, [0, 1, 2]);
  await waitFor(() => new Set(seenA).size === 135, { what: "group a reads the new records", timeoutMs: 20_000 });
  await waitFor(async () => (await describeGroup(broker.port, "group-a")).offsets.every((o) => o.committedOffset === 45), { what: "group a committed them", timeoutMs: 10_000 });
  const b = await describeGroup(broker.port, "group-b");
  expect(b.state).toBe("Empty");
  expect(b.offsets.map((o) => [o.committedOffset, o.lag])).toEqual([
    [40, 5],
    [40, 5],
    [40, 5],
  ]);
  expect(groupA.length).toBe(2);
}, 60_000);
