// Consumer processes that commit only what they processed are killed with
// SIGKILL at random moments while a producer writes. Nothing acked may be lost;
// messages may be seen twice only if a killed member processed them after its
// last acknowledged commit (its uncommitted window). Duplicates are counted and
// printed.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { type BrokerProcess, startBroker } from "./support/broker.ts";
import { BackgroundProducer, createTopic, MemberProcess } from "./groups_support.ts";
import { waitFor } from "./support/wait_for.ts";

const TOPIC = "kills";
const GROUP = "kill-group";
const PARTITIONS = 6;
const KILLS = 6;
const SEED = Number(process.env.SLUICE_TEST_SEED ?? 20_261_121);

let broker: BrokerProcess;
const members: MemberProcess[] = [];
beforeAll(async () => {
  broker = await startBroker();
  await createTopic(broker.port, TOPIC, PARTITIONS);
});
afterAll(async () => {
  for (const m of members) if (!m.killed) await m.kill9().catch(() => {});
  await broker?.cleanup();
});

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

test("random kill -9 of members committing after processing: nothing lost, duplicates only within a killed member's uncommitted window", async () => {
  const rand = rng(SEED);
  let nextId = 0;
  const spawnMember = () => {
    const m = new MemberProcess(broker.port, GROUP, TOPIC, { id: `k${nextId++}`, sessionTimeoutMs: 1_500, autoCommitIntervalMs: 100 });
    members.push(m);
    return m;
  };
  const live = () => members.filter((m) => !m.killed && m.proc.exitCode === null);

  for (let i = 0; i < 3; i++) spawnMember();
  await waitFor(() => live().reduce((n, m) => n + m.owns.length, 0) === PARTITIONS && live().every((m) => m.owns.length > 0), { what: "three members share the partitions", timeoutMs: 30_000 });

  const producer = new BackgroundProducer(broker.port, TOPIC, { perTick: 40, tickMs: 20, partitions: () => PARTITIONS }).start();
  const killLog: string[] = [];
  for (let k = 0; k < KILLS; k++) {
    await new Promise((r) => setTimeout(r, 300 + Math.floor(rand() * 600)));
    // Kill a member with partitions and work behind it, so each kill leaves something uncommitted.
    await waitFor(() => live().some((m) => m.owns.length > 0 && m.processed.length > 0), { what: "a member with partitions", timeoutMs: 30_000 });
    const candidates = live().filter((m) => m.owns.length > 0 && m.processed.length > 0);
    const victim = candidates[Math.floor(rand() * candidates.length)];
    const inHand = victim.processed.length;
    await victim.kill9();
    killLog.push(`${victim.id} (after ${inHand} messages, owned ${victim.owns.join(",") || "-"})`);
    spawnMember();
  }
  await producer.stop();

  const seenBy = () => {
    const map = new Map<string, MemberProcess[]>();
    for (const m of members) for (const d of m.processed) {
      const k = `${d.partition}:${d.offset}`;
      const list = map.get(k);
      if (list === undefined) map.set(k, [m]);
      else list.push(m);
    }
    return map;
  };
  await waitFor(() => seenBy().size >= producer.total, { what: "every acked message was processed by someone", timeoutMs: 30_000, everyMs: 100 });
  // A member stopped before it is up has no SIGTERM handler yet: wait until each has joined once.
  await waitFor(() => live().every((m) => m.assignments.length > 0), { what: "the live members have joined", timeoutMs: 30_000 });
  for (const m of live()) expect(await m.stop()).toBe(0);

  const seen = seenBy();
  const lost: string[] = [];
  for (const [p, offsets] of producer.acked) for (const o of offsets) if (!seen.has(`${p}:${o}`)) lost.push(`${p}:${o}`);
  let duplicates = 0;
  const outsideWindow: string[] = [];
  for (const [k, who] of seen) {
    if (who.length < 2) continue;
    duplicates += who.length - 1;
    const [p, o] = k.split(":").map(Number);
    // Every deliverer but the last one processed it and never got a commit past it acknowledged (it was killed
    // inside its uncommitted window). A second deliverer with a commit past it means a committed message came back.
    const committedPast = who.filter((m) => (m.committed.get(p) ?? -1) > o);
    if (committedPast.length > 1) outsideWindow.push(`${k}: seen by ${who.map((m) => m.id)}, committed past it by ${committedPast.map((m) => m.id)}`);
    for (const m of who) if (!committedPast.includes(m) && !m.killed) outsideWindow.push(`${k}: ${m.id} was not killed yet saw it again`);
  }
  // Within one member, a partition's offsets only go up.
  const reordered: string[] = [];
  for (const m of members) {
    const last = new Map<number, number>();
    for (const d of m.processed) {
      if ((last.get(d.partition) ?? -1) >= d.offset) reordered.push(`${m.id} p${d.partition}: ${last.get(d.partition)} then ${d.offset}`);
      last.set(d.partition, d.offset);
    }
  }
  console.log(
    `groups kill: ${producer.total} acked, ${KILLS} kills [${killLog.join("; ")}], ${duplicates} duplicate deliveries ` +
      `(${((100 * duplicates) / Math.max(1, producer.total)).toFixed(2)}%), ${lost.length} lost, seed ${SEED}`,
  );
  expect(lost).toEqual([]);
  expect(outsideWindow).toEqual([]);
  expect(reordered).toEqual([]);
}, 120_000);
