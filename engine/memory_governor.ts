// Keeps the broker's resident memory near a soft limit by asking for a full
// garbage collection when it is above it, at most once per interval.
//
// Why: under a high rate of small requests the router thread allocates a few
// objects per request that live for the request's round trip (milliseconds),
// so they outlive the young generation and pile up in the old one, which the
// collector lets grow with the allocation rate. Measured on 2 cores at ~300k
// one-message requests/s (bench:peers' unbatched row, 10 s): RSS climbed
// 170 -> 366 MiB and fell back to 149 MiB only once the load stopped. A
// young-generation collection alone did not help (the garbage is already old);
// a full one every 500 ms still let it reach ~300 MiB between two; every 250 ms
// above 160 MiB held the peak at 226-249 MiB, for 7-10 ms per collection (3-4% of
// the router's time; docs/perf-log.md). Those pauses cost the router's requests
// latency: with the governor off the same load ran ~5-10% faster, at 306-320 MiB.
//
// When what survives a collection is itself most of the limit (the memory is
// live, not garbage), the interval doubles, up to GOVERNOR_INTERVAL_MS_MAX, so
// a broker that simply holds that much does not pay for collections that
// cannot help.

import { GOVERNOR_INTERVAL_MS, GOVERNOR_INTERVAL_MS_MAX, GOVERNOR_LIVE_FRACTION } from "./engine_limits.ts";

export interface MemoryGovernorOptions {
  /** Resident bytes above which a collection is forced; 0 disables the governor. */
  softLimitBytes: number;
  /** Resident memory of the process now (cheap: called every check). */
  rssBytes: () => number;
  /** A full, synchronous collection; returns the bytes of the heap that survived it. */
  collect: () => number;
  now?: () => number;
}

export class MemoryGovernor {
  readonly #o: MemoryGovernorOptions;
  readonly #now: () => number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #intervalMs = GOVERNOR_INTERVAL_MS;
  #nextAllowedMs = 0;
  /** Forced collections so far, and the time they took (for /metrics). */
  collections = 0;
  collectSeconds = 0;
  /** Heap bytes that survived the last forced collection. */
  liveBytes = 0;

  constructor(options: MemoryGovernorOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Checks every GOVERNOR_INTERVAL_MS; the timer does not keep the process alive. */
  start(): void {
    if (this.#o.softLimitBytes <= 0 || this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.check(), GOVERNOR_INTERVAL_MS);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One check: collects when above the limit and the back-off allows. Returns whether it collected. */
  check(): boolean {
    if (this.#o.softLimitBytes <= 0) return false;
    const now = this.#now();
    if (now < this.#nextAllowedMs) return false;
    if (this.#o.rssBytes() <= this.#o.softLimitBytes) {
      this.#intervalMs = GOVERNOR_INTERVAL_MS;
      return false;
    }
    const started = this.#now();
    const live = this.#o.collect();
    const done = this.#now();
    this.collections++;
    this.collectSeconds += (done - started) / 1000;
    this.liveBytes = live;
    this.#intervalMs =
      live >= this.#o.softLimitBytes * GOVERNOR_LIVE_FRACTION ? Math.min(this.#intervalMs * 2, GOVERNOR_INTERVAL_MS_MAX) : GOVERNOR_INTERVAL_MS;
    // A quarter interval of slack, so timer jitter does not skip a whole tick.
    this.#nextAllowedMs = done + this.#intervalMs - GOVERNOR_INTERVAL_MS / 4;
    return true;
  }

  /** Milliseconds the next collection must wait at least (for tests). */
  get intervalMs(): number {
    return this.#intervalMs;
  }
}
