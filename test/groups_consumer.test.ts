// GroupConsumer behaviours against a real broker: the heartbeat is not starved
// by a handler that awaits for several session timeouts; async iteration
// commits exactly what the loop body finished; manual commits; the deprecated
// `brokers` option still works; GroupAdmin takes `broker` like Admin.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { ClientErrorCode } from "../client/errors.ts";
import { GroupAdmin } from "../client/group_admin.ts";
import { GroupConsumer } from "../client/group_consumer.ts";
import { Producer } from "../client/producer.ts";
import type { TopicPartitions } from "../protocol/messages/groups.ts";
import { type BrokerProcess, startBroker } from "./support/broker.ts";
import { createTopic, describeGroup } from "./groups_support.ts";
import { waitFor } from "./support/wait_for.ts";

let broker: BrokerProcess;
beforeAll(async () => {
  broker = await startBroker();
});
afterAll(async () => {
  await broker?.cleanup();
});

async function produce(topic: string, count: number, partitions: number): Promise<void> {
  const p = new Producer({ broker: `127.0.0.1:${broker.port}`, acks: "all" });
  await Promise.all(Array.from({ length: count }, (_, i) => p.send(topic, { value: `${i}`, partition: i % partitions })));
  await p.close();
}

const base = () => ({ broker: `127.0.0.1:${broker.port}`, pollWaitMs: 100 });

test("a handler that awaits for three session timeouts does not cost the member its session", async () => {
  await createTopic(broker.port, "slow", 2);
  const revoked: Array<{ lost: boolean }> = [];
  const opts = { ...base(), groupId: "slow-group", sessionTimeoutMs: 500, heartbeatIntervalMs: 150, autoCommitIntervalMs: 100 };
  const slow = new GroupConsumer({ ...opts, clientId: "slow", onRevoked: (_tps, info) => void revoked.push(info) });
  const other = new GroupConsumer({ ...opts, clientId: "other" });
  slow.subscribe(["slow"]);
  other.subscribe(["slow"]);
  let slowDone = 0;
  let stalls = 0;
  void slow.run({
    eachMessage: async () => {
      if (stalls++ === 0) await new Promise((r) => setTimeout(r, 1_500));
      slowDone++;
    },
  });
  void other.run({ eachMessage: () => {} });
  const owned = (c: GroupConsumer) => c.assignment().reduce((n, tp) => n + tp.partitions.length, 0);
  await waitFor(() => owned(slow) === 1 && owned(other) === 1 && slow.generationId === other.generationId, { what: "both members hold a partition", timeoutMs: 20_000 });
  const generation = slow.generationId;
  revoked.length = 0; // whoever joined first gave a partition up to the second: that is not under test
  await produce("slow", 10, 2); // only now: the stall must fall in a settled generation
  await waitFor(() => slowDone === 5, { what: "the slow member finished its partition", timeoutMs: 20_000 });
  const d = await describeGroup(broker.port, "slow-group");
  expect(d.members.map((m) => m.clientId).sort()).toEqual(["other", "slow"]);
  expect(d.generationId).toBe(generation);
  expect(slow.generationId).toBe(generation);
  expect(revoked).toEqual([]);
  await Promise.all([slow.close(), other.close()]);
  expect(revoked).toEqual([{ lost: false }]);
}, 30_000);

test("async iteration: leaving the loop commits the messages before the one in hand; the next member goes on from that one", async () => {
  await createTopic(broker.port, "iterated", 1);
  await produce("iterated", 20, 1);
  const assigned: TopicPartitions[][] = [];
  const first = new GroupConsumer({ ...base(), groupId: "iter-group", autoCommit: false, onAssigned: (tps) => void assigned.push(tps) });
  first.subscribe(["iterated"]);
  const got: number[] = [];
  for await (const m of first) {
    got.push(m.offset);
    if (got.length === 7) break;
  }
  expect(got).toEqual([0, 1, 2, 3, 4, 5, 6]);
  expect(assigned).toEqual([[{ topic: "iterated", partitions: [0] }]]);
  const d = await describeGroup(broker.port, "iter-group");
  expect(d.state).toBe("Empty");
  // The 7th (offset 6) was in hand when the loop was left: not counted as processed, so seen again.
  expect(d.offsets.map((o) => o.committedOffset)).toEqual([6]);

  const second = new GroupConsumer({ ...base(), groupId: "iter-group", autoCommit: false });
  second.subscribe(["iterated"]);
  const rest: number[] = [];
  for await (const m of second) {
    rest.push(m.offset);
    if (m.offset === 19) break;
  }
  expect(rest).toEqual(Array.from({ length: 14 }, (_, i) => i + 6));
}, 30_000);

test("manual commits: commitSync of given offsets, then of everything processed; commitAsync reports through onCommitted", async () => {
  await createTopic(broker.port, "manual", 1);
  await produce("manual", 10, 1);
  const committedSeen: number[] = [];
  const c = new GroupConsumer({ ...base(), groupId: "manual-group", autoCommit: false, onCommitted: (o) => void committedSeen.push(...o.map((x) => x.offset)) });
  c.subscribe(["manual"]);
  let n = 0;
  void c.run({ eachMessage: () => void n++ });
  await waitFor(() => n === 10, { what: "all ten processed", timeoutMs: 20_000 });
  await c.commitSync([{ topic: "manual", partition: 0, offset: 3, metadata: "checkpoint" }]);
  expect((await describeGroup(broker.port, "manual-group")).offsets.map((o) => [o.committedOffset, o.metadata])).toEqual([[3, "checkpoint"]]);
  await c.commitSync();
  expect((await describeGroup(broker.port, "manual-group")).offsets[0].committedOffset).toBe(10);
  await expect(c.commitSync([{ topic: "manual", partition: 0, offset: 11 }])).rejects.toMatchObject({ code: 1 }); // OFFSET_OUT_OF_RANGE: past the high watermark
  c.commitAsync([{ topic: "manual", partition: 0, offset: 9 }]);
  await waitFor(() => committedSeen.includes(9), { what: "the async commit was acknowledged", timeoutMs: 10_000 });
  expect(committedSeen).toEqual([3, 10, 9]);
  await c.close();
}, 30_000);

test("the deprecated `brokers` option still reaches the broker; GroupAdmin({ broker }) describes the group and closes", async () => {
  await createTopic(broker.port, "aliased", 1);
  await produce("aliased", 3, 1);
  const c = new GroupConsumer({ brokers: [`127.0.0.1:${broker.port}`], pollWaitMs: 100, groupId: "alias-group", clientId: "aliased" });
  expect(c.broker).toBe(`127.0.0.1:${broker.port}`);
  c.subscribe(["aliased"]);
  const got: number[] = [];
  void c.run({ eachMessage: (m) => void got.push(m.offset) });
  await waitFor(() => got.length === 3, { what: "three messages", timeoutMs: 20_000 });
  await c.commitSync();
  const admin = new GroupAdmin({ broker: `127.0.0.1:${broker.port}` });
  const d = await admin.describeGroup("alias-group");
  expect(d.members.map((m) => m.clientId)).toEqual(["aliased"]);
  expect(d.offsets.map((o) => o.committedOffset)).toEqual([3]);
  expect((await admin.listGroups()).map((g) => g.groupId)).toContain("alias-group");
  await c.close();
  await admin.close();
  await expect(admin.listGroups()).rejects.toMatchObject({ code: ClientErrorCode.CLIENT_CLOSED });
}, 30_000);
