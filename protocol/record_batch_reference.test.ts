// BatchBuilder against a reference encoding written as plainly as the grammar
// in record_batch.ts reads: bigint zigzag varints, TextEncoder for strings,
// every field its own byte list, kafkajs's CRC-32C. Many random record shapes
// (both of the builder's paths, strings on varint size boundaries, headers as
// objects and pairs, timestamps before and after the first), one builder
// reused across all batches, so a leftover of one batch would show in the next.

import { describe, expect, test } from "bun:test";
import { createRequire } from "node:module";
import { BatchBuilder, decodeBatch, type RecordInput } from "./record_batch.ts";

const kafkajsCrc32c = createRequire(import.meta.url)("kafkajs/src/protocol/recordBatch/crc32C/index.js") as (b: Buffer) => number;
const utf8 = new TextEncoder();

class Bytes {
  readonly list: number[] = [];
  int(v: number | bigint, size: number): this {
    let u = BigInt.asUintN(size * 8, BigInt(v));
    const bytes: number[] = [];
    for (let i = 0; i < size; i++, u >>= 8n) bytes.unshift(Number(u & 0xffn));
    this.list.push(...bytes);
    return this;
  }
  varint(v: number | bigint): this {
    const n = BigInt(v);
    let z = BigInt.asUintN(64, (n << 1n) ^ (n < 0n ? -1n : 0n));
    do {
      const low = Number(z & 0x7fn);
      z >>= 7n;
      this.list.push(z === 0n ? low : low | 0x80);
    } while (z !== 0n);
    return this;
  }
  field(v: Uint8Array | string | null | undefined): this {
    if (v === null || v === undefined) return this.varint(-1);
    const b = typeof v === "string" ? utf8.encode(v) : v;
    this.varint(b.length);
    for (const x of b) this.list.push(x);
    return this;
  }
  raw(b: number[]): this {
    for (const x of b) this.list.push(x);
    return this;
  }
}

function referenceRecord(r: RecordInput, offsetDelta: number, firstTimestamp: number): number[] {
  const pairs = r.headers === undefined ? [] : Array.isArray(r.headers) ? r.headers : Object.entries(r.headers);
  const body = new Bytes()
    .int(0, 1)
    .varint((r.timestamp ?? firstTimestamp) - firstTimestamp)
    .varint(offsetDelta)
    .field(r.key)
    .field(r.value)
    .varint(pairs.length);
  for (const [k, v] of pairs) body.field(k).field(v);
  return new Bytes().varint(body.list.length).raw(body.list).list;
}

/** The batch the grammar describes, for a builder reset with `resetTimestamp` at clock `now`. */
function referenceBatch(records: RecordInput[], resetTimestamp: number | undefined, now: number): Uint8Array {
  const first = resetTimestamp ?? records[0].timestamp ?? now;
  const max = Math.max(first, ...records.map((r) => r.timestamp ?? first));
  const afterCrc = new Bytes()
    .int(0, 2) // attributes
    .int(records.length - 1, 4)
    .int(first, 8)
    .int(max, 8)
    .int(-1, 8) // producer id
    .int(-1, 2) // producer epoch
    .int(-1, 4) // base sequence
    .int(records.length, 4);
  records.forEach((r, i) => afterCrc.raw(referenceRecord(r, i, first)));
  const crc = kafkajsCrc32c(Buffer.from(afterCrc.list)) >>> 0;
  const afterLength = new Bytes().int(-1, 4).int(2, 1).int(crc, 4).raw(afterCrc.list);
  return Uint8Array.from(new Bytes().int(0, 8).int(afterLength.list.length, 4).raw(afterLength.list).list);
}

/** Deterministic pseudo-random numbers (tests must be repeatable). */
function rng(seed: number): () => number {
  // Seeds are spread first: an LCG's first draws from neighbouring seeds are neighbours too.
  let s = (Math.imul(seed, 0x9e3779b1) ^ 0x5bd1e995) >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  for (let i = 0; i < 4; i++) next();
  return next;
}

const STRINGS = ["", "a", "héllo", "日本語", "emoji 😀", "x".repeat(63), "y".repeat(64), "z".repeat(200), "é".repeat(70), "\ud800 lone"];
const BYTE_SIZES = [0, 1, 63, 64, 100, 8191, 8192, 20_000];

function field(random: () => number): Uint8Array | string | null | undefined {
  const r = random();
  if (r < 0.15) return null;
  if (r < 0.2) return undefined;
  if (r < 0.55) return STRINGS[Math.floor(random() * STRINGS.length)];
  return new Uint8Array(BYTE_SIZES[Math.floor(random() * BYTE_SIZES.length)]).map(() => Math.floor(random() * 256));
}

function randomRecord(random: () => number, t0: number): RecordInput {
  const r: { key?: Uint8Array | string | null; value: Uint8Array | string | null; headers?: RecordInput["headers"]; timestamp?: number } = {
    value: field(random) ?? null,
  };
  const k = field(random);
  if (k !== undefined) r.key = k;
  const h = random();
  if (h < 0.2) r.headers = [["a", field(random) ?? null], ["a", "again"], ["ü", null]];
  else if (h < 0.3) r.headers = { one: "1", two: field(random) ?? null };
  else if (h < 0.35) r.headers = [];
  if (random() < 0.3) r.timestamp = t0 + Math.floor((random() - 0.5) * 2 ** 40);
  return r;
}

describe("BatchBuilder against the reference encoding", () => {
  test("same bytes and the same running size, for every record shape, one builder reused", () => {
    const NOW = 1_700_000_123_456;
    const realNow = Date.now;
    Date.now = () => NOW;
    try {
      const builder = new BatchBuilder({ initialBytes: 64 }); // grows along the way
      for (let seed = 1; seed <= 80; seed++) {
        const random = rng(seed);
        const records = Array.from({ length: 1 + Math.floor(random() * 300) }, () => randomRecord(random, NOW));
        // Every other batch: only the producer's common record (byte value, nothing else: the short path).
        if (seed % 2 === 0) for (let i = 0; i < records.length; i++) records[i] = { value: new Uint8Array(i % 300).fill(i) };
        // Every third batch: the first timestamp comes from reset(), even when records carry their own.
        const resetTimestamp = seed % 3 === 0 ? NOW - 5_000 : undefined;
        builder.reset(resetTimestamp);
        let expectedSize = 61;
        const firstTimestamp = resetTimestamp ?? records[0].timestamp ?? NOW;
        for (let i = 0; i < records.length; i++) {
          builder.append(records[i]);
          expectedSize += referenceRecord(records[i], i, firstTimestamp).length;
          expect(builder.sizeBytes).toBe(expectedSize);
        }
        expect(builder.recordCount).toBe(records.length);
        const built = builder.finishView();
        expect(built).toEqual(referenceBatch(records, resetTimestamp, NOW));
        expect(decodeBatch(built).records.length).toBe(records.length);
      }
    } finally {
      Date.now = realNow;
    }
  });

  test("the short path and the general path agree on a common record the general path is forced to take", () => {
    // A string value of the same bytes goes the general path; the record bytes must be the same.
    const builder = new BatchBuilder();
    for (const n of [0, 1, 63, 64, 127, 128, 8191, 8192, 20_000]) {
      const value = "v".repeat(n);
      builder.reset(1_700_000_000_000);
      builder.append({ value: utf8.encode(value) });
      const short = builder.finish();
      builder.reset(1_700_000_000_000);
      builder.append({ value, key: null, timestamp: 1_700_000_000_000 });
      expect(builder.finishView()).toEqual(short);
    }
  });
});
