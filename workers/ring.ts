// Single-producer single-consumer byte ring on a SharedArrayBuffer.
//
// One thread owns the producer end, one thread owns the consumer end; the layout
// (header words, entry framing, WRAP markers) is in shared_layout.ts.
//
// Contract:
// - `reserve(kind, n)` returns the data-area index where n payload bytes may be
//   written, or -1 when the ring lacks room (nothing changes then). `commit()` makes
//   the entry part of the batch; nothing is visible to the consumer until
//   `publish()`, which stores the tail once for the whole batch. This is what keeps
//   the hot path cheap: one atomic store per batch instead of one per entry.
// - The consumer reads entries in place (`read()` → kind, `offset`, `length`), may
//   keep views of them until it calls `release()`, which stores the head once per
//   batch. The producer never overwrites bytes the consumer has not released.
// - Waking: each side parks only after raising its WAITING word and re-checking the
//   other side's position; the other side calls Atomics.notify only when it sees the
//   WAITING word raised AND it moved its position since it last looked, so a busy
//   pair never makes a syscall and a publish or release that changed nothing never
//   wakes anyone. Every wait has a timeout (docs/RUNTIME.md: pending waiters must not be
//   relied upon to ever resolve).
// - A producer that publishes many times per event-loop turn may split the two
//   halves: `publishTail()` makes entries visible at once (a consumer that is still
//   running sees them without a wake), `notifyIfWaiting()` wakes a parked consumer,
//   at most once, for everything published since the previous call. It must run
//   before the producer's thread goes idle, or a parked consumer sleeps until its
//   wait times out. `publish()` is the two together.
// - Early wrap: past `rewindAtBytes` (RING_REWIND_AT_BYTES), `reserve` wraps to
//   the start of the data area as soon as the consumer is within half of that
//   behind, so a ring with a small backlog keeps reusing its first pages instead
//   of touching all of them. It never breaks a promise: room that
//   `canReserve`/`canReserveMany` reported stays reservable, because the early
//   wrap is taken only when the skipped bytes plus everything still promised fit.

import {
  EntryKind,
  RING_ENTRY_HEADER_BYTES,
  RING_HEADER_BYTES,
  RING_MAGIC,
  RingWord,
  entryBytes,
  payloadBytesMax,
} from "./shared_layout.ts";
import { assert } from "../protocol/assert.ts";
import { RING_CAPACITY_MAX, RING_CAPACITY_MIN, RING_REWIND_AT_BYTES } from "./worker_limits.ts";

/** Allocate and initialise a ring of `capacity` data bytes (a power of two). */
export function createRing(capacity: number): SharedArrayBuffer {
  if (!Number.isInteger(capacity) || capacity < RING_CAPACITY_MIN || (capacity & (capacity - 1)) !== 0) {
    throw new RangeError(`ring capacity must be a power of two >= ${RING_CAPACITY_MIN}, got ${capacity}`);
  }
  if (capacity > RING_CAPACITY_MAX) throw new RangeError(`ring capacity must be at most ${RING_CAPACITY_MAX}, got ${capacity}`);
  const sab = new SharedArrayBuffer(RING_HEADER_BYTES + capacity);
  const ctrl = new Int32Array(sab, 0, RING_HEADER_BYTES / 4);
  ctrl[RingWord.MAGIC] = RING_MAGIC;
  ctrl[RingWord.CAPACITY] = capacity;
  return sab;
}

/** Typed views over one ring buffer, shared by both ends' classes. */
class RingViews {
  readonly sab: SharedArrayBuffer;
  readonly ctrl: Int32Array;
  readonly capacity: number;
  readonly mask: number;
  /** Largest payload `reserve` accepts. */
  readonly payloadBytesMax: number;
  /** Views over the data area (index 0 = first data byte). */
  readonly bytes: Uint8Array;
  readonly u32: Uint32Array;
  readonly i32: Int32Array;
  readonly f64: Float64Array;

