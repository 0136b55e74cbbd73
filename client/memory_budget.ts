// The producer's buffer memory (bufferBytesMax), with backpressure.
//
// send() reserves the bytes a record will take before it is appended to a
// batch; the bytes are released when the batch's produce is done (acked or
// failed for good). When the budget is used up, send() waits — in arrival
// order, so a small record cannot overtake a large one and records of one
// caller keep their order — until enough is released, or fails after its
// deadline with BufferExhaustedError. A reservation larger than the whole
// budget can never fit and fails at once.
//
// Waiting is cheap because a full buffer is the steady state of a producer
// that sends faster than the broker acknowledges: a waiter is one object the
// caller already has (a BudgetWaiter: the producer's pending send), called
// back synchronously when its bytes are reserved, and one timer serves all
// waiters (armed for the earliest deadline), not one timer per waiter.

import { BufferExhaustedError, InvalidArgumentError } from "./errors.ts";

/**
 * A caller waiting for room; `granted` runs once its bytes are reserved,
 * `refused` once they never will be. (An interface, not a base class: a
 * waiting send is created per record when the buffer is full, and a plain
 * class constructs faster than a subclass.)
 */
export interface BudgetWaiter {
  /** Bytes wanted (set before each wait). */
  bytes: number;
  /** Epoch ms after which it gives up with BufferExhaustedError. */
  deadline: number;
  /** True while in the queue (the budget sets it). */
  queued: boolean;
  /** The bytes are reserved for it. Called synchronously from release() (or a timer); must not throw. */
  granted(): void;
  /** BufferExhaustedError after its deadline, or the error given to failAll(). Must not throw. */
  refused(error: Error): void;
}

/** reserve()'s waiter: settles a promise. */
class PromiseWaiter implements BudgetWaiter {
  bytes = 0;
  deadline = 0;
  queued = false;
  constructor(
    private readonly resolve: () => void,
    private readonly reject: (e: Error) => void,
  ) {}
  granted(): void {
    this.resolve();
  }
  refused(error: Error): void {
    this.reject(error);
  }
}

export class MemoryBudget {
  readonly bytesMax: number;
  private used = 0;
  /** FIFO of callers waiting for room; each entry is one pending send() (bounded by the callers). */
  private waiters: BudgetWaiter[] = [];
  private waitersHead = 0;
  /** Deadlines are non-decreasing along the queue (the usual case: one timeout for every send). */
  private deadlinesOrdered = true;
  private lastDeadline = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Infinity;
  /** wake() is running (granted() callbacks may release or reserve again). */
  private waking = false;
  private wakeAgain = false;

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

  /**
   * Settles a waiter that need not queue: refused when it can never fit (checked
   * first, so `reserved` is false for it), granted when `reserved` says its bytes
   * were just taken. True when it was settled.
   */
  private settledAtOnce(waiter: BudgetWaiter, reserved: boolean): boolean {
    if (waiter.bytes > this.bytesMax) {
      waiter.refused(new InvalidArgumentError(`a record of ${waiter.bytes} bytes can never fit in bufferBytesMax (${this.bytesMax})`));
      return true;
    }
    if (reserved) waiter.granted();
    return reserved;
  }

  /** Takes `bytes` at once if they fit and nobody is waiting before us. */
  tryReserve(bytes: number): boolean {
    if (this.waitersHead < this.waiters.length || this.used + bytes > this.bytesMax) return false;
    this.used += bytes;
    return true;
  }

  /**
   * Queues `waiter` for `waiter.bytes` until `waiter.deadline`. A waiter that
   * can never fit is refused at once (InvalidArgumentError).
   */
  wait(waiter: BudgetWaiter): void {
    if (this.settledAtOnce(waiter, this.tryReserve(waiter.bytes))) return;
    waiter.queued = true;
    if (this.waitersHead === this.waiters.length) {
      this.deadlinesOrdered = true;
      this.lastDeadline = waiter.deadline;
    } else if (waiter.deadline < this.lastDeadline) this.deadlinesOrdered = false;
    else this.lastDeadline = waiter.deadline;
    this.waiters.push(waiter);
    if (waiter.deadline < this.timerAt) this.armTimer(waiter.deadline);
  }

  /**
   * Takes `bytes` if they fit, whoever waits: for a caller that is ahead of
   * every waiter (a sendBatch() call continuing after a grant).
   */
  tryReserveFirst(bytes: number): boolean {
    if (this.used + bytes > this.bytesMax) return false;
    this.used += bytes;
    return true;
  }

