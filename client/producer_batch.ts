// The producer's unit of work: one RecordBatch v2 for one partition, with the
// promises of the records in it. A batch is "open" while records are appended
// to its builder, then "closed" (header and CRC written) and queued for
// sending; it stays alive, bytes and all, until the broker acknowledged it or
// it failed for good, so a retry resends exactly the same bytes.
//
// Per record the batch keeps only the resolve function of its send() promise,
// in one array (no object per record; a failure settles the promise by
// resolving it with one rejected promise shared by the whole batch); a
// sendBatch() call keeps one range per batch it touches. All records of a
// batch are settled in one loop when its produce completes.

import { writeI16, writeI32, writeI64Number } from "../protocol/big_endian.ts";
import { crc32c } from "../protocol/crc32c.ts";
import {
  ATTRIBUTES_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BATCH_LENGTH_OFFSET,
  BATCH_OVERHEAD_BYTES,
  BatchBuilder,
  CRC_COVERED_FROM,
  CRC_OFFSET,
  FIRST_TIMESTAMP_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  MAGIC_OFFSET,
  MAGIC_V2,
  MAX_TIMESTAMP_OFFSET,
  PARTITION_LEADER_EPOCH_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORD_COUNT_OFFSET,
  RECORDS_OFFSET,
} from "../protocol/record_batch.ts";
import { compressBatch } from "../protocol/compressed_batch.ts";
import type { FinishOptions } from "../protocol/record_batch.ts";
import { stampBatch } from "./idempotence.ts";
import type { Codec } from "../protocol/compression/mod.ts";
import type { SluiceError } from "../protocol/errors.ts";
import { varintSize, writeVarint } from "../protocol/varint.ts";

/**
 * Encoded size of a batch holding one record with a byte value of `n` bytes
 * and nothing else (no key, no headers, the batch's timestamp).
 */
export function singleRecordBatchBytes(n: number): number {
  const body = 5 + varintSize(n) + n; // attributes, timestamp delta, offset delta 0, null key, value, header count
  return RECORDS_OFFSET + varintSize(body) + body;
}

/**
 * The batch BatchBuilder would finish for that one record (same bytes; see
 * producer.test.ts), written into an array of its own. A batch that a single
 * record fills (tiny batchBytes: one record per batch) needs no builder: no
 * view of a shared buffer to cut, no builder to take, reset and give back.
 */
export function encodeSingleRecordBatch(value: Uint8Array, timestamp: number): Uint8Array {
  const n = value.length;
  const body = 5 + varintSize(n) + n;
  const size = RECORDS_OFFSET + varintSize(body) + body;
  const b = new Uint8Array(size);
  // Zero-filled: base offset 0, attributes 0, last offset delta 0.
  writeI32(b, BATCH_LENGTH_OFFSET, size - BATCH_OVERHEAD_BYTES);
  writeI32(b, PARTITION_LEADER_EPOCH_OFFSET, -1);
  b[MAGIC_OFFSET] = MAGIC_V2;
  writeI16(b, ATTRIBUTES_OFFSET, 0);
  writeI32(b, LAST_OFFSET_DELTA_OFFSET, 0);
  writeI64Number(b, FIRST_TIMESTAMP_OFFSET, timestamp);
  writeI64Number(b, MAX_TIMESTAMP_OFFSET, timestamp);
  writeI64Number(b, PRODUCER_ID_OFFSET, -1);
  writeI16(b, PRODUCER_EPOCH_OFFSET, -1);
  writeI32(b, BASE_SEQUENCE_OFFSET, -1);
  writeI32(b, RECORD_COUNT_OFFSET, 1);
  let p = writeVarint(b, RECORDS_OFFSET, body);
  p += 2; // attributes 0, timestamp delta 0
  p++; // offset delta 0
  b[p++] = 1; // key: null (zigzag -1)
  p = writeVarint(b, p, n);
  b.set(value, p);
  // The last byte (header count 0) is already zero.
  writeI32(b, CRC_OFFSET, crc32c(b, CRC_COVERED_FROM, size));
  return b;
}

/** Where a record landed. `offset` is -1 when acks=0 (the broker does not say). */
export interface RecordMetadata {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
}

/** RecordMetadata as a class: one object shape for every resolved send(). */
class SentRecord implements RecordMetadata {
  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly offset: bigint,
  ) {}
}

/** A contiguous run of records of one sendBatch() call inside one batch. */
export interface SentRange {
  readonly partition: number;
  /** Offset of the range's first record (-1 when acks=0). */
  readonly baseOffset: bigint;
  readonly count: number;
}

