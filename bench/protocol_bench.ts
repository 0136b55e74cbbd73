// The Kafka listener beside the native one, same broker, same run: produce
// (acks=all, batched) and consume through each protocol with a raw pipelined
// client, so the figures are the broker's cost per protocol, not a client
// library's. Each produce request carries one stored-format batch of
// `--batch` records of `--size` bytes for one partition (round robin); the
// frames are encoded once and sent again and again (the broker copies what it
// stores), with `--in-flight` requests outstanding per connection. Consume
// reads every partition back from offset 0 with one fetch at a time, each
// response read where the client's frame parser has it (no copy), pass after
// pass until `--seconds` passed (at least one whole pass).
//
// Beside them, what a Node user sees: kafkajs and @platformatic/kafka
// producers (kafka_library_producers.ts) against the same Kafka listener,
// with the same batches, acks and requests in flight (producer figures only).
//
// Rounds alternate which protocol goes first; each phase also reports the
// broker's CPU time per message (/proc: every thread, and the router thread
// alone, which does the protocol's own work), which moves far less
// than throughput on a shared machine and says what a figure costs.
//
//   bun bench/protocol_bench.ts [--rounds 3] [--seconds 3] [--partitions 8] [--batch 100] [--size 100] [--in-flight 32]
//                               [--protocols native,kafka] [--libraries kafkajs,platformatic] [--profile-broker DIR]
//   (small mode: bench/protocol_bench.test.ts)

import net from "node:net";
import { parseArgs } from "node:util";
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
import { sampleProc, sampleThreads } from "./load/proc_sampler.ts";
import { type KafkaLibrary, produceWithLibrary } from "./kafka_library_producers.ts";

export interface ProtocolBenchOptions {
  /** Rounds of native then Kafka, each on fresh topics: the medians are reported (the machine's load swings). */
  rounds: number;
  seconds: number;
  partitions: number;
  batch: number;
  size: number;
  inFlight: number;
  /** Which protocols run (default both), e.g. only Kafka while profiling it. */
  protocols?: readonly ("native" | "kafka")[];
  /** Node Kafka libraries whose producers run after the raw clients in each round (producer figures only). */
  libraries?: readonly KafkaLibrary[];
  /** Runs the broker under `bun --cpu-prof`, its profile written here when it stops. */
  profileBrokerDir?: string;
}

export interface ProtocolRow {
  protocol: "native" | "kafka" | KafkaLibrary;
  produceMsgsPerSec: number;
  /** null for the library rows (producers only). */
  consumeMsgsPerSec: number | null;
  messages: number;
  /** CPU time per message over the phase: the broker process (every thread) and its router thread (the protocol's own work). */
  produceCpu: CpuPerMsg;
  consumeCpu: CpuPerMsg | null;
}

/** Bounds of the command line's values (a bench run stays a few minutes at most). */
const ROUNDS_MAX = 20;
const SECONDS_MAX = 60;
const PARTITIONS_MAX = 64;
const BATCH_MAX = 10_000;
const SIZE_MAX = 1024 * 1024;
const IN_FLIGHT_MAX = 256;

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

export async function produce(protocol: "native" | "kafka", port: number, topic: string, o: ProtocolBenchOptions): Promise<{ msgsPerSec: number; messages: number }> {
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

export async function consume(protocol: "native" | "kafka", port: number, topic: string, o: ProtocolBenchOptions, total: number): Promise<{ msgsPerSec: number; messages: number }> {
  const offsets = new Array<bigint>(o.partitions).fill(0n);
  let got = 0;
  let id = 1;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const sendFetch = (): void => {
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
  };
  // Each response is read where it lies (a view valid during the callback: no copy), then the next fetch goes out.
  const onResponse = (body: Uint8Array): void => {
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
      passGot += n;
      offsets[p.index] += BigInt(n);
    }
    if (passGot >= total) {
      // A whole pass read: another from offset 0 while the phase's time lasts (a short window swings with the machine).
      if (performance.now() - started >= o.seconds * 1000) return done();
      passGot = 0;
      offsets.fill(0n);
    }
    sendFetch();
  };
  let passGot = 0;
  const socket = await connect(port, onResponse);
  const started = performance.now();
  sendFetch();
  await finished;
  const elapsedS = (performance.now() - started) / 1000;
  socket.destroy();
  return { msgsPerSec: got / elapsedS, messages: got };
}

export interface CpuPerMsg {
  brokerUs: number;
  routerUs: number;
}

interface CpuSample {
  all: number;
  router: number;
}

