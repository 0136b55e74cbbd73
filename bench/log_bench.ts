// The partition log against the disk it runs on.
//
//   ./node_modules/.bin/bun run bench:log [--seconds N] [--small]
//
// 1. Append: 100-byte records in ~16 KiB batches (one batch encoded once and
//    appended again and again; append patches its base offset, so what is
//    measured is the log: validation with CRC-32C, offset patch, pwrite, index
//    upkeep, and group commit with the default flush.interval.ms/flush.bytes).
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
// Prints a table, then one JSON line (last):
//   {"appendMBps","recordsPerSec","rawMBps","ratio","lookupUsSmallLog","lookupUsLargeLog", ...}
// Bars (not asserted in tests, the machine is noisy): ratio ≥ 0.7 and
// lookupUsLargeLog ≤ 2 × lookupUsSmallLog.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { encodeBatch } from "../protocol/record_batch.ts";
import { parseTopicConfig } from "../workers/log/log_config.ts";
import { SEALED_SEGMENT_FDS_MAX } from "../workers/log/log_limits.ts";
import { PartitionLog, type ReadPlan } from "../workers/log/partition_log.ts";

const MiB = 1024 * 1024;
const RECORD_BYTES = 100;
const APPEND_BATCH_BYTES = 16 * 1024;

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
  /** The cost of the durable path: fdatasyncs done, their median time, bytes each covered. */
  flushes: number;
  flushMsP50: number;
  bytesPerFlush: number;
  /** Median time of one append() of a 16 KiB batch (validate + patch + pwrite + index). */
  appendUsP50: number;
  /** Share of the append phase's wall time spent inside flush() (fdatasync). */
  flushTimeShare: number;
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

/** Appends the same pre-encoded batch with group commit; run in slices between raw slices. */
class AppendRun {
  readonly log: PartitionLog;
  private readonly batch = appendBatch();
  readonly flushMs: number[] = [];
  readonly appendUs: number[] = [];
  bytes = 0;
  records = 0;
  elapsedMs = 0;
  flushTotalMs = 0;
  private sample = 0;

  constructor(dir: string) {
    this.log = PartitionLog.open({ dir, config: parseTopicConfig({ "retention.ms": -1 }) });
  }

  slice(ms: number): void {
    const log = this.log;
    const started = performance.now();
    const end = started + ms;
    let now = started;
    while (now < end) {
      const t0 = performance.now();
      const r = log.append(this.batch, Date.now());
      const t1 = performance.now();
      if ((this.sample++ & 15) === 0) this.appendUs.push((t1 - t0) * 1000);
      this.bytes += r.bytes;
      this.records += r.records;
      if (log.flushDue(Date.now())) this.timedFlush();
      now = performance.now();
    }
    // End every slice durable, so no unsynced bytes spill into the raw slice that follows.
    this.timedFlush();
    this.elapsedMs += performance.now() - started;
  }

  private timedFlush(): void {
    const t0 = performance.now();
    this.log.flush();
    const ms = performance.now() - t0;
    this.flushMs.push(ms);
    this.flushTotalMs += ms;
  }
}

/** Sequential 1 MiB writes at explicit positions into one file, fdatasync after each MiB; run in slices. */
class RawRun {
  private readonly fd: number;
  private readonly buf = new Uint8Array(MiB);
  bytes = 0;
  elapsedMs = 0;

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
      fs.fdatasyncSync(this.fd);
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

function throughputPhases(root: string, seconds: number) {
  const app = new AppendRun(path.join(root, "append"));
  const raw = new RawRun(path.join(root, "raw.bin"));
  try {
    const slices = Math.max(1, Math.round((seconds * 1000) / SLICE_MS));
    const sliceMs = (seconds * 1000) / slices;
    // raw, append, raw, append, ..., raw: the appends are bracketed by raw slices (half as long in total).
    const rawSliceMs = (seconds * 1000) / 2 / (slices + 1);
    for (let i = 0; i < slices; i++) {
      raw.slice(rawSliceMs);
      app.slice(sliceMs);
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
      appendUsP50: median(app.appendUs),
      flushTimeShare: app.flushTotalMs / app.elapsedMs,
    };
  } finally {
    app.log.deleteFiles();
    raw.close();
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

export function runLogBench(opts: LogBenchOptions): LogBenchResult {
  const root = fs.mkdtempSync(path.join(opts.dir ?? os.tmpdir(), "sluice-bench-"));
  try {
    const t = throughputPhases(root, opts.seconds);
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
      appendUsP50: t.appendUsP50,
      flushTimeShare: t.flushTimeShare,
    };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

function printResult(opts: LogBenchOptions, r: LogBenchResult): void {
  const rows: [string, string][] = [
    ["append (16 KiB batches of 100 B records, group commit)", `${r.appendMBps.toFixed(0)} MiB/s, ${(r.recordsPerSec / 1e6).toFixed(2)}M records/s`],
    ["raw sequential write, fdatasync per MiB", `${r.rawMBps.toFixed(0)} MiB/s`],
    ["ratio append / raw (bar ≥ 0.7)", r.ratio.toFixed(2)],
    ["append() of one 16 KiB batch, p50", `${r.appendUsP50.toFixed(1)} µs`],
    ["flushes (fdatasync) / p50 / bytes each", `${r.flushes} / ${r.flushMsP50.toFixed(2)} ms / ${(r.bytesPerFlush / 1024).toFixed(0)} KiB`],
    ["share of append time inside flush()", `${(r.flushTimeShare * 100).toFixed(0)} %`],
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
  printResult(opts, runLogBench(opts));
}
