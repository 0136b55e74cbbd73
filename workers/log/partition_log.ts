// The durable log of one partition: segments on disk, appends, reads, group
// commit, recovery and retention.
//
// Durability contract
// - append() returns once the batches are WRITTEN: validated, given offsets
//   and written into the active segment file (page cache) at an explicit
//   position. A written batch survives a crash of the process, not a power
//   loss. This is the point an acks=1 produce is answered.
// - stage() + writeStaged() is append() split in two, so that many small
//   appends cost one write syscall: stage() validates one append (all or nothing, as
//   append() does), gives it its offsets and keeps a view of its bytes;
//   writeStaged() writes every staged view at the segment end, gathered into
//   vectored writes of up to WRITE_CHUNK_BYTES_MAX (log_limits.ts says why),
//   each of whole batches: a batch is never split between two syscalls.
//   A staged append is NOT written: it must not be acknowledged before
//   writeStaged() returned, and its bytes must not change until then. If that
//   write (or one stage() had to do first, see stage()) fails, writeStaged()
//   throws: no staged append may be acknowledged.
// - A write the disk refuses for lack of space (ENOSPC, EDQUOT) is undone and
//   the log stays online: the segment is truncated back to where the write
//   started (ftruncate needs no space), so no partial batch stays in the file;
//   the offsets staged for it are given again (the log end does not move); every
//   append in it fails with KAFKA_STORAGE_ERROR saying the disk is full. For
//   DISK_FULL_RETRY_AFTER_MS after that, stage() refuses appends the same way
//   without touching the disk; the next one after it tries again, so writing
//   resumes once space is freed, without a restart. A roll refused for space
//   (writing the sealed segment's index files, creating the new segment) leaves
//   the old segment active and is tried again by the next append. If the
//   truncation itself fails, the log goes offline as below.
// - A batch is DURABLE once flush() has returned a durableOffset above its last
//   offset: an fdatasync that started after the write completed. Only then may
//   an acks=all produce be answered, and only durable data is below the high
//   watermark a consumer reads up to. The host calls flush() when flushDue()
//   says so (flush.bytes, or flush.interval.ms after the oldest unsynced
//   write): one fdatasync covers every append since the last one.
// - A failed fdatasync (any error), or a write failing otherwise than for
//   space (EIO), takes the partition offline for good: it is
//   never retried (after EIO the page cache state is unknowable), nothing in
//   the failed group is reported durable, and every later append, flush and
//   read fails with KAFKA_STORAGE_ERROR.
// - Every successful flush records the new durable point in the recovery
//   point file (one small pwrite, no fsync; recovery_point.ts says why that is
//   enough), so after a kill -9 everything durable is below the point, where
//   damage is reported and never cut. Rolls, checkpoint() and close() also
//   fsync it.
// - Rolling a segment flushes it first, so every sealed segment is durable in
//   full; recovery trusts sealed segments and data below the recovery point,
//   validates the rest, and cuts only a torn tail of the active segment (see
//   recovery.ts).
//
// Reads never serve a byte the disk changed
// - Trusting durable data at open keeps opening fast, so the check happens on
//   the read path instead: readInto() (and read()) walk the batches just read
//   and check each one's framing, base offset and CRC-32C before the bytes
//   count as read (batch_verify.ts).
// - A read serves only the whole, valid batches before the first bad one. If
//   the very first batch of a read is bad, the read fails with a LogError
//   (CORRUPT_MESSAGE) naming segment, position and offset; so a consumer
//   positioned at a damaged batch gets that error on every fetch, never an
//   empty answer, and never the damaged bytes.
// - Damage found by a read is recorded (`corruption`: the first one found,
//   `corruptReads`: reads refused or cut short) for the host to publish. The
//   partition stays online: appends go on, and every offset not in a damaged
//   batch is still served. Nothing is ever cut or rewritten on a read.
// - planRead() reports damage it meets while finding batch boundaries (a
//   header that makes no sense) as { error: CORRUPT_MESSAGE }, recorded the
//   same way; a sealed index that must be rebuilt and cannot be (its log is
//   damaged) takes the partition offline, as damage found at open does.
//
// Descriptors: the active segment and the recovery point file stay open; at
// most SEALED_SEGMENT_FDS_MAX sealed segments are open at once, opened on
// demand by reads and closed least recently used first (segment_fds.ts). A
// segment retention deletes keeps its descriptor for file.delete.delay.ms only
// if it was open (recently read); a read planned on one already closed answers
// OFFSET_OUT_OF_RANGE, as it would after the delay.
//
// Threading: one owner. A PartitionLog belongs to the partition worker thread
// that opened it; nothing in it may run concurrently with anything else in it.
// All calls are synchronous. The bytes given to append() and the target of
// readInto() may be views over a SharedArrayBuffer.

import * as path from "node:path";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import {
  BatchError,
  forEachRecord,
  patchBaseOffset,
  patchLogAppendTime,
  validateBatch,
} from "../../protocol/record_batch.ts";
import { type FileOps, isOutOfSpace, readFully, realFileOps, writeGathered } from "./file_ops.ts";
import { FsyncBatcher } from "./fsync_batcher.ts";
import type { LogConfig } from "./log_config.ts";
import { LogError } from "./log_error.ts";
import {
  DISK_FULL_RETRY_AFTER_MS,
  LOG_OFFSET_MAX,
  SEALED_SEGMENT_FDS_MAX,
  SEGMENT_OFFSET_SPAN_MAX,
  WRITE_CHUNK_BYTES_MAX,
  WRITEV_BUFFERS_MAX,
} from "./log_limits.ts";
import { VerifiedPrefix, checkBatchAt, verifyBatches } from "./batch_verify.ts";
import { type RecoveryStats, rebuildSegment, recoverLog } from "./recovery.ts";
import { type RecoveryPoint, RecoveryPointWriter } from "./recovery_point.ts";
import { segmentsToDelete } from "./retention.ts";
import { LOG_SUFFIX, Segment, segmentFileName } from "./segment_file.ts";
import { BatchLocator } from "./segment_reader.ts";
import { ScanBuffer } from "./segment_scan.ts";
import { SegmentFds } from "./segment_fds.ts";
import { SegmentSet } from "./segment_set.ts";

