// The leader's cap on what it sends to the replicas a move is adding
// (docs/SCALING.md, "The throttle"; Kafka's leader.replication.throttled.rate):
// one token bucket per broker, shared by every partition it leads that is
// moving with a throttle, applied only to replica fetch answers for the adding
// followers of those partitions while they are outside the ISR (as Kafka: an
// in-sync replica holds up acks=all, so it is never slowed), so ordinary
// followers and consumers keep their latency while a partition is copied.
// The adding replicas fetch on a connection of their own (the follower's copy
// fetcher, replica_manager.ts), so a copy read never shares an answer with
// the ordinary followers' records.
//
// A throttled read waits until the bucket holds a useful piece (50 ms of the
// rate, or what the fetch asked for if less) instead of going once a minimum
// trickled in: fewer, fuller rounds. It reserves its size when it is issued
// (so several fetches in flight cannot all spend the same tokens) and gives
// back what it did not use when it is answered. The bucket may go into debt
// by one batch (a read returns at least one whole batch); the next read waits
// it off. The rate is the smallest throttle of the moves this broker leads.
//
// Runs on: the router (main) thread.

/** How much a full bucket holds, in milliseconds of the rate: a burst after a pause, and what a long round trip may catch up. */
export const MOVE_THROTTLE_BURST_MS = 1_000;
/** A throttled read waits until this much of the rate is in the bucket (or what the fetch asked for, if less). */
export const MOVE_THROTTLE_READ_TARGET_MS = 50;
/**
 * The most one throttled read may take, in milliseconds of the rate. A read
 * every fetch round trip must still carry the rate: at 50 ms, a loaded
 * machine's round trips (70 ms and more) held a 2 MiB/s copy at 69% of its
 * throttle. What the fetch asked for bounds it too (the copy fetcher's
 * partition maximum).
 */
export const MOVE_THROTTLE_READ_MS = 250;
/** The least a throttled read may ask for (a read smaller than a batch still returns the batch, in debt). */
export const MOVE_THROTTLE_READ_BYTES_MIN = 16 * 1024;

export class MoveThrottle {
  /** slot → the adding replicas of its move and the move's throttle. */
  readonly #moving = new Map<number, { adding: ReadonlySet<number>; rate: number }>();
  #rate = 0;
  #tokens = 0;
  #lastMs = 0;
  /** Bytes sent to adding replicas under the throttle (tests and metrics). */
  sentBytes = 0;

  /** Sets (or, with `adding` undefined, clears) the throttled followers of a led slot. */
  set(slot: number, adding: readonly number[] | undefined, bytesPerSec: number | undefined): void {
    if (adding === undefined || adding.length === 0 || bytesPerSec === undefined) this.#moving.delete(slot);
    else this.#moving.set(slot, { adding: new Set(adding), rate: bytesPerSec });
    let rate = 0;
    for (const m of this.#moving.values()) rate = rate === 0 ? m.rate : Math.min(rate, m.rate);
    if (rate !== this.#rate) {
      // A throttle starting from none starts with an empty bucket (the copy runs at the rate from its first
      // read, not a second's burst ahead of it); a changed one keeps what it holds, up to its new burst.
      if (this.#rate === 0) {
        this.#tokens = 0;
        this.#lastMs = 0;
      }
      this.#rate = rate;
      this.#tokens = Math.min(this.#tokens, this.#burst());
    }
  }

  /** Whether a fetch of `slot` by `replicaId` goes through the throttle. */
  throttles(slot: number, replicaId: number): boolean {
    return this.#rate > 0 && this.#moving.get(slot)?.adding.has(replicaId) === true;
  }

  #burst(): number {
    return Math.max(MOVE_THROTTLE_READ_BYTES_MIN, Math.floor((this.#rate * MOVE_THROTTLE_BURST_MS) / 1000));
  }

  #refill(nowMs: number): void {
    if (this.#lastMs !== 0) this.#tokens = Math.min(this.#burst(), this.#tokens + ((nowMs - this.#lastMs) * this.#rate) / 1000);
    this.#lastMs = nowMs;
  }

  /** The tokens a read of up to `want` bytes waits for. */
  #needed(want: number): number {
    return Math.max(MOVE_THROTTLE_READ_BYTES_MIN, Math.min(want, Math.floor((this.#rate * MOVE_THROTTLE_READ_TARGET_MS) / 1000)));
  }

  /** Reserves up to `want` bytes for one read; 0 when the bucket holds less than a read waits for (the partition is answered without records). */
  reserve(want: number, nowMs: number = performance.now()): number {
    this.#refill(nowMs);
    if (this.#tokens < this.#needed(want)) return 0;
    const take = Math.max(MOVE_THROTTLE_READ_BYTES_MIN, Math.min(want, Math.floor(this.#tokens), Math.floor((this.#rate * MOVE_THROTTLE_READ_MS) / 1000)));
    this.#tokens -= take;
    return take;
  }

  /** A read that reserved `reserved` bytes sent `used` (more: a whole first batch, taken as debt). */
  settle(reserved: number, used: number): void {
    this.#tokens += reserved - used;
    this.sentBytes += used;
  }

  /** How long until a read of up to `want` bytes can be reserved. */
  msUntilReady(want: number = Number.MAX_SAFE_INTEGER, nowMs: number = performance.now()): number {
    this.#refill(nowMs);
    const needed = this.#needed(want);
    if (this.#rate === 0 || this.#tokens >= needed) return 0;
    return Math.ceil(((needed - this.#tokens) * 1000) / this.#rate);
  }
}