  /** Like wait(), but at the head of the queue: for a caller that already was ahead of every waiter. */
  waitFirst(waiter: BudgetWaiter): void {
    if (this.settledAtOnce(waiter, this.tryReserveFirst(waiter.bytes))) return;
    waiter.queued = true;
    if (this.waitersHead === this.waiters.length) {
      this.deadlinesOrdered = true;
      this.lastDeadline = waiter.deadline;
    } else if (waiter.deadline > this.waiters[this.waitersHead].deadline) this.deadlinesOrdered = false;
    if (this.waitersHead > 0) this.waiters[--this.waitersHead] = waiter;
    else this.waiters.unshift(waiter);
    if (waiter.deadline < this.timerAt) this.armTimer(waiter.deadline);
  }

  /** Waits (in FIFO order) until `bytes` fit; rejects after `timeoutMs` with BufferExhaustedError. */
  reserve(bytes: number, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter = new PromiseWaiter(resolve, reject);
      waiter.bytes = bytes;
      waiter.deadline = Date.now() + timeoutMs;
      this.wait(waiter);
    });
  }

  release(bytes: number): void {
    this.used -= bytes;
    if (this.used < 0) throw new Error(`MemoryBudget: released more than reserved (${this.used})`);
    if (this.waitersHead < this.waiters.length) this.wake();
  }

  /**
   * Gives back part of a reservation without serving waiters now (a record
   * took fewer bytes than reserved). Whatever is still used is held by
   * batches whose completion release()s it, so waiters are served then.
   */
  shrink(bytes: number): void {
    this.used -= bytes;
    if (this.used < 0) throw new Error(`MemoryBudget: shrunk below zero (${this.used})`);
  }

  /** Fails every waiter (the producer is closing). */
  failAll(error: Error): void {
    const waiters = this.waiters;
    const head = this.waitersHead;
    this.waiters = [];
    this.waitersHead = 0;
    this.clearTimer();
    for (let i = head; i < waiters.length; i++) {
      const w = waiters[i];
      if (!w.queued) continue;
      w.queued = false;
      w.refused(error);
    }
  }

  private wake(): void {
    if (this.waking) {
      this.wakeAgain = true;
      return;
    }
    this.waking = true;
    try {
      do {
        this.wakeAgain = false;
        while (this.waitersHead < this.waiters.length) {
          const w = this.waiters[this.waitersHead];
          if (!w.queued) {
            this.waitersHead++;
            continue;
          }
          if (this.used + w.bytes > this.bytesMax) break;
          this.used += w.bytes;
          w.queued = false;
          this.waitersHead++;
          w.granted();
        }
      } while (this.wakeAgain);
    } finally {
      this.waking = false;
    }
    this.compact();
  }

  private compact(): void {
    if (this.waitersHead === this.waiters.length) {
      if (this.waiters.length > 0) {
        this.waiters = [];
        this.waitersHead = 0;
      }
      this.clearTimer();
    } else if (this.waitersHead > 1024 && this.waitersHead * 2 > this.waiters.length) {
      this.waiters = this.waiters.slice(this.waitersHead);
      this.waitersHead = 0;
    }
  }

  private armTimer(at: number): void {
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.expire(), Math.max(0, at - Date.now()));
  }

  private clearTimer(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  /** Refuses the waiters whose deadline passed; those behind them may then fit. */
  private expire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = Date.now();
    const expired: BudgetWaiter[] = [];
    let next = Infinity;
    if (this.deadlinesOrdered) {
      while (this.waitersHead < this.waiters.length) {
        const w = this.waiters[this.waitersHead];
        if (w.queued && w.deadline > now) {
          next = w.deadline;
          break;
        }
        this.waitersHead++;
        if (w.queued) expired.push(w);
      }
    } else {
      // Rare (deadlines of different lengths): look at every waiter.
      for (let i = this.waitersHead; i < this.waiters.length; i++) {
        const w = this.waiters[i];
        if (!w.queued) continue;
        if (w.deadline <= now) expired.push(w);
        else if (w.deadline < next) next = w.deadline;
      }
    }
    for (const w of expired) {
      w.queued = false;
      w.refused(
        new BufferExhaustedError(
          `send() found no buffer space for ${w.bytes} bytes before its deadline (sendTimeoutMs); ` +
            `${this.used} of bufferBytesMax ${this.bytesMax} are held by records not yet acknowledged`,
        ),
      );
    }
    // A timed-out waiter at the head must not block those behind it.
    if (this.waitersHead < this.waiters.length) this.wake();
    else this.compact();
    if (next !== Infinity && this.waitersHead < this.waiters.length && next < this.timerAt) this.armTimer(next);
  }
}
