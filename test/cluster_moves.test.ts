// Moving partitions online (docs/SCALING.md, "Executing a move"), with a real
// etcd and `sluice serve` processes, RF 3, min.insync.replicas 2, an
// idempotent acks=all producer running throughout, every ack recorded and
// judged by the queue checker (test/checker/) after a read-back:
//
// (a) 3 → 4 brokers: a generated plan moves a quarter of the replicas onto
//     the new broker (`sluice partitions reassign --plan --wait`), while a
//     consumer reads; lost 0, the consumer saw every acked value, and every
//     partition's replicas hold byte-identical logs at the end.
// (b) `sluice cluster decommission` of a broker under load: same checks, and
//     its data directory holds no partition afterwards.
// (c) a throttled move: the copy rate stays within 20% of the throttle, the
//     adding broker copies on a connection of its own (its copy fetcher
//     brought the whole preload); produce p99 during the move is measured and
//     printed against a 2 s baseline just before it; then the
//     controller is killed with -9 in the middle of a second move, which its
//     successor finishes.
// (d) the receiving broker killed with -9 in the middle of a move, the move
//     cancelled (`--cancel`): back to the old replicas, lost 0; restarted, the
//     broker drops its partial copy. Then the same move again, the receiving
//     broker killed -9 and restarted mid-copy: it catches up, the move
//     finishes, lost 0, replicas byte-identical.

import { beforeAll, describe, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { type ClusterView, type EtcdClient, readClusterStatus, readTopics } from "../cluster/mod.ts";
import { generateReassignment } from "../cluster/reassignment_generator.ts";
import { formatReassignmentPlan, type PartitionAssignment } from "../cluster/reassignment_plan.ts";
import { run as decommission } from "../cli/decommission_cmd.ts";
import { run as partitions } from "../cli/partitions_cmd.ts";
import { parseMoveMetrics, readMetrics } from "../cli/reassign_exec.ts";
import { Consumer } from "../client/mod.ts";
import { checkQueueHistory, summarizeQueueReport } from "./checker/queue_checker.ts";
import { ETCD_WAIT } from "./support/etcd.ts";
import { AckedLoad, readBack } from "./support/acked_load.ts";
import { runInProcess as cli } from "./support/cli.ts";
import { useServeCluster } from "./support/serve_cluster.ts";
import { waitFor } from "./support/wait_for.ts";

const PARTITIONS = 4;
/** Sends the load keeps in flight. */
const SENDS_IN_FLIGHT = 64;
const MOVE_TIMEOUT_MS = 60_000;

const clusterName = `moves${process.pid}`;
const cluster = useServeCluster({ clusterName, dirPrefix: "sluice-mv", ids: [1, 2, 3] });
const { brokers, dataDirs, done, keys } = cluster;
let client: EtcdClient;
let view: ClusterView;
let tmp: string;
beforeAll(() => void ({ client, view, tmp } = cluster));
const decoder = new TextDecoder();
const etcdArgs = () => cluster.etcdArgs();
const start = (id: number) => cluster.start(id);
const kill9 = (id: number) => cluster.kill9(id);
const bootstrap = () => cluster.bootstrap();

const createTopic = (name: string) => cluster.createTopic(name, PARTITIONS);

async function healthy(n: number): Promise<boolean> {
  const s = await readClusterStatus(client, keys);
  return s.brokers.length === n && s.partitions.underReplicated === 0 && s.partitions.offline === 0;
}

function judge(name: string, load: AckedLoad): void {
  const report = checkQueueHistory(load.history.events, { drained: true });
  console.log(`${name}: ${summarizeQueueReport(report)}`);
  expect(load.errors).toEqual([]);
  expect(report.counts.lost).toBe(0);
  expect(report.counts.unreadAcked).toBe(0);
  expect(report.inconsistent).toEqual([]);
  expect(report.valid).toBe(true);
}

/** A replica's log on disk: its segment files' bytes, in order. */
function logBytes(id: number, topic: string, p: number): Buffer | undefined {
  const dir = path.join(dataDirs.get(id)!, "topics", topic, String(p));
  if (!fs.existsSync(dir)) return undefined;
  return Buffer.concat(fs.readdirSync(dir).filter((f) => f.endsWith(".log")).sort().map((f) => fs.readFileSync(path.join(dir, f))));
}

/** Waits until every replica of every partition of `topic` holds the same log bytes (the load has stopped). */
async function replicasIdentical(topic: string): Promise<void> {
  await waitFor(() => {
    const record = view.topics.get(topic)!;
    for (let p = 0; p < PARTITIONS; p++) {
      const logs = record.replicas[p].map((b) => logBytes(b, topic, p));
      if (logs.some((l) => l === undefined || l.length === 0 || !l.equals(logs[0]!))) return false;
    }
    return true;
  }, { timeoutMs: 30_000, everyMs: 100, what: `${topic}: every replica's log byte-identical` });
}

/** Partition directories under a broker's data dir (any topic). */
function partitionDirs(id: number): string[] {
  const root = path.join(dataDirs.get(id)!, "topics");
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root).flatMap((t) => (fs.statSync(path.join(root, t)).isDirectory() ? fs.readdirSync(path.join(root, t)).filter((p) => /^\d+$/.test(p)).map((p) => `${t}/${p}`) : []));
}

