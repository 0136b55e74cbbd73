import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { decodeBatch, encodeBatch } from "../../protocol/record_batch.ts";
import { concat, makeTempDir, readAll, removeDir, testConfig } from "../../test/log/helpers.ts";
import { Rng } from "../../test/faults/support/rng.ts";
import { type CrashMode, FaultyFileOps, type FileOps, realFileOps } from "./file_ops.ts";
import { type JournalReplayReport, replayJournals } from "./journal_replay.ts";
import type { LogConfig } from "./log_config.ts";
import { LogError } from "./log_error.ts";
import { JOURNAL_ROUND_BYTES_MAX } from "./log_limits.ts";
import { PartitionLog } from "./partition_log.ts";
import { RECOVERY_POINT_FILE } from "./recovery_point.ts";
import { LOG_SUFFIX, segmentFileName } from "./segment_file.ts";
import {
  JOURNAL_DIR_NAME,
  JOURNAL_HEADER_BYTES,
  WorkerJournal,
  journalDirKey,
  journalPartitionName,
  workerJournalPath,
} from "./worker_journal.ts";

// The worker host's side of the journal, driven by hand (journal_rounds.ts does
// the same in round() and checkpoint()): several partition logs
// and one worker journal on one simulated disk; values below a log's durable
// offset are acknowledged. After a power loss, replayJournals() writes the
// journal's records back into the segments, and recovery must then find every
// acknowledged value at its offset, and nothing twice.

/** Room for several rounds between checkpoints (a round here is a few KiB). */
const JOURNAL_CAPACITY = JOURNAL_HEADER_BYTES + JOURNAL_ROUND_BYTES_MAX + 48 * 1024;
/** Like JOURNAL_PARTITION_ROUND_BYTES_MAX, scaled to these small logs: above it a log syncs its own segment. */
const PARTITION_ROUND_LIMIT = 1500;
/**
 * The real file system under the simulated disk, without its fdatasyncs: the
 * FaultyFileOps above decides what a power loss keeps, so the real syncs would
 * only cost time (they make the seeded runs several times slower).
 */
const pageCache: FileOps = { ...realFileOps, fdatasync: () => {}, fsyncDir: () => {} };
/** Small segments, so logs roll while rounds go on. */
const CONFIG = testConfig({ "segment.bytes": 3000, "index.interval.bytes": 256 });
const NO_LIMIT = Number.MAX_SAFE_INTEGER;

let root = "";
beforeEach(() => {
  root = makeTempDir();
});
afterEach(() => {
  removeDir(root);
});

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

interface Part {
  index: number;
  dir: string;
  relative: string;
  /** Which incarnation of the directory it is (its topic's id). */
  incarnation: string;
  /** How the journal names it: directory and incarnation. */
  key: Uint8Array;
  log: PartitionLog | null;
  /** The value written at each offset (the model of the log). */
  written: string[];
  /** Offsets below this were acknowledged (a durable offset the log reported). */
  acked: number;
  /** Next value number (never reused, so any duplicate shows). */
  nextValue: number;
}

/** The value at every offset of the log, read the way a consumer would. */
function readValues(log: PartitionLog): { offsets: number[]; values: string[] } {
  const offsets: number[] = [];
  const values: string[] = [];
  for (const b of readAll(log)) {
    for (const r of decodeBatch(b.bytes).records) {
      offsets.push(Number(r.offset));
      values.push(utf8Decoder.decode(r.value ?? new Uint8Array()));
    }
  }
  return { offsets, values };
}

/** The segment files (.log) under a directory, name → bytes. */
function segmentBytes(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const n of fs.readdirSync(dir).sort()) if (n.endsWith(LOG_SUFFIX)) out.set(n, fs.readFileSync(path.join(dir, n)));
  return out;
}

/** A worker: its partitions (topic `topic`), its journal, one file layer under all of them. */
class Worker {
  readonly parts: Part[] = [];
  journal: WorkerJournal | null = null;
  checkpoints = 0;
  rounds = 0;
  directFlushes = 0;

