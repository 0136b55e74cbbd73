// An in-memory log with the HostedLog interface, for partition_host tests that
// need to control time and failures exactly. It keeps the contract that matters
// to the host: base offsets patched in place, staged appends written (copied)
// only by writeStaged(), flush due by flush.interval.ms / flush.bytes, reads only
// of whole batches below the limit, a failed flush or write takes it offline. The real PartitionLog runs the same host tests on real files.

import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import { BATCH_LENGTH_OFFSET, BATCH_OVERHEAD_BYTES, patchBaseOffset, validateBatches } from "../../protocol/record_batch.ts";
import type { LogConfig } from "../log/log_config.ts";
import type { HostedLog, StagedAppend } from "../hosted_partition.ts";

interface StoredBatch {
  base: number;
  last: number;
  bytes: Uint8Array;
  maxTimestamp: number;
}

export class MemoryLog implements HostedLog {
  logStartOffset = 0;
  logEndOffset = 0;
  durableOffset = 0;
  sizeBytes = 0;
  online = true;
  corruption: Error | null = null;
  config: LogConfig;
  /** Flushes from now on throw (a failing disk). */
  failFlushes = false;
  /** Writes from now on throw and take the log offline (a full disk). */
  failWrites = false;
  /** Vectored writes done (one per writeStaged() with something staged). */
  writes = 0;
  /** Called as a flush starts (where the real log's fdatasync would begin). */
  onFlush: (() => void) | null = null;
  flushes = 0;
  retentionRuns = 0;
  closed = false;
  deleted = false;
  checkpoints = 0;
  private readonly batches: StoredBatch[] = [];
  private staged: { records: Uint8Array; maxTimestamp: number; nowMs: number }[] = [];
  private stagedOffsets = 0;
  private firstUnflushedAtMs: number | null = null;
  private unflushedBytes = 0;

  constructor(config: LogConfig) {
    this.config = config;
  }

  get segmentCount(): number {
    return 1;
  }

  get stagedByteCount(): number {
    let n = 0;
    for (const s of this.staged) n += s.records.length;
    return n;
  }

  /**
   * Validates and gives offsets now; keeps the view and copies its bytes only in
   * writeStaged(), as the real log writes them only then (so a host that let the
   * bytes change before the write would store the wrong ones here too).
   */
  stage(records: Uint8Array, nowMs: number, out: StagedAppend): StagedAppend {
    if (!this.online) throw new SluiceError(ErrorCode.KAFKA_STORAGE_ERROR);
    const summary = validateBatches(records, this.config.maxMessageBytes);
    const baseOffset = this.logEndOffset + this.stagedOffsets;
    let pos = 0;
    let next = baseOffset;
    const view = new DataView(records.buffer, records.byteOffset, records.byteLength);
    while (pos < records.length) {
      const lastOffsetDelta = view.getInt32(pos + 23);
      patchBaseOffset(records, pos, next);
      next += lastOffsetDelta + 1;
      pos += BATCH_OVERHEAD_BYTES + view.getInt32(pos + BATCH_LENGTH_OFFSET);
    }
    this.staged.push({ records, maxTimestamp: summary.maxTimestamp, nowMs });
    this.stagedOffsets += next - baseOffset;
    out.baseOffset = baseOffset;
    out.lastOffset = next - 1;
    out.logAppendTimeMs = -1;
    out.bytes = records.length;
    out.records = summary.records;
    return out;
  }

  writeStaged(): void {
    if (!this.online) throw new SluiceError(ErrorCode.KAFKA_STORAGE_ERROR, "the log is offline");
    const staged = this.staged;
    this.staged = [];
    this.stagedOffsets = 0;
    if (staged.length === 0) return;
    this.writes++;
    if (this.failWrites) {
      this.online = false;
      throw new SluiceError(ErrorCode.KAFKA_STORAGE_ERROR, "write failed: ENOSPC (injected)");
    }
    for (const { records, maxTimestamp, nowMs } of staged) {
      const view = new DataView(records.buffer, records.byteOffset, records.byteLength);
      let pos = 0;
      while (pos < records.length) {
        const size = BATCH_OVERHEAD_BYTES + view.getInt32(pos + BATCH_LENGTH_OFFSET);
        const base = this.logEndOffset;
        const last = base + view.getInt32(pos + 23);
        this.batches.push({ base, last, bytes: records.slice(pos, pos + size), maxTimestamp });
        this.logEndOffset = last + 1;
        pos += size;
      }
      this.sizeBytes += records.length;
      this.unflushedBytes += records.length;
      this.firstUnflushedAtMs ??= nowMs;
    }
  }

  flushDue(nowMs: number): boolean {
    if (this.firstUnflushedAtMs === null) return false;
    return this.unflushedBytes >= this.config.flushBytes || nowMs >= this.firstUnflushedAtMs + this.config.flushIntervalMs;
  }

  flushDeadlineMs(): number | null {
    return this.firstUnflushedAtMs === null ? null : this.firstUnflushedAtMs + this.config.flushIntervalMs;
  }

  flush(): number {
    this.onFlush?.();
    this.flushes++;
    if (this.failFlushes) {
      this.online = false;
      throw new SluiceError(ErrorCode.KAFKA_STORAGE_ERROR, "fdatasync failed: EIO (injected)");
    }
    this.durableOffset = this.logEndOffset;
    this.firstUnflushedAtMs = null;
    this.unflushedBytes = 0;
    return this.durableOffset;
  }

  /** As flush(), with a disk that returns at once: done runs before this returns. */
  flushAsync(done: (durableOffset: number, error: Error | null) => void): boolean {
    if (this.unflushedBytes === 0 && this.staged.length === 0) return false;
    let durable: number;
    try {
      durable = this.flush();
    } catch (e) {
      // A broken invariant is not a disk failure: it escapes, as from flush().
      if (!(e instanceof SluiceError)) throw e;
      done(this.durableOffset, e);
      return true;
    }
    done(durable, null);
    return true;
  }

  readonly flushInFlight = false;

  planRead(offset: number, maxBytes: number, limitOffset: number): { length: number; parts: StoredBatch[] } | { error: number } {
    if (offset < this.logStartOffset || offset > this.logEndOffset) return { error: ErrorCode.OFFSET_OUT_OF_RANGE };
    const parts: StoredBatch[] = [];
    let length = 0;
    for (const b of this.batches) {
      if (b.last < offset) continue;
      if (b.last >= limitOffset) break;
      if (parts.length > 0 && length + b.bytes.length > maxBytes) break;
      parts.push(b);
      length += b.bytes.length;
    }
    return { length, parts };
  }

  readInto(plan: { length: number }, target: Uint8Array, targetOffset: number): number {
    let at = targetOffset;
    for (const b of (plan as unknown as { parts: StoredBatch[] }).parts) {
      target.set(b.bytes, at);
      at += b.bytes.length;
    }
    return at - targetOffset;
  }

  /** By batch (its first offset and max timestamp): enough for the host's tests. */
  recordAtTimestamp(timestampMs: number): { offset: number; timestampMs: number } | null {
    for (const b of this.batches) if (b.maxTimestamp >= timestampMs) return { offset: b.base, timestampMs: b.maxTimestamp };
    return null;
  }

  applyRetention(): { deletedSegments: number; logStartOffset: number } {
    this.retentionRuns++;
    return { deletedSegments: 0, logStartOffset: this.logStartOffset };
  }

  setConfig(config: LogConfig): void {
    this.config = config;
  }

  checkpoint(): void {
    this.checkpoints++;
  }

  close(): void {
    this.closed = true;
  }

  deleteFiles(): void {
    this.deleted = true;
  }
}
