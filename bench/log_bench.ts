// The partition log against the disk it runs on.
//
//   ./node_modules/.bin/bun run bench:log [--seconds N] [--small]
//
// 1. Append: 100-byte records in ~16 KiB batches, as the broker appends them
//    with its default settings (flush.interval.ms 0, flush.bytes 4 MiB): a
//    producer thread (log_bench_producer.ts, the router's part) copies one
//    pre-encoded batch into a shared request ring (RING_BYTES, as the router's
//    ring to a worker) as fast as there is room, and this thread drains it as a
//    partition worker does: stage() every batch (validation with CRC-32C,
//    offset patch), writeStaged() once per pass (vectored pwrites, index
//    upkeep), then flushAsync() when flushDue() says so, and goes on staging
//    and writing while that fdatasync runs. Appends pile up in the ring
//    while an fdatasync runs and ride the next one (group commit), so what is
//    measured is the log at full offered load. One append at a time with a
//    flush after each (what this bench did before) measures one fdatasync per
//    16 KiB instead: no producer waits like that with a pipeline in front.
// 2. Raw: sequential 1 MiB pwrites with an fdatasync per MiB into a fresh file
//    in the same directory, for half as long, in slices that alternate with
//    the append slices (the disk is shared and drifts; both see the same
//    weather). ratio = append MB/s / raw MB/s.
// 3. Lookup: the median time of planRead + readInto from a random offset, in
//    a log of 1 segment and in one of 1,000 segments of the same size (100 with
//    --small, which also shortens every phase to 0.5 s unless --seconds). The
//    segment is found by binary search and the batch by a sparse index plus at
//    most one interval of walking, so the two should be close.
//
// Where the time goes, per MiB: the log thread's work outside flush() (stage
// with its CRC-32C check, pwritev, index upkeep) and its fdatasyncs; the raw
// run's pwrites and fdatasyncs. The log does CPU work per byte that the raw
// run does not, so a machine short of CPU lowers the ratio though the disk is
// the same for both.
//
// Prints a table, then one JSON line (last):
//   {"appendMBps","recordsPerSec","rawMBps","ratio","bytesPerFlush","bytesPerFlushP50","msPerMiB","lookupUsSmallLog","lookupUsLargeLog", ...}
// Bars (not asserted in tests, the machine is noisy): ratio ≥ 0.7 and
// lookupUsLargeLog ≤ 2 × lookupUsSmallLog.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { encodeBatch } from "../protocol/record_batch.ts";
import { parseTopicConfig } from "../workers/log/log_config.ts";
import { SEALED_SEGMENT_FDS_MAX } from "../workers/log/log_limits.ts";
import { PartitionLog, type ReadPlan, emptyAppendResult } from "../workers/log/partition_log.ts";
import { RING_BYTES } from "../protocol/limits.ts";
import { RingConsumer, createRing } from "../workers/mod.ts";
import { type ProducerInit, ProducerState } from "./log_bench_producer.ts";

const MiB = 1024 * 1024;
const RECORD_BYTES = 100;
/** Each append's batch is about this size (a little under). */
export const APPEND_BATCH_BYTES = 16 * 1024;

export interface LogBenchOptions {
  seconds: number;
  small: boolean;
  /** Parent of the temp directory (default the OS temp dir). */
  dir?: string;
  /** Print the table and JSON line (the test turns this off). */
  print?: boolean;
}

