// The coordinator of one `sluice bench` run. It starts (or finds) the broker,
// creates a fresh topic, starts producer and consumer threads (worker threads
// in this process, never in the broker's), waits for them, adds up their
// histograms and seen-bitmaps, and returns one BenchResult.
//
//   produce: producers only; figures are the produce rate and ack latency.
//   consume: producers fill the topic first, then consumers read it all from
//            the first offset; figures are the consume rate.
//   e2e:     consumers start first, then producers; every message is consumed
//            back and checked; figures are the consume rate and the
//            end-to-end latency (consume time - intended send time).

import { randomBytes } from "node:crypto";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { diskFigures, fsyncFigures, scrapeMetrics } from "./broker_metrics.ts";
import { nowMs, sleepMs } from "./clock.ts";
import { startEmbeddedBroker, type EmbeddedBroker } from "./embedded_broker.ts";
import { LatencyRecorder, mergeTimelines } from "./latency.ts";
import type { BenchOptions } from "./options.ts";
import { SEQ_MAX } from "./payload.ts";
import { ProcSampler } from "./proc_sampler.ts";
import { splitCount } from "./rate_schedule.ts";
import { brokerFigures, ProgressLine, usPerMsg, type BenchResult } from "./result.ts";
import { SeqTracker } from "./seq_tracker.ts";
import { unbatchedInFlightPerProducer } from "./raw_load_client.ts";
import { batchBytesDefault, createLoadAdmin, RECORD_OVERHEAD_BYTES } from "./sluice_load_client.ts";
import {
  Counter,
  counterIndex,
  COUNTERS_PER_THREAD,
  type ConsumerDone,
  type ProducerDone,
  type WorkerFailed,
} from "./worker_messages.ts";

// In the single-file binary (`npm run build:binary`) every module is bundled into
// one file, so a path relative to this one points nowhere; the load threads'
// entries are extra entrypoints of the build and keep their path from the
// project root in Bun's embedded file system (as workers/mod.ts does for the broker's).
const IN_BINARY = import.meta.url.includes("/$bunfs/");
const PRODUCER_WORKER = IN_BINARY ? "/$bunfs/root/bench/load/producer_worker.ts" : fileURLToPath(new URL("./producer_worker.ts", import.meta.url));
const CONSUMER_WORKER = IN_BINARY ? "/$bunfs/root/bench/load/consumer_worker.ts" : fileURLToPath(new URL("./consumer_worker.ts", import.meta.url));
/** Producers start together this long after they were spawned (threads need a moment to load). */
const START_DELAY_MS = 300;
/** After every acked message was seen, consumers get this much longer for unacked ones that may also be stored. */
const DRAIN_GRACE_MS = 300;
const POLL_MS = 20;
/** How long a created topic may take to have a leader and a full ISR for every partition (a cluster). */
const TOPIC_READY_TIMEOUT_MS = 30_000;

export interface RunHooks {
  /** Called with the broker's address once it is known (tests, the peers script). */
  onBroker?: (broker: { host: string; port: number; pid?: number }) => void;
}

class LoadThread<Done> {
  readonly worker: Worker;
  readonly done: Promise<Done>;
  private readyResolve: () => void = () => {};
  readonly ready: Promise<void>;
  /** Set when the thread failed, so waits elsewhere can stop early. */
  failure: Error | undefined;

  constructor(file: string) {
    this.worker = new Worker(file);
    this.ready = new Promise<void>((r) => (this.readyResolve = r));
    this.done = new Promise<Done>((resolve, reject) => {
      this.worker.on("message", (message: { type: string }) => {
        if (message.type === "ready") this.readyResolve();
        else if (message.type === "failed") reject(new Error(`load thread failed: ${(message as WorkerFailed).error}`));
        else resolve(message as Done);
      });
      this.worker.on("error", reject);
      this.worker.on("exit", (code) => reject(new Error(`load thread exited (${code}) before reporting`)));
    });
    // A failed thread must not leave the ready promise hanging.
    this.done.then(
      () => this.readyResolve(),
      (error: Error) => {
        this.failure = error;
        this.readyResolve();
      },
    );
  }

