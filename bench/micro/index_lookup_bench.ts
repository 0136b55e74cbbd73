// Lookups of the partition log without I/O: the sparse offset index, the time
// index and the segment set's binary search, small vs large. Each is a binary
// search, so going from 16 to 262,144 entries (or 1 to 1,000 segments) should
// cost a handful of extra comparisons, not a factor of the size. The file
// reads that follow a lookup are measured by `bun run bench:log`.

import type { Bench } from "tinybench";
import { Segment } from "../../workers/log/segment_file.ts";
import { OffsetIndex } from "../../workers/log/segment_index.ts";
import { SegmentSet } from "../../workers/log/segment_set.ts";
import { TimeIndex } from "../../workers/log/time_index.ts";
import type { MicroOptions } from "./run.ts";

function offsetIndex(entries: number): OffsetIndex {
  const oi = new OffsetIndex(entries);
  for (let i = 0; i < entries; i++) oi.append(i * 37, i * 4096);
  return oi;
}

function timeIndex(entries: number): TimeIndex {
  const ti = new TimeIndex(entries);
  for (let i = 0; i < entries; i++) ti.append(1_700_000_000_000 + i * 3, i * 37);
  return ti;
}

/** A segment set of `count` sealed segments of 1,000 offsets each, without files. */
function segmentSet(count: number): SegmentSet {
  const set = new SegmentSet();
  for (let i = 0; i < count; i++) {
    const seg = new Segment({ dir: "/nonexistent", baseOffset: i * 1000, fd: -1 });
    seg.nextOffset = (i + 1) * 1000;
    seg.sealed = i < count - 1;
    set.push(seg);
  }
  return set;
}

export function register(bench: Bench, opts: MicroOptions): void {
  const large = opts.small ? 4096 : 262_144; // a 1 GiB segment at the default 4 KiB interval
  const small = 16;
  const indexes = [
    [small, offsetIndex(small), timeIndex(small)],
    [large, offsetIndex(large), timeIndex(large)],
  ] as const;
  let k = 0;
  for (const [n, oi, ti] of indexes) {
    const span = n * 37;
    bench.add(`index_lookup offset index, ${n} entries`, () => {
      k = (k * 1103515245 + 12345) & 0x7fffffff;
      return oi.positionAt(oi.floorByOffset(k % span));
    });
    bench.add(`index_lookup time index, ${n} entries`, () => {
      k = (k * 1103515245 + 12345) & 0x7fffffff;
      return ti.lastBelow(1_700_000_000_000 + (k % (n * 3)));
    });
  }
  for (const count of [1, opts.small ? 100 : 1000]) {
    const set = segmentSet(count);
    const span = count * 1000;
    bench.add(`index_lookup segment search, ${count} segments`, () => {
      k = (k * 1103515245 + 12345) & 0x7fffffff;
      return set.floorIndex(k % span);
    });
  }
}