export interface LogBenchResult {
  appendMBps: number;
  recordsPerSec: number;
  rawMBps: number;
  ratio: number;
  lookupUsSmallLog: number;
  lookupUsLargeLog: number;
  /** Random reads over the large log with the default descriptor bound (an open() per read that misses it). */
  lookupUsLargeLogBoundedFds: number;
  /** lookupUsLargeLog / lookupUsSmallLog (bar: ≤ 2). */
  lookupRatio: number;
  /** The cost of the durable path: fdatasyncs done, their median time, bytes each covered (the group size). */
  flushes: number;
  flushMsP50: number;
  bytesPerFlush: number;
  /** Median bytes one flush covered (each slice's last flush, after the ring is drained, is larger). */
  bytesPerFlushP50: number;
  /** Median time of one stage() of a 16 KiB batch (validate with CRC-32C + offset patch). */
  stageUsP50: number;
  /** The log thread's time outside flush() and parks, per MiB appended: stage, vectored pwrites, index upkeep. */
  workMsPerMiB: number;
  /** Time from each fdatasync's start to its completion, per MiB appended (it overlaps the next passes). */
  flushMsPerMiB: number;
  /** The raw run's time per MiB: its pwrites, and its fdatasync (one per MiB). */
  rawWriteMsPerMiB: number;
  rawSyncMsPerMiB: number;
  /** Share of the append phase's wall time with an fdatasync in flight (it overlaps the next passes). */
  flushTimeShare: number;
  /** Share of it the log's thread waited on an empty ring (near 0: the producer kept up, the log was the bound). */
  idleShare: number;
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const s = Float64Array.from(values).sort();
  return s[s.length >> 1];
}

/** A batch of ~16 KiB of 100-byte records, encoded once. */
function appendBatch(): Uint8Array {
  const value = new Uint8Array(RECORD_BYTES);
  for (let i = 0; i < value.length; i++) value[i] = (i * 7) & 0xff;
  const records = [];
  // ~110 bytes per record on the wire (value + key + varint framing).
  for (let i = 0; i < Math.floor(APPEND_BATCH_BYTES / 112); i++) records.push({ value, timestamp: Date.now() });
  return encodeBatch(records);
}

/** Longest park of the log's thread on an empty ring (the broker's worker parks likewise, with a timeout). */
const PARK_MS = 10;

/** How long the producer thread may take to start or to stop before the bench gives up on it. */
const PRODUCER_DEADLINE_MS = 10_000;

/**
 * The log as a partition worker drives it (workers/partition_host.ts and the loop
 * in worker_main.ts): a producer thread fills a shared request ring (the router's
 * part), and the log's thread, pass after pass, stages every batch the ring holds
 * (up to flush.bytes unsynced), writes them with one writeStaged(), releases
 * their ring room, and flushes when flushDue() says so. With the broker's
 * default flush.interval.ms 0 that is after every pass, so each fdatasync covers
 * what arrived while the previous one ran: group commit. Run in slices between
 * raw slices; the producer parks during those.
 */
class PipelinedAppendRun {
  readonly log: PartitionLog;
  private readonly consumer: RingConsumer;
  private readonly control: Int32Array;
  private readonly out = emptyAppendResult();
  readonly flushMs: number[] = [];
  /** Bytes each flush covered (the group sizes). */
  readonly flushBytes: number[] = [];
  private bytesAtLastFlush = 0;
  readonly stageUs: number[] = [];
  bytes = 0;
  records = 0;
  elapsedMs = 0;
  flushTotalMs = 0;
  /** Time the log's thread spent parked on an empty ring: the producer, not the log, was the bound then. */
  idleMs = 0;
  private sample = 0;

  private constructor(
    dir: string,
    private readonly worker: Worker,
    ring: SharedArrayBuffer,
    control: SharedArrayBuffer,
  ) {
    // The broker's defaults (flush.interval.ms 0, flush.bytes 4 MiB, 1 GiB segments); retention off.
    this.log = PartitionLog.open({ dir, config: parseTopicConfig({ "retention.ms": -1 }) });
    this.consumer = new RingConsumer(ring);
    this.control = new Int32Array(control);
  }

  static async start(dir: string): Promise<PipelinedAppendRun> {
    const ring = createRing(RING_BYTES);
    const control = new SharedArrayBuffer(4);
    new Int32Array(control)[0] = ProducerState.PAUSE;
    const worker = new Worker(new URL("./log_bench_producer.ts", import.meta.url).href, { type: "module" });
    const run = new PipelinedAppendRun(dir, worker, ring, control);
    const init: ProducerInit = { ring, control, batch: appendBatch() };
    await run.producerSays("ready", () => worker.postMessage(init));
    return run;
  }

