// The result of one `sluice bench` run, and how it is printed: a few readable
// lines for a person, and (with --json) one JSON object as the last line for a
// script. Throughput counts message values only (size x messages; MB = 10^6
// bytes), not record or batch overhead, so figures compare across systems.

import type { DiskFigures, FsyncFigures } from "./broker_metrics.ts";
import type { LatencySummary } from "./latency.ts";
import type { ProcUsage } from "./proc_sampler.ts";

export interface PhaseFigures {
  msgsPerSec: number;
  mbPerSec: number;
  wallSec: number;
}

export interface BenchResult {
  mode: string;
  /** The command line that reproduces the run. */
  command: string;
  parameters: Record<string, string | number | boolean | null>;
  // Headline figures (see BENCHMARKS.md): produce mode = produce rate and ack latency;
  // consume mode = consume rate (no latency: the messages were produced before);
  // e2e mode = consume rate and end-to-end latency.
  msgsPerSec: number;
  mbPerSec: number;
  p50Ms: number | null;
  p90Ms: number | null;
  p99Ms: number | null;
  p999Ms: number | null;
  maxMs: number | null;
  sent: number;
  acked: number;
  consumed: number;
  /** Acknowledged messages that were never consumed (null when the mode does not consume). */
  lost: number | null;
  duplicates: number;
  corrupt: number;
  /** Sends the broker answered with an error (or that failed on the connection). */
  errors: number;
  firstError: string | null;
  produce: (PhaseFigures & { ackLatency: LatencySummary }) | null;
  consume: PhaseFigures | null;
  e2eLatency: LatencySummary | null;
  /** With --timeline: worst ack latency (ms) per 100 ms of intended send time, over all producers. */
  ackTimelineMs: number[] | null;
  /**
   * CPU as cores busy over the run, and as CPU microseconds per message moved
   * (sent + consumed): a cost that does not depend on how busy the machine was.
   */
  broker: {
    pid: number;
    rssMaxMiB: number;
    /** At the RSS maximum: anonymous memory (heaps, rings) vs file-backed pages (mapped segments). */
    rssMaxAnonMiB: number;
    rssMaxFileMiB: number;
    cpuCores: number;
    cpuUsPerMsg: number;
    /** Busiest broker threads (main = the router; "Worker" = partition workers). */
    threads: { tid: number; name: string; cores: number }[];
  } | null;
  /** The --embedded broker's temp data dir (removed when the run ends), null otherwise. */
  embeddedDataDir: string | null;
  /** Cores busy on the whole machine during the run (this run and anything else running), and the cores it has. */
  machine: { cores: number; busyCores: number | null; loadAverage1m: number };
  /** The broker's own fdatasync histogram over the run (from /metrics), when its HTTP port is known. */
  brokerFsync: FsyncFigures | null;
  /** The bench topic's bytes on disk after the run (from /metrics, when the broker's HTTP port is known). */
  disk: DiskFigures | null;
  client: { cpuCores: number; cpuUsPerMsg: number };
}

const fmtInt = (n: number) => Math.round(n).toLocaleString("en-US");
const fmtMs = (n: number | null) => (n === null ? "-" : n < 10 ? n.toFixed(3) : n.toFixed(1));

function latencyLine(label: string, l: LatencySummary): string {
  return `${label.padEnd(16)} p50 ${fmtMs(l.p50Ms)} ms  p90 ${fmtMs(l.p90Ms)}  p99 ${fmtMs(l.p99Ms)}  p99.9 ${fmtMs(l.p999Ms)}  max ${fmtMs(l.maxMs)}  (${fmtInt(l.count)} samples)`;
}