/** The broker's CPU seconds: all threads, and the router (the main thread: its tid is the pid). */
function brokerCpu(pid: number): CpuSample {
  return { all: sampleProc(pid)?.cpuSec ?? Number.NaN, router: sampleThreads(pid).get(pid)?.cpuSec ?? Number.NaN };
}

function perMsg(a: CpuSample, b: CpuSample, messages: number): CpuPerMsg {
  return { brokerUs: ((b.all - a.all) * 1e6) / messages, routerUs: ((b.router - a.router) * 1e6) / messages };
}

const cpuText = (c: CpuPerMsg) => `CPU ${c.brokerUs.toFixed(2)} / router ${c.routerUs.toFixed(2)} µs/msg`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const fmt = (x: number) => Math.round(x).toLocaleString("en-US").padStart(11);
const spread = (xs: number[]) => `${median(xs) === 0 ? "-" : Math.round(median(xs)).toLocaleString("en-US")} (${Math.round(Math.min(...xs)).toLocaleString("en-US")}–${Math.round(Math.max(...xs)).toLocaleString("en-US")})`;

export async function runProtocolBench(o: ProtocolBenchOptions, log: (line: string) => void = console.log): Promise<ProtocolRow[]> {
  const broker = await startEmbeddedBroker({ cpuProfileDir: o.profileBrokerDir });
  const protocols = o.protocols ?? (["native", "kafka"] as const);
  const libraries = o.libraries ?? [];
  const all: ProtocolRow[] = [];
  try {
    const admin = new Admin({ broker: `127.0.0.1:${broker.port}` });
    try {
      for (let round = 0; round < o.rounds; round++) {
        // Alternate who goes first, so a drift of the machine's load does not favour one side.
        const order = round % 2 === 0 ? [...protocols] : [...protocols].reverse();
        for (const protocol of order) {
          const topic = `protocol-bench-${protocol}-${round}`;
          await admin.createTopic(topic, { partitions: o.partitions });
          const port = protocol === "native" ? broker.port : broker.kafkaPort;
          const cpu0 = brokerCpu(broker.pid);
          const p = await produce(protocol, port, topic, o);
          const cpu1 = brokerCpu(broker.pid);
          const c = await consume(protocol, port, topic, o, p.messages);
          const cpu2 = brokerCpu(broker.pid);
          const row: ProtocolRow = {
            protocol,
            produceMsgsPerSec: p.msgsPerSec,
            consumeMsgsPerSec: c.msgsPerSec,
            messages: p.messages,
            produceCpu: perMsg(cpu0, cpu1, p.messages),
            consumeCpu: perMsg(cpu1, cpu2, c.messages),
          };
          all.push(row);
          log(`round ${round + 1} ${protocol.padEnd(12)} produce ${fmt(row.produceMsgsPerSec)} msgs/s (${cpuText(row.produceCpu)})   consume ${fmt(c.msgsPerSec)} msgs/s (${cpuText(row.consumeCpu!)})   ${p.messages.toLocaleString("en-US")} messages produced, ${c.messages.toLocaleString("en-US")} consumed`);
        }
        for (const library of libraries) {
          const topic = `protocol-bench-${library}-${round}`;
          await admin.createTopic(topic, { partitions: o.partitions });
          const cpu0 = brokerCpu(broker.pid);
          const p = await produceWithLibrary(library, broker.kafkaPort, topic, o);
          const cpu1 = brokerCpu(broker.pid);
          const row: ProtocolRow = { protocol: library, produceMsgsPerSec: p.msgsPerSec, consumeMsgsPerSec: null, messages: p.messages, produceCpu: perMsg(cpu0, cpu1, p.messages), consumeCpu: null };
          all.push(row);
          log(`round ${round + 1} ${library.padEnd(12)} produce ${fmt(row.produceMsgsPerSec)} msgs/s (${cpuText(row.produceCpu)})   ${p.messages.toLocaleString("en-US")} messages`);
        }
      }
    } finally {
      await admin.close();
    }
  } finally {
    await broker.stop();
  }
  const rows: ProtocolRow[] = [...protocols, ...libraries].map((protocol) => {
    const mine = all.filter((r) => r.protocol === protocol);
    const consumes = mine.map((r) => r.consumeMsgsPerSec).filter((x): x is number => x !== null);
    const consumeCpus = mine.map((r) => r.consumeCpu).filter((x): x is CpuPerMsg => x !== null);
    const medianCpu = (xs: CpuPerMsg[]): CpuPerMsg => ({ brokerUs: median(xs.map((x) => x.brokerUs)), routerUs: median(xs.map((x) => x.routerUs)) });
    return {
      protocol,
      produceMsgsPerSec: median(mine.map((r) => r.produceMsgsPerSec)),
      consumeMsgsPerSec: consumes.length === 0 ? null : median(consumes),
      messages: mine.reduce((a, r) => a + r.messages, 0),
      produceCpu: medianCpu(mine.map((r) => r.produceCpu)),
      consumeCpu: consumeCpus.length === 0 ? null : medianCpu(consumeCpus),
    };
  });
  const native = rows.find((r) => r.protocol === "native");
  log(`medians of ${o.rounds} rounds (min–max), ratio to native in this run; CPU per message: the broker's (all threads) / its router thread's`);
  for (const r of rows) {
    const mine = all.filter((x) => x.protocol === r.protocol);
    const ratio = (x: number | null, n: number | null | undefined) => (x === null || n === null || n === undefined ? "" : ` ${(x / n).toFixed(2)}x`);
    const consumes = mine.map((x) => x.consumeMsgsPerSec).filter((x): x is number => x !== null);
    log(
      `${r.protocol.padEnd(12)} produce ${spread(mine.map((x) => x.produceMsgsPerSec))} msgs/s${ratio(r.produceMsgsPerSec, native?.produceMsgsPerSec)}, ${cpuText(r.produceCpu)}` +
        (r.consumeMsgsPerSec === null ? "" : `   consume ${spread(consumes)} msgs/s${ratio(r.consumeMsgsPerSec, native?.consumeMsgsPerSec)}, ${cpuText(r.consumeCpu!)}`),
    );
  }
  return rows;
}

