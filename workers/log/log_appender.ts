// The write path of one partition log: appends (staged, then written with
// vectored writes), segment rolls, group commit (flush) and the hooks the worker
// journal uses. PartitionLog (partition_log.ts) owns one and passes its public
// calls through; what it shares with the reader is in log_state.ts.
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
// - A batch is DURABLE once flush() has returned, or flushAsync() has reported,
//   a durableOffset above its last offset: an fdatasync that started after the
//   write completed has returned. Only then may an acks=all produce be
//   answered, and only durable data is below the high watermark a consumer
//   reads up to. The host starts a flush when flushDue() says so (flush.bytes,
//   or flush.interval.ms after the oldest unsynced write): one fdatasync covers
//   every append written before it started.
// - flushAsync() runs that fdatasync off the log's thread, so the owner may
//   stage and write the next appends while it runs. Its completion makes
//   durable exactly the log end noted when it STARTED, never what was written
//   during it (that is owed to the next flush). At most one is in flight per
//   log: flushDue() says no until it returned. A synchronous flush() (roll,
//   checkpoint, close, journal rounds) while one is in flight syncs again
//   rather than trust it; a truncation or close makes its noted end stale, and
//   its completion then publishes nothing.
// - A failed fdatasync (any error, synchronous or in flight), or a write failing otherwise than for
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
// - Replication (README.md): a follower's append (stage(..., asFollower))
//   keeps the same contract with the leader's offsets and bytes; truncateTo()
//   (log_truncate.ts) is the one place the log end and the durable offset move
//   back, and it leaves everything before the cut durable.
//
// Threading: as PartitionLog's: one owner, all calls synchronous except
// flushAsync(), whose completion runs on the owner's event loop. The bytes
// given to stage() may be views over a SharedArrayBuffer.

import * as path from "node:path";
import { assert } from "../../protocol/assert.ts";
import { readI64Number } from "../../protocol/big_endian.ts";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import { BASE_OFFSET_OFFSET, BatchError, patchBaseOffset, patchLeaderEpoch, patchLogAppendTime, validateBatch } from "../../protocol/record_batch.ts";
import { isOutOfSpace, readFully, writeGathered } from "./file_ops.ts";
import { FsyncBatcher } from "./fsync_batcher.ts";
import {
  DISK_FULL_RETRY_AFTER_MS,
  LOG_OFFSET_MAX,
  SEGMENT_OFFSET_SPAN_MAX,
  WRITE_CHUNK_BYTES_MAX,
  WRITEV_BUFFERS_MAX,
} from "./log_limits.ts";
import type { LogState } from "./log_state.ts";
import { checkReplicaBatches } from "./replica_append.ts";
import { ProducerVerdict } from "./producer_state.ts";
import { snapshotProducers } from "./producer_state_snapshot.ts";
import { LOG_SUFFIX, Segment, segmentFileName } from "./segment_file.ts";

export interface AppendResult {
  /** Offset of the first record of the first batch. */
  baseOffset: number;
  /** Offset of the last record of the last batch. */
  lastOffset: number;
  /** The time stamped into the batches for a LogAppendTime topic, else -1. */
  logAppendTimeMs: number;
  bytes: number;
  records: number;
  /**
   * An idempotent producer's retry of batches already stored (producer_state.ts):
   * nothing was staged, and the offsets are those they were first given.
   */
  duplicate: boolean;
}