export interface AppendResult {
  /** Offset of the first record of the first batch. */
  baseOffset: number;
  /** Offset of the last record of the last batch. */
  lastOffset: number;
  /** The time stamped into the batches for a LogAppendTime topic, else -1. */
  logAppendTimeMs: number;
  bytes: number;
  records: number;
}

/** Where the bytes of a read are: whole batches [position, position + length) of one segment. */
export interface ReadPlan {
  segment: Segment | null;
  position: number;
  length: number;
  /** Base offset of the first batch (at or below the offset asked for); the asked offset when empty. */
  firstOffset: number;
}

export type ReadPlanResult = ReadPlan | { error: number };

/** A record found by timestamp: its offset and its own timestamp. */
export interface TimestampedOffset {
  offset: number;
  timestampMs: number;
}

export interface OpenOptions {
  dir: string;
  config: LogConfig;
  files?: FileOps;
  nowMs?: () => number;
  /** Validate every segment from its start, not only above the recovery point (slow; for a suspect disk). */
  verifyAll?: boolean;
  /**
   * What to do with damage to durable data: "throw" (default) refuses to open;
   * "read-only" opens the intact part below the damage for reads only, offline,
   * with offlineError set to the LogError.
   */
  onDamage?: "throw" | "read-only";
  /** Budget for loaded sealed-segment indexes (default INDEX_CACHE_BYTES_MAX). */
  indexCacheBytes?: number;
  /** Sealed segments kept open at once (default SEALED_SEGMENT_FDS_MAX). */
  sealedSegmentFds?: number;
}

const OUT_OF_RANGE: { error: number } = Object.freeze({ error: ErrorCode.OFFSET_OUT_OF_RANGE });
const STORAGE_ERROR: { error: number } = Object.freeze({ error: ErrorCode.KAFKA_STORAGE_ERROR });
const CORRUPT: { error: number } = Object.freeze({ error: ErrorCode.CORRUPT_MESSAGE });
const READ_DAMAGE_CONSEQUENCE = "reads at this offset fail; nothing is cut";

/** A fresh result object (stage() fills one the caller passes, to allocate nothing per append). */
export function emptyAppendResult(): AppendResult {
  return { baseOffset: 0, lastOffset: -1, logAppendTimeMs: -1, bytes: 0, records: 0 };
}

/**
 * Per-batch facts of the staged appends (validated, offsets given, not written),
 * in file order, reused across writes. `positions` count from the first staged byte.
 */
class BatchScratch {
  positions: Float64Array = new Float64Array(64);
  sizes: Float64Array = new Float64Array(64);
  offsetCounts: Float64Array = new Float64Array(64);
  maxTimestamps: Float64Array = new Float64Array(64);

  ensure(n: number): void {
    if (n <= this.positions.length) return;
    const grow = (a: Float64Array): Float64Array => {
      const b = new Float64Array(Math.max(n, a.length * 2));
      b.set(a);
      return b;
    };
    this.positions = grow(this.positions);
    this.sizes = grow(this.sizes);
    this.offsetCounts = grow(this.offsetCounts);
    this.maxTimestamps = grow(this.maxTimestamps);
  }

  /** Moves entries [from, from + n) to the front, their positions less `bytesBefore`. */
  shiftToFront(from: number, n: number, bytesBefore: number): void {
    for (const a of [this.sizes, this.offsetCounts, this.maxTimestamps]) a.copyWithin(0, from, from + n);
    const p = this.positions;
    for (let i = 0; i < n; i++) p[i] = p[from + i] - bytesBefore;
  }
}

export class PartitionLog {
  readonly dir: string;
  readonly recovery: RecoveryStats;
  /** Sealed-segment indexes rebuilt after open because their files were damaged. */
  indexRebuilds = 0;
  /** Reads refused or cut short because a batch failed its check (see "Reads" above). */
  corruptReads = 0;
  /** Writes and rolls the disk refused for lack of space (each undone; see the durability contract). */
  outOfSpaceFailures = 0;

  private readonly files: FileOps;
  private readonly now: () => number;
  private cfg: LogConfig;
  private readonly segs: SegmentSet;
  private readonly fds: SegmentFds;
  private readonly locator: BatchLocator;
  private readonly batcher = new FsyncBatcher();
  private readonly recoveryPoint: RecoveryPointWriter;
  private readonly scratch = new BatchScratch();
  /** Views of the staged appends, in offset order (see stage()). At most WRITEV_BUFFERS_MAX. */
  private readonly staged: Uint8Array[] = [];
  /** The staged views cut at batch boundaries for writing (reused; see writeStaged()). */
  private readonly pieces: Uint8Array[] = [];
  /** Batches described in `scratch`, bytes and offsets of the staged appends. */
  private stagedBatches = 0;
  private stagedBytes = 0;
  private stagedOffsets = 0;
  /** The time of the first staged append (what the segment's age and the flush interval count from). */
  private stagedNowMs = 0;
  private durable: number;
  /** Byte position of `durable` in the active segment, and the active segment's max timestamp at that point. */
  private durablePosition: number;
  private durableMaxTimestamp: number;
  /**
   * Durable bytes of the active segment that only the worker journal holds
   * (worker_journal.ts): the segment itself has not been fdatasynced over them.
   * The next flush(), roll, checkpoint or close syncs it.
   */
  private journaledUnsynced = false;
  /** Bytes of the active segment the journal made durable since its last fdatasync. */
  private journaledUnsyncedBytesCount = 0;
  /** What readUnsynced() copied: markJournaled() makes exactly that durable. */
  private journalEndOffset = -1;
  private journalEndPosition = -1;
  private journalEndMaxTimestamp = -1;
  private failure: Error | null;
  /** The last write refused for space, while appends are refused without trying (until diskFullUntilMs). */
  private diskFull: SluiceError | null = null;
  private diskFullUntilMs = 0;
  /** A write stage() did failed for space: the next writeStaged() throws it (its appends were staged, not answered). */
  private unreportedWriteError: SluiceError | null = null;
  private damageFound: LogError | null = null;
  /** What the last planRead that answered CORRUPT_MESSAGE found (read() throws it). */
  private lastPlanDamage: LogError | null = null;
  private readonly verified = new VerifiedPrefix();
  private readonly readOnly: boolean;
  private closed = false;
  /** Deleted segments whose descriptors stay open until `closeAtMs` for reads already planned on them. */
  private readonly pendingClose: { segment: Segment; closeAtMs: number }[] = [];