/** Options from the command line; a bad value is a usage error naming it. */
export function parseProtocolBenchArgs(args: string[]): ProtocolBenchOptions {
  const { values } = parseArgs({
    args,
    options: {
      rounds: { type: "string" }, seconds: { type: "string" }, partitions: { type: "string" }, batch: { type: "string" },
      size: { type: "string" }, "in-flight": { type: "string" }, protocols: { type: "string" }, libraries: { type: "string" },
      "profile-broker": { type: "string" },
    },
  });
  const num = (name: keyof typeof values, def: number, min: number, max: number): number => {
    const raw = values[name];
    const v = raw === undefined ? def : Number(raw);
    if (!(Number.isFinite(v) && v >= min && v <= max)) throw new Error(`--${name} ${raw}: expected a number in ${min}..${max}`);
    return v;
  };
  const list = <T extends string>(name: "protocols" | "libraries", def: string, allowed: readonly T[]): T[] => {
    const raw = values[name] ?? def;
    const items = raw === "" ? [] : raw.split(",");
    for (const x of items) if (!allowed.includes(x as T)) throw new Error(`--${name} ${raw}: ${x} is not one of ${allowed.join(", ")}`);
    return items as T[];
  };
  return {
    rounds: num("rounds", 3, 1, ROUNDS_MAX),
    seconds: num("seconds", 3, 0.1, SECONDS_MAX),
    partitions: num("partitions", 8, 1, PARTITIONS_MAX),
    batch: num("batch", 100, 1, BATCH_MAX),
    size: num("size", 100, 1, SIZE_MAX),
    inFlight: num("in-flight", 32, 1, IN_FLIGHT_MAX),
    protocols: list("protocols", "native,kafka", ["native", "kafka"] as const),
    libraries: list("libraries", "kafkajs,platformatic", ["kafkajs", "platformatic"] as const),
    profileBrokerDir: values["profile-broker"],
  };
}

if (import.meta.main) {
  let o: ProtocolBenchOptions;
  try {
    o = parseProtocolBenchArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`protocol_bench: ${(e as Error).message}`);
    console.error("usage: bun bench/protocol_bench.ts [--rounds 3] [--seconds 3] [--partitions 8] [--batch 100] [--size 100] [--in-flight 32] [--protocols native,kafka] [--libraries kafkajs,platformatic] [--profile-broker DIR]");
    process.exit(2);
  }
  console.log(
    `bun bench/protocol_bench.ts --rounds ${o.rounds} --seconds ${o.seconds} --partitions ${o.partitions} --batch ${o.batch} --size ${o.size} --in-flight ${o.inFlight}` +
      ` --protocols ${o.protocols!.join(",")} --libraries ${o.libraries!.join(",")}  (acks=all, embedded broker)`,
  );
  await runProtocolBench(o);
}
