// The Kafka listener in process, over real TCP (a whole Broker with worker
// threads): framing and what Kafka does with bad input (close, never crash),
// ApiVersions' KIP-511 answer, Produce's per-partition errors, Fetch of the
// stored bytes as they came, ListOffsets, and the connection budget both
// listeners share. Real clients (kcat, kafkajs) are in test/kafka_clients.test.ts.

import { afterEach, describe, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import net from "node:net";
import { ErrorCode } from "../../protocol/errors.ts";
import { decodeApiVersionsResponse, encodeApiVersionsRequest } from "../../protocol/kafka/messages/api_versions.ts";
import { decodeFetchResponse, encodeFetchRequest } from "../../protocol/kafka/messages/fetch.ts";
import { decodeListOffsetsResponse, encodeListOffsetsRequest } from "../../protocol/kafka/messages/list_offsets.ts";
import { decodeMetadataResponse, encodeMetadataRequest } from "../../protocol/kafka/messages/metadata.ts";
import { decodeOffsetForLeaderEpochResponse, encodeOffsetForLeaderEpochRequest } from "../../protocol/kafka/messages/offset_for_leader_epoch.ts";
import { decodeProduceResponse, encodeProduceRequest } from "../../protocol/kafka/messages/produce.ts";
import { KafkaReader } from "../../protocol/kafka/reader.ts";
import { KafkaApiKey } from "../../protocol/kafka/versions.ts";
import { writeI32 } from "../../protocol/big_endian.ts";
import { encodeBatch } from "../../protocol/record_batch.ts";
import { KafkaRawClient } from "../../test/support/kafka_raw_client.ts";
import { waitFor } from "../../test/support/wait_for.ts";
import { Broker } from "../broker.ts";
import { parseBrokerConfig } from "../broker_config.ts";
import { KAFKA_FRAME_BYTES_MAX } from "../engine_limits.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startBroker(extra: Record<string, unknown> = {}): Promise<Broker> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-kafka-"));
  cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const broker = await Broker.start(parseBrokerConfig({ dataDir, port: 0, httpPort: 0, kafkaPort: 0, workers: 1, ...extra }), { log: () => {} });
  cleanups.push(() => broker.stop());
  return broker;
}

async function connect(broker: Broker): Promise<KafkaRawClient> {
  const c = await KafkaRawClient.connect(broker.kafkaPort!);
  cleanups.push(() => c.close());
  return c;
}

async function produce(c: KafkaRawClient, version: number, topic: string, records: Uint8Array | null, acks = -1) {
  const r = await c.request(KafkaApiKey.Produce, version, (w) =>
    encodeProduceRequest(w, version, { acks, timeoutMs: 10_000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] }),
  );
  return decodeProduceResponse(r, version).responses[0].partitionResponses[0];
}

async function fetchOnce(c: KafkaRawClient, version: number, topic: string, offset: bigint, opts: { maxWaitMs?: number; minBytes?: number } = {}) {
  const r = await c.request(KafkaApiKey.Fetch, version, (w) =>
    encodeFetchRequest(w, version, {
      maxWaitMs: opts.maxWaitMs ?? 0,
      minBytes: opts.minBytes ?? 0,
      maxBytes: 1 << 20,
      topics: [{ topic, partitions: [{ partition: 0, fetchOffset: offset, partitionMaxBytes: 1 << 20 }] }],
    }),
  );
  return decodeFetchResponse(r, version).responses[0].partitions[0];
}

describe("ApiVersions", () => {
  test("lists exactly the apis served; a version above ours gets a v0 body with UNSUPPORTED_VERSION and the ranges (KIP-511)", async () => {
    const broker = await startBroker();
    const c = await connect(broker);
    const ok = decodeApiVersionsResponse(await c.request(KafkaApiKey.ApiVersions, 3, (w) => encodeApiVersionsRequest(w, 3, { clientSoftwareName: "t", clientSoftwareVersion: "1" })), 3);
    expect(ok.errorCode).toBe(ErrorCode.NONE);
    const keys = ok.apiKeys.map((a) => a.apiKey);
    for (const k of [KafkaApiKey.Produce, KafkaApiKey.Fetch, KafkaApiKey.ListOffsets, KafkaApiKey.Metadata, KafkaApiKey.ApiVersions]) expect(keys).toContain(k);
    const produceRange = ok.apiKeys.find((a) => a.apiKey === KafkaApiKey.Produce)!;
    expect([produceRange.minVersion, produceRange.maxVersion]).toEqual([0, 9]);

    // v99: the broker cannot read the body; the answer is a v0 body under header v0.
    const { bytes, correlationId } = c.frame(KafkaApiKey.ApiVersions, 99, (w) => w.raw(new Uint8Array([1, 2, 3])));
    c.send(bytes);
    const v0 = decodeApiVersionsResponse(new KafkaReader((await c.response(correlationId)).body), 0);
    expect(v0.errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION);
    expect(v0.apiKeys.map((a) => a.apiKey)).toEqual(keys);
    expect(c.isClosed).toBe(false);
  });
});

