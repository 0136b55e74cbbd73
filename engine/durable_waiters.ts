// acks=all produce results of one partition that were written but are not yet
// covered by an fdatasync; settled oldest first as the worker reports the
// durable offset moving (or all failed when the partition goes offline).
//
// Runs on: the router (main) thread.

import { ErrorCode } from "../protocol/errors.ts";
import type { ProduceCallback, ProduceResult } from "./partition_pool.ts";
import { invoke, produced } from "./pool_callbacks.ts";

/**
 * acks=all produce results of one partition waiting for their fdatasync, oldest
 * first: a ring of parallel arrays, so waiting costs no object per request (at
 * a few hundred thousand one-message requests a second, per-request objects
 * that live for a round trip are what grows the router's heap).
 */
export class DurableWaiters {
  private base = new Float64Array(64);
  private last = new Float64Array(64);
  private appendTime = new Float64Array(64);
  private logStart = new Float64Array(64);
  private cbs: (ProduceCallback | undefined)[] = new Array(64).fill(undefined);
  private head = 0;
  size = 0;

  push(baseOffset: number, lastOffset: number, logAppendTimeMs: number, logStartOffset: number, cb: ProduceCallback): void {
    if (this.size === this.cbs.length) this.grow();
    const i = (this.head + this.size) & (this.cbs.length - 1);
    this.base[i] = baseOffset;
    this.last[i] = lastOffset;
    this.appendTime[i] = logAppendTimeMs;
    this.logStart[i] = logStartOffset;
    this.cbs[i] = cb;
    this.size++;
  }

  /** True when the oldest waiter's last offset is below `durableOffset`. */
  oldestCovered(durableOffset: number): boolean {
    return this.size > 0 && this.last[this.head] < durableOffset;
  }

  /** Removes the oldest waiter and calls its callback with `err` and its result. */
  settleOldest(err: number, message?: string): void {
    const i = this.head;
    const cb = this.cbs[i]!;
    const res: ProduceResult | null =
      err === ErrorCode.NONE ? { baseOffset: this.base[i], lastOffset: this.last[i], logAppendTimeMs: this.appendTime[i], logStartOffset: this.logStart[i] } : null;
    this.cbs[i] = undefined;
    this.head = (i + 1) & (this.cbs.length - 1);
    this.size--;
    if (err === ErrorCode.NONE) produced(cb, err, res!);
    else invoke(() => cb(err, null, message));
  }

  private grow(): void {
    const n = this.cbs.length;
    const order = (a: Float64Array) => {
      const b = new Float64Array(n * 2);
      for (let k = 0; k < this.size; k++) b[k] = a[(this.head + k) & (n - 1)];
      return b;
    };
    this.base = order(this.base);
    this.last = order(this.last);
    this.appendTime = order(this.appendTime);
    this.logStart = order(this.logStart);
    const cbs: (ProduceCallback | undefined)[] = new Array(n * 2).fill(undefined);
    for (let k = 0; k < this.size; k++) cbs[k] = this.cbs[(this.head + k) & (n - 1)];
    this.cbs = cbs;
    this.head = 0;
  }
}
