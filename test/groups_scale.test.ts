// A 12-partition topic read by a group whose size goes 1 → 4 → 12 → 13 → 1
// while a producer keeps writing. Members are in-process GroupConsumers (real
// broker process, real sockets). Every acked message must be consumed exactly
// once by the group, in offset order per partition; the 13th member must sit
// idle until a member leaves and then take that member's partition.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { GroupConsumer } from "../client/group_consumer.ts";
import { type BrokerProcess, startBroker } from "./support/broker.ts";
import { BackgroundProducer, checkDeliveries, createTopic, type Delivery, describeGroup } from "./groups_support.ts";
import { waitFor } from "./support/wait_for.ts";

const TOPIC = "scale";
const GROUP = "scale-group";
const PARTITIONS = 12;

let broker: BrokerProcess;
beforeAll(async () => {
  broker = await startBroker();
  await createTopic(broker.port, TOPIC, PARTITIONS);
});
afterAll(async () => {
  await broker?.cleanup();
});

test("1 → 4 → 12 → 13 → 1 members while producing: exactly once, in order, the 13th is a standby that takes over", async () => {
  const deliveries: Delivery[] = [];
  const members = new Map<string, GroupConsumer>();
  let nextId = 0;
  const add = (n: number) => {
    for (let i = 0; i < n; i++) {
      const id = `m${String(nextId++).padStart(2, "0")}`;
      const c = new GroupConsumer({
        brokers: [`127.0.0.1:${broker.port}`],
        groupId: GROUP,
        clientId: id,
        sessionTimeoutMs: 5_000,
        rebalanceTimeoutMs: 10_000,
        heartbeatIntervalMs: 100,
        autoCommitIntervalMs: 200,
        pollWaitMs: 100,
      });
      c.subscribe([TOPIC]);
      c.run({
        eachMessage: async (m) => {
          deliveries.push({ partition: m.partition, offset: m.offset, consumer: id });
          // Now and then a slow message, so handovers happen with work in hand.
          if (m.offset % 97 === 0) await new Promise((r) => setTimeout(r, 5));
        },
      }).catch((e) => {
        throw new Error(`member ${id} failed: ${e}`);
      });
      members.set(id, c);
    }
  };
  const owned = (c: GroupConsumer) => c.assignment().reduce((n, tp) => n + tp.partitions.length, 0);
  /** Every member holds the same generation, the group is Stable, and all 12 partitions are owned. */
  const settled = async () => {
    const gens = new Set([...members.values()].map((c) => c.generationId));
    if (gens.size !== 1) return false;
    const total = [...members.values()].reduce((n, c) => n + owned(c), 0);
    if (total !== PARTITIONS) return false;
    const d = await describeGroup(broker.port, GROUP);
    return d.state === "Stable" && d.members.length === members.size && d.generationId === [...gens][0];
  };
  const consumedSoFar = () => deliveries.length;

  const producer = new BackgroundProducer(broker.port, TOPIC, { perTick: 100, tickMs: 10, partitions: () => PARTITIONS }).start();
  const timeline: string[] = [];
  const t0 = Date.now();
  const phase = async (label: string) => {
    await waitFor(settled, { what: `${label}: settled`, timeoutMs: 30_000, everyMs: 50 });
    const before = consumedSoFar();
    await waitFor(() => consumedSoFar() > before + 500, { what: `${label}: consuming`, timeoutMs: 10_000 });
    timeline.push(`${label} at ${Date.now() - t0} ms (generation ${[...members.values()][0].generationId})`);
  };

  add(1);
  await phase("1 member");
  add(3);
  await phase("4 members");
  add(8);
  await phase("12 members");
  for (const c of members.values()) expect(owned(c)).toBe(1);

  add(1); // the 13th
  await phase("13 members");
  const idle = [...members.entries()].filter(([, c]) => owned(c) === 0);
  expect(idle.length).toBe(1);
  const [standbyId, standby] = idle[0];
  // A member with a partition leaves: the standby takes over.
  const [leaverId, leaver] = [...members.entries()].find(([id, c]) => id !== standbyId && owned(c) === 1)!;
  await leaver.close();
  members.delete(leaverId);
  await phase("12 members after one left");
  expect(owned(standby)).toBe(1);
  const standbyStart = deliveries.findIndex((d) => d.consumer === standbyId);
  expect(standbyStart).toBeGreaterThanOrEqual(0);

  // Down to one.
  const survivors = [...members.keys()].slice(1);
  await Promise.all(survivors.map((id) => members.get(id)!.close()));
  for (const id of survivors) members.delete(id);
  await phase("1 member again");
  expect(owned([...members.values()][0])).toBe(PARTITIONS);

  await producer.stop();
  await waitFor(() => new Set(deliveries.map((d) => `${d.partition}:${d.offset}`)).size >= producer.total, { what: "everything acked is consumed", timeoutMs: 30_000 });
  const last = [...members.values()][0];
  await last.close();

  const report = checkDeliveries(producer.acked, deliveries);
  // Exactly once across handovers: per partition, the group's deliveries in the order they happened are strictly increasing.
  const lastByPartition = new Map<number, number>();
  const regressions: string[] = [];
  for (const d of deliveries) {
    const prev = lastByPartition.get(d.partition);
    if (prev !== undefined && d.offset !== prev + 1) regressions.push(`p${d.partition}: ${prev} then ${d.offset} (${d.consumer})`);
    lastByPartition.set(d.partition, d.offset);
  }
  console.log(
    `groups scale: ${producer.total} messages acked, ${report.delivered} delivered, ${report.duplicates.length} duplicates, ` +
      `${report.lost.length} lost; ${timeline.join("; ")}`,
  );
  expect(report.lost).toEqual([]);
  expect(report.duplicates).toEqual([]);
  expect(regressions).toEqual([]);
  const d = await describeGroup(broker.port, GROUP);
  expect(d.state).toBe("Empty");
  expect(d.offsets.every((o) => o.lag === 0)).toBe(true);
}, 120_000);
