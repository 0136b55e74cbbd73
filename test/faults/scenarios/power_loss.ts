// Power loss under a partition log, many seeded runs.
//
// Each run drives one PartitionLog through several crash cycles. In a cycle the
// log is opened (recovery) on a file layer that simulates a disk cache
// (FaultyFileOps, powerLoss) under a tracer (TracedFileOps); batches of unique
// values are appended; flush() now and then; the values below the durable
// offset it returns are acknowledged (acks=all); checkpoints now and then. The
// power is cut either before a random file operation (inside an append, a
// roll, a checkpoint, a flush or the recovery itself) or after the last one.
// The disk then keeps only what fdatasync covered, plus one of:
//   drop     nothing else;
//   tear     unsynced writes in order up to a random one, cut at a random byte;
//   reorder  a random subset of unsynced 4 KiB pages, in random order, some torn.
// After each recovery everything is read back as a consumer would. At the end
// the history goes to the queue checker (drained) and each cycle's trace to the
// durability-trace checker: no acknowledged value lost, no offset with two
// values, no value twice, nothing unreadable below the high watermark, and no
// acknowledgement before the fdatasync that covers its bytes.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { decodeBatches, encodeBatch } from "../../../protocol/record_batch.ts";
import { FaultyFileOps, realFileOps } from "../../../workers/log/file_ops.ts";
import { parseTopicConfig } from "../../../workers/log/log_config.ts";
import { PartitionLog } from "../../../workers/log/partition_log.ts";
import { checkDurabilityTrace, type TraceCheckReport } from "../../checker/durability_trace.ts";
import { History } from "../../checker/history.ts";
import { concat } from "../../log/helpers.ts";
import { checkQueueHistory, type QueueCheckReport } from "../../checker/queue_checker.ts";
import { Rng } from "../support/rng.ts";
import { PowerCut, TracedFileOps } from "../support/traced_file_ops.ts";

export type PowerLossMode = "drop" | "tear" | "reorder";

export interface PowerLossOptions {
  seeds: readonly number[];
  /** Crash cycles per seed. */
  cycles: number;
  /** Appends per cycle at most. */
  appendsMax: number;
  /**
   * Negative control: acknowledge at write time, before any fdatasync (the
   * acks-before-fsync bug). The checkers must then find lost values and early acks.
   */
  ackOnWrite?: boolean;
}

export interface PowerLossRun {
  seed: number;
  queue: QueueCheckReport;
  /** Durability-trace reports that found an early ack (empty when sound). */
  earlyAcks: TraceCheckReport["early"][number][];
  /** Acked offsets whose bytes the tracer could not find (should be 0: then every ack was checked). */
  unmappedAcks: number;
  /** Recovery left a durable offset below the log end (recovery must end with an fdatasync). */
  recoveryNotDurable: number;
  /** Errors other than the power cut (a log that refused to open, a read that failed). */
  errors: string[];
}

export interface PowerLossFigures {
  runs: number;
  crashes: number;
  crashesByMode: Record<PowerLossMode, number>;
  /** Crashes that cut the power inside an operation (append, roll, flush, checkpoint or recovery). */
  cutsMidOperation: number;
  cutsDuringRecovery: number;
  acked: number;
  lost: number;
  inconsistent: number;
  duplicated: number;
  unexpected: number;
  unreadBelowHighWatermark: number;
  ackChecks: number;
  earlyAcks: number;
  unmappedAcks: number;
  recoveryNotDurable: number;
  truncatedBytes: number;
  recoveryMsMax: number;
  failedRuns: { seed: number; why: string }[];
  elapsedMs: number;
}

const CONFIG = parseTopicConfig({
  "segment.bytes": 4096,
  "index.interval.bytes": 256,
  "retention.ms": -1,
  "flush.interval.ms": 60_000,
  "flush.bytes": 1024 * 1024,
});

const decoder = new TextDecoder();

function valuesOf(bytes: Uint8Array, from: number): { offset: number; value: string }[] {
  const out: { offset: number; value: string }[] = [];
  for (const b of decodeBatches(bytes)) {
    for (const r of b.records) {
      const offset = Number(r.offset);
      if (offset >= from) out.push({ offset, value: r.value === null ? "<null>" : decoder.decode(r.value) });
    }
  }
  return out;
}

