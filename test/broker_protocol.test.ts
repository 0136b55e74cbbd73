// The native protocol against a real broker process over TCP: every api,
// pipelining, produce acks 0/1/all with byte-exact fetches, long-poll, and the
// typed answers to bad input.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ApiKey } from "../protocol/api_keys.ts";
import { readI64Number, writeI64 } from "../protocol/big_endian.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { decodeFetchResponse } from "../protocol/messages/fetch.ts";
import { REPLICA_FETCH_VERSION } from "../protocol/messages/replica_fetch.ts";
import { decodeProduceResponse } from "../protocol/messages/produce.ts";
import { decodeResponseEnvelope } from "../protocol/messages/response.ts";
import { encodeBatch } from "../protocol/record_batch.ts";
import { type BrokerProcess, startBroker } from "./support/broker.ts";
import { RawClient, fetchBody, produceBody } from "./support/raw_client.ts";
import { waitFor } from "./support/wait_for.ts";

const Api = { Produce: 0, Fetch: 1, ListOffsets: 2, Metadata: 3, ApiVersions: 18, CreateTopics: 19, DeleteTopics: 20, AlterConfigs: 33, CreatePartitions: 37, DescribeTopics: 1000 } as const;

let broker: BrokerProcess;
let client: RawClient;

beforeAll(async () => {
  broker = await startBroker({ args: ["--workers", "2"] });
  client = await RawClient.connect(broker.port);
});

afterAll(async () => {
  client?.close();
  if (broker !== undefined) expect(await broker.stop()).toBe(0);
});

type Reply = Record<string, any>;

async function control(c: RawClient, api: number, value: unknown): Promise<Reply> {
  return (await c.control(api, value)) as Reply;
}

async function createTopic(name: string, partitions: number, configs?: Record<string, string>): Promise<void> {
  const r = await control(client, Api.CreateTopics, { topics: [{ name, partitions, configs }] });
  expect(r.topics[0]).toEqual({ name, errorCode: 0 });
}

function batch(values: string[]): Uint8Array {
  return encodeBatch(values.map((value) => ({ value })));
}

async function produce(c: RawClient, topic: string, partition: number, records: Uint8Array, acks = -1) {
  const res = await c.request(Api.Produce, produceBody({ topic, acks, partitions: [{ index: partition, records }] }));
  return decodeProduceResponse(res.body).topics[0].partitions[0];
}

async function fetchAll(c: RawClient, topic: string, partition: number, offset = 0, maxWaitMs = 0) {
  const res = await c.request(Api.Fetch, fetchBody({ topic, maxWaitMs, minBytes: 1, partitions: [{ index: partition, offset }] }));
  return decodeFetchResponse(res.body).topics[0].partitions[0];
}

/** The batch as the broker stores it: the bytes sent with the base offset patched. */
function withBaseOffset(records: Uint8Array, baseOffset: number): Uint8Array {
  const copy = records.slice();
  writeI64(copy, 0, BigInt(baseOffset));
  return copy;
}