  async slice(ms: number): Promise<void> {
    Atomics.store(this.control, 0, ProducerState.RUN);
    Atomics.notify(this.control, 0);
    const started = performance.now();
    const end = started + ms;
    while (performance.now() < end) await this.turn(true);
    // End every slice durable, with the ring drained, so nothing spills into the raw slice that follows.
    Atomics.store(this.control, 0, ProducerState.PAUSE);
    while ((await this.turn(false)) > 0);
    await this.flushed();
    this.timedFlush();
    await this.flushed();
    this.elapsedMs += performance.now() - started;
  }

  /**
   * One turn of the worker's loop: a drain pass, then the flush if due (started
   * with flushAsync, as the worker does: the next passes stage and write while
   * its fdatasync runs), else a turn of the event loop (so a flush's completion
   * runs) or, with `park` and nothing in flight, a park on an empty ring.
   */
  private async turn(park: boolean): Promise<number> {
    const bytes = this.pass();
    if (this.log.flushDue(Date.now())) this.timedFlush();
    if (this.log.flushInFlight) {
      if (bytes === 0) {
        const t0 = performance.now();
        await this.flushed();
        this.idleMs += performance.now() - t0;
      } else await new Promise<void>((resolve) => setImmediate(resolve));
    } else if (bytes === 0 && park) {
      const t0 = performance.now();
      this.consumer.waitForDataSync(PARK_MS);
      this.idleMs += performance.now() - t0;
    }
    return bytes;
  }

  /** One drain pass: stage what the ring holds (up to flush.bytes unsynced), write it, release its room. Returns its bytes. */
  private pass(): number {
    const log = this.log;
    const c = this.consumer;
    const flushBytes = log.config.flushBytes;
    let bytes = 0;
    while (c.read() !== -1) {
      const t0 = performance.now();
      const r = log.stage(c.bytes.subarray(c.offset, c.offset + c.length), Date.now(), this.out);
      if ((this.sample++ & 15) === 0) this.stageUs.push((performance.now() - t0) * 1000);
      c.advance();
      bytes += r.bytes;
      this.records += r.records;
      if (log.unsyncedBytes + log.stagedByteCount >= flushBytes) break;
    }
    if (bytes === 0) return 0;
    log.writeStaged();
    // The staged views point into the ring: its room goes back only once they are written.
    c.release();
    this.bytes += bytes;
    return bytes;
  }

  private inFlight: Promise<void> | null = null;

  /** Resolves once no flush is in flight. */
  private flushed(): Promise<void> {
    return this.inFlight ?? Promise.resolve();
  }

  /** Starts a flush (flushAsync); its time is from the start to its completion, overlapping later passes. */
  private timedFlush(): void {
    // Nothing written since the last one (a slice's end after its last pass flushed): no fdatasync, nothing to count.
    if (this.log.unsyncedBytes === 0 && this.log.stagedByteCount === 0) return;
    const t0 = performance.now();
    const bytes = this.bytes - this.bytesAtLastFlush;
    this.bytesAtLastFlush = this.bytes;
    let resolve!: () => void;
    const p = new Promise<void>((r) => (resolve = r));
    const started = this.log.flushAsync((_durable, error) => {
      const ms = performance.now() - t0;
      this.flushMs.push(ms);
      this.flushTotalMs += ms;
      this.flushBytes.push(bytes);
      this.inFlight = null;
      if (error !== null) this.error = error;
      resolve();
    });
    if (started) this.inFlight = p;
    if (this.error !== null) throw this.error;
  }

  private error: Error | null = null;

  async stop(): Promise<void> {
    try {
      await this.producerSays("stopped", () => {
        Atomics.store(this.control, 0, ProducerState.STOP);
        Atomics.notify(this.control, 0);
      });
    } finally {
      this.worker.terminate();
    }
  }

