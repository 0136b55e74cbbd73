// Finds batch boundaries inside a segment for reads: from an index entry, walk
// batch headers to the batch holding an offset, or to the last batch that ends
// within a byte budget. Headers are read through one reused window
// (HEADER_SCAN_WINDOW_BYTES), so a lookup that stays within one index interval
// is one pread and allocates nothing.
//
// Contract: the caller passes a position that is a batch start (an index
// entry, or a result of this class) inside [0, segment.size), and for walks by
// offset the base offset the batch there must have (from the index entry, or
// a batch found before). Bytes of a segment below its size never change while
// it is open, so the window stays valid across calls. A header that does not
// make sense here means the disk changed it: a LogError, never a wrong answer.
// Base offsets are outside the batch CRC, so a walk checks that each batch
// starts right after the one before (offsets chained from the index entry):
// a flipped base offset cannot make a read start at the wrong batch.

import { readI32, readI64Number } from "../../protocol/big_endian.ts";
import {
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_OFFSET,
  BATCH_OVERHEAD_BYTES,
  LAST_OFFSET_DELTA_OFFSET,
  MAX_TIMESTAMP_OFFSET,
} from "../../protocol/record_batch.ts";
import { type FileOps, readFully } from "./file_ops.ts";
import { LogError } from "./log_error.ts";
import { HEADER_SCAN_WINDOW_BYTES } from "./log_limits.ts";
import type { Segment } from "./segment_file.ts";

export class BatchLocator {
  private readonly files: FileOps;
  /** A segment's descriptor, opening a sealed one on demand (segment_fds.ts); -1 when it cannot be read. */
  private readonly fdOf: (seg: Segment) => number;
  private readonly window = new Uint8Array(HEADER_SCAN_WINDOW_BYTES);
  private windowSegment: Segment | null = null;
  private windowStart = 0;
  private windowLength = 0;

  /** The batch found by the last seek: where it starts, its offsets, size and max timestamp. */
  position = 0;
  baseOffset = 0;
  lastOffset = 0;
  size = 0;
  maxTimestamp = 0;

  constructor(files: FileOps, fdOf: (seg: Segment) => number) {
    this.files = files;
    this.fdOf = fdOf;
  }

  /** Forget the window (the segment was closed or cut). */
  forget(seg: Segment): void {
    if (this.windowSegment === seg) this.windowSegment = null;
  }

  /**
   * Reads the header of the batch at `pos` into the found-batch fields. On a
   * window miss it reads `readAhead` bytes from `pos` (at least a header, at
   * most the window), so the next headers of a walk come from memory.
   */
  headerAt(seg: Segment, pos: number, readAhead: number = HEADER_SCAN_WINDOW_BYTES): void {
    let at = pos - this.windowStart;
    if (this.windowSegment !== seg || at < 0 || at + BATCH_HEADER_BYTES > this.windowLength) {
      const len = Math.min(this.window.length, seg.size - pos, Math.max(BATCH_HEADER_BYTES, readAhead));
      const fd = len < BATCH_HEADER_BYTES ? -1 : this.fdOf(seg);
      if (fd < 0) this.damaged(seg, pos, "no batch header where one should start");
      const n = readFully(this.files, fd, this.window, 0, len, pos);
      if (n < BATCH_HEADER_BYTES) this.damaged(seg, pos, "short read of a batch header");
      this.windowSegment = seg;
      this.windowStart = pos;
      this.windowLength = n;
      at = 0;
    }
    const w = this.window;
    const size = BATCH_OVERHEAD_BYTES + readI32(w, at + BATCH_LENGTH_OFFSET);
    const baseOffset = readI64Number(w, at);
    if (size < BATCH_HEADER_BYTES || pos + size > seg.size) this.damaged(seg, pos, `batch length ${size} does not fit`);
    this.position = pos;
    this.baseOffset = baseOffset;
    this.lastOffset = baseOffset + readI32(w, at + LAST_OFFSET_DELTA_OFFSET);
    this.size = size;
    this.maxTimestamp = readI64Number(w, at + MAX_TIMESTAMP_OFFSET);
    if (baseOffset < seg.baseOffset || this.lastOffset >= seg.nextOffset || this.lastOffset < baseOffset) {
      this.damaged(seg, pos, `batch offsets ${baseOffset}..${this.lastOffset} outside the segment`);
    }
  }

  /**
   * Walks from the batch at `from` (an index entry), whose base offset must be
   * `fromOffset`, to the batch holding `offset`, which starts before `spanEnd`
   * (the next index entry's position, or the segment end). Reads the first
   * header alone — with an entry per batch that is the answer — and then, if
   * needed, the rest of the span at once: at most two small preads, never more
   * bytes than the span.
   */
  seekOffset(seg: Segment, from: number, fromOffset: number, offset: number, spanEnd: number = seg.size): void {
    let pos = from;
    this.headerAt(seg, pos, BATCH_HEADER_BYTES);
    this.expectBase(seg, fromOffset);
    for (;;) {
      if (offset <= this.lastOffset) {
        if (offset < this.baseOffset) this.damaged(seg, pos, `offset ${offset} falls before this batch`);
        return;
      }
      const next = this.lastOffset + 1;
      pos += this.size;
      this.headerAt(seg, pos, spanEnd + BATCH_HEADER_BYTES - pos);
      this.expectBase(seg, next);
    }
  }

  /**
   * Walks from the batch boundary `from` and returns the last batch boundary
   * at or before `limit` (`from` itself if the batch there ends past it).
   */
  seekEnd(seg: Segment, from: number, limit: number): number {
    let end = from;
    while (end < seg.size) {
      this.headerAt(seg, end);
      if (end + this.size > limit) break;
      end += this.size;
    }
    return end;
  }

  /**
   * Walks from the batch at `from`, whose base offset must be `fromOffset`, to
   * the first batch whose max timestamp is ≥ ts; false if none before the end.
   */
  seekTimestamp(seg: Segment, from: number, fromOffset: number, ts: number): boolean {
    let pos = from;
    let expected = fromOffset;
    while (pos < seg.size) {
      this.headerAt(seg, pos);
      this.expectBase(seg, expected);
      if (this.maxTimestamp >= ts) return true;
      expected = this.lastOffset + 1;
      pos += this.size;
    }
    return false;
  }

  /** The batch just found must start at `expected` (the chain of offsets from an index entry). */
  private expectBase(seg: Segment, expected: number): void {
    if (this.baseOffset !== expected) this.damaged(seg, this.position, `batch base offset ${this.baseOffset}, expected ${expected}`);
  }

  private damaged(seg: Segment, pos: number, reason: string): never {
    this.windowSegment = null;
    throw new LogError({ segment: seg.name, position: pos, offset: seg.baseOffset, reason });
  }
}
