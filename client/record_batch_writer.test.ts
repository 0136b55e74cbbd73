import { describe, expect, test } from "bun:test";
import { BatchBuilder, decodeBatch, type RecordInput } from "../protocol/record_batch.ts";
import { RecordBatchWriter } from "./record_batch_writer.ts";

/** Deterministic pseudo-random numbers (tests must be repeatable). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const STRINGS = ["", "a", "héllo", "日本語", "emoji 😀", "x".repeat(63), "y".repeat(64), "z".repeat(200), "é".repeat(70), "\ud800 lone"];

function field(random: () => number): Uint8Array | string | null | undefined {
  const r = random();
  if (r < 0.15) return null;
  if (r < 0.2) return undefined;
  if (r < 0.55) return STRINGS[Math.floor(random() * STRINGS.length)];
  const sizes = [0, 1, 63, 64, 100, 8191, 8192, 20_000];
  return new Uint8Array(sizes[Math.floor(random() * sizes.length)]).map(() => Math.floor(random() * 256));
}

function record(random: () => number): RecordInput {
  const r: { key?: Uint8Array | string | null; value: Uint8Array | string | null; headers?: RecordInput["headers"]; timestamp?: number } = {
    value: field(random) ?? null,
  };
  const k = field(random);
  if (k !== undefined) r.key = k;
  const h = random();
  if (h < 0.2) r.headers = [["a", field(random) ?? null], ["a", "again"], ["ü", null]];
  else if (h < 0.3) r.headers = { one: "1", two: field(random) ?? null };
  else if (h < 0.35) r.headers = [];
  if (random() < 0.3) r.timestamp = 1_700_000_000_000 + Math.floor((random() - 0.5) * 2 ** 40);
  return r;
}

describe("RecordBatchWriter", () => {
  test("gives the bytes BatchBuilder gives, for every record shape (fixed clock)", () => {
    const realNow = Date.now;
    Date.now = () => 1_700_000_123_456;
    try {
      const writer = new RecordBatchWriter(64);
      const builder = new BatchBuilder({ initialBytes: 64 });
      for (let seed = 1; seed <= 60; seed++) {
        const random = rng(seed);
        const records = Array.from({ length: 1 + Math.floor(random() * 200) }, () => record(random));
        // Half the batches: the common record only (byte value, nothing else).
        if (seed % 2 === 0) for (let i = 0; i < records.length; i++) records[i] = { value: new Uint8Array(i % 300).fill(i) };
        writer.reset();
        builder.reset();
        for (const r of records) {
          writer.append(r);
          builder.append(r);
          expect(writer.sizeBytes).toBe(builder.sizeBytes);
        }
        expect(writer.recordCount).toBe(records.length);
        const ours = writer.finishView();
        expect(ours).toEqual(builder.finishView());
        expect(decodeBatch(ours).records.length).toBe(records.length);
      }
    } finally {
      Date.now = realNow;
    }
  });

  test("refuses what BatchBuilder refuses", () => {
    const writer = new RecordBatchWriter(64);
    expect(() => writer.finishView()).toThrow();
    expect(() => writer.append({ value: "x", timestamp: 1.5 })).toThrow();
    writer.append({ value: "ok" });
    expect(writer.recordCount).toBe(1);
  });
});