  constructor(
    readonly dataDir: string,
    public files: FileOps,
    readonly rng: Rng,
    partitions: number,
    readonly opts: { config?: LogConfig; nowMs?: () => number; worker?: number; topic?: string } = {},
  ) {
    for (let i = 0; i < partitions; i++) {
      const relative = path.join("topics", opts.topic ?? "t", String(i));
      const incarnation = `id-${opts.topic ?? "t"}`;
      this.parts.push({
        index: i,
        dir: path.join(dataDir, relative),
        relative,
        incarnation,
        key: journalDirKey(journalPartitionName(relative, incarnation)),
        log: null,
        written: [],
        acked: 0,
        nextValue: 0,
      });
    }
  }

  get config(): LogConfig {
    return this.opts.config ?? CONFIG;
  }

  get journalPath(): string {
    return workerJournalPath(this.dataDir, this.opts.worker ?? 0);
  }

  openLog(p: Part): PartitionLog {
    p.log = PartitionLog.open({ dir: p.dir, config: this.config, files: this.files, nowMs: this.opts.nowMs });
    return p.log;
  }

  /** Opens every log (recovery) and a fresh journal, as a worker does at start. */
  start(): void {
    for (const p of this.parts) this.openLog(p);
    this.journal = WorkerJournal.create(this.journalPath, this.files, JOURNAL_CAPACITY);
  }

  log(p: Part): PartitionLog {
    if (p.log === null) throw new Error(`partition ${p.index} is not open`);
    return p.log;
  }

  /** Appends 1 to 3 batches of 1 to 4 records, each with a new unique value. */
  append(p: Part): void {
    const log = this.log(p);
    const parts: Uint8Array[] = [];
    const values: string[] = [];
    const batches = this.rng.between(1, 3);
    for (let b = 0; b < batches; b++) {
      const records = [];
      const n = this.rng.between(1, 4);
      for (let r = 0; r < n; r++) {
        const value = `${p.relative}-v${p.nextValue++}-${"x".repeat(this.rng.between(0, 60))}`;
        values.push(value);
        records.push({ key: `k${p.index}`, value: utf8.encode(value), timestamp: 1_700_000_000_000 + p.nextValue });
      }
      parts.push(encodeBatch(records));
    }
    const result = log.append(concat(parts));
    expect(result.baseOffset).toBe(p.written.length);
    p.written.push(...values);
    expect(result.lastOffset).toBe(p.written.length - 1);
  }

  ack(p: Part): void {
    p.acked = Math.max(p.acked, this.log(p).durableOffset);
  }

  /** A direct flush of one log (a large round, or its flush came due on its own). */
  flush(p: Part): void {
    this.log(p).flush();
    this.directFlushes++;
    this.ack(p);
  }

  /**
   * One journal round, as JournalRounds.round() does it: logs with a few
   * unsynced bytes go into the journal, one fdatasync, then each is marked
   * journaled; logs with more sync their own segment. Returns the logs journaled.
   */
  round(limit = PARTITION_ROUND_LIMIT): number {
    const journal = this.journal as WorkerJournal;
    if (journal.needsCheckpoint) this.checkpoint();
    journal.begin();
    const inRound: Part[] = [];
    for (const p of this.parts) {
      const log = this.log(p);
      const length = log.unsyncedLength();
      if (length === 0) continue;
      if (length > limit) {
        this.flush(p);
        continue;
      }
      const at = journal.beginRecord(p.key, log.unsyncedSegmentBaseOffset, log.unsyncedPosition, length);
      if (at < 0) break;
      log.readUnsynced(journal.roundBuffer, at);
      journal.endRecord();
      inRound.push(p);
    }
    if (inRound.length === 0) return 0;
    journal.commit();
    this.rounds++;
    for (const p of inRound) {
      const durable = this.log(p).markJournaled();
      expect(durable).toBe(this.log(p).logEndOffset);
      expect(this.log(p).hasJournaledUnsynced).toBe(true);
      this.ack(p);
    }
    return inRound.length;
  }

  /** As JournalRounds.checkpoint(): sync every segment with journaled bytes, then a new generation. */
  checkpoint(): void {
    for (const p of this.parts) {
      const log = this.log(p);
      if (log.hasJournaledUnsynced) {
        log.flush();
        expect(log.hasJournaledUnsynced as boolean).toBe(false); // (narrowed to true by the if above)
        this.ack(p);
      }
    }
    (this.journal as WorkerJournal).restart();
    this.checkpoints++;
  }

