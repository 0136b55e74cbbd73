// Waiting on a condition with a deadline: the one helper every test uses
// instead of sleeping to order events (integration tests under test/, and unit
// tests beside the code in engine/, workers/ and client/).
//
// The condition is polled every `everyMs` on the event loop (a timer, not a
// busy loop), so whatever it waits for (a socket, a worker's message, a timer
// of the code under test) keeps running in between. Plain setTimeout, so it
// runs under Bun, Deno and Node alike.

export interface WaitOptions {
  /** What is waited for, for the error message (default: the condition's source). */
  what?: string;
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Poll this often (default 5 ms). */
  everyMs?: number;
}

const TIMEOUT_MS_DEFAULT = 10_000;
const EVERY_MS_DEFAULT = 5;

/**
 * Polls `condition` until it holds or the deadline passes; returns whether it
 * held. For a caller that reports a timeout itself (or counts it as an outcome).
 */
export async function pollUntil(condition: () => boolean | Promise<boolean>, options: WaitOptions = {}): Promise<boolean> {
  const timeoutMs = options.timeoutMs ?? TIMEOUT_MS_DEFAULT;
  const everyMs = options.everyMs ?? EVERY_MS_DEFAULT;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (performance.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Polls `condition` until it holds; throws, naming what was waited for, if the deadline passes first. */
export async function waitFor(condition: () => boolean | Promise<boolean>, options: WaitOptions = {}): Promise<void> {
  if (await pollUntil(condition, options)) return;
  const what = options.what ?? String(condition);
  throw new Error(`timed out after ${options.timeoutMs ?? TIMEOUT_MS_DEFAULT} ms waiting for ${what}`);
}

/**
 * Polls `probe` until it gives a value (anything but undefined, null or false)
 * and returns that value. A probe that throws counts as not yet (a page still
 * loading, a server not yet listening); if the deadline passes, the error
 * names what was waited for and the probe's last error.
 */
export async function waitForValue<T>(probe: () => T | undefined | null | false | Promise<T | undefined | null | false>, options: WaitOptions = {}): Promise<T> {
  let value: T | undefined;
  let lastError: unknown;
  const got = await pollUntil(async () => {
    try {
      const v = await probe();
      if (v === undefined || v === null || v === false) return false;
      value = v;
      return true;
    } catch (e) {
      lastError = e;
      return false;
    }
  }, options);
  if (got) return value as T;
  const what = options.what ?? String(probe);
  const why = lastError === undefined ? "" : `: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
  throw new Error(`timed out after ${options.timeoutMs ?? TIMEOUT_MS_DEFAULT} ms waiting for ${what}${why}`);
}

/**
 * Lets `ms` pass on the event loop. Only for a test in which time passing is
 * the behaviour under test (a lease kept alive across its TTLs, a timeout that
 * must elapse before something may happen); never to order events: wait on a
 * condition for that.
 */
export function letTimePass(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/**
 * One turn of the event loop: resolves after every microtask queued so far has
 * run. For code under test that acts in microtasks (the in-memory pool), so a
 * negative check after it means that nothing an earlier call set off did
 * happen; it is not a pause for anything timed or on another thread.
 */
export function eventLoopTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