describe("bad input closes the connection, never the broker", () => {
  test("an api key the broker does not speak, a version outside the range, a truncated header, a size over the limit", async () => {
    const broker = await startBroker();
    const bad: Uint8Array[] = [];
    // Api key 57 (not served): closed without an answer.
    bad.push(headerOnlyFrame(57, 0));
    // Metadata v99: closed (only ApiVersions answers an unknown version).
    bad.push(headerOnlyFrame(KafkaApiKey.Metadata, 99));
    // A header whose client_id length runs past the frame.
    const truncated = new Uint8Array(4 + 10);
    writeI32(truncated, 0, 10);
    truncated.set([0, 3, 0, 1, 0, 0, 0, 7, 0x7f, 0x00], 4);
    bad.push(truncated);
    // A size over the limit: refused before a byte of the body is buffered.
    const huge = new Uint8Array(12);
    writeI32(huge, 0, KAFKA_FRAME_BYTES_MAX + 1);
    bad.push(huge);
    for (const bytes of bad) {
      const c = await connect(broker);
      c.send(bytes);
      await c.closed;
      expect(c.isClosed).toBe(true);
    }
    // The broker still serves.
    const c = await connect(broker);
    const md = decodeMetadataResponse(await c.request(KafkaApiKey.Metadata, 9, (w) => encodeMetadataRequest(w, 9, { topics: null })), 9);
    expect(md.brokers).toEqual([{ nodeId: 0, host: "127.0.0.1", port: broker.kafkaPort!, rack: null }]);
  });
});

/** A frame of only a request header (no body), for requests that must be refused before their body is read. */
function headerOnlyFrame(apiKey: number, apiVersion: number): Uint8Array {
  const out = new Uint8Array(4 + 10);
  writeI32(out, 0, 10);
  out.set([apiKey >> 8, apiKey & 0xff, apiVersion >> 8, apiVersion & 0xff, 0, 0, 0, 1, 0xff, 0xff], 4);
  return out;
}

