// The producer's buffer memory (bufferBytesMax), with backpressure.
//
// send() reserves the bytes a record will take before it is appended to a
// batch; the bytes are released when the batch's produce is done (acked or
// failed for good). When the budget is used up, send() waits — in arrival
// order, so a small record cannot overtake a large one and records of one
// caller keep their order — until enough is released, or fails after its
// deadline with BufferExhaustedError. A reservation larger than the whole
// budget can never fit and fails at once.

import { BufferExhaustedError, InvalidArgumentError } from "./errors.ts";

interface Waiter {
  bytes: number;
  resolve: () => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  done: boolean;
}

export class MemoryBudget {
  readonly bytesMax: number;
  private used = 0;
  /** FIFO of callers waiting for room; each entry is one pending send() (bounded by the callers). */
  private waiters: Waiter[] = [];
  private waitersHead = 0;

  constructor(bytesMax: number) {
    if (!(bytesMax > 0)) throw new InvalidArgumentError(`bufferBytesMax must be positive, got ${bytesMax}`);
    this.bytesMax = bytesMax;
  }

  get usedBytes(): number {
    return this.used;
  }

  get waiting(): number {
    return this.waiters.length - this.waitersHead;
  }

  /** Takes `bytes` at once if they fit and nobody is waiting before us. */
  tryReserve(bytes: number): boolean {
    if (this.waiting > 0 || this.used + bytes > this.bytesMax) return false;
    this.used += bytes;
    return true;
  }

  /** Waits (in FIFO order) until `bytes` fit; rejects after `timeoutMs` with BufferExhaustedError. */
  reserve(bytes: number, timeoutMs: number): Promise<void> {
    if (bytes > this.bytesMax) {
      return Promise.reject(
        new InvalidArgumentError(`a record of ${bytes} bytes can never fit in bufferBytesMax (${this.bytesMax})`),
      );
    }
    if (this.tryReserve(bytes)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { bytes, resolve, reject, timer: undefined, done: false };
      waiter.timer = setTimeout(() => {
        if (waiter.done) return;
        waiter.done = true;
        reject(
          new BufferExhaustedError(
            `send() waited ${timeoutMs} ms for ${bytes} bytes of buffer space; ` +
              `${this.used} of bufferBytesMax ${this.bytesMax} are held by records not yet acknowledged`,
          ),
        );
        // A timed-out waiter at the head must not block those behind it.
        this.wake();
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  release(bytes: number): void {
    this.used -= bytes;
    if (this.used < 0) throw new Error(`MemoryBudget: released more than reserved (${this.used})`);
    this.wake();
  }

  /** Fails every waiter (the producer is closing). */
  failAll(error: Error): void {
    for (let i = this.waitersHead; i < this.waiters.length; i++) {
      const w = this.waiters[i];
      if (w.done) continue;
      w.done = true;
      clearTimeout(w.timer);
      w.reject(error);
    }
    this.waiters = [];
    this.waitersHead = 0;
  }

  private wake(): void {
    while (this.waitersHead < this.waiters.length) {
      const w = this.waiters[this.waitersHead];
      if (w.done) {
        this.waitersHead++;
        continue;
      }
      if (this.used + w.bytes > this.bytesMax) break;
      this.used += w.bytes;
      w.done = true;
      clearTimeout(w.timer);
      this.waitersHead++;
      w.resolve();
    }
    if (this.waitersHead === this.waiters.length) {
      this.waiters = [];
      this.waitersHead = 0;
    } else if (this.waitersHead > 1024 && this.waitersHead * 2 > this.waiters.length) {
      this.waiters = this.waiters.slice(this.waitersHead);
      this.waitersHead = 0;
    }
  }
}