/** Tracks one sendBatch() call across the batches its records went into. */
export class BatchSendTracker {
  remaining: number;
  readonly ranges: SentRange[] = [];
  failed = false;
  constructor(
    count: number,
    readonly resolve: (result: { count: number; ranges: SentRange[] }) => void,
    readonly reject: (error: Error) => void,
  ) {
    this.remaining = count;
  }

  fail(error: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.reject(error);
  }
}

/** The records of one sendBatch() call in one batch: offsets [offsetDelta, offsetDelta + count). */
interface RangeDelivery {
  readonly tracker: BatchSendTracker;
  readonly offsetDelta: number;
  count: number;
}

export type Resolve = (m: RecordMetadata) => void;

const EMPTY = new Uint8Array(0);

export class ProducerBatch {
  readonly topic: string;
  readonly partition: number;
  /** undefined for a batch encoded whole when it was created (ProducerBatch.single). */
  readonly builder: BatchBuilder | undefined;
  readonly createdAt: number;
  /** The send() records of the batch, in append order. */
  readonly resolves: Resolve[] = [];
  /**
   * Offset delta of each send() record; undefined while the batch holds only
   * send() records (then record i is resolves[i]).
   */
  private deltas: number[] | undefined;
  /** sendBatch() records, in append order (undefined when there are none). */
  private ranges: RangeDelivery[] | undefined;
  /** Budget bytes this batch holds (released once when it completes). */
  reservedBytes = 0;
  /**
   * The finished batch once closed: a view of the builder's buffer, or (when
   * compressed, or encoded whole) an array of its own.
   */
  bytes: Uint8Array | undefined;
  /** close() ran (a batch encoded whole has bytes before it is closed). */
  private sealed = false;
  /** Produce attempts made with this batch. */
  attempts = 0;
  /** The idempotent producer's generation (id and epoch) the header is stamped for; -1: not stamped (idempotence.ts). */
  stampGeneration = -1;
  /** flush() calls waiting for this batch to complete. */
  flushWaiters: Array<() => void> | undefined;
  done = false;
  /** Links of the producer's list of incomplete batches (BatchList). */
  listPrev: ProducerBatch | undefined;
  listNext: ProducerBatch | undefined;
  listed = false;
  /** Records in the batch, fixed when it is closed (the builder may serve another batch by then). */
  private closedCount = 0;
  /**
   * The builder went back to the pool before the batch completed: its bytes
   * were written into a request and will never be sent again (no retries).
   */
  builderReleased = false;

  constructor(topic: string, partition: number, builder: BatchBuilder | undefined, now: number) {
    this.topic = topic;
    this.partition = partition;
    this.builder = builder;
    this.createdAt = now;
    builder?.reset();
  }

  /** A batch of one record, already encoded and closed (encodeSingleRecordBatch). */
  static single(topic: string, partition: number, bytes: Uint8Array, now: number): ProducerBatch {
    const batch = new ProducerBatch(topic, partition, undefined, now);
    batch.bytes = bytes;
    batch.closedCount = 1;
    return batch;
  }

  get recordCount(): number {
    return this.bytes === undefined ? this.builder!.recordCount : this.closedCount;
  }

  /** Bytes of the batch (header included): its builder's so far while open. */
  get sizeBytes(): number {
    return this.bytes === undefined ? this.builder!.sizeBytes : this.bytes.length;
  }

  get closed(): boolean {
    return this.bytes !== undefined;
  }

  /**
   * Finishes the batch, compressing its records with `codec` when one is given (once: later calls do nothing).
   * `stamp` (an idempotent producer's id, epoch and base sequence) goes into the header before its CRC is made.
   */
  close(codec?: Codec, stamp?: FinishOptions): void {
    if (this.sealed) return;
    this.sealed = true;
    if (this.bytes === undefined) {
      const builder = this.builder!;
      this.closedCount = builder.recordCount;
      this.bytes = builder.finishView(stamp);
    } else if (stamp !== undefined) {
      // Encoded whole at creation (one record): the stamp and the CRC are written again.
      stampBatch(this.bytes, stamp.producerId as number, stamp.producerEpoch as number, stamp.baseSequence as number);
    }
    if (codec !== undefined) this.bytes = compressBatch(this.bytes, codec);
  }

  /** Gives the builder (and so the bytes) back to `pool` now; the batch must never be sent again. */
  releaseBuilder(pool: BuilderPool): void {
    if (this.builderReleased) return;
    this.builderReleased = true;
    this.bytes = EMPTY;
    if (this.builder !== undefined) pool.give(this.builder);
  }

  /** Registers the send() record just appended (at offset delta recordCount - 1). */
  addOne(resolve: Resolve): void {
    this.resolves.push(resolve);
    if (this.deltas !== undefined) this.deltas.push(this.recordCount - 1);
  }

