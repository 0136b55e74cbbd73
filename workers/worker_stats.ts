// Per-worker counters on a SharedArrayBuffer (layout in shared_layout.ts): the
// worker adds to its own region with Atomics.add, the router reads every region
// when /metrics is scraped. No message crosses between threads for them.
//
// Today: the latency of each group-commit fdatasync, as a histogram with fixed
// power-of-two buckets (16 µs .. ~8.4 s).

import {
  FSYNC_BUCKET_BOUNDS_US,
  WORKER_STATS_HEADER_BYTES,
  WORKER_STATS_MAGIC,
  WORKER_STATS_REGION_BYTES,
  WorkerStatsField,
  WorkerStatsHeaderWord,
} from "./shared_layout.ts";

const REGION_WORDS = WORKER_STATS_REGION_BYTES / 8;
const FSYNC_BUCKET_COUNT = FSYNC_BUCKET_BOUNDS_US.length + 1;

/** Allocate the stats of `workers` workers. */
export function createWorkerStats(workers: number): SharedArrayBuffer {
  if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`worker stats: workers must be a positive integer, got ${workers}`);
  const sab = new SharedArrayBuffer(WORKER_STATS_HEADER_BYTES + workers * WORKER_STATS_REGION_BYTES);
  const header = new Int32Array(sab, 0, WORKER_STATS_HEADER_BYTES / 4);
  header[WorkerStatsHeaderWord.MAGIC] = WORKER_STATS_MAGIC;
  header[WorkerStatsHeaderWord.WORKERS] = workers;
  return sab;
}

/** The bucket of a duration: the first bound (µs) it does not exceed; the last bucket past them all. */
export function fsyncBucketOf(durationUs: number): number {
  if (!(durationUs > FSYNC_BUCKET_BOUNDS_US[0])) return 0;
  const k = Math.ceil(Math.log2(durationUs / FSYNC_BUCKET_BOUNDS_US[0]));
  return Math.min(k, FSYNC_BUCKET_BOUNDS_US.length);
}

/** A snapshot of fdatasync latency, summed over workers. */
export interface FsyncLatencySnapshot {
  /** Upper bounds in µs (inclusive); `counts` has one more entry, for durations past the last. */
  boundsUs: readonly number[];
  counts: Float64Array;
  count: number;
  sumNs: number;
}

export class WorkerStats {
  readonly sab: SharedArrayBuffer;
  readonly workers: number;
  private readonly words: BigInt64Array;

  constructor(sab: SharedArrayBuffer) {
    const header = new Int32Array(sab, 0, WORKER_STATS_HEADER_BYTES / 4);
    if (header[WorkerStatsHeaderWord.MAGIC] !== WORKER_STATS_MAGIC) throw new Error("worker stats: bad magic (not a stats buffer)");
    this.sab = sab;
    this.workers = header[WorkerStatsHeaderWord.WORKERS];
    if (sab.byteLength !== WORKER_STATS_HEADER_BYTES + this.workers * WORKER_STATS_REGION_BYTES) throw new Error("worker stats: size does not match workers");
    this.words = new BigInt64Array(sab, WORKER_STATS_HEADER_BYTES, this.workers * REGION_WORDS);
  }

  // ---- writer side (worker `worker` only) ----

  /** One fdatasync of `durationMs` (fractional milliseconds, e.g. from performance.now()). */
  recordFsync(worker: number, durationMs: number): void {
    const base = this.regionBase(worker);
    const ms = durationMs > 0 ? durationMs : 0;
    const w = this.words;
    Atomics.add(w, base + WorkerStatsField.FSYNC_BUCKETS + fsyncBucketOf(ms * 1000), 1n);
    Atomics.add(w, base + WorkerStatsField.FSYNC_SUM_NS, BigInt(Math.round(ms * 1e6)));
    Atomics.add(w, base + WorkerStatsField.FSYNC_COUNT, 1n);
  }

  // ---- reader side (any thread) ----

  /** fdatasync latency of all workers. Each counter is read atomically; together they may be a few fsyncs apart. */
  fsyncLatency(): FsyncLatencySnapshot {
    const counts = new Float64Array(FSYNC_BUCKET_COUNT);
    let count = 0;
    let sumNs = 0;
    const w = this.words;
    for (let worker = 0; worker < this.workers; worker++) {
      const base = worker * REGION_WORDS;
      for (let i = 0; i < FSYNC_BUCKET_COUNT; i++) counts[i] += Number(Atomics.load(w, base + WorkerStatsField.FSYNC_BUCKETS + i));
      count += Number(Atomics.load(w, base + WorkerStatsField.FSYNC_COUNT));
      sumNs += Number(Atomics.load(w, base + WorkerStatsField.FSYNC_SUM_NS));
    }
    return { boundsUs: FSYNC_BUCKET_BOUNDS_US, counts, count, sumNs };
  }

  private regionBase(worker: number): number {
    if (!Number.isInteger(worker) || worker < 0 || worker >= this.workers) throw new RangeError(`worker stats: worker ${worker} outside 0..${this.workers - 1}`);
    return worker * REGION_WORDS;
  }
}
