// `bun run bench:peers`: Sluice side by side with Redis Streams and NATS
// JetStream on this machine, in one run, together with the machine's own
// limits, so every figure can be read against its peers and its ceiling.
//
//   bun bench/peers.ts [--runs 3] [--duration 10] [--skip redis,nats,...] [--small]
//
// 10 s per run by default: a JIT-compiled broker spends its first second or so
// compiling (Sluice's one-message-per-request row measured 0.85x Redis in
// 3 s runs and 1.00-1.06x in 10 s runs of the same tree; docs/perf-log.md), and a
// sustained figure is what the bar is about. Every system gets the same length.
//
// Each system is started by this script on 127.0.0.1 with a private temp data
// dir and stopped by its PID afterwards; a peer that is not installed is
// skipped with a note. Runs are interleaved (run 1 of every system, then run
// 2, ...) so a noisy minute on a shared machine does not fall on one system.
// The table shows medians with min–max; the last line is one JSON object.

import os from "node:os";
import { parseArgs } from "node:util";
import { measureLimits, LIMITS_FULL, LIMITS_SMALL, type MachineLimits } from "./peers/limits.ts";
import { runNats, NATS_DEFAULTS } from "./peers/nats.ts";
import { isSkipped, type PeerOutcome, type PeerResult } from "./peers/peer_result.ts";
import { runRedis, REDIS_DEFAULTS } from "./peers/redis.ts";
import { runRedisBenchmark } from "./peers/redis_benchmark.ts";
import { runSluiceWorkload, sluiceCommand, sluiceWorkloads, type SluiceWorkload } from "./peers/sluice_runs.ts";

/** Seconds per run unless --duration says otherwise (see the header). */
const PEERS_DURATION_SEC = 10;
import type { BenchResult } from "./load/result.ts";

const SYSTEM_KEYS = ["redis-always", "redis-everysec", "redis-benchmark", "nats", "sluice"] as const;

interface Row {
  key: string;
  system: string;
  setting: string;
  fsyncBeforeAck: boolean;
  command: string;
  msgsPerSec: number[];
  p99Ms: number[];
  skipped?: string;
  /** Extra per-run detail (lost, RSS, CPU). */
  detail: Record<string, number[]>;
}

function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function spread(xs: number[]): [number, number] {
  const s = xs.filter((x) => Number.isFinite(x));
  return s.length === 0 ? [NaN, NaN] : [Math.min(...s), Math.max(...s)];
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "-");
const ms = (n: number) => (Number.isFinite(n) ? (n < 10 ? n.toFixed(2) : n.toFixed(1)) : "-");
const pct = (n: number) => (Number.isFinite(n) ? `${(n * 100).toFixed(1)}%` : "-");

function pushDetail(row: Row, name: string, value: number | undefined | null): void {
  (row.detail[name] ??= []).push(value ?? NaN);
}

function addPeer(rows: Map<string, Row>, key: string, system: string, outcome: PeerOutcome): void {
  let row = rows.get(key);
  if (isSkipped(outcome)) {
    rows.set(key, { key, system, setting: outcome.setting, fsyncBeforeAck: false, command: "", msgsPerSec: [], p99Ms: [], skipped: outcome.skipped, detail: {} });
    return;
  }
  const result = outcome as PeerResult;
  if (row === undefined) {
    row = { key, system, setting: result.setting, fsyncBeforeAck: result.fsyncBeforeAck, command: result.command, msgsPerSec: [], p99Ms: [], detail: {} };
    rows.set(key, row);
  }
  row.msgsPerSec.push(result.msgsPerSec);
  row.p99Ms.push(result.latency.p99Ms);
  pushDetail(row, "lost", result.lost);
  pushDetail(row, "serverCpuCores", result.serverCpuCores);
  pushDetail(row, "clientCpuCores", result.clientCpuCores);
  pushDetail(row, "serverRssMaxMiB", result.serverRssMaxBytes === undefined ? undefined : result.serverRssMaxBytes / 1048576);
  pushDetail(row, "machineBusyCores", result.machineBusyCores);
}