  /** Runs `act`, then waits (with a deadline) for the producer thread to post `word`. */
  private producerSays(word: string, act: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => done(() => reject(new Error(`bench:log: the producer thread did not say '${word}' within ${PRODUCER_DEADLINE_MS} ms`))),
        PRODUCER_DEADLINE_MS,
      );
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.worker.removeEventListener("message", onMessage);
        this.worker.removeEventListener("error", onError);
        settle();
      };
      const onMessage = (e: MessageEvent) => {
        if (e.data === word) done(resolve);
      };
      const onError = (e: ErrorEvent) => done(() => reject(new Error(`bench:log: the producer thread failed: ${e.message}`)));
      this.worker.addEventListener("message", onMessage);
      this.worker.addEventListener("error", onError);
      act();
    });
  }
}

/** Sequential 1 MiB writes at explicit positions into one file, fdatasync after each MiB; run in slices. */
class RawRun {
  private readonly fd: number;
  private readonly buf = new Uint8Array(MiB);
  bytes = 0;
  elapsedMs = 0;
  /** Time inside fdatasync (the rest of elapsedMs is the pwrites). */
  syncMs = 0;

  constructor(readonly file: string) {
    for (let i = 0; i < this.buf.length; i++) this.buf[i] = i & 0xff;
    this.fd = fs.openSync(file, "w+");
  }

  slice(ms: number): void {
    const started = performance.now();
    const end = started + ms;
    while (performance.now() < end) {
      let done = 0;
      while (done < MiB) done += fs.writeSync(this.fd, this.buf, done, MiB - done, this.bytes + done);
      const t0 = performance.now();
      fs.fdatasyncSync(this.fd);
      this.syncMs += performance.now() - t0;
      this.bytes += MiB;
    }
    this.elapsedMs += performance.now() - started;
  }

  close(): void {
    fs.closeSync(this.fd);
    fs.rmSync(this.file);
  }
}

/** Slices of this length alternate between raw writes and appends, so both see the same disk weather. */
const SLICE_MS = 500;

async function throughputPhases(root: string, seconds: number) {
  const app = await PipelinedAppendRun.start(path.join(root, "append"));
  const raw = new RawRun(path.join(root, "raw.bin"));
  try {
    const slices = Math.max(1, Math.round((seconds * 1000) / SLICE_MS));
    const sliceMs = (seconds * 1000) / slices;
    // raw, append, raw, append, ..., raw: the appends are bracketed by raw slices (half as long in total).
    const rawSliceMs = (seconds * 1000) / 2 / (slices + 1);
    for (let i = 0; i < slices; i++) {
      raw.slice(rawSliceMs);
      await app.slice(sliceMs);
    }
    raw.slice(rawSliceMs);
    const appendS = app.elapsedMs / 1000;
    return {
      appendMBps: app.bytes / MiB / appendS,
      recordsPerSec: app.records / appendS,
      rawMBps: raw.bytes / MiB / (raw.elapsedMs / 1000),
      flushes: app.flushMs.length,
      flushMsP50: median(app.flushMs),
      bytesPerFlush: app.bytes / app.flushMs.length,
      bytesPerFlushP50: median(app.flushBytes),
      stageUsP50: median(app.stageUs),
      workMsPerMiB: (app.elapsedMs - app.idleMs) / (app.bytes / MiB),
      flushMsPerMiB: app.flushTotalMs / (app.bytes / MiB),
      rawWriteMsPerMiB: (raw.elapsedMs - raw.syncMs) / (raw.bytes / MiB),
      rawSyncMsPerMiB: raw.syncMs / (raw.bytes / MiB),
      flushTimeShare: app.flushTotalMs / app.elapsedMs,
      idleShare: app.idleMs / app.elapsedMs,
    };
  } finally {
    try {
      await app.stop();
    } finally {
      app.log.deleteFiles();
      raw.close();
    }
  }
}

