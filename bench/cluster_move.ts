// Moving one large partition between brokers (docs/SCALING.md): the time and
// bytes per second of the copy, unthrottled and throttled, and the produce p99 of a small acks=all load on another
// topic during each move against the same load without a move. Real etcd and
// three `sluice serve` processes.
//
//   bun bench/cluster_move.ts [--mib 1024] [--throttle-mib 50[,20...]] [--unthrottled true|false]
//                             [--repeat 1] [--base-seconds 5]
//
// The moved partition has one replica ([a] → [b], then on to the next broker
// for the next move), so the preload writes the data once; the foreground
// topic has RF 3 and min.insync.replicas 2, so every broker leads one of its
// partitions and follows the other two. On a shared machine the load of other
// work swings from one second to the next, so each move is compared with the
// windows without a move just before and just after it (`--base-seconds`
// each): "p99 without" pools those two, and the ratio is the move's p99 over
// it. With `--repeat N` every mode runs N times, alternating, and the summary
// gives the median of each.

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

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    mib: { type: "string" },
    "throttle-mib": { type: "string" },
    unthrottled: { type: "string" },
    repeat: { type: "string" },
    "base-seconds": { type: "string" },
  },
});
const MIB = Number(values.mib ?? 1024);
const THROTTLES_MIB = (values["throttle-mib"] ?? "50").split(",").filter((s) => s !== "").map(Number);
const UNTHROTTLED = (values.unthrottled ?? "true") !== "false";
const REPEAT = Number(values.repeat ?? 1);
const BASE_MS = Number(values["base-seconds"] ?? 5) * 1000;
for (const [name, v] of [["--mib", MIB], ["--repeat", REPEAT], ["--base-seconds", BASE_MS], ...THROTTLES_MIB.map((t) => ["--throttle-mib", t] as const)] as const) {
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number`);
}
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
  const latencies = (windows: [number, number][]) =>
    lat
      .filter((x) => windows.some(([from, to]) => x.at >= from && x.at <= to))
      .map((x) => x.ms)
      .sort((a, b) => a - b);
  const pct = (l: number[], q: number) => (l.length === 0 ? NaN : l[Math.min(l.length - 1, Math.floor(l.length * q))]);

  /** A window without a move. */
  const baseWindow = async (): Promise<{ span: [number, number] }> => {
    const from = performance.now();
    await new Promise((r) => setTimeout(r, BASE_MS));
    return { span: [from, performance.now()] };
  };

  interface Moved {
    mode: string;
    secs: number;
    mibPerSec: number;
    span: [number, number];
  }
  const move = async (throttleMib: number | null): Promise<Moved> => {
    const from = view.topics.get("big")!.replicas[0][0];
    const to = [1, 2, 3].find((b) => b !== from && !view.topics.get("big")!.replicas[0].includes(b))!;
    const s = performance.now();
    await submitPlan(client, keys, [{ topic: "big", partition: 0, replicas: [to] }], throttleMib === null ? null : throttleMib * 1024 * 1024);
    await waitFor(() => view.topics.get("big")!.moves === undefined, { timeoutMs: 3_600_000, everyMs: 20, what: "the move done" });
    const e = performance.now();
    const secs = (e - s) / 1000;
    return { mode: throttleMib === null ? "unthrottled" : `throttled at ${throttleMib} MiB/s`, secs, mibPerSec: MIB / secs, span: [s, e] };
  };

  await new Promise((r) => setTimeout(r, 2_000)); // the load's first acks (connections, metadata) are not a baseline
  const modes: (number | null)[] = [...(UNTHROTTLED ? [null] : []), ...THROTTLES_MIB];
  const results: { mode: string; mibPerSec: number; ratio: number }[] = [];
  let before = await baseWindow();
  for (let r = 0; r < REPEAT; r++) {
    for (const mode of modes) {
      const m = await move(mode);
      const after = await baseWindow();
      const during = latencies([m.span]);
      const without = latencies([before.span, after.span]);
      const ratio = pct(during, 0.99) / pct(without, 0.99);
      results.push({ mode: m.mode, mibPerSec: m.mibPerSec, ratio });
      console.log(
        `move of big-0 (${MIB} MiB) ${m.mode}: ${m.secs.toFixed(1)} s, ${m.mibPerSec.toFixed(1)} MiB/s; ` +
          `produce p50/p99 during it ${pct(during, 0.5).toFixed(1)}/${pct(during, 0.99).toFixed(1)} ms (${during.length} acks), ` +
          `without a move (${BASE_MS / 1000} s before and after) ${pct(without, 0.5).toFixed(1)}/${pct(without, 0.99).toFixed(1)} ms (${without.length} acks): p99 ${ratio.toFixed(2)}×`,
      );
      before = after;
    }
  }
  if (REPEAT > 1) {
    const median = (l: number[]) => [...l].sort((a, b) => a - b)[Math.floor(l.length / 2)];
    for (const mode of new Set(results.map((r) => r.mode))) {
      const rs = results.filter((r) => r.mode === mode);
      console.log(`${mode}, median of ${rs.length}: ${median(rs.map((r) => r.mibPerSec)).toFixed(1)} MiB/s, produce p99 ${median(rs.map((r) => r.ratio)).toFixed(2)}× without a move`);
    }
  }
  running = false;
  await fgRun;
  await fg.close();
} finally {
  await view.close();
  for (const b of brokers.values()) await b.cleanup();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  await etcd.stop();
}
