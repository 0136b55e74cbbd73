import { describe, expect, test } from "bun:test";
import { javaStringHash, offsetsPartitionFor } from "./offsets_topic.ts";

describe("offsetsPartitionFor", () => {
  test("is Java's String.hashCode, as Kafka's partitionFor uses", () => {
    // Values Java prints for "".hashCode(), "a".hashCode(), "hello".hashCode(), "polygenelubricants".hashCode().
    expect(javaStringHash("")).toBe(0);
    expect(javaStringHash("a")).toBe(97);
    expect(javaStringHash("hello")).toBe(99162322);
    expect(javaStringHash("polygenelubricants")).toBe(-2147483648);
  });

  test("maps MIN_VALUE to partition 0 and every id into range, stably", () => {
    expect(offsetsPartitionFor("polygenelubricants", 16)).toBe(0);
    expect(offsetsPartitionFor("hello", 50)).toBe(99162322 % 50);
    const seen = new Set<number>();
    for (let i = 0; i < 1_000; i++) {
      const p = offsetsPartitionFor(`group-${i}`, 16);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(16);
      expect(offsetsPartitionFor(`group-${i}`, 16)).toBe(p);
      seen.add(p);
    }
    expect(seen.size).toBe(16);
  });
});