function addSluice(rows: Map<string, Row>, workload: SluiceWorkload, result: BenchResult): void {
  const key = `sluice-${workload.key}`;
  let row = rows.get(key);
  if (row === undefined) {
    row = {
      key, system: "sluice", setting: workload.description, fsyncBeforeAck: workload.args.includes("all"),
      command: sluiceCommand(workload), msgsPerSec: [], p99Ms: [], detail: {},
    };
    rows.set(key, row);
  }
  row.msgsPerSec.push(result.msgsPerSec);
  row.p99Ms.push(result.p99Ms ?? NaN);
  pushDetail(row, "lost", result.lost);
  pushDetail(row, "errors", result.errors);
  pushDetail(row, "mbPerSec", result.mbPerSec);
  pushDetail(row, "serverCpuCores", result.broker?.cpuCores);
  pushDetail(row, "clientCpuCores", result.client.cpuCores);
  pushDetail(row, "serverRssMaxMiB", result.broker?.rssMaxMiB);
  pushDetail(row, "ackP99Ms", result.produce?.ackLatency.p99Ms);
  pushDetail(row, "machineBusyCores", result.machine?.busyCores);
  pushDetail(row, "brokerFsyncP99MsAtMost", result.brokerFsync?.p99MsAtMost);
  pushDetail(row, "brokerCpuUsPerMsg", result.broker?.cpuUsPerMsg);
  pushDetail(row, "clientCpuUsPerMsg", result.client.cpuUsPerMsg);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      small: { type: "boolean" },
      runs: { type: "string" },
      duration: { type: "string" },
      skip: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log("usage: bun bench/peers.ts [--runs N] [--duration S (default 10)] [--skip redis-always,redis-everysec,redis-benchmark,nats,sluice,limits] [--small]");
    return 0;
  }
  const small = values.small === true;
  const runs = Number(values.runs ?? (small ? 1 : 3));
  const durationSec = Number(values.duration ?? (small ? 0.2 : PEERS_DURATION_SEC));
  const skip = new Set((values.skip ?? "").split(",").filter((s) => s !== ""));
  for (const s of skip) {
    if (s !== "limits" && !(SYSTEM_KEYS as readonly string[]).includes(s)) throw new Error(`--skip: unknown '${s}'`);
  }
  if (small) skip.add("redis-benchmark");

  const log = (line: string) => console.error(line);
  const startedAt = new Date().toISOString();
  log(`# peers benchmark ${startedAt}: ${runs} run(s) of ${durationSec} s each${small ? " (small mode)" : ""}`);

  let limits: MachineLimits | undefined;
  if (!skip.has("limits")) {
    log("# measuring this machine's limits");
    limits = await measureLimits(small ? LIMITS_SMALL : LIMITS_FULL);
  }

  const rows = new Map<string, Row>();
  const peerSmall = small ? { connections: 2 } : {};
  const workloads = sluiceWorkloads({ durationSec, consumeMessages: small ? 2000 : 5_000_000, small });
  for (let run = 1; run <= runs; run++) {
    if (!skip.has("redis-always")) {
      log(`# run ${run}: redis appendfsync always`);
      addPeer(rows, "redis-always", "redis streams", await runRedis({ ...REDIS_DEFAULTS, ...peerSmall, appendfsync: "always", durationSec }));
    }
    if (!skip.has("redis-everysec")) {
      log(`# run ${run}: redis appendfsync everysec`);
      addPeer(rows, "redis-everysec", "redis streams", await runRedis({ ...REDIS_DEFAULTS, ...peerSmall, appendfsync: "everysec", durationSec }));
    }
    if (!skip.has("redis-benchmark")) {
      log(`# run ${run}: redis-benchmark cross-check`);
      addPeer(rows, "redis-benchmark", "redis streams", await runRedisBenchmark({
        appendfsync: "always", messages: Math.round(350_000 * durationSec), sizeBytes: 100,
        connections: REDIS_DEFAULTS.connections, pipeline: REDIS_DEFAULTS.pipeline,
      }));
    }
    if (!skip.has("nats")) {
      log(`# run ${run}: nats jetstream`);
      addPeer(rows, "nats", "nats jetstream", await runNats({ ...NATS_DEFAULTS, ...peerSmall, durationSec }));
    }
    if (!skip.has("sluice")) {
      for (const workload of workloads) {
        log(`# run ${run}: ${sluiceCommand(workload)}`);
        try {
          addSluice(rows, workload, await runSluiceWorkload(workload, 120_000 + durationSec * 4000));
        } catch (error) {
          log(`# sluice ${workload.key} failed: ${(error as Error).message}`);
          rows.set(`sluice-${workload.key}`, {
            key: `sluice-${workload.key}`, system: "sluice", setting: workload.description, fsyncBeforeAck: true,
            command: sluiceCommand(workload), msgsPerSec: [], p99Ms: [], skipped: `failed: ${(error as Error).message.split("\n")[0]}`, detail: {},
          });
        }
      }
    }
  }

  const report = buildReport({ rows: [...rows.values()], limits, runs, durationSec, small });
  console.log(report.text);
  console.log(JSON.stringify(report.json));
  return 0;
}

