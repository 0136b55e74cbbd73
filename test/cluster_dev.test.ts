// `sluice dev cluster` (npm run cluster): etcd and brokers come up, the
// printed etcd endpoints answer `sluice cluster status`, and Ctrl-C stops
// every process it started and removes its data folder.

import { expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ETCD_WAIT } from "./support/etcd.ts";
import { waitFor } from "./support/wait_for.ts";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BUN = path.join(REPO_ROOT, "node_modules", ".bin", "bun");

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test("sluice dev cluster: two brokers on one etcd member, status through the printed endpoints, Ctrl-C leaves nothing behind", async () => {
  const proc = spawn(BUN, ["cli/main.ts", "dev", "cluster", "--brokers", "2", "--etcd-members", "1", "--base-port", "0"], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  proc.stdout.on("data", (c: Buffer) => (out += c.toString("utf8")));
  proc.stderr.on("data", (c: Buffer) => (err += c.toString("utf8")));
  const exited = new Promise<number>((resolve) => proc.on("exit", (code) => resolve(code ?? 1)));
  try {
    await waitFor(() => out.includes("sluice dev cluster ready") || proc.exitCode !== null, { what: "ready", timeoutMs: 90_000, everyMs: 50 });
    expect(out).toContain("sluice dev cluster ready");
    const dir = /data under (\S+)/.exec(out)![1];
    const endpoints = /^\s+etcd\s+(http\S+)/m.exec(out)![1];
    const pids = [...out.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
    const etcdPids = /\(pids ([\d, ]+)\)/.exec(out)![1].split(",").map((x) => Number(x.trim()));
    expect(pids.length).toBe(2);
    expect(fs.existsSync(dir)).toBe(true);
    let status: { brokers: { id: number }[]; controller: { brokerId: number } | null } | undefined;
    await waitFor(() => {
      const r = spawnSync(BUN, ["cli/main.ts", "cluster", "status", "--json", "--etcd", endpoints], { cwd: REPO_ROOT, encoding: "utf8", timeout: 20_000 });
      if (r.status !== 0) return false;
      status = JSON.parse(r.stdout);
      return status!.brokers.length === 2 && status!.controller !== null;
    }, { ...ETCD_WAIT, what: "both brokers and a controller in etcd" });
    expect(status!.brokers.map((b) => b.id)).toEqual([1, 2]);
    proc.kill("SIGINT");
    expect(await exited).toBe(0);
    for (const pid of [...pids, ...etcdPids]) expect(alive(pid)).toBe(false);
    expect(fs.existsSync(dir)).toBe(false);
    expect(err).toContain("stopping brokers, then etcd");
  } finally {
    if (proc.exitCode === null) {
      // SIGINT first: a SIGKILL'd dev cluster cannot stop the etcd and broker processes it started.
      proc.kill("SIGINT");
      const stopped = await Promise.race([exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 30_000))]);
      if (!stopped) {
        proc.kill("SIGKILL");
        await exited;
      }
    }
  }
});

test("sluice dev cluster: bad arguments are exit 2 with the usage", () => {
  const r = spawnSync(BUN, ["cli/main.ts", "dev", "cluster", "--etcd-members", "2"], { cwd: REPO_ROOT, encoding: "utf8", timeout: 20_000 });
  expect(r.status).toBe(2);
  expect(r.stderr).toContain("--etcd-members must be 1 or 3");
  expect(r.stderr).toContain("usage:");
});
