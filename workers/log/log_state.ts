// What the parts of one partition log share: its segments and descriptors, the
// durable point, and its health. The appender (log_appender.ts), the reader
// (log_reader.ts) and the log itself (partition_log.ts: open, retention,
// checkpoint, close) each hold the same LogState; nothing else does.
//
// Threading: one owner, as the PartitionLog that holds it (partition_log.ts).
// Fields are plain and public to those three files alone, so the hot paths read
// them directly: no getter, closure or copy per request.

import { rethrowIfAssertion } from "../../protocol/assert.ts";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import type { FileOps } from "./file_ops.ts";
import type { LogConfig } from "./log_config.ts";
import { LeaderEpochCache } from "./leader_epoch_cache.ts";
import { ProducerStateTable } from "./producer_state.ts";
import { LogError } from "./log_error.ts";
import { rebuildSegment } from "./recovery.ts";
import { RecoveryPointWriter } from "./recovery_point.ts";
import type { Segment } from "./segment_file.ts";
import { SegmentFds } from "./segment_fds.ts";
import { BatchLocator } from "./segment_reader.ts";
import { ScanBuffer } from "./segment_scan.ts";
import { SegmentSet } from "./segment_set.ts";

export class LogState {
  readonly dir: string;
  readonly files: FileOps;
  readonly now: () => number;
  cfg: LogConfig;
  readonly segs: SegmentSet;
  readonly fds: SegmentFds;
  readonly locator: BatchLocator;
  readonly recoveryPoint: RecoveryPointWriter;
  /** Idempotent producers' state (producer_state.ts): filled at open, kept by the appender. */
  readonly producers = new ProducerStateTable();
  /** Offsets below this are durable (covered by a completed fdatasync of the segment or the worker journal). */
  durable: number;
  /** Byte position of `durable` in the active segment, and the active segment's max timestamp at that point. */
  durablePosition: number;
  durableMaxTimestamp: number;
  /**
   * Leader epochs (epoch → start offset), with the leader-epoch file; set by
   * PartitionLog.open once the segments are known (leader_epoch_cache.ts).
   */
  epochs!: LeaderEpochCache;
  /** The epoch stamped into every batch appended as leader (NO_LEADER_EPOCH: -1, as clients send it). */
  leaderEpoch = -1;
  /** Why the log is offline (damage found at open, a failed write or fdatasync, closed), or null while online. */
  failure: Error | null;
  /** Opened over damage for reads only (offline, reads of the intact part still served). */
  readonly readOnly: boolean;
  closed = false;
  /** The first damage a read found since open (the log stays online). */
  damageFound: LogError | null = null;
  /** Sealed-segment indexes rebuilt after open because their files were damaged. */
  indexRebuilds = 0;
  /** Reads refused or cut short because a batch failed its check. */
  corruptReads = 0;
  /** Writes and rolls the disk refused for lack of space (each undone). */
  outOfSpaceFailures = 0;

  constructor(opts: {
    dir: string;
    config: LogConfig;
    files: FileOps;
    now: () => number;
    segments: Segment[];
    damage: LogError | null;
    indexCacheBytes?: number;
    sealedSegmentFds: number;
  }) {
    this.dir = opts.dir;
    this.files = opts.files;
    this.now = opts.now;
    this.cfg = opts.config;
    this.segs = new SegmentSet(opts.indexCacheBytes);
    for (const s of opts.segments) this.segs.push(s);
    this.fds = new SegmentFds(opts.files, opts.sealedSegmentFds);
    this.locator = new BatchLocator(opts.files, (seg) => this.fds.fdOf(seg));
    this.failure = opts.damage;
    this.readOnly = opts.damage !== null;
    this.recoveryPoint = new RecoveryPointWriter(opts.files, opts.dir);
    const active = this.segs.active;
    this.durable = active.nextOffset;
    this.durablePosition = active.size;
    this.durableMaxTimestamp = active.maxTimestamp;
  }

  get logStartOffset(): number {
    return this.segs.first.baseOffset;
  }

  get logEndOffset(): number {
    return this.segs.active.nextOffset;
  }

  /** The segment's offset index, loading (or rebuilding) a sealed segment's on first use. */
  indexesOf(seg: Segment): NonNullable<Segment["offsetIndex"]> {
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
  noteDamage(e: LogError): void {
    if (this.damageFound === null) this.damageFound = e;
  }

  assertWritable(): void {
    if (this.failure !== null) throw this.storageError();
  }

  storageError(): SluiceError {
    const cause = this.failure;
    if (cause instanceof SluiceError && cause.code === ErrorCode.KAFKA_STORAGE_ERROR) return cause;
    return new SluiceError(ErrorCode.KAFKA_STORAGE_ERROR, `the partition log is offline: ${cause?.message}`, { cause });
  }

  /**
   * A storage failure: the partition goes offline for good, and the caller gets
   * KAFKA_STORAGE_ERROR. A broken invariant (AssertionError) is not a storage
   * failure: it goes on up unchanged, and the log is left as it was.
   */
  fail(e: unknown, op: string): never {
    rethrowIfAssertion(e);
    const error = new SluiceError(
      ErrorCode.KAFKA_STORAGE_ERROR,
      `partition log ${this.dir} is offline: ${op} failed: ${(e as Error)?.message ?? String(e)}`,
      { cause: e },
    );
    if (this.failure === null) this.failure = error;
    throw error;
  }
}
