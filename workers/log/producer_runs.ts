// Where a follower's fetched bytes change producer: the leader's log holds the
// batches of many producers interleaved, but one append is checked against the
// producer state as one producer's (producer_state.ts: a produce request's
// batches share one producer id and epoch). A follower's append is therefore
// staged run by run, each run the consecutive batches of one producer id and
// epoch (PartitionLog.appendAsFollower).

import { readI16, readI32, readI64Number } from "../../protocol/big_endian.ts";
import { BATCH_HEADER_BYTES, BATCH_LENGTH_OFFSET, BATCH_OVERHEAD_BYTES, PRODUCER_EPOCH_OFFSET, PRODUCER_ID_OFFSET } from "../../protocol/record_batch.ts";

/**
 * The end positions of the runs of consecutive batches sharing a producer id
 * and epoch in `records`, in order; the last is records.length. Only the
 * batch headers' length and producer fields are read: where a header cannot be
 * right (too short, running past the end) the rest is one run, and the log's
 * validation of each run refuses it with the reason.
 */
export function producerRunEnds(records: Uint8Array): number[] {
  const ends: number[] = [];
  let pos = 0;
  let id = Number.NaN;
  let epoch = Number.NaN;
  while (pos + BATCH_HEADER_BYTES <= records.length) {
    const size = BATCH_OVERHEAD_BYTES + readI32(records, pos + BATCH_LENGTH_OFFSET);
    if (size < BATCH_HEADER_BYTES || pos + size > records.length) break;
    const batchId = readI64Number(records, pos + PRODUCER_ID_OFFSET);
    const batchEpoch = readI16(records, pos + PRODUCER_EPOCH_OFFSET);
    if (pos > 0 && (batchId !== id || batchEpoch !== epoch)) ends.push(pos);
    id = batchId;
    epoch = batchEpoch;
    pos += size;
  }
  ends.push(records.length);
  return ends;
}