  /** Registers the sendBatch() record just appended, extending the call's range when it is contiguous. */
  addToRange(tracker: BatchSendTracker): void {
    const offsetDelta = this.recordCount - 1;
    let ranges = this.ranges;
    if (ranges === undefined) {
      ranges = this.ranges = [];
      // From here on send() records need their deltas: so far record i was resolves[i].
      if (this.deltas === undefined) this.deltas = this.resolves.map((_, i) => i);
    } else {
      const last = ranges[ranges.length - 1];
      if (last.tracker === tracker && last.offsetDelta + last.count === offsetDelta) {
        last.count++;
        return;
      }
    }
    ranges.push({ tracker, offsetDelta, count: 1 });
  }

  /** Resolves every record; `baseOffset` is the offset of the batch's first record (-1n when unknown). */
  succeed(baseOffset: bigint): void {
    const known = baseOffset >= 0n;
    const { topic, partition, resolves } = this;
    const deltas = this.deltas;
    const ranges = this.ranges;
    if (deltas === undefined) {
      // Only send() records, one per offset: step the offset instead of converting each delta.
      let offset = baseOffset;
      if (known) {
        for (let i = 0; i < resolves.length; i++) {
          resolves[i](new SentRecord(topic, partition, offset));
          offset += 1n;
        }
      } else {
        for (let i = 0; i < resolves.length; i++) resolves[i](new SentRecord(topic, partition, -1n));
      }
      return;
    }
    // Mixed: settle in offset order, so records are acknowledged in the order they were sent.
    let r = 0;
    const rangeCount = ranges?.length ?? 0;
    for (let i = 0; i < resolves.length || r < rangeCount; ) {
      if (r < rangeCount && (i >= resolves.length || ranges![r].offsetDelta < deltas[i])) {
        const d = ranges![r++];
        const t = d.tracker;
        if (t.failed) continue;
        t.ranges.push({ partition, baseOffset: known ? baseOffset + BigInt(d.offsetDelta) : -1n, count: d.count });
        t.remaining -= d.count;
        if (t.remaining === 0) t.resolve({ count: t.ranges.reduce((n, x) => n + x.count, 0), ranges: t.ranges });
      } else {
        resolves[i](new SentRecord(topic, partition, known ? baseOffset + BigInt(deltas[i]) : -1n));
        i++;
      }
    }
  }

  fail(error: SluiceError | Error): void {
    const resolves = this.resolves;
    if (resolves.length > 0) {
      // Resolving with a rejected promise rejects each send() with `error`; the
      // shared one is marked handled (each send()'s own promise is the caller's).
      const failed = Promise.reject(error);
      failed.catch(() => {});
      for (let i = 0; i < resolves.length; i++) (resolves[i] as (v: unknown) => void)(failed);
    }
    if (this.ranges !== undefined) for (const d of this.ranges) d.tracker.fail(error);
  }
}

/**
 * The batches not yet completed, in creation order: a doubly linked list
 * through the batches themselves, so adding and removing one (once per batch,
 * thousands a second unbatched) costs no hashing and no allocation.
 */
export class BatchList {
  private head: ProducerBatch | undefined;
  private tail: ProducerBatch | undefined;
  size = 0;

  add(batch: ProducerBatch): void {
    if (batch.listed) return;
    batch.listed = true;
    batch.listPrev = this.tail;
    batch.listNext = undefined;
    if (this.tail === undefined) this.head = batch;
    else this.tail.listNext = batch;
    this.tail = batch;
    this.size++;
  }

  delete(batch: ProducerBatch): void {
    if (!batch.listed) return;
    batch.listed = false;
    const { listPrev: prev, listNext: next } = batch;
    if (prev === undefined) this.head = next;
    else prev.listNext = next;
    if (next === undefined) this.tail = prev;
    else next.listPrev = prev;
    batch.listPrev = batch.listNext = undefined;
    this.size--;
  }

  /** A copy of the list (callers complete batches while walking it). */
  toArray(): ProducerBatch[] {
    const out: ProducerBatch[] = [];
    for (let b = this.head; b !== undefined; b = b.listNext) out.push(b);
    return out;
  }
}

/** Spare builders (their buffers) kept for the next batches; past the cap they are left to the GC. */
export class BuilderPool {
  private readonly spare: BatchBuilder[] = [];
  constructor(
    private readonly spareMax: number,
    private readonly initialBytes: number,
  ) {}

  take(): BatchBuilder {
    return this.spare.pop() ?? new BatchBuilder({ initialBytes: this.initialBytes });
  }

  give(builder: BatchBuilder): void {
    if (this.spare.length < this.spareMax) this.spare.push(builder);
  }
}
