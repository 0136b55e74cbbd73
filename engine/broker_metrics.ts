// The broker's own metric families (Prometheus text), rendered on each scrape
// of /metrics from the shared partition state table, the server's counters
// and the worker pool's ring occupancy. Nothing here runs between scrapes.

import type { MemoryGovernor } from "./memory_governor.ts";
import type { Engine } from "./engine.ts";
import { formatValue, header, type Histogram, histogramSamples, labelValue, type MetricsRegistry } from "./metrics.ts";
import type { ServerStats } from "./connection/server_stats.ts";
import type { KafkaServer } from "./kafka/kafka_server.ts";
import type { NativeServer } from "./native/server.ts";

interface RingStatsRow {
  worker: number;
  requestBytesUsed: number;
  requestBytesCapacity: number;
  completionBytesUsed: number;
  completionBytesCapacity: number;
}

export function registerBrokerMetrics(
  registry: MetricsRegistry,
  parts: { engine: Engine; server: () => NativeServer | null; kafka?: () => KafkaServer | null; governor?: MemoryGovernor },
): void {
  const { engine } = parts;
  const startedAtS = Date.now() / 1000;

  registry.addProvider(() => {
    let out = "";
    const rows = [...engine.partitionStates()];
    const families: [string, "counter" | "gauge", string, (s: (typeof rows)[number]["state"]) => number][] = [
      ["sluice_partition_messages_in_total", "counter", "Records appended to the partition since the broker started.", (s) => s.messagesIn],
      ["sluice_partition_bytes_in_total", "counter", "Record batch bytes appended to the partition since the broker started.", (s) => s.bytesIn],
      ["sluice_partition_messages_out_total", "counter", "Records read from the partition by fetches since the broker started.", (s) => s.messagesOut],
      ["sluice_partition_bytes_out_total", "counter", "Record batch bytes read from the partition by fetches since the broker started.", (s) => s.bytesOut],
      ["sluice_partition_log_end_offset", "gauge", "Offset the next appended record will get.", (s) => s.logEndOffset],
      ["sluice_partition_high_watermark", "gauge", "End of what fetches may return (the durable offset on a single node).", (s) => s.highWatermark],
      ["sluice_partition_log_start_offset", "gauge", "First offset still kept.", (s) => s.logStartOffset],
      ["sluice_partition_size_bytes", "gauge", "Bytes of the partition's segment files.", (s) => s.sizeBytes],
      ["sluice_partition_segments", "gauge", "Segment files of the partition.", (s) => s.segments],
      ["sluice_partition_online", "gauge", "1 while the partition is open and serving (it may still have an error code: see sluice_partition_error_code); 0 when offline.", (s) => (s.online ? 1 : 0)],
      // A partition that met a corrupt batch on a read keeps serving what is intact (online 1) and records CORRUPT_MESSAGE (2) here.
      ["sluice_partition_error_code", "gauge", "The partition's error code (protocol/errors.ts; 0 = none): why it is offline, or the damage it found while serving.", (s) => s.errorCode],
    ];
    for (const [name, type, help, value] of families) {
      out += header(name, type, help);
      for (const r of rows) out += `${name}{topic="${labelValue(r.topic)}",partition="${r.partition}"} ${formatValue(value(r.state))}\n`;
    }
    out += header("sluice_topics", "gauge", "Topics on this broker.");
    out += `sluice_topics ${engine.listTopics().length}\n`;
    out += header("sluice_partitions", "gauge", "Partitions on this broker.");
    out += `sluice_partitions ${rows.length}\n`;
    out += header("sluice_waiting_fetches", "gauge", "Long-poll fetches parked, waiting for data or their deadline.");
    out += `sluice_waiting_fetches ${engine.waitingFetches}\n`;
    const work = engine.waitingFetchWork;
    out += header("sluice_waiting_fetch_wakeups_total", "counter", "Parked fetches woken because a partition they read advanced or their deadline passed.");
    out += `sluice_waiting_fetch_wakeups_total ${work.wakeups}\n`;
    out += header("sluice_waiting_fetch_timer_firings_total", "counter", "Firings of the one timer armed for the earliest parked-fetch deadline.");
    out += `sluice_waiting_fetch_timer_firings_total ${work.timerFirings}\n`;

    const rings = engine.pool.ringStats() as RingStatsRow[];
    out += header("sluice_ring_used_bytes", "gauge", "Bytes in use in a worker's shared ring (request: router to worker; completion: back).");
    for (const r of rings) {
      out += `sluice_ring_used_bytes{worker="${r.worker}",ring="request"} ${r.requestBytesUsed}\n`;
      out += `sluice_ring_used_bytes{worker="${r.worker}",ring="completion"} ${r.completionBytesUsed}\n`;
    }
    out += header("sluice_ring_capacity_bytes", "gauge", "Capacity of a worker's shared ring.");
    for (const r of rings) {
      out += `sluice_ring_capacity_bytes{worker="${r.worker}",ring="request"} ${r.requestBytesCapacity}\n`;
      out += `sluice_ring_capacity_bytes{worker="${r.worker}",ring="completion"} ${r.completionBytesCapacity}\n`;
    }
    // Optional: a pool that measures its fdatasync latency exposes it as a histogram.
    const fsync = (engine.pool as { fsyncLatency?: () => Histogram | null }).fsyncLatency?.();
    if (fsync) {
      out += header("sluice_fsync_duration_seconds", "histogram", "Duration of one group-commit fdatasync.");
      out += histogramSamples("sluice_fsync_duration_seconds", "", fsync);
    }
    return out;
  });

  // The native listener's families, and the same for the Kafka listener with a sluice_kafka_ prefix.
  registry.addProvider(() => frontEndFamilies("sluice_", parts.server()));
  registry.addProvider(() => frontEndFamilies("sluice_kafka_", parts.kafka?.() ?? null));

  registry.addProvider(() => {
    const mem = process.memoryUsage();
    const cpu = process.cpuUsage();
    let out = "";
    out += header("process_resident_memory_bytes", "gauge", "Resident memory of the broker process.") + `process_resident_memory_bytes ${mem.rss}\n`;
    out += header("process_cpu_seconds_total", "counter", "User and system CPU time of the broker process.") + `process_cpu_seconds_total ${(cpu.user + cpu.system) / 1e6}\n`;
    out += header("process_start_time_seconds", "gauge", "When the broker started (Unix time).") + `process_start_time_seconds ${startedAtS}\n`;
    // Where resident memory goes (the router thread's heap; partition workers have their own):
    // live JS objects, memory held outside the heap for them, and ArrayBuffer bytes among it.
    out += header("sluice_js_heap_used_bytes", "gauge", "JavaScript heap in use on the router thread.") + `sluice_js_heap_used_bytes ${mem.heapUsed}\n`;
    out += header("sluice_js_heap_total_bytes", "gauge", "JavaScript heap reserved on the router thread.") + `sluice_js_heap_total_bytes ${mem.heapTotal}\n`;
    out += header("sluice_js_external_bytes", "gauge", "Memory outside the JavaScript heap owned by its objects (buffers included).") + `sluice_js_external_bytes ${mem.external}\n`;
    out += header("sluice_js_array_buffers_bytes", "gauge", "ArrayBuffer and SharedArrayBuffer bytes (part of external).") + `sluice_js_array_buffers_bytes ${mem.arrayBuffers}\n`;
    const g = parts.governor;
    if (g !== undefined) {
      out += header("sluice_gc_forced_total", "counter", "Full collections forced because resident memory was above the soft limit.") + `sluice_gc_forced_total ${g.collections}\n`;
      out += header("sluice_gc_forced_seconds_total", "counter", "Time spent in those collections.") + `sluice_gc_forced_seconds_total ${g.collectSeconds}\n`;
      out += header("sluice_gc_live_bytes", "gauge", "Heap bytes that survived the last forced collection.") + `sluice_gc_live_bytes ${g.liveBytes}\n`;
    }
    return out;
  });
}

