// Garbage collection on Bun, for the broker's memory governor
// (engine/memory_governor.ts). The only place the broker touches bun:jsc.

import { heapSize } from "bun:jsc";

/**
 * A full, synchronous collection of this thread's heap that also returns
 * freed pages to the allocator (Bun.gc(true): collect, then mimalloc's
 * cleanup); returns the bytes of the heap that survived it.
 */
export function collectFully(): number {
  Bun.gc(true);
  return heapSize();
}
