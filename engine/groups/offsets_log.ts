// Committed offsets, kept durably in the broker's own log
// (`<dataDir>/__consumer_offsets/0/`, a PartitionLog of RecordBatch v2, records
// as in offset_record.ts) and in memory for reads.
//
// Durability contract: commit() resolves only after an fdatasync covering every
// record of that commit returned; only then do get()/entries() show the new
// values (so nothing a client ever read back as committed can vanish in a
// crash). Commits that arrive in the same turn of the event loop share one
// append and one fdatasync (group commit): the first commit of a turn schedules
// a flush with setImmediate, which runs after every socket read of that turn.
// The append and the fdatasync are synchronous on the router thread: ~0.2–1 ms
// once per turn that carried commits, which a consumer sends every few seconds.
// A flush also moves the log's recovery point (the log does it itself, one
// small write without an fsync: exact after a kill -9, see
// workers/log/recovery_point.ts), so acked commits are below it after a crash
// and damage in them is reported, never cut as a torn tail. No checkpoint per
// flush: the log fsyncs its point at rolls and at close.
// Pending entries are bounded by OFFSET_COMMITS_PENDING_MAX (then
// COORDINATOR_NOT_AVAILABLE, retriable). A failed write rejects every commit
// of its flush with KAFKA_STORAGE_ERROR; the log is then offline and so is
// committing, until a restart recovers it.
//
// Start: every batch from the log start to the end is read and applied in
// order (later records win). The log's own recovery has already cut a torn
// tail. When the log holds far more records than live keys, it is compacted:
// a fresh log with one record per live key is written and fsynced beside it
// (`0.compacting/`), then swapped in by two renames and a directory fsync. A
// crash at any point leaves either the old or the new complete log, and
// open() finishes or discards a half-done swap.

import fs from "node:fs";
import path from "node:path";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import { OFFSET_COMMITS_PENDING_MAX } from "../../protocol/limits.ts";
import { BatchBuilder, forEachRecord } from "../../protocol/record_batch.ts";
import {
  OFFSETS_BUILDER_INITIAL_BYTES,
  OFFSETS_COMPACT_RATIO,
  OFFSETS_COMPACT_RECORDS_MIN,
  OFFSETS_LOAD_READ_BYTES,
  OFFSETS_RECORDS_PER_BATCH_MAX,
} from "../engine_limits.ts";
import { decodeOffsetRecord, encodeOffsetKey, encodeOffsetValue } from "./offset_record.ts";
import { type CommittedOffsetValue, type OffsetEntry, type OffsetStore, partitionKey, sortedEntries } from "./offset_store.ts";

/** What the offsets log needs of a partition log (workers' PartitionLog has it). */
export interface OffsetsLogFile {
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  readonly sizeBytes: number;
  append(records: Uint8Array, nowMs?: number): { baseOffset: number; lastOffset: number };
  /**
   * fdatasync of everything appended; throws when it failed. Must also move
   * the log's recovery point to what it made durable (workers' PartitionLog
   * does, with one small write and no fsync), so that after a crash recovery
   * judges damage in acked commits as damage, never as a torn tail to cut.
   */
  flush(): unknown;
  planRead(offset: number, maxBytes: number, limitOffset: number): { length: number } | { error: number };
  readInto(plan: { length: number }, target: Uint8Array, targetOffset: number): number;
  close(): void;
}

export type OpenOffsetsLogFile = (dir: string) => OffsetsLogFile;

export interface OffsetsLogOptions {
  /** `<dataDir>/__consumer_offsets`. */
  readonly dir: string;
  readonly openFile: OpenOffsetsLogFile;
  readonly log?: (line: string) => void;
  /** Compact when the log holds more than this many records and over OFFSETS_COMPACT_RATIO per live key. */
  readonly compactRecordsMin?: number;
}

interface PendingCommit {
  readonly groupId: string;
  readonly entries: readonly OffsetEntry[];
  resolve(): void;
  reject(e: unknown): void;
}

export interface OffsetsLoadReport {
  records: number;
  liveKeys: number;
  skipped: number;
  compacted: boolean;
  loadMs: number;
}

export class OffsetsLog implements OffsetStore {
  private readonly byGroup = new Map<string, Map<string, OffsetEntry>>();
  private pending: PendingCommit[] = [];
  private pendingEntries = 0;
  private flushScheduled = false;
  private file: OffsetsLogFile;
  private recordsInLog = 0;
  private liveKeys = 0;
  private failed: SluiceError | undefined;
  private closed = false;
  private readonly builder = new BatchBuilder({ initialBytes: OFFSETS_BUILDER_INITIAL_BYTES });
  readonly loadReport: OffsetsLoadReport;

