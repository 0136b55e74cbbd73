// One fetch request in the engine: read every partition it names from the
// worker pool, deliver each result to the caller's sink as it arrives, and,
// when fewer than `minBytes` bytes came back, go back to waiting (long-poll)
// until a partition advances far enough or `maxWaitMs` passes.
//
// Contract with the sink:
//   - partition(i, …) is called once per requested partition per read round;
//     its `bytes` are valid only during the call (they point into the worker's
//     completion ring): the sink copies them.
//   - reset() drops everything delivered in this round: the fetch had too
//     little data and parks again. Only called when no partition had an error.
//   - done() ends the fetch; nothing is called after it.
//   - After cancel() nothing is called at all, and no read of it is issued
//     any more (a read waiting for ring room or for the client's read budget
//     is dropped; one already in a worker's ring runs, its result is ignored).
//
// The total `maxBytes` is enforced as results arrive (the partitions are read
// in parallel, from different workers): a result that would pass it is cut to
// the whole batches that fit, except that the first non-empty result always
// keeps at least one whole batch, so a consumer can always make progress.

import { readI32 } from "../protocol/big_endian.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { FETCH_BYTES_MAX, FETCH_PARTITION_BYTES_MAX, FETCH_WAIT_MS_MAX } from "../protocol/limits.ts";
import { BATCH_LENGTH_OFFSET, BATCH_OVERHEAD_BYTES } from "../protocol/record_batch.ts";
import type { FetchReadBudget } from "./fetch_read_budget.ts";
import type { LongPoll, Parked, Waiter } from "./long_poll.ts";
import type { PartitionPool, PartitionState } from "./partition_pool.ts";

export interface FetchPartitionRequest {
  topic: string;
  partition: number;
  offset: number;
  maxBytes: number;
  /** The leader epoch the client believes current (Kafka Fetch v9+); absent or -1: not checked. */
  currentLeaderEpoch?: number;
  /** A follower's replica fetch: read to the log end (not the high watermark), park on log end moves. */
  replica?: boolean;
}

export interface FetchRequest {
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  partitions: readonly FetchPartitionRequest[];
  /** The client's bound on reads in flight (one per connection); none: unbounded (in-process callers). */
  readBudget?: FetchReadBudget;
}

export interface FetchSink {
  partition(index: number, errorCode: number, bytes: Uint8Array | null, highWatermark: number, logStartOffset: number): void;
  reset(): void;
  done(): void;
}

export interface FetchHandle {
  /** The caller went away: stop waiting, call the sink no more. */
  cancel(): void;
}

/** What a fetch needs from the engine. */
export interface FetchHost {
  readonly pool: PartitionPool;
  readonly longPoll: LongPoll;
  /** The slot of an online partition, or a negative wire error code (a stale `leaderEpoch`: FENCED_LEADER_EPOCH). */
  resolve(topic: string, partition: number, leaderEpoch?: number): number;
  /** Calls `cb` once when `worker`'s ring has room. */
  waitWritable(worker: number, cb: () => void): void;
  /** true while the broker shuts down: answer at once, do not park. */
  readonly closing: boolean;
  /** A leader partition's replicated high watermark, or -1: the durable offset (one node). */
  readBound(slot: number): number;
}

export class FetchOperation implements Waiter, FetchHandle {
  readonly #host: FetchHost;
  readonly #req: FetchRequest;
  readonly #sink: FetchSink;
  readonly #slots: Int32Array;
  /** High watermark of each partition when it was last read (for the wake-up estimate). */
  readonly #hwAtRead: Float64Array;
  readonly #deadlineMs: number;
  readonly #maxBytes: number;
  #pending = 0;
  #totalBytes = 0;
  #hadError = false;
  #final = false;
  #cancelled = false;
  #parked: Parked | null = null;

  constructor(host: FetchHost, req: FetchRequest, sink: FetchSink) {
    this.#host = host;
    this.#req = req;
    this.#sink = sink;
    const n = req.partitions.length;
    this.#slots = new Int32Array(n);
    this.#hwAtRead = new Float64Array(n).fill(-1);
    const waitMs = Math.min(Math.max(0, req.maxWaitMs), FETCH_WAIT_MS_MAX);
    this.#deadlineMs = Date.now() + waitMs;
    this.#maxBytes = Math.min(Math.max(0, req.maxBytes), FETCH_BYTES_MAX);
  }

