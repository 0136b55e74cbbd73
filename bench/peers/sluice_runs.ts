// Sluice in the peers run: each workload is the `sluice bench` command itself,
// run as a child process with --embedded (its own broker process in a temp
// dir) and --json, so every figure in the table comes with the exact command
// that reproduces it.

import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { bunBinary } from "../load/embedded_broker.ts";
import type { BenchResult } from "../load/result.ts";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const OUTPUT_BYTES_MAX = 1024 * 1024;

export interface SluiceWorkload {
  /** Short key used in the table and JSON ("produce", "produce-unbatched", ...). */
  key: string;
  description: string;
  args: string[];
}

/** The workloads of the bar, at a given length. */
export function sluiceWorkloads(options: { durationSec: number; consumeMessages: number; small: boolean }): SluiceWorkload[] {
  const d = String(options.durationSec);
  const length = options.small ? ["--messages", "2000"] : ["--duration", d];
  // The e2e run is light (100k msgs/s) and its p99 needs samples: twice as long, plus a warm-up second.
  const e2eLength = options.small ? ["--messages", "2000"] : ["--duration", String(2 * options.durationSec + 1)];
  const common = ["--embedded", "--size", "100", "--partitions", "8", "--json"];
  const all: SluiceWorkload[] = [
    {
      key: "produce",
      description: "produce, acks=all, client batching (sendBatch of 256)",
      args: ["produce", ...common, ...length, "--acks", "all", "--producers", "1", "--send-batch", "256"],
    },
    {
      // The same kind of client as the Redis and NATS rows (the protocol over a raw socket,
      // one load thread) and the same 800 requests outstanding as Redis's 50 x 16: the bar's row.
      key: "produce-unbatched-raw",
      description: "produce, acks=all, one message per request, pipelined (800 in flight), protocol-only client",
      args: ["produce", ...common, ...length, "--acks", "all", "--producers", "1", "--batch-bytes", "0", "--client", "raw"],
    },
    {
      key: "produce-unbatched",
      description: "produce, acks=all, one message per request, pipelined (800 in flight), client library",
      args: ["produce", ...common, ...length, "--acks", "all", "--producers", "1", "--batch-bytes", "0"],
    },
    {
      key: "consume",
      description: "consume from the first offset, one consumer (8 partitions)",
      args: ["consume", ...common, "--messages", String(options.consumeMessages), "--acks", "all", "--producers", "1", "--send-batch", "256", "--consumers", "1"],
    },
    {
      // Two consumers, as a group of two would split the topic (4 partitions each): one
      // consumer thread is saturated at ~0.5-0.6 us per message before the broker is.
      key: "consume-2",
      description: "consume from the first offset, two consumers (4 partitions each)",
      args: ["consume", ...common, "--messages", String(options.consumeMessages), "--acks", "all", "--producers", "1", "--send-batch", "256", "--consumers", "2"],
    },
    {
      key: "e2e",
      description: "e2e at 100,000 msgs/s offered, acks=all, linger 0 (the broker's defaults), 1 s warm-up",
      args: [
        "e2e", ...common, ...e2eLength, "--acks", "all", "--rate", options.small ? "20000" : "100000", "--linger-ms", "0",
        "--producers", "1", "--consumers", "2",
        ...(options.small ? [] : ["--warmup", "1"]),
      ],
    },
  ];
  return options.small ? all.filter((w) => w.key === "e2e") : all;
}

export function sluiceCommand(workload: SluiceWorkload): string {
  return `bun cli/main.ts bench ${workload.args.join(" ")}`;
}

/** Runs one workload; resolves with its JSON result, or rejects with the command's output. */
export function runSluiceWorkload(workload: SluiceWorkload, timeoutMs: number): Promise<BenchResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bunBinary(), [path.join(REPO_ROOT, "cli", "main.ts"), "bench", ...workload.args], {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout = (stdout + c.toString("utf8")).slice(-OUTPUT_BYTES_MAX)));
    child.stderr.on("data", (c: Buffer) => (stderr = (stderr + c.toString("utf8")).slice(-OUTPUT_BYTES_MAX)));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, "SIGTERM");
    }, timeoutMs);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      const lines = stdout.trimEnd().split("\n");
      const last = lines[lines.length - 1] ?? "";
      try {
        const result = JSON.parse(last) as BenchResult;
        resolve(result);
      } catch {
        reject(new Error(`${sluiceCommand(workload)} ended (${signal ?? code}) without a JSON line:\n${stdout.slice(-4000)}\n${stderr.slice(-4000)}`));
      }
    });
  });
}
