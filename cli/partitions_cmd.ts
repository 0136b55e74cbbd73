// `sluice partitions`: plan where a cluster's partitions live.
//
//   sluice partitions reassign --generate --brokers 1,2,3,4 [--topics a,b]
//                              [--etcd URL[,URL…]] [--cluster-name NAME]
//
// Prints a balanced plan on stdout in Kafka's reassignment JSON (the format a
// plan file takes, cluster/reassignment_plan.ts), and on stderr the moves and
// each broker's replica and leader counts before and after. Reads the
// assignment and the brokers' racks from etcd, like `sluice cluster status`.
// --topics limits the plan to those topics (their replicas are what gets
// balanced, as Kafka's --generate does); by default every topic.
// Exit codes: 0 printed, 1 etcd unreachable or a refusal (named), 2 bad usage.

import { parseArgs } from "node:util";
import { ClusterKeys, EtcdClient, parseEndpointList, readClusterStatus, readTopics } from "../cluster/mod.ts";
import { type BrokerLoad, generateReassignment } from "../cluster/reassignment_generator.ts";
import { formatReassignmentPlan, type PartitionAssignment } from "../cluster/reassignment_plan.ts";

const USAGE = `usage:
  sluice partitions reassign --generate --brokers ID,ID,... [--topics T,T,...] [--etcd URL[,URL...]] [--cluster-name NAME]

options:
  --generate           print a balanced plan (JSON on stdout; moves and per-broker counts on stderr)
  --brokers IDS        the brokers the partitions should end on (a broker left out is emptied)
  --topics NAMES       only these topics (default: every topic)
  --etcd URLS          etcd client URLs, comma-separated (default $SLUICE_CLUSTER_ETCD)
  --cluster-name NAME  the cluster (default $SLUICE_CLUSTER_NAME or 'default')`;

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
  let values: { generate?: boolean; brokers?: string; topics?: string; etcd?: string; "cluster-name"?: string; help?: boolean };
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
  if (positionals.join(" ") !== "reassign" || values.generate !== true) {
    console.error(`sluice partitions: ${positionals.length === 0 ? "a subcommand is needed" : "only 'reassign --generate' is available"}\n${USAGE}`);
    return 2;
  }
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
    const registered = new Map(status.brokers.map((b) => [b.id, b.rack]));
    const missing = brokers.filter((b) => !registered.has(b));
    if (missing.length > 0) {
      console.error(`sluice partitions: broker${missing.length > 1 ? "s" : ""} ${missing.join(", ")} not registered (start it with this cluster's etcd first) (BROKER_NOT_AVAILABLE)`);
      return 1;
    }
    const { topics } = await readTopics(client, keys);
    const wanted = values.topics === undefined ? undefined : new Set(values.topics.split(",").map((s) => s.trim()));
    const unknown = wanted === undefined ? [] : [...wanted].filter((t) => !topics.some((v) => v.name === t));
    if (unknown.length > 0) {
      console.error(`sluice partitions: unknown topic${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")} (UNKNOWN_TOPIC_OR_PARTITION)`);
      return 1;
    }
    const current: PartitionAssignment[] = [];
    for (const t of topics) {
      if (wanted !== undefined && !wanted.has(t.name)) continue;
      t.record.replicas.forEach((replicas, partition) => current.push({ topic: t.name, partition, replicas }));
    }
    const g = generateReassignment({ current, brokers, racks: registered });
    console.log(formatReassignmentPlan(g.plan));
    console.error(
      `${g.plan.partitions.length} of ${current.length} partitions change: ${g.moves} replica${g.moves === 1 ? "" : "s"} to copy, ` +
        `${g.leaderChanges} preferred leader${g.leaderChanges === 1 ? "" : "s"} change\n${formatLoads(g.before, g.after)}`,
    );
    return 0;
  } catch (e) {
    const code = (e as { code?: string | number }).code;
    console.error(`sluice partitions: ${(e as Error).message}${code === undefined ? "" : ` (${code})`}`);
    return 1;
  }
}
