// Reads every batch's leader epoch and base offset from the segments, in
// offset order: what rebuilds a missing or damaged leader-epoch file at open
// (leader_epoch_cache.ts). Reads only the 16 bytes of each batch header it
// needs (base offset, length, epoch), one pread per batch; recovery has
// already checked the batches below each segment's size.

import { readI32, readI64Number } from "../../protocol/big_endian.ts";
import { BATCH_LENGTH_OFFSET, BATCH_OVERHEAD_BYTES, PARTITION_LEADER_EPOCH_OFFSET } from "../../protocol/record_batch.ts";
import { readFully } from "./file_ops.ts";
import type { LogState } from "./log_state.ts";

const HEADER_PREFIX_BYTES = PARTITION_LEADER_EPOCH_OFFSET + 4;

export function forEachBatchEpoch(s: LogState, onBatch: (epoch: number, baseOffset: number) => void): void {
  const head = new Uint8Array(HEADER_PREFIX_BYTES);
  for (const seg of s.segs) {
    const fd = s.fds.fdOf(seg);
    let pos = 0;
    while (pos < seg.size) {
      if (readFully(s.files, fd, head, 0, HEADER_PREFIX_BYTES, pos) < HEADER_PREFIX_BYTES) throw new Error(`short read of a batch header in ${seg.name} at ${pos}`);
      onBatch(readI32(head, PARTITION_LEADER_EPOCH_OFFSET), readI64Number(head, 0));
      pos += BATCH_OVERHEAD_BYTES + readI32(head, BATCH_LENGTH_OFFSET);
    }
  }
}
