// How the worker pool calls its callers back. A caller's exception must never
// leave a completion ring half-processed, so it is caught and rethrown later
// (in a microtask). The hot completions (produced, fetched, advanced) call
// their callback directly, without a closure per call; the rare paths go
// through invoke/defer with one.
//
// Runs on: the router (main) thread.

import type { FetchCallback, OffsetCallback, ProduceCallback, ProduceResult } from "./partition_pool.ts";
import { RequestType } from "./in_flight_queue.ts";

const EMPTY_BYTES = new Uint8Array(0);

/** Run a caller's callback; its exception must not leave the ring half-processed, so it is rethrown later. */
export function invoke(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}

// The hot completions call their callbacks without a closure per call (invoke's
// contract: an exception is rethrown later, never left in the ring loop).

export function produced(cb: ProduceCallback, err: number, res: ProduceResult): void {
  try {
    cb(err, res);
  } catch (e) {
    rethrowLater(e);
  }
}

export function fetched(cb: FetchCallback, err: number, bytes: Uint8Array, hw: number, logStart: number): void {
  try {
    cb(err, bytes, hw, logStart);
  } catch (e) {
    rethrowLater(e);
  }
}

export function advanced(listener: (slot: number) => void, slot: number): void {
  try {
    listener(slot);
  } catch (e) {
    rethrowLater(e);
  }
}

export function rethrowLater(err: unknown): void {
  queueMicrotask(() => {
    throw err;
  });
}

/**
 * Answers a request that never reached a worker with `code`, after the current
 * call returns. Out of line on purpose: a closure written inside a hot
 * function (produce, linkFor) makes every call of it allocate the scope the
 * closure captures, even on the path that never creates it.
 */
export function failLater(type: number, cb: ProduceCallback | FetchCallback | OffsetCallback, code: number, message: string): void {
  if (type === RequestType.PRODUCE) defer(() => (cb as ProduceCallback)(code, null, message));
  else if (type === RequestType.FETCH) defer(() => (cb as FetchCallback)(code, EMPTY_BYTES, -1, -1));
  else defer(() => (cb as OffsetCallback)(code, -1, -1));
}

/** Answer a request that never reached a worker, after the current call returns (callbacks are never synchronous). */
export function defer(fn: () => void): void {
  queueMicrotask(() => invoke(fn));
}
