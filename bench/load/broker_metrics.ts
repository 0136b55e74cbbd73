// Reads histograms from the broker's /metrics (Prometheus text) before and
// after a run, so the report can say what the broker itself saw: how long its
// fdatasyncs took (the floor under acks=all latency) and how many there were
// (messages per group commit).

export interface HistogramSnapshot {
  /** Upper bounds (seconds) and cumulative counts, in order; +Inf last. */
  bounds: number[];
  counts: number[];
  sum: number;
  count: number;
}

/** Parses one histogram (all label sets summed per bound) from Prometheus text. */
export function parseHistogram(text: string, name: string): HistogramSnapshot | undefined {
  const byBound = new Map<number, number>();
  let sum = 0;
  let count = 0;
  let seen = false;
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || !line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (rest.startsWith("_bucket")) {
      const le = /le="([^"]+)"/.exec(rest)?.[1];
      if (le === undefined) continue;
      const bound = le === "+Inf" ? Infinity : Number(le);
      byBound.set(bound, (byBound.get(bound) ?? 0) + value);
      seen = true;
    } else if (rest.startsWith("_sum")) {
      sum += value;
    } else if (rest.startsWith("_count")) {
      count += value;
    }
  }
  if (!seen) return undefined;
  const bounds = [...byBound.keys()].sort((a, b) => a - b);
  return { bounds, counts: bounds.map((b) => byBound.get(b)!), sum, count };
}

/** after - before, bucket by bucket. */
export function diffHistogram(after: HistogramSnapshot, before: HistogramSnapshot | undefined): HistogramSnapshot {
  if (before === undefined) return after;
  return {
    bounds: after.bounds,
    counts: after.counts.map((c, i) => c - (before.counts[i] ?? 0)),
    sum: after.sum - before.sum,
    count: after.count - before.count,
  };
}

/** The bucket bound (ms) under which at least fraction q of the observations fall (an upper estimate). */
export function quantileMs(h: HistogramSnapshot, q: number): number | null {
  if (h.count <= 0) return null;
  const target = q * h.count;
  for (let i = 0; i < h.bounds.length; i++) if (h.counts[i] >= target) return h.bounds[i] * 1000;
  return null;
}

export async function scrapeMetrics(host: string, httpPort: number): Promise<string | undefined> {
  try {
    const response = await fetch(`http://${host}:${httpPort}/metrics`, { signal: AbortSignal.timeout(5000) });
    return response.ok ? await response.text() : undefined;
  } catch {
    return undefined;
  }
}

export interface FsyncFigures {
  count: number;
  meanMs: number;
  /** Upper bounds of the histogram buckets holding the 50th and 99th percentile. */
  p50MsAtMost: number | null;
  p99MsAtMost: number | null;
}

export const FSYNC_METRIC = "sluice_fsync_duration_seconds";
export const PARTITION_SIZE_METRIC = "sluice_partition_size_bytes";

export interface DiskFigures {
  /** Bytes of the bench topic's segment files (all partitions) after the run. */
  bytes: number;
  /** bytes / acknowledged messages. */
  bytesPerMessage: number;
  /** Value bytes acknowledged / bytes on disk: above 1 when compression saved more than the batch framing costs. */
  valueBytesPerDiskByte: number;
}

/** The topic's size on disk from the broker's partition size gauges (null without /metrics). */
export function diskFigures(metrics: string | undefined, topic: string, messages: number, valueBytes: number): DiskFigures | null {
  if (metrics === undefined) return null;
  let bytes = 0;
  let seen = false;
  const label = `topic="${topic}"`;
  for (const line of metrics.split("\n")) {
    if (!line.startsWith(PARTITION_SIZE_METRIC) || !line.includes(label)) continue;
    bytes += Number(line.slice(line.lastIndexOf(" ") + 1));
    seen = true;
  }
  if (!seen) return null;
  return {
    bytes,
    bytesPerMessage: messages > 0 ? Math.round((bytes / messages) * 100) / 100 : 0,
    valueBytesPerDiskByte: bytes > 0 ? Math.round(((messages * valueBytes) / bytes) * 100) / 100 : 0,
  };
}

export function fsyncFigures(before: string | undefined, after: string | undefined): FsyncFigures | null {
  if (after === undefined) return null;
  const a = parseHistogram(after, FSYNC_METRIC);
  if (a === undefined) return null;
  const h = diffHistogram(a, before === undefined ? undefined : parseHistogram(before, FSYNC_METRIC));
  return {
    count: h.count,
    meanMs: h.count > 0 ? Math.round((h.sum / h.count) * 1e6) / 1000 : 0,
    p50MsAtMost: quantileMs(h, 0.5),
    p99MsAtMost: quantileMs(h, 0.99),
  };
}
