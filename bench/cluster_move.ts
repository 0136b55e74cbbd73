// Moving one large partition between brokers (docs/SCALING.md): the time and
// bytes per second of the copy, unthrottled and throttled, and the produce p99
// of a small acks=all load on another topic during each move against the same
// load without a move. Real etcd and three `sluice serve` processes.
//
//   bun bench/cluster_move.ts [--mib 1024] [--throttle-mib 50]
//
// The moved partition has one replica ([a] → [b], then back [b] → [a] under
// the throttle), so the preload writes the data once; the foreground topic
// has RF 3 and min.insync.replicas 2.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { ClusterKeys, ClusterView, EtcdClient } from "../cluster/mod.ts";
import { submitPlan } from "../cli/reassign_exec.ts";
import { Admin, Producer } from "../client/mod.ts";
import { type BrokerProcess, startBroker } from "../test/support/broker.ts";
import { ETCD_WAIT, startEtcd } from "../test/support/etcd.ts";
import { waitFor } from "../test/support/wait_for.ts";

const { values } = parseArgs({ args: process.argv.slice(2), options: { mib: { type: "string" }, "throttle-mib": { type: "string" } } });
const MIB = Number(values.mib ?? 1024);
const THROTTLE_MIB = Number(values["throttle-mib"] ?? 50);
const RECORD = 64 * 1024;
const FG_IN_FLIGHT = 8;

const etcd = await startEtcd({ members: 1 });
const client = new EtcdClient({ endpoints: etcd.endpoints });
const clusterName = `bench-move-${process.pid}`;
const keys = new ClusterKeys(clusterName);
const view = ClusterView.start({ client, keys });
const brokers = new Map<number, BrokerProcess>();
const dirs: string[] = [];
try {
  for (const id of [1, 2, 3]) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sluice-bm${id}-`));
    dirs.push(dir);
    brokers.set(id, await startBroker({ dataDir: dir, args: ["--cluster-etcd", etcd.endpoints.join(","), "--broker-id", String(id), "--cluster-name", clusterName, "--min-insync-replicas", "1"] }));
  }
  await waitFor(() => view.brokers.size === 3 && view.controller !== undefined, { ...ETCD_WAIT, what: "brokers" });
  const bootstrap = [...brokers.values()].map((b) => `127.0.0.1:${b.port}`).join(",");
  const admin = new Admin({ broker: bootstrap });
  await admin.createTopic("big", { partitions: 1, replicationFactor: 1 });
  await admin.createTopic("fg", { partitions: 3, replicationFactor: 3, configs: { "min.insync.replicas": "2" } });
  await admin.close();
  await waitFor(() => view.partitionState("big", 0) !== undefined && [0, 1, 2].every((p) => view.partitionState("fg", p)?.isr.length === 3), { ...ETCD_WAIT, what: "topics" });

  // Preload.
  const t0 = performance.now();
  const pre = new Producer({ broker: bootstrap, acks: 1, lingerMs: 5 });
  const value = new Uint8Array(RECORD).fill(120);
  const pending = new Set<Promise<unknown>>();
  for (let i = 0; i < (MIB * 1024 * 1024) / RECORD; i++) {
    if (pending.size >= 256) await Promise.race(pending);
    const p = pre.send("big", { partition: 0, value }).finally(() => pending.delete(p));
    pending.add(p);
  }
  await Promise.all(pending);
  await pre.close();
  console.log(`preloaded ${MIB} MiB into big-0 in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  // The foreground load: acks=all, small records, latency per ack.
  const fg = new Producer({ broker: bootstrap, acks: "all", idempotent: true, lingerMs: 1 });
  const lat: { at: number; ms: number }[] = [];
  let running = true;
  const fgRun = (async () => {
    const inflight = new Set<Promise<unknown>>();
    let i = 0;
    while (running) {
      if (inflight.size >= FG_IN_FLIGHT) {
        await Promise.race(inflight);
        continue;
      }
      const s = performance.now();
      const p = fg.send("fg", { partition: i++ % 3, value: "x".repeat(100) }).then(() => lat.push({ at: performance.now(), ms: performance.now() - s })).finally(() => inflight.delete(p));
      inflight.add(p);
    }
    await Promise.all(inflight);
  })();
  const p99 = (from: number, to: number) => {
    const l = lat.filter((x) => x.at >= from && x.at <= to).map((x) => x.ms).sort((a, b) => a - b);
    return { p99: l[Math.min(l.length - 1, Math.floor(l.length * 0.99))], n: l.length };
  };
  const baseFrom = performance.now();
  await new Promise((r) => setTimeout(r, 5_000));
  const base = p99(baseFrom, performance.now());
  console.log(`produce p99 without a move: ${base.p99.toFixed(1)} ms (${base.n} acks over 5 s)`);

  const move = async (throttle: number | null) => {
    const from = view.topics.get("big")!.replicas[0][0];
    const to = [1, 2, 3].find((b) => b !== from && !view.topics.get("big")!.replicas[0].includes(b))!;
    const s = performance.now();
    await submitPlan(client, keys, [{ topic: "big", partition: 0, replicas: [to] }], throttle);
    await waitFor(() => view.topics.get("big")!.moves === undefined, { timeoutMs: 3_600_000, everyMs: 20, what: "the move done" });
    const e = performance.now();
    const during = p99(s, e);
    const secs = (e - s) / 1000;
    console.log(
      `move of big-0 (${MIB} MiB) ${from} → ${to} ${throttle === null ? "unthrottled" : `throttled at ${THROTTLE_MIB} MiB/s`}: ${secs.toFixed(1)} s, ${(MIB / secs).toFixed(1)} MiB/s; produce p99 during it ${during.p99.toFixed(1)} ms (${during.n} acks)`,
    );
  };
  await move(null);
  await move(THROTTLE_MIB * 1024 * 1024);
  running = false;
  await fgRun;
  await fg.close();
} finally {
  await view.close();
  for (const b of brokers.values()) await b.cleanup();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  await etcd.stop();
}