describe("control apis", () => {
  test("ApiVersions lists every served api at version 0, ReplicaFetch at 0 to REPLICA_FETCH_VERSION", async () => {
    const r = await control(client, Api.ApiVersions, { clientId: "test" });
    expect(r.broker).toBe("sluice");
    const keys = (r.apis as number[][]).map((a) => a[0]);
    for (const k of Object.values(Api)) expect(keys).toContain(k);
    expect((r.apis as number[][]).filter((a) => a[0] !== ApiKey.ReplicaFetch).every((a) => a[1] === 0 && a[2] === 0)).toBe(true);
    expect((r.apis as number[][]).find((a) => a[0] === ApiKey.ReplicaFetch)).toEqual([ApiKey.ReplicaFetch, 0, REPLICA_FETCH_VERSION]);
  });

  test("create, list (metadata), describe, alter, add partitions, list offsets, delete", async () => {
    await createTopic("admin-t", 2, { "retention.ms": "3600000" });
    const dup = await control(client, Api.CreateTopics, { topics: [{ name: "admin-t", partitions: 1 }] });
    expect(dup.topics[0].errorCode).toBe(ErrorCode.TOPIC_ALREADY_EXISTS);
    const badName = await control(client, Api.CreateTopics, { topics: [{ name: "no/slash", partitions: 1 }] });
    expect(badName.topics[0].errorCode).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION);
    const badConfig = await control(client, Api.CreateTopics, { topics: [{ name: "cfg", partitions: 1, configs: { "retention.ms": "x" } }] });
    expect(badConfig.topics[0].errorCode).toBe(ErrorCode.INVALID_CONFIG);
    expect(badConfig.topics[0].message).toContain("retention.ms");

    const md = await control(client, Api.Metadata, { topics: null });
    const t = (md.topics as Reply[]).find((x) => x.name === "admin-t")!;
    expect(t.partitions.map((p: Reply) => p.partition)).toEqual([0, 1]);
    expect(md.brokers[0].port).toBe(broker.port);

    await produce(client, "admin-t", 1, batch(["a", "b", "c"]));
    const d = await control(client, Api.DescribeTopics, { topics: ["admin-t"] });
    const p1 = d.topics[0].partitions[1];
    expect(d.topics[0].configs["retention.ms"]).toBe("3600000");
    expect(p1).toMatchObject({ partition: 1, logStartOffset: 0, highWatermark: 3, durableOffset: 3, logEndOffset: 3, online: true });
    expect(p1.segments).toBeGreaterThanOrEqual(1);
    expect(p1.bytes).toBeGreaterThan(0);

    const alter = await control(client, Api.AlterConfigs, { topics: [{ name: "admin-t", set: { "retention.ms": "7200000" } }] });
    expect(alter.topics[0].errorCode).toBe(0);
    const d2 = await control(client, Api.DescribeTopics, { topics: ["admin-t"] });
    expect(d2.topics[0].configs["retention.ms"]).toBe("7200000");

    const shrink = await control(client, Api.CreatePartitions, { topics: [{ name: "admin-t", count: 1 }] });
    expect(shrink.topics[0].errorCode).toBe(ErrorCode.INVALID_PARTITIONS);
    const grow = await control(client, Api.CreatePartitions, { topics: [{ name: "admin-t", count: 4 }] });
    expect(grow.topics[0].errorCode).toBe(0);

    const lo = await control(client, Api.ListOffsets, {
      topics: [{ name: "admin-t", partitions: [{ partition: 1, timestamp: -2 }, { partition: 1, timestamp: -1 }, { partition: 9, timestamp: -1 }] }],
    });
    expect(lo.topics[0].partitions.map((p: Reply) => [p.errorCode, p.offset])).toEqual([[0, 0], [0, 3], [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1]]);

    const del = await control(client, Api.DeleteTopics, { topics: ["admin-t", "never-was"] });
    expect(del.topics.map((x: Reply) => x.errorCode)).toEqual([0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
    const md2 = await control(client, Api.Metadata, { topics: ["admin-t"] });
    expect(md2.topics[0].errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  test("a schema violation is INVALID_REQUEST naming the field, and the connection stays open", async () => {
    const r = await control(client, Api.CreateTopics, { topics: [{ name: "x", partitions: "many" }] });
    expect(r.errorCode).toBe(ErrorCode.INVALID_REQUEST);
    expect(r.message).toContain("partitions");
    expect((await control(client, Api.ApiVersions, {})).broker).toBe("sluice");
  });
});

describe("produce and fetch", () => {
  test("acks 1 and all answer with base offsets; fetch returns the exact bytes with the base offset patched", async () => {
    await createTopic("exact", 2);
    const a = batch(["one", "two"]);
    const b = batch(["three"]);
    const ra = await produce(client, "exact", 0, a, 1);
    const rb = await produce(client, "exact", 0, b, -1);
    expect([ra.errorCode, Number(ra.baseOffset)]).toEqual([0, 0]);
    expect([rb.errorCode, Number(rb.baseOffset)]).toEqual([0, 2]);
    const f = await fetchAll(client, "exact", 0);
    expect(f.errorCode).toBe(0);
    expect(Number(f.highWatermark)).toBe(3);
    const expected = new Uint8Array(a.length + b.length);
    expected.set(withBaseOffset(a, 0), 0);
    expected.set(withBaseOffset(b, 2), a.length);
    expect(f.records).toEqual(expected);
  });

  test("acks 0 gets no response but is stored", async () => {
    await createTopic("fire", 1);
    const records = batch(["x", "y"]);
    const silent = client.sendRequest(Api.Produce, produceBody({ topic: "fire", acks: 0, partitions: [{ index: 0, records }] }));
    await waitFor(async () => Number((await fetchAll(client, "fire", 0)).highWatermark) === 2, { what: "the acks=0 batch to become readable" });
    // A later request was answered; the acks=0 one never is.
    await control(client, Api.ApiVersions, {});
    expect(client.arrivalOrder).not.toContain(silent);
    expect((await fetchAll(client, "fire", 0)).records).toEqual(withBaseOffset(records, 0));
  });

  test("many partitions per request: each gets its own offset or error", async () => {
    await createTopic("multi", 3);
    const good = batch(["g"]);
    const res = await client.request(
      Api.Produce,
      produceBody({ topic: "multi", acks: -1, partitions: [0, 1, 2, 5].map((index) => ({ index, records: good })) }),
    );
    const parts = decodeProduceResponse(res.body).topics[0].partitions;
    expect(parts.map((p) => [p.index, p.errorCode])).toEqual([[0, 0], [1, 0], [2, 0], [5, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]);
    const f = await client.request(Api.Fetch, fetchBody({ topic: "multi", partitions: [0, 1, 2].map((index) => ({ index, offset: 0 })) }));
    const fparts = decodeFetchResponse(f.body).topics[0].partitions;
    expect(fparts.map((p) => p.records)).toEqual([0, 1, 2].map(() => withBaseOffset(good, 0)));
  });

  test("hundreds of pipelined requests on one connection: every correlation id answered once, order kept per partition", async () => {
    await createTopic("pipe", 2);
    const ids: number[] = [];
    const N = 600;
    for (let i = 0; i < N; i++) {
      // Correlation ids above 2^31 must come back unchanged (u32).
      const correlationId = 0x8000_0000 + i * 7;
      if (i % 3 === 2) {
        client.sendRequest(Api.Fetch, fetchBody({ topic: "pipe", partitions: [{ index: i % 2, offset: 0 }] }), { correlationId });
      } else {
        client.sendRequest(Api.Produce, produceBody({ topic: "pipe", acks: i % 2 === 0 ? -1 : 1, partitions: [{ index: i % 2, records: batch([`m${i}`]) }] }), { correlationId });
      }
      ids.push(correlationId);
    }
    const responses = await Promise.all(ids.map((id) => client.response(id)));
    expect(responses.map((r) => r.correlationId)).toEqual(ids);
    const offsets: [number[], number[]] = [[], []];
    responses.forEach((r, i) => {
      if (i % 3 === 2) return;
      const p = decodeProduceResponse(r.body).topics[0].partitions[0];
      expect(p.errorCode).toBe(0);
      offsets[i % 2].push(Number(p.baseOffset));
    });
    // Appended in the order the requests were read: offsets 0, 1, 2, … per partition.
    for (const list of offsets) expect(list).toEqual(list.map((_, k) => k));
    expect(client.unclaimed).toBe(0);
  });

  test("a fetch never returns bytes above the high watermark", async () => {
    await createTopic("hw", 1);
    for (let i = 0; i < 20; i++) await produce(client, "hw", 0, batch([`r${i}`]), 1);
    const f = await fetchAll(client, "hw", 0);
    const hw = Number(f.highWatermark);
    let pos = 0;
    let lastOffsetEnd = 0;
    while (pos < f.records.length) {
      const base = readI64Number(f.records, pos);
      const size = 12 + new DataView(f.records.buffer, f.records.byteOffset + pos + 8, 4).getInt32(0);
      lastOffsetEnd = base + 1;
      pos += size;
    }
    expect(lastOffsetEnd).toBeLessThanOrEqual(hw);
  });
});

describe("long-poll", () => {
  test("a waiting fetch is answered promptly when data arrives", async () => {
    await createTopic("lp", 1);
    const other = await RawClient.connect(broker.port);
    const started = Date.now();
    const waiting = client.request(Api.Fetch, fetchBody({ topic: "lp", maxWaitMs: 20_000, minBytes: 1, partitions: [{ index: 0, offset: 0 }] }));
    await Bun.sleep(100);
    const producedAt = Date.now();
    await produce(other, "lp", 0, batch(["wake"]), -1);
    const res = decodeFetchResponse((await waiting).body).topics[0].partitions[0];
    expect(res.records.length).toBeGreaterThan(0);
    expect(Date.now() - producedAt).toBeLessThan(1_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    other.close();
  });

  test("with no data it answers, empty, at maxWaitMs", async () => {
    await createTopic("lp-empty", 1);
    const started = Date.now();
    const res = await client.request(Api.Fetch, fetchBody({ topic: "lp-empty", maxWaitMs: 300, minBytes: 1, partitions: [{ index: 0, offset: 0 }] }));
    const elapsed = Date.now() - started;
    expect(decodeFetchResponse(res.body).topics[0].partitions[0].records.length).toBe(0);
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(2_000);
  });
});

describe("bad input", () => {
  test("a length prefix of 2^31-1 gets MESSAGE_TOO_LARGE and a close, and allocates nothing", async () => {
    const rssBefore = await brokerRss();
    const c = await RawClient.connect(broker.port);
    const frame = new Uint8Array(12);
    const view = new DataView(frame.buffer);
    view.setUint32(0, 0x7fff_ffff);
    view.setUint16(4, Api.Produce);
    view.setUint16(6, 0);
    view.setUint32(8, 4242);
    c.send(frame);
    const res = await c.response(4242);
    expect(decodeResponseEnvelope(res.body).errorCode).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    await c.closed;
    // A second one with only the size: closed without an answer.
    const c2 = await RawClient.connect(broker.port);
    c2.send(new Uint8Array([0xff, 0xff, 0xff, 0xff]));
    c2.send(new Uint8Array(8));
    await c2.closed;
    expect((await brokerRss()) - rssBefore).toBeLessThan(64 * 1024 * 1024);
    expect((await control(client, Api.ApiVersions, {})).broker).toBe("sluice");
  });

  test("unknown api key or version: UNSUPPORTED_VERSION, connection stays open", async () => {
    const r1 = await client.request(4321, new Uint8Array([1, 2, 3]));
    expect(decodeResponseEnvelope(r1.body).errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION);
    const r2 = await client.request(Api.Produce, new Uint8Array(0), { apiVersion: 3 });
    expect(decodeResponseEnvelope(r2.body).errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION);
    expect((await control(client, Api.ApiVersions, {})).broker).toBe("sluice");
  });

  test("truncated fields: INVALID_REQUEST, connection stays open", async () => {
    await createTopic("trunc", 1);
    const body = produceBody({ topic: "trunc", acks: -1, partitions: [{ index: 0, records: batch(["x"]) }] });
    for (const cut of [1, 5, 9, 12, body.length - 1]) {
      const r = await client.request(Api.Produce, body.subarray(0, cut));
      expect(decodeResponseEnvelope(r.body).errorCode).toBe(ErrorCode.INVALID_REQUEST);
    }
    const fb = fetchBody({ topic: "trunc", partitions: [{ index: 0, offset: 0 }] });
    const rf = await client.request(Api.Fetch, fb.subarray(0, fb.length - 3));
    expect(decodeResponseEnvelope(rf.body).errorCode).toBe(ErrorCode.INVALID_REQUEST);
    const rm = await client.request(Api.Metadata, new Uint8Array([0x92, 0x01]));
    expect(decodeResponseEnvelope(rm.body).errorCode).toBe(ErrorCode.INVALID_REQUEST);
    expect(Number((await fetchAll(client, "trunc", 0)).highWatermark)).toBe(0);
  });

  test("a bad CRC is CORRUPT_MESSAGE and nothing of that partition's records is stored", async () => {
    await createTopic("crc", 2);
    const good = batch(["good"]);
    const bad = batch(["bad"]);
    bad[bad.length - 1] ^= 0x01;
    const both = new Uint8Array(good.length + bad.length);
    both.set(good, 0);
    both.set(bad, good.length);
    const res = await client.request(
      Api.Produce,
      produceBody({ topic: "crc", acks: -1, partitions: [{ index: 0, records: both }, { index: 1, records: good }] }),
    );
    const parts = decodeProduceResponse(res.body).topics[0].partitions;
    expect(parts[0].errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(parts[1].errorCode).toBe(0);
    expect(Number((await fetchAll(client, "crc", 0)).highWatermark)).toBe(0);
    expect((await fetchAll(client, "crc", 1)).records).toEqual(withBaseOffset(good, 0));
  });
});

async function brokerRss(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${broker.httpPort}/metrics`)).text();
  const m = /^process_resident_memory_bytes (\d+)/m.exec(text);
  return Number(m![1]);
}
