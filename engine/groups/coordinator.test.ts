import { beforeEach, describe, expect, test } from "bun:test";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import { GroupState, type JoinGroupRequest, type JoinGroupResponse } from "../../protocol/messages/groups.ts";
import { GroupCoordinator, type TopicInfo } from "./coordinator.ts";
import { FakeTimers } from "./fake_timers.ts";
import { MemoryOffsetStore } from "./memory_offset_store.ts";

class FakeTopics implements TopicInfo {
  counts = new Map<string, number>();
  hw = new Map<string, number>();
  start = new Map<string, number>();
  partitionCount(topic: string): number {
    return this.counts.get(topic) ?? 0;
  }
  highWatermark(topic: string, partition: number): number {
    return this.hw.get(`${topic}/${partition}`) ?? 0;
  }
  logStartOffset(topic: string, partition: number): number {
    return this.start.get(`${topic}/${partition}`) ?? 0;
  }
}

const SESSION_MS = 3_000;
const REBALANCE_MS = 10_000;

let timers: FakeTimers;
let topics: FakeTopics;
let store: MemoryOffsetStore;
let coord: GroupCoordinator;
let rebalances: Array<{ groupId: string; generationId: number; reason: string }>;

beforeEach(() => {
  timers = new FakeTimers();
  topics = new FakeTopics();
  topics.counts.set("t", 4);
  for (let p = 0; p < 4; p++) topics.hw.set(`t/${p}`, 100);
  store = new MemoryOffsetStore();
  rebalances = [];
  let n = 0;
  coord = new GroupCoordinator({
    timers,
    topics,
    offsets: store,
    newMemberId: (clientId) => `${clientId || "m"}-${++n}`,
    onRebalanced: (groupId, generationId, reason) => rebalances.push({ groupId, generationId, reason }),
  });
});

function joinReq(over: Partial<JoinGroupRequest> = {}): JoinGroupRequest {
  return {
    groupId: "g",
    memberId: "",
    topics: ["t"],
    sessionTimeoutMs: SESSION_MS,
    rebalanceTimeoutMs: REBALANCE_MS,
    assignors: ["range"],
    ...over,
  };
}

/** Tracks a join promise so a test can assert whether it has resolved yet, without awaiting it. */
function track(p: Promise<JoinGroupResponse>) {
  const t: { value?: JoinGroupResponse; error?: SluiceError; settled: boolean } = { settled: false };
  p.then(
    (v) => Object.assign(t, { value: v, settled: true }),
    (e) => Object.assign(t, { error: e, settled: true }),
  );
  return t;
}

const flush = () => new Promise((r) => setImmediate(r));

function codeOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof SluiceError) return e.code;
    throw e;
  }
  return undefined;
}

async function asyncCodeOf(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SluiceError) return e.code;
    throw e;
  }
  return undefined;
}

const state = (groupId = "g") => coord.describeGroups([groupId]).groups[0].state;

/** Joins one member to an empty group and syncs it: the group is Stable at generation 1. */
async function firstMember(clientId = "a") {
  const j = await coord.join(joinReq({ clientId }));
  const s = coord.sync("g", j.memberId, j.generationId);
  return { ...j, assignment: s.assignment };
}

