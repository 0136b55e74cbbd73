import { describe, expect, test } from "bun:test";
import { ErrorCode } from "../protocol/errors.ts";
import { generateReassignment } from "./reassignment_generator.ts";
import { checkPlanAgainst, formatReassignmentPlan, type PartitionAssignment, parseReassignmentPlan } from "./reassignment_plan.ts";
import { placeReplicas } from "./replica_placement.ts";

function topicOf(name: string, replicas: number[][]): PartitionAssignment[] {
  return replicas.map((r, partition) => ({ topic: name, partition, replicas: r }));
}

/** The assignment after applying a plan to the current one. */
function applied(current: readonly PartitionAssignment[], plan: { partitions: readonly PartitionAssignment[] }): PartitionAssignment[] {
  const byKey = new Map(plan.partitions.map((p) => [`${p.topic}/${p.partition}`, p.replicas]));
  return current.map((p) => ({ ...p, replicas: byKey.get(`${p.topic}/${p.partition}`) ?? p.replicas }));
}

function spreadOf(result: readonly PartitionAssignment[], brokers: readonly number[]): { replicas: number; leaders: number } {
  const r = new Map(brokers.map((b) => [b, 0]));
  const l = new Map(brokers.map((b) => [b, 0]));
  for (const p of result) {
    p.replicas.forEach((b, i) => {
      r.set(b, (r.get(b) ?? 0) + 1);
      if (i === 0) l.set(b, (l.get(b) ?? 0) + 1);
    });
  }
  const range = (m: Map<number, number>) => Math.max(...m.values()) - Math.min(...m.values());
  return { replicas: range(r), leaders: range(l) };
}

