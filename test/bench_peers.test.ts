// The peers benchmark in its small mode: every runner still starts its server,
// moves a few messages and stops it, the limits probes run briefly, and the
// output ends with one JSON line. A peer that is not installed is reported as
// skipped rather than failing the run.

import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { which } from "../bench/load/server_process.ts";

const ROOT = path.resolve(import.meta.dir, "..");

describe("bench:peers --small", () => {
  test("measures the limits, runs each installed peer and Sluice, and ends with one JSON object", () => {
    const run = spawnSync(process.execPath, [path.join(ROOT, "bench", "peers.ts"), "--small"], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(run.status).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    const json = JSON.parse(lines[lines.length - 1]);
    expect(json.small).toBe(true);
    expect(json.limits.diskSeqWriteFdatasyncMiBps).toBeGreaterThan(0);
    expect(json.limits.fdatasyncPerSec).toBeGreaterThan(0);
    expect(json.limits.loopbackTcpMiBps).toBeGreaterThan(0);
    const byKey = new Map<string, { skipped: string | null; msgsPerSecMedian: number | null; detail: { lost?: number[] } }>(
      json.rows.map((r: { key: string }) => [r.key, r]),
    );
    for (const [key, binary] of [["redis-always", "redis-server"], ["redis-everysec", "redis-server"], ["nats", "nats-server"]] as const) {
      const row = byKey.get(key);
      expect(row).toBeDefined();
      if (which(binary) === undefined) {
        expect(row!.skipped).toContain("not installed");
      } else {
        expect(row!.skipped).toBeNull();
        expect(row!.msgsPerSecMedian).toBeGreaterThan(0);
        // Every acknowledged message is in the server afterwards.
        expect(row!.detail.lost).toEqual([0]);
      }
    }
    // Sluice's row comes from a real `sluice bench e2e --embedded --json` child process.
    const sluice = byKey.get("sluice-e2e");
    expect(sluice?.skipped).toBeNull();
    expect(sluice?.msgsPerSecMedian).toBeGreaterThan(0);
    expect(sluice?.detail.lost).toEqual([0]);
  }, 40_000);

  test("a peer whose binary is missing is skipped with a note, not a failure", () => {
    const run = spawnSync(process.execPath, [path.join(ROOT, "bench", "peers.ts"), "--small", "--skip", "sluice,limits,redis-everysec"], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 30_000,
      env: { ...process.env, PATH: "/nonexistent", SLUICE_PEERS_SEARCH_SBIN: "0" },
    });
    expect(run.status).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    const json = JSON.parse(lines[lines.length - 1]);
    const skipped = json.rows.filter((r: { skipped: string | null }) => r.skipped !== null).map((r: { key: string }) => r.key);
    expect(skipped).toEqual(["redis-always", "nats"]);
    expect(run.stdout).toContain("apt-get install");
  }, 40_000);
});
