// Real Kafka clients against a real broker process, unchanged: kcat
// (librdkafka; /usr/bin/kcat, .ci/run installs it) and kafkajs 2.2.4. And the
// two protocols mixed: what a Kafka client produced the native client reads
// back byte for byte (keys, values, headers, timestamps), and the other way
// round — both listeners serve the same stored batches.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { Kafka, logLevel, CompressionTypes } from "kafkajs";
import { Admin, Consumer, Producer } from "../client/mod.ts";
import type { ConsumerRecord } from "../client/mod.ts";
import { decodeFetchResponse, encodeFetchRequest } from "../protocol/kafka/messages/fetch.ts";
import { KafkaApiKey } from "../protocol/kafka/versions.ts";
import { compressionOf, readBatchHeader } from "../protocol/record_batch.ts";
import { startBroker, type BrokerProcess } from "./support/broker.ts";
import { KafkaRawClient } from "./support/kafka_raw_client.ts";

const KCAT = "/usr/bin/kcat";
const KCAT_TIMEOUT_MS = 30_000;

let broker: BrokerProcess;
let kafkaAddress: string;
let nativeAddress: string;
let admin: Admin;

beforeAll(async () => {
  broker = await startBroker();
  kafkaAddress = `127.0.0.1:${broker.kafkaPort}`;
  nativeAddress = `127.0.0.1:${broker.port}`;
  admin = new Admin({ broker: nativeAddress });
});

afterAll(async () => {
  await admin?.close();
  await broker?.stop();
});

/** Runs kcat against the broker's Kafka listener; resolves with its stdout, fails on a non-zero exit. */
function kcat(args: string[], stdin = ""): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(KCAT, ["-b", kafkaAddress, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    const timer = setTimeout(() => proc.kill("SIGKILL"), KCAT_TIMEOUT_MS);
    proc.stdout.on("data", (c: Buffer) => (out += c.toString("utf8")));
    proc.stderr.on("data", (c: Buffer) => (err += c.toString("utf8")));
    proc.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`kcat ${args.join(" ")} exited ${code ?? signal}: ${err}`));
    });
    proc.stdin.end(stdin);
  });
}

async function take(consumer: Consumer, count: number, timeoutMs = 10_000): Promise<ConsumerRecord[]> {
  const out: ConsumerRecord[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < count) {
    if (Date.now() > deadline) throw new Error(`got ${out.length} of ${count} records before the deadline`);
    out.push(...(await consumer.poll({ maxWaitMs: 200, maxRecords: count - out.length })));
  }
  return out;
}

const text = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));

describe("kcat", () => {
  test("-L: this broker, at its advertised address, leads every partition", async () => {
    await admin.createTopic("kc-meta", { partitions: 3 });
    const out = await kcat(["-L", "-t", "kc-meta"]);
    expect(out).toContain(`broker 0 at ${kafkaAddress} (controller)`);
    expect(out).toContain(`topic "kc-meta" with 3 partitions:`);
    for (const p of [0, 1, 2]) expect(out).toContain(`partition ${p}, leader 0, replicas: 0, isrs: 0`);
  });

  test("-P with keys (auto-created topic), -C from the beginning, an offset, a timestamp and the end", async () => {
    const lines = Array.from({ length: 10 }, (_, i) => `key-${i}:value-${i}`);
    await kcat(["-P", "-t", "kc-keys", "-K:"], lines.join("\n") + "\n");
    const all = await kcat(["-C", "-t", "kc-keys", "-o", "beginning", "-e", "-f", "%k:%s@%o\\n"]);
    expect(all.trim().split("\n")).toEqual(lines.map((l, i) => `${l}@${i}`));
    const fromSeven = await kcat(["-C", "-t", "kc-keys", "-o", "7", "-e", "-f", "%k:%s@%o\\n"]);
    expect(fromSeven.trim().split("\n")).toEqual(lines.slice(7).map((l, i) => `${l}@${i + 7}`));
    const end = await kcat(["-C", "-t", "kc-keys", "-o", "end", "-e", "-f", "%k:%s@%o\\n"]);
    expect(end).toBe("");
    // By timestamp: every record was stamped at or after this start, so s@0 reads them all.
    const byTime = await kcat(["-C", "-t", "kc-keys", "-o", "s@0", "-e", "-f", "%o\\n"]);
    expect(byTime.trim().split("\n").length).toBe(10);
  });

  test("-z gzip|snappy|lz4|zstd: compressed batches are stored and served as they came", async () => {
    const codecs = { gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
    // librdkafka sends a batch uncompressed when compressing does not make it smaller: values that compress.
    const value = (name: string, i: number) => `${name}-${i}-`.padEnd(2000, name[0]);
    const c = await KafkaRawClient.connect(broker.kafkaPort!);
    try {
      for (const [name, codec] of Object.entries(codecs)) {
        const topic = `kc-z-${name}`;
        await kcat(["-P", "-t", topic, "-K:", "-z", name], `a:${value(name, 0)}\nb:${value(name, 1)}\n`);
        const out = await kcat(["-C", "-t", topic, "-o", "beginning", "-e", "-f", "%k=%s\\n"]);
        expect(out.trim().split("\n")).toEqual([`a=${value(name, 0)}`, `b=${value(name, 1)}`]);
        // The stored batches carry the producer's codec, and are smaller than their values: stored as they came.
        const r = await c.request(KafkaApiKey.Fetch, 12, (w) =>
          encodeFetchRequest(w, 12, { maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, topics: [{ topic, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] }] }),
        );
        const records = decodeFetchResponse(r, 12).responses[0].partitions[0].records!;
        expect(records.length).toBeLessThan(2000);
        for (let pos = 0; pos < records.length; ) {
          const h = readBatchHeader(records, pos);
          expect(compressionOf(h.attributes)).toBe(codec);
          pos += 12 + h.batchLength;
        }
      }
    } finally {
      c.close();
    }
  });
});