  constructor(sab: SharedArrayBuffer) {
    this.sab = sab;
    this.ctrl = new Int32Array(sab, 0, RING_HEADER_BYTES / 4);
    assert(this.ctrl[RingWord.MAGIC] === RING_MAGIC, "ring: bad magic (not a ring buffer)");
    this.capacity = this.ctrl[RingWord.CAPACITY];
    assert(sab.byteLength === RING_HEADER_BYTES + this.capacity, "ring: buffer size does not match its capacity", sab.byteLength);
    this.mask = this.capacity - 1;
    this.payloadBytesMax = payloadBytesMax(this.capacity);
    this.bytes = new Uint8Array(sab, RING_HEADER_BYTES, this.capacity);
    this.u32 = new Uint32Array(sab, RING_HEADER_BYTES, this.capacity / 4);
    this.i32 = new Int32Array(sab, RING_HEADER_BYTES, this.capacity / 4);
    this.f64 = new Float64Array(sab, RING_HEADER_BYTES, this.capacity / 8);
  }
}

/** Outcome of a wait: data/space is there, or the timeout passed first. */
export type WaitOutcome = "ready" | "timed-out";

export class RingProducer extends RingViews {
  /** Local tail: includes committed but unpublished entries. */
  private tail: number;
  /** The tail last stored to shared memory. */
  private publishedTail: number;
  /** A tail was stored since the last notifyIfWaiting(): a parked consumer may need waking. */
  private wakeOwed = false;
  /** Last head seen; refreshed from shared memory only when the cached value says "full". */
  private cachedHead: number;
  /** Position of the reserved entry's header (after a WRAP marker, if one was needed); -1 = none. */
  private reservedAt = -1;
  private reservedPayloadBytes = 0;
  /** Index past which reserve() may wrap early (see the header); 0 = never. */
  readonly rewindAtBytes: number;
  /** Position up to which canReserve/canReserveMany reported room (an early wrap keeps it reservable). */
  private promisedEnd: number;
  /** Early wraps taken so far (for tests and stats). */
  rewinds = 0;

  constructor(sab: SharedArrayBuffer, options: { rewindAtBytes?: number } = {}) {
    super(sab);
    this.tail = Atomics.load(this.ctrl, RingWord.TAIL) >>> 0;
    this.publishedTail = this.tail;
    this.promisedEnd = this.tail;
    this.cachedHead = Atomics.load(this.ctrl, RingWord.HEAD) >>> 0;
    const at = options.rewindAtBytes ?? RING_REWIND_AT_BYTES;
    if (!Number.isInteger(at) || at < 0) throw new RangeError(`ring: rewindAtBytes must be a non-negative integer, got ${at}`);
    // At half the capacity or more, the normal wrap comes about as soon: not worth the checks.
    this.rewindAtBytes = at >= this.capacity / 2 ? 0 : at;
  }

  /**
   * Reserve an entry with `payloadBytes` of payload. Returns the data-area index of
   * the payload (aligned to RING_ALIGN), or -1 if the ring lacks room now.
   * Only one reservation may be open at a time; finish it with `commit()`.
   */
  reserve(kind: number, payloadBytes: number): number {
    assert(this.reservedAt === -1, "ring: reserve() while a reservation is open");
    if (payloadBytes < 0 || payloadBytes > this.payloadBytesMax) {
      throw new RangeError(`ring: payload of ${payloadBytes} bytes exceeds the entry limit ${this.payloadBytesMax}`);
    }
    if (kind === EntryKind.WRAP) throw new RangeError("ring: WRAP is not an entry kind a caller may write");
    const need = entryBytes(payloadBytes);
    let index = this.tail & this.mask;
    const toEnd = this.capacity - index;
    let wrap = need > toEnd;
    if (!wrap && this.rewindAtBytes !== 0 && index >= this.rewindAtBytes && this.rewindFits(toEnd, need)) {
      wrap = true;
      this.rewinds++;
      // What is still promised now lies after the skipped bytes.
      if (((this.promisedEnd - this.tail) | 0) > 0) this.promisedEnd = (this.promisedEnd + toEnd) >>> 0;
    }
    const total = wrap ? toEnd + need : need;
    if (!this.hasRoom(total)) return -1;
    let at = this.tail;
    if (wrap) {
      // The entry would straddle the end, or an early wrap: mark the rest of this lap as skipped.
      this.u32[index >>> 2] = 0;
      this.u32[(index >>> 2) + 1] = EntryKind.WRAP;
      at = (at + toEnd) >>> 0;
      index = 0;
    }
    this.u32[(index >>> 2) + 1] = kind;
    this.reservedAt = at;
    this.reservedPayloadBytes = payloadBytes;
    return index + RING_ENTRY_HEADER_BYTES;
  }

