// Per-partition load, cluster-wide (docs/SCALING.md, "Hot partitions"): each
// broker publishes the produce and fetch rates of the partitions it hosts,
// over the last minute, as one key under its own session lease,
// `/sluice-load/<cluster>/<id>`, every LOAD_REPORT_INTERVAL_MS; `sluice
// cluster balance --by-load` and `sluice cluster status` read them with one
// range.
//
// Why outside `/sluice/<cluster>/`: every broker watches that prefix
// (cluster_view.ts) and runs a controller pass on each change; a report every
// 10 s from each of N brokers would reach N watchers and wake N² passes for
// data no broker acts on. Only the tools read reports, on demand.
//
// Why under the lease: a broker that dies takes its report with it, so a
// report is never older than its broker's session. Bounded: the busiest
// LOAD_REPORT_PARTITIONS_MAX partitions are listed (the rest only in the
// totals), and the JSON is checked against LOAD_REPORT_BYTES_MAX before the
// put.
//
// What the rates count (the worker's counters, workers/partition_host.ts):
// `bytesIn`/`messagesIn` every byte appended to the replica (produces on a
// leader, replicated batches on a follower); `bytesOut`/`messagesOut` every
// byte read from it (consumer fetches and, on a leader, its followers'
// replica fetches).

import { z } from "zod";
import { LOAD_REPORT_BYTES_MAX, LOAD_REPORT_INTERVAL_MS, LOAD_REPORT_PARTITIONS_MAX, LOAD_WINDOW_MS } from "./cluster_limits.ts";
import type { ClusterKeys } from "./cluster_keys.ts";
import type { EtcdClient } from "./etcd_client.ts";
import type { KeyValue } from "./etcd_wire.ts";
import { parseJson } from "./topic_metadata.ts";

const rate = z.number().min(0);

const PartitionLoadSchema = z
  .object({
    topic: z.string().min(1),
    partition: z.number().int().min(0),
    /** This broker led the partition when the report was made. */
    leader: z.boolean(),
    bytesInPerSec: rate,
    messagesInPerSec: rate,
    bytesOutPerSec: rate,
    messagesOutPerSec: rate,
    /** The replica's size on disk (what moving it copies). */
    sizeBytes: z.number().int().min(0),
  })
  .strict();

export type PartitionLoad = z.output<typeof PartitionLoadSchema>;

export const LoadReportSchema = z
  .object({
    brokerId: z.number().int().min(0),
    atMs: z.number().int(),
    /** The span the rates cover (up to LOAD_WINDOW_MS; shorter just after a start). */
    windowMs: z.number().int().min(0),
    totals: z.object({ bytesInPerSec: rate, messagesInPerSec: rate, bytesOutPerSec: rate, messagesOutPerSec: rate }).strict(),
    partitions: z.array(PartitionLoadSchema).max(LOAD_REPORT_PARTITIONS_MAX),
    /** Partitions left out of `partitions` (the least busy). */
    omitted: z.number().int().min(0),
  })
  .strict();

export type LoadReport = z.output<typeof LoadReportSchema>;

/** A hosted partition's cumulative counters, as the engine keeps them. */
export interface PartitionCounters {
  readonly topic: string;
  readonly partition: number;
  readonly leader: boolean;
  readonly bytesIn: number;
  readonly messagesIn: number;
  readonly bytesOut: number;
  readonly messagesOut: number;
  readonly sizeBytes: number;
}

interface Sample {
  readonly atMs: number;
  readonly bytesIn: number;
  readonly messagesIn: number;
  readonly bytesOut: number;
  readonly messagesOut: number;
}

/**
 * Rates over a sliding window: the counters of each partition at the last
 * LOAD_WINDOW_MS / interval + 1 samples; a rate is (newest − oldest) / the
 * time between them. A partition no longer sampled is forgotten; counters
 * that went down (the replica was reopened) restart its window.
 */
export class LoadWindow {
  readonly #samplesMax: number;
  readonly #windowMs: number;
  readonly #samples = new Map<string, Sample[]>();

  constructor(intervalMs: number, windowMs: number = LOAD_WINDOW_MS) {
    this.#windowMs = windowMs;
    this.#samplesMax = Math.max(2, Math.ceil(windowMs / intervalMs) + 1);
  }