describe("kafkajs 2.2.4", () => {
  test("producer acks -1, 1 and 0 with keys and headers; gzip; read back by the native consumer byte for byte", async () => {
    const kafka = new Kafka({ brokers: [kafkaAddress], clientId: "sluice-test", logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    const sent: { key: string; value: string; headers: Record<string, string>; timestamp: string }[] = [];
    const offsets: string[] = [];
    try {
      for (const acks of [-1, 1, 0]) {
        const m = { key: `key${acks}`, value: `value${acks}`, headers: { trace: `t${acks}` }, timestamp: String(1_700_000_000_000 + sent.length) };
        sent.push(m);
        const r = await producer.send({ topic: "kj", acks, messages: [m] });
        // acks 0: no response, so kafkajs reports no offsets.
        if (acks !== 0) offsets.push(r[0].baseOffset!);
        else expect(r).toEqual([]);
      }
      const gz = { key: "gz", value: "gzipped value", headers: { c: "gzip" }, timestamp: "1700000000100" };
      sent.push(gz);
      const r = await producer.send({ topic: "kj", compression: CompressionTypes.GZIP, messages: [gz] });
      expect(r[0].baseOffset).toBe("3");
    } finally {
      await producer.disconnect();
    }
    expect(offsets).toEqual(["0", "1"]);
    const consumer = new Consumer({ broker: nativeAddress });
    consumer.assign([{ topic: "kj", partition: 0, position: "beginning" }]);
    // The native client reads uncompressed batches; the gzip one is checked by kcat below.
    const got = await take(consumer, 3);
    await consumer.close();
    expect(got.map((g) => [g.offset, text(g.key), text(g.value), g.headers.map(([k, v]) => [k, text(v)]), g.timestamp])).toEqual(
      sent.slice(0, 3).map((m, i) => [BigInt(i), m.key, m.value, Object.entries(m.headers), Number(m.timestamp)]),
    );
    const viaKcat = await kcat(["-C", "-t", "kj", "-o", "3", "-e", "-f", "%k=%s %h %T\\n"]);
    expect(viaKcat.trim()).toBe("gz=gzipped value c=gzip 1700000000100");
  });
});

describe("mixed protocols", () => {
  test("records from kcat read by the native consumer; records from the native producer read by kcat", async () => {
    await kcat(["-P", "-t", "mix-in", "-K:", "-H", "h1=v1"], "alpha:one\nbeta:two\n");
    const consumer = new Consumer({ broker: nativeAddress });
    consumer.assign([{ topic: "mix-in", partition: 0, position: "beginning" }]);
    const got = await take(consumer, 2);
    await consumer.close();
    expect(got.map((g) => [text(g.key), text(g.value), g.headers.map(([k, v]) => [k, text(v)])])).toEqual([
      ["alpha", "one", [["h1", "v1"]]],
      ["beta", "two", [["h1", "v1"]]],
    ]);

    await admin.createTopic("mix-out", { partitions: 1 });
    const producer = new Producer({ broker: nativeAddress, lingerMs: 0 });
    await producer.send("mix-out", { key: "n1", value: "native one", headers: { h: "x" }, timestamp: 1_700_000_000_000 });
    await producer.send("mix-out", { key: "n2", value: "native two", timestamp: 1_700_000_000_001 });
    await producer.close();
    const out = await kcat(["-C", "-t", "mix-out", "-o", "beginning", "-e", "-f", "%k=%s|%h|%T\\n"]);
    expect(out.trim().split("\n")).toEqual(["n1=native one|h=x|1700000000000", "n2=native two||1700000000001"]);
  });
});