  /** A random mix of appends, rounds, direct flushes, checkpoints. */
  run(steps: number): void {
    for (let s = 0; s < steps; s++) {
      for (const p of this.parts) if (this.rng.chance(0.6)) this.append(p);
      const roll = this.rng.below(100);
      if (roll < 60) this.round();
      else if (roll < 72) this.flush(this.rng.pick(this.parts));
      else if (roll < 80) this.checkpoint();
      else if (roll < 84) {
        // The host's periodic checkpoint of one log: it must sync journaled bytes first.
        const p = this.rng.pick(this.parts);
        this.log(p).checkpoint();
        expect(this.log(p).hasJournaledUnsynced).toBe(false);
        this.ack(p);
      }
      // else: the writes stay unsynced and unacknowledged
    }
  }

  /** Appends to every log and journals it: at the crash some acknowledged values are only in the journal. */
  endWithJournaledRound(): void {
    for (const p of this.parts) this.append(p);
    expect(this.round(NO_LIMIT)).toBe(this.parts.length);
    for (const p of this.parts) expect(this.log(p).hasJournaledUnsynced).toBe(true);
  }

  /** The process is gone: its objects are dropped (crash() closed their descriptors). */
  drop(): void {
    for (const p of this.parts) p.log = null;
    this.journal = null;
  }

  /** The metadata's answer: the incarnation of the partition in a directory, null if none is there. */
  incarnationOf = (relative: string): string | null => this.parts.find((p) => p.relative === relative)?.incarnation ?? null;

  replay(lines: string[] = []): JournalReplayReport {
    return replayJournals({ dataDir: this.dataDir, files: this.files, log: (l) => lines.push(l), incarnationOf: this.incarnationOf });
  }

  /**
   * Opens every log and compares it with the model: every acknowledged value at
   * its offset, every value at the offset it was written at, nothing twice.
   * Returns what is wrong (empty: all good), and how many acknowledged offsets are missing.
   */
  check(): { problems: string[]; missingAcked: number } {
    const problems: string[] = [];
    let missingAcked = 0;
    for (const p of this.parts) {
      let log: PartitionLog;
      try {
        log = this.openLog(p);
      } catch (e) {
        problems.push(`${p.relative}: does not open: ${(e as Error).message}`);
        missingAcked += p.acked;
        continue;
      }
      const { offsets, values } = readValues(log);
      const seen = new Set<string>();
      for (let i = 0; i < offsets.length; i++) {
        if (offsets[i] !== i) problems.push(`${p.relative}: offset ${offsets[i]} at position ${i}`);
        if (values[i] !== p.written[offsets[i]]) problems.push(`${p.relative}: offset ${offsets[i]} holds ${values[i]}, written ${p.written[offsets[i]]}`);
        if (seen.has(values[i])) problems.push(`${p.relative}: ${values[i]} twice`);
        seen.add(values[i]);
      }
      if (offsets.length !== log.logEndOffset) problems.push(`${p.relative}: read ${offsets.length} offsets, log end ${log.logEndOffset}`);
      if (log.logEndOffset < p.acked) {
        missingAcked += p.acked - log.logEndOffset;
        problems.push(`${p.relative}: acknowledged up to ${p.acked}, log ends at ${log.logEndOffset}`);
      }
    }
    return { problems, missingAcked };
  }

  /** After a good recovery: the model forgets what was lost unacknowledged; the log end is durable. */
  settle(): void {
    for (const p of this.parts) {
      const log = this.log(p);
      expect(log.durableOffset).toBe(log.logEndOffset);
      p.written.length = log.logEndOffset;
      p.acked = log.durableOffset;
    }
  }

  closeLogs(): void {
    for (const p of this.parts) {
      p.log?.close();
      p.log = null;
    }
    this.journal?.close();
    this.journal = null;
  }
}

function journalFiles(dataDir: string): string[] {
  const dir = path.join(dataDir, JOURNAL_DIR_NAME);
  return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
}

