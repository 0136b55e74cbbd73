// `sluice partitions`: plan and move where a cluster's partitions live
// (docs/SCALING.md).
//
//   sluice partitions reassign --generate --brokers 1,2,3,4 [--topics a,b]
//   sluice partitions reassign --plan plan.json [--throttle-bytes-per-sec N] [--wait]
//   sluice partitions reassign --status [--json]
//   sluice partitions reassign --cancel [--plan plan.json]
//   (each with [--etcd URL[,URL…]] [--cluster-name NAME])
//
// --generate prints a balanced plan on stdout in Kafka's reassignment JSON
// (the format a plan file takes, cluster/reassignment_plan.ts), and on stderr
// the moves and each broker's replica and leader counts before and after.
// Reads the assignment and the brokers' racks from etcd, like `sluice cluster
// status`. --topics limits the plan to those topics (their replicas are what
// gets balanced, as Kafka's --generate does); by default every topic.
// --plan checks the plan and hands it to the controller, which starts the
// moves (--wait: until they are done, with progress on stderr); --status
// shows each move's bytes copied, remaining and ETA, from its leader
// (cli/reassign_exec.ts); --cancel rolls moves back (those of --plan, or all).
// Exit codes: 0 done, 1 etcd unreachable or a refusal (named), 2 bad usage.

import { parseArgs } from "node:util";
import { ClusterKeys, EtcdClient, parseEndpointList, proposeReassignment, readClusterStatus, readTopics } from "../cluster/mod.ts";
import type { BrokerLoad } from "../cluster/reassignment_generator.ts";
import { checkPlanAgainst, formatReassignmentPlan, parseReassignmentPlan, type PartitionAssignment } from "../cluster/reassignment_plan.ts";
import { etaSeconds, formatMoveStatus, moveKeys, readMoveStatus, submitPlan, submitRequest, waitForMoves } from "./reassign_exec.ts";
import fs from "node:fs";
import { errorInfo } from "../protocol/errors.ts";

/** How long --wait waits by default. */
const DEFAULT_WAIT_SECONDS = 3_600;

const USAGE = `usage:
  sluice partitions reassign --generate --brokers ID,ID,... [--topics T,T,...] [--etcd URL[,URL...]] [--cluster-name NAME]
  sluice partitions reassign --plan FILE [--throttle-bytes-per-sec N] [--wait [--timeout-seconds S]] [--etcd ...] [--cluster-name NAME]
  sluice partitions reassign --status [--json] [--etcd ...] [--cluster-name NAME]
  sluice partitions reassign --cancel [--plan FILE] [--etcd ...] [--cluster-name NAME]

options:
  --generate           print a balanced plan (JSON on stdout; moves and per-broker counts on stderr)
  --brokers IDS        the brokers the partitions should end on (a broker left out is emptied)
  --topics NAMES       only these topics (default: every topic)
  --plan FILE          execute this plan (Kafka's reassignment JSON); with --cancel, cancel its partitions' moves
  --throttle-bytes-per-sec N  what each leader sends to the replicas being added, at most (default: no cap)
  --wait               wait until the moves are done, with progress on stderr
  --timeout-seconds S  how long --wait waits (default ${DEFAULT_WAIT_SECONDS})
  --status             show the moves in progress: bytes copied, remaining, ETA (--json: JSON)
  --cancel             roll moves back to their old replicas
  --etcd URLS          etcd client URLs, comma-separated (default $SLUICE_CLUSTER_ETCD)
  --cluster-name NAME  the cluster (default $SLUICE_CLUSTER_NAME or 'default')`;

/** --status reads twice this far apart for a rate and an ETA. */
const STATUS_SAMPLE_MS = 1_000;

/** A planning command should say soon that etcd is not there. */
const READ_TIMEOUT_MS = 3_000;

function parseIds(raw: string): number[] {
  const ids = raw.split(",").map((s) => s.trim());
  for (const s of ids) if (!/^\d+$/.test(s)) throw new Error(`--brokers: '${s}' is not a broker id`);
  return ids.map(Number);
}