  private constructor(opts: {
    dir: string;
    config: LogConfig;
    files: FileOps;
    now: () => number;
    segments: Segment[];
    recovery: RecoveryStats;
    damage: LogError | null;
    indexCacheBytes?: number;
    sealedSegmentFds?: number;
  }) {
    this.dir = opts.dir;
    this.files = opts.files;
    this.now = opts.now;
    this.cfg = opts.config;
    this.recovery = opts.recovery;
    this.segs = new SegmentSet(opts.indexCacheBytes);
    for (const s of opts.segments) this.segs.push(s);
    this.fds = new SegmentFds(opts.files, opts.sealedSegmentFds ?? SEALED_SEGMENT_FDS_MAX);
    this.locator = new BatchLocator(opts.files, (seg) => this.fds.fdOf(seg));
    this.failure = opts.damage;
    this.readOnly = opts.damage !== null;
    this.recoveryPoint = new RecoveryPointWriter(opts.files, opts.dir);
    const active = this.segs.active;
    this.durable = active.nextOffset;
    this.durablePosition = active.size;
    this.durableMaxTimestamp = active.maxTimestamp;
    if (!this.readOnly && active.size > 0) {
      // segment.ms counts from the first batch's timestamp, as Kafka does, but never from the future.
      this.segs.useIndexes(active, () => {});
      this.locator.headerAt(active, 0);
      const first = this.locator.maxTimestamp;
      const nowMs = this.now();
      active.rollBaseMs = first >= 0 && first < nowMs ? first : nowMs;
    }
  }

  /**
   * Opens (creating if missing) the partition directory and recovers it.
   * Throws LogError when durable data is damaged (unless onDamage is "read-only").
   */
  static open(opts: OpenOptions): PartitionLog {
    const files = opts.files ?? realFileOps;
    let r: ReturnType<typeof recoverLog>;
    try {
      r = recoverLog({
        dir: opts.dir,
        files,
        indexIntervalBytes: opts.config.indexIntervalBytes,
        verifyAll: opts.verifyAll,
        keepIntactOnDamage: opts.onDamage === "read-only",
      });
    } catch (e) {
      if (e instanceof SluiceError) throw e;
      // An I/O failure while opening (EIO, ENOSPC, EACCES): the partition cannot come online.
      throw new SluiceError(ErrorCode.KAFKA_STORAGE_ERROR, `opening partition log ${opts.dir} failed: ${(e as Error).message}`, {
        cause: e,
      });
    }
    if (r.segments.length === 0) {
      // Damage in the very first segment, before any intact batch: nothing readable to keep.
      throw r.damage ?? new Error("recovery returned no segments");
    }
    const log = new PartitionLog({
      dir: opts.dir,
      config: opts.config,
      files,
      now: opts.nowMs ?? Date.now,
      segments: r.segments,
      recovery: r.stats,
      damage: r.damage,
      indexCacheBytes: opts.indexCacheBytes,
      sealedSegmentFds: opts.sealedSegmentFds,
    });
    log.recordRecoveredPoint(r.recoveryPoint);
    return log;
  }

  /**
   * Recovery ended with an fdatasync of the active segment: all of it is
   * durable now. Recording that protects what recovery validated above the old
   * point from being taken for a torn tail after the next crash.
   */
  private recordRecoveredPoint(found: RecoveryPoint | null): void {
    if (this.readOnly || this.segs.sizeBytes === 0) return;
    const active = this.segs.active;
    if (found !== null && found.offset === this.durable && found.segmentBaseOffset === active.baseOffset && found.position === this.durablePosition) return;
    try {
      this.recoveryPoint.record({ offset: this.durable, segmentBaseOffset: active.baseOffset, position: this.durablePosition });
    } catch (e) {
      this.closeFiles();
      throw new SluiceError(ErrorCode.KAFKA_STORAGE_ERROR, `opening partition log ${this.dir} failed: recovery point: ${(e as Error).message}`, { cause: e });
    }
  }

  // ------------------------------------------------------------ state

  get logStartOffset(): number {
    return this.segs.first.baseOffset;
  }

  get logEndOffset(): number {
    return this.segs.active.nextOffset;
  }

  /** Offsets below this are durable (covered by a completed fdatasync). */
  get durableOffset(): number {
    return this.durable;
  }

  get sizeBytes(): number {
    return this.segs.sizeBytes;
  }

  get segmentCount(): number {
    return this.segs.count;
  }

  /** Sealed segments holding an open descriptor now (at most SEALED_SEGMENT_FDS_MAX, plus deleted ones in their delay). */
  get openSealedSegments(): number {
    return this.fds.openCount + this.pendingClose.length;
  }

  get online(): boolean {
    return this.failure === null;
  }

  get offlineError(): Error | null {
    return this.failure;
  }

  /** The first damage a read found in this log since it was opened (the log stays online), or null. */
  get corruption(): LogError | null {
    return this.damageFound;
  }

  get config(): LogConfig {
    return this.cfg;
  }

  /** New settings apply from the next append, flush decision or retention pass. */
  setConfig(cfg: LogConfig): void {
    this.cfg = cfg;
  }

  /** Bytes written but not yet covered by an fdatasync. */
  get unsyncedBytes(): number {
    return this.batcher.unsyncedBytes;
  }

  // ------------------------------------------------------------ append

  /**
   * Appends one or more whole batches, back to back in `records`. Validates all
   * of them first (nothing is written if any fails), then assigns offsets by
   * patching each batch's base offset IN PLACE in `records` (and, for a
   * LogAppendTime topic, its max timestamp and CRC): the caller passes bytes
   * it owns, e.g. its slot of the ring, and they are what gets written.
   * Returns when the bytes are written (page cache), not durable. Appends
   * staged before are written with it.
   */
  append(records: Uint8Array, nowMs: number = this.now()): AppendResult {
    const result = this.stage(records, nowMs);
    this.writeStaged();
    return result;
  }

