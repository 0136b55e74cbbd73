// Walks a segment's log from a batch boundary to its end, in large reads, and
// places every good batch into the segment (size, next offset, indexes). Used
// by recovery (validating from the recovery point, or structurally below it)
// and to rebuild a missing or damaged index.
//
// Contract: the walk stops at the first batch that fails, and reports where
// and why; the segment then describes exactly the batches before that point.
// It never writes: cutting a torn tail or refusing to come online is the
// caller's decision. `validate` checks every batch the way an append does
// (framing, magic, CRC-32C, record structure) plus that its base offset
// follows the previous batch; without it only framing and offsets are checked
// (for bytes already validated before a checkpoint).

import { assert } from "../../protocol/assert.ts";
import { readI32, readI64Number } from "../../protocol/big_endian.ts";
import {
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_OFFSET,
  BATCH_OVERHEAD_BYTES,
  BatchError,
  LAST_OFFSET_DELTA_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  validateBatch,
} from "../../protocol/record_batch.ts";
import { type FileOps, readFully } from "./file_ops.ts";
import { RECOVERY_READ_BYTES, STORED_BATCH_BYTES_MAX } from "./log_limits.ts";
import type { Segment } from "./segment_file.ts";

export interface ScanFailure {
  position: number;
  offset: number;
  reason: string;
  /** The failing batch runs past the end of the file (a torn write), as opposed to bytes that are wrong. */
  incomplete: boolean;
}

export interface ScanResult {
  batches: number;
  failure: ScanFailure | null;
}

/** A read buffer reused across the segments of one recovery. */
export class ScanBuffer {
  bytes = new Uint8Array(RECOVERY_READ_BYTES);
  /** File position of bytes[0], and how many bytes are valid. */
  start = 0;
  length = 0;
  owner: Segment | null = null;

  /** Makes file bytes [pos, pos+need) available; returns their index in `bytes`, or -1 past the end of file. */
  fill(files: FileOps, seg: Segment, pos: number, need: number, fileSize: number): number {
    if (this.owner === seg && pos >= this.start && pos + need <= this.start + this.length) return pos - this.start;
    if (pos + need > fileSize) return -1;
    // Grows to one batch at most: callers check a batch's size against STORED_BATCH_BYTES_MAX first.
    if (need > this.bytes.length) this.bytes = new Uint8Array(need);
    const len = Math.min(this.bytes.length, fileSize - pos);
    const n = readFully(files, seg.fd, this.bytes, 0, len, pos);
    this.owner = seg;
    this.start = pos;
    this.length = n;
    return n >= need ? 0 : -1;
  }
}

export function scanSegment(opts: {
  files: FileOps;
  segment: Segment;
  /** Where to start: must equal segment.size (a batch boundary). */
  from: number;
  /** Where to stop: the file size, or the recovery point for a structural walk. */
  to: number;
  validate: boolean;
  indexIntervalBytes: number;
  buffer: ScanBuffer;
  /** Called for the first batch placed in an empty segment (its max timestamp). */
  onFirstBatch?: (maxTimestamp: number) => void;
}): ScanResult {
  const { files, segment: seg, to, buffer } = opts;
  assert(opts.from === seg.size, "segment scan: starts at the segment's end (a batch boundary)", opts.from);
  let pos = opts.from;
  let batches = 0;
  const fail = (reason: string, incomplete: boolean): ScanResult => ({
    batches,
    failure: { position: pos, offset: seg.nextOffset, reason, incomplete },
  });
  while (pos < to) {
    if (to - pos < BATCH_HEADER_BYTES) return fail(`${to - pos} bytes at the end, less than a batch header`, true);
    let at = buffer.fill(files, seg, pos, BATCH_HEADER_BYTES, to);
    if (at < 0) return fail("short read of a batch header", true);
    const size = BATCH_OVERHEAD_BYTES + readI32(buffer.bytes, at + BATCH_LENGTH_OFFSET);
    if (size < BATCH_HEADER_BYTES || size > STORED_BATCH_BYTES_MAX) return fail(`batch length ${size} out of range`, false);
    if (pos + size > to) return fail(`batch of ${size} bytes, only ${to - pos} present`, true);
    at = buffer.fill(files, seg, pos, size, to);
    if (at < 0) return fail(`short read of a ${size}-byte batch`, true);
    const bytes = buffer.bytes;
    const baseOffset = readI64Number(bytes, at);
    if (baseOffset !== seg.nextOffset) return fail(`batch base offset ${baseOffset}, expected ${seg.nextOffset}`, false);
    let lastOffsetDelta: number;
    let maxTimestamp: number;
    if (opts.validate) {
      try {
        const s = validateBatch(bytes, at, at + size, STORED_BATCH_BYTES_MAX);
        lastOffsetDelta = s.lastOffsetDelta;
        maxTimestamp = s.maxTimestamp;
      } catch (e) {
        if (e instanceof BatchError) return fail(e.reason, false);
        throw e;
      }
    } else {
      lastOffsetDelta = readI32(bytes, at + LAST_OFFSET_DELTA_OFFSET);
      maxTimestamp = readI64Number(bytes, at + MAX_TIMESTAMP_OFFSET);
      if (lastOffsetDelta < 0) return fail(`lastOffsetDelta ${lastOffsetDelta}`, false);
    }
    if (seg.size === 0) opts.onFirstBatch?.(maxTimestamp);
    seg.place(
      { position: pos, baseOffset, lastOffset: baseOffset + lastOffsetDelta, maxTimestamp, size },
      opts.indexIntervalBytes,
    );
    batches++;
    pos += size;
  }
  return { batches, failure: null };
}
