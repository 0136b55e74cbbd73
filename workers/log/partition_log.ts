// The durable log of one partition: segments on disk, appends, reads, group
// commit, recovery and retention. This file is the log's public face and its
// lifecycle (open and recovery, retention, checkpoint, close); the work is done
// by one part per role, over the state they share (log_state.ts):
// - log_appender.ts: the write path (stage, write, roll, flush, the worker
//   journal's hooks), with the durability contract at its top;
// - log_reader.ts: the read path (planRead, readInto, read) and the lookup by
//   timestamp, with what a read promises about damaged bytes at its top.
//
// Durability contract, in short (the exact words are at the top of
// log_appender.ts): append() returns once the batches are WRITTEN (page cache:
// an acks=1 answer); a batch is DURABLE once flush(), or the worker journal's
// fdatasync (markJournaled()), returned a durable offset above it (an acks=all
// answer; only durable data is below the high watermark). A failed fdatasync
// takes the partition offline for good; a write refused for space is undone
// and the log stays online.
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
import { assert, rethrowIfAssertion } from "../../protocol/assert.ts";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import { type FileOps, realFileOps } from "./file_ops.ts";
import { type AppendResult, LogAppender, emptyAppendResult } from "./log_appender.ts";
import type { LogConfig } from "./log_config.ts";
import { forEachBatchEpoch, lastBatchEpoch } from "./batch_epochs.ts";
import { type EpochEndOffset, LEADER_EPOCH_MAX, LeaderEpochCache, NO_LEADER_EPOCH } from "./leader_epoch_cache.ts";
import type { EpochEntry } from "./leader_epoch_file.ts";
import { LogError } from "./log_error.ts";
import { SEALED_SEGMENT_FDS_MAX } from "./log_limits.ts";
import { LogReader, type ReadPlan, type ReadPlanResult, type TimestampedOffset } from "./log_reader.ts";
import { LogState } from "./log_state.ts";
import { type ProducerStateLoad, loadProducerState, snapshotProducers } from "./producer_state_snapshot.ts";
import { type RecoveryStats, recoverLog } from "./recovery.ts";
import type { RecoveryPoint } from "./recovery_point.ts";
import { segmentsToDelete } from "./retention.ts";
import { ReplicaLogError } from "./replica_log_error.ts";
import type { Segment } from "./segment_file.ts";
import { type TruncateResult, truncateLog } from "./log_truncate.ts";

export { type AppendResult, emptyAppendResult } from "./log_appender.ts";
export type { ReadPlan, ReadPlanResult, TimestampedOffset } from "./log_reader.ts";
export type { EpochEndOffset } from "./leader_epoch_cache.ts";
export type { EpochEntry } from "./leader_epoch_file.ts";
export type { TruncateResult } from "./log_truncate.ts";

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

