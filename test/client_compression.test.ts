// Producer compression against a real broker process: for each of Kafka's
// codecs, records produced compressed come back to the consumer byte for byte
// (keys, values, headers, timestamps); the broker stores and serves the
// compressed batch exactly as it came (only the base offset assigned); a
// corrupt or bomb batch reaches the consumer as a typed error; and
// `sluice produce --compression` / `sluice consume` do the same from the CLI.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { gzipSync } from "node:zlib";
import { logLines } from "../bench/log_lines.ts";
import { Admin, Consumer, ErrorCode, Producer, SluiceError, type CompressionName } from "../client/mod.ts";
import { ApiKey } from "../protocol/api_keys.ts";
import { readI64, writeI32, writeI64 } from "../protocol/big_endian.ts";
import { compressBatch } from "../protocol/compressed_batch.ts";
import { codecForWriting } from "../protocol/compression/mod.ts";
import { crc32c } from "../protocol/crc32c.ts";
import { decodeFetchResponse } from "../protocol/messages/fetch.ts";
import { decodeProduceResponse } from "../protocol/messages/produce.ts";
import {
  ATTRIBUTES_OFFSET,
  BATCH_LENGTH_OFFSET,
  BATCH_OVERHEAD_BYTES,
  compressionOf,
  CRC_COVERED_FROM,
  CRC_OFFSET,
  encodeBatch,
  RECORDS_OFFSET,
  type RecordInput,
} from "../protocol/record_batch.ts";
import { startBroker, type BrokerProcess } from "./support/broker.ts";
import { sluice } from "./support/cli.ts";
import { fetchBody, produceBody, RawClient } from "./support/raw_client.ts";
import { takeRecords } from "./support/take_records.ts";

const CODECS: Exclude<CompressionName, "none">[] = ["gzip", "snappy", "lz4", "zstd"];
const CODEC_IDS = { gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
const enc = new TextEncoder();

let broker: BrokerProcess;
let address: string;
let admin: Admin;
let raw: RawClient;

beforeAll(async () => {
  broker = await startBroker();
  address = `127.0.0.1:${broker.port}`;
  admin = new Admin({ broker: address });
  raw = await RawClient.connect(broker.port);
});

afterAll(async () => {
  raw?.close();
  await admin?.close();
  await broker?.stop();
});

/** The stored batches of a partition from `offset`, as the broker serves them (raw Fetch). */
async function fetchRaw(topic: string, offset = 0): Promise<Uint8Array> {
  const res = await raw.request(ApiKey.Fetch, fetchBody({ topic, partitions: [{ index: 0, offset }] }));
  const p = decodeFetchResponse(res.body).topics[0].partitions[0];
  expect(p.errorCode).toBe(0);
  return p.records;
}

/** Each batch of a records blob: [start, end). */
function batchesOf(blob: Uint8Array): { start: number; end: number }[] {
  const out = [];
  for (let p = 0; p < blob.length; ) {
    const end = p + BATCH_OVERHEAD_BYTES + new DataView(blob.buffer, blob.byteOffset).getInt32(p + BATCH_LENGTH_OFFSET);
    out.push({ start: p, end });
    p = end;
  }
  return out;
}

async function produceRaw(topic: string, records: Uint8Array): Promise<bigint> {
  const res = await raw.request(ApiKey.Produce, produceBody({ topic, acks: -1, partitions: [{ index: 0, records }] }));
  const p = decodeProduceResponse(res.body).topics[0].partitions[0];
  expect(p.errorCode).toBe(0);
  return p.baseOffset;
}

const hexOf = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString("hex"));

function messages(count: number) {
  const lines = logLines(count, 7);
  return lines.map((line, i) => ({
    key: i % 7 === 0 ? null : `user-${i % 13}`,
    value: i % 50 === 49 ? null : i % 11 === 0 ? Uint8Array.from({ length: 64 }, (_, j) => (i * 31 + j * 7) & 0xff) : line,
    headers: i % 3 === 0 ? { trace: `t-${i}`, empty: null, bin: Uint8Array.of(i & 0xff, 0, 255) } : undefined,
    timestamp: 1_765_000_000_000 + i * 3,
  }));
}