  /**
   * append() without the write: validates the batches in `records` (all or
   * nothing: a bad batch throws BatchError and stages nothing), gives them the
   * next offsets (patching `records` in place, as append() does) and keeps a
   * view of them for writeStaged(). Fills and returns `out`.
   *
   * The caller must not acknowledge the append before writeStaged() returned,
   * and must keep `records` unchanged until then. stage() may write what was
   * staged before it (when the segment must roll first, or WRITEV_BUFFERS_MAX
   * views are staged); if that write fails the log goes offline, this throws
   * KAFKA_STORAGE_ERROR, and so will writeStaged().
   */
  stage(records: Uint8Array, nowMs: number = this.now(), out: AppendResult = emptyAppendResult()): AppendResult {
    this.assertWritable();
    if (this.diskFull !== null && nowMs < this.diskFullUntilMs) {
      throw new SluiceError(
        ErrorCode.KAFKA_STORAGE_ERROR,
        `${this.diskFull.message} (a write failed for space less than ${DISK_FULL_RETRY_AFTER_MS} ms ago; writing is tried again after that)`,
        { cause: this.diskFull },
      );
    }
    const cfg = this.cfg;
    const s = this.scratch;
    if (records.length === 0) throw new BatchError(ErrorCode.INVALID_RECORD, "records are empty: expected at least one batch", 0);
    // Validate into the scratch after the staged batches; they count only once all passed.
    const first = this.stagedBatches;
    let n = 0;
    let pos = 0;
    let recordCount = 0;
    let offsetCount = 0;
    while (pos < records.length) {
      const b = validateBatch(records, pos, records.length, cfg.maxMessageBytes);
      const i = first + n;
      s.ensure(i + 1);
      s.positions[i] = this.stagedBytes + pos;
      s.sizes[i] = b.size;
      s.offsetCounts[i] = b.lastOffsetDelta + 1;
      s.maxTimestamps[i] = b.maxTimestamp;
      n++;
      recordCount += b.recordCount;
      offsetCount += b.lastOffsetDelta + 1;
      pos += b.size;
    }
    const baseOffset = this.logEndOffset + this.stagedOffsets;
    const lastOffset = baseOffset + offsetCount - 1;
    if (lastOffset > LOG_OFFSET_MAX) {
      throw new SluiceError(ErrorCode.UNKNOWN_SERVER_ERROR, `offset ${lastOffset} would pass the largest offset ${LOG_OFFSET_MAX}`);
    }
    if (this.rollNeeded(records.length, lastOffset, nowMs) || this.staged.length >= WRITEV_BUFFERS_MAX) {
      // What is staged goes into the current segment first; this append then starts the run again.
      const before = this.stagedBytes;
      const batchesBefore = this.stagedBatches;
      if (batchesBefore > 0) {
        try {
          this.writeStaged();
        } catch (e) {
          // Refused for space: those appends were staged and not answered; the next writeStaged() fails them.
          if (this.failure === null) this.unreportedWriteError = e as SluiceError;
          throw e;
        }
      }
      s.shiftToFront(batchesBefore, n, before);
      if (this.rollNeeded(records.length, lastOffset, nowMs)) this.roll(nowMs);
    }

    const logAppendTime = cfg.timestampType === "LogAppendTime";
    const at = this.stagedBatches;
    let next = baseOffset;
    for (let i = at; i < at + n; i++) {
      const p = s.positions[i] - this.stagedBytes;
      patchBaseOffset(records, p, next);
      if (logAppendTime) {
        patchLogAppendTime(records, p, nowMs);
        s.maxTimestamps[i] = nowMs;
      }
      next += s.offsetCounts[i];
    }
    if (this.staged.length === 0) this.stagedNowMs = nowMs;
    this.staged.push(records);
    this.stagedBatches += n;
    this.stagedBytes += records.length;
    this.stagedOffsets += offsetCount;

    out.baseOffset = baseOffset;
    out.lastOffset = lastOffset;
    out.logAppendTimeMs = logAppendTime ? nowMs : -1;
    out.bytes = records.length;
    out.records = recordCount;
    return out;
  }

  /** Bytes staged and not yet written (see stage()). */
  get stagedByteCount(): number {
    return this.stagedBytes;
  }

  /**
   * Writes every staged append at the end of the active segment (vectored writes
   * of up to WRITE_CHUNK_BYTES_MAX) and places its batches (indexes, log end). Returns when they are
   * WRITTEN (page cache). Throws KAFKA_STORAGE_ERROR if the log is offline, even
   * with nothing staged: a write stage() did may have failed, and none of the
   * appends staged since the last writeStaged() may be acknowledged. A write
   * refused for space throws too (KAFKA_STORAGE_ERROR, "no space left on
   * device"), with nothing of it left in the file and the log online.
   */
  writeStaged(): void {
    this.assertWritable();
    const unreported = this.unreportedWriteError;
    if (unreported !== null) {
      this.unreportedWriteError = null;
      this.dropStaged();
      throw unreported;
    }
    const count = this.staged.length;
    if (count === 0) return;
    const s = this.scratch;
    const seg = this.segs.active;
    const filePosition = seg.size;
    const bytes = this.stagedBytes;
    const nowMs = this.stagedNowMs;
    try {
      const pieces = this.piecesOfStaged();
      writeGathered(this.files, seg.fd, pieces, pieces.length, filePosition, WRITE_CHUNK_BYTES_MAX);
    } catch (e) {
      this.dropStaged();
      if (!isOutOfSpace(e)) this.fail(e, "write");
      try {
        // Whole batches before the refused one may be in the file: none of them counts, all go.
        this.files.ftruncate(seg.fd, filePosition);
      } catch (t) {
        this.fail(t, `truncating ${seg.name} to ${filePosition} bytes after a write refused for space (${(e as Error).message})`);
      }
      throw this.outOfSpace(e, `writing ${seg.name}`, nowMs);
    }
    this.diskFull = null;
    let next = seg.nextOffset;
    const cfg = this.cfg;
    for (let i = 0; i < this.stagedBatches; i++) {
      const offsets = s.offsetCounts[i];
      seg.place(
        {
          position: filePosition + s.positions[i],
          baseOffset: next,
          lastOffset: next + offsets - 1,
          maxTimestamp: s.maxTimestamps[i],
          size: s.sizes[i],
        },
        cfg.indexIntervalBytes,
      );
      next += offsets;
    }
    if (seg.rollBaseMs < 0) seg.rollBaseMs = nowMs;
    this.batcher.noteWrite(bytes, nowMs);
    this.dropStaged();
  }

