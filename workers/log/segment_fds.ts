// Open descriptors of a partition's sealed segments, bounded: a sealed segment
// is opened (read-only) when a read needs it, and the least recently used one
// is closed once more than SEALED_SEGMENT_FDS_MAX are open. The active segment
// keeps its own descriptor for its whole life and is not counted here.
//
// Contract: fdOf(seg) returns a descriptor valid until the next fdOf() of
// another sealed segment (which may close the least recently used one), so a
// caller finishes with one segment before it asks for the next; every read of
// the log touches one segment at a time. A segment retention took (`retired`:
// its files are unlinked) is never opened again: a descriptor it still holds
// was released from here and is closed by the log after file.delete.delay.ms.

import type { FileOps } from "./file_ops.ts";
import { SEALED_SEGMENT_FDS_MAX } from "./log_limits.ts";
import type { Segment } from "./segment_file.ts";

export class SegmentFds {
  private readonly files: FileOps;
  private readonly max: number;
  /** Sealed segments holding a descriptor managed here; at most `max`. */
  private readonly open: Segment[] = [];
  private tick = 0;
  /** Opens done on demand (a measure of how well the bound fits the reads). */
  opens = 0;

  constructor(files: FileOps, max: number = SEALED_SEGMENT_FDS_MAX) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`sealed segment descriptors: ${max} is not a positive integer`);
    this.files = files;
    this.max = max;
  }

  /** Sealed segments with an open descriptor. */
  get openCount(): number {
    return this.open.length;
  }

  /**
   * The descriptor of `seg`: the active segment's own, or a sealed one's,
   * opened now if needed. -1 for a retired segment whose descriptor is closed.
   */
  fdOf(seg: Segment): number {
    if (seg.fd >= 0) {
      seg.fdUsed = ++this.tick;
      return seg.fd;
    }
    if (seg.retired || !seg.sealed) return -1;
    if (this.open.length >= this.max) this.closeLeastRecent();
    seg.fd = this.files.open(seg.logPath, "r");
    seg.fdUsed = ++this.tick;
    this.open.push(seg);
    this.opens++;
    return seg.fd;
  }

  /** A segment just sealed keeps the descriptor it was written through, as the most recently used. */
  adopt(seg: Segment): void {
    if (!seg.sealed || seg.fd < 0) return;
    if (this.open.includes(seg)) return;
    if (this.open.length >= this.max) this.closeLeastRecent();
    seg.fdUsed = ++this.tick;
    this.open.push(seg);
  }

  /** Stops managing `seg`'s descriptor (retention took the segment); the caller closes it. */
  release(seg: Segment): void {
    const i = this.open.indexOf(seg);
    if (i >= 0) this.open.splice(i, 1);
  }

  /** Closes every descriptor managed here. */
  closeAll(): void {
    for (const seg of this.open) seg.close(this.files);
    this.open.length = 0;
  }

  private closeLeastRecent(): void {
    let k = 0;
    for (let i = 1; i < this.open.length; i++) if (this.open[i].fdUsed < this.open[k].fdUsed) k = i;
    const [victim] = this.open.splice(k, 1);
    victim.close(this.files);
  }
}
