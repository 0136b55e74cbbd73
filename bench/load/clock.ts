// One clock for every thread of a run: epoch milliseconds with sub-millisecond
// precision. performance.now() alone is relative to each thread's own start,
// so a producer thread's timestamps could not be compared with a consumer
// thread's; timeOrigin + now() can.

export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Resolves after `ms` (at least one timer tick). */
export function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
