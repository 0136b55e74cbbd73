// An in-memory PartitionPool for the engine's unit tests: same contract as
// engine/worker_pool.ts (callbacks never synchronous, batches validated before
// anything is stored, whole batches below the high watermark on fetch,
// onAdvance when the high watermark moves), with knobs the tests turn:
// `autoFlush` (off: the high watermark moves only on flush()), and `full`
// per worker (produce/fetch return false until setWritable()).

import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { BATCH_LENGTH_OFFSET, BATCH_OVERHEAD_BYTES, decodeBatch, patchBaseOffset, validateBatches } from "../protocol/record_batch.ts";
import { readI32 } from "../protocol/big_endian.ts";
import type { FetchCallback, OffsetCallback, PartitionPool, PartitionState, ProduceCallback } from "./partition_pool.ts";
import type { LogConfig } from "./topic_config.ts";
import { emptyStateView } from "../workers/mod.ts";

interface MemoryPartition {
  worker: number;
  dir: string;
  config: LogConfig;
  batches: { base: number; last: number; bytes: Uint8Array }[];
  state: PartitionState;
}

export class MemoryPool implements PartitionPool<LogConfig> {
  readonly workerCount: number;
  autoFlush = true;
  readonly #partitions = new Map<number, MemoryPartition>();
  readonly #full: boolean[];
  readonly #writable: (() => void)[][];
  readonly #advance: ((slot: number) => void)[] = [];
  readonly opened: { slot: number; worker: number; dir: string }[] = [];
  readonly deleted: number[] = [];
  produceCalls = 0;
  fetchCalls = 0;
  shutDown = false;

  constructor(options: { workers: number }) {
    this.workerCount = options.workers;
    this.#full = new Array<boolean>(options.workers).fill(false);
    this.#writable = Array.from({ length: options.workers }, () => []);
  }