describe("each codec through a real broker", () => {
  for (const codec of CODECS) {
    test(`${codec}: produced compressed, stored compressed, consumed byte for byte`, async () => {
      const topic = `compressed-${codec}`;
      await admin.createTopic(topic, { partitions: 1 });
      const sent = messages(600);
      const producer = new Producer({ broker: address, compression: codec, lingerMs: 50 });
      const results = await Promise.all(sent.map((m) => producer.send(topic, m)));
      await producer.close();
      expect(results.map((r) => Number(r.offset))).toEqual(sent.map((_, i) => i));

      // Stored as it came: every batch the broker serves carries the codec and is smaller than its records.
      const blob = await fetchRaw(topic);
      const batches = batchesOf(blob);
      expect(batches.length).toBeGreaterThan(0);
      for (const b of batches) expect(compressionOf(blob[b.start + ATTRIBUTES_OFFSET + 1])).toBe(CODEC_IDS[codec]);
      const plainBytes = sent.reduce((n, m) => n + (typeof m.value === "string" ? m.value.length : (m.value?.length ?? 0)), 0);
      expect(blob.length * 2).toBeLessThan(plainBytes);

      const consumer = new Consumer({ broker: address });
      consumer.assign([{ topic, partition: 0, position: "beginning" }]);
      const got = await takeRecords(consumer, sent.length, 15_000);
      await consumer.close();
      const want = sent.map((m, i) => ({
        offset: BigInt(i),
        timestamp: m.timestamp,
        key: m.key === null ? null : hexOf(enc.encode(m.key)),
        value: m.value === null ? null : hexOf(typeof m.value === "string" ? enc.encode(m.value) : m.value),
        headers: m.headers === undefined ? [] : Object.entries(m.headers).map(([k, v]) => [k, v === null ? null : hexOf(typeof v === "string" ? enc.encode(v) : v)]),
      }));
      expect(got.map((r) => ({ offset: r.offset, timestamp: r.timestamp, key: hexOf(r.key), value: hexOf(r.value), headers: r.headers.map(([k, v]) => [k, hexOf(v)]) }))).toEqual(want);
    });
  }

  test("a compressed batch comes back from the broker byte-identical (only the base offset is the broker's)", async () => {
    await admin.createTopic("identical", { partitions: 1 });
    const records: RecordInput[] = logLines(200, 3).map((value, i) => ({ key: `k${i}`, value, timestamp: 1_765_000_000_000 + i }));
    const sentBatches = CODECS.map((name) => compressBatch(encodeBatch(records, { firstTimestamp: 1_765_000_000_000 }), codecForWriting(name)!));
    const bases: bigint[] = [];
    for (const batch of sentBatches) bases.push(await produceRaw("identical", batch));
    const blob = await fetchRaw("identical");
    const stored = batchesOf(blob).map((b) => blob.subarray(b.start, b.end));
    expect(stored.length).toBe(CODECS.length);
    for (let i = 0; i < CODECS.length; i++) {
      expect(readI64(stored[i], 0)).toBe(bases[i]);
      const expected = sentBatches[i].slice();
      writeI64(expected, 0, bases[i]);
      expect(Buffer.from(stored[i]).equals(Buffer.from(expected))).toBe(true);
    }
  });

  test("the producer sends a batch that does not shrink uncompressed (codec none in its attributes)", async () => {
    await admin.createTopic("incompressible", { partitions: 1 });
    const producer = new Producer({ broker: address, compression: "lz4", lingerMs: 20 });
    let x = 99;
    const noise = () => Uint8Array.from({ length: 300 }, () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24);
    const values = Array.from({ length: 20 }, noise);
    await Promise.all(values.map((value) => producer.send("incompressible", { value })));
    await producer.close();
    const blob = await fetchRaw("incompressible");
    for (const b of batchesOf(blob)) expect(compressionOf(blob[b.start + ATTRIBUTES_OFFSET + 1])).toBe(0);
    const consumer = new Consumer({ broker: address });
    consumer.assign([{ topic: "incompressible", partition: 0, position: "beginning" }]);
    expect((await takeRecords(consumer, 20, 15_000)).map((r) => hexOf(r.value))).toEqual(values.map(hexOf));
    await consumer.close();
  });
});