function writePlan(name: string, plan: readonly PartitionAssignment[]): string {
  const file = path.join(tmp, `${name}.json`);
  fs.writeFileSync(file, formatReassignmentPlan({ version: 1, partitions: plan }));
  return file;
}


/** What the cluster looked like when a wait failed (for the failure's explanation). */
function dump(topic: string, what: string): void {
  const record = view.topics.get(topic);
  const parts = Array.from({ length: PARTITIONS }, (_, p) => `${p}: replicas [${record?.replicas[p]}] ${JSON.stringify(view.partitionState(topic, p))}`);
  console.log(`${what}; ${topic} moves ${JSON.stringify(record?.moves)}\n${parts.join("\n")}`);
  for (const [id, b] of brokers) console.log(`broker ${id}:\n${b.output().split("\n").slice(-25).join("\n")}`);
}

/** waitFor, and the cluster's state printed when it times out. */
async function waitOrDump(topic: string, condition: () => boolean | Promise<boolean>, options: { timeoutMs: number; everyMs: number; what: string }): Promise<void> {
  try {
    await waitFor(condition, options);
  } catch (e) {
    dump(topic, options.what);
    throw e;
  }
}
const noMoves = (topic: string) => view.topics.get(topic)?.moves === undefined;

describe("moving partitions under load", () => {
  test("3 → 4 brokers: a generated plan moves a quarter of the replicas onto the new broker; lost 0, replicas identical", async () => {
    await createTopic("grow");
    await waitFor(() => healthy(3), { ...ETCD_WAIT, what: "healthy" });
    const load = new AckedLoad({ broker: bootstrap(), topic: "grow", partitions: PARTITIONS, sendsInFlight: SENDS_IN_FLIGHT, onStall: (what) => dump("grow", what) });
    // A consumer reading the whole time (it must see every acked value).
    const seen = new Set<string>();
    const reader = new Consumer({ broker: bootstrap(), fetchMaxWaitMs: 100, connectTimeoutMs: 500 });
    reader.assign(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: "grow", partition, position: "beginning" as const })));
    let reading = true;
    const readerErrors: string[] = [];
    const readerRun = (async () => {
      while (reading) {
        try {
          for (const r of await reader.poll({ maxWaitMs: 100 })) seen.add(r.value === null ? "" : decoder.decode(r.value).split("|")[0]);
        } catch (e) {
          readerErrors.push((e as Error)?.message ?? String(e)); // a leader moved: the client looks it up again
        }
      }
    })();
    await load.flowing(1_000, "acks before broker 4");
    await start(4);
    await waitFor(() => view.brokers.size === 4, { ...ETCD_WAIT, what: "broker 4 registered" });
    const { topics } = await readTopics(client, keys);
    const current = topics.flatMap((t) => t.record.replicas.map((replicas, partition) => ({ topic: t.name, partition, replicas })));
    const g = generateReassignment({ current, brokers: [1, 2, 3, 4] });
    expect(g.moves).toBe((PARTITIONS * 3) / 4);
    const t0 = performance.now();
    const r = await cli((a) => partitions(a), ["reassign", "--plan", writePlan("grow", g.plan.partitions), "--wait", "--timeout-seconds", "60", ...etcdArgs()]);
    const moveMs = performance.now() - t0;
    expect({ code: r.code, out: r.code === 0 ? "" : r.out }).toEqual({ code: 0, out: "" });
    expect(noMoves("grow")).toBe(true);
    const onNew = view.topics.get("grow")!.replicas.filter((rs) => rs.includes(4)).length;
    expect(onNew).toBe(g.moves);
    await load.flowing(500, "acks after the moves");
    await load.stop();
    const acked = load.history.events.filter((e) => e.kind === "ack").map((e) => (e as { value: string }).value);
    await waitFor(() => acked.every((v) => seen.has(v)), { timeoutMs: 30_000, everyMs: 50, what: "the consumer saw every acked value" });
    reading = false;
    await readerRun;
    await reader.close();
    const read = await readBack({ broker: bootstrap(), topic: "grow", partitions: PARTITIONS, history: load.history, tag: load.tag });
    console.log(`grow: ${g.moves} replicas moved onto broker 4 in ${Math.round(moveMs)} ms; sent ${load.sent}, acked ${load.acked}, read back ${read}; consumer errors (retried) ${readerErrors.length}`);
    judge("grow", load);
    await replicasIdentical("grow");
    expect(partitionDirs(4).filter((d) => d.startsWith("grow/")).length).toBe(onNew);
  }, 120_000);

  test("decommission a broker under load: every replica moves off it and its data dir holds no partition; lost 0", async () => {
    await createTopic("shrink");
    await waitFor(() => healthy(4), { ...ETCD_WAIT, what: "healthy" });
    const load = new AckedLoad({ broker: bootstrap(), topic: "shrink", partitions: PARTITIONS, sendsInFlight: SENDS_IN_FLIGHT, onStall: (what) => dump("shrink", what) });
    await load.flowing(1_000, "acks before the decommission");
    const victim = 1;
    const r = await cli((a) => decommission(a), [String(victim), "--timeout-seconds", "60", ...etcdArgs()]);
    expect({ code: r.code, out: r.code === 0 ? "" : r.out }).toEqual({ code: 0, out: "" });
    for (const [, record] of view.topics) for (const rs of record.replicas) expect(rs).not.toContain(victim);
    expect(partitionDirs(victim)).toEqual([]);
    await load.flowing(500, "acks after the decommission");
    await load.stop();
    await readBack({ broker: bootstrap(), topic: "shrink", partitions: PARTITIONS, history: load.history, tag: load.tag });
    judge("shrink", load);
    await replicasIdentical("shrink");
    await replicasIdentical("grow");
  }, 120_000);

  /** What the leader of `topic`-`p` has sent under the throttle so far, and its adding replicas' fetch offsets. */
  async function leaderProgress(topic: string, p: number): Promise<{ throttled: number; fetch: Map<number, number>; end: number } | undefined> {
    const leader = view.partitionState(topic, p)?.leader;
    const b = leader === undefined ? undefined : view.brokers.get(leader);
    if (b === undefined) return undefined;
    const text = await readMetrics(b.info.host, b.info.httpPort);
    if (text === null) return undefined;
    const m = parseMoveMetrics(text);
    const throttled = Number(/^sluice_move_throttled_bytes_total (\d+)$/m.exec(text)?.[1] ?? NaN);
    const part = m.parts.get(`${topic}\u0000${p}`);
    return { throttled, fetch: part?.fetch ?? new Map(), end: part?.end ?? 0 };
  }

  /** A number from broker `id`'s /metrics (the first group of `re`), or undefined when the page or the line is missing. */
  async function brokerMetric(id: number, re: RegExp): Promise<number | undefined> {
    const b = view.brokers.get(id);
    if (b === undefined) return undefined;
    const text = await readMetrics(b.info.host, b.info.httpPort);
    const m = text === null ? null : re.exec(text);
    return m === null ? undefined : Number(m[1]);
  }

  const THROTTLE = 2 * 1024 * 1024;
  const PRELOAD = 8 * 1024 * 1024;

  test("a throttled move copies within 20% of the throttle (produce p99 measured); the controller killed -9 mid-move, its successor finishes it", async () => {
    await createTopic("slow");
    await waitFor(() => healthy(4), { ...ETCD_WAIT, what: "healthy" });
    const all = [...view.brokers.keys()];
    // Partition q, moved later: its leader and adding broker are not the controller, which is killed once the copy runs.
    const controller = view.controller!.brokerId;
    const q = [1, 2, 3].find((x) => {
      const rs = view.topics.get("slow")!.replicas[x];
      return view.partitionState("slow", x)!.leader !== controller && all.find((b) => !rs.includes(b)) !== controller;
    });
    expect(q).toBeDefined();
    const load = new AckedLoad({ broker: bootstrap(), topic: "slow", partitions: PARTITIONS, sendsInFlight: SENDS_IN_FLIGHT, preload: { partitions: [0, q!], bytes: PRELOAD }, onStall: (what) => dump("slow", what) });
    await load.preloaded;
    await load.flowing(500, "acks before the throttled move");
    // Partition 0: the broker that holds no replica of it replaces a follower.
    const r0 = view.topics.get("slow")!.replicas[0];
    const leader0 = view.partitionState("slow", 0)!.leader;
    const add0 = all.find((b) => !r0.includes(b))!;
    const drop0 = r0.find((b) => b !== leader0)!;
    const target0 = r0.map((b) => (b === drop0 ? add0 : b));
    // The baseline: at least as many acks as before, over at least 2 s (a p99 over a tenth of a second says little).
    const baseFrom = performance.now();
    await load.flowing(500, "baseline acks");
    await waitFor(() => performance.now() - baseFrom >= 2_000, { timeoutMs: 5_000, everyMs: 50, what: "a 2 s baseline" });
    const baseTo = performance.now();
    const copiedBefore = (await brokerMetric(add0, /^sluice_replica_fetched_bytes_total\{kind="copy"\} (\d+)$/m)) ?? NaN;
    const tStart = performance.now();
    const r = await cli((a) => partitions(a), ["reassign", "--plan", writePlan("slow0", [{ topic: "slow", partition: 0, replicas: target0 }]), "--throttle-bytes-per-sec", String(THROTTLE), ...etcdArgs()]);
    expect({ code: r.code, out: r.code === 0 ? "" : r.out }).toEqual({ code: 0, out: "" });
    // Two samples of the leader's throttled bytes while the copy runs, at least a second apart.
    const first = await (async () => {
      let s: { at: number; bytes: number } | undefined;
      await waitFor(async () => {
        const p = await leaderProgress("slow", 0);
        if (p === undefined || !(p.throttled > 0)) return false;
        s = { at: performance.now(), bytes: p.throttled };
        return true;
      }, { timeoutMs: 20_000, everyMs: 20, what: "the throttled copy started" });
      return s!;
    })();
    let second: { at: number; bytes: number; fetch: number; end: number } | undefined;
    await waitFor(async () => {
      const p = await leaderProgress("slow", 0);
      if (p === undefined) return false;
      if (performance.now() - first.at < 1_500) return false;
      second = { at: performance.now(), bytes: p.throttled, fetch: p.fetch.get(add0) ?? -1, end: p.end };
      return true;
    }, { timeoutMs: 20_000, everyMs: 50, what: "a second sample of the throttled copy" });
    // Foreground isolation: the adding broker copies on a connection of its own (a copy fetcher), not in the
    // fetch answers that carry its other partitions' records (and with them the acks=all of their leaders).
    const copyFetchers = await brokerMetric(add0, /^sluice_replica_fetchers\{kind="copy"\} (\d+)$/m);
    // The copy of the preload (its first PRELOAD / 16 KiB offsets) must still have been running at the second sample (else the rate says nothing).
    expect(second!.fetch).toBeLessThan(PRELOAD / (16 * 1024));
    const rate = (second!.bytes - first.bytes) / ((second!.at - first.at) / 1000);
    const moveFrom = performance.now();
    await waitFor(() => noMoves("slow"), { timeoutMs: MOVE_TIMEOUT_MS, everyMs: 50, what: "the throttled move done" });
    const moveTo = performance.now();
    const base = load.p99(baseFrom, baseTo);
    const during = load.p99(tStart, moveTo);
    console.log(
      `throttled move of slow-0 (${PRELOAD >> 20} MiB preloaded) onto broker ${add0}: copy rate ${(rate / (1 << 20)).toFixed(2)} MiB/s at a throttle of ${THROTTLE >> 20} MiB/s (${((rate / THROTTLE) * 100).toFixed(0)}%), ` +
        `move ${Math.round(moveTo - tStart)} ms; produce p99 ${during.p99.toFixed(1)} ms during (${during.n} acks) vs ${base.p99.toFixed(1)} ms before (${base.n} acks); waited ${Math.round(moveTo - moveFrom)} ms after the samples`,
    );
    expect(rate).toBeGreaterThan(THROTTLE * 0.8);
    expect(rate).toBeLessThan(THROTTLE * 1.2);
    expect(view.topics.get("slow")!.replicas[0]).toEqual(target0);
    expect(copyFetchers).toBeGreaterThanOrEqual(1);
    // The whole preload came through the copy fetcher; once the move is done its connection closes.
    const copiedAfter = (await brokerMetric(add0, /^sluice_replica_fetched_bytes_total\{kind="copy"\} (\d+)$/m)) ?? NaN;
    expect(copiedAfter - copiedBefore).toBeGreaterThanOrEqual(PRELOAD);
    await waitFor(async () => (await brokerMetric(add0, /^sluice_replica_fetchers\{kind="copy"\} (\d+)$/m)) === 0, { ...ETCD_WAIT, what: `broker ${add0}'s copy fetcher closed` });

    // Partition q: the controller is killed once the copy runs.
    expect(view.controller!.brokerId).toBe(controller);
    const r1 = view.topics.get("slow")!.replicas[q!];
    const leader1 = view.partitionState("slow", q!)!.leader;
    const add1 = all.find((b) => !r1.includes(b))!;
    const drop1 = r1.includes(controller) && controller !== leader1 ? controller : r1.find((b) => b !== leader1)!;
    const target1 = r1.map((b) => (b === drop1 ? add1 : b));
    const r2 = await cli((a) => partitions(a), ["reassign", "--plan", writePlan("slow1", [{ topic: "slow", partition: q!, replicas: target1 }]), "--throttle-bytes-per-sec", String(THROTTLE), ...etcdArgs()]);
    expect({ code: r2.code, out: r2.code === 0 ? "" : r2.out }).toEqual({ code: 0, out: "" });
    await waitFor(async () => ((await leaderProgress("slow", q!))?.fetch.get(add1) ?? -1) > 0, { timeoutMs: 20_000, everyMs: 20, what: `slow-${q}'s copy started` });
    expect(noMoves("slow")).toBe(false);
    await kill9(controller);
    await waitFor(() => view.controller !== undefined && view.controller.brokerId !== controller, { ...ETCD_WAIT, what: "a new controller" });
    await waitOrDump("slow", () => noMoves("slow"), { timeoutMs: MOVE_TIMEOUT_MS, everyMs: 50, what: "the move finished by the new controller" });
    expect(view.topics.get("slow")!.replicas[q!]).toEqual(target1);
    console.log(`slow-${q}: controller ${controller} killed -9 while broker ${add1} copied it; the new controller ${view.controller?.brokerId} finished the move`);
    await start(controller);
    await waitFor(() => healthy(4), { timeoutMs: 60_000, everyMs: 100, what: `broker ${controller} back, healthy` });
    await load.flowing(300, "acks after the controller's restart");
    await load.stop();
    await readBack({ broker: bootstrap(), topic: "slow", partitions: PARTITIONS, history: load.history, tag: load.tag });
    judge("slow", load);
  }, 150_000);

  test("the receiving broker killed -9 mid-move: cancelled, back to the old replicas (its partial copy dropped on restart); or restarted, it catches up and the move finishes; lost 0", async () => {
    await createTopic("undo");
    await waitFor(() => healthy(4), { ...ETCD_WAIT, what: "healthy" });
    const controller = view.controller!.brokerId;
    const all = [...view.brokers.keys()];
    // A partition whose missing broker (the one that will receive it) is not the controller.
    const p = [0, 1, 2, 3].find((q) => {
      const rs = view.topics.get("undo")!.replicas[q];
      return all.find((b) => !rs.includes(b)) !== controller;
    })!;
    const load = new AckedLoad({ broker: bootstrap(), topic: "undo", partitions: PARTITIONS, sendsInFlight: SENDS_IN_FLIGHT, preload: { partitions: [p], bytes: PRELOAD / 2 }, onStall: (what) => dump("undo", what) });
    await load.preloaded;
    await load.flowing(300, "acks before the move");
    const old = view.topics.get("undo")!.replicas[p];
    const leader = view.partitionState("undo", p)!.leader;
    const add = all.find((b) => !old.includes(b))!;
    const target = old.map((b) => (b === old.find((x) => x !== leader) ? add : b));
    const r = await cli((a) => partitions(a), ["reassign", "--plan", writePlan("cancel", [{ topic: "undo", partition: p, replicas: target }]), "--throttle-bytes-per-sec", String(THROTTLE), ...etcdArgs()]);
    expect({ code: r.code, out: r.code === 0 ? "" : r.out }).toEqual({ code: 0, out: "" });
    await waitFor(async () => ((await leaderProgress("undo", p))?.fetch.get(add) ?? -1) > 0, { timeoutMs: 20_000, everyMs: 20, what: `undo-${p}'s copy started` });
    await kill9(add);
    expect(partitionDirs(add)).toContain(`undo/${p}`);
    const status = await cli((a) => partitions(a), ["reassign", "--status", "--json", ...etcdArgs()]);
    expect(status.code).toBe(0);
    const moves = (JSON.parse(status.out.split("\n").find((l) => l.startsWith("{"))!) as { moves: { topic: string; partition: number; adding: number[] }[] }).moves;
    expect(moves.map((m) => [m.topic, m.partition, m.adding])).toEqual([["undo", p, [add]]]);
    const c = await cli((a) => partitions(a), ["reassign", "--cancel", ...etcdArgs()]);
    expect({ code: c.code, out: c.code === 0 ? "" : c.out }).toEqual({ code: 0, out: "" });
    expect(noMoves("undo")).toBe(true);
    expect(view.topics.get("undo")!.replicas[p]).toEqual(old);
    await load.flowing(300, "acks after the cancel");
    await start(add);
    await waitFor(() => !partitionDirs(add).includes(`undo/${p}`), { timeoutMs: 30_000, everyMs: 50, what: `broker ${add} dropped its partial copy of undo-${p}` });
    await waitFor(() => healthy(4), { timeoutMs: 60_000, everyMs: 100, what: "healthy" });

    // The same move again, the receiving broker killed -9 mid-copy and restarted on its data dir: it catches up and the move finishes.
    const again = await cli((a) => partitions(a), ["reassign", "--plan", writePlan("again", [{ topic: "undo", partition: p, replicas: target }]), "--throttle-bytes-per-sec", String(THROTTLE), ...etcdArgs()]);
    expect({ code: again.code, out: again.code === 0 ? "" : again.out }).toEqual({ code: 0, out: "" });
    await waitFor(async () => ((await leaderProgress("undo", p))?.fetch.get(add) ?? -1) > 0, { timeoutMs: 20_000, everyMs: 20, what: `undo-${p}'s second copy started` });
    await kill9(add);
    await start(add);
    await waitOrDump("undo", () => noMoves("undo"), { timeoutMs: MOVE_TIMEOUT_MS, everyMs: 50, what: "the move finished after the receiving broker's restart" });
    expect(view.topics.get("undo")!.replicas[p]).toEqual(target);
    await load.flowing(300, "acks after the move");
    await load.stop();
    await readBack({ broker: bootstrap(), topic: "undo", partitions: PARTITIONS, history: load.history, tag: load.tag });
    judge("undo", load);
    await replicasIdentical("undo");
  }, 150_000);
});
