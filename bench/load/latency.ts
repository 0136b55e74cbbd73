// Latency histograms (HdrHistogram): recorded in microseconds, 3 significant
// digits, up to an hour. Each load thread records into its own histogram and
// sends it to the coordinator encoded; the coordinator adds them up, so
// percentiles are over every message of the run, not averages of averages.

import * as hdr from "hdr-histogram-js";

const LATENCY_US_MAX = 3_600_000_000;

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  meanMs: number;
}

export class LatencyRecorder {
  private readonly histogram: hdr.Histogram;

  constructor() {
    this.histogram = hdr.build({
      bitBucketSize: 32,
      autoResize: false,
      lowestDiscernibleValue: 1,
      highestTrackableValue: LATENCY_US_MAX,
      numberOfSignificantValueDigits: 3,
    });
  }

  /** Records one latency in milliseconds (clamped to 0..1 hour; a clock step backwards counts as 0). */
  recordMs(ms: number): void {
    const us = Math.round(ms * 1000);
    this.histogram.recordValue(us < 0 ? 0 : us > LATENCY_US_MAX ? LATENCY_US_MAX : us);
  }

  /** Records `count` messages with the same latency (one ack for a batch). */
  recordMsWithCount(ms: number, count: number): void {
    const us = Math.round(ms * 1000);
    this.histogram.recordValueWithCount(us < 0 ? 0 : us > LATENCY_US_MAX ? LATENCY_US_MAX : us, count);
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  /** A compact string to send to another thread. */
  encode(): string {
    return hdr.encodeIntoCompressedBase64(this.histogram);
  }

  addEncoded(encoded: string): void {
    const other = hdr.decodeFromCompressedBase64(encoded, 32);
    this.histogram.add(other);
    other.destroy();
  }

  summary(): LatencySummary {
    const h = this.histogram;
    const ms = (us: number) => Math.round(us) / 1000;
    if (h.totalCount === 0) return { count: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0, meanMs: 0 };
    return {
      count: h.totalCount,
      p50Ms: ms(h.getValueAtPercentile(50)),
      p90Ms: ms(h.getValueAtPercentile(90)),
      p99Ms: ms(h.getValueAtPercentile(99)),
      p999Ms: ms(h.getValueAtPercentile(99.9)),
      maxMs: ms(h.maxValue),
      meanMs: Math.round(h.mean) / 1000,
    };
  }
}

/** Buckets of the timeline: 100 ms each, at most an hour's worth. */
const TIMELINE_BUCKET_MS = 100;
const TIMELINE_BUCKETS_MAX = 36_000;

/**
 * The worst latency per 100 ms of intended send time (`--timeline`): shows
 * *when* a stall happened (start-up, a slow fsync, a GC pause), which the
 * percentiles cannot.
 */
export class LatencyTimeline {
  private readonly worst: number[] = [];
  constructor(private readonly startMs: number) {}

  record(intendedMs: number, latencyMs: number): void {
    const bucket = Math.floor((intendedMs - this.startMs) / TIMELINE_BUCKET_MS);
    if (bucket < 0 || bucket >= TIMELINE_BUCKETS_MAX) return;
    while (this.worst.length <= bucket) this.worst.push(0);
    if (latencyMs > this.worst[bucket]) this.worst[bucket] = latencyMs;
  }

  /** Worst latency (ms, rounded to 0.1) per 100 ms bucket from the start. */
  maxMs(): number[] {
    return this.worst.map((ms) => Math.round(ms * 10) / 10);
  }
}

/** Element-wise maximum of several timelines. */
export function mergeTimelines(timelines: number[][]): number[] {
  const out: number[] = [];
  for (const t of timelines) for (let i = 0; i < t.length; i++) out[i] = Math.max(out[i] ?? 0, t[i]);
  return out;
}
