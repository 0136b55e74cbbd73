// Idempotent producers: per-partition state that lets a retried batch be
// answered with the offsets it was first given instead of being appended
// twice, as Kafka's ProducerStateManager does.
//
// Runs on: the partition worker thread, owned by one PartitionLog (through its
// LogState), called from the append path (log_appender.ts) only for batches
// with producerId ≥ 0; a batch with producerId -1 costs one compare.
//
// Rules (checked per append, all its batches together; an append with
// idempotent batches holds batches of one producer and epoch, in sequence):
// - Duplicate: the epoch is the producer's and the append's first batch and
//   last batch are among its last PRODUCER_BATCHES_CACHED batches (same first
//   and last sequence): nothing is appended, the answer is the offsets they
//   were given (Kafka answers DUPLICATE_SEQUENCE_NUMBER as success: NONE with
//   the original offsets).
// - In sequence: the first sequence follows the producer's last one (int32
//   wraps to 0): appended, and the batches are remembered.
// - A gap, or a sequence behind the cached batches: OUT_OF_ORDER_SEQUENCE_NUMBER.
// - An epoch below the producer's: INVALID_PRODUCER_EPOCH (fenced: a newer
//   incarnation of the producer exists). A newer epoch must start at
//   sequence 0 (OUT_OF_ORDER_SEQUENCE_NUMBER otherwise), and replaces the old.
// - A producer this partition has no state for (new, or evicted) is taken at
//   any sequence, as Kafka does since KIP-360: state may be gone because it
//   was evicted; refusing would stop the producer for good.
// - Transactional and control batches are refused (INVALID_RECORD):
//   transactions are not supported.
//
// Bounded: at most PRODUCERS_PER_PARTITION_MAX producers per partition; a new
// one evicts the least recently appended producer that has no append staged
// (Kafka expires producers after producer.id.expiration.ms instead). Eviction
// forgets that producer's last batches: a retry of one of them that arrives
// after the eviction is appended again (a duplicate in the log), exactly as in
// Kafka after the expiration. With the bound far above the producers a
// partition sees at once, only a producer idle while many others wrote is
// evicted, and its retries are long over.
//
// Staged vs written (log_appender.ts stages appends, then writes them with
// one vectored write): state changes at stage(), so a later append of the
// same pass sees the earlier one; each producer touched keeps a copy of its
// state as of the last write, restored by abortStaged() when the write fails
// (nothing of it was stored) and dropped by commitStaged() once it is written.

import { assert } from "../../protocol/assert.ts";
import { readI16, readI32, readI64Number } from "../../protocol/big_endian.ts";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import {
  ATTRIBUTES_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BatchAttribute,
  BatchError,
  LAST_OFFSET_DELTA_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
} from "../../protocol/record_batch.ts";
import { PRODUCER_BATCHES_CACHED, PRODUCERS_PER_PARTITION_MAX } from "./log_limits.ts";

/** The largest sequence number: the next after it is 0. */
export const SEQUENCE_MAX = 0x7fffffff;

/** Sequence `seq` advanced by `n` (≥ 0), wrapping past SEQUENCE_MAX to 0. */
export function addSequence(seq: number, n: number): number {
  const s = seq + n;
  return s > SEQUENCE_MAX ? s - SEQUENCE_MAX - 1 : s;
}

/** What check() decided for an append. */
export const ProducerVerdict = {
  /** Not idempotent (producerId -1): nothing to do. */
  NONE: 0,
  /** In sequence: append it, then record() it. */
  APPEND: 1,
  /** A retry of batches already stored: answer `duplicateBase`..`duplicateLast`, append nothing. */
  DUPLICATE: 2,
} as const;
export type ProducerVerdict = (typeof ProducerVerdict)[keyof typeof ProducerVerdict];

/** One producer's state in one partition: its epoch and its last batches (a ring, newest at head - 1). */
export class ProducerEntry {
  epoch: number;
  /** Batches cached (≤ PRODUCER_BATCHES_CACHED). */
  count = 0;
  /** Where the next batch goes in the ring. */
  head = 0;
  readonly firstSeq = new Int32Array(PRODUCER_BATCHES_CACHED);
  readonly lastSeq = new Int32Array(PRODUCER_BATCHES_CACHED);
  readonly baseOffset = new Float64Array(PRODUCER_BATCHES_CACHED);
  readonly lastOffset = new Float64Array(PRODUCER_BATCHES_CACHED);
  /** The state as of the last write, while an append of it is staged (see the top); null otherwise. */
  saved: ProducerEntry | null = null;
  /** Created by a staged append: an abort forgets it. */
  createdStaged = false;

