// `sluice bench` against a 3-broker cluster on this machine: 3 etcd members and
// 3 `sluice serve --cluster-etcd` processes (cli/dev_cluster.ts, as
// `sluice dev cluster` starts them), all sharing its cores with the load.
//
//   bun bench/cluster_bench.ts [--duration 8] [--partitions 6] [--producers 2] [--rate 50000]
//                              [--produce-only] [--warm S] [--send-batch N] [--profile-dir DIR]
//   (npm run bench:cluster)
//
// Runs, each on a fresh topic:
//   1. produce acks=all, RF 3 / min ISR 2, then the same with RF 1 (--compare-rf 1):
//      the two rates and their ratio, measured one after the other;
//   2. consume of an RF 3 topic filled first;
//   3. e2e at a fixed rate (default 50k msgs/s) on RF 3: end-to-end p50/p99, lost.
// Then stops everything and prints the figures (and the machine's load).

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { startDevCluster } from "../cli/dev_cluster.ts";
import { compareLine } from "../cli/bench_cmd.ts";
import { type BenchOptions, parseBenchArgs } from "./load/options.ts";
import { type BenchResult, formatResult } from "./load/result.ts";
import { runBench } from "./load/run.ts";

export interface ClusterBenchOptions {
  durationSec: number;
  partitions: number;
  producers: number;
  ratePerSec: number;
  /** Messages of the consume run (produced first, then read back). */
  consumeMessages: number;
  /** 3 as a cluster runs (default); the small mode in the suite uses 1. */
  etcdMembers?: 1 | 3;
  /** Only the produce pair (RF 3, then RF 1): the figure the RF 3 bar is about, in a third of the time. */
  produceOnly?: boolean;
  /** Seconds of an unreported RF 3 produce run first, on its own topic: the brokers' code paths compiled before the measured runs (0 = none). */
  warmSec?: number;
  /** Messages per send call of the produce runs (1 = send() per message, the default; N = sendBatch() of N). */
  sendBatch?: number;
  /** Write each broker's CPU profile (markdown) here when it stops. */
  profileDir?: string;
  log?: (line: string) => void;
}

export interface ClusterBenchFigures {
  rf3: BenchResult;
  rf1: BenchResult;
  consume: BenchResult | null;
  e2e: BenchResult | null;
}

function bench(argv: string[]): BenchOptions {
  const o = parseBenchArgs(argv);
  if (o === "help") throw new Error("unreachable");
  return o;
}