  /** Adds one sample of every hosted partition and returns the report (rates of partitions seen at least twice). */
  sample(brokerId: number, nowMs: number, counters: Iterable<PartitionCounters>): LoadReport {
    const seen = new Set<string>();
    const loads: PartitionLoad[] = [];
    let windowMs = 0;
    for (const c of counters) {
      const key = `${c.topic}/${c.partition}`;
      seen.add(key);
      let ring = this.#samples.get(key);
      const s: Sample = { atMs: nowMs, bytesIn: c.bytesIn, messagesIn: c.messagesIn, bytesOut: c.bytesOut, messagesOut: c.messagesOut };
      const last = ring?.[ring.length - 1];
      if (ring === undefined || (last !== undefined && (c.bytesIn < last.bytesIn || c.bytesOut < last.bytesOut))) this.#samples.set(key, (ring = []));
      ring.push(s);
      while (ring.length > this.#samplesMax || (ring.length > 2 && nowMs - ring[1].atMs >= this.#windowMs)) ring.shift();
      const first = ring[0];
      const dtMs = nowMs - first.atMs;
      if (ring.length < 2 || dtMs <= 0) continue;
      windowMs = Math.max(windowMs, dtMs);
      const per = (a: number, b: number) => Math.round(((a - b) * 1000 * 10) / dtMs) / 10;
      loads.push({
        topic: c.topic,
        partition: c.partition,
        leader: c.leader,
        bytesInPerSec: per(s.bytesIn, first.bytesIn),
        messagesInPerSec: per(s.messagesIn, first.messagesIn),
        bytesOutPerSec: per(s.bytesOut, first.bytesOut),
        messagesOutPerSec: per(s.messagesOut, first.messagesOut),
        sizeBytes: c.sizeBytes,
      });
    }
    for (const key of this.#samples.keys()) if (!seen.has(key)) this.#samples.delete(key);
    const totals = { bytesInPerSec: 0, messagesInPerSec: 0, bytesOutPerSec: 0, messagesOutPerSec: 0 };
    for (const l of loads) {
      totals.bytesInPerSec += l.bytesInPerSec;
      totals.messagesInPerSec += l.messagesInPerSec;
      totals.bytesOutPerSec += l.bytesOutPerSec;
      totals.messagesOutPerSec += l.messagesOutPerSec;
    }
    loads.sort((a, b) => b.bytesInPerSec + b.bytesOutPerSec - (a.bytesInPerSec + a.bytesOutPerSec) || a.topic.localeCompare(b.topic) || a.partition - b.partition);
    const listed = loads.slice(0, LOAD_REPORT_PARTITIONS_MAX);
    return { brokerId, atMs: Math.round(nowMs), windowMs: Math.round(windowMs), totals, partitions: listed, omitted: loads.length - listed.length };
  }
}

/** The report's JSON, refused (an Error) past LOAD_REPORT_BYTES_MAX. */
export function encodeLoadReport(report: LoadReport): string {
  const json = JSON.stringify(LoadReportSchema.parse(report));
  if (json.length > LOAD_REPORT_BYTES_MAX) throw new Error(`a load report of ${json.length} bytes is above LOAD_REPORT_BYTES_MAX (${LOAD_REPORT_BYTES_MAX})`);
  return json;
}

/** Puts `report` as `brokerId`'s load key under `leaseId` (it dies with the session). */
export async function publishLoadReport(client: EtcdClient, keys: ClusterKeys, leaseId: string, report: LoadReport): Promise<void> {
  await client.put(keys.load(report.brokerId), encodeLoadReport(report), { lease: leaseId });
}

/** Every live broker's report, by broker id (a malformed key is skipped). */
export async function readLoadReports(client: EtcdClient, keys: ClusterKeys): Promise<Map<number, LoadReport>> {
  const r = await client.range(keys.loadPrefix, { prefix: true });
  const out = new Map<number, LoadReport>();
  for (const kv of r.kvs) {
    const report = parseLoadReport(keys, kv);
    if (report !== undefined) out.set(report.brokerId, report);
  }
  return out;
}

function parseLoadReport(keys: ClusterKeys, kv: KeyValue): LoadReport | undefined {
  const report = parseJson(LoadReportSchema, kv);
  return report !== undefined && keys.loadIdOf(kv.key) === report.brokerId ? report : undefined;
}

export interface LoadReporterOptions {
  readonly client: EtcdClient;
  readonly keys: ClusterKeys;
  readonly brokerId: number;
  /** The session lease to publish under, while there is a live one. */
  readonly leaseId: () => string | undefined;
  /** The hosted partitions' counters now. */
  readonly sample: () => Iterable<PartitionCounters>;
  readonly intervalMs?: number;
  readonly log: (line: string) => void;
}

/** Samples every interval and publishes the report; a failed put is logged once per kind of failure and retried next interval. */
export class LoadReporter {
  readonly #o: LoadReporterOptions;
  readonly #window: LoadWindow;
  readonly #timer: ReturnType<typeof setInterval>;
  #putting = false;
  #lastProblem: string | undefined;
  /** Reports put so far. */
  published = 0;

  constructor(options: LoadReporterOptions) {
    this.#o = options;
    const intervalMs = options.intervalMs ?? LOAD_REPORT_INTERVAL_MS;
    this.#window = new LoadWindow(intervalMs);
    this.#timer = setInterval(() => void this.#tick(), intervalMs);
    this.#timer.unref?.();
    // The first sample now, so the first report (one interval later) has a rate.
    this.#window.sample(options.brokerId, performance.timeOrigin + performance.now(), options.sample());
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async #tick(): Promise<void> {
    // One put at a time: a slow etcd skips reports instead of queueing them.
    if (this.#putting) return;
    this.#putting = true;
    try {
      const report = this.#window.sample(this.#o.brokerId, performance.timeOrigin + performance.now(), this.#o.sample());
      const lease = this.#o.leaseId();
      if (lease === undefined) return;
      await publishLoadReport(this.#o.client, this.#o.keys, lease, report);
      this.published++;
      this.#lastProblem = undefined;
    } catch (e) {
      const problem = (e as Error)?.message ?? String(e);
      if (problem !== this.#lastProblem) this.#o.log(`sluice: cluster: could not publish this broker's load report: ${problem}`);
      this.#lastProblem = problem;
    } finally {
      this.#putting = false;
    }
  }
}
