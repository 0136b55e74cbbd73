// Which messages a consumer has seen, one bit per (producer, seq), so the
// benchmark can say exactly how many acknowledged messages never came back
// and how many came back twice.
//
// Bounded: a producer's bitmap grows in steps up to SEQ_MAX + 1 bits (512 MiB
// would be the worst case; a run sends far fewer than 2^32 messages per
// producer, and `record` refuses sequence numbers past `seqLimit`).

import { PRODUCERS_MAX } from "./payload.ts";

const GROW_BYTES_MIN = 64 * 1024;

export interface SeqCounts {
  /** Distinct messages seen. */
  unique: number;
  /** Messages seen again (same producer and seq). */
  duplicates: number;
}

export class SeqTracker {
  private readonly bitmaps: (Uint8Array | undefined)[] = new Array(PRODUCERS_MAX);
  private readonly seqLimit: number;
  unique = 0;
  duplicates = 0;

  /** `seqLimit`: sequence numbers at or past it are rejected (record returns false). */
  constructor(options: { seqLimit: number }) {
    this.seqLimit = options.seqLimit;
  }

  /** Marks (producerId, seq) as seen. False when it is out of range (counted by the caller as unexpected). */
  record(producerId: number, seq: number): boolean {
    if (producerId < 0 || producerId >= PRODUCERS_MAX || seq < 0 || seq >= this.seqLimit) return false;
    const byte = seq >>> 3;
    let bitmap = this.bitmaps[producerId];
    if (bitmap === undefined || byte >= bitmap.length) bitmap = this.grow(producerId, byte + 1);
    const mask = 1 << (seq & 7);
    if ((bitmap[byte] & mask) !== 0) {
      this.duplicates++;
    } else {
      bitmap[byte] |= mask;
      this.unique++;
    }
    return true;
  }

  has(producerId: number, seq: number): boolean {
    const bitmap = this.bitmaps[producerId];
    if (bitmap === undefined) return false;
    const byte = seq >>> 3;
    return byte < bitmap.length && (bitmap[byte] & (1 << (seq & 7))) !== 0;
  }

  /** The bitmaps, to send to the coordinator (transferable). */
  export(): Map<number, Uint8Array> {
    const out = new Map<number, Uint8Array>();
    this.bitmaps.forEach((bitmap, id) => {
      if (bitmap !== undefined) out.set(id, bitmap);
    });
    return out;
  }

  /** ORs another tracker's exported bitmaps into this one; returns how many bits were newly set. */
  merge(other: Map<number, Uint8Array>): number {
    let added = 0;
    for (const [id, theirs] of other) {
      let mine = this.bitmaps[id];
      if (mine === undefined || mine.length < theirs.length) mine = this.grow(id, theirs.length);
      for (let i = 0; i < theirs.length; i++) {
        const fresh = theirs[i] & ~mine[i];
        if (fresh !== 0) {
          added += popcount8(fresh);
          mine[i] |= fresh;
        }
      }
    }
    this.unique += added;
    return added;
  }

  /** How many of seq 0..count-1 of `producerId` were seen. */
  countSeen(producerId: number, count: number): number {
    const bitmap = this.bitmaps[producerId];
    if (bitmap === undefined) return 0;
    let seen = 0;
    const wholeBytes = Math.min(count >>> 3, bitmap.length);
    for (let i = 0; i < wholeBytes; i++) seen += popcount8(bitmap[i]);
    for (let seq = wholeBytes * 8; seq < count; seq++) if (this.has(producerId, seq)) seen++;
    return seen;
  }

  private grow(producerId: number, bytesNeeded: number): Uint8Array {
    const old = this.bitmaps[producerId];
    let size = Math.max(old?.length ?? 0, GROW_BYTES_MIN);
    while (size < bytesNeeded) size *= 2;
    const bitmap = new Uint8Array(size);
    if (old !== undefined) bitmap.set(old);
    this.bitmaps[producerId] = bitmap;
    return bitmap;
  }
}

function popcount8(b: number): number {
  b = b - ((b >>> 1) & 0x55);
  b = (b & 0x33) + ((b >>> 2) & 0x33);
  return (b + (b >>> 4)) & 0x0f;
}
