// Prometheus text exposition (format 0.0.4) without a client library: a few
// fixed-bucket histograms and a registry of providers, each of which renders
// its own families when /metrics is scraped. Rendering happens only on a
// scrape; the hot path only increments counters in preallocated arrays.
//
// Extension point: `metrics.addProvider(() => string)` — a provider returns
// complete families ("# HELP", "# TYPE", samples), e.g. group lag.

/** Latency buckets in seconds: 50 µs .. 10 s, roughly ×2.5 apart. */
export const LATENCY_BUCKETS_S = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10,
] as const;

/** A fixed-bucket histogram; `observe` is a short scan over preallocated counts. */
export class Histogram {
  readonly bounds: readonly number[];
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[] = LATENCY_BUCKETS_S) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

export type MetricType = "counter" | "gauge" | "histogram";
export type MetricProvider = () => string;

/** Escapes a label value per the exposition format. */
export function labelValue(v: string | number): string {
  return String(v).replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

export function header(name: string, type: MetricType, help: string): string {
  return `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** Samples of one histogram; `labels` is `k="v",…` without braces (may be empty). */
export function histogramSamples(name: string, labels: string, h: Histogram): string {
  const sep = labels.length > 0 ? "," : "";
  let out = "";
  let cumulative = 0;
  for (let i = 0; i < h.bounds.length; i++) {
    cumulative += h.counts[i];
    out += `${name}_bucket{${labels}${sep}le="${h.bounds[i]}"} ${cumulative}\n`;
  }
  cumulative += h.counts[h.bounds.length];
  out += `${name}_bucket{${labels}${sep}le="+Inf"} ${cumulative}\n`;
  const braces = labels.length > 0 ? `{${labels}}` : "";
  out += `${name}_sum${braces} ${formatValue(h.sum)}\n`;
  out += `${name}_count${braces} ${h.count}\n`;
  return out;
}

export class MetricsRegistry {
  readonly #providers: MetricProvider[] = [];

  /** Adds a provider; returns a function that removes it. */
  addProvider(provider: MetricProvider): () => void {
    this.#providers.push(provider);
    return () => {
      const i = this.#providers.indexOf(provider);
      if (i !== -1) this.#providers.splice(i, 1);
    };
  }

  /** The whole exposition. A provider that throws is reported as a comment, not a failed scrape. */
  render(): string {
    let out = "";
    for (const provider of this.#providers) {
      try {
        out += provider();
      } catch (e) {
        out += `# provider failed: ${labelValue((e as Error)?.message ?? String(e))}\n`;
      }
    }
    return out;
  }
}
