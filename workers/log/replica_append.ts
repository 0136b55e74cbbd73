// The follower's side of an append: batches fetched from the leader already
// carry their offsets and leader epochs, and are stored byte for byte as the
// leader stored them (no offset, epoch or timestamp patched), so every replica
// holds the same bytes at the same offsets.
//
// Called by LogAppender.stage() once the batches validated (framing, CRC):
// - the first batch must start at the log end (with what is staged), else
//   OFFSET_MISMATCH: the follower fetched from the wrong offset, or its log
//   diverged and must be truncated first;
// - each following batch must start right after the one before
//   (OFFSETS_OUT_OF_ORDER);
// - leader epochs never go down along the log (EPOCH_REGRESSION); a batch with
//   a newer epoch starts it in the leader-epoch cache, written to the file
//   before the batch itself is written.
// All checks come before any change: a refused append stages nothing. Epochs
// are assigned last, so only an append that passed every check records them.

import { readI32, readI64Number } from "../../protocol/big_endian.ts";
import { BATCH_LENGTH_OFFSET, BATCH_OVERHEAD_BYTES, LAST_OFFSET_DELTA_OFFSET, PARTITION_LEADER_EPOCH_OFFSET } from "../../protocol/record_batch.ts";
import type { LogState } from "./log_state.ts";
import { ReplicaLogError } from "./replica_log_error.ts";

export function checkReplicaBatches(s: LogState, records: Uint8Array, expectedBase: number): void {
  let pos = 0;
  let next = expectedBase;
  let latest = s.epochs.latestEpoch;
  // Epochs this append starts (few: usually none), assigned once every batch checked out.
  let starts: { epoch: number; startOffset: number }[] | null = null;
  while (pos < records.length) {
    const base = readI64Number(records, pos);
    if (base !== next) {
      if (pos === 0) {
        throw new ReplicaLogError("OFFSET_MISMATCH", `a follower append starts at offset ${base}, but the log ends at ${expectedBase}`);
      }
      throw new ReplicaLogError("OFFSETS_OUT_OF_ORDER", `a batch at offset ${base} follows one that ends before ${next}`);
    }
    const epoch = readI32(records, pos + PARTITION_LEADER_EPOCH_OFFSET);
    if (epoch > latest) {
      (starts ??= []).push({ epoch, startOffset: base });
      latest = epoch;
    } else if (epoch < latest) {
      throw new ReplicaLogError("EPOCH_REGRESSION", `a batch at offset ${base} has leader epoch ${epoch}, older than the log's ${latest}`);
    }
    next = base + readI32(records, pos + LAST_OFFSET_DELTA_OFFSET) + 1;
    pos += BATCH_OVERHEAD_BYTES + readI32(records, pos + BATCH_LENGTH_OFFSET);
  }
  if (starts !== null) {
    for (const e of starts) s.epochs.assign(e.epoch, e.startOffset);
    // A follower that becomes leader later starts from here (setLeaderEpoch() moves it on).
    s.leaderEpoch = latest;
  }
}