  /**
   * The staged views, a view larger than WRITE_CHUNK_BYTES_MAX cut at batch
   * boundaries into runs of whole batches of at most that size (a single larger
   * batch stays whole), so every syscall writes whole batches.
   */
  private piecesOfStaged(): Uint8Array[] {
    const pieces = this.pieces;
    const s = this.scratch;
    pieces.length = 0;
    let b = 0;
    let viewStart = 0;
    for (let v = 0; v < this.staged.length; v++) {
      const view = this.staged[v];
      const viewEnd = viewStart + view.length;
      if (view.length <= WRITE_CHUNK_BYTES_MAX) {
        pieces.push(view);
        while (b < this.stagedBatches && s.positions[b] < viewEnd) b++;
      } else {
        let from = viewStart;
        for (; b < this.stagedBatches && s.positions[b] < viewEnd; b++) {
          const start = s.positions[b];
          if (start > from && start + s.sizes[b] - from > WRITE_CHUNK_BYTES_MAX) {
            pieces.push(view.subarray(from - viewStart, start - viewStart));
            from = start;
          }
        }
        pieces.push(view.subarray(from - viewStart, view.length));
      }
      viewStart = viewEnd;
    }
    return pieces;
  }

  /** Forgets the staged appends (after they were written, or when the write failed). */
  private dropStaged(): void {
    // The views are the caller's memory (ring slots): keep no reference past the write.
    this.staged.length = 0;
    this.pieces.length = 0;
    this.stagedBatches = 0;
    this.stagedBytes = 0;
    this.stagedOffsets = 0;
  }

  /** Whether an append of `appendBytes` ending at `lastOffset` must start a new segment. */
  private rollNeeded(appendBytes: number, lastOffset: number, nowMs: number): boolean {
    const active = this.segs.active;
    const size = active.size + this.stagedBytes;
    // An empty segment takes any append, even one larger than segment.bytes (alone in it).
    if (size === 0) return false;
    const full = size + appendBytes > this.cfg.segmentBytes;
    const old = active.rollBaseMs >= 0 && nowMs - active.rollBaseMs >= this.cfg.segmentMs;
    const wide = lastOffset - active.baseOffset > SEGMENT_OFFSET_SPAN_MAX;
    return full || old || wide;
  }

  /**
   * Seals the active segment (flushed, index files written) and starts a new one
   * at the log end. The steps that need space come first and change nothing in
   * memory: refused for space, the old segment stays active and the next append
   * rolls again (index files are written atomically; the new segment file is
   * created empty, and "w+" opens it empty again).
   */
  private roll(nowMs: number): void {
    this.flush();
    const old = this.segs.active;
    const base = old.nextOffset;
    let fd: number;
    try {
      old.writeIndexFiles(this.files);
      fd = this.files.open(path.join(this.dir, segmentFileName(base, LOG_SUFFIX)), "w+");
    } catch (e) {
      if (!isOutOfSpace(e)) this.fail(e, "roll");
      throw this.outOfSpace(e, `rolling ${old.name} into a new segment`, nowMs);
    }
    try {
      old.sealed = true;
      // Its descriptor joins the bounded set of open sealed segments (it is the most likely next read).
      this.fds.adopt(old);
      const seg = new Segment({ dir: this.dir, baseOffset: base, fd });
      seg.resetIndexes();
      this.segs.push(seg);
      this.durablePosition = 0;
      this.durableMaxTimestamp = -1;
      // The new segment's directory entry and the recovery point (and the index renames) in one directory fsync.
      this.recoveryPoint.checkpoint({ offset: base, segmentBaseOffset: base, position: 0 });
    } catch (e) {
      this.fail(e, "roll");
    }
  }

  // ------------------------------------------------------------ group commit

  /** True when unsynced bytes reached flush.bytes, or the oldest is flush.interval.ms old (0: any). */
  flushDue(nowMs: number): boolean {
    return this.batcher.due(nowMs, this.cfg);
  }

  /** When the next flush becomes due (for the host's wait timeout); null if nothing is unsynced. */
  flushDeadlineMs(): number | null {
    return this.batcher.deadlineMs(this.cfg);
  }

  /**
   * fdatasync of the active segment (rolled segments were synced when sealed);
   * returns the new durable offset. On failure the partition goes offline and
   * this throws KAFKA_STORAGE_ERROR; it is never retried.
   */
  flush(): number {
    if (this.failure !== null) {
      if (this.readOnly) return this.durable;
      throw this.storageError();
    }
    // Staged appends are covered too: write them first (the host writes them before it flushes).
    this.writeStaged();
    if (!this.batcher.hasUnsynced && !this.journaledUnsynced) return this.durable;
    const seg = this.segs.active;
    try {
      this.files.fdatasync(seg.fd);
    } catch (e) {
      this.fail(e, "fdatasync");
    }
    this.journaledUnsynced = false;
    this.journaledUnsyncedBytesCount = 0;
    this.durable = seg.nextOffset;
    this.durablePosition = seg.size;
    this.durableMaxTimestamp = seg.maxTimestamp;
    this.batcher.synced();
    try {
      // One small pwrite, no fsync (recovery_point.ts says why that is enough).
      this.recoveryPoint.record({ offset: this.durable, segmentBaseOffset: seg.baseOffset, position: this.durablePosition });
    } catch (e) {
      this.fail(e, "recording the recovery point");
    }
    return this.durable;
  }

  // ------------------------------------------------------------ worker journal

  /**
   * Writes what is staged, then returns how many bytes of the active segment
   * are written and not durable: what a journal round would copy (0: none).
   */
  unsyncedLength(): number {
    if (this.failure !== null) throw this.storageError();
    this.writeStaged();
    if (!this.batcher.hasUnsynced) return 0;
    return this.segs.active.size - this.durablePosition;
  }

  /** Base offset of the segment the unsynced bytes are in (the active one). */
  get unsyncedSegmentBaseOffset(): number {
    return this.segs.active.baseOffset;
  }

  /** Where in that segment the unsynced bytes start. */
  get unsyncedPosition(): number {
    return this.durablePosition;
  }

