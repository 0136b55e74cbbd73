// The sparse time index of one segment: (largest timestamp seen in the segment
// up to and including a batch, that batch's offset relative to the segment
// base), one entry per offset-index entry. Record timestamps need not be in
// order (CreateTime is the producer's clock), but their running maximum is, so
// the entries are sorted by both columns and binary search works.
//
// Contract: lastBelow(T) is the last entry whose running maximum is < T. Every
// batch up to and including that entry's batch has a max timestamp < T, and
// the first batch with a max timestamp ≥ T lies before the next entry (or the
// segment end): a lookup scans at most one interval. Lookups allocate nothing.

import { assert } from "../../protocol/assert.ts";
import { readI64Number, readU32, writeI32, writeI64Number } from "../../protocol/big_endian.ts";

/** Bytes per entry in the file: timestamp i64, relative offset u32. */
export const TIME_INDEX_ENTRY_BYTES = 12;

export class TimeIndex {
  private ts: Float64Array;
  private rel: Uint32Array;
  private n = 0;

  constructor(capacity = 16) {
    this.ts = new Float64Array(Math.max(4, capacity));
    this.rel = new Uint32Array(Math.max(4, capacity));
  }

  get count(): number {
    return this.n;
  }

  get memoryBytes(): number {
    return this.ts.byteLength + this.rel.byteLength;
  }

  timestampAt(i: number): number {
    return this.ts[i];
  }

  relOffsetAt(i: number): number {
    return this.rel[i];
  }

  /** `maxTimestampSoFar` must not go down; `relOffset` must go up. */
  append(maxTimestampSoFar: number, relOffset: number): void {
    const n = this.n;
    assert(n === 0 || maxTimestampSoFar >= this.ts[n - 1], "time index: the max timestamp so far does not go down", maxTimestampSoFar);
    assert(n === 0 || relOffset > this.rel[n - 1], "time index: an entry's offset follows the last", relOffset);
    if (n === this.ts.length) {
      const ts = new Float64Array(n * 2);
      ts.set(this.ts);
      this.ts = ts;
      const rel = new Uint32Array(n * 2);
      rel.set(this.rel);
      this.rel = rel;
    }
    this.ts[n] = maxTimestampSoFar;
    this.rel[n] = relOffset;
    this.n = n + 1;
  }

  /** Index of the last entry whose running max timestamp is < timestampMs, or -1. */
  lastBelow(timestampMs: number): number {
    let lo = 0;
    let hi = this.n - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ts[mid] < timestampMs) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /** Keeps the entries whose relative offset is below `relOffset` (after a tail is cut). */
  truncateToRelOffset(relOffset: number): void {
    while (this.n > 0 && this.rel[this.n - 1] >= relOffset) this.n--;
  }

  encodeEntries(): Uint8Array {
    const out = new Uint8Array(this.n * TIME_INDEX_ENTRY_BYTES);
    for (let i = 0; i < this.n; i++) {
      writeI64Number(out, i * 12, this.ts[i]);
      writeI32(out, i * 12 + 8, this.rel[i]);
    }
    return out;
  }

  /** Decodes entries; null when they are out of order (a damaged file). */
  static decodeEntries(bytes: Uint8Array, start: number, count: number): TimeIndex | null {
    const index = new TimeIndex(count);
    for (let i = 0; i < count; i++) {
      const p = start + i * 12;
      const ts = readI64Number(bytes, p);
      const rel = readU32(bytes, p + 8);
      if (i > 0 && (ts < index.ts[i - 1] || rel <= index.rel[i - 1])) return null;
      index.ts[i] = ts;
      index.rel[i] = rel;
      index.n = i + 1;
    }
    return index;
  }
}