describe("power loss, then replay", () => {
  const seeds = [1, 2, 3, 4, 5, 6];
  const modes: CrashMode[] = ["drop-unsynced", "tear"];

  for (const mode of modes) {
    test(`${mode}: every acknowledged value is back at its offset after the replay, nothing twice, and the journals are gone (${seeds.length} seeds × 3 crashes)`, () => {
      let applied = 0;
      let rolls = 0;
      let checkpoints = 0;
      let directFlushes = 0;
      for (const seed of seeds) {
        const dataDir = path.join(root, `${mode}-${seed}`);
        const files = new FaultyFileOps(pageCache, { powerLoss: true, seed });
        const w = new Worker(dataDir, files, new Rng(seed), 3);
        for (let cycle = 0; cycle < 3; cycle++) {
          w.start();
          w.run(40);
          w.endWithJournaledRound();
          rolls += w.parts.reduce((n, p) => n + w.log(p).segmentCount - 1, 0);
          files.crash(mode);
          w.drop();
          const lines: string[] = [];
          const report = w.replay(lines);
          const where = `seed ${seed}, cycle ${cycle}`;
          expect({ where, lines }).toEqual({ where, lines: [] });
          expect(report.journals).toBe(1);
          // The last round journaled every log: the current generation names all three.
          expect(report.records).toBeGreaterThanOrEqual(3);
          expect(report.recordsSkipped).toBe(0);
          expect(report.recordsApplied).toBe(report.records);
          expect(report.segments).toBeGreaterThanOrEqual(3);
          applied += report.recordsApplied;
          expect(journalFiles(dataDir)).toEqual([]);
          // The power goes again right after the replay: what it wrote back was synced before the journal went.
          files.crash("drop-unsynced");
          const { problems } = w.check();
          expect({ where, problems }).toEqual({ where, problems: [] });
          w.settle();
          // The logs go on after their replay: appends continue at the log end.
          for (const p of w.parts) w.append(p);
          w.closeLogs();
          for (const p of w.parts) p.acked = p.written.length; // closed cleanly: all of it is durable
        }
        checkpoints += w.checkpoints;
        directFlushes += w.directFlushes;
        // After the last clean close, everything written is there.
        expect(w.check().problems).toEqual([]);
        w.closeLogs();
      }
      // The runs did what they are for: segments rolled, checkpoints and direct flushes happened, records were written back.
      expect(rolls).toBeGreaterThan(0);
      expect(checkpoints).toBeGreaterThan(seeds.length);
      expect(directFlushes).toBeGreaterThan(seeds.length);
      expect(applied).toBeGreaterThan(0);
    });
  }

  test("negative control: without the replay, acknowledged values that only the journal held are missing", () => {
    let missing = 0;
    for (const seed of [11, 12, 13]) {
      const dataDir = path.join(root, `control-${seed}`);
      const files = new FaultyFileOps(pageCache, { powerLoss: true, seed });
      const w = new Worker(dataDir, files, new Rng(seed), 3);
      w.start();
      w.run(30);
      w.endWithJournaledRound();
      files.crash("drop-unsynced");
      w.drop();
      // Reopened without the replay: the journaled, unsynced tail is gone from every log.
      const control = w.check();
      expect(control.missingAcked).toBeGreaterThan(0);
      for (const p of w.parts) expect(w.log(p).logEndOffset).toBeLessThan(p.acked);
      missing += control.missingAcked;
      // Closed without an append (a broker never opens a partition before the replay; this one only looked).
      for (const p of w.parts) w.log(p).close();
      // The journal is still there, and the replay gives the values back.
      expect(journalFiles(dataDir)).toEqual([path.basename(w.journalPath)]);
      const report = w.replay();
      expect(report.recordsApplied).toBeGreaterThanOrEqual(3);
      expect(w.check().problems).toEqual([]);
      w.closeLogs();
    }
    expect(missing).toBeGreaterThan(0);
  });

  test("journals of several workers are all replayed", () => {
    const files = new FaultyFileOps(pageCache, { powerLoss: true, seed: 5 });
    const workers = [0, 1, 2].map((i) => new Worker(root, files, new Rng(70 + i), 2, { worker: i, topic: `w${i}` }));
    for (const w of workers) w.start();
    for (let i = 0; i < 10; i++) for (const w of workers) w.run(2);
    for (const w of workers) w.endWithJournaledRound();
    files.crash("drop-unsynced");
    for (const w of workers) w.drop();
    const report = replayJournals({
      dataDir: root,
      files,
      log: () => {},
      incarnationOf: (relative) => workers.map((w) => w.incarnationOf(relative)).find((i) => i !== null) ?? null,
    });
    expect(report.journals).toBe(3);
    expect(report.recordsSkipped).toBe(0);
    expect(journalFiles(root)).toEqual([]);
    for (const w of workers) {
      expect(w.check().problems).toEqual([]);
      w.closeLogs();
    }
  });

  test("records of an older generation are not replayed: the checkpoint synced their segments", () => {
    const files = new FaultyFileOps(realFileOps, { powerLoss: true });
    const w = new Worker(root, files, new Rng(21), 2);
    w.start();
    for (const p of w.parts) w.append(p);
    expect(w.round(NO_LIMIT)).toBe(2);
    w.checkpoint();
    // A new generation with nothing in it yet.
    files.crash("drop-unsynced");
    w.drop();
    const report = w.replay();
    expect(report.records).toBe(0);
    expect(report.recordsApplied).toBe(0);
    expect(journalFiles(root)).toEqual([]);
    expect(w.check().problems).toEqual([]);
    w.closeLogs();
  });
});