describe("bad compressed batches reach the consumer as typed errors", () => {
  /** A batch whose records section is `section`, marked with codec `id`, sealed with a valid CRC (the broker cannot tell). */
  function sealed(id: number, section: Uint8Array, recordCount = 1): Uint8Array {
    const plain = encodeBatch(Array.from({ length: recordCount }, () => ({ value: "x" })), { firstTimestamp: 1_765_000_000_000 });
    const out = new Uint8Array(RECORDS_OFFSET + section.length);
    out.set(plain.subarray(0, RECORDS_OFFSET));
    out.set(section, RECORDS_OFFSET);
    writeI32(out, BATCH_LENGTH_OFFSET, out.length - BATCH_OVERHEAD_BYTES);
    out[ATTRIBUTES_OFFSET + 1] = id;
    writeI32(out, CRC_OFFSET, crc32c(out, CRC_COVERED_FROM, out.length));
    return out;
  }

  async function consumeError(topic: string): Promise<SluiceError> {
    const consumer = new Consumer({ broker: address });
    consumer.assign([{ topic, partition: 0, position: "beginning" }]);
    try {
      await takeRecords(consumer, 1, 10_000);
    } catch (e) {
      if (e instanceof SluiceError) return e;
      throw e;
    } finally {
      await consumer.close();
    }
    throw new Error("the consumer read the bad batch without an error");
  }

  test("a gzip bomb (65 MiB of zeros in 64 KiB) is MESSAGE_TOO_LARGE, named by its limit", async () => {
    await admin.createTopic("bomb", { partitions: 1 });
    const bomb = gzipSync(new Uint8Array(65 * 1024 * 1024), { level: 9 });
    expect(bomb.length).toBeLessThan(128 * 1024);
    await produceRaw("bomb", sealed(1, bomb));
    const e = await consumeError("bomb");
    expect(e.code).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    expect(e.message).toContain("BATCH_DECOMPRESSED_BYTES_MAX");
  });

  test("an lz4 frame with a broken block, and snappy garbage, are CORRUPT_MESSAGE", async () => {
    const lz4 = codecForWriting("lz4")!.compress(enc.encode(logLines(100).join("\n")));
    lz4[lz4.length - 12] ^= 0xff;
    lz4[9] = 0xff; // a match offset or literal length that cannot hold
    await admin.createTopic("bad-lz4", { partitions: 1 });
    await produceRaw("bad-lz4", sealed(3, lz4));
    expect((await consumeError("bad-lz4")).code).toBe(ErrorCode.CORRUPT_MESSAGE);

    await admin.createTopic("bad-snappy", { partitions: 1 });
    await produceRaw("bad-snappy", sealed(2, Uint8Array.of(0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0x7f, 0, 0, 0, 1)));
    expect((await consumeError("bad-snappy")).code).toBe(ErrorCode.CORRUPT_MESSAGE);
  });
});

describe("the CLI", () => {
  test("sluice produce --compression zstd, then sluice consume reads the lines back", async () => {
    await admin.createTopic("cli-zstd", { partitions: 1 });
    const lines = logLines(300, 11);
    const produced = await sluice(["produce", "cli-zstd", "--compression", "zstd"], { broker: address, input: `${lines.join("\n")}\n` });
    expect(produced.stderr).toBe("");
    expect(produced.stdout.trim()).toBe("300 message(s) acked (cli-zstd)");
    const blob = await fetchRaw("cli-zstd");
    for (const b of batchesOf(blob)) expect(compressionOf(blob[b.start + ATTRIBUTES_OFFSET + 1])).toBe(4);
    const consumed = await sluice(["consume", "cli-zstd", "--from", "beginning", "--max-messages", "300"], { broker: address });
    expect(consumed.code).toBe(0);
    expect(consumed.stdout.trimEnd().split("\n")).toEqual(lines);
  });

  test("an unknown codec is a usage error naming the choices", async () => {
    const r = await sluice(["produce", "cli-zstd", "--compression", "brotli"], { broker: address, input: "x\n" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--compression must be one of none, gzip, snappy, lz4, zstd");
  });
});