  /**
   * Close the open reservation. `payloadBytes` may shrink it (a read that returned
   * less than planned); the entry then ends earlier. Not visible until `publish()`.
   */
  commit(payloadBytes: number = this.reservedPayloadBytes): void {
    assert(this.reservedAt !== -1, "ring: commit() without a reservation");
    if (payloadBytes < 0 || payloadBytes > this.reservedPayloadBytes) {
      throw new RangeError(`ring: commit of ${payloadBytes} bytes exceeds the ${this.reservedPayloadBytes} reserved`);
    }
    const index = this.reservedAt & this.mask;
    // Checked as written here and again as read (read()): an entry never straddles the end of the data area.
    assert(index + entryBytes(payloadBytes) <= this.capacity, "ring: a committed entry straddles the end", index);
    this.u32[index >>> 2] = payloadBytes;
    this.tail = (this.reservedAt + entryBytes(payloadBytes)) >>> 0;
    this.reservedAt = -1;
  }

  /** Drop the open reservation (nothing becomes visible). */
  abort(): void {
    this.reservedAt = -1;
  }

  /**
   * Make every committed entry visible and wake the consumer if it announced it is
   * parked (`publishTail()` then `notifyIfWaiting()`). Publishing nothing new wakes nobody.
   */
  publish(): void {
    this.publishTail();
    this.notifyIfWaiting();
  }

  /**
   * Make every committed entry visible without waking the consumer: one atomic store,
   * no syscall. Returns true when entries became visible. The caller owes a
   * `notifyIfWaiting()` before its thread goes idle.
   */
  publishTail(): boolean {
    assert(this.reservedAt === -1, "ring: publish() while a reservation is open");
    if (this.tail === this.publishedTail) return false;
    Atomics.store(this.ctrl, RingWord.TAIL, this.tail | 0);
    this.publishedTail = this.tail;
    this.wakeOwed = true;
    return true;
  }

  /**
   * Wake the consumer if entries were published since the last call and it announced
   * it is parked. At most one Atomics.notify per call, none when nothing was published.
   * Returns whether it notified.
   *
   * Why skipping is safe: the consumer raises its WAITING word, then reads the tail;
   * this side stored the tail, then reads the WAITING word. Both are sequentially
   * consistent atomics, so at least one side sees the other's store: either the
   * consumer sees the new tail and does not park, or this call sees WAITING raised.
   */
  notifyIfWaiting(): boolean {
    if (!this.wakeOwed) return false;
    this.wakeOwed = false;
    if (Atomics.load(this.ctrl, RingWord.CONSUMER_WAITING) === 0) return false;
    Atomics.notify(this.ctrl, RingWord.TAIL);
    return true;
  }

  /** True when committed entries have not been published yet. */
  get unpublished(): boolean {
    return this.tail !== this.publishedTail;
  }

  /** Bytes of committed entries not published yet (WRAP skips included). */
  get unpublishedBytes(): number {
    return (this.tail - this.publishedTail) >>> 0;
  }

  /** Bytes in use as this end sees them (committed, published or not, minus released). */
  bytesUsed(): number {
    this.cachedHead = Atomics.load(this.ctrl, RingWord.HEAD) >>> 0;
    return (this.tail - this.cachedHead) >>> 0;
  }

  /** Whether `reserve(kind, payloadBytes)` would succeed now (a promise: an early wrap keeps it so). */
  canReserve(payloadBytes: number): boolean {
    if (payloadBytes > this.payloadBytesMax) return false;
    const need = entryBytes(payloadBytes);
    const toEnd = this.capacity - (this.tail & this.mask);
    return this.promise(need <= toEnd ? need : toEnd + need);
  }