export async function runClusterBench(o: ClusterBenchOptions): Promise<ClusterBenchFigures> {
  const log = o.log ?? (() => {});
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-cluster-bench-"));
  const brokerLines: string[] = [];
  const cluster = await startDevCluster({ brokers: 3, etcdMembers: o.etcdMembers ?? 3, basePort: 0, dir,
    runtimeArgs: o.profileDir === undefined ? [] : ["--cpu-prof-md", `--cpu-prof-dir=${o.profileDir}`],
    brokerLog: (id, line) => brokerLines.push(`[broker ${id}] ${line}`),
  });
  try {
    const brokers = cluster.brokers.map((b) => `127.0.0.1:${b.port}`).join(",");
    log(`cluster: ${o.etcdMembers ?? 3} etcd member(s), brokers ${brokers} (pids ${cluster.brokers.map((b) => b.proc.pid).join(", ")})`);
    const common = ["--broker", brokers, "--partitions", String(o.partitions), "--producers", String(o.producers)];
    const rf3Args = [...common, "--replication-factor", "3", "--min-insync-replicas", "2"];
    const produce = bench(["produce", ...rf3Args, "--duration", String(o.durationSec), "--send-batch", String(o.sendBatch ?? 1)]);
    if ((o.warmSec ?? 0) > 0) {
      const warm = await runBench({ ...produce, durationSec: o.warmSec });
      log(`warm-up (not reported): ${formatResult(warm).split("\n")[1] ?? ""}`);
    }
    const rf3 = await runBench(produce);
    log(formatResult(rf3));
    const rf1 = await runBench({ ...produce, replicationFactor: 1, minInsyncReplicas: 1 });
    log(formatResult(rf1));
    log(compareLine(rf3, rf1, 3, 1));
    if (o.produceOnly === true) return { rf3, rf1, consume: null, e2e: null };
    const consume = await runBench(bench(["consume", ...rf3Args, "--messages", String(o.consumeMessages), "--consumers", "1"]));
    log(formatResult(consume));
    const e2e = await runBench(bench(["e2e", ...rf3Args, "--duration", String(o.durationSec), "--rate", String(o.ratePerSec), "--consumers", "1"]));
    log(formatResult(e2e));
    return { rf3, rf1, consume, e2e };
  } catch (e) {
    for (const line of brokerLines.slice(-20)) log(line);
    throw e;
  } finally {
    await cluster.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function summary(f: ClusterBenchFigures): string {
  const lost = (r: BenchResult) => (r.lost === null ? "-" : String(r.lost));
  return [
    "summary (3 brokers, 3 etcd members and the load on this machine's cores):",
    `  produce acks=all RF 3 / min ISR 2   ${f.rf3.msgsPerSec.toLocaleString("en-US")} msgs/s  ack p50 ${f.rf3.p50Ms?.toFixed(1)} ms  p99 ${f.rf3.p99Ms?.toFixed(1)} ms  errors ${f.rf3.errors}`,
    `  produce acks=all RF 1               ${f.rf1.msgsPerSec.toLocaleString("en-US")} msgs/s  ack p50 ${f.rf1.p50Ms?.toFixed(1)} ms  p99 ${f.rf1.p99Ms?.toFixed(1)} ms  errors ${f.rf1.errors}`,
    `  RF 3 / RF 1                         ${(f.rf3.msgsPerSec / Math.max(1, f.rf1.msgsPerSec)).toFixed(2)}`,
    ...(f.consume === null ? [] : [`  consume RF 3                        ${f.consume.msgsPerSec.toLocaleString("en-US")} msgs/s  lost ${lost(f.consume)}`]),
    ...(f.e2e === null ? [] : [`  e2e RF 3 at ${f.e2e.parameters.ratePerSec} msgs/s            p50 ${f.e2e.p50Ms?.toFixed(1)} ms  p99 ${f.e2e.p99Ms?.toFixed(1)} ms  lost ${lost(f.e2e)}`]),
    `  machine load average (1 min) at the end: ${os.loadavg()[0].toFixed(2)} on ${os.cpus().length} cores`,
  ].join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { duration: { type: "string" }, partitions: { type: "string" }, producers: { type: "string" }, rate: { type: "string" }, "consume-messages": { type: "string" },
      "produce-only": { type: "boolean" }, warm: { type: "string" }, "send-batch": { type: "string" }, "profile-dir": { type: "string" } },
  });
  const o: ClusterBenchOptions = {
    durationSec: Number(values.duration ?? 8),
    partitions: Number(values.partitions ?? 6),
    producers: Number(values.producers ?? 2),
    ratePerSec: Number(values.rate ?? 50_000),
    consumeMessages: Number(values["consume-messages"] ?? 2_000_000),
    produceOnly: values["produce-only"] === true,
    warmSec: Number(values.warm ?? 0),
    sendBatch: Number(values["send-batch"] ?? 1),
    profileDir: values["profile-dir"],
    log: (line) => console.log(line),
  };
  console.log(`bun bench/cluster_bench.ts --duration ${o.durationSec} --partitions ${o.partitions} --producers ${o.producers} --rate ${o.ratePerSec} --consume-messages ${o.consumeMessages}${o.produceOnly === true ? " --produce-only" : ""}${(o.warmSec ?? 0) > 0 ? ` --warm ${o.warmSec}` : ""}${o.sendBatch !== 1 ? ` --send-batch ${o.sendBatch}` : ""}`);
  const figures = await runClusterBench(o);
  console.log(summary(figures));
  const bad = [figures.rf3, figures.rf1, figures.consume, figures.e2e].some((r) => r !== null && ((r.lost ?? 0) > 0 || r.corrupt > 0));
  process.exit(bad ? 1 : 0);
}
