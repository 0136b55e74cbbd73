// The client against a real broker process (startBroker): round trips,
// ordering, pipelining, seeks, autoOffsetReset, bounded prefetch and the
// admin APIs. Backpressure with a stopped broker and reconnects after a
// restart are in client_resilience.test.ts.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Admin, Consumer, ErrorCode, kafkaKeyPartition, OffsetOutOfRangeError, Producer, SluiceError } from "../client/mod.ts";
import { startBroker, type BrokerProcess } from "./support/broker.ts";
import { waitFor } from "./support/wait_for.ts";
import { takeRecords } from "./support/take_records.ts";

let broker: BrokerProcess;
let address: string;
let admin: Admin;

beforeAll(async () => {
  broker = await startBroker();
  address = `127.0.0.1:${broker.port}`;
  admin = new Admin({ broker: address });
});

afterAll(async () => {
  await admin?.close();
  await broker?.stop();
});

const text = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));

describe("produce and consume", () => {
  test("keys, headers, null keys and null values and timestamps survive the round trip", async () => {
    await admin.createTopic("roundtrip", { partitions: 1 });
    const producer = new Producer({ broker: address, lingerMs: 0 });
    const sent = [
      { key: "k1", value: "v1", headers: { trace: "abc", empty: null }, timestamp: 1_700_000_000_000 },
      { key: null, value: "no key" },
      { key: "tombstone", value: null },
      { key: new Uint8Array([0, 255, 7]), value: new Uint8Array([1, 2, 3]), headers: [["h", new Uint8Array([9])], ["h", "again"]] as Array<[string, Uint8Array | string]> },
    ];
    const results = [];
    for (const m of sent) results.push(await producer.send("roundtrip", m));
    expect(results.map((r) => r.offset)).toEqual([0n, 1n, 2n, 3n]);
    await producer.close();

    const consumer = new Consumer({ broker: address });
    consumer.assign([{ topic: "roundtrip", partition: 0, position: "beginning" }]);
    const got = await takeRecords(consumer, 4);
    await consumer.close();
    expect(got.map((r) => r.offset)).toEqual([0n, 1n, 2n, 3n]);
    expect(text(got[0].key)).toBe("k1");
    expect(text(got[0].value)).toBe("v1");
    expect(got[0].timestamp).toBe(1_700_000_000_000);
    expect(got[0].headers.map(([k, v]) => [k, text(v)])).toEqual([["trace", "abc"], ["empty", null]]);
    expect(got[1].key).toBeNull();
    expect(text(got[1].value)).toBe("no key");
    expect(got[2].value).toBeNull();
    expect([...got[3].key!]).toEqual([0, 255, 7]);
    expect([...got[3].value!]).toEqual([1, 2, 3]);
    expect(got[3].headers.map(([k, v]) => [k, text(v)])).toEqual([["h", "\t"], ["h", "again"]]);
    expect(Math.abs(got[1].timestamp - Date.now())).toBeLessThan(60_000);
  });

  test("with the hash partitioner each key stays in Kafka's partition for it, in send order", async () => {
    const partitions = 6;
    await admin.createTopic("keyed", { partitions });
    const producer = new Producer({ broker: address, partitioner: "hash" });
    const keys = Array.from({ length: 20 }, (_, i) => `user-${i}`);
    const sends = [];
    for (let seq = 0; seq < 30; seq++) for (const key of keys) sends.push(producer.send("keyed", { key, value: String(seq) }));
    await Promise.all(sends);
    await producer.close();

    const consumer = new Consumer({ broker: address });
    consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic: "keyed", partition, position: "beginning" as const })));
    const got = await takeRecords(consumer, keys.length * 30);
    await consumer.close();
    const seen = new Map<string, { partition: number; seqs: number[] }>();
    for (const r of got) {
      const key = text(r.key)!;
      const entry = seen.get(key) ?? { partition: r.partition, seqs: [] };
      expect(r.partition).toBe(entry.partition);
      entry.seqs.push(Number(text(r.value)));
      seen.set(key, entry);
    }
    for (const key of keys) {
      expect(seen.get(key)!.partition).toBe(kafkaKeyPartition(key, partitions));
      expect(seen.get(key)!.seqs).toEqual(Array.from({ length: 30 }, (_, i) => i));
    }
  });

  test("hundreds of sends are pipelined: several produce requests in flight at once, every offset given once", async () => {
    const partitions = 8;
    await admin.createTopic("pipelined", { partitions });
    // One batch per request, so the records of one turn leave as several requests, all in flight together.
    const producer = new Producer({ broker: address, lingerMs: 0, batchBytes: 1024, requestBytesMax: 1024 });
    await producer.send("pipelined", { value: "warm up", partition: 0 });
    const sends = [];
    let inflightMax = 0;
    for (let i = 0; i < 800; i++) {
      sends.push(producer.send("pipelined", { value: `m${i}`.padEnd(100, "."), partition: i % partitions }));
      if (i % 80 === 79) {
        await Promise.resolve(); // the drain has run: this turn's requests are written and unanswered
        inflightMax = Math.max(inflightMax, producer.inflightRequests);
      }
    }
    const results = await Promise.all(sends);
    await producer.close();
    expect(inflightMax).toBeGreaterThanOrEqual(partitions);
    for (let p = 0; p < partitions; p++) {
      const offsets = results.filter((r) => r.partition === p).map((r) => r.offset);
      const start = p === 0 ? 1n : 0n;
      expect(offsets).toEqual(Array.from({ length: 100 }, (_, i) => start + BigInt(i)));
    }
  });

  test("sendBatch and the batches() iterator move thousands of records", async () => {
    await admin.createTopic("bulk", { partitions: 2 });
    const producer = new Producer({ broker: address });
    const messages = Array.from({ length: 5000 }, (_, i) => ({ value: `r${i}`, partition: i % 2 }));
    const result = await producer.sendBatch("bulk", messages);
    expect(result.count).toBe(5000);
    await producer.close();
    const consumer = new Consumer({ broker: address });
    consumer.assign([0, 1].map((partition) => ({ topic: "bulk", partition, position: "beginning" as const })));
    let n = 0;
    const last = [-1n, -1n];
    for await (const batch of consumer.batches()) {
      for (const r of batch.records) {
        expect(r.offset).toBe(last[r.partition] + 1n);
        last[r.partition] = r.offset;
      }
      n += batch.records.length;
      if (n >= 5000) break;
    }
    await consumer.close();
    expect(n).toBe(5000);
  });
});

