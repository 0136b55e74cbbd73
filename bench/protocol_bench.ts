// The Kafka listener beside the native one, same broker, same run: produce
// (acks=all, batched) and consume through each protocol with a raw pipelined
// client, so the figures are the broker's cost per protocol, not a client
// library's. Each produce request carries one stored-format batch of
// `--batch` records of `--size` bytes for one partition (round robin); the
// frames are encoded once and sent again and again (the broker copies what it
// stores), with `--in-flight` requests outstanding per connection. Consume
// reads every partition back from offset 0 with one fetch at a time.
//
//   bun bench/protocol_bench.ts [--rounds 3] [--seconds 3] [--partitions 8] [--batch 100] [--size 100] [--in-flight 32]
//   (small mode: bench/protocol_bench.test.ts)

import net from "node:net";
import { Admin } from "../client/mod.ts";
import { FrameParser, beginRequestFrame as beginNativeFrame, endFrame as endNativeFrame } from "../protocol/frame.ts";
import { Writer } from "../protocol/codec.ts";
import { readI32 } from "../protocol/big_endian.ts";
import { beginRequestFrame, endFrame } from "../protocol/kafka/header.ts";
import { decodeFetchResponse, encodeFetchRequest } from "../protocol/kafka/messages/fetch.ts";
import { encodeProduceRequest } from "../protocol/kafka/messages/produce.ts";
import { KafkaReader } from "../protocol/kafka/reader.ts";
import { KafkaWriter } from "../protocol/kafka/writer.ts";
import { decodeFetchResponse as decodeNativeFetch, writeFetchRequest } from "../protocol/messages/fetch.ts";
import { writeProduceRequest } from "../protocol/messages/produce.ts";
import { encodeBatch } from "../protocol/record_batch.ts";
import { startEmbeddedBroker } from "./load/embedded_broker.ts";

export interface ProtocolBenchOptions {
  /** Rounds of native then Kafka, each on fresh topics: the medians are reported (the machine's load swings). */
  rounds: number;
  seconds: number;
  partitions: number;
  batch: number;
  size: number;
  inFlight: number;
}

export interface ProtocolRow {
  protocol: "native" | "kafka";
  produceMsgsPerSec: number;
  consumeMsgsPerSec: number;
  messages: number;
}

const NATIVE_PRODUCE = 0;
const NATIVE_FETCH = 1;
const KAFKA_PRODUCE_VERSION = 9;
const KAFKA_FETCH_VERSION = 12;
const FETCH_BYTES = 8 * 1024 * 1024;
const FETCH_PARTITION_BYTES = 1024 * 1024;

/** One socket; counts response frames; hands each to `onFrame` (body after the correlation id). */
function connect(port: number, onFrame: (body: Uint8Array) => void): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1" }, () => resolve(socket));
    socket.once("error", reject);
    const parser = new FrameParser({ kind: "response", frameBytesMax: 64 * 1024 * 1024, onFrame: (f) => onFrame(f.subarray(4)), onError: (e) => socket.destroy(e) });
    socket.on("data", (c: Buffer) => parser.push(new Uint8Array(c.buffer, c.byteOffset, c.byteLength)));
  });
}

function produceFrames(protocol: "native" | "kafka", topic: string, o: ProtocolBenchOptions, batch: Uint8Array): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let p = 0; p < o.partitions; p++) {
    if (protocol === "native") {
      const w = new Writer();
      const at = beginNativeFrame(w, { apiKey: NATIVE_PRODUCE, apiVersion: 0, correlationId: p });
      writeProduceRequest(w, { acks: -1, timeoutMs: 30_000, topics: [{ name: topic, partitions: [{ index: p, records: batch }] }] });
      endNativeFrame(w, at);
      frames.push(w.finish().slice());
    } else {
      const w = new KafkaWriter();
      const at = beginRequestFrame(w, { apiKey: 0, apiVersion: KAFKA_PRODUCE_VERSION, correlationId: p, clientId: "bench" });
      encodeProduceRequest(w, KAFKA_PRODUCE_VERSION, { acks: -1, timeoutMs: 30_000, topicData: [{ name: topic, partitionData: [{ index: p, records: batch }] }] });
      endFrame(w, at);
      frames.push(w.finish().slice());
    }
  }
  return frames;
}

async function produce(protocol: "native" | "kafka", port: number, topic: string, o: ProtocolBenchOptions): Promise<{ msgsPerSec: number; messages: number }> {
  const value = "x".repeat(o.size);
  const batch = encodeBatch(Array.from({ length: o.batch }, () => ({ value })));
  const frames = produceFrames(protocol, topic, o, batch);
  let answered = 0;
  let sent = 0;
  let stopAt = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  let socket!: net.Socket;
  const sendOne = (): void => {
    socket.write(frames[sent % frames.length]);
    sent++;
  };
  socket = await connect(port, () => {
    answered++;
    if (performance.now() < stopAt) sendOne();
    else if (answered === sent) done();
  });
  const started = performance.now();
  stopAt = started + o.seconds * 1000;
  for (let i = 0; i < o.inFlight; i++) sendOne();
  await finished;
  const elapsedS = (performance.now() - started) / 1000;
  socket.destroy();
  return { msgsPerSec: (answered * o.batch) / elapsedS, messages: answered * o.batch };
}

