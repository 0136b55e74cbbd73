// A batch of one record encoded whole (the unbatched path) must be the very
// bytes BatchBuilder finishes for that record, at every varint boundary of the
// value's length; and the producer must use it without changing what the
// broker gets, what the caller may do with its array, or the buffer accounting.

import { describe, expect, test } from "bun:test";
import { CompressionError } from "../protocol/compression/mod.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { ATTRIBUTES_OFFSET, BatchBuilder, decodeBatches } from "../protocol/record_batch.ts";
import { ConnectionError } from "./errors.ts";
import { Producer, type ProducerOptions } from "./producer.ts";
import { BatchList, encodeSingleRecordBatch, ProducerBatch, singleRecordBatchBytes } from "./producer_batch.ts";
import { FakeLink } from "./testing/fake_link.ts";
import { waitFor } from "../test/support/wait_for.ts";

describe("encodeSingleRecordBatch", () => {
  test("same bytes as BatchBuilder for one byte value without key, headers or timestamp", () => {
    const builder = new BatchBuilder({ initialBytes: 128 });
    const timestamp = 1_763_700_000_123;
    for (const n of [0, 1, 2, 57, 58, 63, 64, 100, 121, 122, 127, 128, 8186, 8187, 16_383, 16_384, 100_000]) {
      const value = new Uint8Array(n);
      for (let i = 0; i < n; i++) value[i] = (i * 31 + n) & 0xff;
      builder.reset(timestamp);
      builder.append({ value });
      const expected = builder.finish();
      const bytes = encodeSingleRecordBatch(value, timestamp);
      expect(bytes.length).toBe(singleRecordBatchBytes(n));
      expect(bytes).toEqual(expected);
    }
  });
});

describe("the producer's one-record batches", () => {
  const unbatched: Partial<ProducerOptions> = {
    lingerMs: 0,
    batchBytes: 128,
    requestBytesMax: 128,
    retries: 0,
    produceRequestsInflightMax: 64,
    partitionInflightMax: 64,
  };

  test("byte values reach the broker in order, copied at send() (the caller may reuse its array), offsets exact, buffer released", async () => {
    const link = new FakeLink({ t: 2 });
    const p = new Producer({ link, ...unbatched });
    // Warm up: the topic's partition count is known, so the sends below take the fast path.
    const first = p.send("t", { value: new Uint8Array(1), partition: 1 });
    await waitFor(() => link.outstanding.length === 1);
    link.outstanding[0].ok();
    await first;
    const reused = new Uint8Array(100);
    const sends = [];
    for (let i = 0; i < 40; i++) {
      reused.fill(0x41 + i); // "A", "B", ...
      sends.push(p.send("t", { value: reused, partition: i % 2 }));
    }
    expect(p.bufferedBytes).toBeGreaterThan(0);
    await waitFor(() => {
      for (const h of link.outstanding) h.ok();
      return link.produces.length === 41 && link.outstanding.length === 0;
    });
    const results = await Promise.all(sends);
    for (let partition = 0; partition < 2; partition++) {
      const got = link.produces.slice(1).flatMap((h) => h.values().get(partition) ?? []);
      const want = Array.from({ length: 40 }, (_, i) => i).filter((i) => i % 2 === partition);
      expect(got).toEqual(want.map((i) => String.fromCharCode(0x41 + i).repeat(100)));
      const offsets = results.filter((r) => r.partition === partition).map((r) => Number(r.offset));
      expect(offsets).toEqual(want.map((_, k) => k + partition));
    }
    expect(p.bufferedBytes).toBe(0);
    await p.close();
  });

  test("a record that fills a batch alone closes the partition's open batch first and follows it", async () => {
    const link = new FakeLink({ t: 1 });
    const p = new Producer({ link, lingerMs: 10_000, batchBytes: 1024 });
    const small = p.send("t", { value: new Uint8Array(10).fill(1) });
    await waitFor(() => p.bufferedBytes > 0);
    const big = p.send("t", { value: new Uint8Array(2000).fill(2) });
    const after = p.send("t", { value: new Uint8Array(10).fill(3) });
    void p.flush();
    await waitFor(() => {
      for (const h of link.outstanding) h.ok();
      return link.outstanding.length === 0 && p.bufferedBytes === 0;
    });
    const [a, b, c] = await Promise.all([small, big, after]);
    expect([a.offset, b.offset, c.offset]).toEqual([0n, 1n, 2n]);
    const batches = link.produces.flatMap((h) => h.request.topics[0].partitions.flatMap((part) => decodeBatches(part.records)));
    expect(batches.map((batch) => batch.records.map((r) => r.value![0]))).toEqual([[1], [2], [3]]);
    await p.close();
  });
});

