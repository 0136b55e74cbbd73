// A member process that stops heartbeating (SIGSTOP: its connections stay
// open, it just goes silent) is removed by the coordinator after its session
// timeout and its partitions move to the other member. The time from the stop
// to the survivor owning everything is measured and printed. Resumed, the
// stopped member learns it was fenced (its partitions are reported lost, not
// committed) and rejoins.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { type BrokerProcess, startBroker } from "./support/broker.ts";
import { createTopic, describeGroup, MemberProcess } from "./groups_support.ts";
import { waitFor } from "./support/wait_for.ts";

const TOPIC = "sessions";
const GROUP = "session-group";
const SESSION_MS = 1_500;

let broker: BrokerProcess;
const members: MemberProcess[] = [];
beforeAll(async () => {
  broker = await startBroker();
  await createTopic(broker.port, TOPIC, 4);
});
afterAll(async () => {
  for (const m of members) {
    m.resume();
    await m.kill9().catch(() => {});
  }
  await broker?.cleanup();
});

test("a silent member is removed after its session timeout and its partitions move (failover time measured)", async () => {
  const a = new MemberProcess(broker.port, GROUP, TOPIC, { id: "alive", sessionTimeoutMs: SESSION_MS });
  const b = new MemberProcess(broker.port, GROUP, TOPIC, { id: "silent", sessionTimeoutMs: SESSION_MS });
  members.push(a, b);
  await waitFor(() => a.owns.length === 2 && b.owns.length === 2, { what: "two members with two partitions each", timeoutMs: 30_000 });
  const d0 = await describeGroup(broker.port, GROUP);
  expect(d0.members.length).toBe(2);

  b.pause();
  const stoppedAt = Date.now();
  await waitFor(() => a.owns.length === 4, { what: "the survivor owns all four partitions", timeoutMs: SESSION_MS * 4 });
  const failoverMs = a.assignments.at(-1)!.atMs - stoppedAt;
  const d1 = await describeGroup(broker.port, GROUP);
  console.log(`groups session: session timeout ${SESSION_MS} ms; silent member removed and its partitions reassigned after ${failoverMs} ms`);
  expect(d1.members.map((m) => m.clientId)).toEqual(["alive"]);
  // Not before the session timeout (the member was heard from at most one heartbeat interval before the stop) …
  expect(failoverMs).toBeGreaterThanOrEqual(SESSION_MS - SESSION_MS / 3 - 50);
  // … and not long after it: one heartbeat interval for the survivor to notice, plus the
  // rejoin (about 1 s on a quiet machine; printed above). The bound leaves room for a loaded
  // machine and still catches a member removed only by some later event than its timeout.
  expect(failoverMs).toBeLessThan(SESSION_MS + 5_000);

  b.resume();
  await waitFor(() => b.revocations.some((r) => r.lost) && a.owns.length === 2 && b.owns.length === 2, { what: "the resumed member is told it was fenced and rejoins", timeoutMs: 15_000 });
  expect(b.revocations.find((r) => r.lost)!.partitions.length).toBe(2);
  const d2 = await describeGroup(broker.port, GROUP);
  expect(d2.members.length).toBe(2);
  expect(d2.state).toBe("Stable");
}, 60_000);