  constructor(
    readonly id: number,
    epoch: number,
  ) {
    this.epoch = epoch;
  }

  /** The sequence of the newest cached batch (-1 with none). */
  get lastSequence(): number {
    return this.count === 0 ? -1 : this.lastSeq[(this.head + PRODUCER_BATCHES_CACHED - 1) % PRODUCER_BATCHES_CACHED];
  }

  /** Ring index of the cached batch whose first sequence is `seq`, or -1. */
  findFirst(seq: number): number {
    for (let k = 0; k < this.count; k++) {
      const i = (this.head + PRODUCER_BATCHES_CACHED - 1 - k) % PRODUCER_BATCHES_CACHED;
      if (this.firstSeq[i] === seq) return i;
    }
    return -1;
  }

  /** Ring index of the cached batch whose last sequence is `seq`, or -1. */
  findLast(seq: number): number {
    for (let k = 0; k < this.count; k++) {
      const i = (this.head + PRODUCER_BATCHES_CACHED - 1 - k) % PRODUCER_BATCHES_CACHED;
      if (this.lastSeq[i] === seq) return i;
    }
    return -1;
  }

  push(firstSeq: number, lastSeq: number, baseOffset: number, lastOffset: number): void {
    const i = this.head;
    this.firstSeq[i] = firstSeq;
    this.lastSeq[i] = lastSeq;
    this.baseOffset[i] = baseOffset;
    this.lastOffset[i] = lastOffset;
    this.head = (i + 1) % PRODUCER_BATCHES_CACHED;
    if (this.count < PRODUCER_BATCHES_CACHED) this.count++;
  }

  /** The cached batches oldest first (for snapshots and tests). */
  batches(): { firstSeq: number; lastSeq: number; baseOffset: number; lastOffset: number }[] {
    const out = [];
    for (let k = this.count - 1; k >= 0; k--) {
      const i = (this.head + PRODUCER_BATCHES_CACHED - 1 - k) % PRODUCER_BATCHES_CACHED;
      out.push({ firstSeq: this.firstSeq[i], lastSeq: this.lastSeq[i], baseOffset: this.baseOffset[i], lastOffset: this.lastOffset[i] });
    }
    return out;
  }

  copyFrom(o: ProducerEntry): void {
    this.epoch = o.epoch;
    this.count = o.count;
    this.head = o.head;
    this.firstSeq.set(o.firstSeq);
    this.lastSeq.set(o.lastSeq);
    this.baseOffset.set(o.baseOffset);
    this.lastOffset.set(o.lastOffset);
  }
}

export class ProducerStateTable {
  /** Producers by id, least recently appended first (a touch moves one to the end). */
  private readonly producers = new Map<number, ProducerEntry>();
  /** Producers changed by staged appends since the last write. Bounded by the appends a pass stages. */
  private readonly staged: ProducerEntry[] = [];
  readonly limit: number;
  /** Producers evicted for room since open. */
  evictions = 0;
  /** Set by check() for a DUPLICATE: the offsets the batches were stored at. */
  duplicateBase = 0;
  duplicateLast = 0;
  // Set by check() for an APPEND: what record() stores.
  private appendProducer = -1;
  private appendEpoch = 0;
  /** Per batch of the append being checked: first and last sequence, and offset count. Reused. */
  private batchFirst = new Int32Array(16);
  private batchLast = new Int32Array(16);
  private batchOffsets = new Float64Array(16);
  private batchCount = 0;

  constructor(limit: number = PRODUCERS_PER_PARTITION_MAX) {
    assert(limit >= 1, "producer state: room for at least one producer", limit);
    this.limit = limit;
  }

  get size(): number {
    return this.producers.size;
  }

  get(producerId: number): ProducerEntry | undefined {
    return this.producers.get(producerId);
  }

  /** Every producer, least recently appended first. */
  entries(): IterableIterator<ProducerEntry> {
    return this.producers.values();
  }

