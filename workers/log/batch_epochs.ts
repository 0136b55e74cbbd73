// Reads batches' leader epochs from the segments: what rebuilds a missing or
// damaged leader-epoch file at open (leader_epoch_cache.ts). Reads only the
// 16 bytes of each batch header it needs (base offset, length, epoch), one
// pread per batch.
//
// Epochs never go back along a log (-1 never follows an epoch ≥ 0: the leader
// and the follower path both refuse it), so the last batch tells whether any
// batch has an epoch at all: a log that never had one (every single-node log)
// costs one header walk of its last index interval, not a walk of every batch.
//
// Recovery checked the framing of what it validated, not of what it trusted
// below the recovery point; a header whose length cannot be right stops the
// walk (reads report that damage), and the caller is told the walk was cut.

import { readI32, readI64Number } from "../../protocol/big_endian.ts";
import { BATCH_HEADER_BYTES, BATCH_LENGTH_OFFSET, BATCH_OVERHEAD_BYTES, PARTITION_LEADER_EPOCH_OFFSET } from "../../protocol/record_batch.ts";
import { readFully } from "./file_ops.ts";
import type { LogState } from "./log_state.ts";
import type { Segment } from "./segment_file.ts";

const HEADER_PREFIX_BYTES = PARTITION_LEADER_EPOCH_OFFSET + 4;

/**
 * Calls `onBatch` for each batch of `seg` from byte `from` (a batch boundary)
 * to its end; returns false if a header could not be right (the walk stopped).
 */
function walkSegment(s: LogState, seg: Segment, from: number, onBatch: (epoch: number, baseOffset: number) => void): boolean {
  const head = new Uint8Array(HEADER_PREFIX_BYTES);
  const fd = s.fds.fdOf(seg);
  let pos = from;
  while (pos < seg.size) {
    if (readFully(s.files, fd, head, 0, HEADER_PREFIX_BYTES, pos) < HEADER_PREFIX_BYTES) return false;
    const size = BATCH_OVERHEAD_BYTES + readI32(head, BATCH_LENGTH_OFFSET);
    if (size < BATCH_HEADER_BYTES || pos + size > seg.size) return false;
    onBatch(readI32(head, PARTITION_LEADER_EPOCH_OFFSET), readI64Number(head, 0));
    pos += size;
  }
  return true;
}

/** Every batch's epoch and base offset, in offset order; false if damage stopped the walk. */
export function forEachBatchEpoch(s: LogState, onBatch: (epoch: number, baseOffset: number) => void): boolean {
  for (const seg of s.segs) if (!walkSegment(s, seg, 0, onBatch)) return false;
  return true;
}

/** The last batch's epoch (-1 for an empty log), from the last index entry of the last non-empty segment on. */
export function lastBatchEpoch(s: LogState): number {
  for (let i = s.segs.count - 1; i >= 0; i--) {
    const seg = s.segs.at(i);
    if (seg.size === 0) continue;
    const index = s.indexesOf(seg);
    const from = index.count === 0 ? 0 : index.positionAt(index.count - 1);
    let epoch = -1;
    walkSegment(s, seg, from, (e) => {
      epoch = e;
    });
    return epoch;
  }
  return -1;
}
