// `sluice bench` in its small mode, as a user runs it: a real embedded broker
// process, producer and consumer threads, every message consumed back and
// checked. Protects: the JSON contract of --json (last line, named fields),
// the lost/consumed accounting, and that the embedded broker's temp dir is
// removed afterwards.

import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const ROOT = path.resolve(import.meta.dir, "..");

function bench(args: string[]) {
  return spawnSync(process.execPath, [path.join(ROOT, "cli", "main.ts"), "bench", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 30_000,
  });
}

describe("sluice bench (small mode)", () => {
  test("e2e --embedded --messages 2000 --json: every message comes back, nothing lost, JSON is the last line", () => {
    const run = bench(["e2e", "--embedded", "--messages", "2000", "--json", "--partitions", "4", "--producers", "2", "--consumers", "2"]);
    if (run.status !== 0) console.error(run.stdout, run.stderr);
    expect(run.status).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    const result = JSON.parse(lines[lines.length - 1]);
    for (const field of ["msgsPerSec", "mbPerSec", "p50Ms", "p99Ms", "p999Ms", "sent", "acked", "consumed", "lost"]) {
      expect(result).toHaveProperty(field);
    }
    expect(result.sent).toBe(2000);
    expect(result.acked).toBe(2000);
    expect(result.consumed).toBe(2000);
    expect(result.lost).toBe(0);
    expect(result.corrupt).toBe(0);
    expect(result.duplicates).toBe(0);
    expect(result.msgsPerSec).toBeGreaterThan(0);
    expect(result.p99Ms).toBeGreaterThan(0);
    expect(result.p50Ms).toBeLessThanOrEqual(result.p99Ms);
    expect(result.e2eLatency.count).toBe(2000);
    expect(result.produce.ackLatency.count).toBe(2000);
    expect(result.broker.rssMaxMiB).toBeGreaterThan(0);
    // The human-readable report comes first.
    expect(run.stdout).toContain("end-to-end");
    // The embedded broker's data dir was a temp dir, and it is gone.
    expect(result.embeddedDataDir.startsWith(path.join(os.tmpdir(), "sluice-bench-"))).toBe(true);
    expect(fs.existsSync(result.embeddedDataDir)).toBe(false);
  }, 40_000);

  test("the protocol-only baseline client (--client raw) runs the same accounting", () => {
    const run = bench(["e2e", "--embedded", "--messages", "1000", "--json", "--client", "raw", "--rate", "5000"]);
    expect(run.status).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    const result = JSON.parse(lines[lines.length - 1]);
    expect(result).toMatchObject({ sent: 1000, acked: 1000, consumed: 1000, lost: 0 });
    expect(result.parameters.client).toBe("raw");
    // At 5,000 msgs/s, 1,000 messages take about 0.2 s of intended send times.
    expect(result.produce.wallSec).toBeGreaterThan(0.15);
  }, 40_000);

  test("the raw client one message per request (--batch-bytes 0), pipelined: every message comes back exactly once", () => {
    const run = bench(["e2e", "--embedded", "--messages", "3000", "--json", "--client", "raw", "--batch-bytes", "0", "--partitions", "4", "--producers", "2", "--consumers", "2"]);
    if (run.status !== 0) console.error(run.stdout, run.stderr);
    expect(run.status).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    const result = JSON.parse(lines[lines.length - 1]);
    expect(result).toMatchObject({ sent: 3000, acked: 3000, consumed: 3000, lost: 0, duplicates: 0, corrupt: 0, errors: 0 });
    expect(result.parameters.batchBytes).toBe(0);
  }, 40_000);

  test("--compression: every message comes back through zstd batches, and the topic takes less disk than uncompressed", () => {
    const disk: Record<string, number> = {};
    for (const codec of ["none", "zstd"]) {
      const run = bench(["e2e", "--embedded", "--messages", "5000", "--partitions", "2", "--payload", "log", "--compression", codec, "--json"]);
      if (run.status !== 0) console.error(run.stdout, run.stderr);
      expect(run.status).toBe(0);
      const result = JSON.parse(run.stdout.trimEnd().split("\n").pop()!);
      expect(result).toMatchObject({ sent: 5000, acked: 5000, consumed: 5000, lost: 0, corrupt: 0 });
      expect(result.parameters).toMatchObject({ compression: codec, payload: "log" });
      expect(run.stdout).toContain(`compression ${codec}, payload log`);
      disk[codec] = result.disk.bytes;
    }
    // 100-byte log-line messages: zstd batches take well under half the disk of plain ones.
    expect(disk.none).toBeGreaterThan(5000 * 100);
    expect(disk.zstd * 2).toBeLessThan(disk.none);
  }, 60_000);

  test("bad arguments: exit 2 with the usage, no broker started", () => {
    const run = bench(["e2e", "--embedded", "--acks", "7"]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("--acks must be 0, 1 or all");
    expect(run.stderr).toContain("usage: sluice bench");
  });
});
