// The key hash must match Kafka's byte for byte: a key has to land on the
// partition a Kafka client would choose. Two independent references: the
// values in Kafka's own Utils test, and kafkajs's murmur2 (a separate
// implementation of the same function) over many generated keys.

import { describe, expect, test } from "bun:test";
import { createRequire } from "node:module";
import { murmur2, toPositive } from "./murmur2.ts";
import { hashPartitioner, kafkaKeyPartition, partitionerFor, randomPartitioner, roundRobinPartitioner } from "./partitioners.ts";

const require = createRequire(import.meta.url);
const kafkajsMurmur2 = require("kafkajs/src/producer/partitioners/default/murmur2.js") as (key: Buffer) => number;

const utf8 = (s: string) => new TextEncoder().encode(s);

describe("murmur2", () => {
  test("matches the values in Kafka's UtilsTest", () => {
    const cases: Array<[string, number]> = [
      ["21", -973932308],
      ["foobar", -790332482],
      ["a-little-bit-long-string", -985981536],
      ["a-little-bit-longer-string", -1486304829],
      ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971],
      ["abc", 479470107],
    ];
    for (const [key, expected] of cases) expect(murmur2(utf8(key))).toBe(expected);
  });

  test("matches kafkajs's murmur2 for keys of every length 0..64 and random bytes", () => {
    let seed = 12345;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) & 0xff;
    for (let length = 0; length <= 64; length++) {
      for (let round = 0; round < 8; round++) {
        const bytes = new Uint8Array(length).map(() => next());
        expect(murmur2(bytes)).toBe(kafkajsMurmur2(Buffer.from(bytes)));
      }
    }
  });

  test("toPositive clears the sign bit like Kafka (not Math.abs)", () => {
    expect(toPositive(-2147483648)).toBe(0);
    expect(toPositive(-1)).toBe(2147483647);
    expect(toPositive(5)).toBe(5);
  });
});

describe("partitioners", () => {
  test("kafkaKeyPartition is toPositive(murmur2(key)) % n (kafkajs's DefaultPartitioner formula)", () => {
    for (const key of ["user-1", "user-2", "order:42", "é-unicode-ключ"]) {
      for (const n of [1, 3, 7, 12, 100]) {
        expect(kafkaKeyPartition(key, n)).toBe((kafkajsMurmur2(Buffer.from(key)) & 0x7fffffff) % n);
      }
    }
  });

  test("hash: one key always gives one partition; no key goes round-robin", () => {
    const p = hashPartitioner();
    const first = p({ topic: "t", key: utf8("k"), partitionCount: 8 });
    for (let i = 0; i < 20; i++) expect(p({ topic: "t", key: utf8("k"), partitionCount: 8 })).toBe(first);
    const keyless = Array.from({ length: 8 }, () => p({ topic: "t", key: null, partitionCount: 8 }));
    expect(new Set(keyless).size).toBe(8);
  });

  test("round-robin visits every partition in turn, per topic", () => {
    const p = roundRobinPartitioner();
    expect(Array.from({ length: 6 }, () => p({ topic: "a", key: null, partitionCount: 3 }))).toEqual([0, 1, 2, 0, 1, 2]);
    expect(p({ topic: "b", key: null, partitionCount: 3 })).toBe(0);
  });

  test("random stays in range and spreads", () => {
    const p = randomPartitioner();
    const seen = new Set<number>();
    for (let i = 0; i < 500; i++) {
      const x = p({ topic: "t", key: null, partitionCount: 4 });
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(4);
      seen.add(x);
    }
    expect(seen.size).toBe(4);
  });

  test("a custom function is used as given", () => {
    const p = partitionerFor(({ partitionCount }) => partitionCount - 1);
    expect(p({ topic: "t", key: null, partitionCount: 5 })).toBe(4);
  });
});
