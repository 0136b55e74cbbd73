// Replica placement: distinct replicas, leaders spread, replica counts level,
// a dead broker's leaderships spread, RF above the live brokers refused.

import { describe, expect, test } from "bun:test";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { placeReplicas } from "./replica_placement.ts";

function counts(values: number[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return m;
}

describe("replica placement", () => {
  test("every partition gets RF distinct live brokers; leaders differ in count by at most one", () => {
    for (const n of [1, 2, 3, 5]) {
      const brokers = Array.from({ length: n }, (_, i) => 10 + i * 3);
      for (const rf of [1, 2, 3].filter((r) => r <= n)) {
        for (const partitions of [1, 2, 7, 12, 31]) {
          for (const startIndex of [0, 1, 4]) {
            const placed = placeReplicas({ brokers, partitions, replicationFactor: rf, startIndex, shift: startIndex + 1 });
            expect(placed.length).toBe(partitions);
            for (const replicas of placed) {
              expect(replicas.length).toBe(rf);
              expect(new Set(replicas).size).toBe(rf);
              for (const b of replicas) expect(brokers).toContain(b);
            }
            const leaders = [...counts(placed.map((r) => r[0])).values()];
            if (partitions >= n) expect(leaders.length).toBe(n);
            expect(Math.max(...leaders) - Math.min(...leaders)).toBeLessThanOrEqual(1);
          }
        }
      }
    }
  });

  test("in full rounds every broker holds the same number of replicas", () => {
    const brokers = [1, 2, 3, 4];
    const placed = placeReplicas({ brokers, partitions: 12, replicationFactor: 3, startIndex: 2, shift: 1 });
    const perBroker = counts(placed.flat());
    expect([...perBroker.values()]).toEqual([9, 9, 9, 9]);
  });

  test("a dead broker's leaderships would move to several brokers, not all to one neighbour", () => {
    const placed = placeReplicas({ brokers: [1, 2, 3, 4, 5], partitions: 20, replicationFactor: 3, startIndex: 0, shift: 0 });
    const led = placed.filter((r) => r[0] === 1);
    const successors = new Set(led.map((r) => r[1]));
    expect(led.length).toBe(4);
    expect(successors.size).toBeGreaterThan(1);
  });

  test("RF above the live broker count is INVALID_REPLICATION_FACTOR naming both; no brokers, no partitions refused", () => {
    const e = (() => {
      try {
        placeReplicas({ brokers: [1, 2], partitions: 3, replicationFactor: 3, startIndex: 0, shift: 0 });
      } catch (err) {
        return err;
      }
    })() as SluiceError;
    expect(e).toBeInstanceOf(SluiceError);
    expect(e.code).toBe(ErrorCode.INVALID_REPLICATION_FACTOR);
    expect(e.message).toContain("replication factor 3 is larger than the number of live brokers (2: 1, 2)");
    expect(() => placeReplicas({ brokers: [], partitions: 1, replicationFactor: 1, startIndex: 0, shift: 0 })).toThrow(/live brokers \(0\)/);
    expect(() => placeReplicas({ brokers: [1], partitions: 0, replicationFactor: 1, startIndex: 0, shift: 0 })).toThrow(SluiceError);
  });
});