describe("Produce, Fetch, ListOffsets", () => {
  test("the stored bytes come back as the client sent them (base offset patched), at any fetch version", async () => {
    const broker = await startBroker();
    const c = await connect(broker);
    const a = encodeBatch([{ key: "k1", value: "v1", timestamp: 1_000 }, { key: "k2", value: "v2", timestamp: 2_000 }]);
    const b = encodeBatch([{ key: "k3", value: "v3", headers: [["h", "x"]], timestamp: 5_000 }]);
    const ra = await produce(c, 9, "t", a);
    expect(ra.errorCode).toBe(ErrorCode.NONE);
    expect(ra.baseOffset).toBe(0n);
    const rb = await produce(c, 3, "t", b, 1);
    expect([rb.errorCode, rb.baseOffset]).toEqual([ErrorCode.NONE, 2n]);
    for (const version of [4, 11, 12]) {
      const p = await fetchOnce(c, version, "t", 0n);
      expect(p.errorCode).toBe(ErrorCode.NONE);
      expect(p.highWatermark).toBe(3n);
      expect(p.lastStableOffset).toBe(3n);
      const expected = new Uint8Array(a.length + b.length);
      expected.set(a, 0);
      expected.set(b, a.length);
      writeI32(expected, a.length + 4, 2); // b's base offset (low word) as the broker patched it
      expect(Buffer.from(p.records!).equals(Buffer.from(expected))).toBe(true);
    }
    // From the middle of the first batch: that batch whole (the client skips record 0).
    const mid = await fetchOnce(c, 12, "t", 1n);
    expect(Buffer.from(mid.records!.subarray(0, a.length)).equals(Buffer.from(a))).toBe(true);
    // Past the end: OFFSET_OUT_OF_RANGE.
    expect((await fetchOnce(c, 12, "t", 4n)).errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);

    const lo = decodeListOffsetsResponse(
      await c.request(KafkaApiKey.ListOffsets, 7, (w) =>
        encodeListOffsetsRequest(w, 7, {
          replicaId: -1,
          topics: [{ name: "t", partitions: [{ partitionIndex: 0, timestamp: -2n }, { partitionIndex: 0, timestamp: -1n }, { partitionIndex: 0, timestamp: 1_500n }, { partitionIndex: 0, timestamp: 9_000n }] }],
        }),
      ),
      7,
    );
    expect(lo.topics[0].partitions.map((p) => [p.errorCode, p.offset, p.timestamp])).toEqual([
      [0, 0n, -1n],
      [0, 3n, -1n],
      [0, 1n, 2_000n],
      [0, -1n, -1n],
    ]);
  });

  test("per-partition errors: v0-2 UNSUPPORTED_VERSION, bad acks INVALID_REQUIRED_ACKS, a corrupt batch CORRUPT_MESSAGE; nothing stored", async () => {
    const broker = await startBroker();
    const c = await connect(broker);
    const batch = encodeBatch([{ value: "x" }]);
    expect((await produce(c, 2, "e", batch)).errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION);
    expect((await produce(c, 9, "e", batch, 2)).errorCode).toBe(ErrorCode.INVALID_REQUIRED_ACKS);
    const corrupt = batch.slice();
    corrupt[corrupt.length - 1] ^= 0xff; // inside the CRC-covered records
    expect((await produce(c, 9, "e", corrupt)).errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);
    const ok = await produce(c, 9, "e", batch);
    expect([ok.errorCode, ok.baseOffset]).toEqual([ErrorCode.NONE, 0n]);
    expect(c.isClosed).toBe(false);
  });

  test("acks 0: no response, the records are stored", async () => {
    const broker = await startBroker();
    const c = await connect(broker);
    const { bytes } = c.frame(KafkaApiKey.Produce, 9, (w) =>
      encodeProduceRequest(w, 9, { acks: 0, timeoutMs: 1000, topicData: [{ name: "z", partitionData: [{ index: 0, records: encodeBatch([{ value: "q" }]) }] }] }),
    );
    c.send(bytes);
    await waitFor(() => broker.engine.topicView().highWatermark("z", 0) === 1, { what: "the acks=0 record to be stored" });
  });

  test("a fetch at the end long-polls until a produce arrives (max_wait_ms, min_bytes)", async () => {
    const broker = await startBroker();
    const c = await connect(broker);
    const p = await connect(broker);
    expect((await produce(p, 9, "lp", encodeBatch([{ value: "first" }]))).errorCode).toBe(0);
    const started = Date.now();
    const waiting = fetchOnce(c, 12, "lp", 1n, { maxWaitMs: 10_000, minBytes: 1 });
    // Produced on another connection once the fetch is parked.
    await waitFor(() => broker.engine.waitingFetches === 1, { what: "the fetch to park" });
    expect((await produce(p, 9, "lp", encodeBatch([{ value: "second" }]))).errorCode).toBe(0);
    const got = await waiting;
    expect(got.errorCode).toBe(0);
    expect(got.records!.length).toBeGreaterThan(0);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe("OffsetForLeaderEpoch (23) on one node", () => {
  test("listed by ApiVersions; epoch 0 (what Metadata tells clients) ends at the log end, a later epoch is unknown, an unknown partition errs", async () => {
    const broker = await startBroker();
    const c = await connect(broker);
    const versions = decodeApiVersionsResponse(await c.request(KafkaApiKey.ApiVersions, 3, (w) => encodeApiVersionsRequest(w, 3, { clientSoftwareName: "t", clientSoftwareVersion: "1" })), 3);
    expect(versions.apiKeys.find((a) => a.apiKey === KafkaApiKey.OffsetForLeaderEpoch)).toMatchObject({ minVersion: 0, maxVersion: 4 });
    await broker.engine.createTopic("ofle", { partitions: 1 });
    for (let i = 0; i < 3; i++) expect((await produce(c, 9, "ofle", encodeBatch([{ value: new Uint8Array([i]) }]))).errorCode).toBe(ErrorCode.NONE);
    for (const version of [2, 4]) {
      const ask = async (topic: string, leaderEpoch: number) =>
        decodeOffsetForLeaderEpochResponse(
          await c.request(KafkaApiKey.OffsetForLeaderEpoch, version, (w) =>
            encodeOffsetForLeaderEpochRequest(w, version, { replicaId: -1, topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: 0, leaderEpoch }] }] }),
          ),
          version,
        ).topics[0].partitions[0];
      expect(await ask("ofle", 0)).toEqual({ errorCode: ErrorCode.NONE, partition: 0, leaderEpoch: 0, endOffset: 3n });
      expect(await ask("ofle", 1)).toEqual({ errorCode: ErrorCode.NONE, partition: 0, leaderEpoch: -1, endOffset: -1n });
      expect((await ask("nope", 0)).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    }
  });
});

describe("responses in request order, as Kafka promises", () => {
  test("a Metadata request behind a parked long-poll fetch is answered after it, though it was ready first", async () => {
    const broker = await startBroker();
    const c = await connect(broker);
    const p = await connect(broker);
    expect((await produce(p, 9, "ord", encodeBatch([{ value: "first" }]))).errorCode).toBe(0);
    const fetchFrame = c.frame(KafkaApiKey.Fetch, 12, (w) =>
      encodeFetchRequest(w, 12, { maxWaitMs: 10_000, minBytes: 1, maxBytes: 1 << 20, topics: [{ topic: "ord", partitions: [{ partition: 0, fetchOffset: 1n, partitionMaxBytes: 1 << 20 }] }] }),
    );
    const metadataFrame = c.frame(KafkaApiKey.Metadata, 12, (w) => encodeMetadataRequest(w, 12, { topics: null }));
    // One write: both frames are read together, so once the fetch is parked the Metadata request was handled too.
    c.send(Buffer.concat([fetchFrame.bytes, metadataFrame.bytes]));
    await waitFor(() => broker.engine.waitingFetches === 1, { what: "the fetch to park" });
    // A round trip on a third connection: the Metadata answer is ready by then, and held behind the fetch.
    const other = await connect(broker);
    await other.request(KafkaApiKey.ApiVersions, 3, (w) => encodeApiVersionsRequest(w, 3, { clientSoftwareName: "t", clientSoftwareVersion: "1" }));
    expect(c.arrivalOrder).toEqual([]);
    expect((await produce(p, 9, "ord", encodeBatch([{ value: "second" }]))).errorCode).toBe(0);
    await c.response(metadataFrame.correlationId);
    expect(c.arrivalOrder).toEqual([fetchFrame.correlationId, metadataFrame.correlationId]);
  });
});

describe("responses in request order: a held fetch keeps its stored records as views", () => {
  test("a fetch of a large batch, ready behind a parked fetch, comes after it with its records intact", async () => {
    const broker = await startBroker();
    const c = await connect(broker);
    const p = await connect(broker);
    expect((await produce(p, 9, "park", encodeBatch([{ value: "first" }]))).errorCode).toBe(0);
    // Larger than the records the connection copies (SEGMENT_VIEWS_COPIED_BYTES_MAX): held as views of the scratch buffer.
    const big = encodeBatch([{ value: "x".repeat(200 * 1024) }]);
    expect((await produce(p, 9, "big", big)).errorCode).toBe(0);
    const parked = c.frame(KafkaApiKey.Fetch, 12, (w) =>
      encodeFetchRequest(w, 12, { maxWaitMs: 10_000, minBytes: 1, maxBytes: 1 << 20, topics: [{ topic: "park", partitions: [{ partition: 0, fetchOffset: 1n, partitionMaxBytes: 1 << 20 }] }] }),
    );
    const ready = c.frame(KafkaApiKey.Fetch, 12, (w) =>
      encodeFetchRequest(w, 12, { maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, topics: [{ topic: "big", partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] }] }),
    );
    c.send(Buffer.concat([parked.bytes, ready.bytes]));
    await waitFor(() => broker.engine.waitingFetches === 1, { what: "the first fetch to park" });
    // A round trip on another connection: the second fetch has been answered by the engine, and is held.
    await p.request(KafkaApiKey.ApiVersions, 3, (w) => encodeApiVersionsRequest(w, 3, { clientSoftwareName: "t", clientSoftwareVersion: "1" }));
    expect(c.arrivalOrder).toEqual([]);
    expect((await produce(p, 9, "park", encodeBatch([{ value: "second" }]))).errorCode).toBe(0);
    const body = (await c.response(ready.correlationId)).body;
    expect(c.arrivalOrder).toEqual([parked.correlationId, ready.correlationId]);
    const r = new KafkaReader(body);
    r.taggedFields("header");
    const got = decodeFetchResponse(r, 12).responses[0].partitions[0];
    expect(got.errorCode).toBe(ErrorCode.NONE);
    expect(Buffer.from(got.records!).equals(Buffer.from(big))).toBe(true);
  });
});

describe("one connection budget for both listeners", () => {
  test("with connectionsMax 2, a native and a Kafka connection fill it: the next one is closed at once", async () => {
    const broker = await startBroker({ connectionsMax: 2 });
    const native = net.connect({ port: broker.port, host: "127.0.0.1" });
    cleanups.push(() => void native.destroy());
    await new Promise((r) => native.once("connect", r));
    const k1 = await connect(broker);
    // The first Kafka connection works.
    expect(decodeMetadataResponse(await k1.request(KafkaApiKey.Metadata, 1, (w) => encodeMetadataRequest(w, 1, { topics: [] })), 1).topics).toEqual([]);
    const k2 = await connect(broker);
    await k2.closed;
    expect(k2.isClosed).toBe(true);
  });
});
