// Checks that every acknowledgement in a trace of file operations came after
// the fdatasync that made its bytes durable.
//
// The rule an fdatasync obeys: it makes durable the writes to its file that
// had completed when it started, and only if it returns without error. So an
// ack for bytes [start, end) of a file is sound only if every one of those
// bytes was written by a write that completed before some fdatasync of that
// file started, that fdatasync succeeded, and it returned before the ack; and
// no later write overwrote those bytes before the ack. The checker replays the
// trace in order and keeps, per file, the byte ranges that are durable now.

export type TraceEvent =
  | { readonly kind: "write"; readonly file: string; readonly position: number; readonly length: number }
  | { readonly kind: "truncate"; readonly file: string; readonly length: number }
  | { readonly kind: "syncStart"; readonly file: string; readonly id: number }
  | { readonly kind: "syncEnd"; readonly file: string; readonly id: number; readonly ok: boolean }
  | { readonly kind: "ack"; readonly file: string; readonly start: number; readonly end: number; readonly label: string };

export interface TraceCheckReport {
  readonly valid: boolean;
  readonly acks: number;
  readonly syncs: number;
  /** Acks some of whose bytes were not durable when the ack was given. */
  readonly early: readonly { label: string; file: string; start: number; end: number; firstNonDurable: number }[];
}

/** Sorted, disjoint, non-adjacent half-open ranges. */
type Ranges = [number, number][];

function addRange(ranges: Ranges, start: number, end: number): Ranges {
  if (end <= start) return ranges;
  const out: Ranges = [];
  let s = start;
  let e = end;
  for (const [a, b] of ranges) {
    if (b < s || a > e) out.push([a, b]);
    else {
      s = Math.min(s, a);
      e = Math.max(e, b);
    }
  }
  out.push([s, e]);
  out.sort((x, y) => x[0] - y[0]);
  return out;
}

function removeRange(ranges: Ranges, start: number, end: number): Ranges {
  if (end <= start) return ranges;
  const out: Ranges = [];
  for (const [a, b] of ranges) {
    if (b <= start || a >= end) out.push([a, b]);
    else {
      if (a < start) out.push([a, start]);
      if (b > end) out.push([end, b]);
    }
  }
  return out;
}

/** The first byte of [start, end) not covered by `ranges`, or -1 when all are. */
function firstUncovered(ranges: Ranges, start: number, end: number): number {
  let at = start;
  for (const [a, b] of ranges) {
    if (b <= at) continue;
    if (a > at) return at;
    at = b;
    if (at >= end) return -1;
  }
  return at < end ? at : -1;
}

interface FileState {
  /** Bytes written since they were last covered by a started fdatasync. */
  dirty: Ranges;
  durable: Ranges;
  /** fdatasyncs in progress: the ranges each will make durable if it succeeds. */
  syncing: Map<number, Ranges>;
}

export function checkDurabilityTrace(trace: readonly TraceEvent[]): TraceCheckReport {
  const files = new Map<string, FileState>();
  const state = (file: string): FileState => {
    let f = files.get(file);
    if (f === undefined) files.set(file, (f = { dirty: [], durable: [], syncing: new Map() }));
    return f;
  };
  const early: TraceCheckReport["early"][number][] = [];
  let acks = 0;
  let syncs = 0;

  for (const e of trace) {
    const f = state(e.file);
    switch (e.kind) {
      case "write": {
        const end = e.position + e.length;
        f.durable = removeRange(f.durable, e.position, end);
        for (const [id, r] of f.syncing) f.syncing.set(id, removeRange(r, e.position, end));
        f.dirty = addRange(f.dirty, e.position, end);
        break;
      }
      case "truncate":
        f.durable = removeRange(f.durable, e.length, Number.MAX_SAFE_INTEGER);
        f.dirty = removeRange(f.dirty, e.length, Number.MAX_SAFE_INTEGER);
        for (const [id, r] of f.syncing) f.syncing.set(id, removeRange(r, e.length, Number.MAX_SAFE_INTEGER));
        break;
      case "syncStart":
        f.syncing.set(e.id, f.dirty);
        f.dirty = [];
        break;
      case "syncEnd": {
        syncs++;
        const covered = f.syncing.get(e.id);
        f.syncing.delete(e.id);
        if (covered === undefined) throw new Error(`trace: syncEnd ${e.id} without its syncStart`);
        if (e.ok) for (const [a, b] of covered) f.durable = addRange(f.durable, a, b);
        // On failure the kernel may have dropped those pages and marked them
        // clean, so a later fdatasync that succeeds says nothing about them
        // (the "fsyncgate" lesson): they stay non-durable until written again.
        break;
      }
      case "ack": {
        acks++;
        const at = firstUncovered(f.durable, e.start, e.end);
        if (at >= 0) early.push({ label: e.label, file: e.file, start: e.start, end: e.end, firstNonDurable: at });
        break;
      }
    }
  }
  return { valid: early.length === 0, acks, syncs, early };
}
