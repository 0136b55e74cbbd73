import { describe, expect, test } from "bun:test";
import { Writer } from "../protocol/codec.ts";
import { decodeProduceRequest, writeProduceRequest } from "../protocol/messages/produce.ts";
import { encodeBatch } from "../protocol/record_batch.ts";
import { writeProduceRequestBatches } from "./produce_request.ts";

describe("writeProduceRequestBatches", () => {
  test("writes the bytes writeProduceRequest writes for the same batches concatenated", () => {
    const a = encodeBatch([{ value: "a1" }, { value: "a2" }]);
    const b = encodeBatch([{ key: "k", value: "b1" }]);
    const c = encodeBatch([{ value: null, headers: [["h", "v"]] }]);
    const pieces = new Writer();
    writeProduceRequestBatches(pieces, -1, 30_000, [
      { name: "orders", partitions: [{ index: 0, batches: [a, b] }, { index: 3, batches: [c] }] },
      { name: "audit", partitions: [{ index: 1, batches: [c, a, b] }] },
    ]);
    const concat = (...xs: Uint8Array[]) => {
      const out = new Uint8Array(xs.reduce((n, x) => n + x.length, 0));
      let p = 0;
      for (const x of xs) {
        out.set(x, p);
        p += x.length;
      }
      return out;
    };
    const whole = new Writer();
    writeProduceRequest(whole, {
      acks: -1,
      timeoutMs: 30_000,
      topics: [
        { name: "orders", partitions: [{ index: 0, records: concat(a, b) }, { index: 3, records: c }] },
        { name: "audit", partitions: [{ index: 1, records: concat(c, a, b) }] },
      ],
    });
    expect(pieces.finish()).toEqual(whole.finish());
    const decoded = decodeProduceRequest(pieces.finish());
    expect(decoded.topics.map((t) => t.partitions.map((p) => p.records.length))).toEqual([
      [a.length + b.length, c.length],
      [c.length + a.length + b.length],
    ]);
  });
});
