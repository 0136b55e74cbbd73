// Group commit: when a partition's unsynced appends must be made durable.
//
// Durability contract: an append is WRITTEN when its bytes are in the segment
// file (page cache): it survives a process crash, not a power loss. It is
// DURABLE once an fdatasync that started after the write has returned. Many
// appends share one fdatasync: a flush is due when `flush.bytes` unsynced
// bytes have piled up, or when the oldest unsynced write is `flush.interval.ms`
// old (0 = as soon as the writer has nothing else to do), whichever is first.
// This class only keeps the clock and the byte count; the log does the
// fdatasync and moves its durable offset, and never retries a failed one.

import type { LogConfig } from "./log_config.ts";

export class FsyncBatcher {
  private bytes = 0;
  private oldestMs = -1;

  /** Unsynced bytes written. */
  get unsyncedBytes(): number {
    return this.bytes;
  }

  get hasUnsynced(): boolean {
    return this.bytes > 0;
  }

  noteWrite(bytes: number, nowMs: number): void {
    if (this.bytes === 0) this.oldestMs = nowMs;
    this.bytes += bytes;
  }

  due(nowMs: number, cfg: LogConfig): boolean {
    if (this.bytes === 0) return false;
    return this.bytes >= cfg.flushBytes || nowMs - this.oldestMs >= cfg.flushIntervalMs;
  }

  /** When a flush becomes due if nothing else is written; null when nothing is unsynced. */
  deadlineMs(cfg: LogConfig): number | null {
    if (this.bytes === 0) return null;
    if (this.bytes >= cfg.flushBytes) return this.oldestMs;
    return this.oldestMs + cfg.flushIntervalMs;
  }

  /** Everything written so far is durable. */
  synced(): void {
    this.bytes = 0;
    this.oldestMs = -1;
  }
}
