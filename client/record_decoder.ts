// Turns a fetched RecordBatch v2 into the records the consumer hands out, with
// protocol/record_batch.ts's checks (checkBatch: framing, magic, CRC-32C,
// record count) and its RecordReader (every length against its record's end;
// gzip inflated): per record one FetchedRecord, one view per non-null key and
// value, and its offset — no intermediate record object, no header array for a
// record without headers, no bigint timestamp.

import { readI16, readI32, readI64 } from "../protocol/big_endian.ts";
import {
  ATTRIBUTES_OFFSET,
  checkBatch,
  LAST_OFFSET_DELTA_OFFSET,
  NO_HEADERS,
  RECORD_COUNT_OFFSET,
  RecordReader,
  type RecordHeaders,
} from "../protocol/record_batch.ts";

export { NO_HEADERS, type RecordHeaders };

/**
 * A consumed record; keys, values and header values are views into the fetched
 * bytes. Its offset is made when first read (the batch's base offset, shared,
 * plus the record's delta): a bigint per record was a tenth of the consume
 * path's allocations, and many readers never look at it.
 */
export class FetchedRecord {
  #offset: bigint | undefined;
  constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly baseOffset: bigint,
    private readonly offsetDelta: number,
    readonly timestamp: number,
    readonly key: Uint8Array | null,
    readonly value: Uint8Array | null,
    readonly headers: RecordHeaders,
  ) {}

  get offset(): bigint {
    return (this.#offset ??= this.baseOffset + BigInt(this.offsetDelta));
  }
}

export interface FetchedBatchInfo {
  /** Bytes the batch occupies. */
  readonly size: number;
  readonly baseOffset: bigint;
  /** The offset after the batch's last one. */
  readonly nextOffset: bigint;
  readonly attributes: number;
  readonly recordCount: number;
}

/**
 * Checks the batch at `pos` (which must end by `bytes.length`) and appends
 * its records at or past offset `position` to `out`. Throws BatchError
 * (CORRUPT_MESSAGE or INVALID_RECORD) naming what failed and where.
 */
export function decodeFetchedBatch(
  bytes: Uint8Array,
  pos: number,
  topic: string,
  partition: number,
  position: bigint,
  out: FetchedRecord[],
): FetchedBatchInfo {
  const info = checkFetchedBatch(bytes, pos);
  decodeFetchedRecords(bytes, pos, info, topic, partition, position, out);
  return info;
}

/**
 * Checks what can be checked without walking the records — framing, magic,
 * CRC-32C (so every byte is as the producer wrote it; unless `checkCrc` is
 * false), record count — and reads the header fields the consumer needs.
 */
export function checkFetchedBatch(bytes: Uint8Array, pos: number, checkCrc = true): FetchedBatchInfo {
  const size = checkBatch(bytes, pos, checkCrc);
  const baseOffset = readI64(bytes, pos);
  return {
    size,
    baseOffset,
    nextOffset: baseOffset + BigInt(readI32(bytes, pos + LAST_OFFSET_DELTA_OFFSET)) + 1n,
    attributes: readI16(bytes, pos + ATTRIBUTES_OFFSET),
    recordCount: readI32(bytes, pos + RECORD_COUNT_OFFSET),
  };
}

/**
 * Appends the records of the batch at `pos` (already checked: `info`) at or
 * past offset `position` to `out`. Throws BatchError (INVALID_RECORD) naming
 * the record.
 */
export function decodeFetchedRecords(
  bytes: Uint8Array,
  pos: number,
  info: FetchedBatchInfo,
  topic: string,
  partition: number,
  position: bigint,
  out: FetchedRecord[],
): void {
  const baseOffset = info.baseOffset;
  const reader = new RecordReader(bytes, pos, info.size);
  // Records below the position are checked but not handed out; compare deltas, not bigints.
  const below = position - baseOffset;
  const skipBelowDelta = below <= 0n ? 0 : below > 0x7fffffffn ? Infinity : Number(below);
  while (reader.next()) {
    const offsetDelta = reader.offsetDelta;
    if (offsetDelta < skipBelowDelta) continue;
    out.push(new FetchedRecord(topic, partition, baseOffset, offsetDelta, reader.timestampMs, reader.key, reader.value, reader.headers));
  }
}