export class PartitionLog {
  readonly dir: string;
  readonly recovery: RecoveryStats;
  private readonly s: LogState;
  private readonly appender: LogAppender;
  private readonly reader: LogReader;
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
    this.recovery = opts.recovery;
    this.s = new LogState({ ...opts, sealedSegmentFds: opts.sealedSegmentFds ?? SEALED_SEGMENT_FDS_MAX });
    this.appender = new LogAppender(this.s);
    this.reader = new LogReader(this.s);
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
      rethrowIfAssertion(e);
      if (e instanceof SluiceError) throw e;
      // An I/O failure while opening (EIO, ENOSPC, EACCES): the partition cannot come online.
      throw new SluiceError(ErrorCode.KAFKA_STORAGE_ERROR, `opening partition log ${opts.dir} failed: ${(e as Error).message}`, {
        cause: e,
      });
    }
    if (r.segments.length === 0) {
      // Damage in the very first segment, before any intact batch: nothing readable to keep.
      assert(r.damage !== null, "partition log: recovery returned no segments and no damage");
      throw r.damage;
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
    log.openEpochs();
    if (!log.s.readOnly) log.loadProducers();
    return log;
  }

  /**
   * Recovery ended with an fdatasync of the active segment: all of it is
   * durable now. Recording that protects what recovery validated above the old
   * point from being taken for a torn tail after the next crash.
   */
  private recordRecoveredPoint(found: RecoveryPoint | null): void {
    if (this.s.readOnly || this.s.segs.sizeBytes === 0) return;
    const active = this.s.segs.active;
    if (found !== null && found.offset === this.s.durable && found.segmentBaseOffset === active.baseOffset && found.position === this.s.durablePosition) return;
    try {
      this.s.recoveryPoint.record({ offset: this.s.durable, segmentBaseOffset: active.baseOffset, position: this.s.durablePosition });
    } catch (e) {
      rethrowIfAssertion(e);
      this.closeFiles();
      throw new SluiceError(ErrorCode.KAFKA_STORAGE_ERROR, `opening partition log ${this.dir} failed: recovery point: ${(e as Error).message}`, { cause: e });
    }
  }

  /**
   * The leader-epoch cache and file: loaded, or rebuilt from the batches'
   * epochs when the file is missing or damaged. The epoch stamped on appends
   * continues from the latest one (NO_LEADER_EPOCH for a log that never had one).
   */
  private openEpochs(): void {
    try {
      const { cache, rebuilt } = LeaderEpochCache.open({
        files: this.s.files,
        dir: this.dir,
        logEndOffset: this.s.logEndOffset,
        lastEpoch: () => lastBatchEpoch(this.s),
        scan: (onBatch) => forEachBatchEpoch(this.s, onBatch),
        writable: !this.s.readOnly,
      });
      this.s.epochs = cache;
      this.s.leaderEpoch = cache.latestEpoch;
      this.epochFileRebuilt = rebuilt;
    } catch (e) {
      rethrowIfAssertion(e);
      this.closeFiles();
      throw new SluiceError(ErrorCode.KAFKA_STORAGE_ERROR, `opening partition log ${this.dir} failed: leader epochs: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Why the leader-epoch file was rebuilt from the batches at open ("missing", or its damage), or null if it was read. */
  epochFileRebuilt: string | null = null;
  /** The idempotent producers' state from its snapshot and the batch headers after it (producer_state_snapshot.ts). */
  private loadProducers(): void {
    try {
      const segments: Segment[] = [];
      for (const seg of this.s.segs) segments.push(seg);
      this.producerLoad = loadProducerState({
        files: this.s.files,
        dir: this.dir,
        segments,
        fdOf: (seg) => this.s.fds.fdOf(seg),
        table: this.s.producers,
      });
    } catch (e) {
      rethrowIfAssertion(e);
      this.closeFiles();
      throw new SluiceError(ErrorCode.KAFKA_STORAGE_ERROR, `opening partition log ${this.dir} failed: producer state: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  /** How the producers' state was loaded at open (null for a read-only log). */
  producerLoad: ProducerStateLoad | null = null;

  /** The idempotent producers' state (producer_state.ts). */
  get producers(): LogState["producers"] {
    return this.s.producers;
  }

  // ------------------------------------------------------------ state

  /** Sealed-segment indexes rebuilt after open because their files were damaged. */
  get indexRebuilds(): number {
    return this.s.indexRebuilds;
  }

  /** Reads refused or cut short because a batch failed its check (log_reader.ts). */
  get corruptReads(): number {
    return this.s.corruptReads;
  }

  /** Writes and rolls the disk refused for lack of space (each undone; see the durability contract). */
  get outOfSpaceFailures(): number {
    return this.s.outOfSpaceFailures;
  }

  get logStartOffset(): number {
    return this.s.segs.first.baseOffset;
  }

  get logEndOffset(): number {
    return this.s.segs.active.nextOffset;
  }

  /** Offsets below this are durable (covered by a completed fdatasync). */
  get durableOffset(): number {
    return this.s.durable;
  }

  get sizeBytes(): number {
    return this.s.segs.sizeBytes;
  }

  get segmentCount(): number {
    return this.s.segs.count;
  }

  /** Sealed segments holding an open descriptor now (at most SEALED_SEGMENT_FDS_MAX, plus deleted ones in their delay). */
  get openSealedSegments(): number {
    return this.s.fds.openCount + this.pendingClose.length;
  }

  get online(): boolean {
    return this.s.failure === null;
  }

  get offlineError(): Error | null {
    return this.s.failure;
  }

  /** The first damage a read found in this log since it was opened (the log stays online), or null. */
  get corruption(): LogError | null {
    return this.s.damageFound;
  }

  get config(): LogConfig {
    return this.s.cfg;
  }

  /** New settings apply from the next append, flush decision or retention pass. */
  setConfig(cfg: LogConfig): void {
    this.s.cfg = cfg;
  }

  /** Bytes written but not yet covered by an fdatasync. */

  /** Bytes written but not yet covered by an fdatasync. */
  get unsyncedBytes(): number {
    return this.appender.unsyncedBytes;
  }

  // ------------------------------------------------------------ append (log_appender.ts)

  /**
   * Appends one or more whole batches, back to back in `records`. Validates all
   * of them first (nothing is written if any fails), then assigns offsets by
   * patching each batch's base offset IN PLACE in `records` (and, for a
   * LogAppendTime topic, its max timestamp and CRC): the caller passes bytes
   * it owns, e.g. its slot of the ring, and they are what gets written.
   * Returns when the bytes are written (page cache), not durable. Appends
   * staged before are written with it.
   */
  append(records: Uint8Array, nowMs: number = this.s.now()): AppendResult {
    const result = this.appender.stage(records, nowMs, emptyAppendResult());
    this.appender.writeStaged();
    return result;
  }

  /** See LogAppender.stage(): validates, gives offsets and keeps a view; writeStaged() writes it. */
  stage(records: Uint8Array, nowMs: number = this.s.now(), out: AppendResult = emptyAppendResult()): AppendResult {
    return this.appender.stage(records, nowMs, out);
  }

  /** Bytes staged and not yet written (see stage()). */
  get stagedByteCount(): number {
    return this.appender.stagedByteCount;
  }

  /** See LogAppender.writeStaged(): every staged append written (page cache), or a throw and none may be acknowledged. */
  writeStaged(): void {
    this.appender.writeStaged();
  }

  // ------------------------------------------------------------ replication (leader_epoch_cache.ts, replica_append.ts, log_truncate.ts)

  /** The epoch stamped into the batches appended as leader (NO_LEADER_EPOCH, -1, until one is set). */
  get leaderEpoch(): number {
    return this.s.leaderEpoch;
  }

  /**
   * This replica leads with `epoch` from now on: appends are stamped with it,
   * and it starts at the log end in the leader-epoch file (written durably
   * before this returns). Staged appends are written first, with the old
   * epoch. An epoch older than the log's latest is refused (EPOCH_REGRESSION).
   */
  setLeaderEpoch(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < NO_LEADER_EPOCH || epoch > LEADER_EPOCH_MAX) {
      throw new ReplicaLogError("INVALID_EPOCH", `leader epoch ${epoch} is not an integer in [${NO_LEADER_EPOCH}, ${LEADER_EPOCH_MAX}]`);
    }
    this.s.assertWritable();
    const latest = this.s.epochs.latestEpoch;
    if (epoch < latest) throw new ReplicaLogError("EPOCH_REGRESSION", `leader epoch ${epoch} is older than the log's latest epoch ${latest}`);
    this.appender.writeStaged();
    try {
      this.s.epochs.assign(epoch, this.s.logEndOffset);
    } catch (e) {
      if (e instanceof ReplicaLogError) throw e;
      this.s.fail(e, "writing the leader-epoch file");
    }
    this.s.leaderEpoch = epoch;
  }

  /** The epochs and the offsets they start at, oldest first (a copy). */
  leaderEpochs(): EpochEntry[] {
    return this.s.epochs.list();
  }

  /** Kafka's OffsetForLeaderEpoch for `epoch` (LeaderEpochCache.endOffsetForEpoch() has the rules). */
  endOffsetForEpoch(epoch: number): EpochEndOffset {
    return this.s.epochs.endOffsetForEpoch(epoch, this.s.logEndOffset);
  }

  /**
   * A follower's append: whole batches fetched from the leader, with the
   * leader's offsets and epochs, stored byte for byte. The first must start at
   * the log end (else ReplicaLogError OFFSET_MISMATCH). Written (page cache) on
   * return; durable after flush() or a journal round, as any append.
   */
  appendAsFollower(records: Uint8Array, nowMs: number = this.s.now()): AppendResult {
    const result = this.stageAsFollower(records, nowMs);
    this.appender.writeStaged();
    return result;
  }

  /**
   * appendAsFollower() without the write, for the host's group commit (see
   * stage()). The fetched bytes interleave many producers' batches, which the
   * leader already checked: the appender records each producer's run in the
   * producer state and refuses none (producer_state.ts recordReplicated).
   */
  stageAsFollower(records: Uint8Array, nowMs: number = this.s.now(), out: AppendResult = emptyAppendResult()): AppendResult {
    return this.appender.stage(records, nowMs, out, true);
  }

  /**
   * Cuts the log back so that it ends at the batch holding `offset` (log_truncate.ts
   * says how and in what order). The worker journal must be checkpointed
   * first if this partition has records in its current generation
   * (JournalRounds.beforeTruncate does it for the host).
   */
  truncateTo(offset: number): TruncateResult {
    this.appender.abandonFlushInFlight();
    return truncateLog(this.s, this.appender, offset);
  }

  // ------------------------------------------------------------ group commit (log_appender.ts)

  /** True when unsynced bytes reached flush.bytes, or the oldest is flush.interval.ms old (0: any). */
  flushDue(nowMs: number): boolean {
    return this.appender.flushDue(nowMs);
  }

  /** When the next flush becomes due (for the host's wait timeout); null if nothing is unsynced. */
  flushDeadlineMs(): number | null {
    return this.appender.flushDeadlineMs();
  }

  /** flush() with the fdatasync off this thread, overlapping later writes (see LogAppender.flushAsync()). */
  flushAsync(done: (durableOffset: number, error: SluiceError | null) => void): boolean {
    return this.appender.flushAsync(done);
  }

  /** True while a flushAsync() fdatasync runs. */
  get flushInFlight(): boolean {
    return this.appender.flushInFlight;
  }

  /** fdatasync of the active segment; returns the new durable offset (see LogAppender.flush()). */
  flush(): number {
    return this.appender.flush();
  }

  // ------------------------------------------------------------ worker journal (log_appender.ts)

  /** Writes what is staged; the bytes of the active segment written and not durable (0: none). */
  unsyncedLength(): number {
    return this.appender.unsyncedLength();
  }

  /** Base offset of the segment the unsynced bytes are in (the active one). */
  get unsyncedSegmentBaseOffset(): number {
    return this.appender.unsyncedSegmentBaseOffset;
  }

  /** Where in that segment the unsynced bytes start. */
  get unsyncedPosition(): number {
    return this.appender.unsyncedPosition;
  }

  /** Copies the unsynced bytes into `target` at `at`, for the journal. */
  readUnsynced(target: Uint8Array, at: number): void {
    this.appender.readUnsynced(target, at);
  }

  /** The journal holding what readUnsynced() copied was fdatasynced; returns the new durable offset. */
  markJournaled(): number {
    return this.appender.markJournaled();
  }

  /** Durable bytes only the journal holds: the journal may not start a new generation before flush(). */
  get hasJournaledUnsynced(): boolean {
    return this.appender.hasJournaledUnsynced;
  }

  /** How many bytes that is (flush() brings it back to 0). */
  get journaledUnsyncedBytes(): number {
    return this.appender.journaledUnsyncedBytes;
  }

  // ------------------------------------------------------------ reads (log_reader.ts)

  /** Plans a read of whole batches from `offset`, at most `maxBytes` (at least one batch), below `limitOffset` (default the log end). */
  planRead(offset: number, maxBytes: number, limitOffset?: number): ReadPlanResult {
    return this.reader.planRead(offset, maxBytes, limitOffset);
  }

  /** Reads a plan's bytes into `target` at `targetOffset`, checking every batch; returns the bytes of whole, valid batches. */
  readInto(plan: ReadPlan, target: Uint8Array, targetOffset: number): number {
    return this.reader.readInto(plan, target, targetOffset);
  }

  /** planRead + readInto a fresh buffer (whole, valid batches only). */
  read(offset: number, maxBytes: number, limitOffset?: number): Uint8Array {
    return this.reader.read(offset, maxBytes, limitOffset);
  }

  /** The first offset whose record timestamp is ≥ timestampMs, or -1 if there is none. */
  offsetForTimestamp(timestampMs: number): number {
    return this.reader.offsetForTimestamp(timestampMs);
  }

  /** The first record whose timestamp is ≥ timestampMs (its offset and timestamp), or null. */
  recordAtTimestamp(timestampMs: number): TimestampedOffset | null {
    return this.reader.recordAtTimestamp(timestampMs);
  }

  // ------------------------------------------------------------ retention

  /**
   * Deletes whole sealed segments past retention.ms (by their largest
   * timestamp) or while the partition is over retention.bytes, oldest first;
   * the log start offset moves to the first remaining segment.
   */
  applyRetention(nowMs: number = this.s.now()): { deletedSegments: number; logStartOffset: number } {
    this.closeDeleted(nowMs);
    if (this.s.failure !== null || this.s.closed) return { deletedSegments: 0, logStartOffset: this.logStartOffset };
    const sealed: Segment[] = [];
    for (const seg of this.s.segs) if (seg.sealed) sealed.push(seg);
    const count = segmentsToDelete({
      sealed,
      totalBytes: this.s.segs.sizeBytes,
      retentionMs: this.s.cfg.retentionMs,
      retentionBytes: this.s.cfg.retentionBytes,
      nowMs,
    });
    if (count === 0) return { deletedSegments: 0, logStartOffset: this.logStartOffset };
    const delay = this.s.cfg.fileDeleteDelayMs ?? 0;
    try {
      for (let i = 0; i < count; i++) {
        const seg = this.s.segs.shift();
        seg.unlinkFiles(this.s.files);
        seg.retired = true;
        if (seg.isOpen) {
          // Read recently (it is among the open ones): keep its descriptor for reads planned on it, file.delete.delay.ms.
          this.s.fds.release(seg);
          this.pendingClose.push({ segment: seg, closeAtMs: nowMs + delay });
        } else {
          // Closed already: a read still planned on it answers OFFSET_OUT_OF_RANGE, as it would after the delay.
          this.s.locator.forget(seg);
        }
      }
      this.s.files.fsyncDir(this.dir);
      // Replication hook: the leader epochs start no earlier than the log.
      this.s.epochs.truncateFromStart(this.logStartOffset);
    } catch (e) {
      this.s.fail(e, "delete segment");
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
    this.s.locator.forget(segment);
    segment.close(this.s.files);
  }

  // ------------------------------------------------------------ lifecycle

  /**
   * Persists the recovery point (the durable offset and its position) so it
   * survives a power loss too (flush() records it without an fsync), and the
   * active segment's indexes up to it, so the next open walks less of the
   * log. Does not flush: call flush() first to move the point.
   */
  checkpoint(): void {
    if (this.s.failure !== null || this.s.closed) return;
    // The point must not pass what the segment itself holds on disk.
    if (this.appender.hasJournaledUnsynced) this.flush();
    assert(!this.appender.hasJournaledUnsynced, "log: a checkpoint finds no durable bytes that only the journal holds");
    const seg = this.s.segs.active;
    try {
      // The producers as of the log end (the recovery point's directory fsync below covers the rename).
      if (this.appender.stagedByteCount === 0) snapshotProducers(this.s);
      seg.writeIndexFiles(this.s.files, {
        baseOffset: seg.baseOffset,
        nextOffset: this.s.durable,
        logBytes: this.s.durablePosition,
        maxTimestamp: this.s.durableMaxTimestamp,
      });
      this.s.recoveryPoint.checkpoint({
        offset: this.s.durable,
        segmentBaseOffset: seg.baseOffset,
        position: this.s.durablePosition,
      });
    } catch (e) {
      this.s.fail(e, "checkpoint");
    }
  }

  /** flush + checkpoint + close every file. Later calls fail with KAFKA_STORAGE_ERROR. */
  close(): void {
    if (this.s.closed) return;
    try {
      if (this.s.failure === null) {
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
    for (const name of this.s.files.readdir(this.dir)) this.s.files.unlink(path.join(this.dir, name));
    this.s.files.rmdir(this.dir);
  }

  private closeFiles(): void {
    this.appender.abandonFlushInFlight();
    this.s.closed = true;
    if (this.s.failure === null) this.s.failure = new SluiceError(ErrorCode.KAFKA_STORAGE_ERROR, "the partition log is closed");
    this.s.fds.closeAll();
    for (const seg of this.s.segs) seg.close(this.s.files);
    for (const p of this.pendingClose) p.segment.close(this.s.files);
    this.pendingClose.length = 0;
    this.s.recoveryPoint.close();
  }

}

export { LogError } from "./log_error.ts";