  start(): void {
    const req = this.#req;
    if (req.partitions.length === 0) return this.#sink.done();
    const canWait = req.maxWaitMs > 0 && req.minBytes > 0 && !this.#host.closing;
    if (!canWait) return this.#read(true);
    // Park without a read when no partition has anything past its fetch offset
    // (and none is in error): the common case of a consumer that is caught up.
    if (this.#somethingToReturn()) return this.#read(false);
    if (!this.#park(false)) this.#read(true);
  }

  cancel(): void {
    this.#cancelled = true;
    if (this.#parked !== null) {
      this.#host.longPoll.unpark(this.#parked);
      this.#parked = null;
    }
  }

  // ---- Waiter (called by LongPoll) ----

  onAdvance(_slot: number): void {
    if (this.#cancelled || this.#parked === null) return;
    if (this.#estimatedBytes() < this.#req.minBytes) return;
    this.#host.longPoll.unpark(this.#parked);
    this.#parked = null;
    this.#read(false);
  }

  onDeadline(): void {
    this.#parked = null;
    if (this.#cancelled) return;
    this.#read(true);
  }

  // ---- reading ----

  #somethingToReturn(): boolean {
    const { pool } = this.#host;
    const parts = this.#req.partitions;
    for (let i = 0; i < parts.length; i++) {
      const slot = this.#host.resolve(parts[i].topic, parts[i].partition, parts[i].currentLeaderEpoch);
      if (slot < 0) return true;
      const st = pool.state(slot);
      const offset = parts[i].offset;
      if (!st.online || offset < st.logStartOffset || offset > st.logEndOffset) return true;
      if (this.#visibleEnd(i, slot, st) > offset) return true;
    }
    return false;
  }

  /** Bytes this fetch would get now: what the last read saw plus the growth of each partition since. */
  #estimatedBytes(): number {
    const { pool } = this.#host;
    const parts = this.#req.partitions;
    let bytes = this.#totalBytes;
    for (let i = 0; i < parts.length; i++) {
      const slot = this.#host.resolve(parts[i].topic, parts[i].partition, parts[i].currentLeaderEpoch);
      // A partition that went away or changed identity: read now, to report it.
      if (slot < 0 || slot !== this.#slots[i]) return Infinity;
      const st = pool.state(slot);
      if (!st.online) return Infinity;
      const from = Math.max(this.#hwAtRead[i], parts[i].offset);
      const end = this.#visibleEnd(i, slot, st);
      if (end > from) bytes += (end - from) * averageRecordBytes(st);
    }
    return bytes;
  }

  /**
   * Parks this fetch. After a read (`afterRead`), the high watermarks the read
   * saw are the baseline of the wake-up estimate, so growth between the read
   * and now is not missed; before any read, the current ones are.
   */
  #park(afterRead: boolean): boolean {
    const { pool } = this.#host;
    const parts = this.#req.partitions;
    const slots: number[] = [];
    for (let i = 0; i < parts.length; i++) {
      const slot = this.#host.resolve(parts[i].topic, parts[i].partition, parts[i].currentLeaderEpoch);
      this.#slots[i] = slot;
      if (slot < 0) continue;
      slots.push(slot);
      if (!afterRead) this.#hwAtRead[i] = this.#visibleEnd(i, slot, pool.state(slot));
    }
    if (!afterRead) this.#totalBytes = 0;
    this.#parked = this.#host.longPoll.park(this, slots, this.#deadlineMs);
    return this.#parked !== null;
  }

  /** Where reads of partition `i` stop: the log end for a replica fetch, else the high watermark (replicated or durable). */
  #visibleEnd(i: number, slot: number, st: PartitionState): number {
    if (this.#req.partitions[i].replica === true) return st.logEndOffset;
    const bound = this.#host.readBound(slot);
    return bound < 0 ? st.highWatermark : bound;
  }

  #read(final: boolean): void {
    const parts = this.#req.partitions;
    this.#final = final;
    this.#totalBytes = 0;
    this.#hadError = false;
    // One more than the partitions: the loop itself holds the round open, so a
    // result delivered synchronously (an invalid offset) cannot finish it early
    // and the round finishes exactly once.
    this.#pending = parts.length + 1;
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      const slot = this.#host.resolve(p.topic, p.partition, p.currentLeaderEpoch);
      this.#slots[i] = slot;
      if (slot < 0) {
        this.#hadError = true;
        this.#sink.partition(i, -slot, null, -1, -1);
        this.#pending--;
        continue;
      }
      this.#issue(i, slot);
    }
    if (--this.#pending === 0) this.#finishRound();
  }

  #issue(i: number, slot: number): void {
    const p = this.#req.partitions[i];
    if (!Number.isSafeInteger(p.offset) || p.offset < 0) {
      const st = this.#host.pool.state(slot);
      return this.#onResult(i, ErrorCode.OFFSET_OUT_OF_RANGE, EMPTY, st.highWatermark, st.logStartOffset);
    }
    const maxBytes = Math.min(Math.max(0, p.maxBytes), FETCH_PARTITION_BYTES_MAX, this.#maxBytes);
    const budget = this.#req.readBudget;
    if (budget !== undefined && !budget.acquire(maxBytes, () => this.#issueRead(i, slot, maxBytes, true))) {
      // Waiting for the client's budget (or the client is gone: then never issued).
      return;
    }
    this.#issueRead(i, slot, maxBytes, false);
  }

  /**
   * Issues one read, holding `maxBytes` of the client's read budget (when it has
   * one) until the worker answers. `waited`: the read waited (for budget or
   * ring room), so the partition may have gone meanwhile.
   */
  #issueRead(i: number, slot: number, maxBytes: number, waited: boolean): void {
    const budget = this.#req.readBudget;
    // A fetch cancelled while its read waited is never read: its client is gone.
    if (this.#cancelled) return budget?.release(maxBytes);
    const p = this.#req.partitions[i];
    if (waited) {
      const again = this.#host.resolve(p.topic, p.partition, p.currentLeaderEpoch);
      if (again !== slot) {
        budget?.release(maxBytes);
        return this.#onResult(i, again < 0 ? -again : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, EMPTY, -1, -1);
      }
    }
    // The worker reads below the durable offset unless given a bound: the log end for a
    // replica fetch, a leader's replicated high watermark for a consumer.
    const bound = p.replica === true ? Number.MAX_SAFE_INTEGER : this.#host.readBound(slot);
    const accepted = this.#host.pool.fetch(
      slot,
      p.offset,
      maxBytes,
      (err, bytes, hw, logStart) => {
        this.#onResult(i, err, bytes, bound < 0 ? hw : p.replica === true ? this.#host.pool.state(slot).logEndOffset : bound, logStart);
        budget?.release(maxBytes);
      },
      bound,
    );
    if (!accepted) this.#host.waitWritable(this.#host.pool.workerOf(slot), () => this.#issueRead(i, slot, maxBytes, true));
  }

  #onResult(i: number, err: number, bytes: Uint8Array, hw: number, logStart: number): void {
    if (!this.#cancelled) {
      this.#hwAtRead[i] = hw;
      if (err !== ErrorCode.NONE) {
        this.#hadError = true;
        this.#sink.partition(i, err, null, hw, logStart);
      } else {
        const take = wholeBatchesWithin(bytes, this.#maxBytes - this.#totalBytes, this.#totalBytes === 0);
        this.#totalBytes += take;
        this.#sink.partition(i, ErrorCode.NONE, take === bytes.length ? bytes : bytes.subarray(0, take), hw, logStart);
      }
    }
    if (--this.#pending === 0) this.#finishRound();
  }

  #finishRound(): void {
    if (this.#cancelled) return;
    const enough = this.#totalBytes >= this.#req.minBytes;
    const timeLeft = Date.now() < this.#deadlineMs;
    if (!this.#final && !enough && !this.#hadError && timeLeft && !this.#host.closing) {
      if (this.#park(true)) {
        this.#sink.reset();
        // A partition may have advanced between the read and the park (its wake-up was missed).
        this.onAdvance(-1);
        return;
      }
    }
    this.#sink.done();
  }
}

const EMPTY = new Uint8Array(0);

/** Average stored bytes per offset of a partition (at least 1, so growth always counts). */
function averageRecordBytes(st: PartitionState): number {
  const offsets = st.logEndOffset - st.logStartOffset;
  if (offsets <= 0 || st.sizeBytes <= 0) return 1;
  return Math.max(1, st.sizeBytes / offsets);
}

/**
 * Bytes of `bytes` to keep: all of it when it fits `budget`, else the whole
 * batches that fit; when `mustTakeOne`, at least the first whole batch.
 */
export function wholeBatchesWithin(bytes: Uint8Array, budget: number, mustTakeOne: boolean): number {
  const len = bytes.length;
  if (len <= budget) return len;
  let pos = 0;
  while (pos + BATCH_OVERHEAD_BYTES <= len) {
    const size = BATCH_OVERHEAD_BYTES + readI32(bytes, pos + BATCH_LENGTH_OFFSET);
    if (size <= BATCH_OVERHEAD_BYTES || pos + size > len) break;
    if (pos + size > budget) {
      if (pos === 0 && mustTakeOne) pos = size;
      break;
    }
    pos += size;
  }
  return pos;
}
