// A cross-check of our Redis figure with Redis's own C load generator
// (redis-benchmark -P 16), against a fresh redis-server with the same AOF
// setting: if our TypeScript client were the bottleneck, this would show it.

import { spawn } from "node:child_process";
import fs from "node:fs";
import { which } from "../load/server_process.ts";
import type { PeerOutcome } from "./peer_result.ts";
import { startRedis, type AppendFsync } from "./redis.ts";

export async function runRedisBenchmark(options: {
  appendfsync: AppendFsync;
  messages: number;
  sizeBytes: number;
  connections: number;
  pipeline: number;
}): Promise<PeerOutcome> {
  const setting = `redis-benchmark (C), appendfsync ${options.appendfsync}, -P ${options.pipeline} -c ${options.connections}`;
  const binary = which("redis-benchmark");
  if (binary === undefined || which("redis-server") === undefined) {
    return { peer: "redis", setting, skipped: "redis-benchmark / redis-server not installed (apt-get install redis-server)" };
  }
  const { server, port, dir } = await startRedis(options.appendfsync);
  try {
    const value = "x".repeat(options.sizeBytes);
    const args = ["-h", "127.0.0.1", "-p", String(port), "-c", String(options.connections), "-P", String(options.pipeline),
      "-n", String(options.messages), "--csv", "XADD", "bench", "*", "d", value];
    const started = performance.now();
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(binary, args, { stdio: ["ignore", "pipe", "ignore"] });
      let text = "";
      child.stdout.on("data", (c: Buffer) => (text += c.toString("utf8")));
      child.on("exit", (code) => (code === 0 ? resolve(text) : reject(new Error(`redis-benchmark exited ${code}`))));
      child.on("error", reject);
    });
    const wallSec = (performance.now() - started) / 1000;
    const row = output.trim().split("\n").pop() ?? "";
    const cells = row.split('","').map((c) => c.replace(/"/g, ""));
    const [rps, avg, , p50, , p99, max] = cells.slice(1).map(Number);
    return {
      peer: "redis",
      setting,
      fsyncBeforeAck: options.appendfsync === "always",
      command: `redis-benchmark -c ${options.connections} -P ${options.pipeline} -n ${options.messages} XADD bench '*' d <${options.sizeBytes} B>`,
      msgsPerSec: rps,
      mbPerSec: (rps * options.sizeBytes) / 1e6,
      // redis-benchmark prints only these percentiles.
      latency: { count: options.messages, p50Ms: p50, p90Ms: NaN, p99Ms: p99, p999Ms: NaN, maxMs: max, meanMs: avg },
      sent: options.messages,
      acked: options.messages,
      errors: 0,
      wallSec,
    };
  } finally {
    await server.stop(5000);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