/** A front end's request latency histograms, open connections and close counters. */
function frontEndFamilies(prefix: string, server: { stats: ServerStats; connections: { size: number } } | null): string {
  if (server === null) return "";
  const s = server.stats;
  let out = "";
  const latency = `${prefix}request_duration_seconds`;
  out += header(latency, "histogram", "Time from reading a request to queueing its response, per api.");
  for (const [api, h] of [...s.requestLatency].sort(([a], [b]) => (a < b ? -1 : 1))) {
    out += histogramSamples(latency, `api="${labelValue(api)}"`, h);
  }
  out += header(`${prefix}connections`, "gauge", "Open client connections.");
  out += `${prefix}connections ${server.connections.size}\n`;
  const counters: [string, string, number][] = [
    [`${prefix}connections_accepted_total`, "Connections accepted.", s.connectionsAccepted],
    [`${prefix}connections_refused_total`, "Connections closed at once because the connection limit was reached.", s.connectionsRefused],
    [`${prefix}request_timeouts_total`, "Connections closed because a request frame did not complete in time.", s.requestTimeouts],
    [`${prefix}output_overflows_total`, "Connections closed because they did not read their responses.", s.outputOverflows],
    [`${prefix}frames_refused_total`, "Connections closed because of a frame size over the limit or below the header, or a request that does not decode.", s.framesRefused],
  ];
  for (const [name, help, v] of counters) out += header(name, "counter", help) + `${name} ${v}\n`;
  return out;
}