  async end(): Promise<void> {
    await this.worker.terminate();
  }
}

function commandLine(o: BenchOptions): string {
  const brokerList = (o.brokers ?? (o.broker === undefined ? [] : [o.broker])).map((b) => `${b.host}:${b.port}`).join(",");
  const parts = ["sluice bench", o.mode, o.embedded ? "--embedded" : `--broker ${brokerList}`];
  if (o.replicationFactor !== undefined) parts.push(`--replication-factor ${o.replicationFactor}`);
  if (o.minInsyncReplicas !== undefined) parts.push(`--min-insync-replicas ${o.minInsyncReplicas}`);
  parts.push(o.messages !== undefined ? `--messages ${o.messages}` : `--duration ${o.durationSec}`);
  parts.push(`--size ${o.sizeBytes} --partitions ${o.partitions} --producers ${o.producers}`);
  if (o.mode !== "produce") parts.push(`--consumers ${o.consumers}`);
  parts.push(`--acks ${o.acks === -1 ? "all" : o.acks}`);
  if (o.batchBytes !== undefined) parts.push(`--batch-bytes ${o.batchBytes}`);
  if (o.lingerMs !== undefined) parts.push(`--linger-ms ${o.lingerMs}`);
  if (o.ratePerSec !== undefined) parts.push(`--rate ${o.ratePerSec}`);
  for (const arg of o.serveArgs) parts.push(`--serve-arg ${arg}`);
  if (o.client !== "sluice") parts.push(`--client ${o.client}`);
  if (o.sendBatch !== 1) parts.push(`--send-batch ${o.sendBatch}`);
  if (o.warmupSec > 0) parts.push(`--warmup ${o.warmupSec}`);
  if (o.compression !== "none") parts.push(`--compression ${o.compression}`);
  if (o.payload !== (o.compression === "none" ? "pattern" : "log")) parts.push(`--payload ${o.payload}`);
  return parts.join(" ");
}

export async function runBench(options: BenchOptions, hooks: RunHooks = {}): Promise<BenchResult> {
  let embedded: EmbeddedBroker | undefined;
  if (options.embedded) embedded = await startEmbeddedBroker({ serveArgs: options.serveArgs, cpuProfileDir: options.profileBrokerDir });
  const host = embedded?.host ?? options.broker!.host;
  const port = embedded?.port ?? options.broker!.port;
  const brokerPid = embedded?.pid ?? options.brokerPid;
  const httpPort = embedded?.httpPort ?? options.brokerHttpPort;
  hooks.onBroker?.({ host, port, pid: brokerPid });
  const threads: LoadThread<unknown>[] = [];
  try {
    const result = await runAgainst(options, host, port, brokerPid, httpPort, threads);
    result.embeddedDataDir = embedded?.dataDir ?? null;
    return result;
  } finally {
    await Promise.all(threads.map((t) => t.end()));
    if (embedded !== undefined) await embedded.stop();
  }
}