describe("membership transitions", () => {
  test("Empty → (join) → CompletingRebalance → (sync) → Stable; the only member gets everything and leads", async () => {
    const j = await coord.join(joinReq({ clientId: "a" }));
    expect(j).toMatchObject({ generationId: 1, memberId: "a-1", leaderId: "a-1", assignor: "range" });
    expect(state()).toBe(GroupState.CompletingRebalance);
    const s = coord.sync("g", j.memberId, 1);
    expect(s.assignment).toEqual([{ topic: "t", partitions: [0, 1, 2, 3] }]);
    expect(state()).toBe(GroupState.Stable);
    expect(rebalances).toEqual([{ groupId: "g", generationId: 1, reason: "member joined" }]);
  });

  test("a second member: Stable → PreparingRebalance; the first learns by heartbeat, rejoins, both get generation 2", async () => {
    const a = await firstMember("a");
    const b = track(coord.join(joinReq({ clientId: "b" })));
    await flush();
    expect(b.settled).toBe(false); // the join is a long request: it waits for a to rejoin
    expect(state()).toBe(GroupState.PreparingRebalance);
    expect(codeOf(() => coord.heartbeat("g", a.memberId, 1))).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect(codeOf(() => coord.sync("g", a.memberId, 1))).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    // a may still commit what it processed with its old generation before rejoining.
    const c = await coord.commit({ groupId: "g", generationId: 1, memberId: a.memberId, topics: [{ name: "t", partitions: [{ partition: 0, offset: 7 }] }] });
    expect(c.topics[0].partitions[0].errorCode).toBe(ErrorCode.NONE);
    const a2 = await coord.join(joinReq({ clientId: "a", memberId: a.memberId }));
    await flush();
    expect(b.value!.generationId).toBe(2);
    expect(a2.generationId).toBe(2);
    expect(a2.leaderId).toBe(a.memberId); // the leader stays while it stays
    expect(state()).toBe(GroupState.CompletingRebalance);
    const sa = coord.sync("g", a.memberId, 2);
    expect(state()).toBe(GroupState.CompletingRebalance); // b has not synced yet
    const sb = coord.sync("g", b.value!.memberId, 2);
    expect(state()).toBe(GroupState.Stable);
    expect(sa.assignment).toEqual([{ topic: "t", partitions: [0, 1] }]);
    expect(sb.assignment).toEqual([{ topic: "t", partitions: [2, 3] }]);
  });

  test("fencing: heartbeat, sync and commit from an old generation get ILLEGAL_GENERATION; a stranger UNKNOWN_MEMBER_ID", async () => {
    const a = await firstMember("a");
    const b = coord.join(joinReq({ clientId: "b" }));
    await coord.join(joinReq({ memberId: a.memberId }));
    await b;
    expect(codeOf(() => coord.heartbeat("g", a.memberId, 1))).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(codeOf(() => coord.sync("g", a.memberId, 1))).toBe(ErrorCode.ILLEGAL_GENERATION);
    const commitOld = coord.commit({ groupId: "g", generationId: 1, memberId: a.memberId, topics: [{ name: "t", partitions: [{ partition: 0, offset: 1 }] }] });
    expect(await asyncCodeOf(commitOld)).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(codeOf(() => coord.heartbeat("g", "nobody", 2))).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(codeOf(() => coord.heartbeat("other-group", a.memberId, 2))).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(codeOf(() => coord.join(joinReq({ memberId: "nobody" })))).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    const commitStranger = coord.commit({ groupId: "g", generationId: 2, memberId: "nobody", topics: [] });
    expect(await asyncCodeOf(commitStranger)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    // The current generation is accepted, including commits while CompletingRebalance.
    expect(state()).toBe(GroupState.CompletingRebalance);
    expect(codeOf(() => coord.heartbeat("g", a.memberId, 2))).toBeUndefined();
    const ok = await coord.commit({ groupId: "g", generationId: 2, memberId: a.memberId, topics: [{ name: "t", partitions: [{ partition: 0, offset: 1 }] }] });
    expect(ok.topics[0].partitions[0].errorCode).toBe(ErrorCode.NONE);
  });

  test("a known member rejoining a Stable group with the same subscription gets the current generation at once", async () => {
    const a = await firstMember("a");
    const again = await coord.join(joinReq({ memberId: a.memberId }));
    expect(again.generationId).toBe(1);
    expect(state()).toBe(GroupState.Stable);
    expect(rebalances.length).toBe(1);
  });

  test("a changed subscription triggers a rebalance", async () => {
    topics.counts.set("u", 2);
    const a = await firstMember("a");
    const j = await coord.join(joinReq({ memberId: a.memberId, topics: ["t", "u"] }));
    expect(j.generationId).toBe(2);
    expect(rebalances.at(-1)!.reason).toBe("subscription changed");
    expect(coord.sync("g", a.memberId, 2).assignment).toEqual([
      { topic: "t", partitions: [0, 1, 2, 3] },
      { topic: "u", partitions: [0, 1] },
    ]);
  });

  test("leave: the others rebalance; the last one leaving empties the group and its offsets remain", async () => {
    const a = await firstMember("a");
    const bJoin = coord.join(joinReq({ clientId: "b" }));
    await coord.join(joinReq({ memberId: a.memberId }));
    const b = await bJoin;
    coord.sync("g", a.memberId, 2);
    coord.sync("g", b.memberId, 2);
    await coord.commit({ groupId: "g", generationId: 2, memberId: a.memberId, topics: [{ name: "t", partitions: [{ partition: 0, offset: 5 }] }] });
    coord.leave("g", b.memberId);
    expect(state()).toBe(GroupState.PreparingRebalance);
    expect(codeOf(() => coord.heartbeat("g", b.memberId, 2))).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    const a3 = await coord.join(joinReq({ memberId: a.memberId }));
    expect(a3.generationId).toBe(3);
    expect(coord.sync("g", a.memberId, 3).assignment).toEqual([{ topic: "t", partitions: [0, 1, 2, 3] }]);
    coord.leave("g", a.memberId);
    expect(state()).toBe(GroupState.Empty);
    expect(coord.listGroups().groups).toEqual([{ groupId: "g", state: GroupState.Empty, members: 0 }]);
    expect(coord.fetchOffsets({ groupId: "g", topics: [{ name: "t", partitions: [0] }] }).topics[0].partitions[0].offset).toBe(5);
    expect(codeOf(() => coord.leave("g", a.memberId))).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  test("a member that stops heartbeating is removed exactly at its session timeout and the rest rebalance", async () => {
    const a = await firstMember("a");
    const bJoin = coord.join(joinReq({ clientId: "b" }));
    await coord.join(joinReq({ memberId: a.memberId }));
    const b = await bJoin;
    coord.sync("g", a.memberId, 2);
    coord.sync("g", b.memberId, 2);
    // a keeps heartbeating every second; b goes silent.
    for (let i = 0; i < 2; i++) {
      timers.advance(1_000);
      coord.heartbeat("g", a.memberId, 2);
    }
    timers.advance(SESSION_MS - 2_000 - 1);
    expect(coord.describeGroups(["g"]).groups[0].members.length).toBe(2);
    timers.advance(1);
    expect(coord.describeGroups(["g"]).groups[0].members.map((m) => m.memberId)).toEqual([a.memberId]);
    expect(rebalances.length).toBe(2);
    expect(state()).toBe(GroupState.PreparingRebalance);
    expect(codeOf(() => coord.heartbeat("g", a.memberId, 2))).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const j = await coord.join(joinReq({ memberId: a.memberId }));
    expect(rebalances.at(-1)!.reason).toBe("session expired");
    expect(j.generationId).toBe(3);
    expect(coord.sync("g", a.memberId, 3).assignment[0].partitions).toEqual([0, 1, 2, 3]);
  });

  test("a member that does not rejoin within the rebalance timeout is removed; the others' joins complete then", async () => {
    const a = await firstMember("a");
    const bJoin = coord.join(joinReq({ clientId: "b" }));
    await coord.join(joinReq({ memberId: a.memberId }));
    const b = await bJoin;
    coord.sync("g", a.memberId, 2);
    coord.sync("g", b.memberId, 2);
    const c = track(coord.join(joinReq({ clientId: "c" })));
    const a3 = track(coord.join(joinReq({ memberId: a.memberId })));
    // b keeps heartbeating (so its session never expires) but never rejoins.
    for (let t = 0; t < REBALANCE_MS - 1_000; t += 1_000) {
      timers.advance(1_000);
      expect(codeOf(() => coord.heartbeat("g", b.memberId, 2))).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    }
    await flush();
    expect(c.settled).toBe(false);
    timers.advance(1_000);
    await flush();
    expect(c.value!.generationId).toBe(3);
    expect(a3.value!.members.map((m) => m.memberId).sort()).toEqual([a.memberId, c.value!.memberId].sort());
    expect(codeOf(() => coord.heartbeat("g", b.memberId, 3))).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  test("a member parked in a join is not expired by its session timeout; the rebalance timeout bounds it", async () => {
    const a = await firstMember("a");
    const b = track(coord.join(joinReq({ clientId: "b", sessionTimeoutMs: 1_000 })));
    // a heartbeats (and learns of the rebalance) but never rejoins; b waits far past its 1 s session.
    for (let t = 0; t < REBALANCE_MS - 1_000; t += 500) {
      timers.advance(500);
      expect(codeOf(() => coord.heartbeat("g", a.memberId, 1))).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    }
    await flush();
    expect(b.settled).toBe(false);
    expect(coord.describeGroups(["g"]).groups[0].members.length).toBe(2);
    timers.advance(1_000);
    await flush();
    expect(b.value!.members.map((m) => m.memberId)).toEqual([b.value!.memberId]);
    expect(codeOf(() => coord.heartbeat("g", a.memberId, 1))).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  test("more partitions on a subscribed topic trigger a rebalance; an unchanged count or an unrelated topic does not", async () => {
    const a = await firstMember("a");
    coord.partitionsChanged("t");
    expect(state()).toBe(GroupState.Stable);
    topics.counts.set("other", 3);
    coord.partitionsChanged("other");
    expect(state()).toBe(GroupState.Stable);
    topics.counts.set("t", 6);
    coord.partitionsChanged("t");
    expect(state()).toBe(GroupState.PreparingRebalance);
    const j = await coord.join(joinReq({ memberId: a.memberId }));
    expect(rebalances.at(-1)!.reason).toBe("partition count changed");
    expect(coord.sync("g", a.memberId, j.generationId).assignment[0].partitions).toEqual([0, 1, 2, 3, 4, 5]);
  });

  test("a topic that appears after the group subscribed to it triggers a rebalance", async () => {
    const j = await coord.join(joinReq({ topics: ["later"] }));
    expect(coord.sync("g", j.memberId, 1).assignment).toEqual([]);
    topics.counts.set("later", 2);
    coord.partitionsChanged("later");
    expect(state()).toBe(GroupState.PreparingRebalance);
  });

  test("a second join from the same member supersedes the first, which is told REBALANCE_IN_PROGRESS", async () => {
    const a = await firstMember("a");
    const b = track(coord.join(joinReq({ clientId: "b" })));
    await flush();
    const bId = "b-2";
    expect(coord.describeGroups(["g"]).groups[0].members.map((m) => m.memberId)).toContain(bId);
    const bAgain = track(coord.join(joinReq({ memberId: bId })));
    await flush();
    expect(b.error?.code).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    await coord.join(joinReq({ memberId: a.memberId }));
    await flush();
    expect(bAgain.value!.generationId).toBe(2);
  });

  test("a parked join abandoned (its connection closed) removes the member at once; the rebalance goes on without it", async () => {
    const a = await firstMember("a");
    let abandonB!: () => void;
    const b = track(coord.join(joinReq({ clientId: "b" }), (abandon) => (abandonB = abandon)));
    abandonB();
    await flush();
    expect(b.error?.code).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    const a2 = await coord.join(joinReq({ memberId: a.memberId }));
    expect(a2.members.map((m) => m.memberId)).toEqual([a.memberId]);
    expect(rebalances.at(-1)!.reason).toBe("member joined");
    abandonB(); // a second call, after the join settled, changes nothing
    expect(coord.describeGroups(["g"]).groups[0].members.length).toBe(1);
  });

  test("close() answers parked joins with COORDINATOR_NOT_AVAILABLE and refuses new requests", async () => {
    await firstMember("a");
    const b = track(coord.join(joinReq({ clientId: "b" })));
    coord.close();
    await flush();
    expect(b.error?.code).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect(codeOf(() => coord.join(joinReq()))).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect(timers.armed).toBe(0);
  });
});

describe("join validation", () => {
  test("session timeout outside the allowed range: INVALID_SESSION_TIMEOUT", () => {
    expect(codeOf(() => coord.join(joinReq({ sessionTimeoutMs: 10 })))).toBe(ErrorCode.INVALID_SESSION_TIMEOUT);
    expect(codeOf(() => coord.join(joinReq({ sessionTimeoutMs: 10_000_000 })))).toBe(ErrorCode.INVALID_SESSION_TIMEOUT);
  });

  test("assignors: unknown to the broker or shared with nobody: INCONSISTENT_GROUP_PROTOCOL; the leader's first common one wins", async () => {
    expect(codeOf(() => coord.join(joinReq({ assignors: ["magic"] })))).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    const a = await coord.join(joinReq({ assignors: ["sticky", "roundrobin"] }));
    expect(a.assignor).toBe("sticky");
    expect(codeOf(() => coord.join(joinReq({ assignors: ["range"] })))).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    const b = coord.join(joinReq({ assignors: ["range", "roundrobin"] }));
    const a2 = await coord.join(joinReq({ memberId: a.memberId, assignors: ["sticky", "roundrobin"] }));
    expect(a2.assignor).toBe("roundrobin");
    expect((await b).assignor).toBe("roundrobin");
  });
});

describe("offsets", () => {
  const commit = (offset: number, partition = 0, metadata?: string) =>
    coord.commit({ groupId: "g", generationId: -1, memberId: "", topics: [{ name: "t", partitions: [{ partition, offset, metadata }] }] });

  test("standalone commits work on a group without members and are refused while it has some", async () => {
    expect((await commit(10)).topics[0].partitions[0].errorCode).toBe(ErrorCode.NONE);
    expect(store.get("g", "t", 0)?.offset).toBe(10);
    await firstMember("a");
    expect(await asyncCodeOf(commit(11))).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(store.get("g", "t", 0)?.offset).toBe(10);
  });

  test("per-partition checks: beyond the high watermark OFFSET_OUT_OF_RANGE, negative or long metadata INVALID_COMMIT_OFFSET_SIZE, missing partition UNKNOWN_TOPIC_OR_PARTITION", async () => {
    const r = await coord.commit({
      groupId: "g",
      generationId: -1,
      memberId: "",
      topics: [
        { name: "t", partitions: [{ partition: 0, offset: 100 }, { partition: 1, offset: 101 }, { partition: 2, offset: -1 }, { partition: 3, offset: 1, metadata: "x".repeat(5000) }, { partition: 9, offset: 1 }] },
        { name: "nope", partitions: [{ partition: 0, offset: 0 }] },
      ],
    });
    expect(r.topics.map((t) => t.partitions.map((p) => p.errorCode))).toEqual([
      [ErrorCode.NONE, ErrorCode.OFFSET_OUT_OF_RANGE, ErrorCode.INVALID_COMMIT_OFFSET_SIZE, ErrorCode.INVALID_COMMIT_OFFSET_SIZE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
      [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    ]);
    expect(store.entries("g").map((e) => [e.partition, e.offset])).toEqual([[0, 100]]);
  });

  test("a commit resolves only after the store made it durable, and only then is it visible", async () => {
    let release!: () => void;
    store.commitDelay = () => new Promise<void>((r) => (release = r));
    let done = false;
    const p = commit(42, 1, "m").then(() => (done = true));
    await flush();
    expect(done).toBe(false);
    expect(coord.fetchOffsets({ groupId: "g", topics: [{ name: "t", partitions: [1] }] }).topics[0].partitions[0].offset).toBe(-1);
    release();
    await p;
    expect(coord.fetchOffsets({ groupId: "g", topics: [{ name: "t", partitions: [1] }] }).topics[0].partitions[0]).toEqual({
      partition: 1,
      offset: 42,
      metadata: "m",
      errorCode: ErrorCode.NONE,
    });
  });

  test("fetch: a topic without partitions listed gives every partition, -1 where nothing is committed; null gives all committed", async () => {
    await commit(3, 2);
    expect(coord.fetchOffsets({ groupId: "g", topics: [{ name: "t" }] }).topics[0].partitions.map((p) => p.offset)).toEqual([-1, -1, 3, -1]);
    expect(coord.fetchOffsets({ groupId: "g", topics: null })).toEqual({
      topics: [{ name: "t", partitions: [{ partition: 2, offset: 3, metadata: "", errorCode: 0 }] }],
    });
  });

  test("reset: refused with NON_EMPTY_GROUP while the group has members; earliest, latest, an offset, out of range", async () => {
    topics.start.set("t/1", 20);
    const a = await firstMember("a");
    expect(await asyncCodeOf(coord.resetOffsets({ groupId: "g", topic: "t", to: "earliest" }))).toBe(ErrorCode.NON_EMPTY_GROUP);
    coord.leave("g", a.memberId);
    const earliest = await coord.resetOffsets({ groupId: "g", topic: "t", to: "earliest" });
    expect(earliest.partitions.map((p) => p.offset)).toEqual([0, 20, 0, 0]);
    const latest = await coord.resetOffsets({ groupId: "g", topic: "t", to: "latest", partitions: [3] });
    expect(latest.partitions).toEqual([{ partition: 3, errorCode: 0, offset: 100 }]);
    const exact = await coord.resetOffsets({ groupId: "g", topic: "t", to: 10, partitions: [0, 1, 7] });
    expect(exact.partitions.map((p) => p.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.OFFSET_OUT_OF_RANGE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
    expect(store.entries("g").map((e) => e.offset)).toEqual([10, 20, 0, 100]);
    expect(await asyncCodeOf(coord.resetOffsets({ groupId: "g", topic: "missing", to: "latest" }))).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  test("describe: lag per partition is the high watermark minus the committed offset, with owners", async () => {
    const a = await firstMember("a");
    await coord.commit({ groupId: "g", generationId: 1, memberId: a.memberId, topics: [{ name: "t", partitions: [{ partition: 0, offset: 60 }] }] });
    topics.start.set("t/1", 30);
    const d = coord.describeGroups(["g", "missing"]).groups;
    expect(d[0]).toMatchObject({ state: GroupState.Stable, generationId: 1, assignor: "range", leaderId: a.memberId });
    expect(d[0].offsets.map((o) => [o.partition, o.committedOffset, o.highWatermark, o.lag, o.memberId])).toEqual([
      [0, 60, 100, 40, a.memberId],
      [1, -1, 100, 70, a.memberId],
      [2, -1, 100, 100, a.memberId],
      [3, -1, 100, 100, a.memberId],
    ]);
    expect(d[1].errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
  });
});

describe("leader-assigned groups (Kafka's classic protocol)", () => {
  const meta = (s: string) => new TextEncoder().encode(s);
  const kafkaJoin = (memberId: string, clientId: string, protocols = [{ name: "range", metadata: meta(`sub-${clientId}`) }]) => ({
    groupId: "kg",
    memberId,
    clientId,
    sessionTimeoutMs: SESSION_MS,
    rebalanceTimeoutMs: REBALANCE_MS,
    protocolType: "consumer",
    protocols,
    topics: ["t"],
  });
  const decode = (b: Uint8Array) => new Map([["t", [...b]]]);

  test("the leader gets every member's metadata; a member's sync waits for the leader's, and gets what the leader sent for it", async () => {
    const first = await coord.joinLeaderAssigned(kafkaJoin("", "a"));
    expect(first.memberMetadata).toEqual([{ memberId: "a-1", metadata: meta("sub-a") }]);
    // A second member: both rejoin for generation 2.
    const joinB = coord.joinLeaderAssigned(kafkaJoin("", "b"));
    const rejoinA = coord.joinLeaderAssigned(kafkaJoin("a-1", "a"));
    const [b, a] = await Promise.all([joinB, rejoinA]);
    expect([a.generationId, b.generationId, a.leaderId, a.assignor]).toEqual([2, 2, "a-1", "range"]);
    expect(a.memberMetadata?.map((m) => m.memberId).sort()).toEqual(["a-1", "b-2"]);
    expect(b.memberMetadata).toBeUndefined();

    let followerGot: Uint8Array | undefined;
    const follower = coord.syncLeaderAssigned("kg", "b-2", 2, new Map(), decode).then((x) => (followerGot = x));
    await Promise.resolve();
    expect(followerGot).toBeUndefined(); // waits for the leader
    const leaderGot = await coord.syncLeaderAssigned("kg", "a-1", 2, new Map([["a-1", new Uint8Array([0, 1])], ["b-2", new Uint8Array([2, 3])]]), decode);
    await follower;
    expect([...leaderGot]).toEqual([0, 1]);
    expect([...followerGot!]).toEqual([2, 3]);
    const d = coord.describeGroups(["kg"]).groups[0];
    expect(d.state).toBe(GroupState.Stable);
    expect(d.members.map((m) => [m.memberId, m.assignment])).toEqual([
      ["a-1", [{ topic: "t", partitions: [0, 1] }]],
      ["b-2", [{ topic: "t", partitions: [2, 3] }]],
    ]);
  });

  test("a rebalance answers a waiting sync REBALANCE_IN_PROGRESS; a native member cannot join a Kafka group, nor the other way round", async () => {
    await coord.joinLeaderAssigned(kafkaJoin("", "a"));
    const joinB = coord.joinLeaderAssigned(kafkaJoin("", "b"));
    await coord.joinLeaderAssigned(kafkaJoin("a-1", "a"));
    await joinB;
    const waiting = coord.syncLeaderAssigned("kg", "b-2", 2, new Map(), decode);
    coord.leave("kg", "a-1");
    await expect(waiting).rejects.toMatchObject({ code: ErrorCode.REBALANCE_IN_PROGRESS });

    expect(() => coord.join(joinReq({ groupId: "kg" }))).toThrow(SluiceError);
    await coord.join(joinReq({ groupId: "native" }));
    try {
      coord.joinLeaderAssigned({ ...kafkaJoin("", "c"), groupId: "native" });
      throw new Error("expected INCONSISTENT_GROUP_PROTOCOL");
    } catch (e) {
      expect((e as SluiceError).code).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    }
  });
});