  /**
   * Checks the append of `records` (validated batches at `positions[0..n)`) against
   * the producers' state. Returns NONE for batches without a producer id, APPEND
   * (then call record() with its offsets) or DUPLICATE (duplicateBase/Last set);
   * throws SluiceError with OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH
   * or INVALID_RECORD. Changes nothing.
   */
  check(records: Uint8Array, positions: Float64Array, from: number, n: number, positionBase: number): ProducerVerdict {
    const p0 = positions[from] - positionBase;
    const producerId = readI64Number(records, p0 + PRODUCER_ID_OFFSET);
    // The one compare every non-idempotent append pays (all its batches must say the same).
    if (producerId < 0 && n === 1) return ProducerVerdict.NONE;
    const epoch = readI16(records, p0 + PRODUCER_EPOCH_OFFSET);
    if (n > this.batchFirst.length) {
      this.batchFirst = new Int32Array(n);
      this.batchLast = new Int32Array(n);
      this.batchOffsets = new Float64Array(n);
    }
    let expected = -1;
    for (let k = 0; k < n; k++) {
      const p = positions[from + k] - positionBase;
      const id = readI64Number(records, p + PRODUCER_ID_OFFSET);
      if (id !== producerId || readI16(records, p + PRODUCER_EPOCH_OFFSET) !== epoch) {
        throw new BatchError(ErrorCode.INVALID_RECORD, "the batches of one append must share one producer id and epoch", p + PRODUCER_ID_OFFSET);
      }
      if (producerId < 0) continue;
      const attributes = readI16(records, p + ATTRIBUTES_OFFSET);
      if ((attributes & (BatchAttribute.TRANSACTIONAL | BatchAttribute.CONTROL)) !== 0) {
        throw new BatchError(ErrorCode.INVALID_RECORD, "transactional and control batches are not supported (no transactions)", p + ATTRIBUTES_OFFSET);
      }
      const seq = readI32(records, p + BASE_SEQUENCE_OFFSET);
      if (epoch < 0 || seq < 0) {
        throw new BatchError(ErrorCode.INVALID_RECORD, `producer ${producerId}: epoch ${epoch} and base sequence ${seq} must be ≥ 0`, p + PRODUCER_EPOCH_OFFSET);
      }
      const delta = readI32(records, p + LAST_OFFSET_DELTA_OFFSET);
      if (k > 0 && seq !== expected) {
        throw new SluiceError(
          ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
          `producer ${producerId}: batch ${k} of the append starts at sequence ${seq}, expected ${expected}`,
        );
      }
      this.batchFirst[k] = seq;
      this.batchLast[k] = addSequence(seq, delta);
      this.batchOffsets[k] = delta + 1;
      expected = addSequence(seq, delta + 1);
    }
    if (producerId < 0) return ProducerVerdict.NONE;
    this.batchCount = n;
    const first = this.batchFirst[0];
    const last = this.batchLast[n - 1];
    const e = this.producers.get(producerId);
    if (e !== undefined) {
      if (epoch < e.epoch) {
        throw new SluiceError(
          ErrorCode.INVALID_PRODUCER_EPOCH,
          `producer ${producerId}: epoch ${epoch} is older than the current epoch ${e.epoch} (fenced by a newer producer)`,
        );
      }
      if (epoch === e.epoch) {
        const i = e.findFirst(first);
        const j = i < 0 ? -1 : e.findLast(last);
        if (i >= 0 && j >= 0) {
          let offsets = 0;
          for (let k = 0; k < n; k++) offsets += this.batchOffsets[k];
          if (e.lastOffset[j] - e.baseOffset[i] + 1 !== offsets) {
            throw new SluiceError(
              ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
              `producer ${producerId}: sequences ${first}..${last} were stored, but not as one run of ${offsets} offsets`,
            );
          }
          this.duplicateBase = e.baseOffset[i];
          this.duplicateLast = e.lastOffset[j];
          return ProducerVerdict.DUPLICATE;
        }
        const lastSeq = e.lastSequence;
        if (lastSeq >= 0 && first !== addSequence(lastSeq, 1)) {
          throw new SluiceError(
            ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
            `producer ${producerId} epoch ${epoch}: sequence ${first}, expected ${addSequence(lastSeq, 1)}`,
          );
        }
      } else if (first !== 0) {
        throw new SluiceError(
          ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
          `producer ${producerId}: a new epoch ${epoch} must start at sequence 0, not ${first}`,
        );
      }
    }
    this.appendProducer = producerId;
    this.appendEpoch = epoch;
    return ProducerVerdict.APPEND;
  }