async function runAgainst(
  options: BenchOptions,
  host: string,
  port: number,
  brokerPid: number | undefined,
  httpPort: number | undefined,
  threads: LoadThread<unknown>[],
): Promise<BenchResult> {
  const topic = options.topic ?? `sluice-bench-${randomBytes(4).toString("hex")}`;
  // A cluster: every address bootstraps the clients, which send to each partition's leader.
  const bootstrap = options.brokers !== undefined && options.brokers.length > 1 ? options.brokers.map((b) => `${b.host}:${b.port}`).join(",") : undefined;
  const admin = await createLoadAdmin(options.client, { host, port, bootstrap });
  try {
    await admin.createTopic(topic, options.partitions, { replicationFactor: options.replicationFactor, minInsyncReplicas: options.minInsyncReplicas });
    // The controller elects leaders after the create: start the load once each partition has one and a full ISR.
    await admin.waitForLeaders(topic, options.replicationFactor ?? 1, TOPIC_READY_TIMEOUT_MS);
  } finally {
    await admin.close();
  }

  const threadCount = options.producers + (options.mode === "produce" ? 0 : options.consumers);
  const counterBuffer = new SharedArrayBuffer(threadCount * COUNTERS_PER_THREAD * 8);
  const counters = new Float64Array(counterBuffer);
  const sum = (counter: number, from: number, count: number) => {
    let total = 0;
    for (let t = from; t < from + count; t++) total += counters[counterIndex(t, counter)];
    return total;
  };
  const consumerBase = options.producers;
  // In consume mode the broker and the load threads are measured over the consume phase only.
  let sampler = brokerPid === undefined ? undefined : new ProcSampler(brokerPid);
  const metricsBefore = httpPort === undefined ? undefined : await scrapeMetrics(host, httpPort);
  let clientCpuStart = process.cpuUsage();
  let cpuFromMs = nowMs();
  const runStartMs = cpuFromMs;

  // Consumers: partitions dealt round-robin, each consumer owns whole partitions.
  const consumers: LoadThread<ConsumerDone>[] = [];
  const perProducer = options.messages === undefined ? undefined : splitCount(options.messages, options.producers);
  const seqLimit = perProducer === undefined ? SEQ_MAX + 1 : Math.max(...perProducer);
  const startConsumers = async () => {
    for (let c = 0; c < options.consumers; c++) {
      const partitions: number[] = [];
      for (let p = c; p < options.partitions; p += options.consumers) partitions.push(p);
      const thread = new LoadThread<ConsumerDone>(CONSUMER_WORKER);
      threads.push(thread as LoadThread<unknown>);
      consumers.push(thread);
      thread.worker.postMessage({
        type: "start",
        clientKind: options.client,
        client: { host, port, bootstrap, clientId: `bench-consumer-${c}`, topic, partitions },
        seqLimit,
        counters: counterBuffer,
        thread: consumerBase + c,
      });
    }
    await Promise.all(consumers.map((c) => c.ready));
    const failed = consumers.find((c) => c.failure !== undefined);
    if (failed !== undefined) throw failed.failure;
  };

  if (options.mode === "e2e") await startConsumers();

  const progress = new ProgressLine(() => {
    const sec = (nowMs() - runStartMs) / 1000;
    const sent = sum(Counter.sent, 0, options.producers);
    const acked = sum(Counter.acked, 0, options.producers);
    const consumed = options.mode === "produce" ? 0 : sum(Counter.consumed, consumerBase, options.consumers);
    return `${sec.toFixed(0)}s  sent ${fmtM(sent)}  acked ${fmtM(acked)} (${fmtM(acked / sec)}/s)` +
      (options.mode === "produce" ? "" : `  consumed ${fmtM(consumed)}`);
  });
  progress.start();
  sampler?.start();

  // Producers.
  const batchBytes = options.batchBytes ?? batchBytesDefault(options.client);
  const stickyMessages = Math.max(1, Math.floor(batchBytes / (options.sizeBytes + RECORD_OVERHEAD_BYTES)));
  const startAtMs = nowMs() + START_DELAY_MS;
  const producers: LoadThread<ProducerDone>[] = [];
  for (let p = 0; p < options.producers; p++) {
    const thread = new LoadThread<ProducerDone>(PRODUCER_WORKER);
    threads.push(thread as LoadThread<unknown>);
    producers.push(thread);
    thread.worker.postMessage({
      type: "start",
      clientKind: options.client,
      client: {
        host, port, bootstrap, clientId: `bench-producer-${p}`, topic, acks: options.acks,
        batchBytes: options.batchBytes, lingerMs: options.lingerMs, valueBytes: options.sizeBytes,
        ...(options.compression === "none" ? {} : { compression: options.compression }),
        unbatchedInFlight: unbatchedInFlightPerProducer(options.producers),
      },
      producerId: p,
      messages: perProducer?.[p],
      stopAtMs: options.durationSec === undefined ? undefined : startAtMs + options.durationSec * 1000,
      startAtMs,
      warmupMs: options.warmupSec * 1000,
      sizeBytes: options.sizeBytes,
      payload: options.payload,
      partitions: options.partitions,
      ratePerSec: options.ratePerSec === undefined ? undefined : options.ratePerSec / options.producers,
      stickyMessages,
      sendBatch: options.sendBatch,
      timeline: options.timeline,
      counters: counterBuffer,
      thread: p,
    });
  }
  if (options.warmupSec > 0) {
    for (const c of consumers) c.worker.postMessage({ type: "latencyFrom", ms: startAtMs + options.warmupSec * 1000 });
  }
  const produced = await Promise.all(producers.map((t) => t.done));
  const produceEndMs = Math.max(...produced.map((d) => d.lastAckMs));
  const produceStartMs = Math.min(...produced.map((d) => d.firstSendMs));
  const sent = produced.reduce((a, d) => a + d.sent, 0);
  const acked = produced.reduce((a, d) => a + d.acked, 0);
  const errors = produced.reduce((a, d) => a + d.errors, 0);
  const firstError = produced.find((d) => d.firstError !== null)?.firstError ?? null;
  const ackLatency = new LatencyRecorder();
  for (const d of produced) ackLatency.addEncoded(d.ackLatency);

  // Consumers: wait until everything acked has been seen, or until they stop making progress.
  let consumed: ConsumerDone[] = [];
  let consumeStartMs = 0;
  if (options.mode !== "produce") {
    if (options.mode === "consume") {
      if (sampler !== undefined) {
        sampler.stop();
        sampler = new ProcSampler(brokerPid!);
        sampler.start();
      }
      clientCpuStart = process.cpuUsage();
      cpuFromMs = nowMs();
      consumeStartMs = cpuFromMs;
      await startConsumers();
    }
    let seen = -1;
    let progressAtMs = nowMs();
    let allAckedAtMs: number | undefined;
    for (;;) {
      const now = nowMs();
      const unique = sum(Counter.consumed, consumerBase, options.consumers);
      if (unique !== seen) {
        seen = unique;
        progressAtMs = now;
      }
      if (unique >= sent) break;
      if (unique >= acked) {
        allAckedAtMs ??= now;
        if (now - allAckedAtMs >= DRAIN_GRACE_MS) break;
      }
      if (now - progressAtMs >= options.drainTimeoutMs) break;
      const failed = consumers.find((c) => c.failure !== undefined);
      if (failed !== undefined) throw failed.failure;
      await sleepMs(POLL_MS);
    }
    for (const c of consumers) c.worker.postMessage({ type: "stop" });
    consumed = await Promise.all(consumers.map((c) => c.done));
  }
  progress.stop();
  const brokerUsage = sampler?.stop();
  const metricsAfter = httpPort === undefined ? undefined : await scrapeMetrics(host, httpPort);
  const clientCpu = process.cpuUsage(clientCpuStart);
  const clientCores = (clientCpu.user + clientCpu.system) / 1000 / Math.max(1, nowMs() - cpuFromMs);
  // What the CPU figures are per: in consume mode only the consume phase was measured.
  const messagesMeasured = options.mode === "consume" ? 0 : sent;

  // Lost = acknowledged messages no consumer saw.
  let lost: number | null = null;
  let consumedUnique = 0;
  let duplicates = 0;
  let corrupt = 0;
  const e2e = new LatencyRecorder();
  if (options.mode !== "produce") {
    const all = new SeqTracker({ seqLimit });
    for (const c of consumed) {
      all.merge(new Map(c.seen));
      duplicates += c.duplicates;
      corrupt += c.corrupt + c.unexpected;
      e2e.addEncoded(c.e2eLatency);
    }
    consumedUnique = all.unique;
    lost = 0;
    for (const d of produced) {
      const failed = new Set(d.failedSeqs);
      let seenFailed = 0;
      for (const seq of failed) if (all.has(d.producerId, seq)) seenFailed++;
      const seenAcked = all.countSeen(d.producerId, d.sent) - seenFailed;
      lost += d.acked - seenAcked;
    }
  }

  const produceSec = Math.max(1e-3, (produceEndMs - produceStartMs) / 1000);
  const produceFigures = {
    msgsPerSec: acked / produceSec,
    mbPerSec: (acked * options.sizeBytes) / 1e6 / produceSec,
    wallSec: produceSec,
    ackLatency: ackLatency.summary(),
  };
  let consumeFigures: BenchResult["consume"] = null;
  if (options.mode !== "produce") {
    const from = options.mode === "consume" ? consumeStartMs : produceStartMs;
    const to = Math.max(...consumed.map((c) => c.lastMessageMs));
    const sec = Math.max(1e-3, (to - from) / 1000);
    consumeFigures = { msgsPerSec: consumedUnique / sec, mbPerSec: (consumedUnique * options.sizeBytes) / 1e6 / sec, wallSec: sec };
  }
  const headline = options.mode === "produce" ? produceFigures : consumeFigures!;
  const headlineLatency = options.mode === "produce" ? produceFigures.ackLatency : options.mode === "e2e" ? e2e.summary() : null;
  return {
    mode: options.mode,
    command: commandLine(options),
    parameters: {
      messages: options.messages ?? null,
      durationSec: options.durationSec ?? null,
      sizeBytes: options.sizeBytes,
      partitions: options.partitions,
      producers: options.producers,
      consumers: options.mode === "produce" ? 0 : options.consumers,
      acks: options.acks === -1 ? "all" : options.acks,
      batchBytes: options.batchBytes ?? null,
      lingerMs: options.lingerMs ?? null,
      ratePerSec: options.ratePerSec ?? null,
      topic,
      replicationFactor: options.replicationFactor ?? null,
      minInsyncReplicas: options.minInsyncReplicas ?? null,
      client: options.client,
      sendBatch: options.sendBatch,
      warmupSec: options.warmupSec,
      compression: options.compression,
      payload: options.payload,
    },
    msgsPerSec: Math.round(headline.msgsPerSec),
    mbPerSec: Math.round(headline.mbPerSec * 10) / 10,
    p50Ms: headlineLatency?.p50Ms ?? null,
    p90Ms: headlineLatency?.p90Ms ?? null,
    p99Ms: headlineLatency?.p99Ms ?? null,
    p999Ms: headlineLatency?.p999Ms ?? null,
    maxMs: headlineLatency?.maxMs ?? null,
    sent,
    acked,
    consumed: consumedUnique,
    lost,
    duplicates,
    corrupt,
    errors,
    firstError,
    produce: produceFigures,
    consume: consumeFigures,
    e2eLatency: options.mode === "e2e" ? e2e.summary() : null,
    ackTimelineMs: options.timeline ? mergeTimelines(produced.map((d) => d.ackTimeline ?? [])) : null,
    broker: brokerFigures(brokerUsage, messagesMeasured + consumedUnique),
    brokerFsync: fsyncFigures(metricsBefore, metricsAfter),
    disk: diskFigures(metricsAfter, topic, acked, options.sizeBytes),
    embeddedDataDir: null,
    machine: { cores: os.cpus().length, busyCores: brokerUsage?.machineBusyCores ?? null, loadAverage1m: Math.round(os.loadavg()[0] * 100) / 100 },
    client: {
      cpuCores: Math.round(clientCores * 100) / 100,
      cpuUsPerMsg: usPerMsg((clientCpu.user + clientCpu.system) / 1e6, messagesMeasured + consumedUnique),
    },
  };
}

function fmtM(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(Math.round(n));
}