describe("topic changes", () => {
  test("a producer that cached the partition count can send to a partition added since", async () => {
    await admin.createTopic("growing", { partitions: 1 });
    const producer = new Producer({ broker: address, lingerMs: 0 });
    await producer.send("growing", { value: "before" });
    await admin.createPartitions("growing", 3);
    const r = await producer.send("growing", { value: "after", partition: 2 });
    expect(r.partition).toBe(2);
    expect(r.offset).toBe(0n);
    await expect(producer.send("growing", { value: "nowhere", partition: 3 })).rejects.toMatchObject({ code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });
    await producer.close();
  });
});

describe("positions", () => {
  const base = 1_600_000_000_000;
  beforeAll(async () => {
    await admin.createTopic("seeks", { partitions: 1 });
    const producer = new Producer({ broker: address });
    // One batch: seeking inside it must skip the records before the position.
    await producer.sendBatch("seeks", Array.from({ length: 10 }, (_, i) => ({ value: `s${i}`, timestamp: base + i * 1000 })));
    await producer.close();
  });

  test("seek to an offset inside a batch skips the records before it", async () => {
    const consumer = new Consumer({ broker: address });
    consumer.assign([{ topic: "seeks", partition: 0, position: 3 }]);
    const got = await takeRecords(consumer, 7);
    expect(got.map((r) => r.offset)).toEqual([3n, 4n, 5n, 6n, 7n, 8n, 9n]);
    expect(consumer.position({ topic: "seeks", partition: 0 })).toBe(10n);
    consumer.seek({ topic: "seeks", partition: 0 }, { offset: 8n });
    expect((await takeRecords(consumer, 2)).map((r) => r.offset)).toEqual([8n, 9n]);
    await consumer.close();
  });

  test("seek to a timestamp starts at the first record at or after it", async () => {
    const consumer = new Consumer({ broker: address });
    consumer.assign([{ topic: "seeks", partition: 0, position: { timestamp: base + 3500 } }]);
    const got = await takeRecords(consumer, 6);
    expect(got[0].offset).toBe(4n);
    expect(got[0].timestamp).toBe(base + 4000);
    await consumer.close();
  });

  test("seek to the beginning and to the end", async () => {
    const consumer = new Consumer({ broker: address, fetchMaxWaitMs: 100 });
    consumer.assign([{ topic: "seeks", partition: 0, position: "end" }]);
    expect(await consumer.poll({ maxWaitMs: 300 })).toEqual([]);
    consumer.seek({ topic: "seeks", partition: 0 }, "beginning");
    expect((await takeRecords(consumer, 1))[0].offset).toBe(0n);
    consumer.seek({ topic: "seeks", partition: 0 }, "end");
    await waitFor(() => consumer.position({ topic: "seeks", partition: 0 }) !== undefined);
    const producer = new Producer({ broker: address, lingerMs: 0 });
    const { offset } = await producer.send("seeks", { value: "new" });
    await producer.close();
    const got = await takeRecords(consumer, 1);
    expect(got[0].offset).toBe(offset);
    expect(text(got[0].value)).toBe("new");
    await consumer.close();
  });

  test("poll() hands out exactly maxRecords and the next poll goes on from there", async () => {
    const consumer = new Consumer({ broker: address });
    consumer.assign([{ topic: "seeks", partition: 0, position: "beginning" }]);
    const first = await consumer.poll({ maxWaitMs: 5000, maxRecords: 3 });
    expect(first.map((r) => r.offset)).toEqual([0n, 1n, 2n]);
    expect(consumer.position({ topic: "seeks", partition: 0 })).toBe(3n);
    const next = await consumer.poll({ maxWaitMs: 5000, maxRecords: 2 });
    expect(next.map((r) => r.offset)).toEqual([3n, 4n]);
    await consumer.close();
  });

  test("breaking out of records() puts the rest of the batch back", async () => {
    const consumer = new Consumer({ broker: address });
    consumer.assign([{ topic: "seeks", partition: 0, position: 0 }]);
    const first: bigint[] = [];
    for await (const r of consumer.records()) {
      first.push(r.offset);
      if (first.length === 3) break;
    }
    expect(first).toEqual([0n, 1n, 2n]);
    expect((await takeRecords(consumer, 1))[0].offset).toBe(3n);
    await consumer.close();
  });
});