export function formatLoads(before: readonly BrokerLoad[], after: readonly BrokerLoad[]): string {
  const ids = [...new Set([...before, ...after].map((l) => l.broker))].sort((a, b) => a - b);
  const at = (list: readonly BrokerLoad[], id: number) => list.find((l) => l.broker === id) ?? { replicas: 0, leaders: 0 };
  const rows = [["BROKER", "REPLICAS", "LEADERS"]];
  for (const id of ids) {
    const b = at(before, id);
    const a = at(after, id);
    rows.push([String(id), `${b.replicas} -> ${a.replicas}`, `${b.leaders} -> ${a.leaders}`]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => `  ${r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()}`).join("\n");
}

export async function run(argv: string[], env: Record<string, string | undefined> = process.env): Promise<number> {
  let values: {
    generate?: boolean;
    brokers?: string;
    topics?: string;
    etcd?: string;
    "cluster-name"?: string;
    help?: boolean;
    plan?: string;
    "throttle-bytes-per-sec"?: string;
    wait?: boolean;
    "timeout-seconds"?: string;
    status?: boolean;
    cancel?: boolean;
    json?: boolean;
  };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: {
        generate: { type: "boolean" },
        brokers: { type: "string" },
        topics: { type: "string" },
        etcd: { type: "string" },
        "cluster-name": { type: "string" },
        help: { type: "boolean", short: "h" },
        plan: { type: "string" },
        "throttle-bytes-per-sec": { type: "string" },
        wait: { type: "boolean" },
        "timeout-seconds": { type: "string" },
        status: { type: "boolean" },
        cancel: { type: "boolean" },
        json: { type: "boolean" },
      },
      allowPositionals: true,
      strict: true,
    }));
  } catch (e) {
    console.error(`sluice partitions: ${String((e as Error).message).split("\n")[0]}\n${USAGE}`);
    return 2;
  }
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  const modes = [values.generate, values.status, values.cancel, values.plan !== undefined && values.cancel !== true].filter((m) => m === true).length;
  if (positionals.join(" ") !== "reassign" || modes !== 1) {
    console.error(`sluice partitions: ${positionals.length === 0 ? "a subcommand is needed" : "'reassign' takes one of --generate, --plan, --status, --cancel"}\n${USAGE}`);
    return 2;
  }
  if (values.generate !== true) return execute(values, env);
  let brokers: number[];
  let client: EtcdClient;
  let keys: ClusterKeys;
  try {
    if (values.brokers === undefined) throw new Error("--brokers is needed: the brokers the partitions should end on");
    brokers = parseIds(values.brokers);
    const rawEtcd = values.etcd ?? env.SLUICE_CLUSTER_ETCD;
    if (rawEtcd === undefined || rawEtcd.trim() === "") throw new Error("--etcd (or SLUICE_CLUSTER_ETCD) is needed: the cluster's etcd URLs");
    client = new EtcdClient({ endpoints: parseEndpointList(rawEtcd), callTimeoutMs: READ_TIMEOUT_MS });
    keys = new ClusterKeys(values["cluster-name"] ?? env.SLUICE_CLUSTER_NAME ?? "default");
  } catch (e) {
    console.error(`sluice partitions: ${(e as Error).message}`);
    return 2;
  }
  try {
    const status = await readClusterStatus(client, keys);
    const { topics } = await readTopics(client, keys);
    const current = topics.filter((t) => values.topics === undefined || values.topics.split(",").map((s) => s.trim()).includes(t.name));
    const total = current.reduce((n, t) => n + t.record.partitions, 0);
    // The same planner the ProposeReassignment admin call runs on a broker (cluster/reassignment_admin.ts).
    const g = proposeReassignment({
      topics: topics.map((t) => [t.name, t.record] as const),
      registered: new Map(status.brokers.map((b) => [b.id, b.rack])),
      brokers,
      onlyTopics: values.topics === undefined ? null : values.topics.split(",").map((s) => s.trim()),
    });
    console.log(formatReassignmentPlan(g.plan));
    console.error(
      `${g.plan.partitions.length} of ${total} partitions change: ${g.moves} replica${g.moves === 1 ? "" : "s"} to copy, ` +
        `${g.leaderChanges} preferred leader${g.leaderChanges === 1 ? "" : "s"} change\n${formatLoads(g.before, g.after)}`,
    );
    return 0;
  } catch (e) {
    const code = (e as { code?: string | number }).code;
    const named = typeof code === "number" ? errorInfo(code).name : code;
    console.error(`sluice partitions: ${(e as Error).message}${named === undefined ? "" : ` (${named})`}`);
    return 1;
  }
}