  async openPartition(slot: number, worker: number, dir: string, config: LogConfig): Promise<{ recovery: unknown }> {
    if (this.#partitions.has(slot)) throw new SluiceError(ErrorCode.INVALID_REQUEST, `slot ${slot} is already open`);
    this.#partitions.set(slot, {
      worker,
      dir,
      config,
      batches: [],
      // A new, empty log: one segment, online.
      state: { ...emptyStateView(), segments: 1, online: true },
    });
    this.opened.push({ slot, worker, dir });
    return { recovery: null };
  }

  async closePartition(slot: number): Promise<void> {
    this.#partitions.delete(slot);
  }

  async deletePartition(slot: number): Promise<void> {
    this.#partitions.delete(slot);
    this.deleted.push(slot);
  }

  async setConfig(slot: number, config: LogConfig): Promise<void> {
    const p = this.#partitions.get(slot);
    if (p !== undefined) p.config = config;
  }

  /** Makes a worker's ring full (produce/fetch return false) or writable again (waiters run). */
  setFull(worker: number, full: boolean): void {
    this.#full[worker] = full;
    if (!full) {
      const waiters = this.#writable[worker].splice(0);
      for (const w of waiters) queueMicrotask(w);
    }
  }

  produce(slot: number, records: Uint8Array, acks: 0 | 1 | -1, cb: ProduceCallback): boolean {
    this.produceCalls++;
    const p = this.#partitions.get(slot);
    if (p === undefined) {
      queueMicrotask(() => cb(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, null, "not open"));
      return true;
    }
    if (this.#full[p.worker]) return false;
    let offsets: number;
    try {
      offsets = validateBatches(records, p.config.maxMessageBytes).offsetCount;
    } catch (e) {
      const code = e instanceof SluiceError ? e.code : ErrorCode.CORRUPT_MESSAGE;
      queueMicrotask(() => cb(code, null, (e as Error).message));
      return true;
    }
    const copy = records.slice();
    const base = p.state.logEndOffset;
    let pos = 0;
    let next = base;
    while (pos < copy.length) {
      const size = BATCH_OVERHEAD_BYTES + readI32(copy, pos + BATCH_LENGTH_OFFSET);
      const count = readI32(copy, pos + 23) + 1;
      patchBaseOffset(copy, pos, next);
      p.batches.push({ base: next, last: next + count - 1, bytes: copy.subarray(pos, pos + size) });
      next += count;
      pos += size;
    }
    p.state.logEndOffset = base + offsets;
    p.state.bytesIn += copy.length;
    p.state.messagesIn += offsets;
    p.state.sizeBytes += copy.length;
    const res = { baseOffset: base, lastOffset: base + offsets - 1, logAppendTimeMs: -1, logStartOffset: p.state.logStartOffset };
    if (acks !== -1) queueMicrotask(() => cb(ErrorCode.NONE, res));
    if (this.autoFlush) {
      queueMicrotask(() => {
        this.flush(slot);
        if (acks === -1) cb(ErrorCode.NONE, res);
      });
    } else if (acks === -1) {
      const wait = () => (p.state.highWatermark > res.lastOffset ? cb(ErrorCode.NONE, res) : this.#durableWaiters.push(wait));
      this.#durableWaiters.push(wait);
    }
    return true;
  }

  readonly #durableWaiters: (() => void)[] = [];

  /** Makes everything written durable (the high watermark moves to the log end). */
  flush(slot: number): void {
    const p = this.#partitions.get(slot);
    if (p === undefined || p.state.highWatermark === p.state.logEndOffset) return;
    p.state.highWatermark = p.state.durableOffset = p.state.logEndOffset;
    const waiters = this.#durableWaiters.splice(0);
    for (const w of waiters) w();
    for (const a of this.#advance) a(slot);
  }

  fetch(slot: number, offset: number, maxBytes: number, cb: FetchCallback): boolean {
    this.fetchCalls++;
    const p = this.#partitions.get(slot);
    if (p === undefined) {
      queueMicrotask(() => cb(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, new Uint8Array(0), -1, -1));
      return true;
    }
    if (this.#full[p.worker]) return false;
    queueMicrotask(() => {
      const st = p.state;
      if (offset < st.logStartOffset || offset > st.logEndOffset) return cb(ErrorCode.OFFSET_OUT_OF_RANGE, new Uint8Array(0), st.highWatermark, st.logStartOffset);
      const parts: Uint8Array[] = [];
      let bytes = 0;
      for (const b of p.batches) {
        if (b.last < offset || b.last >= st.highWatermark) continue;
        if (bytes > 0 && bytes + b.bytes.length > maxBytes) break;
        parts.push(b.bytes);
        bytes += b.bytes.length;
      }
      const out = new Uint8Array(bytes);
      let at = 0;
      for (const part of parts) {
        out.set(part, at);
        at += part.length;
      }
      st.bytesOut += bytes;
      cb(ErrorCode.NONE, out, st.highWatermark, st.logStartOffset);
      out.fill(0xee); // the view is valid only during the call: catch readers that keep it
    });
    return true;
  }

  /** The first record (below the log end) with a timestamp ≥ `timestampMs`: its offset and timestamp; -1, -1 if none. */
  offsetForTimestamp(slot: number, timestampMs: number, cb: OffsetCallback): boolean {
    const p = this.#partitions.get(slot);
    if (p === undefined) {
      queueMicrotask(() => cb(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1, -1));
      return true;
    }
    if (this.#full[p.worker]) return false;
    queueMicrotask(() => {
      for (const b of p.batches) {
        for (const r of decodeBatch(b.bytes).records) {
          if (Number(r.timestamp) >= timestampMs) return cb(ErrorCode.NONE, Number(r.offset), Number(r.timestamp));
        }
      }
      cb(ErrorCode.NONE, -1, -1);
    });
    return true;
  }

  onWritable(worker: number, cb: () => void): void {
    if (!this.#full[worker]) queueMicrotask(cb);
    else this.#writable[worker].push(cb);
  }

  workerOf(slot: number): number {
    return this.#partitions.get(slot)?.worker ?? -1;
  }

  state(slot: number): PartitionState {
    const p = this.#partitions.get(slot);
    if (p === undefined) throw new SluiceError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `slot ${slot} is not open`);
    return { ...p.state };
  }

  onAdvance(cb: (slot: number) => void): void {
    this.#advance.push(cb);
  }

  ringStats(): unknown {
    return [];
  }

  async shutdown(): Promise<void> {
    this.shutDown = true;
  }
}