describe("autoOffsetReset (a position past the log end is out of range)", () => {
  beforeAll(async () => {
    await admin.createTopic("reset", { partitions: 1 });
    const producer = new Producer({ broker: address });
    await producer.sendBatch("reset", Array.from({ length: 5 }, (_, i) => ({ value: `r${i}` })));
    await producer.close();
  });

  test("earliest restarts at the log start", async () => {
    const consumer = new Consumer({ broker: address, autoOffsetReset: "earliest" });
    consumer.assign([{ topic: "reset", partition: 0, position: 1000 }]);
    expect((await takeRecords(consumer, 5)).map((r) => r.offset)).toEqual([0n, 1n, 2n, 3n, 4n]);
    await consumer.close();
  });

  test("latest jumps to the end: only new records arrive", async () => {
    const consumer = new Consumer({ broker: address, autoOffsetReset: "latest", fetchMaxWaitMs: 100 });
    consumer.assign([{ topic: "reset", partition: 0, position: 1000 }]);
    await waitFor(() => consumer.position({ topic: "reset", partition: 0 }) === 5n);
    const producer = new Producer({ broker: address, lingerMs: 0 });
    await producer.send("reset", { value: "after" });
    await producer.close();
    const got = await takeRecords(consumer, 1);
    expect(got[0].offset).toBe(5n);
    await consumer.close();
  });

  test("none throws OffsetOutOfRangeError until the application seeks", async () => {
    const consumer = new Consumer({ broker: address, autoOffsetReset: "none" });
    consumer.assign([{ topic: "reset", partition: 0, position: 1000 }]);
    const error = await consumer.poll({ maxWaitMs: 5000 }).then(() => undefined, (e) => e);
    expect(error).toBeInstanceOf(OffsetOutOfRangeError);
    expect(error.code).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    expect(error.partition).toBe(0);
    consumer.seek({ topic: "reset", partition: 0 }, 2);
    expect((await takeRecords(consumer, 1))[0].offset).toBe(2n);
    await consumer.close();
  });
});