function numberOption(raw: string | undefined, name: string): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^[1-9]\d{0,14}$/.test(raw.trim())) throw new Error(`${name}: '${raw}' is not a positive integer`);
  return Number(raw);
}

/** --plan, --status, --cancel. */
async function execute(
  values: { plan?: string; "throttle-bytes-per-sec"?: string; wait?: boolean; "timeout-seconds"?: string; status?: boolean; cancel?: boolean; json?: boolean; etcd?: string; "cluster-name"?: string },
  env: Record<string, string | undefined>,
): Promise<number> {
  let client: EtcdClient;
  let keys: ClusterKeys;
  let throttle: number | undefined;
  let timeoutS: number;
  let plan: PartitionAssignment[] | undefined;
  try {
    throttle = numberOption(values["throttle-bytes-per-sec"], "--throttle-bytes-per-sec");
    timeoutS = numberOption(values["timeout-seconds"], "--timeout-seconds") ?? DEFAULT_WAIT_SECONDS;
    const rawEtcd = values.etcd ?? env.SLUICE_CLUSTER_ETCD;
    if (rawEtcd === undefined || rawEtcd.trim() === "") throw new Error("--etcd (or SLUICE_CLUSTER_ETCD) is needed: the cluster's etcd URLs");
    client = new EtcdClient({ endpoints: parseEndpointList(rawEtcd), callTimeoutMs: READ_TIMEOUT_MS });
    keys = new ClusterKeys(values["cluster-name"] ?? env.SLUICE_CLUSTER_NAME ?? "default");
    if (values.plan !== undefined) {
      let text: string;
      try {
        text = fs.readFileSync(values.plan, "utf8");
      } catch (e) {
        throw new Error(`--plan: cannot read ${values.plan}: ${(e as Error).message}`);
      }
      plan = [...parseReassignmentPlan(text).partitions];
    }
  } catch (e) {
    const code = (e as { code?: string | number }).code;
    console.error(`sluice partitions: ${(e as Error).message}${code === undefined ? "" : ` (${code})`}`);
    return code === undefined ? 2 : 1;
  }
  try {
    if (values.status === true) {
      const first = await readMoveStatus(client, keys);
      let eta = new Map<string, { rate: number | null; eta: number | null }>();
      let list = first;
      if (first.length > 0) {
        await new Promise((r) => setTimeout(r, STATUS_SAMPLE_MS));
        list = await readMoveStatus(client, keys);
        eta = etaSeconds(first, list, STATUS_SAMPLE_MS / 1000);
      }
      if (values.json === true) {
        console.log(JSON.stringify({ moves: list.map((m) => ({ ...m, bytesPerSec: eta.get(`${m.topic}-${m.partition}`)?.rate ?? null, etaSeconds: eta.get(`${m.topic}-${m.partition}`)?.eta ?? null })) }));
      } else {
        console.log(formatMoveStatus(list, eta, process.stdout.isTTY === true));
      }
      return 0;
    }
    if (values.cancel === true) {
      const r = await submitRequest(client, keys, { op: "cancelReassignment", partitions: plan === undefined ? null : plan.map((p) => ({ topic: p.topic, partition: p.partition })) });
      console.error(r.message ?? "cancelled");
      return 0;
    }
    const { topics } = await readTopics(client, keys);
    const status = await readClusterStatus(client, keys);
    checkPlanAgainst({ version: 1, partitions: plan! }, {
      partitionsOf: (t) => topics.find((v) => v.name === t)?.record.partitions,
      brokers: new Set(status.brokers.map((b) => b.id)),
    });
    const r = await submitPlan(client, keys, plan!, throttle ?? null);
    console.error(r.message ?? "started");
    if (values.wait === true) {
      await waitForMoves(client, keys, moveKeys(plan!), timeoutS * 1000, (line) => console.error(line));
      console.error("every move is done");
    }
    return 0;
  } catch (e) {
    const code = (e as { code?: string | number }).code;
    console.error(`sluice partitions: ${(e as Error).message}${code === undefined ? "" : ` (${code})`}`);
    return 1;
  }
}
