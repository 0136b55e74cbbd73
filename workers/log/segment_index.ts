// The sparse offset index of one segment: (offset relative to the segment's
// base, byte position of the batch that starts there), one entry for the first
// batch and then one for the first batch after each `index.interval.bytes` of
// log. Kept in memory as two parallel typed arrays, sorted by both columns.
//
// Contract: floorByOffset(rel) gives the last entry whose batch starts at or
// before `rel`; the batch holding `rel` is then at most one interval (plus the
// batch that crossed it) further on. Lookups are binary searches and allocate
// nothing. Entries are appended only; the file form is written by the segment
// when it is sealed or checkpointed (see index_file.ts).

import { assert } from "../../protocol/assert.ts";
import { readU32, writeI32 } from "../../protocol/big_endian.ts";

/** Bytes per entry in the file: relative offset u32, position u32. */
export const OFFSET_INDEX_ENTRY_BYTES = 8;

export class OffsetIndex {
  private rel: Uint32Array;
  private pos: Uint32Array;
  private n = 0;

  constructor(capacity = 16) {
    this.rel = new Uint32Array(Math.max(4, capacity));
    this.pos = new Uint32Array(Math.max(4, capacity));
  }

  get count(): number {
    return this.n;
  }

  /** Memory held, for the index cache budget. */
  get memoryBytes(): number {
    return this.rel.byteLength + this.pos.byteLength;
  }

  relOffsetAt(i: number): number {
    return this.rel[i];
  }

  positionAt(i: number): number {
    return this.pos[i];
  }

  append(relOffset: number, position: number): void {
    const n = this.n;
    // Entries come from place() only, batch after batch: both columns go up, and both fit u32 (log_limits.ts).
    assert(n === 0 || relOffset > this.rel[n - 1], "offset index: an entry's offset follows the last", relOffset);
    assert(n === 0 || position > this.pos[n - 1], "offset index: an entry's position follows the last", position);
    assert(relOffset >= 0 && relOffset <= 0xffffffff, "offset index: a relative offset fits u32", relOffset);
    assert(position >= 0 && position <= 0xffffffff, "offset index: a position fits u32", position);
    if (n === this.rel.length) {
      const rel = new Uint32Array(n * 2);
      rel.set(this.rel);
      this.rel = rel;
      const pos = new Uint32Array(n * 2);
      pos.set(this.pos);
      this.pos = pos;
    }
    this.rel[n] = relOffset;
    this.pos[n] = position;
    this.n = n + 1;
  }

  /** Index of the last entry with relative offset ≤ relOffset, or -1. */
  floorByOffset(relOffset: number): number {
    return floor(this.rel, this.n, relOffset);
  }

  /** Index of the last entry with position ≤ position, or -1. */
  floorByPosition(position: number): number {
    return floor(this.pos, this.n, position);
  }

  /** Keeps the entries below `position` only (after a tail is cut). */
  truncateToPosition(position: number): void {
    this.n = floor(this.pos, this.n, position - 1) + 1;
  }

  encodeEntries(): Uint8Array {
    const out = new Uint8Array(this.n * OFFSET_INDEX_ENTRY_BYTES);
    for (let i = 0; i < this.n; i++) {
      writeI32(out, i * 8, this.rel[i]);
      writeI32(out, i * 8 + 4, this.pos[i]);
    }
    return out;
  }

  /** Decodes entries; null when they are not strictly increasing (a damaged file). */
  static decodeEntries(bytes: Uint8Array, start: number, count: number): OffsetIndex | null {
    const index = new OffsetIndex(count);
    for (let i = 0; i < count; i++) {
      const p = start + i * 8;
      const rel = readU32(bytes, p);
      const pos = readU32(bytes, p + 4);
      if (i > 0 && (rel <= index.rel[i - 1] || pos <= index.pos[i - 1])) return null;
      index.rel[i] = rel;
      index.pos[i] = pos;
      index.n = i + 1;
    }
    return index;
  }
}

/** Last i < n with a[i] ≤ key, or -1; `a` sorted ascending. */
function floor(a: Uint32Array, n: number, key: number): number {
  let lo = 0;
  let hi = n - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] <= key) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}
