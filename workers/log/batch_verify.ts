// Checks the batches a read is about to serve. Every batch was validated in
// full when it was appended (framing, CRC-32C, record structure); what can go
// wrong afterwards is the disk: a flipped bit, a torn or misplaced sector, a
// file changed under us. So the read path re-checks what a flip would break —
// framing, the base offset each batch must have (the base offset and length
// are outside the CRC), magic, and the CRC over the rest — but not the record
// structure, which the CRC already vouches for. The CRC runs at memory speed
// (GB/s) on bytes just read, so a read never serves a byte the disk changed.
//
// Contract: verifyBatches never throws and allocates no buffer; it reports the
// length of the valid prefix (whole batches only) and why the next batch
// failed. What to do with a failure is the caller's decision (the log serves
// the prefix, or fails the read when the prefix is empty).

import { readI32, readI64Number, readU32 } from "../../protocol/big_endian.ts";
import {
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_OFFSET,
  BATCH_OVERHEAD_BYTES,
  CRC_COVERED_FROM,
  CRC_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  MAGIC_OFFSET,
  MAGIC_V2,
} from "../../protocol/record_batch.ts";
import { crc32c } from "../../protocol/crc32c.ts";

/** The outcome of a check; one object is reused by its owner across reads. */
export class VerifiedPrefix {
  /** Bytes of whole, valid batches from the start of the checked range. */
  validBytes = 0;
  /** The offset the batch after the valid prefix must start at. */
  nextOffset = 0;
  /** Why the batch at `validBytes` failed; null when every byte belongs to a valid batch. */
  failure: string | null = null;
}

/**
 * Walks the batches in bytes[start, end), which must begin with a batch whose
 * base offset is `firstOffset`, and checks each one. Stops at the first batch
 * that fails; `out.validBytes` is then where it starts (relative to `start`).
 */
export function verifyBatches(bytes: Uint8Array, start: number, end: number, firstOffset: number, out: VerifiedPrefix): VerifiedPrefix {
  let pos = start;
  let expected = firstOffset;
  out.failure = null;
  while (pos < end) {
    const failure = checkBatchAt(bytes, pos, end, expected);
    if (failure !== null) {
      out.failure = failure;
      break;
    }
    expected += readI32(bytes, pos + LAST_OFFSET_DELTA_OFFSET) + 1;
    pos += BATCH_OVERHEAD_BYTES + readI32(bytes, pos + BATCH_LENGTH_OFFSET);
  }
  out.validBytes = pos - start;
  out.nextOffset = expected;
  return out;
}

/** Why the batch at `pos` is not a whole, intact batch starting at `expectedOffset`; null when it is. */
export function checkBatchAt(bytes: Uint8Array, pos: number, end: number, expectedOffset: number): string | null {
  if (end - pos < BATCH_HEADER_BYTES) return `${end - pos} bytes left, less than a batch header`;
  const size = BATCH_OVERHEAD_BYTES + readI32(bytes, pos + BATCH_LENGTH_OFFSET);
  if (size < BATCH_HEADER_BYTES || size > end - pos) return `batch length ${size} does not fit the ${end - pos} bytes left`;
  const baseOffset = readI64Number(bytes, pos);
  if (baseOffset !== expectedOffset) return `batch base offset ${baseOffset}, expected ${expectedOffset}`;
  const magic = bytes[pos + MAGIC_OFFSET];
  if (magic !== MAGIC_V2) return `batch magic ${magic}`;
  const stored = readU32(bytes, pos + CRC_OFFSET);
  const computed = crc32c(bytes, pos + CRC_COVERED_FROM, pos + size);
  if (stored !== computed) return `batch CRC mismatch: stored 0x${stored.toString(16)}, computed 0x${computed.toString(16)}`;
  // Covered by the CRC, so only a batch written wrong could have it negative; checked to keep offsets moving forward.
  if (readI32(bytes, pos + LAST_OFFSET_DELTA_OFFSET) < 0) return "negative lastOffsetDelta";
  return null;
}
