// A plan over several topics started all or nothing (docs/SCALING.md,
// "Starting a plan"), with a real etcd and four `sluice serve` processes, RF 3,
// min.insync.replicas 2, an idempotent acks=all producer on each topic the
// whole time: `sluice partitions reassign --plan --wait` hands over a plan
// moving every replica off the controller (every partition it holds, of
// several topics), and the controller is killed -9 the moment the request
// appears in etcd.
// Right after the kill etcd holds either every partition of the plan moving
// or none; the successor starts (or keeps) the rest, the killed broker comes
// back, every partition ends on its target, the CLI's wait ends with exit 0,
// and the queue checker finds lost 0 on every topic.

import { beforeAll, describe, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { type ClusterView, type EtcdClient, readClusterStatus, readTopics } from "../cluster/mod.ts";
import { formatReassignmentPlan, type PartitionAssignment } from "../cluster/reassignment_plan.ts";
import { run as partitions } from "../cli/partitions_cmd.ts";
import { Admin } from "../client/mod.ts";
import { checkQueueHistory, summarizeQueueReport } from "./checker/queue_checker.ts";
import { ETCD_WAIT } from "./support/etcd.ts";
import { AckedLoad, readBack } from "./support/acked_load.ts";
import { runInProcess as cli } from "./support/cli.ts";
import { useServeCluster } from "./support/serve_cluster.ts";
import { waitFor } from "./support/wait_for.ts";

const TOPICS = ["ms0", "ms1", "ms2"];
const PARTITIONS = 2;
const BROKER_IDS = [1, 2, 3, 4];
/** Sends each topic's load keeps in flight. */
const SENDS_IN_FLIGHT = 16;

const clusterName = `mstart${process.pid}`;
const cluster = useServeCluster({ clusterName, dirPrefix: "sluice-ms", ids: BROKER_IDS });
const { keys } = cluster;
let client: EtcdClient;
let view: ClusterView;
beforeAll(() => void ({ client, view } = cluster));
const bootstrap = () => cluster.bootstrap();

async function healthy(): Promise<boolean> {
  const s = await readClusterStatus(client, keys);
  return s.brokers.length === BROKER_IDS.length && s.partitions.underReplicated === 0 && s.partitions.offline === 0;
}

/** Per plan entry, as etcd holds it now: "moving" (to its target), "done" (on its target), "untouched". */
async function entryStates(plan: readonly PartitionAssignment[]): Promise<string[]> {
  const { topics } = await readTopics(client, keys);
  return plan.map((e) => {
    const record = topics.find((t) => t.name === e.topic)!.record;
    const move = record.moves?.[String(e.partition)];
    if (move !== undefined) return move.target.join() === e.replicas.join() ? "moving" : `moving elsewhere [${move.target}]`;
    return record.replicas[e.partition].join() === e.replicas.join() ? "done" : "untouched";
  });
}

describe("a plan over several topics, the controller killed -9 as it arrives", () => {
  test("every partition of the plan moves or none does at the kill; the successor finishes all; lost 0 on every topic", async () => {
    const admin = new Admin({ broker: bootstrap() });
    try {
      for (const t of TOPICS) await admin.createTopic(t, { partitions: PARTITIONS, replicationFactor: 3, configs: { "min.insync.replicas": "2" } });
    } finally {
      await admin.close();
    }
    await waitFor(() => TOPICS.every((t) => Array.from({ length: PARTITIONS }, (_, p) => view.partitionState(t, p)).every((s) => s !== undefined)), { ...ETCD_WAIT, what: "every state" });
    await waitFor(healthy, { ...ETCD_WAIT, what: "healthy" });
    const loads = TOPICS.map((topic) => new AckedLoad({ broker: bootstrap(), topic, partitions: PARTITIONS, sendsInFlight: SENDS_IN_FLIGHT }));
    for (const l of loads) await l.flowing(200, `acks on ${l.topic}`);

    // The plan moves every replica off the controller (RF 3 of 4: onto the broker a partition lacks), so every target
    // broker is alive while the controller is dead: what the successor finds is a plan it can start.
    const controller = view.controller!.brokerId;
    const plan: PartitionAssignment[] = [];
    for (const topic of TOPICS) {
      const record = view.topics.get(topic)!;
      for (let p = 0; p < PARTITIONS; p++) {
        const rs = record.replicas[p];
        if (rs.includes(controller)) plan.push({ topic, partition: p, replicas: rs.map((b) => (b === controller ? BROKER_IDS.find((x) => !rs.includes(x))! : b)) });
      }
    }
    expect(new Set(plan.map((e) => e.topic)).size).toBeGreaterThanOrEqual(2);
    const file = path.join(cluster.tmp, "plan.json");
    fs.writeFileSync(file, formatReassignmentPlan({ version: 1, partitions: plan }));
    const requestsBefore = new Set(view.requests.keys());

    // The controller dies the moment the request is in etcd (as the test's view sees it): before or just after its start.
    const killed = new Promise<void>((resolve) => {
      const unsubscribe = view.subscribe(() => {
        if (![...view.requests].some(([id, r]) => !requestsBefore.has(id) && r.request.op === "reassign")) return;
        unsubscribe();
        void cluster.kill9(controller).then(resolve);
      });
    });
    const reassign = cli((a) => partitions(a), ["reassign", "--plan", file, "--wait", "--timeout-seconds", "90", ...cluster.etcdArgs()]);
    await killed;
    // At the kill, before any successor (the controller's lease outlives it by up to its TTL): all of the plan or none of it.
    const atKill = await entryStates(plan);
    const controllerNow = (await client.range(keys.controller)).kvs.length;
    // (process.stdout: console is the CLI's while it runs.)
    process.stdout.write(`at the kill of controller ${controller} (election key ${controllerNow === 1 ? "still held" : "gone"}): ${atKill.join(", ")}\n`);
    expect(atKill.every((s) => s === "moving" || s === "done") || atKill.every((s) => s === "untouched")).toBe(true);

    await waitFor(() => view.controller !== undefined && view.controller.brokerId !== controller, { ...ETCD_WAIT, what: "a new controller" });
    await cluster.start(controller);
    const r = await reassign;
    expect({ code: r.code, out: r.code === 0 ? "" : r.out }).toEqual({ code: 0, out: "" });
    expect(await entryStates(plan)).toEqual(plan.map(() => "done"));
    expect((await client.range(keys.movePlansPrefix, { prefix: true })).kvs).toEqual([]);
    await waitFor(healthy, { timeoutMs: 60_000, everyMs: 100, what: "healthy after the moves" });

    for (const l of loads) await l.flowing(200, `acks on ${l.topic} after the moves`);
    for (const l of loads) {
      await l.stop();
      const read = await readBack({ broker: bootstrap(), topic: l.topic, partitions: PARTITIONS, history: l.history, tag: l.tag });
      const report = checkQueueHistory(l.history.events, { drained: true });
      console.log(`${l.topic}: sent ${l.sent}, acked ${l.acked}, read back ${read}; ${summarizeQueueReport(report)}`);
      expect(l.errors).toEqual([]);
      expect(report.counts.lost).toBe(0);
      expect(report.counts.unreadAcked).toBe(0);
      expect(report.valid).toBe(true);
    }
  }, 180_000);
});