  /**
   * Copies the unsynced bytes (unsyncedLength() of them: whole batches) into
   * `target` at `at`, for the journal. Throws (the log goes offline) if the
   * read fails.
   */
  readUnsynced(target: Uint8Array, at: number): void {
    const seg = this.segs.active;
    const length = seg.size - this.durablePosition;
    try {
      if (readFully(this.files, seg.fd, target, at, length, this.durablePosition) < length) throw new Error("short read of unsynced bytes");
    } catch (e) {
      this.fail(e, "reading unsynced bytes for the journal");
    }
    this.journalEndOffset = seg.nextOffset;
    this.journalEndPosition = seg.size;
    this.journalEndMaxTimestamp = seg.maxTimestamp;
  }

  /**
   * The journal holding what readUnsynced() copied was fdatasynced: those
   * batches are durable, and the recovery point moves to them as after a
   * flush (the journal's replay puts them back into the segment before
   * recovery looks). The segment is synced later (flush, roll, checkpoint,
   * close). Returns the new durable offset.
   */
  markJournaled(): number {
    if (this.journalEndOffset < 0) throw new Error("markJournaled() without readUnsynced()");
    this.journaledUnsyncedBytesCount += this.journalEndPosition - this.durablePosition;
    this.durable = this.journalEndOffset;
    this.durablePosition = this.journalEndPosition;
    this.durableMaxTimestamp = this.journalEndMaxTimestamp;
    this.journalEndOffset = -1;
    // Nothing written since readUnsynced() (same thread, same round): all of it is covered.
    if (this.segs.active.size === this.durablePosition) this.batcher.synced();
    this.journaledUnsynced = true;
    try {
      this.recoveryPoint.record({ offset: this.durable, segmentBaseOffset: this.segs.active.baseOffset, position: this.durablePosition });
    } catch (e) {
      this.fail(e, "recording the recovery point");
    }
    return this.durable;
  }

  /** Durable bytes only the journal holds: the journal may not start a new generation before flush(). */
  get hasJournaledUnsynced(): boolean {
    return this.journaledUnsynced;
  }

  /** How many bytes that is (flush() brings it back to 0). */
  get journaledUnsyncedBytes(): number {
    return this.journaledUnsyncedBytesCount;
  }

  // ------------------------------------------------------------ reads

  /**
   * Plans a read of whole batches from the one holding `offset`, up to
   * `maxBytes` (at least one batch), all wholly below `limitOffset` (the high
   * watermark; default the log end). Offsets below the log start or above the
   * log end: OFFSET_OUT_OF_RANGE. An empty plan when nothing is below the limit.
   */
  planRead(offset: number, maxBytes: number, limitOffset: number = this.logEndOffset): ReadPlanResult {
    if (this.failure !== null && !this.readOnly) return STORAGE_ERROR;
    if (this.closed) return STORAGE_ERROR;
    const logEnd = this.logEndOffset;
    if (offset < this.logStartOffset || offset > logEnd) return OUT_OF_RANGE;
    const limit = Math.min(limitOffset, logEnd);
    if (offset >= limit) return { segment: null, position: 0, length: 0, firstOffset: offset };
    try {
      return this.planWithin(offset, maxBytes, limit);
    } catch (e) {
      // A batch header that makes no sense, or a sealed index that cannot be rebuilt: damage, never a crash.
      if (!(e instanceof LogError)) throw e;
      this.corruptReads++;
      this.lastPlanDamage = e;
      this.noteDamage(e);
      return this.failure !== null && !this.readOnly ? STORAGE_ERROR : CORRUPT;
    }
  }

  private planWithin(offset: number, maxBytes: number, limit: number): ReadPlan {
    const seg = this.segs.at(this.segs.floorIndex(offset));
    const oi = this.indexesOf(seg);
    const loc = this.locator;

    const e = oi.floorByOffset(offset - seg.baseOffset);
    loc.seekOffset(seg, oi.positionAt(e), seg.baseOffset + oi.relOffsetAt(e), offset, e + 1 < oi.count ? oi.positionAt(e + 1) : seg.size);
    const start = loc.position;
    const firstOffset = loc.baseOffset;
    const firstEnd = start + loc.size;
    if (loc.lastOffset >= limit) return { segment: null, position: 0, length: 0, firstOffset: offset };

    // Where the data below the limit ends in this segment.
    let end: number;
    if (limit >= seg.nextOffset) {
      end = seg.size;
    } else if (limit === this.durable && seg === this.segs.active) {
      end = this.durablePosition;
    } else {
      const e2 = oi.floorByOffset(limit - seg.baseOffset);
      let from = oi.positionAt(e2);
      let fromOffset = seg.baseOffset + oi.relOffsetAt(e2);
      if (from < start) {
        from = start;
        fromOffset = firstOffset;
      }
      loc.seekOffset(seg, from, fromOffset, limit, e2 + 1 < oi.count ? oi.positionAt(e2 + 1) : seg.size);
      end = loc.position; // the batch holding the limit is not wholly below it
    }
    // Then the byte budget, never splitting a batch and never returning less than one.
    if (end - start > maxBytes) {
      const budgetEnd = start + maxBytes;
      if (budgetEnd <= firstEnd) {
        end = firstEnd;
      } else {
        const from = Math.max(oi.positionAt(oi.floorByPosition(budgetEnd)), start);
        end = Math.max(firstEnd, loc.seekEnd(seg, from, budgetEnd));
      }
    }
    return { segment: seg, position: start, length: end - start, firstOffset };
  }

