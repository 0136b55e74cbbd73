// The move bench in its small mode, so it cannot rot: real etcd and three
// broker processes (the bench's own), a 4 MiB partition moved twice at a
// throttle of 8 MiB/s, each move reported with its windows around it.

import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import path from "node:path";

const ROOT = path.resolve(import.meta.dir, "..");

test("move bench, small mode: two throttled moves, each with its rate and p99 against the windows around it", () => {
  const r = spawnSync(path.join(ROOT, "node_modules", ".bin", "bun"), ["bench/cluster_move.ts", "--mib", "4", "--throttle-mib", "8", "--unthrottled", "false", "--repeat", "2", "--base-seconds", "1"], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 110_000,
  });
  expect({ status: r.status, stderr: r.status === 0 ? "" : r.stderr }).toEqual({ status: 0, stderr: "" });
  const moves = r.stdout.split("\n").filter((l) => l.startsWith("move of big-0 (4 MiB) throttled at 8 MiB/s"));
  expect(moves.length).toBe(2);
  for (const m of moves) expect(m).toMatch(/MiB\/s; produce p50\/p99 during it [\d.]+\/[\d.]+ ms \(\d+ acks\), without a move .*: p99 [\d.]+×$/);
  expect(r.stdout).toMatch(/throttled at 8 MiB\/s, median of 2: [\d.]+ MiB\/s/);
}, 120_000);