describe("the recovery point moves with each journal round", () => {
  /** One log with a synced prefix and a journaled tail; the crash keeps the recovery point's page, not the segment's. */
  function journaledTailLost(): { w: Worker; files: FaultyFileOps } {
    const files = new FaultyFileOps(realFileOps, { powerLoss: true });
    const w = new Worker(root, files, new Rng(81), 1);
    w.start();
    const p = w.parts[0];
    w.append(p);
    w.flush(p);
    w.append(p);
    w.append(p);
    expect(w.round(NO_LIMIT)).toBe(1);
    expect(w.log(p).segmentCount).toBe(1);
    // The disk wrote the recovery point's page (written by markJournaled, unsynced) and not the segment's tail.
    const rpFile = path.join(p.dir, RECOVERY_POINT_FILE);
    const rp = fs.readFileSync(rpFile);
    files.crash("drop-unsynced");
    w.drop();
    fs.writeFileSync(rpFile, rp);
    return { w, files };
  }

  test("with the journal lost too, recovery refuses the log (durable data is missing) instead of serving it without acknowledged values", () => {
    const { w } = journaledTailLost();
    fs.rmSync(path.join(root, JOURNAL_DIR_NAME), { recursive: true });
    const { problems, missingAcked } = w.check();
    expect(missingAcked).toBe(w.parts[0].acked);
    expect(problems.length).toBe(1);
    expect(problems[0]).toContain("durable data is missing");
    expect(() => PartitionLog.open({ dir: w.parts[0].dir, config: CONFIG, files: w.files })).toThrow(LogError);
  });

  test("with the journal replayed first, the same log opens with every acknowledged value", () => {
    const { w } = journaledTailLost();
    const report = w.replay();
    expect(report.recordsApplied).toBe(1);
    expect(w.check().problems).toEqual([]);
    w.closeLogs();
  });
});