/** Records in stored batches: lastOffsetDelta + 1 each. */
function countRecords(bytes: Uint8Array): number {
  let n = 0;
  for (let pos = 0; pos + 61 <= bytes.length; ) {
    const len = readI32(bytes, pos + 8);
    if (pos + 12 + len > bytes.length) break;
    n += readI32(bytes, pos + 23) + 1;
    pos += 12 + len;
  }
  return n;
}

async function consume(protocol: "native" | "kafka", port: number, topic: string, o: ProtocolBenchOptions, total: number): Promise<number> {
  const offsets = new Array<bigint>(o.partitions).fill(0n);
  let got = 0;
  let resolveFrame!: (body: Uint8Array) => void;
  const socket = await connect(port, (b) => resolveFrame(b.slice()));
  const started = performance.now();
  let id = 1;
  while (got < total) {
    const body = await new Promise<Uint8Array>((r) => {
      resolveFrame = r;
      if (protocol === "native") {
        const w = new Writer();
        const at = beginNativeFrame(w, { apiKey: NATIVE_FETCH, apiVersion: 0, correlationId: id++ });
        writeFetchRequest(w, { maxWaitMs: 100, minBytes: 1, maxBytes: FETCH_BYTES, topics: [{ name: topic, partitions: offsets.map((off, p) => ({ index: p, fetchOffset: off, partitionMaxBytes: FETCH_PARTITION_BYTES })) }] });
        endNativeFrame(w, at);
        socket.write(w.finish().slice());
      } else {
        const w = new KafkaWriter();
        const at = beginRequestFrame(w, { apiKey: 1, apiVersion: KAFKA_FETCH_VERSION, correlationId: id++, clientId: "bench" });
        encodeFetchRequest(w, KAFKA_FETCH_VERSION, { maxWaitMs: 100, minBytes: 1, maxBytes: FETCH_BYTES, topics: [{ topic, partitions: offsets.map((off, p) => ({ partition: p, fetchOffset: off, partitionMaxBytes: FETCH_PARTITION_BYTES })) }] });
        endFrame(w, at);
        socket.write(w.finish().slice());
      }
    });
    const parts =
      protocol === "native"
        ? decodeNativeFetch(body).topics[0].partitions.map((p) => ({ index: p.index, records: p.records }))
        : (() => {
            const r = new KafkaReader(body);
            r.taggedFields("header");
            return decodeFetchResponse(r, KAFKA_FETCH_VERSION).responses[0].partitions.map((p) => ({ index: p.partitionIndex, records: p.records ?? new Uint8Array(0) }));
          })();
    for (const p of parts) {
      const n = countRecords(p.records);
      got += n;
      offsets[p.index] += BigInt(n);
    }
  }
  socket.destroy();
  return got / ((performance.now() - started) / 1000);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export async function runProtocolBench(o: ProtocolBenchOptions, log: (line: string) => void = console.log): Promise<ProtocolRow[]> {
  const broker = await startEmbeddedBroker();
  const all: ProtocolRow[] = [];
  const fmt = (x: number) => Math.round(x).toLocaleString("en-US").padStart(11);
  try {
    const admin = new Admin({ broker: `127.0.0.1:${broker.port}` });
    try {
      for (let round = 0; round < o.rounds; round++) {
        for (const protocol of ["native", "kafka"] as const) {
          const topic = `protocol-bench-${protocol}-${round}`;
          await admin.createTopic(topic, { partitions: o.partitions });
          const port = protocol === "native" ? broker.port : broker.kafkaPort;
          const p = await produce(protocol, port, topic, o);
          const c = await consume(protocol, port, topic, o, p.messages);
          all.push({ protocol, produceMsgsPerSec: p.msgsPerSec, consumeMsgsPerSec: c, messages: p.messages });
          log(`round ${round + 1} ${protocol.padEnd(7)} produce ${fmt(p.msgsPerSec)} msgs/s   consume ${fmt(c)} msgs/s   (${p.messages.toLocaleString("en-US")} messages)`);
        }
      }
    } finally {
      await admin.close();
    }
  } finally {
    await broker.stop();
  }
  const rows = (["native", "kafka"] as const).map((protocol) => {
    const mine = all.filter((r) => r.protocol === protocol);
    return {
      protocol,
      produceMsgsPerSec: median(mine.map((r) => r.produceMsgsPerSec)),
      consumeMsgsPerSec: median(mine.map((r) => r.consumeMsgsPerSec)),
      messages: mine.reduce((a, r) => a + r.messages, 0),
    };
  });
  const [n, k] = rows;
  for (const r of rows) log(`median  ${r.protocol.padEnd(7)} produce ${fmt(r.produceMsgsPerSec)} msgs/s   consume ${fmt(r.consumeMsgsPerSec)} msgs/s`);
  log(`kafka / native (medians): produce ${(k.produceMsgsPerSec / n.produceMsgsPerSec).toFixed(2)}x, consume ${(k.consumeMsgsPerSec / n.consumeMsgsPerSec).toFixed(2)}x`);
  return rows;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const opt = (name: string, def: number): number => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : def;
  };
  const o: ProtocolBenchOptions = { rounds: opt("rounds", 3), seconds: opt("seconds", 3), partitions: opt("partitions", 8), batch: opt("batch", 100), size: opt("size", 100), inFlight: opt("in-flight", 32) };
  console.log(`bun bench/protocol_bench.ts --rounds ${o.rounds} --seconds ${o.seconds} --partitions ${o.partitions} --batch ${o.batch} --size ${o.size} --in-flight ${o.inFlight}  (acks=all, embedded broker)`);
  await runProtocolBench(o);
}