export function formatResult(r: BenchResult): string {
  const lines = [`sluice bench ${r.mode}: ${r.command}`];
  if (r.produce !== null) {
    lines.push(`produce          ${fmtInt(r.produce.msgsPerSec)} msgs/s  ${r.produce.mbPerSec.toFixed(1)} MB/s  over ${r.produce.wallSec.toFixed(2)} s`);
    lines.push(latencyLine("produce-ack", r.produce.ackLatency));
  }
  if (r.consume !== null) {
    lines.push(`consume          ${fmtInt(r.consume.msgsPerSec)} msgs/s  ${r.consume.mbPerSec.toFixed(1)} MB/s  over ${r.consume.wallSec.toFixed(2)} s`);
  }
  if (r.e2eLatency !== null) lines.push(latencyLine("end-to-end", r.e2eLatency));
  lines.push(
    `messages         sent ${fmtInt(r.sent)}  acked ${fmtInt(r.acked)}  consumed ${fmtInt(r.consumed)}  lost ${r.lost === null ? "-" : fmtInt(r.lost)}` +
      `  duplicates ${fmtInt(r.duplicates)}  corrupt ${fmtInt(r.corrupt)}  errors ${fmtInt(r.errors)}`,
  );
  if (r.firstError !== null) lines.push(`first error      ${r.firstError}`);
  if (r.ackTimelineMs !== null) {
    lines.push(`ack timeline     worst ack latency per 100 ms, ms: ${r.ackTimelineMs.map((ms) => ms.toFixed(0)).join(" ")}`);
  }
  if (r.broker !== null) {
    lines.push(
      `broker           pid ${r.broker.pid}  RSS max ${r.broker.rssMaxMiB.toFixed(1)} MiB (anon ${r.broker.rssMaxAnonMiB.toFixed(0)}, file ${r.broker.rssMaxFileMiB.toFixed(0)})  CPU ${r.broker.cpuCores.toFixed(2)} cores` +
        `  (${r.broker.cpuUsPerMsg.toFixed(2)} us per message moved)`,
    );
    lines.push(`broker threads   ${r.broker.threads.map((t) => `${t.name}:${t.tid} ${t.cores.toFixed(2)}`).join("  ")}`);
  }
  if (r.brokerFsync !== null && r.brokerFsync.count > 0) {
    const f = r.brokerFsync;
    lines.push(
      `broker fsyncs    ${fmtInt(f.count)} fdatasyncs, mean ${f.meanMs.toFixed(2)} ms, p50 <= ${f.p50MsAtMost ?? "-"} ms, p99 <= ${f.p99MsAtMost ?? "-"} ms` +
        (r.acked > 0 ? `  (${fmtInt(r.acked / f.count)} messages per fdatasync)` : ""),
    );
  }
  if (r.disk !== null) {
    const codec = String(r.parameters.compression ?? "none");
    lines.push(
      `on disk          ${fmtInt(r.disk.bytes)} bytes in the topic's segments  ${r.disk.bytesPerMessage.toFixed(1)} bytes/message` +
        `  (${r.disk.valueBytesPerDiskByte.toFixed(2)} value bytes per disk byte, compression ${codec}, payload ${r.parameters.payload ?? "pattern"})`,
    );
  }
  lines.push(`load generator   CPU ${r.client.cpuCores.toFixed(2)} cores  (${r.client.cpuUsPerMsg.toFixed(2)} us per message moved)`);
  lines.push(
    `machine          ${r.machine.busyCores === null ? "-" : r.machine.busyCores.toFixed(2)} of ${r.machine.cores} cores busy (all processes), load average ${r.machine.loadAverage1m.toFixed(2)}`,
  );
  return lines.join("\n");
}

export function brokerFigures(usage: ProcUsage | undefined, messagesMoved: number): BenchResult["broker"] {
  if (usage === undefined || usage.samples === 0) return null;
  return {
    pid: usage.pid,
    rssMaxMiB: mib(usage.rssMaxBytes),
    rssMaxAnonMiB: mib(usage.rssMaxSample?.rssAnonBytes ?? 0),
    rssMaxFileMiB: mib(usage.rssMaxSample?.rssFileBytes ?? 0),
    cpuCores: Math.round(usage.cores * 100) / 100,
    cpuUsPerMsg: usPerMsg(usage.cpuSec, messagesMoved),
    threads: usage.threads,
  };
}

function mib(bytes: number): number {
  return Math.round((bytes / 1048576) * 10) / 10;
}

export function usPerMsg(cpuSec: number, messages: number): number {
  return messages === 0 ? 0 : Math.round((cpuSec * 1e6 * 100) / messages) / 100;
}

/** A live progress line on stderr, only when stderr is a terminal. */
export class ProgressLine {
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastText = "";
  constructor(private readonly render: () => string) {}

  start(intervalMs = 1000): void {
    if (!process.stderr.isTTY) return;
    this.timer = setInterval(() => {
      this.lastText = this.render();
      process.stderr.write(`\r${this.lastText}\x1b[K`);
    }, intervalMs);
  }

  stop(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
    process.stderr.write("\r\x1b[K");
  }
}