describe("what the replay skips", () => {
  test("records of a deleted topic, for a sealed segment retention removed, or naming a directory outside the data dir are skipped", () => {
    const files = new FaultyFileOps(realFileOps, { powerLoss: true });
    // Partition 0 keeps one segment; partition 1 rolls and retention then removes its sealed segments.
    const config = testConfig({ "segment.bytes": 1200, "index.interval.bytes": 256, "retention.bytes": 1200 });
    const w = new Worker(root, files, new Rng(91), 3, { config });
    w.start();
    const [kept, retained, deleted] = w.parts;
    // The segment each of partition 1's records belongs to.
    const retainedRecordSegments: number[] = [];
    for (let i = 0; i < 12; i++) {
      w.append(retained);
      if (i < 3) w.append(kept);
      if (i < 3) w.append(deleted);
      retainedRecordSegments.push(w.log(retained).unsyncedSegmentBaseOffset);
      expect(w.round(NO_LIMIT)).toBe(i < 3 ? 3 : 1);
    }
    expect(w.log(retained).segmentCount).toBeGreaterThan(2);
    const removed = w.log(retained).applyRetention();
    expect(removed.deletedSegments).toBeGreaterThan(0);
    const recordsForRemovedSegments = retainedRecordSegments.filter((base) => !fs.existsSync(path.join(retained.dir, segmentFileName(base, LOG_SUFFIX)))).length;
    expect(recordsForRemovedSegments).toBeGreaterThan(0);
    expect(recordsForRemovedSegments).toBeLessThan(retainedRecordSegments.length);
    // A record naming a directory outside the data dir (never written by a host; a damaged or foreign journal),
    // where a segment file of that name does exist.
    const outside = path.join(path.dirname(root), `${path.basename(root)}-outside`);
    fs.mkdirSync(outside);
    const outsideSegment = path.join(outside, segmentFileName(0, LOG_SUFFIX));
    fs.writeFileSync(outsideSegment, "");
    try {
      const journal = w.journal as WorkerJournal;
      const stray = readAll(w.log(kept))[0].bytes;
      journal.begin();
      const at = journal.beginRecord(journalDirKey(journalPartitionName(path.relative(root, outside), "id-t")), 0, 0, stray.length);
      journal.roundBuffer.set(stray, at);
      journal.endRecord();
      journal.commit();
      files.crash("drop-unsynced");
      w.drop();
      // The topic of partition 2 was deleted since: its directory is gone, the metadata names no partition there.
      fs.rmSync(deleted.dir, { recursive: true });
      const asked: string[] = [];
      const report = replayJournals({
        dataDir: root,
        files,
        log: () => {},
        incarnationOf: (relative) => {
          asked.push(relative);
          // Anything else would pass for the same incarnation: only the path check keeps the outside one out.
          return relative === deleted.relative ? null : "id-t";
        },
      });
      expect(new Set(asked)).toEqual(new Set([kept.relative, retained.relative, deleted.relative]));
      const deletedRecords = 3;
      expect(report.recordsSkipped).toBe(recordsForRemovedSegments + deletedRecords + 1);
      expect(report.recordsApplied).toBe(report.records - report.recordsSkipped);
      expect(fs.readFileSync(outsideSegment).length).toBe(0);
      // A deleted partition is not created again by the replay.
      expect(fs.existsSync(deleted.dir)).toBe(false);
      expect(journalFiles(root)).toEqual([]);
      // The others got their journaled tails back.
      const k = PartitionLog.open({ dir: kept.dir, config, files });
      expect(readValues(k).values).toEqual(kept.written);
      k.close();
      const r = PartitionLog.open({ dir: retained.dir, config, files });
      const { offsets, values } = readValues(r);
      expect(offsets[0]).toBe(r.logStartOffset);
      expect(values).toEqual(retained.written.slice(r.logStartOffset));
      expect(r.logEndOffset).toBe(retained.acked);
      r.close();
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  test("no journal directory: nothing to do", () => {
    const report = replayJournals({ dataDir: root, files: realFileOps, log: () => {}, incarnationOf: () => "id" });
    expect(report).toEqual({ journals: 0, records: 0, recordsApplied: 0, bytesApplied: 0, segments: 0, recordsSkipped: 0 });
  });

  test("a journal with a damaged header is reported, replays nothing, and is removed", () => {
    const w = new Worker(root, realFileOps, new Rng(41), 1);
    w.start();
    w.append(w.parts[0]);
    expect(w.round(NO_LIMIT)).toBe(1);
    w.closeLogs();
    const bytes = fs.readFileSync(w.journalPath);
    bytes[0] ^= 1;
    fs.writeFileSync(w.journalPath, bytes);
    const before = segmentBytes(w.parts[0].dir);
    const lines: string[] = [];
    const report = w.replay(lines);
    expect(report.journals).toBe(1);
    expect(report.records).toBe(0);
    expect(report.recordsApplied).toBe(0);
    expect(lines.length).toBe(1);
    expect(lines[0]).toContain("no valid header");
    expect(journalFiles(root)).toEqual([]);
    expect(segmentBytes(w.parts[0].dir)).toEqual(before);
  });
});

describe("LogAppendTime", () => {
  test("replayed batches keep the log-append timestamps they were stored with", () => {
    const T0 = Date.now() - 3_600_000;
    let clock = T0;
    const files = new FaultyFileOps(realFileOps, { powerLoss: true });
    const config = testConfig({ "message.timestamp.type": "LogAppendTime" });
    const w = new Worker(root, files, new Rng(51), 1, { config, nowMs: () => clock });
    w.start();
    const p = w.parts[0];
    for (let i = 0; i < 6; i++) {
      clock += 1000;
      // One record per batch, stamped by the producer with a time long past.
      const r = w.log(p).append(encodeBatch([{ key: "k", value: utf8.encode(`v${i}`), timestamp: 1_000 + i }]));
      expect(r.logAppendTimeMs).toBe(clock);
    }
    expect(w.round(NO_LIMIT)).toBe(1);
    const before = readAll(w.log(p));
    const stamps = (bs: typeof before) =>
      bs.map((b) => {
        const d = decodeBatch(b.bytes);
        return { base: b.baseOffset, max: d.header.maxTimestamp, records: d.records.map((r) => r.timestamp) };
      });
    const stampsBefore = stamps(before);
    // The log stamped them with its clock, an hour ago.
    expect(stampsBefore.map((s) => Number(s.max))).toEqual([1, 2, 3, 4, 5, 6].map((i) => T0 + 1000 * i));
    files.crash("drop-unsynced");
    w.drop();
    const report = w.replay();
    expect(report.recordsApplied).toBe(1);
    // Reopened with the real clock, an hour later.
    const log = PartitionLog.open({ dir: p.dir, config, files });
    const after = readAll(log);
    expect(stamps(after)).toEqual(stampsBefore);
    // Byte for byte the batches that were acknowledged (CRC included).
    expect(after.map((b) => b.bytes)).toEqual(before.map((b) => b.bytes));
    // The time index agrees.
    expect(log.offsetForTimestamp(T0 + 3000)).toBe(before[2].baseOffset);
    log.close();
  });
});

describe("process crash (kill -9), no power loss", () => {
  test("the replay changes no segment byte and every written value is still there", () => {
    // Real files; the kill closes every descriptor without a flush (the page cache keeps everything).
    const open = new Set<number>();
    const tracked: FileOps = {
      ...realFileOps,
      open: (p, flags) => {
        const fd = realFileOps.open(p, flags);
        open.add(fd);
        return fd;
      },
      close: (fd) => {
        open.delete(fd);
        realFileOps.close(fd);
      },
    };
    for (const seed of [61, 62, 63]) {
      const dataDir = path.join(root, `kill-${seed}`);
      const w = new Worker(dataDir, tracked, new Rng(seed), 3);
      w.start();
      w.run(40);
      w.endWithJournaledRound();
      for (const p of w.parts) w.append(p); // written, not synced, not journaled
      for (const fd of open) realFileOps.close(fd);
      open.clear();
      w.drop();
      w.files = realFileOps;
      const before = w.parts.map((p) => segmentBytes(p.dir));
      const report = w.replay();
      expect(report.recordsApplied).toBeGreaterThan(0);
      expect(report.recordsSkipped).toBe(0);
      expect(journalFiles(dataDir)).toEqual([]);
      // Written back over identical bytes: nothing changed, nothing grew.
      expect(w.parts.map((p) => segmentBytes(p.dir))).toEqual(before);
      // Everything written survives a process crash, acknowledged or not.
      for (const p of w.parts) p.acked = p.written.length;
      expect(w.check().problems).toEqual([]);
      w.closeLogs();
    }
  });
});

describe("a partition deleted and created again since its records were journaled", () => {
  // How a journal can name a directory that now holds another partition: JournalRounds.drop() keeps
  // the file when a partition of its generation is offline, and runs on without a journal; a topic deleted
  // and created again after that is no longer checkpointed out of it, and a clean shutdown does not remove
  // it. The records name the partition's incarnation (its topic's id), and the replay skips other ones.
  function journalOldThenRecreate(): { dir: string; relative: string; values: string[] } {
    const relative = path.join("topics", "t", "0");
    const dir = path.join(root, relative);
    const journal = WorkerJournal.create(workerJournalPath(root, 0), realFileOps, JOURNAL_CAPACITY);
    // The old topic (id "id-old"): one journaled round of four one-record batches.
    const old = PartitionLog.open({ dir, config: CONFIG });
    for (const v of ["old-0", "old-1", "old-2", "old-3"]) old.append(encodeBatch([{ key: "k", value: utf8.encode(v), timestamp: 1 }]));
    const length = old.unsyncedLength();
    journal.begin();
    const at = journal.beginRecord(journalDirKey(journalPartitionName(relative, "id-old")), old.unsyncedSegmentBaseOffset, old.unsyncedPosition, length);
    old.readUnsynced(journal.roundBuffer, at);
    journal.endRecord();
    journal.commit();
    old.markJournaled();
    // Dropped and kept (another partition of this generation went offline): closed, not removed.
    journal.close();
    // The topic is deleted (no checkpoint: the host has no journal any more) and created again (id "id-new"),
    // with batches of the very same sizes: written over them, the old ones would look like the new topic's.
    old.deleteFiles();
    const fresh = PartitionLog.open({ dir, config: CONFIG });
    const values = ["new-0", "new-1", "new-2", "new-3"];
    for (const v of values) fresh.append(encodeBatch([{ key: "k", value: utf8.encode(v), timestamp: 1 }]));
    expect(fresh.flush()).toBe(4); // acknowledged
    fresh.close(); // clean shutdown; the old journal stays
    expect(journalFiles(root)).toEqual(["worker-0.journal"]);
    return { dir, relative, values };
  }

  test("its old records are skipped at the next start, and the new topic keeps its acknowledged values", () => {
    const { dir, relative, values } = journalOldThenRecreate();
    const segment = segmentBytes(dir);
    const report = replayJournals({ dataDir: root, files: realFileOps, log: () => {}, incarnationOf: (r) => (r === relative ? "id-new" : null) });
    expect(report).toMatchObject({ records: 1, recordsApplied: 0, recordsSkipped: 1, segments: 0 });
    expect(journalFiles(root)).toEqual([]);
    expect(segmentBytes(dir)).toEqual(segment);
    const reopened = PartitionLog.open({ dir, config: CONFIG });
    expect(readValues(reopened).values).toEqual(values);
    reopened.close();
  });

  test("control: replayed as if it were the same incarnation, the old batches take the new topic's offsets", () => {
    const { dir, relative } = journalOldThenRecreate();
    const report = replayJournals({ dataDir: root, files: realFileOps, log: () => {}, incarnationOf: (r) => (r === relative ? "id-old" : null) });
    expect(report.recordsApplied).toBe(1);
    // Nothing looks damaged: a consumer would read the old topic's records at offsets 0..3.
    const reopened = PartitionLog.open({ dir, config: CONFIG });
    expect(readValues(reopened).values).toEqual(["old-0", "old-1", "old-2", "old-3"]);
    reopened.close();
  });

  test("a record that names no incarnation is skipped", () => {
    const relative = path.join("topics", "t", "0");
    const dir = path.join(root, relative);
    const log = PartitionLog.open({ dir, config: CONFIG });
    log.append(encodeBatch([{ key: "k", value: utf8.encode("v"), timestamp: 1 }]));
    const length = log.unsyncedLength();
    const journal = WorkerJournal.create(workerJournalPath(root, 0), realFileOps, JOURNAL_CAPACITY);
    journal.begin();
    const at = journal.beginRecord(journalDirKey(relative), log.unsyncedSegmentBaseOffset, log.unsyncedPosition, length);
    log.readUnsynced(journal.roundBuffer, at);
    journal.endRecord();
    journal.commit();
    journal.close();
    log.close();
    const report = replayJournals({ dataDir: root, files: realFileOps, log: () => {}, incarnationOf: () => "id-t" });
    expect(report).toMatchObject({ records: 1, recordsApplied: 0, recordsSkipped: 1 });
  });
});
