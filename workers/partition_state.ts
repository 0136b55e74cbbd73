// The shared partition state table: one row per partition slot on a
// SharedArrayBuffer (layout in shared_layout.ts).
//
// Writer: only the worker that owns a slot writes its row (after each drain pass
// for the partitions it touched, after each flush, after retention, on open and
// close). Readers: the router thread, any time, without a message to the worker:
// metadata, ListOffsets, DescribeTopics and long-poll wake-ups read from here.
//
// Consistency: a per-row seqlock. The writer makes the sequence word odd, writes
// the fields, makes it even. A reader takes the sequence, copies the fields, takes
// it again and retries if it was odd or moved. So a reader always sees one whole
// update (never a high watermark from one flush and a log start from another).

import {
  STATE_HEADER_BYTES,
  STATE_MAGIC,
  STATE_ROW_BYTES,
  STATE_ROW_F64,
  StateField,
  StateHeaderWord,
} from "./shared_layout.ts";
import { assert } from "../protocol/assert.ts";
import { SEQLOCK_READ_WAIT_MS_MAX, SEQLOCK_SPINS_PER_CLOCK_CHECK } from "./worker_limits.ts";

export interface PartitionStateView {
  logStartOffset: number;
  logEndOffset: number;
  highWatermark: number;
  durableOffset: number;
  bytesIn: number;
  messagesIn: number;
  bytesOut: number;
  messagesOut: number;
  sizeBytes: number;
  segments: number;
  online: boolean;
  errorCode: number;
}

/** A view with every field zero and offline: the state of a slot no worker has opened. */
export function emptyStateView(): PartitionStateView {
  return {
    logStartOffset: 0,
    logEndOffset: 0,
    highWatermark: 0,
    durableOffset: 0,
    bytesIn: 0,
    messagesIn: 0,
    bytesOut: 0,
    messagesOut: 0,
    sizeBytes: 0,
    segments: 0,
    online: false,
    errorCode: 0,
  };
}

/** Allocate a table for `rows` partition slots. */
export function createStateTable(rows: number): SharedArrayBuffer {
  if (!Number.isInteger(rows) || rows < 1) throw new RangeError(`state table rows must be a positive integer, got ${rows}`);
  const sab = new SharedArrayBuffer(STATE_HEADER_BYTES + rows * STATE_ROW_BYTES);
  const header = new Int32Array(sab, 0, STATE_HEADER_BYTES / 4);
  header[StateHeaderWord.MAGIC] = STATE_MAGIC;
  header[StateHeaderWord.ROWS] = rows;
  return sab;
}

export class PartitionStateTable {
  readonly sab: SharedArrayBuffer;
  readonly rows: number;
  /** Int32 view over the rows: a row's sequence word is at slot * STATE_ROW_BYTES / 4. */
  private readonly seq: Int32Array;
  private readonly f64: Float64Array;

  constructor(sab: SharedArrayBuffer) {
    const header = new Int32Array(sab, 0, STATE_HEADER_BYTES / 4);
    assert(header[StateHeaderWord.MAGIC] === STATE_MAGIC, "partition state: bad magic (not a state table)");
    this.sab = sab;
    this.rows = header[StateHeaderWord.ROWS];
    assert(sab.byteLength === STATE_HEADER_BYTES + this.rows * STATE_ROW_BYTES, "partition state: size does not match rows", sab.byteLength);
    this.seq = new Int32Array(sab, STATE_HEADER_BYTES, (this.rows * STATE_ROW_BYTES) / 4);
    this.f64 = new Float64Array(sab, STATE_HEADER_BYTES, this.rows * STATE_ROW_F64);
  }

  // ---- writer side (the owning worker only) ----

  /** Replace a slot's row with `v` as one update. */
  write(slot: number, v: PartitionStateView): void {
    const base = this.rowBase(slot);
    const seqIndex = base * 2;
    const s = Atomics.load(this.seq, seqIndex);
    // One writer per row (the worker that owns the partition): the sequence is even between its writes.
    assert((s & 1) === 0, "partition state: a row is already being written", slot);
    Atomics.store(this.seq, seqIndex, s + 1);
    const f = this.f64;
    f[base + StateField.LOG_START_OFFSET] = v.logStartOffset;
    f[base + StateField.LOG_END_OFFSET] = v.logEndOffset;
    f[base + StateField.HIGH_WATERMARK] = v.highWatermark;
    f[base + StateField.DURABLE_OFFSET] = v.durableOffset;
    f[base + StateField.BYTES_IN] = v.bytesIn;
    f[base + StateField.MESSAGES_IN] = v.messagesIn;
    f[base + StateField.BYTES_OUT] = v.bytesOut;
    f[base + StateField.MESSAGES_OUT] = v.messagesOut;
    f[base + StateField.SIZE_BYTES] = v.sizeBytes;
    f[base + StateField.SEGMENTS] = v.segments;
    f[base + StateField.ONLINE] = v.online ? 1 : 0;
    f[base + StateField.ERROR_CODE] = v.errorCode;
    Atomics.store(this.seq, seqIndex, s + 2);
  }

