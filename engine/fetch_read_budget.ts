// The fetch reads one client (one connection) may have issued to the partition
// workers and not yet seen answered.
//
// Why: a fetch read is the most expensive request a worker serves (a file read
// of up to FETCH_PARTITION_BYTES_MAX into the completion ring, then copies on
// the router), and reads in a worker's ring run in order. Without a bound, a
// client that pipelines hundreds of large fetches puts hundreds of reads in
// front of every other client's fetch on that worker — and those reads still
// run after the client is cut off, since a read in the ring cannot be taken
// back. With this budget a connection has at most FETCH_READ_BYTES_IN_FLIGHT_PER_CLIENT_MAX
// bytes of reads (counted by what each read may return) in the rings at once;
// the rest wait here, on the router, where closing the connection drops them.
//
// Bound and overflow outcome: over the budget a read waits (FIFO) until an
// earlier one of the same client completes. A read is always let through when
// the client has none in flight, so one read larger than the budget still runs.
// The queue holds at most one entry per partition of the client's fetches in
// flight, which INFLIGHT_REQUESTS_MAX / INFLIGHT_BYTES_MAX already bound.

import { FETCH_READ_BYTES_IN_FLIGHT_PER_CLIENT_MAX } from "./engine_limits.ts";

/** A read that waits for budget; `grant` runs once the budget (bytes) was taken for it. */
interface QueuedRead {
  bytes: number;
  grant: () => void;
}

export class FetchReadBudget {
  readonly #bytesMax: number;
  #bytesInFlight = 0;
  #readsInFlight = 0;
  #queue: QueuedRead[] = [];
  #head = 0;
  #closed = false;

  constructor(options: { bytesMax?: number } = {}) {
    this.#bytesMax = options.bytesMax ?? FETCH_READ_BYTES_IN_FLIGHT_PER_CLIENT_MAX;
  }

  get readsInFlight(): number {
    return this.#readsInFlight;
  }

  get bytesInFlight(): number {
    return this.#bytesInFlight;
  }

  /** Reads waiting for budget. */
  get waiting(): number {
    return this.#queue.length - this.#head;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Takes `bytes` of budget now (true), or queues `grant` to run once it was
   * taken for it (false). After close() nothing is taken and nothing queued
   * (false, `grant` never runs): the client is gone.
   */
  acquire(bytes: number, grant: () => void): boolean {
    if (this.#closed) return false;
    if (this.waiting === 0 && this.#fits(bytes)) {
      this.#take(bytes);
      return true;
    }
    this.#queue.push({ bytes, grant });
    return false;
  }

  /** A read that took `bytes` completed (or was never issued): its budget goes to waiting reads, oldest first. */
  release(bytes: number): void {
    this.#readsInFlight--;
    this.#bytesInFlight -= bytes;
    if (this.#readsInFlight < 0 || this.#bytesInFlight < 0) throw new Error("fetch read budget: released more than was taken");
    while (!this.#closed && this.waiting > 0) {
      const next = this.#queue[this.#head];
      if (!this.#fits(next.bytes)) break;
      this.#queue[this.#head] = undefined as unknown as QueuedRead;
      this.#head++;
      if (this.#head === this.#queue.length) {
        this.#queue = [];
        this.#head = 0;
      }
      this.#take(next.bytes);
      next.grant();
    }
  }

  /** The client went away: drop every waiting read (they are never issued). Reads in flight still release. */
  close(): void {
    this.#closed = true;
    this.#queue = [];
    this.#head = 0;
  }

  #fits(bytes: number): boolean {
    return this.#readsInFlight === 0 || this.#bytesInFlight + bytes <= this.#bytesMax;
  }

  #take(bytes: number): void {
    this.#readsInFlight++;
    this.#bytesInFlight += bytes;
  }
}