describe("BatchList", () => {
  test("keeps creation order through removals at the head, middle and tail; adding or removing twice is harmless", () => {
    const list = new BatchList();
    const batches = Array.from({ length: 6 }, (_, i) => ProducerBatch.single("t", i, new Uint8Array(1), 0));
    for (const b of batches) list.add(b);
    list.add(batches[2]);
    expect(list.size).toBe(6);
    list.delete(batches[0]);
    list.delete(batches[3]);
    list.delete(batches[5]);
    list.delete(batches[3]);
    expect(list.toArray().map((b) => b.partition)).toEqual([1, 2, 4]);
    list.add(batches[0]);
    expect(list.toArray().map((b) => b.partition)).toEqual([1, 2, 4, 0]);
    for (const b of batches) list.delete(b);
    expect(list.size).toBe(0);
    expect(list.toArray()).toEqual([]);
  });
});

describe("ready partitions take turns", () => {
  test("with few request slots, partitions with a backlog alternate request by request (through many turns of the queue)", async () => {
    const link = new FakeLink({ t: 3 });
    const p = new Producer({ link, lingerMs: 0, batchBytes: 128, requestBytesMax: 128, retries: 0, produceRequestsInflightMax: 1, partitionInflightMax: 1 });
    const first = p.send("t", { value: new Uint8Array(1), partition: 0 });
    await waitFor(() => link.outstanding.length === 1);
    link.outstanding[0].ok();
    await first;
    const sends = [];
    for (let i = 0; i < 150; i++) sends.push(p.send("t", { value: new Uint8Array(100).fill(0x41), partition: i % 3 }));
    await waitFor(() => {
      for (const h of link.outstanding) h.ok();
      return link.produces.length === 151 && link.outstanding.length === 0;
    });
    await Promise.all(sends);
    const order = link.produces.slice(1).map((h) => h.request.topics[0].partitions[0].index);
    expect(order).toEqual(Array.from({ length: 150 }, (_, i) => i % 3));
    await p.close();
  });
});

describe("compression", () => {
  test("batches close compressed, the one-record batches of the unbatched path too; a retry resends the same compressed bytes", async () => {
    const link = new FakeLink({ t: 1 });
    const p = new Producer({ link, compression: "gzip", batchBytes: 128, lingerMs: 0, retries: 1, retryBackoffMs: 1 });
    // 2,000 compressible bytes: a batch of its own (the encodeSingleRecordBatch path), compressed when closed.
    const value = new TextEncoder().encode("log line with repeated words ".repeat(70).slice(0, 2000));
    const sent = p.send("t", { value });
    await waitFor(() => link.outstanding.length === 1);
    const first = link.outstanding[0];
    const bytes = first.request.topics[0].partitions[0].records.slice();
    expect(bytes[ATTRIBUTES_OFFSET + 1] & 7).toBe(1); // gzip
    expect(bytes.length).toBeLessThan(value.length / 5);
    first.fail(new ConnectionError("connection lost"));
    await waitFor(() => link.outstanding.length === 1 && link.outstanding[0] !== first);
    const retry = link.outstanding[0];
    expect(retry.request.topics[0].partitions[0].records).toEqual(bytes);
    retry.ok();
    expect((await sent).offset).toBe(0n);
    expect(decodeBatches(bytes)[0].records[0].value).toEqual(value);
    await p.close();
  });

  test("an unknown codec is refused when the producer is made", () => {
    let error: unknown;
    try {
      new Producer({ link: new FakeLink({ t: 1 }), compression: "brotli" as "gzip" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CompressionError);
    expect((error as CompressionError).code).toBe(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
  });
});