  /** Mark a slot as newly opened (counts generations so readers can tell reuse apart). */
  beginGeneration(slot: number): number {
    const base = this.rowBase(slot);
    const seqIndex = base * 2;
    const s = Atomics.load(this.seq, seqIndex);
    Atomics.store(this.seq, seqIndex, s + 1);
    const generation = this.f64[base + StateField.GENERATION] + 1;
    this.f64[base + StateField.GENERATION] = generation;
    Atomics.store(this.seq, seqIndex, s + 2);
    return generation;
  }

  // ---- reader side (any thread) ----

  /** Copy a slot's row into `out` (or a new object) as one consistent snapshot. */
  read(slot: number, out: PartitionStateView = emptyStateView()): PartitionStateView {
    const base = this.rowBase(slot);
    const seqIndex = base * 2;
    const f = this.f64;
    for (let attempt = 0; ; attempt++) {
      const before = Atomics.load(this.seq, seqIndex);
      if ((before & 1) !== 0) {
        this.waitedTooLong(slot, attempt);
        continue;
      }
      out.logStartOffset = f[base + StateField.LOG_START_OFFSET];
      out.logEndOffset = f[base + StateField.LOG_END_OFFSET];
      out.highWatermark = f[base + StateField.HIGH_WATERMARK];
      out.durableOffset = f[base + StateField.DURABLE_OFFSET];
      out.bytesIn = f[base + StateField.BYTES_IN];
      out.messagesIn = f[base + StateField.MESSAGES_IN];
      out.bytesOut = f[base + StateField.BYTES_OUT];
      out.messagesOut = f[base + StateField.MESSAGES_OUT];
      out.sizeBytes = f[base + StateField.SIZE_BYTES];
      out.segments = f[base + StateField.SEGMENTS];
      out.online = f[base + StateField.ONLINE] === 1;
      out.errorCode = f[base + StateField.ERROR_CODE];
      if (Atomics.load(this.seq, seqIndex) === before) return out;
      this.waitedTooLong(slot, attempt);
    }
  }

  /** One field of a slot's row (seqlock-consistent), e.g. the high watermark for a long-poll check. */
  field(slot: number, field: (typeof StateField)[keyof typeof StateField]): number {
    const base = this.rowBase(slot);
    const seqIndex = base * 2;
    for (let attempt = 0; ; attempt++) {
      const before = Atomics.load(this.seq, seqIndex);
      if ((before & 1) === 0) {
        const value = this.f64[base + field];
        if (Atomics.load(this.seq, seqIndex) === before) return value;
      }
      this.waitedTooLong(slot, attempt);
    }
  }

  highWatermark(slot: number): number {
    return this.field(slot, StateField.HIGH_WATERMARK);
  }

  generation(slot: number): number {
    return this.field(slot, StateField.GENERATION);
  }

  private retryStartedMs = 0;

  /** Called on every failed attempt; throws once a row stayed mid-write past the time bound. */
  private waitedTooLong(slot: number, attempt: number): void {
    if (attempt % SEQLOCK_SPINS_PER_CLOCK_CHECK !== SEQLOCK_SPINS_PER_CLOCK_CHECK - 1) return;
    const now = performance.now();
    if (attempt === SEQLOCK_SPINS_PER_CLOCK_CHECK - 1) this.retryStartedMs = now;
    // Past the bound the writer died mid-write (see SEQLOCK_READ_WAIT_MS_MAX).
    else assert(now - this.retryStartedMs <= SEQLOCK_READ_WAIT_MS_MAX, "partition state: a row stayed mid-write past SEQLOCK_READ_WAIT_MS_MAX", slot);
  }

  /** Float64 index of the row's start (the sequence word shares the row's first 8 bytes). */
  private rowBase(slot: number): number {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.rows) throw new RangeError(`partition state: slot ${slot} outside 0..${this.rows - 1}`);
    return slot * STATE_ROW_F64;
  }
}