/** Reads [logStart, logEnd) as a consumer would and records it as one consumer's polls. */
function readBack(log: PartitionLog, history: History, consumer: string, partition: string): void {
  history.seek(consumer, partition, log.logStartOffset);
  let offset = log.logStartOffset;
  const end = log.logEndOffset;
  while (offset < end) {
    const bytes = log.read(offset, 16 * 1024, end);
    if (bytes.length === 0) throw new Error(`empty read at ${offset} below the log end ${end}`);
    const records = valuesOf(bytes, offset);
    history.poll(consumer, partition, records);
    offset = records.length > 0 ? records[records.length - 1].offset + 1 : end;
  }
  history.watermark(partition, end, log.logStartOffset);
}

interface Counters {
  crashesByMode: Record<PowerLossMode, number>;
  cutsMidOperation: number;
  cutsDuringRecovery: number;
  ackChecks: number;
  truncatedBytes: number;
  recoveryMsMax: number;
}

export function runPowerLossSeed(seed: number, opts: PowerLossOptions, root: string, counters: Counters): PowerLossRun {
  const rng = new Rng(seed);
  const dir = path.join(root, `s${seed}`);
  const partition = "p/0";
  const history = new History();
  const earlyAcks: TraceCheckReport["early"][number][] = [];
  const errors: string[] = [];
  let unmappedAcks = 0;
  let recoveryNotDurable = 0;
  let valueSeq = 0;

  for (let cycle = 0; cycle < opts.cycles; cycle++) {
    const faulty = new FaultyFileOps(realFileOps, { powerLoss: true, seed: rng.next() });
    const files = new TracedFileOps(faulty);
    // A cut point somewhere in the work this cycle will do (about two changing
    // operations per append plus the recovery's); beyond it, the cut comes after the loop.
    const appends = rng.between(1, opts.appendsMax);
    if (rng.chance(0.75)) files.cutBeforeOp = rng.between(1, appends * 3 + 8);
    let log: PartitionLog | null = null;
    let opened = false;
    try {
      const t0 = performance.now();
      log = PartitionLog.open({ dir, config: CONFIG, files });
      opened = true;
      const ms = performance.now() - t0;
      if (ms > counters.recoveryMsMax) counters.recoveryMsMax = ms;
      counters.truncatedBytes += log.recovery.truncatedBytes;
      if (log.durableOffset !== log.logEndOffset) recoveryNotDurable++;
      readBack(log, history, `recovered-${cycle}`, partition);
      let acked = log.durableOffset;
      const inFlight: { offset: number; value: string }[] = [];
      for (let a = 0; a < appends; a++) {
        const batches = rng.between(1, 3);
        const parts: Uint8Array[] = [];
        const values: string[] = [];
        for (let b = 0; b < batches; b++) {
          const count = rng.between(1, 12);
          const records = [];
          for (let r = 0; r < count; r++) {
            const value = `${seed}.${cycle}.${valueSeq++}.${"x".repeat(rng.between(0, 300))}`;
            values.push(value);
            records.push({ value });
          }
          parts.push(encodeBatch(records));
        }
        const blob = concat(parts);
        for (const v of values) history.send("producer", partition, v);
        const r = log.append(blob);
        for (let i = 0; i < values.length; i++) inFlight.push({ offset: r.baseOffset + i, value: values[i] });
        if (opts.ackOnWrite === true) {
          unmappedAcks += files.recordAck(r.baseOffset, r.lastOffset + 1, `s${seed}c${cycle}`);
          counters.ackChecks += r.lastOffset + 1 - r.baseOffset;
          for (const f of inFlight.splice(0)) history.ack("producer", partition, f.value, f.offset);
          acked = r.lastOffset + 1;
        }
        if (rng.chance(0.35)) {
          const durable = log.flush();
          unmappedAcks += files.recordAck(acked, durable, `s${seed}c${cycle}`);
          counters.ackChecks += durable - acked;
          while (inFlight.length > 0 && inFlight[0].offset < durable) {
            const f = inFlight.shift()!;
            history.ack("producer", partition, f.value, f.offset);
          }
          acked = durable;
          if (rng.chance(0.3)) log.checkpoint();
        }
      }
    } catch (e) {
      if (!files.powerCut) {
        errors.push(`cycle ${cycle}: ${(e as Error).message}`);
        break;
      }
    }
    if (files.powerCut) {
      counters.cutsMidOperation++;
      if (!opened) counters.cutsDuringRecovery++;
    }
    const mode = rng.pick(["drop", "tear", "reorder"] as const);
    counters.crashesByMode[mode]++;
    faulty.crash(mode === "tear" ? "tear" : "drop-unsynced");
    if (mode === "reorder") files.crashReordered(rng, realFileOps);
    const trace = checkDurabilityTrace(files.trace);
    earlyAcks.push(...trace.early);
    void log; // dropped without close: that is the crash
  }

  // The last recovery, on the real file layer, validating everything.
  try {
    const log = PartitionLog.open({ dir, config: CONFIG, files: realFileOps, verifyAll: true });
    if (log.durableOffset !== log.logEndOffset) recoveryNotDurable++;
    readBack(log, history, "final", partition);
    log.close();
  } catch (e) {
    errors.push(`final open: ${(e as Error).message}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    seed,
    queue: checkQueueHistory(history.events, { drained: true }),
    earlyAcks,
    unmappedAcks,
    recoveryNotDurable,
    errors,
  };
}

export function runPowerLoss(opts: PowerLossOptions): PowerLossFigures {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-"));
  const started = performance.now();
  const counters: Counters = {
    crashesByMode: { drop: 0, tear: 0, reorder: 0 },
    cutsMidOperation: 0,
    cutsDuringRecovery: 0,
    ackChecks: 0,
    truncatedBytes: 0,
    recoveryMsMax: 0,
  };
  const figures: PowerLossFigures = {
    runs: 0,
    crashes: 0,
    crashesByMode: counters.crashesByMode,
    cutsMidOperation: 0,
    cutsDuringRecovery: 0,
    acked: 0,
    lost: 0,
    inconsistent: 0,
    duplicated: 0,
    unexpected: 0,
    unreadBelowHighWatermark: 0,
    ackChecks: 0,
    earlyAcks: 0,
    unmappedAcks: 0,
    recoveryNotDurable: 0,
    truncatedBytes: 0,
    recoveryMsMax: 0,
    failedRuns: [],
    elapsedMs: 0,
  };
  try {
    for (const seed of opts.seeds) {
      const run = runPowerLossSeed(seed, opts, root, counters);
      figures.runs++;
      figures.crashes += opts.cycles;
      figures.acked += run.queue.counts.acked;
      figures.lost += run.queue.counts.lost + run.queue.counts.unreadAcked;
      figures.inconsistent += run.queue.inconsistent.length;
      figures.duplicated += run.queue.duplicated.length;
      figures.unexpected += run.queue.unexpected.length;
      figures.unreadBelowHighWatermark += run.queue.unreadBelowHighWatermark.reduce((n, u) => n + u.missing, 0);
      figures.earlyAcks += run.earlyAcks.length;
      figures.unmappedAcks += run.unmappedAcks;
      figures.recoveryNotDurable += run.recoveryNotDurable;
      const why: string[] = [...run.errors];
      if (!run.queue.valid) why.push(JSON.stringify({ ...run.queue.counts, first: firstAnomaly(run.queue) }));
      if (run.earlyAcks.length > 0) why.push(`early ack ${JSON.stringify(run.earlyAcks[0])}`);
      if (run.unmappedAcks > 0) why.push(`${run.unmappedAcks} acked offsets not found in any write`);
      if (run.recoveryNotDurable > 0) why.push("recovery left data above the durable offset");
      if (why.length > 0) figures.failedRuns.push({ seed, why: why.join("; ") });
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  figures.cutsMidOperation = counters.cutsMidOperation;
  figures.cutsDuringRecovery = counters.cutsDuringRecovery;
  figures.ackChecks = counters.ackChecks;
  figures.truncatedBytes = counters.truncatedBytes;
  figures.recoveryMsMax = Math.round(counters.recoveryMsMax * 100) / 100;
  figures.elapsedMs = Math.round(performance.now() - started);
  return figures;
}

function firstAnomaly(r: QueueCheckReport): unknown {
  return (
    r.lost[0] ?? r.unreadAcked[0] ?? r.inconsistent[0] ?? r.duplicated[0] ?? r.unexpected[0] ?? r.reordered[0] ??
    r.pollSkips[0] ?? r.nonMonotonicPolls[0] ?? r.unreadBelowHighWatermark[0] ?? r.watermarkRegressions[0]
  );
}