  /**
   * Reads a plan's bytes into target[targetOffset, targetOffset + plan.length)
   * and checks every batch in them; returns the bytes of whole, valid batches
   * from the start (plan.length unless a batch failed its check). Fails with a
   * LogError (CORRUPT_MESSAGE) when the first batch is bad. Allocates no
   * buffer. A plan on a segment deleted since: OFFSET_OUT_OF_RANGE.
   */
  readInto(plan: ReadPlan, target: Uint8Array, targetOffset: number): number {
    if (plan.length === 0) return 0;
    const seg = plan.segment;
    // A sealed segment closed since the plan opens again; one retention deleted (past its delay) cannot.
    const fd = seg === null ? -1 : this.fds.fdOf(seg);
    if (seg === null || fd < 0) {
      throw new SluiceError(ErrorCode.OFFSET_OUT_OF_RANGE, "the segment of this read has been deleted");
    }
    if (targetOffset < 0 || targetOffset + plan.length > target.length) {
      throw new RangeError(`readInto: ${plan.length} bytes do not fit at ${targetOffset} of ${target.length}`);
    }
    let n: number;
    try {
      n = readFully(this.files, fd, target, targetOffset, plan.length, plan.position);
    } catch (e) {
      this.fail(e, "read");
    }
    // A short read is checked like any damage: the batches wholly read are served, a partial one is not.
    const v = verifyBatches(target, targetOffset, targetOffset + n, plan.firstOffset, this.verified);
    if (v.failure === null && n === plan.length) return n;
    this.corruptReads++;
    const damage = new LogError({
      segment: seg.name,
      position: plan.position + v.validBytes,
      offset: v.nextOffset,
      reason: v.failure ?? `short read: ${n} of ${plan.length} bytes`,
      consequence: READ_DAMAGE_CONSEQUENCE,
    });
    this.noteDamage(damage);
    if (v.validBytes === 0) throw damage;
    return v.validBytes;
  }

  /**
   * planRead + readInto a fresh buffer; the result holds whole, valid batches
   * only. Throws SluiceError(OFFSET_OUT_OF_RANGE / KAFKA_STORAGE_ERROR /
   * CORRUPT_MESSAGE; the last is a LogError when a read found the damage).
   */
  read(offset: number, maxBytes: number, limitOffset?: number): Uint8Array {
    const plan = this.planRead(offset, maxBytes, limitOffset);
    if ("error" in plan) {
      if (plan.error === ErrorCode.KAFKA_STORAGE_ERROR) throw this.storageError();
      if (plan.error === ErrorCode.CORRUPT_MESSAGE && this.lastPlanDamage !== null) throw this.lastPlanDamage;
      throw new SluiceError(plan.error, `offset ${offset} is outside ${this.logStartOffset}..${this.logEndOffset}`);
    }
    const out = new Uint8Array(plan.length);
    const n = this.readInto(plan, out, 0);
    return n === out.length ? out : out.subarray(0, n);
  }

  /** The first offset whose record timestamp is ≥ timestampMs, or -1 if there is none. */
  offsetForTimestamp(timestampMs: number): number {
    return this.recordAtTimestamp(timestampMs)?.offset ?? -1;
  }

  /**
   * The first record whose timestamp is ≥ timestampMs: its offset and its
   * timestamp (what ListOffsets answers), or null if there is none. For a
   * batch whose records cannot be opened here (a codec not available), its
   * first offset and its max timestamp.
   */
  recordAtTimestamp(timestampMs: number): TimestampedOffset | null {
    if (this.failure !== null && !this.readOnly) throw this.storageError();
    try {
      return this.findTimestamp(timestampMs);
    } catch (e) {
      if (e instanceof LogError) this.noteDamage(e);
      throw e;
    }
  }

  private findTimestamp(timestampMs: number): TimestampedOffset | null {
    // Linear over segments: their largest timestamps need not be in order (CreateTime), and this is not a hot path.
    for (const seg of this.segs) {
      if (seg.maxTimestamp < timestampMs || seg.size === 0) continue;
      const oi = this.indexesOf(seg);
      const ti = seg.timeIndex;
      if (ti === null) continue;
      const k = ti.lastBelow(timestampMs);
      const rel = k < 0 ? 0 : ti.relOffsetAt(k);
      const loc = this.locator;
      const e = oi.floorByOffset(rel);
      loc.seekOffset(seg, oi.positionAt(e), seg.baseOffset + oi.relOffsetAt(e), seg.baseOffset + rel);
      if (!loc.seekTimestamp(seg, loc.position, loc.baseOffset, timestampMs)) continue;
      return this.firstRecordAtOrAfter(seg, loc.position, loc.size, loc.baseOffset, loc.maxTimestamp, timestampMs);
    }
    return null;
  }

  private firstRecordAtOrAfter(seg: Segment, position: number, size: number, baseOffset: number, maxTimestamp: number, ts: number): TimestampedOffset {
    const bytes = new Uint8Array(size);
    const n = readFully(this.files, this.fds.fdOf(seg), bytes, 0, size, position);
    // The answer comes from the batch's records: never from bytes the disk changed.
    const bad = checkBatchAt(bytes, 0, n, baseOffset);
    if (bad !== null) {
      const damage = new LogError({ segment: seg.name, position, offset: baseOffset, reason: bad, consequence: READ_DAMAGE_CONSEQUENCE });
      this.corruptReads++;
      this.noteDamage(damage);
      throw damage;
    }
    // The batch's max timestamp is ≥ ts (the walk stopped here for it); its records normally agree.
    const found: TimestampedOffset = { offset: baseOffset, timestampMs: maxTimestamp };
    let seen = false;
    try {
      forEachRecord(bytes, 0, (r) => {
        if (seen || Number(r.timestamp) < ts) return;
        seen = true;
        found.offset = Number(r.offset);
        found.timestampMs = Number(r.timestamp);
      });
    } catch {
      // A batch we cannot open (a codec not available here): its first offset is the answer Kafka gives too.
      return { offset: baseOffset, timestampMs: maxTimestamp };
    }
    return found;
  }

  // ------------------------------------------------------------ retention

  /**
   * Deletes whole sealed segments past retention.ms (by their largest
   * timestamp) or while the partition is over retention.bytes, oldest first;
   * the log start offset moves to the first remaining segment.
   */
  applyRetention(nowMs: number = this.now()): { deletedSegments: number; logStartOffset: number } {
    this.closeDeleted(nowMs);
    if (this.failure !== null || this.closed) return { deletedSegments: 0, logStartOffset: this.logStartOffset };
    const sealed: Segment[] = [];
    for (const seg of this.segs) if (seg.sealed) sealed.push(seg);
    const count = segmentsToDelete({
      sealed,
      totalBytes: this.segs.sizeBytes,
      retentionMs: this.cfg.retentionMs,
      retentionBytes: this.cfg.retentionBytes,
      nowMs,
    });
    if (count === 0) return { deletedSegments: 0, logStartOffset: this.logStartOffset };
    const delay = this.cfg.fileDeleteDelayMs ?? 0;
    try {
      for (let i = 0; i < count; i++) {
        const seg = this.segs.shift();
        seg.unlinkFiles(this.files);
        seg.retired = true;
        if (seg.isOpen) {
          // Read recently (it is among the open ones): keep its descriptor for reads planned on it, file.delete.delay.ms.
          this.fds.release(seg);
          this.pendingClose.push({ segment: seg, closeAtMs: nowMs + delay });
        } else {
          // Closed already: a read still planned on it answers OFFSET_OUT_OF_RANGE, as it would after the delay.
          this.locator.forget(seg);
        }
      }
      this.files.fsyncDir(this.dir);
    } catch (e) {
      this.fail(e, "delete segment");
    }
    // Bounded like the open sealed segments: past the bound the oldest close early (their reads see OFFSET_OUT_OF_RANGE).
    while (this.pendingClose.length > SEALED_SEGMENT_FDS_MAX) this.closePending();
    this.closeDeleted(nowMs);
    return { deletedSegments: count, logStartOffset: this.logStartOffset };
  }