/** Builds a log of `segments` segments of about `segmentBytes` each, and times random reads. */
export function lookupPhase(
  dir: string,
  opts: { segments: number; segmentBytes: number; lookups: number; seed: number; sealedSegmentFds?: number },
): number {
  const config = parseTopicConfig({ "segment.bytes": opts.segmentBytes, "retention.ms": -1, "flush.bytes": 64 * MiB });
  const log = PartitionLog.open({ dir, config, sealedSegmentFds: opts.sealedSegmentFds });
  const value = new Uint8Array(RECORD_BYTES).fill(3);
  const batch = encodeBatch(Array.from({ length: 10 }, () => ({ value, timestamp: 1_700_000_000_000 })));
  // A segment rolls when the next batch would not fit, so each holds exactly this many.
  const batchesPerSegment = Math.floor(opts.segmentBytes / batch.length);
  for (let i = 0; i < opts.segments * batchesPerSegment; i++) log.append(batch);
  log.flush();
  if (log.segmentCount !== opts.segments) throw new Error(`built ${log.segmentCount} segments, wanted ${opts.segments}`);
  const end = log.logEndOffset;
  const target = new Uint8Array(64 * 1024);
  let rng = opts.seed;
  const randomOffset = (): number => {
    rng = (rng * 1103515245 + 12345) % 2147483648;
    return Math.floor((rng / 2147483648) * end);
  };
  // Warm-up: every segment's index in memory and the JIT settled, as in a running broker.
  for (let i = 0; i < Math.max(2000, opts.segments * 2); i++) {
    const plan = log.planRead(randomOffset(), 1, end) as ReadPlan;
    log.readInto(plan, target, 0);
  }
  const samples: number[] = [];
  let check = 0;
  for (let i = 0; i < opts.lookups; i++) {
    const offset = randomOffset();
    const t0 = performance.now();
    const plan = log.planRead(offset, 1, end) as ReadPlan;
    check += log.readInto(plan, target, 0);
    samples.push((performance.now() - t0) * 1000);
  }
  if (check === 0) throw new Error("lookups read nothing");
  log.deleteFiles();
  return median(samples);
}

/**
 * Segments of the large log. A roll costs a few ms here (fdatasync of the
 * sealed segment, three file creates, the recovery point), so building 1,000
 * segments takes seconds; the small mode (inside the test suite) builds 100.
 */
export function largeLogSegments(small: boolean): number {
  return small ? 100 : 1000;
}

