// The client's membership (client/group_membership.ts) against the real
// coordinator and handlers, in one process: requests go through MessagePack and
// the handlers exactly as on the wire, only the socket is left out. Real timers
// with short sessions.

import { afterEach, describe, expect, test } from "bun:test";
import { decode, encode } from "@msgpack/msgpack";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { type GroupRpc, GroupMembership, type RejoinReason } from "../client/group_membership.ts";
import { GroupCoordinator, type TopicInfo } from "../engine/groups/coordinator.ts";
import { groupHandlers } from "../engine/groups/handlers.ts";
import { MemoryOffsetStore } from "../engine/groups/memory_offset_store.ts";
import { systemTimers } from "../engine/groups/timers.ts";
import { waitFor } from "./support/wait_for.ts";

const topics: TopicInfo = {
  partitionCount: (t) => (t === "t" ? 6 : 0),
  highWatermark: () => 1_000,
  logStartOffset: () => 0,
};

let coordinator: GroupCoordinator;
let connectionId = 0;
const closers: Array<() => void> = [];

function setup() {
  coordinator = new GroupCoordinator({ timers: systemTimers(), topics, offsets: new MemoryOffsetStore() });
  const handlers = groupHandlers(coordinator);
  /** One "connection" per rpc; `drop()` closes it as a socket would. */
  const rpc = (): GroupRpc & { drop(): void } => {
    const id = ++connectionId;
    const onClose: Array<() => void> = [];
    return {
      async call(apiKey, body) {
        const h = handlers.get(apiKey)!;
        const out = await h(decode(encode(body, { ignoreUndefined: true })), { connectionId: id, onConnectionClose: (cb) => onClose.push(cb) });
        return decode(encode(out ?? {}, { ignoreUndefined: true }));
      },
      drop() {
        for (const cb of onClose) cb();
      },
    };
  };
  return rpc;
}

afterEach(() => {
  for (const c of closers.splice(0)) c();
  coordinator?.close();
});

function member(rpc: GroupRpc, clientId: string, over: Partial<{ sessionTimeoutMs: number; heartbeatIntervalMs: number }> = {}) {
  const m = new GroupMembership({
    rpc,
    groupId: "g",
    clientId,
    assignors: ["sticky", "range"],
    sessionTimeoutMs: over.sessionTimeoutMs ?? 1_000,
    rebalanceTimeoutMs: 3_000,
    heartbeatIntervalMs: over.heartbeatIntervalMs ?? 100,
    retryBackoffMs: 20,
  });
  m.topics = ["t"];
  const reasons: RejoinReason[] = [];
  m.onRejoinNeeded = (r) => reasons.push(r);
  closers.push(() => m.close());
  return { m, reasons };
}

const count = (a: Array<{ partitions: number[] }>) => a.reduce((n, tp) => n + tp.partitions.length, 0);

describe("group membership against the coordinator", () => {
  test("a second member's join is seen by the first through its heartbeat; both rejoin and split the partitions", async () => {
    const rpc = setup();
    const a = member(rpc(), "a");
    expect(count(await a.m.joinAndSync())).toBe(6);
    a.m.startHeartbeats();
    const b = member(rpc(), "b");
    const bJoined = b.m.joinAndSync();
    await waitFor(() => a.reasons.length > 0);
    expect(a.reasons[0]).toEqual({ kind: "rebalance" });
    // a commits with its old generation while the group prepares, then rejoins.
    const codes = await a.m.commit([{ topic: "t", partition: 0, offset: 10 }]);
    expect(codes.get("t:0")).toBe(ErrorCode.NONE);
    const [aNew, bNew] = await Promise.all([a.m.joinAndSync(), bJoined]);
    expect(count(aNew) + count(bNew)).toBe(6);
    expect(count(aNew)).toBe(3);
    expect(a.m.generationId).toBe(2);
    expect(a.m.assignor).toBe("sticky");
  });

  test("a member whose heartbeats stop is removed after its session timeout; the survivor is told to rejoin", async () => {
    const rpc = setup();
    const a = member(rpc(), "a");
    const b = member(rpc(), "b", { sessionTimeoutMs: 400 });
    const aJoin = a.m.joinAndSync();
    const bJoin = b.m.joinAndSync();
    await Promise.all([aJoin, bJoin]);
    // Whoever joined first saw the other's join only through a heartbeat; settle into one generation.
    a.m.startHeartbeats();
    b.m.startHeartbeats();
    await waitFor(() => a.m.generationId === b.m.generationId && coordinator.describeGroups(["g"]).groups[0].state === "Stable" || a.reasons.length + b.reasons.length > 0);
    if (a.reasons.length + b.reasons.length > 0) await Promise.all([a.m.joinAndSync(), b.m.joinAndSync()]);
    a.m.startHeartbeats();
    b.m.startHeartbeats();
    a.reasons.length = 0;
    b.m.stopHeartbeats(); // b hangs
    const stoppedAt = Date.now();
    await waitFor(() => a.reasons.length > 0);
    const tookMs = Date.now() - stoppedAt;
    // Not before b's 400 ms session ran out; the upper bound is one only a member that is
    // never removed would miss (a loaded machine runs heartbeats and timers late).
    expect(tookMs).toBeGreaterThanOrEqual(350);
    expect(tookMs).toBeLessThan(5_000);
    expect(count(await a.m.joinAndSync())).toBe(6);
    // b comes back: its member id is gone, so it joins as new.
    await expect(b.m.commit([{ topic: "t", partition: 0, offset: 1 }])).rejects.toMatchObject({ code: ErrorCode.UNKNOWN_MEMBER_ID });
  });

  test("a commit from a fenced generation is refused with ILLEGAL_GENERATION and the member recovers by rejoining", async () => {
    const rpc = setup();
    const a = member(rpc(), "a");
    await a.m.joinAndSync();
    const staleGeneration = a.m.generationId;
    const b = member(rpc(), "b");
    const bJoined = b.m.joinAndSync();
    await a.m.joinAndSync();
    await bJoined;
    a.m.generationId = staleGeneration;
    const e = await a.m.commit([{ topic: "t", partition: 0, offset: 1 }]).catch((x) => x);
    expect(e).toBeInstanceOf(SluiceError);
    expect((e as SluiceError).code).toBe(ErrorCode.ILLEGAL_GENERATION);
    await a.m.joinAndSync();
    expect(a.m.generationId).toBe(2);
  });

  test("a joining member whose connection drops is removed at once instead of holding the rebalance up", async () => {
    const rpc = setup();
    const a = member(rpc(), "a");
    await a.m.joinAndSync();
    a.m.startHeartbeats();
    const bConn = rpc();
    const b = member(bConn, "b");
    void b.m.joinAndSync().catch(() => {});
    await waitFor(() => a.reasons.length > 0);
    bConn.drop();
    b.m.close();
    const started = Date.now();
    expect(count(await a.m.joinAndSync())).toBe(6);
    expect(Date.now() - started).toBeLessThan(1_000); // not the 3 s rebalance timeout
  });
});