  /**
   * A follower's append (replication): the leader checked every batch and
   * stored them as they are, several producers interleaved, so nothing is
   * refused here; each run of batches of one producer and epoch is recorded
   * as record() does for an APPEND, from `baseOffset` on (Kafka's replication
   * origin does the same). Batches without a producer id are skipped.
   */
  recordReplicated(records: Uint8Array, positions: Float64Array, from: number, n: number, positionBase: number, offsetCounts: Float64Array, baseOffset: number): void {
    let next = baseOffset;
    let k = 0;
    while (k < n) {
      const p0 = positions[from + k] - positionBase;
      const id = readI64Number(records, p0 + PRODUCER_ID_OFFSET);
      const epoch = readI16(records, p0 + PRODUCER_EPOCH_OFFSET);
      let end = k + 1;
      while (end < n) {
        const p = positions[from + end] - positionBase;
        if (readI64Number(records, p + PRODUCER_ID_OFFSET) !== id || readI16(records, p + PRODUCER_EPOCH_OFFSET) !== epoch) break;
        end++;
      }
      const runBase = next;
      for (let j = k; j < end; j++) next += offsetCounts[from + j];
      if (id >= 0) {
        const count = end - k;
        if (count > this.batchFirst.length) {
          this.batchFirst = new Int32Array(count);
          this.batchLast = new Int32Array(count);
          this.batchOffsets = new Float64Array(count);
        }
        for (let j = 0; j < count; j++) {
          const p = positions[from + k + j] - positionBase;
          const seq = readI32(records, p + BASE_SEQUENCE_OFFSET);
          const delta = readI32(records, p + LAST_OFFSET_DELTA_OFFSET);
          this.batchFirst[j] = seq;
          this.batchLast[j] = addSequence(seq, delta);
          this.batchOffsets[j] = delta + 1;
        }
        this.batchCount = count;
        this.appendProducer = id;
        this.appendEpoch = epoch;
        this.record(runBase);
      }
      k = end;
    }
  }

  /** Records the append check() said APPEND to, given offsets from `baseOffset`. */
  record(baseOffset: number): void {
    const id = this.appendProducer;
    assert(id >= 0, "producer state: record() follows a check() that said APPEND", id);
    this.appendProducer = -1;
    let e = this.producers.get(id);
    if (e === undefined) {
      this.makeRoom();
      e = new ProducerEntry(id, this.appendEpoch);
      e.createdStaged = true;
      this.staged.push(e);
    } else {
      this.producers.delete(id);
      if (e.saved === null && !e.createdStaged) {
        const saved = new ProducerEntry(id, e.epoch);
        saved.copyFrom(e);
        e.saved = saved;
        this.staged.push(e);
      }
    }
    this.producers.set(id, e);
    if (e.epoch !== this.appendEpoch) {
      e.epoch = this.appendEpoch;
      e.count = 0;
      e.head = 0;
    }
    let next = baseOffset;
    for (let k = 0; k < this.batchCount; k++) {
      const offsets = this.batchOffsets[k];
      e.push(this.batchFirst[k], this.batchLast[k], next, next + offsets - 1);
      next += offsets;
    }
  }

  /** The staged appends were written: their state stays. */
  commitStaged(): void {
    const staged = this.staged;
    for (let k = 0; k < staged.length; k++) {
      staged[k].saved = null;
      staged[k].createdStaged = false;
    }
    staged.length = 0;
    while (this.producers.size > this.limit && this.evictOne()) {}
  }

  /** The staged appends were not written: producers go back to their state as of the last write. */
  abortStaged(): void {
    const staged = this.staged;
    for (let k = staged.length - 1; k >= 0; k--) {
      const e = staged[k];
      if (e.createdStaged) this.producers.delete(e.id);
      else if (e.saved !== null) e.copyFrom(e.saved);
      e.saved = null;
      e.createdStaged = false;
    }
    staged.length = 0;
  }

  /** Puts a producer's state back as a snapshot or the log says (rebuild; nothing staged). */
  restore(id: number, epoch: number, firstSeq: number, lastSeq: number, baseOffset: number, lastOffset: number): void {
    assert(this.staged.length === 0, "producer state: nothing is staged while state is rebuilt", this.staged.length);
    let e = this.producers.get(id);
    if (e === undefined) {
      this.makeRoom();
      e = new ProducerEntry(id, epoch);
    } else {
      this.producers.delete(id);
      // A rebuild follows what the log holds, older epochs included: the newest batch wins.
      if (e.epoch !== epoch) {
        e.epoch = epoch;
        e.count = 0;
        e.head = 0;
      }
    }
    this.producers.set(id, e);
    e.push(firstSeq, lastSeq, baseOffset, lastOffset);
  }

  clear(): void {
    assert(this.staged.length === 0, "producer state: nothing is staged while state is cleared", this.staged.length);
    this.producers.clear();
  }

  /** Evicts producers for one more, unless only staged ones are left (then the table overshoots until commitStaged()). */
  private makeRoom(): void {
    while (this.producers.size >= this.limit && this.evictOne()) {}
  }

  private evictOne(): boolean {
    for (const e of this.producers.values()) {
      if (e.saved !== null || e.createdStaged) continue;
      this.producers.delete(e.id);
      this.evictions++;
      return true;
    }
    return false;
  }
}