/** A deterministic generator, so a failure reproduces. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("generateReassignment", () => {
  test("3 → 4 brokers: the new broker gets a quarter of the replicas, counts and leaders within one", () => {
    const current = [
      ...topicOf("a", placeReplicas({ brokers: [1, 2, 3], partitions: 12, replicationFactor: 3, startIndex: 0, shift: 0 })),
      ...topicOf("b", placeReplicas({ brokers: [1, 2, 3], partitions: 4, replicationFactor: 3, startIndex: 1, shift: 1 })),
    ];
    const g = generateReassignment({ current, brokers: [1, 2, 3, 4] });
    const after = applied(current, g.plan);
    expect(spreadOf(after, [1, 2, 3, 4])).toEqual({ replicas: 0, leaders: 0 });
    // 48 replicas over 4 brokers: exactly the 12 the new broker must take are copied, nothing else moves.
    expect(g.moves).toBe(12);
    expect(g.after.find((l) => l.broker === 4)).toEqual({ broker: 4, replicas: 12, leaders: 4 });
    for (const p of after) expect(new Set(p.replicas).size).toBe(3);
  });

  test("a balanced cluster gets an empty plan", () => {
    const current = topicOf("a", placeReplicas({ brokers: [1, 2, 3], partitions: 9, replicationFactor: 2, startIndex: 2, shift: 1 }));
    const g = generateReassignment({ current, brokers: [1, 2, 3] });
    expect(g.plan.partitions).toEqual([]);
    expect(g.moves).toBe(0);
  });

  test("decommission: a broker left out of the list is emptied, the rest stay balanced", () => {
    const current = topicOf("a", placeReplicas({ brokers: [1, 2, 3, 4], partitions: 8, replicationFactor: 3, startIndex: 0, shift: 0 }));
    const g = generateReassignment({ current, brokers: [1, 2, 3] });
    const after = applied(current, g.plan);
    expect(after.some((p) => p.replicas.includes(4))).toBe(false);
    expect(spreadOf(after, [1, 2, 3])).toEqual({ replicas: 0, leaders: expect.any(Number) });
    expect(spreadOf(after, [1, 2, 3]).leaders).toBeLessThanOrEqual(1);
    // Exactly broker 4's six replicas move.
    expect(g.moves).toBe(current.filter((p) => p.replicas.includes(4)).length);
  });

  test("an uneven cluster (everything on two brokers, three idle) ends within one, replicas and leaders", () => {
    const current = topicOf("t", Array.from({ length: 10 }, (_, p) => (p % 2 === 0 ? [1, 2] : [2, 1])));
    const g = generateReassignment({ current, brokers: [1, 2, 3, 4, 5] });
    const after = applied(current, g.plan);
    expect(spreadOf(after, [1, 2, 3, 4, 5])).toEqual({ replicas: 0, leaders: 0 });
  });

  test("random assignments: never a broker twice, RF kept, spread within one (1000 cases)", () => {
    const next = rng(7);
    for (let c = 0; c < 1000; c++) {
      const nOld = 1 + Math.floor(next() * 6);
      const oldBrokers = Array.from({ length: nOld }, (_, i) => i + 1);
      const nTargets = 1 + Math.floor(next() * 7);
      const targets = Array.from({ length: nTargets }, (_, i) => i + 1 + Math.floor(next() * 3));
      const uniqTargets = [...new Set(targets)];
      const rf = 1 + Math.floor(next() * Math.min(nOld, uniqTargets.length));
      const partitions = 1 + Math.floor(next() * 30);
      const current: PartitionAssignment[] = [];
      for (let p = 0; p < partitions; p++) {
        const pool = [...oldBrokers];
        const replicas: number[] = [];
        for (let r = 0; r < rf; r++) replicas.push(pool.splice(Math.floor(next() * pool.length), 1)[0]);
        current.push({ topic: "t", partition: p, replicas });
      }
      const g = generateReassignment({ current, brokers: uniqTargets });
      const after = applied(current, g.plan);
      for (const p of after) {
        expect(p.replicas.length).toBe(rf);
        expect(new Set(p.replicas).size).toBe(rf);
        for (const b of p.replicas) expect(uniqTargets).toContain(b);
      }
      const s = spreadOf(after, uniqTargets);
      expect(s.replicas).toBeLessThanOrEqual(1);
      expect(s.leaders).toBeLessThanOrEqual(1);
      // Planning again from the result changes nothing.
      expect(generateReassignment({ current: after, brokers: uniqTargets }).plan.partitions).toEqual([]);
    }
  });

  test("racks: partitions spread over every rack where the counts allow it", () => {
    const racks = new Map<number, string>([
      [1, "r1"],
      [2, "r1"],
      [3, "r2"],
      [4, "r2"],
    ]);
    // Every partition starts on one rack.
    const current = topicOf("t", Array.from({ length: 8 }, (_, p) => (p % 2 === 0 ? [1, 2] : [3, 4])));
    const g = generateReassignment({ current, brokers: [1, 2, 3, 4], racks });
    const after = applied(current, g.plan);
    for (const p of after) expect(new Set(p.replicas.map((b) => racks.get(b))).size).toBe(2);
    expect(spreadOf(after, [1, 2, 3, 4])).toEqual({ replicas: 0, leaders: 0 });
  });

  test("RF above the target count is refused", () => {
    expect(() => generateReassignment({ current: topicOf("t", [[1, 2, 3]]), brokers: [1, 2] })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_REPLICATION_FACTOR }),
    );
  });
});

describe("reassignment plan format", () => {
  test("Kafka's JSON reads, and the printed plan reads back to the same plan", () => {
    const plan = parseReassignmentPlan('{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[3,1],"log_dirs":["any","any"]}]}');
    expect(plan.partitions).toEqual([{ topic: "t", partition: 0, replicas: [3, 1] }]);
    expect(parseReassignmentPlan(formatReassignmentPlan(plan))).toEqual(plan);
  });

  test("bad plans are refused with the field named", () => {
    const bad: [string, number, RegExp][] = [
      ["not json", ErrorCode.INVALID_REQUEST, /not JSON/],
      ['{"version":2,"partitions":[]}', ErrorCode.INVALID_REQUEST, /version/],
      ['{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[]}]}', ErrorCode.INVALID_REQUEST, /partitions\.0\.replicas/],
      ['{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,1]}]}', ErrorCode.INVALID_REPLICA_ASSIGNMENT, /twice/],
      ['{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1]},{"topic":"t","partition":0,"replicas":[2]}]}', ErrorCode.INVALID_REQUEST, /named twice/],
      ['{"version":1,"partitions":[{"topic":"a/b","partition":0,"replicas":[1]}]}', ErrorCode.INVALID_TOPIC_EXCEPTION, /topic/],
      ['{"version":1,"partitions":[{"topic":"t","partition":-1,"replicas":[1]}]}', ErrorCode.INVALID_REQUEST, /partition/],
    ];
    for (const [text, code, message] of bad) {
      expect(() => parseReassignmentPlan(text)).toThrow(expect.objectContaining({ code, message: expect.stringMatching(message) }));
    }
  });

  test("a plan naming a missing partition or an unregistered broker is refused against the cluster", () => {
    const cluster = { partitionsOf: (t: string) => (t === "t" ? 2 : undefined), brokers: new Set([1, 2, 3]) };
    const plan = (s: string) => parseReassignmentPlan(`{"version":1,"partitions":[${s}]}`);
    expect(() => checkPlanAgainst(plan('{"topic":"t","partition":2,"replicas":[1]}'), cluster)).toThrow(
      expect.objectContaining({ code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }),
    );
    expect(() => checkPlanAgainst(plan('{"topic":"u","partition":0,"replicas":[1]}'), cluster)).toThrow(
      expect.objectContaining({ code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }),
    );
    expect(() => checkPlanAgainst(plan('{"topic":"t","partition":1,"replicas":[1,9]}'), cluster)).toThrow(
      expect.objectContaining({ code: ErrorCode.BROKER_NOT_AVAILABLE, message: expect.stringMatching(/9/) }),
    );
    checkPlanAgainst(plan('{"topic":"t","partition":1,"replicas":[3,1]}'), cluster);
  });
});