  private constructor(private readonly opts: OffsetsLogOptions) {
    const started = performance.now();
    fs.mkdirSync(opts.dir, { recursive: true });
    finishSwap(opts.dir);
    this.file = opts.openFile(path.join(opts.dir, "0"));
    const { records, skipped } = this.load();
    this.recordsInLog = records;
    let compacted = false;
    if (this.compactionDue()) {
      this.compact();
      compacted = true;
    }
    this.loadReport = { records, liveKeys: this.liveKeys, skipped, compacted, loadMs: performance.now() - started };
  }

  /** Opens (recovering and loading) the offsets log. Synchronous: the broker serves no group request before it. */
  static open(opts: OffsetsLogOptions): OffsetsLog {
    return new OffsetsLog(opts);
  }

  get(groupId: string, topic: string, partition: number): CommittedOffsetValue | undefined {
    return this.byGroup.get(groupId)?.get(partitionKey(topic, partition));
  }

  entries(groupId: string): OffsetEntry[] {
    return sortedEntries(this.byGroup.get(groupId));
  }

  groups(): Iterable<string> {
    return this.byGroup.keys();
  }

  commit(groupId: string, entries: readonly OffsetEntry[]): Promise<void> {
    if (this.closed) return Promise.reject(new SluiceError(ErrorCode.COORDINATOR_NOT_AVAILABLE, "the offsets log is closed"));
    if (this.failed !== undefined) return Promise.reject(this.failed);
    if (entries.length === 0) return Promise.resolve();
    if (this.pendingEntries + entries.length > OFFSET_COMMITS_PENDING_MAX) {
      return Promise.reject(new SluiceError(ErrorCode.COORDINATOR_NOT_AVAILABLE, `${this.pendingEntries} offsets already wait for the offsets log; retry`));
    }
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ groupId, entries, resolve, reject });
      this.pendingEntries += entries.length;
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flushPending());
      }
    });
  }

  /** Writes what is pending, then closes the file. */
  close(): void {
    if (this.closed) return;
    if (this.pending.length > 0) this.flushPending();
    this.closed = true;
    this.file.close();
  }

  /** Records in the log (including replaced ones), for tests and the load report. */
  get records(): number {
    return this.recordsInLog;
  }

  // ---- writing ----

  private flushPending(): void {
    this.flushScheduled = false;
    const batch = this.pending;
    this.pending = [];
    this.pendingEntries = 0;
    if (batch.length === 0) return;
    if (this.failed !== undefined || this.closed) {
      const e = this.failed ?? new SluiceError(ErrorCode.COORDINATOR_NOT_AVAILABLE, "the offsets log is closed");
      for (const c of batch) c.reject(e);
      return;
    }
    let written = 0;
    try {
      const now = Date.now();
      const chunks: Uint8Array[] = [];
      this.builder.reset(now);
      let inBatch = 0;
      for (const c of batch) {
        for (const e of c.entries) {
          this.builder.append({ key: encodeOffsetKey(c.groupId, e.topic, e.partition), value: encodeOffsetValue(e), timestamp: e.timestampMs });
          written++;
          if (++inBatch === OFFSETS_RECORDS_PER_BATCH_MAX) {
            chunks.push(this.builder.finish());
            this.builder.reset(now);
            inBatch = 0;
          }
        }
      }
      if (inBatch > 0) chunks.push(this.builder.finish());
      this.file.append(concat(chunks), now);
      this.file.flush();
    } catch (cause) {
      this.failed = new SluiceError(ErrorCode.KAFKA_STORAGE_ERROR, `the offsets log failed: ${(cause as Error)?.message ?? cause}`, { cause });
      this.opts.log?.(`groups: ${this.failed.message}; commits are refused until the broker restarts`);
      for (const c of batch) c.reject(this.failed);
      return;
    }
    this.recordsInLog += written;
    for (const c of batch) for (const e of c.entries) this.apply(c.groupId, e);
    for (const c of batch) c.resolve();
    if (this.compactionDue()) {
      try {
        this.compact();
      } catch (e) {
        // The old log is still complete and in place: keep using it, try again after the next commit.
        this.opts.log?.(`groups: compacting the offsets log failed: ${(e as Error)?.message ?? e}`);
      }
    }
  }

  private apply(groupId: string, e: OffsetEntry): void {
    let g = this.byGroup.get(groupId);
    if (g === undefined) this.byGroup.set(groupId, (g = new Map()));
    const key = partitionKey(e.topic, e.partition);
    if (!g.has(key)) this.liveKeys++;
    g.set(key, e);
  }

  // ---- loading ----

  private load(): { records: number; skipped: number } {
    const f = this.file;
    let offset = f.logStartOffset;
    let records = 0;
    let skipped = 0;
    let buf = new Uint8Array(OFFSETS_LOAD_READ_BYTES);
    while (offset < f.logEndOffset) {
      const plan = f.planRead(offset, buf.length, f.logEndOffset);
      if ("error" in plan) throw new SluiceError(plan.error, `offsets log: cannot read at offset ${offset}`);
      if (plan.length === 0) break;
      if (plan.length > buf.length) buf = new Uint8Array(plan.length); // one batch larger than the window
      const n = f.readInto(plan, buf, 0);
      let pos = 0;
      const before = offset;
      while (pos + 12 <= n) {
        let last = -1;
        const { size } = forEachRecord(buf.subarray(0, n), pos, (r) => {
          const o = Number(r.offset);
          last = o;
          if (o < offset) return; // the first batch may begin below where we asked
          records++;
          const decoded = decodeOffsetRecord(r.key, r.value);
          if (typeof decoded === "string") skipped++;
          else this.apply(decoded.groupId, decoded.entry);
        });
        pos += size;
        if (last >= offset) offset = last + 1;
      }
      if (offset === before) throw new Error(`offsets log: no progress reading at offset ${offset}`);
    }
    if (skipped > 0) this.opts.log?.(`groups: ${skipped} records of the offsets log could not be read and were skipped`);
    return { records, skipped };
  }

  // ---- compaction ----

  private compactionDue(): boolean {
    const min = this.opts.compactRecordsMin ?? OFFSETS_COMPACT_RECORDS_MIN;
    return this.recordsInLog > min && this.recordsInLog > OFFSETS_COMPACT_RATIO * this.liveKeys;
  }

  /** Writes the live offsets to a fresh log and swaps it in (see the file comment). */
  private compact(): void {
    const dir = this.opts.dir;
    const next = path.join(dir, "0.compacting");
    fs.rmSync(next, { recursive: true, force: true });
    const fresh = this.opts.openFile(next);
    try {
      const now = Date.now();
      let inBatch = 0;
      const chunks: Uint8Array[] = [];
      this.builder.reset(now);
      for (const [groupId, g] of this.byGroup) {
        for (const e of g.values()) {
          this.builder.append({ key: encodeOffsetKey(groupId, e.topic, e.partition), value: encodeOffsetValue(e), timestamp: e.timestampMs });
          if (++inBatch === OFFSETS_RECORDS_PER_BATCH_MAX) {
            chunks.push(this.builder.finish());
            this.builder.reset(now);
            inBatch = 0;
          }
          if (chunks.length === 64) fresh.append(concat(chunks.splice(0)), now);
        }
      }
      if (inBatch > 0) chunks.push(this.builder.finish());
      if (chunks.length > 0) fresh.append(concat(chunks), now);
      fresh.flush();
    } finally {
      fresh.close();
    }
    fsyncDir(dir);
    this.file.close();
    const current = path.join(dir, "0");
    const old = path.join(dir, "0.old");
    fs.rmSync(old, { recursive: true, force: true });
    fs.renameSync(current, old);
    fs.renameSync(next, current);
    fsyncDir(dir);
    fs.rmSync(old, { recursive: true, force: true });
    this.file = this.opts.openFile(current);
    const before = this.recordsInLog;
    this.recordsInLog = this.liveKeys;
    this.opts.log?.(`groups: compacted the offsets log from ${before} to ${this.liveKeys} records`);
  }
}

/** Completes or discards a swap a crash interrupted (see the file comment). */
function finishSwap(dir: string): void {
  const current = path.join(dir, "0");
  const next = path.join(dir, "0.compacting");
  const old = path.join(dir, "0.old");
  if (!fs.existsSync(current) && fs.existsSync(next)) {
    // Crashed between the two renames: the compacted log was complete (fsynced before the first rename).
    fs.renameSync(next, current);
    fsyncDir(dir);
  }
  fs.rmSync(next, { recursive: true, force: true }); // a compaction that did not reach its swap
  fs.rmSync(old, { recursive: true, force: true });
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let p = 0;
  for (const c of chunks) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}