  private closeDeleted(nowMs: number): void {
    while (this.pendingClose.length > 0 && this.pendingClose[0].closeAtMs <= nowMs) this.closePending();
  }

  private closePending(): void {
    const { segment } = this.pendingClose.shift() as { segment: Segment; closeAtMs: number };
    this.locator.forget(segment);
    segment.close(this.files);
  }

  // ------------------------------------------------------------ lifecycle

  /**
   * Persists the recovery point (the durable offset and its position) so it
   * survives a power loss too (flush() records it without an fsync), and the
   * active segment's indexes up to it, so the next open walks less of the
   * log. Does not flush: call flush() first to move the point.
   */
  checkpoint(): void {
    if (this.failure !== null || this.closed) return;
    // The point must not pass what the segment itself holds on disk.
    if (this.journaledUnsynced) this.flush();
    const seg = this.segs.active;
    try {
      seg.writeIndexFiles(this.files, {
        baseOffset: seg.baseOffset,
        nextOffset: this.durable,
        logBytes: this.durablePosition,
        maxTimestamp: this.durableMaxTimestamp,
      });
      this.recoveryPoint.checkpoint({
        offset: this.durable,
        segmentBaseOffset: seg.baseOffset,
        position: this.durablePosition,
      });
    } catch (e) {
      this.fail(e, "checkpoint");
    }
  }

  /** flush + checkpoint + close every file. Later calls fail with KAFKA_STORAGE_ERROR. */
  close(): void {
    if (this.closed) return;
    try {
      if (this.failure === null) {
        this.flush();
        this.checkpoint();
      }
    } finally {
      this.closeFiles();
    }
  }

  /** Closes (without flushing) and removes the partition directory. */
  deleteFiles(): void {
    this.closeFiles();
    for (const name of this.files.readdir(this.dir)) this.files.unlink(path.join(this.dir, name));
    this.files.rmdir(this.dir);
  }

  private closeFiles(): void {
    this.closed = true;
    if (this.failure === null) this.failure = new SluiceError(ErrorCode.KAFKA_STORAGE_ERROR, "the partition log is closed");
    this.fds.closeAll();
    for (const seg of this.segs) seg.close(this.files);
    for (const p of this.pendingClose) p.segment.close(this.files);
    this.pendingClose.length = 0;
    this.recoveryPoint.close();
  }

  // ------------------------------------------------------------ internals

  /** The segment's offset index, loading (or rebuilding) a sealed segment's on first use. */
  private indexesOf(seg: Segment): NonNullable<Segment["offsetIndex"]> {
    this.segs.useIndexes(seg, (s) => this.loadSealedIndexes(s));
    return seg.offsetIndex as NonNullable<Segment["offsetIndex"]>;
  }

  private loadSealedIndexes(seg: Segment): void {
    const summary = seg.summary();
    if (seg.loadIndexes(this.files, summary) === null) return;
    // The rebuild scans the log through the segment's descriptor (the only segment in use until it returns).
    this.fds.fdOf(seg);
    const r = rebuildSegment(this.files, seg, summary.logBytes, this.cfg.indexIntervalBytes, new ScanBuffer());
    this.indexRebuilds++;
    if (r.failure !== null || seg.nextOffset !== summary.nextOffset || seg.size !== summary.logBytes) {
      const error = new LogError({
        segment: seg.name,
        position: r.failure?.position ?? seg.size,
        offset: r.failure?.offset ?? seg.nextOffset,
        reason: r.failure?.reason ?? "the log does not match its index summary",
      });
      if (this.failure === null) this.failure = error;
      throw error;
    }
  }

  /** Damage found while serving: kept (the first) for the host to publish; never cuts anything. */
  private noteDamage(e: LogError): void {
    if (this.damageFound === null) this.damageFound = e;
  }

  private assertWritable(): void {
    if (this.failure !== null) throw this.storageError();
  }

  private storageError(): SluiceError {
    const cause = this.failure;
    if (cause instanceof SluiceError && cause.code === ErrorCode.KAFKA_STORAGE_ERROR) return cause;
    return new SluiceError(ErrorCode.KAFKA_STORAGE_ERROR, `the partition log is offline: ${cause?.message}`, { cause });
  }

  /** A write or roll refused for space (and undone): the error for its appends, and the cool-down starts. */
  private outOfSpace(e: unknown, what: string, nowMs: number): SluiceError {
    const code = (e as { code?: string }).code ?? "ENOSPC";
    const error = new SluiceError(
      ErrorCode.KAFKA_STORAGE_ERROR,
      `no space left on device (${code}) ${what}; nothing of this request was stored`,
      { cause: e },
    );
    this.outOfSpaceFailures++;
    this.diskFull = error;
    this.diskFullUntilMs = nowMs + DISK_FULL_RETRY_AFTER_MS;
    return error;
  }

  /** A storage failure: the partition goes offline for good, and the caller gets KAFKA_STORAGE_ERROR. */
  private fail(e: unknown, op: string): never {
    const error = new SluiceError(
      ErrorCode.KAFKA_STORAGE_ERROR,
      `partition log ${this.dir} is offline: ${op} failed: ${(e as Error)?.message ?? String(e)}`,
      { cause: e },
    );
    if (this.failure === null) this.failure = error;
    throw error;
  }
}

export { LogError } from "./log_error.ts";