  /**
   * Whether `count` entries of `payloadBytes` each could be reserved one after the
   * other now (counting the WRAP skip the sequence may need). Entries with smaller
   * payloads then fit too: a smaller entry never ends later than a larger one
   * started at the same place would.
   */
  canReserveMany(count: number, payloadBytes: number): boolean {
    if (count <= 0) return true;
    if (payloadBytes > this.payloadBytesMax) return false;
    const need = entryBytes(payloadBytes);
    const toEnd = this.capacity - (this.tail & this.mask);
    const beforeEnd = Math.floor(toEnd / need);
    const total = count <= beforeEnd ? count * need : count * need + (toEnd - beforeEnd * need);
    if (total > this.capacity) return false;
    return this.promise(total);
  }

  /** Room for `total` more bytes now; if so, remembers it as promised. */
  private promise(total: number): boolean {
    if (!this.hasRoom(total)) return false;
    const end = (this.tail + total) >>> 0;
    if (((end - this.promisedEnd) | 0) > 0) this.promisedEnd = end;
    return true;
  }

  /**
   * Whether an early wrap from here is worth taking and safe: the consumer is
   * within half of rewindAtBytes behind (else the skipped lap would cost room
   * a backlog needs), and the skip plus this entry and everything still
   * promised (laid out again from the start) fit in the room there is.
   */
  private rewindFits(toEnd: number, need: number): boolean {
    this.cachedHead = Atomics.load(this.ctrl, RingWord.HEAD) >>> 0;
    const used = (this.tail - this.cachedHead) >>> 0;
    if (used > this.rewindAtBytes / 2) return false;
    const promised = (this.promisedEnd - this.tail) | 0;
    return this.capacity - used >= toEnd + (promised > need ? promised : need);
  }

  /**
   * Park until the consumer has released enough for `payloadBytes`, or `timeoutMs`
   * passes. Does not block the thread's event loop (Atomics.waitAsync).
   */
  async waitForRoom(payloadBytes: number, timeoutMs: number): Promise<WaitOutcome> {
    Atomics.store(this.ctrl, RingWord.PRODUCER_WAITING, 1);
    try {
      const head = Atomics.load(this.ctrl, RingWord.HEAD);
      if (this.canReserve(payloadBytes)) return "ready";
      const waited = Atomics.waitAsync(this.ctrl, RingWord.HEAD, head, timeoutMs);
      const outcome = waited.async ? await waited.value : waited.value;
      return outcome === "timed-out" ? "timed-out" : "ready";
    } finally {
      Atomics.store(this.ctrl, RingWord.PRODUCER_WAITING, 0);
    }
  }

  /** Blocking variant of waitForRoom for threads that may block (Atomics.wait). */
  waitForRoomSync(payloadBytes: number, timeoutMs: number): WaitOutcome {
    Atomics.store(this.ctrl, RingWord.PRODUCER_WAITING, 1);
    try {
      const head = Atomics.load(this.ctrl, RingWord.HEAD);
      if (this.canReserve(payloadBytes)) return "ready";
      return Atomics.wait(this.ctrl, RingWord.HEAD, head, timeoutMs) === "timed-out" ? "timed-out" : "ready";
    } finally {
      Atomics.store(this.ctrl, RingWord.PRODUCER_WAITING, 0);
    }
  }

  private hasRoom(total: number): boolean {
    if (this.capacity - ((this.tail - this.cachedHead) >>> 0) >= total) return true;
    this.cachedHead = Atomics.load(this.ctrl, RingWord.HEAD) >>> 0;
    return this.capacity - ((this.tail - this.cachedHead) >>> 0) >= total;
  }
}

export class RingConsumer extends RingViews {
  /** Local head: entries read and advanced past, released or not. */
  private head: number;
  /** The head last stored to shared memory. */
  private releasedHead: number;
  private cachedTail: number;
  /** Current entry (valid after `read()` returned a kind). */
  offset = 0;
  length = 0;
  private entryEnd = 0;

  constructor(sab: SharedArrayBuffer) {
    super(sab);
    this.head = Atomics.load(this.ctrl, RingWord.HEAD) >>> 0;
    this.releasedHead = this.head;
    this.cachedTail = Atomics.load(this.ctrl, RingWord.TAIL) >>> 0;
  }