/** A fresh result object (stage() fills one the caller passes, to allocate nothing per append). */
export function emptyAppendResult(): AppendResult {
  return { baseOffset: 0, lastOffset: -1, logAppendTimeMs: -1, bytes: 0, records: 0, duplicate: false };
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

export class LogAppender {
  private readonly s: LogState;
  private readonly batcher = new FsyncBatcher();
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
  /**
   * Durable bytes of the active segment that only the worker journal holds
   * (worker_journal.ts): the segment itself has not been fdatasynced over them.
   * The next flush(), roll, checkpoint or close syncs it.
   */
  private journaledUnsynced = false;
  /** A flushAsync() fdatasync runs; its completion checks flushGeneration is unchanged before publishing. */
  private asyncFlushInFlight = false;
  private flushGeneration = 0;
  /** Bytes of the active segment the journal made durable since its last fdatasync. */
  private journaledUnsyncedBytesCount = 0;
  /** What readUnsynced() copied: markJournaled() makes exactly that durable. */
  private journalEndOffset = -1;
  private journalEndPosition = -1;
  private journalEndMaxTimestamp = -1;
  /** The last write refused for space, while appends are refused without trying (until diskFullUntilMs). */
  private diskFull: SluiceError | null = null;
  private diskFullUntilMs = 0;
  /** A write stage() did failed for space: the next writeStaged() throws it (its appends were staged, not answered). */
  private unreportedWriteError: SluiceError | null = null;

  constructor(state: LogState) {
    this.s = state;
    const s = state;
    const active = s.segs.active;
    if (!s.readOnly && active.size > 0) {
      // segment.ms counts from the first batch's timestamp, as Kafka does, but never from the future.
      s.segs.useIndexes(active, () => {});
      s.locator.headerAt(active, 0);
      const first = s.locator.maxTimestamp;
      const nowMs = s.now();
      active.rollBaseMs = first >= 0 && first < nowMs ? first : nowMs;
    }
  }

  /** Bytes written but not yet covered by an fdatasync. */
  get unsyncedBytes(): number {
    return this.batcher.unsyncedBytes;
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
  stage(records: Uint8Array, nowMs: number, out: AppendResult, asFollower = false): AppendResult {
    this.s.assertWritable();
    if (this.diskFull !== null && nowMs < this.diskFullUntilMs) {
      throw new SluiceError(
        ErrorCode.KAFKA_STORAGE_ERROR,
        `${this.diskFull.message} (a write failed for space less than ${DISK_FULL_RETRY_AFTER_MS} ms ago; writing is tried again after that)`,
        { cause: this.diskFull },
      );
    }
    const cfg = this.s.cfg;
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
    // validateBatch() refuses a batch that runs past the end: the batches cover the append exactly.
    assert(pos === records.length, "log: the validated batches cover the append exactly", pos);
    // Idempotent producers (producer_state.ts): a retry is answered from the state, an out-of-order batch refused.
    const producers = this.s.producers;
    // A follower's batches were checked by the leader (several producers may be interleaved): recorded below, never refused.
    const verdict = asFollower ? ProducerVerdict.NONE : producers.check(records, s.positions, first, n, this.stagedBytes);
    if (verdict === ProducerVerdict.DUPLICATE) {
      out.baseOffset = producers.duplicateBase;
      out.lastOffset = producers.duplicateLast;
      out.logAppendTimeMs = -1;
      out.bytes = 0;
      out.records = 0;
      out.duplicate = true;
      return out;
    }
    const baseOffset = this.s.logEndOffset + this.stagedOffsets;
    const lastOffset = baseOffset + offsetCount - 1;
    if (lastOffset > LOG_OFFSET_MAX) {
      throw new SluiceError(ErrorCode.UNKNOWN_SERVER_ERROR, `offset ${lastOffset} would pass the largest offset ${LOG_OFFSET_MAX}`);
    }
    // Replication hook: a follower's batches keep the leader's offsets and epochs (replica_append.ts checks them).
    if (asFollower) checkReplicaBatches(this.s, records, baseOffset);
    if (this.rollNeeded(records.length, lastOffset, nowMs) || this.staged.length >= WRITEV_BUFFERS_MAX) {
      // What is staged goes into the current segment first; this append then starts the run again.
      const before = this.stagedBytes;
      const batchesBefore = this.stagedBatches;
      if (batchesBefore > 0) {
        try {
          this.writeStaged();
        } catch (e) {
          // Refused for space: those appends were staged and not answered; the next writeStaged() fails them.
          if (this.s.failure === null) this.unreportedWriteError = e as SluiceError;
          throw e;
        }
      }
      s.shiftToFront(batchesBefore, n, before);
      if (this.rollNeeded(records.length, lastOffset, nowMs)) this.roll(nowMs);
    }

    // A follower stores the leader's bytes as they are: offsets, epochs and timestamps were given by the leader.
    const logAppendTime = cfg.timestampType === "LogAppendTime" && !asFollower;
    const at = this.stagedBatches;
    const epoch = this.s.leaderEpoch;
    let next = baseOffset;
    for (let i = at; i < at + n; i++) {
      const p = s.positions[i] - this.stagedBytes;
      if (!asFollower) {
        patchBaseOffset(records, p, next);
        patchLeaderEpoch(records, p, epoch);
      }
      if (logAppendTime) {
        patchLogAppendTime(records, p, nowMs);
        s.maxTimestamps[i] = nowMs;
      }
      next += s.offsetCounts[i];
    }
    assert(next === lastOffset + 1, "log: the offsets given match the batches' offset counts", next);
    if (verdict === ProducerVerdict.APPEND) producers.record(baseOffset);
    else if (asFollower) producers.recordReplicated(records, s.positions, at, n, this.stagedBytes, s.offsetCounts, baseOffset);
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
    out.duplicate = false;
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
    this.s.assertWritable();
    const unreported = this.unreportedWriteError;
    if (unreported !== null) {
      this.unreportedWriteError = null;
      this.dropStaged();
      this.s.producers.abortStaged();
      throw unreported;
    }
    const count = this.staged.length;
    if (count === 0) return;
    const s = this.scratch;
    const seg = this.s.segs.active;
    const filePosition = seg.size;
    const bytes = this.stagedBytes;
    const nowMs = this.stagedNowMs;
    // Checked before the write and again once the batches are placed: the log end moves by exactly what was staged.
    const nextOffsetAfter = seg.nextOffset + this.stagedOffsets;
    assert(this.stagedBatches > 0, "log: staged views hold at least one batch", count);
    try {
      const pieces = this.piecesOfStaged();
      writeGathered(this.s.files, seg.fd, pieces, pieces.length, filePosition, WRITE_CHUNK_BYTES_MAX);
    } catch (e) {
      this.dropStaged();
      // Nothing of the staged appends counts: their producers' state goes back to the last write.
      this.s.producers.abortStaged();
      if (!isOutOfSpace(e)) this.s.fail(e, "write");
      try {
        // Whole batches before the refused one may be in the file: none of them counts, all go.
        this.s.files.ftruncate(seg.fd, filePosition);
      } catch (t) {
        this.s.fail(t, `truncating ${seg.name} to ${filePosition} bytes after a write refused for space (${(e as Error).message})`);
      }
      throw this.outOfSpace(e, `writing ${seg.name}`, nowMs);
    }
    this.diskFull = null;
    let next = seg.nextOffset;
    const cfg = this.s.cfg;
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
    assert(seg.size === filePosition + bytes, "log: the segment grew by the bytes written", seg.size);
    assert(seg.nextOffset === nextOffsetAfter, "log: the log end moved by the offsets staged", seg.nextOffset);
    if (seg.rollBaseMs < 0) seg.rollBaseMs = nowMs;
    this.batcher.noteWrite(bytes, nowMs);
    this.dropStaged();
    this.s.producers.commitStaged();
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
    const active = this.s.segs.active;
    const size = active.size + this.stagedBytes;
    // An empty segment takes any append, even one larger than segment.bytes (alone in it).
    if (size === 0) return false;
    const full = size + appendBytes > this.s.cfg.segmentBytes;
    const old = active.rollBaseMs >= 0 && nowMs - active.rollBaseMs >= this.s.cfg.segmentMs;
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
    const old = this.s.segs.active;
    const base = old.nextOffset;
    let fd: number;
    try {
      // As of the old segment's end (valid whether or not the new one gets created); the directory fsync below covers it.
      snapshotProducers(this.s);
      old.writeIndexFiles(this.s.files);
      fd = this.s.files.open(path.join(this.s.dir, segmentFileName(base, LOG_SUFFIX)), "w+");
    } catch (e) {
      if (!isOutOfSpace(e)) this.s.fail(e, "roll");
      throw this.outOfSpace(e, `rolling ${old.name} into a new segment`, nowMs);
    }
    try {
      old.sealed = true;
      // Its descriptor joins the bounded set of open sealed segments (it is the most likely next read).
      this.s.fds.adopt(old);
      const seg = new Segment({ dir: this.s.dir, baseOffset: base, fd });
      seg.resetIndexes();
      this.s.segs.push(seg);
      this.s.durablePosition = 0;
      this.s.durableMaxTimestamp = -1;
      // The new segment's directory entry and the recovery point (and the index renames) in one directory fsync.
      this.s.recoveryPoint.checkpoint({ offset: base, segmentBaseOffset: base, position: 0 });
    } catch (e) {
      this.s.fail(e, "roll");
    }
  }

  // ------------------------------------------------------------ group commit

  /** True when unsynced bytes reached flush.bytes, or the oldest is flush.interval.ms old (0: any). */
  flushDue(nowMs: number): boolean {
    // At most one fdatasync in flight: the next is due once it returned.
    if (this.asyncFlushInFlight) return false;
    return this.batcher.due(nowMs, this.s.cfg);
  }

  /** When the next flush becomes due (for the host's wait timeout); null if nothing is unsynced. */
  flushDeadlineMs(): number | null {
    if (this.asyncFlushInFlight) return null;
    return this.batcher.deadlineMs(this.s.cfg);
  }

  /**
   * fdatasync of the active segment (rolled segments were synced when sealed);
   * returns the new durable offset. On failure the partition goes offline and
   * this throws KAFKA_STORAGE_ERROR; it is never retried.
   */
  flush(): number {
    if (this.s.failure !== null) {
      if (this.s.readOnly) return this.s.durable;
      throw this.s.storageError();
    }
    // Staged appends are covered too: write them first (the host writes them before it flushes).
    this.writeStaged();
    // A flush in flight (flushAsync) has not made its bytes durable yet: this one must sync them.
    if (!this.batcher.hasUnsynced && !this.journaledUnsynced && !this.asyncFlushInFlight) return this.s.durable;
    const seg = this.s.segs.active;
    try {
      this.s.files.fdatasync(seg.fd);
    } catch (e) {
      this.s.fail(e, "fdatasync");
    }
    this.journaledUnsynced = false;
    this.journaledUnsyncedBytesCount = 0;
    // Durability only moves forward (truncateTo() alone moves it back, and sets it to the cut first):
    // what a flush covers includes everything durable before it.
    assert(seg.nextOffset >= this.s.durable, "log: a flush never moves the durable offset back", seg.nextOffset);
    assert(seg.size >= this.s.durablePosition, "log: a flush never moves the durable position back", seg.size);
    this.s.durable = seg.nextOffset;
    this.s.durablePosition = seg.size;
    this.s.durableMaxTimestamp = seg.maxTimestamp;
    this.batcher.synced();
    try {
      // One small pwrite, no fsync (recovery_point.ts says why that is enough).
      this.s.recoveryPoint.record({ offset: this.s.durable, segmentBaseOffset: seg.baseOffset, position: this.s.durablePosition });
    } catch (e) {
      this.s.fail(e, "recording the recovery point");
    }
    return this.s.durable;
  }

  /** True while a flushAsync() fdatasync runs (at most one per log). */
  get flushInFlight(): boolean {
    return this.asyncFlushInFlight;
  }

  /**
   * flush() with the fdatasync off this thread: writes what is staged, notes the
   * log end as of now, starts an fdatasync of the active segment and returns at
   * once (false: nothing to sync, or one already in flight; done is not called).
   * The caller may stage and write more while it runs: an fdatasync covers only
   * what was written before it started, so when it returns exactly the log end
   * noted at its start becomes durable (recorded in the recovery point as
   * flush() does) and done(durableOffset, null) runs. If it fails, the partition
   * goes offline as a failed flush() does (never retried, nothing in it durable)
   * and done(durableOffset, error) runs with KAFKA_STORAGE_ERROR. A truncation,
   * roll or close in the meantime makes the noted end stale: the completion then
   * publishes nothing (those paths sync what they need themselves) and done
   * still runs.
   */
  flushAsync(done: (durableOffset: number, error: SluiceError | null) => void): boolean {
    if (this.s.failure !== null) {
      if (this.s.readOnly) return false;
      throw this.s.storageError();
    }
    if (this.asyncFlushInFlight) return false;
    this.writeStaged();
    if (!this.batcher.hasUnsynced && !this.journaledUnsynced) return false;
    const seg = this.s.segs.active;
    const generation = this.flushGeneration;
    const offset = seg.nextOffset;
    const position = seg.size;
    const maxTimestamp = seg.maxTimestamp;
    const journalEnd = this.journalEndPosition;
    // Writes from now on are owed to the next flush (the flush policy's clock starts again).
    this.batcher.synced();
    this.asyncFlushInFlight = true;
    const finish = (err: Error | null): void => {
      this.asyncFlushInFlight = false;
      // Closed: nobody to tell. Stale: the path that made it so synced what it needed.
      if (this.s.closed) return;
      if (generation !== this.flushGeneration || seg !== this.s.segs.active) {
        done(this.s.durable, this.s.failure === null ? null : this.s.storageError());
        return;
      }
      if (err !== null) {
        try {
          this.s.fail(err, "fdatasync");
        } catch (e) {
          done(this.s.durable, e as SluiceError);
        }
        return;
      }
      if (this.s.failure !== null) {
        done(this.s.durable, this.s.storageError());
        return;
      }
      if (this.journaledUnsynced && this.journalEndPosition <= position && journalEnd === this.journalEndPosition) {
        this.journaledUnsynced = false;
        this.journaledUnsyncedBytesCount = 0;
      }
      if (offset > this.s.durable) {
        assert(position >= this.s.durablePosition, "log: a flush never moves the durable position back", position);
        this.s.durable = offset;
        this.s.durablePosition = position;
        this.s.durableMaxTimestamp = maxTimestamp;
        try {
          this.s.recoveryPoint.record({ offset, segmentBaseOffset: seg.baseOffset, position });
        } catch (e) {
          try {
            this.s.fail(e, "recording the recovery point");
          } catch (failure) {
            done(this.s.durable, failure as SluiceError);
            return;
          }
        }
      }
      done(this.s.durable, null);
    };
    const files = this.s.files;
    if (files.fdatasyncAsync !== undefined) files.fdatasyncAsync(seg.fd, finish);
    else {
      let error: Error | null = null;
      try {
        files.fdatasync(seg.fd);
      } catch (e) {
        error = e as Error;
      }
      setImmediate(() => finish(error));
    }
    return true;
  }

  /** What a flush in flight noted is stale from now on (a truncation moved the log end back, or the files close). */
  abandonFlushInFlight(): void {
    this.flushGeneration++;
  }

  // ------------------------------------------------------------ worker journal

  /**
   * Writes what is staged, then returns how many bytes of the active segment
   * are written and not durable: what a journal round would copy (0: none).
   */
  unsyncedLength(): number {
    if (this.s.failure !== null) throw this.s.storageError();
    this.writeStaged();
    if (!this.batcher.hasUnsynced) return 0;
    return this.s.segs.active.size - this.s.durablePosition;
  }

  /** Base offset of the segment the unsynced bytes are in (the active one). */
  get unsyncedSegmentBaseOffset(): number {
    return this.s.segs.active.baseOffset;
  }

  /** Where in that segment the unsynced bytes start. */
  get unsyncedPosition(): number {
    return this.s.durablePosition;
  }

  /**
   * Copies the unsynced bytes (unsyncedLength() of them: whole batches) into
   * `target` at `at`, for the journal. Throws (the log goes offline) if the
   * read fails.
   */
  readUnsynced(target: Uint8Array, at: number): void {
    const seg = this.s.segs.active;
    const length = seg.size - this.s.durablePosition;
    // The host copies only a tail unsyncedLength() reported, into the room the journal gave it.
    assert(length > 0, "log: unsynced bytes to copy for the journal", length);
    assert(at + length <= target.length, "log: the unsynced bytes fit where the journal put them", at);
    try {
      if (readFully(this.s.files, seg.fd, target, at, length, this.s.durablePosition) < length) throw new Error("short read of unsynced bytes");
    } catch (e) {
      this.s.fail(e, "reading unsynced bytes for the journal");
    }
    // After the read: the copy starts at a batch boundary, the batch at the durable offset.
    assert(readI64Number(target, at + BASE_OFFSET_OFFSET) === this.s.durable, "log: the unsynced bytes start with the batch at the durable offset", at);
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
    assert(this.journalEndOffset >= 0, "log: markJournaled() without readUnsynced()");
    assert(this.journalEndOffset >= this.s.durable, "log: a journal round never moves the durable offset back", this.journalEndOffset);
    this.journaledUnsyncedBytesCount += this.journalEndPosition - this.s.durablePosition;
    this.s.durable = this.journalEndOffset;
    this.s.durablePosition = this.journalEndPosition;
    this.s.durableMaxTimestamp = this.journalEndMaxTimestamp;
    this.journalEndOffset = -1;
    // Nothing written since readUnsynced() (same thread, same round): all of it is covered.
    if (this.s.segs.active.size === this.s.durablePosition) this.batcher.synced();
    this.journaledUnsynced = true;
    try {
      this.s.recoveryPoint.record({ offset: this.s.durable, segmentBaseOffset: this.s.segs.active.baseOffset, position: this.s.durablePosition });
    } catch (e) {
      this.s.fail(e, "recording the recovery point");
    }
    return this.s.durable;
  }

  /** Durable bytes only the journal holds: the journal may not start a new generation before flush(). */
  get hasJournaledUnsynced(): boolean {
    return this.journaledUnsynced;
  }

  /** How many bytes that is (flush() brings it back to 0). */
  get journaledUnsyncedBytes(): number {
    return this.journaledUnsyncedBytesCount;
  }

  /**
   * Replication hook: the log was cut back (log_truncate.ts moved the log end
   * and the durable point): what was unsynced or journaled past the cut is gone.
   */
  afterTruncate(): void {
    assert(this.staged.length === 0, "log: nothing is staged when the log is cut", this.staged.length);
    this.journalEndOffset = -1;
    this.journaledUnsynced = false;
    this.journaledUnsyncedBytesCount = 0;
    this.batcher.synced();
  }

  /** A write or roll refused for space (and undone): the error for its appends, and the cool-down starts. */
  private outOfSpace(e: unknown, what: string, nowMs: number): SluiceError {
    const code = (e as { code?: string }).code ?? "ENOSPC";
    const error = new SluiceError(
      ErrorCode.KAFKA_STORAGE_ERROR,
      `no space left on device (${code}) ${what}; nothing of this request was stored`,
      { cause: e },
    );
    this.s.outOfSpaceFailures++;
    this.diskFull = error;
    this.diskFullUntilMs = nowMs + DISK_FULL_RETRY_AFTER_MS;
    return error;
  }
}
