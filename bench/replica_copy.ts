// The CPU a partition copy costs per MiB, by thread: two brokers in this
// process (each with its worker thread, data dir and native listener on
// 127.0.0.1), the leader preloaded, then a follower copies the partition over
// TCP (the path of a move's adding replica: leader read, replica fetch
// answer, follower append, fdatasync) until it is durable. The figures are the
// process's threads' CPU time over the copy (/proc/self/task), both brokers
// together: the main thread runs both routers, "Worker" both partition
// workers. Unlike bench/cluster_move.ts it measures CPU, which swings far
// less with other work on the machine than times do.
//
//   bun bench/replica_copy.ts [--mib 256] [--runs 3]

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { Broker } from "../engine/broker.ts";
import { parseBrokerConfig } from "../engine/broker_config.ts";
import { encodeBatch } from "../protocol/record_batch.ts";

/** One 64 KiB record per batch, as bench/cluster_move.ts preloads. */
const RECORD_BYTES = 64 * 1024 - 100;
const CLOCK_TICK_MS = 10;

/** CPU milliseconds so far of each thread of this process, by thread name (digits dropped: "Worker 3" → "Worker"). */
function threadCpuMs(): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of fs.readdirSync("/proc/self/task")) {
    try {
      const name = fs.readFileSync(`/proc/self/task/${t}/comm`, "utf8").trim().replace(/\s*\d+$/, "");
      const stat = fs.readFileSync(`/proc/self/task/${t}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(name, (out.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) * CLOCK_TICK_MS);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** One copy of `MIB` MiB; CPU per MiB copied by thread name. */
export async function replicaCopy(MIB: number): Promise<{ mibPerSec: number; cpuMsPerMib: Map<string, number> }> {
  const dirs: string[] = [];
  const start = (id: number) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-rcopy-"));
    dirs.push(dir);
    return Broker.start(parseBrokerConfig({ dataDir: dir, host: "127.0.0.1", port: 0, httpPort: 0, kafkaPort: -1, workers: 1, brokerId: id }), { log: () => {} });
  };
  const leader = await start(1);
  const follower = await start(2);
  try {
    for (const b of [leader, follower]) await b.engine.createTopic("big", { partitions: 1 });
    const batch = encodeBatch([{ value: "x".repeat(RECORD_BYTES) }]);
    for (let i = 0; i < (MIB * 1024 * 1024) / (RECORD_BYTES + 100); i++) {
      await new Promise<void>((resolve) => {
        const send = (): void => {
          if (!leader.engine.produce("big", 0, batch.slice(), 1, () => resolve())) leader.engine.onWritable("big", 0, send);
        };
        send();
      });
    }
    await leader.engine.becomeLeader("big", 0, { epoch: 1, isr: [1], replicas: [1, 2] });
    const end = leader.engine.pool.state(leader.engine.resolve("big", 0)).logEndOffset;
    const before = threadCpuMs();
    const t0 = performance.now();
    follower.engine.replication.setCopying(follower.engine.resolve("big", 0), true);
    follower.engine.becomeFollower("big", 0, { epoch: 1, leader: { host: "127.0.0.1", port: leader.port } });
    const slot = follower.engine.resolve("big", 0);
    while (follower.engine.pool.state(slot).durableOffset < end) await new Promise((r) => setTimeout(r, 2));
    const secs = (performance.now() - t0) / 1000;
    const after = threadCpuMs();
    const cpuMsPerMib = new Map<string, number>();
    for (const [name, ms] of after) cpuMsPerMib.set(name, (ms - (before.get(name) ?? 0)) / MIB);
    return { mibPerSec: MIB / secs, cpuMsPerMib };
  } finally {
    await follower.stop();
    await leader.stop();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { mib: { type: "string" }, runs: { type: "string" } } });
  const mib = Number(values.mib ?? 256);
  const runs = Number(values.runs ?? 3);
  if (!(mib > 0) || !(runs > 0)) throw new Error("--mib and --runs must be positive");
  for (let i = 0; i < runs; i++) {
    const r = await replicaCopy(mib);
    const total = [...r.cpuMsPerMib.values()].reduce((a, b) => a + b, 0);
    const main = r.cpuMsPerMib.get("bun") ?? 0;
    const workers = r.cpuMsPerMib.get("Worker") ?? 0;
    console.log(
      `copy of ${mib} MiB: ${r.mibPerSec.toFixed(0)} MiB/s; CPU per MiB copied ${total.toFixed(2)} ms (routers ${main.toFixed(2)}, partition workers ${workers.toFixed(2)}, other threads ${(total - main - workers).toFixed(2)})`,
    );
  }
}
