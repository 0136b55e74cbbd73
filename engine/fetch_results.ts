// The per-partition results of one Fetch while it is in flight, `flat` over
// the request's topics: error codes and watermarks, and each partition's bytes
// copied once into one scratch buffer from the server's pool (the engine's
// view of them is valid only during its callback). The one layout both
// protocols answer from (native/fetch_in_flight.ts, kafka/fetch.ts): the
// response takes views of the scratch buffer, which goes back to the pool once
// the socket took them.

import type { ScratchPool } from "./connection/scratch_pool.ts";
import { SCRATCH_INITIAL_BYTES } from "./engine_limits.ts";

const EMPTY = new Uint8Array(0);
const noop = (): void => {};

export class FetchPartitionResults {
  readonly codes: Int16Array;
  readonly highWatermarks: Float64Array;
  readonly logStarts: Float64Array;
  /** Where partition `i`'s bytes start in the scratch buffer, and how many there are. */
  readonly starts: Int32Array;
  readonly lengths: Int32Array;
  readonly #pool: ScratchPool;
  /** Taken from the pool at the first bytes, given back when the fetch parks or ends: a parked fetch holds none. */
  #scratch: Uint8Array = EMPTY;
  #used = 0;

  constructor(pool: ScratchPool, partitions: number) {
    this.#pool = pool;
    this.codes = new Int16Array(partitions);
    this.starts = new Int32Array(partitions);
    this.lengths = new Int32Array(partitions);
    this.highWatermarks = new Float64Array(partitions).fill(-1);
    this.logStarts = new Float64Array(partitions).fill(-1);
  }

  /** Record bytes held, over all partitions. */
  get usedBytes(): number {
    return this.#used;
  }

  /** Partition `i`'s result; `bytes` is copied (it is valid only during the engine's callback). */
  set(i: number, errorCode: number, bytes: Uint8Array | null, highWatermark: number, logStartOffset: number): void {
    this.codes[i] = errorCode;
    this.highWatermarks[i] = highWatermark;
    this.logStarts[i] = logStartOffset;
    const n = bytes === null ? 0 : bytes.length;
    this.starts[i] = this.#used;
    this.lengths[i] = n;
    if (n === 0) return;
    this.#ensure(n);
    this.#scratch.set(bytes!, this.#used);
    this.#used += n;
  }

  /** The fetch parks: every partition's bytes are dropped and the scratch buffer goes back to the pool. */
  reset(): void {
    this.#used = 0;
    this.lengths.fill(0);
    if (this.#scratch !== EMPTY) this.#pool.give(this.#scratch);
    this.#scratch = EMPTY;
  }

  /**
   * Hands the scratch buffer to the response: `records(i, scratch)` are views
   * of it, and `release` gives it back to the pool once the socket took them.
   */
  takeScratch(): { scratch: Uint8Array; release: () => void } {
    const scratch = this.#scratch;
    this.#scratch = EMPTY;
    const pool = this.#pool;
    return { scratch, release: scratch === EMPTY ? noop : () => pool.give(scratch) };
  }

  /** Partition `i`'s bytes, a view of `scratch` (from takeScratch). */
  records(i: number, scratch: Uint8Array): Uint8Array {
    return scratch.subarray(this.starts[i], this.starts[i] + this.lengths[i]);
  }

  #ensure(n: number): void {
    const needed = this.#used + n;
    if (needed <= this.#scratch.length) return;
    if (this.#scratch === EMPTY) {
      this.#scratch = this.#pool.take();
      if (needed <= this.#scratch.length) return;
    }
    let size = Math.max(this.#scratch.length * 2, SCRATCH_INITIAL_BYTES);
    while (size < needed) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.#scratch.subarray(0, this.#used));
    this.#scratch = grown;
  }
}