export async function runLogBench(opts: LogBenchOptions): Promise<LogBenchResult> {
  const root = fs.mkdtempSync(path.join(opts.dir ?? os.tmpdir(), "sluice-bench-"));
  try {
    const t = await throughputPhases(root, opts.seconds);
    const segmentBytes = opts.small ? 16 * 1024 : 64 * 1024;
    const lookups = opts.small ? 2000 : 20_000;
    const lookupUsSmallLog = lookupPhase(path.join(root, "small"), { segments: 1, segmentBytes, lookups, seed: 7 });
    // The bar is about finding a batch (segment binary search + sparse index), so the
    // large log keeps a descriptor for every segment, as Kafka does. With the default
    // bound (SEALED_SEGMENT_FDS_MAX) random reads over 1,000 segments also pay an
    // open() and close() each; that figure is reported beside it.
    const lookupUsLargeLog = lookupPhase(path.join(root, "large"), {
      segments: largeLogSegments(opts.small),
      segmentBytes,
      lookups,
      seed: 7,
      sealedSegmentFds: largeLogSegments(opts.small),
    });
    const lookupUsLargeLogBoundedFds = lookupPhase(path.join(root, "large-bounded"), {
      segments: largeLogSegments(opts.small),
      segmentBytes,
      lookups,
      seed: 7,
    });
    return {
      appendMBps: t.appendMBps,
      recordsPerSec: t.recordsPerSec,
      rawMBps: t.rawMBps,
      ratio: t.appendMBps / t.rawMBps,
      lookupUsSmallLog,
      lookupUsLargeLog,
      lookupRatio: lookupUsLargeLog / lookupUsSmallLog,
      lookupUsLargeLogBoundedFds,
      flushes: t.flushes,
      flushMsP50: t.flushMsP50,
      bytesPerFlush: t.bytesPerFlush,
      bytesPerFlushP50: t.bytesPerFlushP50,
      stageUsP50: t.stageUsP50,
      workMsPerMiB: t.workMsPerMiB,
      flushMsPerMiB: t.flushMsPerMiB,
      rawWriteMsPerMiB: t.rawWriteMsPerMiB,
      rawSyncMsPerMiB: t.rawSyncMsPerMiB,
      flushTimeShare: t.flushTimeShare,
      idleShare: t.idleShare,
    };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

function printResult(opts: LogBenchOptions, r: LogBenchResult): void {
  const rows: [string, string][] = [
    ["append (16 KiB batches of 100 B records, pipelined, group commit)", `${r.appendMBps.toFixed(0)} MiB/s, ${(r.recordsPerSec / 1e6).toFixed(2)}M records/s`],
    ["raw sequential write, fdatasync per MiB", `${r.rawMBps.toFixed(0)} MiB/s`],
    ["ratio append / raw (bar ≥ 0.7)", r.ratio.toFixed(2)],
    ["stage() of one 16 KiB batch, p50", `${r.stageUsP50.toFixed(1)} µs`],
    ["per MiB appended: stage + pwritev + index / fdatasync", `${r.workMsPerMiB.toFixed(2)} ms / ${r.flushMsPerMiB.toFixed(2)} ms`],
    ["per MiB of raw writes: pwrite / fdatasync", `${r.rawWriteMsPerMiB.toFixed(2)} ms / ${r.rawSyncMsPerMiB.toFixed(2)} ms`],
    ["flushes (fdatasync) / p50 / bytes each, mean and p50", `${r.flushes} / ${r.flushMsP50.toFixed(2)} ms / ${(r.bytesPerFlush / 1024).toFixed(0)} and ${(r.bytesPerFlushP50 / 1024).toFixed(0)} KiB`],
    ["share of append time with an fdatasync in flight / waiting (producer or flush)", `${(r.flushTimeShare * 100).toFixed(0)} % / ${(r.idleShare * 100).toFixed(0)} %`],
    ["read at a random offset, 1 segment, p50", `${r.lookupUsSmallLog.toFixed(1)} µs`],
    [`read at a random offset, ${largeLogSegments(opts.small).toLocaleString("en")} segments, p50`, `${r.lookupUsLargeLog.toFixed(1)} µs`],
    ["lookup ratio large / small (bar ≤ 2)", r.lookupRatio.toFixed(2)],
    [`same, ${SEALED_SEGMENT_FDS_MAX} sealed descriptors (default bound), p50`, `${r.lookupUsLargeLogBoundedFds.toFixed(1)} µs`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(`command: bun bench/log_bench.ts --seconds ${opts.seconds}${opts.small ? " --small" : ""}`);
  console.log(`runtime: bun ${typeof Bun !== "undefined" ? Bun.version : "?"}; temp dir under ${opts.dir ?? os.tmpdir()}`);
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
  const round = (x: number, d: number): number => Number(x.toFixed(d));
  console.log(
    JSON.stringify({
      appendMBps: round(r.appendMBps, 1),
      recordsPerSec: Math.round(r.recordsPerSec),
      rawMBps: round(r.rawMBps, 1),
      ratio: round(r.ratio, 3),
      bytesPerFlush: Math.round(r.bytesPerFlush),
      bytesPerFlushP50: Math.round(r.bytesPerFlushP50),
      msPerMiB: { append: round(r.workMsPerMiB, 2), flush: round(r.flushMsPerMiB, 2), rawWrite: round(r.rawWriteMsPerMiB, 2), rawSync: round(r.rawSyncMsPerMiB, 2) },
      lookupUsSmallLog: round(r.lookupUsSmallLog, 2),
      lookupUsLargeLog: round(r.lookupUsLargeLog, 2),
      lookupUsLargeLogBoundedFds: round(r.lookupUsLargeLogBoundedFds, 2),
    }),
  );
}

function parseArgs(argv: string[]): LogBenchOptions {
  const small = argv.includes("--small");
  let seconds = small ? 0.5 : 3;
  const i = argv.indexOf("--seconds");
  if (i >= 0) {
    seconds = Number(argv[i + 1]);
    if (!(seconds > 0)) throw new Error(`--seconds needs a positive number (got '${argv[i + 1]}')`);
  }
  return { seconds, small, print: true };
}

if (import.meta.main) {
  const opts = parseArgs(process.argv.slice(2));
  printResult(opts, await runLogBench(opts));
}
