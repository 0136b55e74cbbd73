// Bounded exponential backoff with jitter, for retries and reconnects.
//
// attempt 0 waits about `initialMs`, each further attempt doubles it, never
// past `maxMs`. The wait is drawn from [d/2, d] ("equal jitter"): clients that
// failed together (a broker restart) do not all come back in the same
// millisecond, and the wait still grows with every failure.

export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
  /** Source of randomness in [0, 1) (tests pass a fixed one). */
  readonly random?: () => number;
}

export function backoffMs(attempt: number, options: BackoffOptions): number {
  const exponent = Math.min(Math.max(attempt, 0), 30);
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** exponent);
  const random = options.random ?? Math.random;
  return Math.max(0, Math.round(ceiling / 2 + (random() * ceiling) / 2));
}

/** Resolves after `ms` (a timer that does not keep the process alive on its own). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    unrefTimer(timer);
  });
}

/** Lets the process exit while only this timer is pending (Node, Bun and Deno all have unref). */
export function unrefTimer(timer: ReturnType<typeof setTimeout> | ReturnType<typeof setInterval>): void {
  const t = timer as unknown as { unref?: () => void };
  if (typeof t === "object" && t !== null && typeof t.unref === "function") t.unref();
  else if (typeof timer === "number") (globalThis as { Deno?: { unrefTimer(id: number): void } }).Deno?.unrefTimer(timer);
}
