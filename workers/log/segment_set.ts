// The ordered segments of one partition, oldest first; the last is the active
// segment that appends go to. Finds the segment holding an offset by binary
// search over base offsets, so the cost of a lookup grows with log2 of the
// segment count, not with the log's size.
//
// Contract: segments are contiguous (each starts at its predecessor's next
// offset) and only the last is unsealed. Sealed segments load their indexes on
// first use and keep them within INDEX_CACHE_BYTES_MAX, dropping the least
// recently used; the active segment always keeps its own.

import { assert } from "../../protocol/assert.ts";
import { INDEX_CACHE_BYTES_MAX } from "./log_limits.ts";
import type { Segment } from "./segment_file.ts";

export class SegmentSet {
  private readonly list: Segment[] = [];
  private tick = 0;
  private sealedIndexBytes = 0;
  private sealedBytes = 0;
  private readonly indexBudgetBytes: number;

  constructor(indexBudgetBytes = INDEX_CACHE_BYTES_MAX) {
    this.indexBudgetBytes = indexBudgetBytes;
  }

  get count(): number {
    return this.list.length;
  }

  get first(): Segment {
    return this.list[0];
  }

  get active(): Segment {
    return this.list[this.list.length - 1];
  }

  at(i: number): Segment {
    return this.list[i];
  }

  /** Bytes of all segments' logs. */
  get sizeBytes(): number {
    return this.sealedBytes + (this.list.length > 0 ? this.active.size : 0);
  }

  /** Bytes of loaded sealed-segment indexes. */
  get loadedIndexBytes(): number {
    return this.sealedIndexBytes;
  }

  /** Appends a segment after the active one; the active one must already be sealed. */
  push(seg: Segment): void {
    const n = this.list.length;
    if (n > 0) {
      const prev = this.list[n - 1];
      assert(prev.sealed, "segment set: the active segment is sealed before a new one follows it", prev.name);
      assert(seg.baseOffset === prev.nextOffset, "segment set: a segment starts at the previous one's next offset", seg.name);
      this.sealedBytes += prev.size;
      this.sealedIndexBytes += prev.indexMemoryBytes;
    }
    this.list.push(seg);
  }

  /** Removes and returns the oldest segment (never the active one). */
  shift(): Segment {
    assert(this.list.length >= 2, "segment set: the active segment cannot be removed");
    const seg = this.list.shift() as Segment;
    this.sealedBytes -= seg.size;
    this.sealedIndexBytes -= seg.indexMemoryBytes;
    return seg;
  }

  /** Drops the segments from index i on (a salvage open keeps only what is intact). */
  truncateFrom(i: number): Segment[] {
    const dropped = this.list.splice(i);
    this.recount();
    return dropped;
  }

  /** Index of the segment holding `offset` (the last with base ≤ offset), or -1 if below the first. */
  floorIndex(offset: number): number {
    const list = this.list;
    let lo = 0;
    let hi = list.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid].baseOffset <= offset) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /**
   * Makes sure `seg` has its indexes in memory, calling `load` if not, and
   * keeps loaded sealed indexes within the budget.
   */
  useIndexes(seg: Segment, load: (seg: Segment) => void): void {
    seg.lastUsed = ++this.tick;
    if (seg.offsetIndex !== null) return;
    load(seg);
    if (!seg.sealed) return;
    this.sealedIndexBytes += seg.indexMemoryBytes;
    while (this.sealedIndexBytes > this.indexBudgetBytes) {
      let victim: Segment | null = null;
      for (const s of this.list) {
        if (s.sealed && s !== seg && s.offsetIndex !== null && (victim === null || s.lastUsed < victim.lastUsed)) victim = s;
      }
      if (victim === null) break;
      this.sealedIndexBytes -= victim.indexMemoryBytes;
      victim.unloadIndexes();
    }
  }

  /** Call after a sealed segment's indexes were replaced outside useIndexes (a rebuild). */
  recount(): void {
    let bytes = 0;
    let idx = 0;
    for (let i = 0; i < this.list.length - 1; i++) {
      bytes += this.list[i].size;
      idx += this.list[i].indexMemoryBytes;
    }
    this.sealedBytes = bytes;
    this.sealedIndexBytes = idx;
  }

  [Symbol.iterator](): Iterator<Segment> {
    return this.list[Symbol.iterator]();
  }
}
