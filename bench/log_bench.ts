// The partition log against the disk it runs on.
//
//   ./node_modules/.bin/bun run bench:log [--seconds N] [--small]
//
// 1. Append: 100-byte records in ~16 KiB batches (one batch encoded once and
//    appended again and again; append patches its base offset, so what is
//    measured is the log: validation with CRC-32C, offset patch, pwrite, index
//    upkeep, and group commit with the default flush.interval.ms/flush.bytes).
// 2. Raw: sequential 1 MiB pwrites with an fdatasync per MiB into a fresh file
//    in the same directory, half before and half after the append phase (the
//    disk is shared and drifts). ratio = append MB/s / raw MB/s.
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

function appendPhase(dir: string, seconds: number) {
  const config = parseTopicConfig({ "retention.ms": -1 });
  const log = PartitionLog.open({ dir, config });
  const batch = appendBatch();
  const recordsPerBatch = log.append(batch).records;
  log.flush();
  const flushMs: number[] = [];
  const appendUs: number[] = [];
  let bytes = 0;
  let records = 0;
  let flushTotalMs = 0;
  let sampleEvery = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  let now = started;
  while (now < end) {
    const t0 = performance.now();
    const r = log.append(batch, Date.now());
    const t1 = performance.now();
    if ((sampleEvery++ & 15) === 0) appendUs.push((t1 - t0) * 1000);
    bytes += r.bytes;
    records += r.records;
    if (log.flushDue(Date.now())) {
      log.flush();
      const t2 = performance.now();
      flushMs.push(t2 - t1);
      flushTotalMs += t2 - t1;
    }
    now = performance.now();
  }
  const t1 = performance.now();
  log.flush();
  const t2 = performance.now();
  flushMs.push(t2 - t1);
  flushTotalMs += t2 - t1;
  const elapsedS = (t2 - started) / 1000;
  log.deleteFiles();
  return {
    appendMBps: bytes / MiB / elapsedS,
    recordsPerSec: records / elapsedS,
    recordsPerBatch,
    flushes: flushMs.length,
    flushMsP50: median(flushMs),
    bytesPerFlush: bytes / flushMs.length,
    appendUsP50: median(appendUs),
    flushTimeShare: flushTotalMs / (elapsedS * 1000),
  };
}

/** Sequential 1 MiB writes at explicit positions, fdatasync after each MiB. */
function rawPhase(dir: string, seconds: number): { bytes: number; seconds: number } {
  const file = path.join(dir, "raw.bin");
  const buf = new Uint8Array(MiB);
  for (let i = 0; i < buf.length; i++) buf[i] = i & 0xff;
  const fd = fs.openSync(file, "w+");
  let pos = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  try {
    while (performance.now() < end) {
      let done = 0;
      while (done < MiB) done += fs.writeSync(fd, buf, done, MiB - done, pos + done);
      fs.fdatasyncSync(fd);
      pos += MiB;
    }
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file);
  }
  return { bytes: pos, seconds: (performance.now() - started) / 1000 };
}

/** Builds a log of `segments` segments of about `segmentBytes` each, and times random reads. */
export function lookupPhase(dir: string, opts: { segments: number; segmentBytes: number; lookups: number; seed: number }): number {
  const config = parseTopicConfig({ "segment.bytes": opts.segmentBytes, "retention.ms": -1, "flush.bytes": 64 * MiB });
  const log = PartitionLog.open({ dir, config });
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
    const rawHalf = opts.seconds / 2;
    const rawA = rawPhase(root, rawHalf);
    const app = appendPhase(path.join(root, "append"), opts.seconds);
    const rawB = rawPhase(root, rawHalf);
    const rawMBps = (rawA.bytes + rawB.bytes) / MiB / (rawA.seconds + rawB.seconds);
    const segmentBytes = opts.small ? 16 * 1024 : 64 * 1024;
    const lookups = opts.small ? 2000 : 20_000;
    const lookupUsSmallLog = lookupPhase(path.join(root, "small"), { segments: 1, segmentBytes, lookups, seed: 7 });
    const lookupUsLargeLog = lookupPhase(path.join(root, "large"), {
      segments: largeLogSegments(opts.small),
      segmentBytes,
      lookups,
      seed: 7,
    });
    return {
      appendMBps: app.appendMBps,
      recordsPerSec: app.recordsPerSec,
      rawMBps,
      ratio: app.appendMBps / rawMBps,
      lookupUsSmallLog,
      lookupUsLargeLog,
      lookupRatio: lookupUsLargeLog / lookupUsSmallLog,
      flushes: app.flushes,
      flushMsP50: app.flushMsP50,
      bytesPerFlush: app.bytesPerFlush,
      appendUsP50: app.appendUsP50,
      flushTimeShare: app.flushTimeShare,
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
