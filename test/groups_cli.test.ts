// `sluice groups list | describe | reset-offsets` against a real broker, and
// the lag a test creates showing up in describe and in GET /metrics.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { GroupConsumer } from "../client/group_consumer.ts";
import { Producer } from "../client/producer.ts";
import type { GroupDescription } from "../protocol/messages/groups.ts";
import { type BrokerProcess, startBroker } from "./support/broker.ts";
import { createTopic } from "./groups_support.ts";
import { waitFor } from "./support/wait_for.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BUN = path.join(ROOT, "node_modules", ".bin", "bun");
const TOPIC = "lagged";
const GROUP = "lag-group";

let broker: BrokerProcess;
beforeAll(async () => {
  broker = await startBroker();
  await createTopic(broker.port, TOPIC, 3);
  const producer = new Producer({ broker: `127.0.0.1:${broker.port}`, acks: "all" });
  // 30, 20 and 10 records on partitions 0, 1, 2.
  const sends = [];
  for (let p = 0; p < 3; p++) for (let i = 0; i < 30 - p * 10; i++) sends.push(producer.send(TOPIC, { value: `v${p}-${i}`, partition: p }));
  await Promise.all(sends);
  await producer.close();
});
afterAll(async () => {
  await broker?.cleanup();
});

function sluice(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(BUN, ["cli/main.ts", "groups", ...args, "--broker", `127.0.0.1:${broker.port}`], { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test("describe shows the lag a consumer left behind (committed offset, high watermark, lag per partition), also in /metrics", async () => {
  // A member reads everything but commits only after the first 12 records of partition 0 and 5 of partition 1.
  const taken = new Map<number, number>([[0, 12], [1, 5], [2, 0]]);
  const c = new GroupConsumer({ brokers: [`127.0.0.1:${broker.port}`], groupId: GROUP, clientId: "lagger", autoCommit: false, sessionTimeoutMs: 3_000, heartbeatIntervalMs: 200 });
  c.subscribe([TOPIC]);
  const done = new Map<number, number>();
  let seen = 0;
  void c.run({
    eachMessage: async (m) => {
      seen++;
      const n = (done.get(m.partition) ?? 0) + 1;
      if (n > taken.get(m.partition)!) return; // read, but never committed
      done.set(m.partition, n);
      await c.commitSync([{ topic: m.topic, partition: m.partition, offset: m.offset + 1 }]);
    },
  });
  await waitFor(() => seen === 60 && done.get(0) === 12 && done.get(1) === 5, { what: "the member read everything and committed what it took", timeoutMs: 20_000 });

  const json = sluice("describe", GROUP, "--json");
  expect(json.code).toBe(0);
  const d = JSON.parse(json.stdout) as GroupDescription;
  expect(d.state).toBe("Stable");
  expect(d.members.map((m) => m.clientId)).toEqual(["lagger"]);
  expect(d.offsets.map((o) => [o.partition, o.committedOffset, o.highWatermark, o.lag])).toEqual([
    [0, 12, 30, 18],
    [1, 5, 20, 15],
    [2, -1, 10, 10],
  ]);
  expect(d.offsets.every((o) => o.memberId === d.members[0].memberId)).toBe(true);

  const table = sluice("describe", GROUP);
  expect(table.code).toBe(0);
  expect(table.stdout).toContain("Stable");
  expect(table.stdout).toMatch(/lagged\s+0\s+12\s+30\s+18/);
  expect(table.stdout).toContain("total lag 43");

  const metrics = await fetch(`http://127.0.0.1:${broker.httpPort}/metrics`).then((r) => r.text());
  expect(metrics).toContain(`sluice_group_lag{group="${GROUP}",topic="${TOPIC}",partition="0"} 18\n`);
  expect(metrics).toContain(`sluice_group_lag{group="${GROUP}",topic="${TOPIC}",partition="1"} 15\n`);
  expect(metrics).toContain(`sluice_group_lag_sum{group="${GROUP}"} 43\n`);

  const list = sluice("list", "--json");
  expect(JSON.parse(list.stdout)).toEqual([{ groupId: GROUP, state: "Stable", members: 1 }]);

  // Reset is refused while the group has a member.
  const refused = sluice("reset-offsets", GROUP, "--topic", TOPIC, "--to", "earliest");
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain("NON_EMPTY_GROUP");

  await c.close();
  const reset = sluice("reset-offsets", GROUP, "--topic", TOPIC, "--to", "latest", "--json");
  expect(reset.code).toBe(0);
  expect(JSON.parse(reset.stdout).partitions.map((p: { offset: number }) => p.offset)).toEqual([30, 20, 10]);
  const toOffset = sluice("reset-offsets", GROUP, "--topic", TOPIC, "--to", "7", "--partitions", "0,1");
  expect(toOffset.code).toBe(0);
  const after = JSON.parse(sluice("describe", GROUP, "--json").stdout) as GroupDescription;
  expect(after.state).toBe("Empty");
  expect(after.offsets.map((o) => [o.partition, o.committedOffset, o.lag])).toEqual([
    [0, 7, 23],
    [1, 7, 13],
    [2, 10, 0],
  ]);
  const beyond = sluice("reset-offsets", GROUP, "--topic", TOPIC, "--to", "999");
  expect(beyond.code).toBe(1);
  expect(beyond.stdout).toContain("OFFSET_OUT_OF_RANGE");
}, 60_000);

test("usage errors exit 2; an unknown group exits 1 naming GROUP_ID_NOT_FOUND", () => {
  expect(sluice("describe").code).toBe(2);
  expect(sluice("reset-offsets", GROUP, "--topic", TOPIC).code).toBe(2);
  const missing = sluice("describe", "no-such-group");
  expect(missing.code).toBe(1);
  expect(missing.stderr).toContain("GROUP_ID_NOT_FOUND");
});

test("`sluice consume TOPIC --group G`: successive runs continue where the group left off, nothing twice, nothing skipped", async () => {
  const topic = "cli-consumed";
  await createTopic(broker.port, topic, 2);
  const producer = new Producer({ broker: `127.0.0.1:${broker.port}`, acks: "all" });
  await Promise.all(Array.from({ length: 30 }, (_, i) => producer.send(topic, { value: `m${i}`, partition: i % 2 })));
  await producer.close();
  const consume = (...args: string[]) => {
    const r = spawnSync(BUN, ["cli/main.ts", "consume", topic, "--group", "cli-group", "--broker", `127.0.0.1:${broker.port}`, ...args], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(r.status).toBe(0);
    return r.stdout.split("\n").filter((l) => l !== "");
  };
  const first = consume("--from", "beginning", "--max-messages", "10");
  const second = consume("--max-messages", "12");
  const rest = consume("--timeout-ms", "1500");
  expect(first.length).toBe(10);
  expect(second.length).toBe(12);
  expect(rest.length).toBe(8);
  const all = [...first, ...second, ...rest];
  expect(new Set(all).size).toBe(30);
  expect(new Set(all)).toEqual(new Set(Array.from({ length: 30 }, (_, i) => `m${i}`)));
  const d = JSON.parse(sluice("describe", "cli-group", "--json").stdout) as GroupDescription;
  expect(d.offsets.map((o) => [o.committedOffset, o.lag])).toEqual([
    [15, 0],
    [15, 0],
  ]);
  const bad = spawnSync(BUN, ["cli/main.ts", "consume", topic, "--group", "g", "--partition", "0", "--broker", `127.0.0.1:${broker.port}`], { cwd: ROOT, encoding: "utf8" });
  expect(bad.status).toBe(2);
}, 60_000);