  /**
   * Look at the next published entry. Returns its kind and sets `offset` (data-area
   * index of the payload) and `length` (payload bytes), or returns -1 when empty.
   * Calling read() again without advance() returns the same entry.
   */
  read(): number {
    for (;;) {
      if (this.head === this.cachedTail) {
        this.cachedTail = Atomics.load(this.ctrl, RingWord.TAIL) >>> 0;
        if (this.head === this.cachedTail) return -1;
      }
      const index = this.head & this.mask;
      const kind = this.u32[(index >>> 2) + 1];
      if (kind === EntryKind.WRAP) {
        this.head = (this.head + (this.capacity - index)) >>> 0;
        continue;
      }
      const length = this.u32[index >>> 2];
      // The producer is our own code on the other thread: a bad entry is a broken invariant, not input.
      assert(length <= this.payloadBytesMax, "ring: corrupt entry length", length);
      assert(index + entryBytes(length) <= this.capacity, "ring: an entry read straddles the end", index);
      this.offset = index + RING_ENTRY_HEADER_BYTES;
      this.length = length;
      this.entryEnd = (this.head + entryBytes(length)) >>> 0;
      return kind;
    }
  }

  /** Move past the entry `read()` returned. Its bytes stay valid until `release()`. */
  advance(): void {
    this.head = this.entryEnd;
  }

  /**
   * Give the space of every advanced-past entry back to the producer (one store per
   * batch); wakes a producer parked for room. Releasing nothing new wakes nobody.
   */
  release(): void {
    if (this.head === this.releasedHead) return;
    this.releasedHead = this.head;
    Atomics.store(this.ctrl, RingWord.HEAD, this.head | 0);
    if (Atomics.load(this.ctrl, RingWord.PRODUCER_WAITING) !== 0) Atomics.notify(this.ctrl, RingWord.HEAD);
  }

  /** True when a published entry is waiting (does not move anything). */
  hasData(): boolean {
    this.cachedTail = Atomics.load(this.ctrl, RingWord.TAIL) >>> 0;
    return this.head !== this.cachedTail;
  }

  /** Bytes published and not yet released. */
  bytesUsed(): number {
    const tail = Atomics.load(this.ctrl, RingWord.TAIL) >>> 0;
    const head = Atomics.load(this.ctrl, RingWord.HEAD) >>> 0;
    return (tail - head) >>> 0;
  }

  /**
   * Park until the producer publishes past the local head, or `timeoutMs` passes.
   * Does not block the thread's event loop (Atomics.waitAsync).
   */
  async waitForData(timeoutMs: number): Promise<WaitOutcome> {
    Atomics.store(this.ctrl, RingWord.CONSUMER_WAITING, 1);
    try {
      const tail = Atomics.load(this.ctrl, RingWord.TAIL);
      if ((tail >>> 0) !== this.head) return "ready";
      const waited = Atomics.waitAsync(this.ctrl, RingWord.TAIL, tail, timeoutMs);
      const outcome = waited.async ? await waited.value : waited.value;
      return outcome === "timed-out" ? "timed-out" : "ready";
    } finally {
      Atomics.store(this.ctrl, RingWord.CONSUMER_WAITING, 0);
    }
  }

  /** Wake this end's own waitForData park (e.g. from a message handler on the same thread). */
  wake(): void {
    Atomics.notify(this.ctrl, RingWord.TAIL);
  }

  /** Blocking variant of waitForData for threads that may block (Atomics.wait). */
  waitForDataSync(timeoutMs: number): WaitOutcome {
    Atomics.store(this.ctrl, RingWord.CONSUMER_WAITING, 1);
    try {
      const tail = Atomics.load(this.ctrl, RingWord.TAIL);
      if ((tail >>> 0) !== this.head) return "ready";
      return Atomics.wait(this.ctrl, RingWord.TAIL, tail, timeoutMs) === "timed-out" ? "timed-out" : "ready";
    } finally {
      Atomics.store(this.ctrl, RingWord.CONSUMER_WAITING, 0);
    }
  }
}
