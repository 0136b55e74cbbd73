// Reusable buffers for assembling fetch responses. A fetch's partition
// results arrive one by one (from different workers) as views that are valid
// only during their callback; they are copied here, then into the response
// once all are in. Reusing the buffers matters: writing fresh memory is ~10×
// slower than writing memory already touched.
//
// Bound: at most SCRATCH_RETAINED_BYTES_MAX bytes are kept between uses; the
// rest is left to the garbage collector.

import { SCRATCH_INITIAL_BYTES, SCRATCH_RETAINED_BYTES_MAX } from "../engine_limits.ts";

export class ScratchPool {
  readonly #free: Uint8Array[] = [];
  #retainedBytes = 0;

  take(): Uint8Array {
    const buf = this.#free.pop();
    if (buf === undefined) return new Uint8Array(SCRATCH_INITIAL_BYTES);
    this.#retainedBytes -= buf.length;
    return buf;
  }

  give(buf: Uint8Array): void {
    if (this.#retainedBytes + buf.length > SCRATCH_RETAINED_BYTES_MAX) return;
    this.#free.push(buf);
    this.#retainedBytes += buf.length;
  }

  get retainedBytes(): number {
    return this.#retainedBytes;
  }
}
