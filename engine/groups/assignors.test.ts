import { describe, expect, test } from "bun:test";
import { type AssignorInput, type MemberAssignment, assertAssignment, partitionCount } from "./assignor.ts";
import { ASSIGNORS } from "./assignors.ts";
import { rangeAssignor } from "./range_assignor.ts";
import { roundRobinAssignor } from "./round_robin_assignor.ts";
import { stickyAssignor } from "./sticky_assignor.ts";

function input(members: Record<string, string[]>, topics: Record<string, number>, previous = new Map<string, MemberAssignment>()): AssignorInput {
  return {
    members: Object.entries(members).map(([memberId, t]) => ({ memberId, topics: t })),
    partitionsPerTopic: new Map(Object.entries(topics)),
    previous,
  };
}

const loads = (r: Map<string, MemberAssignment>) => [...r.values()].map((a) => partitionCount(a));
const plain = (r: Map<string, MemberAssignment>) => Object.fromEntries([...r].map(([m, a]) => [m, Object.fromEntries(a)]));

/** A seeded generator, so a failing random case can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("every assignor", () => {
  for (const assignor of ASSIGNORS.values()) {
    test(`${assignor.name}: covers every partition exactly once, only to subscribers, on random inputs`, () => {
      const rand = rng(7);
      for (let round = 0; round < 200; round++) {
        const topicNames = ["a", "b", "c", "d"].slice(0, 1 + Math.floor(rand() * 4));
        const topics: Record<string, number> = {};
        for (const t of topicNames) topics[t] = Math.floor(rand() * 20); // 0 = missing topic
        const members: Record<string, string[]> = {};
        const n = 1 + Math.floor(rand() * 8);
        for (let i = 0; i < n; i++) {
          const subs = topicNames.filter(() => rand() < 0.6);
          members[`m${Math.floor(rand() * 1000)}-${i}`] = subs.length ? subs : [topicNames[0]];
        }
        const first = assignor.assign(input(members, topics));
        assertAssignment(input(members, topics), first);
        // Replay with the result as the previous generation (the sticky path).
        const second = assignor.assign(input(members, topics, first));
        assertAssignment(input(members, topics), second);
      }
    });

    test(`${assignor.name}: with identical subscriptions loads differ by at most one`, () => {
      for (let members = 1; members <= 14; members++) {
        for (const partitions of [1, 5, 12, 13, 40]) {
          const m: Record<string, string[]> = {};
          for (let i = 0; i < members; i++) m[`member-${String(i).padStart(2, "0")}`] = ["t"];
          const r = assignor.assign(input(m, { t: partitions }));
          const l = loads(r);
          expect(Math.max(...l) - Math.min(...l)).toBeLessThanOrEqual(1);
          expect(l.reduce((x, y) => x + y, 0)).toBe(partitions);
        }
      }
    });

    test(`${assignor.name}: a member beyond the partition count gets nothing (a standby)`, () => {
      const m: Record<string, string[]> = {};
      for (let i = 0; i < 13; i++) m[`m${String(i).padStart(2, "0")}`] = ["t"];
      const r = assignor.assign(input(m, { t: 12 }));
      expect(loads(r).filter((x) => x === 0).length).toBe(1);
      expect(loads(r).filter((x) => x === 1).length).toBe(12);
    });

    test(`${assignor.name}: a topic that does not exist yet assigns nothing and does not throw`, () => {
      const r = assignor.assign(input({ a: ["ghost"], b: ["ghost", "t"] }, { t: 2 }));
      expect(plain(r)).toEqual({ a: {}, b: { t: [0, 1] } });
    });
  }
});

describe("range", () => {
  test("contiguous ranges per topic, the first members get the remainder", () => {
    const r = rangeAssignor.assign(input({ c: ["t", "u"], a: ["t", "u"], b: ["t", "u"] }, { t: 7, u: 2 }));
    expect(plain(r)).toEqual({ a: { t: [0, 1, 2], u: [0] }, b: { t: [3, 4], u: [1] }, c: { t: [5, 6] } });
  });

  test("only subscribers of a topic share it", () => {
    const r = rangeAssignor.assign(input({ a: ["t"], b: ["u"], c: ["t", "u"] }, { t: 4, u: 4 }));
    expect(plain(r)).toEqual({ a: { t: [0, 1] }, b: { u: [0, 1] }, c: { t: [2, 3], u: [2, 3] } });
  });
});

describe("round-robin", () => {
  test("deals partitions across topics in member order", () => {
    const r = roundRobinAssignor.assign(input({ b: ["t", "u"], a: ["t", "u"] }, { t: 3, u: 2 }));
    expect(plain(r)).toEqual({ a: { t: [0, 2], u: [1] }, b: { t: [1], u: [0] } });
  });

  test("balances across topics where range would not", () => {
    const m = { a: ["t", "u", "v"], b: ["t", "u", "v"] };
    const topics = { t: 3, u: 3, v: 3 };
    const rr = loads(roundRobinAssignor.assign(input(m, topics)));
    const range = loads(rangeAssignor.assign(input(m, topics)));
    expect(Math.max(...rr) - Math.min(...rr)).toBe(1);
    expect(Math.max(...range) - Math.min(...range)).toBe(3);
  });
});

describe("sticky", () => {
  /** Partitions that changed hands between two members present in both generations. */
  function movedCount(before: Map<string, MemberAssignment>, after: Map<string, MemberAssignment>): number {
    const owner = new Map<string, string>();
    for (const [m, a] of after) for (const [t, ps] of a) for (const p of ps) owner.set(`${t}/${p}`, m);
    let moved = 0;
    for (const [m, a] of before) for (const [t, ps] of a) for (const p of ps) {
      if (!after.has(m)) continue; // its owner left: handing it on is not a move
      const now = owner.get(`${t}/${p}`);
      if (now !== undefined && now !== m) moved++;
    }
    return moved;
  }

  /**
   * The fewest moves any balanced assignment needs, identical subscriptions: members
   * still here keep at most their quota; the `extra` larger quotas go to those that kept most.
   */
  function movesLowerBound(kept: number[], total: number): number {
    const n = kept.length;
    const base = Math.floor(total / n);
    let extra = total % n;
    let moves = 0;
    for (const k of [...kept].sort((x, y) => y - x)) {
      const quota = base + (extra > 0 ? 1 : 0);
      if (extra > 0) extra--;
      moves += Math.max(0, k - quota);
    }
    return moves;
  }

  test("a member joining moves only the partitions it needs (12 partitions, 3 → 4 members: 3 moves)", () => {
    const m3 = { a: ["t"], b: ["t"], c: ["t"] };
    const before = stickyAssignor.assign(input(m3, { t: 12 }));
    const after = stickyAssignor.assign(input({ ...m3, d: ["t"] }, { t: 12 }, before));
    expect(movedCount(before, after)).toBe(3);
    expect(partitionCount(after.get("d"))).toBe(3);
    expect(loads(after)).toEqual([3, 3, 3, 3]);
  });

  test("a member leaving moves only its own partitions", () => {
    const m4 = { a: ["t"], b: ["t"], c: ["t"], d: ["t"] };
    const before = stickyAssignor.assign(input(m4, { t: 12 }));
    const { b: _gone, ...m3 } = m4;
    const after = stickyAssignor.assign(input(m3, { t: 12 }, before));
    expect(movedCount(before, after)).toBe(0); // b's partitions do not count: their owner is gone
    for (const id of ["a", "c", "d"]) for (const [t, ps] of before.get(id)!) expect(after.get(id)!.get(t)).toEqual(expect.arrayContaining(ps));
    expect(loads(after)).toEqual([4, 4, 4]);
  });

  test("range reshuffles where sticky does not (the reason sticky exists)", () => {
    const m3 = { b: ["t"], c: ["t"], d: ["t"] };
    const before = rangeAssignor.assign(input(m3, { t: 12 }));
    const after = rangeAssignor.assign(input({ ...m3, a: ["t"] }, { t: 12 }));
    expect(movedCount(before, after)).toBeGreaterThan(3);
  });

  test("new partitions of a topic go to the least loaded members and nothing else moves", () => {
    const m = { a: ["t"], b: ["t"], c: ["t"] };
    const before = stickyAssignor.assign(input(m, { t: 6 }));
    const after = stickyAssignor.assign(input(m, { t: 9 }, before));
    expect(movedCount(before, after)).toBe(0);
    expect(loads(after)).toEqual([3, 3, 3]);
  });

  test("moves the minimum across random joins and leaves (identical subscriptions)", () => {
    const rand = rng(42);
    let previous = new Map<string, MemberAssignment>();
    let members: string[] = ["m000"];
    let nextId = 1;
    for (let step = 0; step < 300; step++) {
      const partitions = 24;
      if (members.length > 1 && rand() < 0.45) members.splice(Math.floor(rand() * members.length), 1);
      else members.push(`m${String(nextId++).padStart(3, "0")}`);
      const m = Object.fromEntries(members.map((id) => [id, ["t"]]));
      const after = stickyAssignor.assign(input(m, { t: partitions }, previous));
      assertAssignment(input(m, { t: partitions }), after);
      const kept = members.map((id) => partitionCount(previous.get(id)));
      expect(movedCount(previous, after)).toBe(movesLowerBound(kept, partitions));
      const l = loads(after);
      expect(Math.max(...l) - Math.min(...l)).toBeLessThanOrEqual(1);
      previous = after;
    }
  });

  test("a member that drops a topic from its subscription gives up only that topic", () => {
    const before = stickyAssignor.assign(input({ a: ["t", "u"], b: ["t", "u"] }, { t: 4, u: 4 }));
    const after = stickyAssignor.assign(input({ a: ["t"], b: ["t", "u"] }, { t: 4, u: 4 }, before));
    expect(after.get("a")!.has("u")).toBe(false);
    expect(after.get("b")!.get("u")).toEqual([0, 1, 2, 3]);
  });
});