interface ReportInput {
  rows: Row[];
  limits: MachineLimits | undefined;
  runs: number;
  durationSec: number;
  small: boolean;
}

function buildReport(input: ReportInput): { text: string; json: Record<string, unknown> } {
  const { rows, limits } = input;
  const lines: string[] = [];
  const sluiceProduce = rows.find((r) => r.key === "sluice-produce");
  // The bar compares like with like: a protocol-only client on each side (the library's row is beside it).
  const sluiceUnbatched = rows.find((r) => r.key === "sluice-produce-unbatched-raw");
  const sluiceMedian = sluiceProduce === undefined ? NaN : median(sluiceProduce.msgsPerSec);

  lines.push(`machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.platform()} ${os.release()}`);
  if (limits !== undefined) {
    lines.push("");
    lines.push("limits of this machine (same run):");
    lines.push(`  sequential write, 1 MiB + fdatasync each   ${limits.diskSeqWriteFdatasyncMiBps.toFixed(0)} MiB/s`);
    lines.push(`  buffered write into a new file, no fsync   ${limits.diskBufferedWriteMiBps.toFixed(0)} MiB/s (page-cache copy, one core)`);
    lines.push(`  4 KiB append + fdatasync each              ${int(limits.fdatasyncPerSec)} fdatasync/s (p50 ${limits.fdatasyncP50Us} us, p99 ${limits.fdatasyncP99Us} us)`);
    lines.push(`  loopback TCP, 1 MiB writes, 2 threads      ${limits.loopbackTcpMiBps.toFixed(0)} MiB/s`);
    lines.push(`  CRC-32C in TypeScript, one core            ${limits.crc32cMiBps.toFixed(0)} MiB/s`);
  }

  lines.push("");
  lines.push(`produce, 100-byte messages, medians of ${input.runs} run(s) of ${input.durationSec} s (min–max):`);
  const header = ["system", "setting", "fsync before ack", "msgs/s", "(min–max)", "p99 ms", "sluice produce ÷ this", "machine busy"];
  const table: string[][] = [header];
  for (const row of rows) {
    if (row.skipped !== undefined) {
      table.push([row.system, row.setting, "", "skipped", row.skipped, "", "", ""]);
      continue;
    }
    const [lo, hi] = spread(row.msgsPerSec);
    const m = median(row.msgsPerSec);
    const ratio = row.system === "sluice" || !Number.isFinite(sluiceMedian) ? "" : `${(sluiceMedian / m).toFixed(2)}x`;
    const busy = median(row.detail.machineBusyCores ?? []);
    table.push([
      row.system, row.setting, row.fsyncBeforeAck ? "yes" : "no", int(m), `${int(lo)}–${int(hi)}`, ms(median(row.p99Ms)), ratio,
      Number.isFinite(busy) ? `${busy.toFixed(2)} cores` : "",
    ]);
  }
  const widths = header.map((_, i) => Math.max(...table.map((r) => (r[i] ?? "").length)));
  for (const r of table) lines.push("  " + r.map((c, i) => (c ?? "").padEnd(widths[i])).join("  ").trimEnd());

  // Each Sluice figure against the ceilings of this machine.
  const sluiceRows = rows.filter((r) => r.system === "sluice" && r.skipped === undefined);
  const bounds: Record<string, unknown>[] = [];
  if (sluiceRows.length > 0 && limits !== undefined) {
    lines.push("");
    lines.push("sluice against this machine's limits (medians):");
    for (const row of sluiceRows) {
      const mb = median(row.detail.mbPerSec ?? []);
      const bytesMiB = (mb * 1e6) / 1048576;
      const broker = median(row.detail.serverCpuCores ?? []);
      const clients = median(row.detail.clientCpuCores ?? []);
      const machineBusy = median(row.detail.machineBusyCores ?? []);
      const fractions: Record<string, number> = {
        // The cores Sluice's processes used, and the cores busy on the machine (anyone's):
        // when the machine is saturated the CPU is the bound even if Sluice had only part of it.
        cpuSluice: (broker + clients) / limits.cores,
        cpuMachine: Number.isFinite(machineBusy) ? machineBusy / limits.cores : 0,
        loopbackTcp: bytesMiB / limits.loopbackTcpMiBps,
      };
      if (row.key.startsWith("sluice-produce") || row.key === "sluice-e2e") {
        fractions.diskSeqWriteFdatasync = bytesMiB / limits.diskSeqWriteFdatasyncMiBps;
        fractions.pageCacheWrite = bytesMiB / limits.diskBufferedWriteMiBps;
      }
      const boundBy = Object.entries(fractions).sort((a, b) => b[1] - a[1])[0][0];
      const usPerMsg = median(row.detail.brokerCpuUsPerMsg ?? []) + median(row.detail.clientCpuUsPerMsg ?? []);
      bounds.push({
        key: row.key, fractions, boundBy, brokerCpuCores: broker, clientCpuCores: clients, machineBusyCores: machineBusy,
        brokerCpuUsPerMsg: median(row.detail.brokerCpuUsPerMsg ?? []), clientCpuUsPerMsg: median(row.detail.clientCpuUsPerMsg ?? []),
      });
      lines.push(
        `  ${row.key.padEnd(26)} ${mb.toFixed(1)} MB/s  CPU: sluice ${(broker + clients).toFixed(2)} of ${limits.cores} cores ` +
          `(broker ${broker.toFixed(2)}, clients ${clients.toFixed(2)}), machine ${Number.isFinite(machineBusy) ? machineBusy.toFixed(2) : "-"} busy; ` +
          `${Number.isFinite(usPerMsg) ? usPerMsg.toFixed(2) : "-"} us CPU per message moved` +
          (fractions.diskSeqWriteFdatasync !== undefined
            ? `  disk+fdatasync ${pct(fractions.diskSeqWriteFdatasync)}  page-cache copy ${pct(fractions.pageCacheWrite)}`
            : "") +
          `  loopback ${pct(fractions.loopbackTcp)}  → nearest ceiling: ${boundBy}`,
      );
    }
  }

  // The bar.
  const redisAlways = rows.find((r) => r.key === "redis-always");
  const redisAlwaysMedian = redisAlways === undefined || redisAlways.skipped !== undefined ? NaN : median(redisAlways.msgsPerSec);
  // The broker's consume bar is read with two consumers (one consumer thread is the bound otherwise; its row is beside it).
  const consume = rows.find((r) => r.key === "sluice-consume-2");
  const e2e = rows.find((r) => r.key === "sluice-e2e");
  const rssMax = Math.max(...sluiceRows.flatMap((r) => (r.detail.serverRssMaxMiB ?? []).filter(Number.isFinite)));
  const check = (ok: boolean | undefined) => (ok === undefined ? "n/a" : ok ? "met" : "NOT met");
  const bar = [
    { bar: "produce acks=all >= 1,000,000 msgs/s", value: sluiceMedian, ok: Number.isFinite(sluiceMedian) ? sluiceMedian >= 1e6 : undefined },
    { bar: "produce acks=all >= 2x redis appendfsync always", value: sluiceMedian / redisAlwaysMedian, ok: Number.isFinite(sluiceMedian / redisAlwaysMedian) ? sluiceMedian >= 2 * redisAlwaysMedian : undefined },
    {
      bar: "unbatched produce (protocol-only client, 800 in flight) >= redis appendfsync always, pipeline 16 x 50",
      value: sluiceUnbatched === undefined ? NaN : median(sluiceUnbatched.msgsPerSec),
      ok: sluiceUnbatched === undefined || !Number.isFinite(redisAlwaysMedian) || sluiceUnbatched.msgsPerSec.length === 0 ? undefined : median(sluiceUnbatched.msgsPerSec) >= redisAlwaysMedian,
    },
    { bar: "consume >= 2,000,000 msgs/s (two consumers)", value: consume === undefined ? NaN : median(consume.msgsPerSec), ok: consume === undefined || consume.msgsPerSec.length === 0 ? undefined : median(consume.msgsPerSec) >= 2e6 },
    {
      bar: "e2e at 100k msgs/s: p99 <= 10 ms and lost = 0",
      value: e2e === undefined ? NaN : median(e2e.p99Ms),
      ok: e2e === undefined || e2e.p99Ms.length === 0 ? undefined : median(e2e.p99Ms) <= 10 && (e2e.detail.lost ?? []).every((l) => l === 0),
    },
    { bar: "broker RSS <= 256 MiB", value: rssMax, ok: Number.isFinite(rssMax) ? rssMax <= 256 : undefined },
  ];
  if (sluiceRows.length > 0 && !input.small) {
    lines.push("");
    lines.push("the bar:");
    for (const b of bar) lines.push(`  ${check(b.ok).padEnd(8)} ${b.bar}  (measured ${Number.isFinite(b.value) ? (b.value > 100 ? int(b.value) : b.value.toFixed(2)) : "-"})`);
  }

  const json = {
    startedRuns: input.runs,
    durationSec: input.durationSec,
    small: input.small,
    machine: { cores: os.cpus().length, memoryBytes: os.totalmem(), cpuModel: os.cpus()[0]?.model ?? "?" },
    limits: limits ?? null,
    rows: rows.map((r) => ({
      key: r.key, system: r.system, setting: r.setting, fsyncBeforeAck: r.fsyncBeforeAck, command: r.command,
      skipped: r.skipped ?? null,
      msgsPerSecMedian: r.msgsPerSec.length > 0 ? Math.round(median(r.msgsPerSec)) : null,
      msgsPerSecRuns: r.msgsPerSec.map(Math.round),
      p99MsMedian: r.p99Ms.length > 0 ? median(r.p99Ms) : null,
      p99MsRuns: r.p99Ms,
      sluiceProduceRatio: r.system !== "sluice" && r.msgsPerSec.length > 0 && Number.isFinite(sluiceMedian) ? sluiceMedian / median(r.msgsPerSec) : null,
      detail: r.detail,
    })),
    bounds,
    bar: bar.map((b) => ({ bar: b.bar, value: Number.isFinite(b.value) ? b.value : null, met: b.ok ?? null })),
  };
  return { text: lines.join("\n"), json };
}

process.exitCode = await main();