describe("bounded prefetch", () => {
  test("a consumer whose application does not read stops fetching at prefetchBytesMax", async () => {
    await admin.createTopic("prefetch", { partitions: 2 });
    const producer = new Producer({ broker: address, batchBytes: 16 * 1024 });
    const value = "x".repeat(100);
    await producer.sendBatch("prefetch", Array.from({ length: 20_000 }, (_, i) => ({ value, partition: i % 2 })));
    await producer.close();

    const prefetchBytesMax = 256 * 1024;
    const consumer = new Consumer({ broker: address, prefetchBytesMax, fetchMaxWaitMs: 50 });
    consumer.assign([0, 1].map((partition) => ({ topic: "prefetch", partition, position: "beginning" as const })));
    await waitFor(() => consumer.prefetchedBytes > 0);
    // Let it try to fetch more for a while: the fetch count must stop growing.
    let fetches = -1;
    await waitFor(() => {
      const stable = consumer.fetchesSent === fetches;
      fetches = consumer.fetchesSent;
      return stable;
    }, { what: "fetching to pause", timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 300));
    expect(consumer.fetchesSent).toBe(fetches);
    expect(consumer.prefetchedBytes).toBeGreaterThan(prefetchBytesMax / 4);
    expect(consumer.prefetchedBytes).toBeLessThanOrEqual(prefetchBytesMax);

    // Reading everything keeps the bound the whole way.
    let read = 0;
    let peak = 0;
    for await (const batch of consumer.batches()) {
      peak = Math.max(peak, consumer.prefetchedBytes);
      read += batch.records.length;
      if (read >= 20_000) break;
    }
    expect(read).toBe(20_000);
    expect(peak).toBeLessThanOrEqual(prefetchBytesMax);
    await consumer.close();
  });
});

describe("admin", () => {
  test("create, list, describe, add partitions, change config, list offsets, delete", async () => {
    await admin.createTopic("managed", { partitions: 2, configs: { "retention.ms": "3600000" } });
    expect(await admin.listTopics()).toContain("managed");
    const created = await admin.createTopic("managed", { partitions: 2 }).then(() => undefined, (e) => e);
    expect(created).toBeInstanceOf(SluiceError);
    expect(created.code).toBe(ErrorCode.TOPIC_ALREADY_EXISTS);

    let [description] = await admin.describeTopics(["managed"]);
    expect(description.partitions.length).toBe(2);
    expect(description.configs["retention.ms"]).toBe("3600000");

    await admin.createPartitions("managed", 4);
    [description] = await admin.describeTopics(["managed"]);
    expect(description.partitions.length).toBe(4);
    await expect(admin.createPartitions("managed", 3)).rejects.toMatchObject({ code: ErrorCode.INVALID_PARTITIONS });

    await admin.alterTopicConfig("managed", { set: { "retention.ms": "7200000" } });
    [description] = await admin.describeTopics(["managed"]);
    expect(description.configs["retention.ms"]).toBe("7200000");
    await expect(admin.alterTopicConfig("managed", { set: { "retention.ms": "soon" } })).rejects.toMatchObject({ code: ErrorCode.INVALID_CONFIG });

    const producer = new Producer({ broker: address });
    await producer.sendBatch("managed", Array.from({ length: 7 }, () => ({ value: "x", partition: 3 })));
    await producer.close();
    const offsets = await admin.listOffsets([
      { topic: "managed", partition: 3, at: "earliest" },
      { topic: "managed", partition: 3, at: "latest" },
      { topic: "managed", partition: 0, at: "latest" },
    ]);
    expect(offsets.map((o) => o.offset)).toEqual([0n, 7n, 0n]);
    [description] = await admin.describeTopics(["managed"]);
    expect(description.partitions[3].highWatermark).toBe(7);

    await admin.deleteTopics(["managed"]);
    expect(await admin.listTopics()).not.toContain("managed");
    await expect(admin.describeTopics(["managed"])).rejects.toMatchObject({ code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });
  });
});
