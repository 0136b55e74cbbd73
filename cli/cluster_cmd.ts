// `sluice cluster`: look at a cluster's coordination state in etcd, and act on it.
//
//   sluice cluster status [--etcd URL[,URL…]] [--cluster-name NAME] [--json]
//   sluice cluster elect-leaders [--preferred] [--topic T [--partition P]] [--json] …
//   sluice cluster balance --by-load …
//
// status reads etcd directly (the brokers' registrations, the controller key,
// the brokers' load reports), so it works whichever brokers are up.
// elect-leaders puts an electLeaders request the controller applies
// (cluster/leader_elections.ts) under a lease of its own and prints the
// controller's answer per partition. balance --by-load reads the assignment,
// the leaders and the load reports and prints a plan (cluster/load_balance_planner.ts)
// on stdout, in the format `sluice partitions reassign --plan` takes, and the
// predicted bytes per second per broker before and after on stderr.
// --etcd defaults to $SLUICE_CLUSTER_ETCD, --cluster-name to
// $SLUICE_CLUSTER_NAME or "default".
// Exit codes: 0 shown / answered, 1 etcd unreachable or refused, 2 bad usage.

import { parseArgs } from "node:util";
import {
  type BrokerByteLoad,
  ClusterKeys,
  type ClusterStatus,
  ClusterView,
  EtcdClient,
  type LoadReport,
  LeaseKeeper,
  parseEndpointList,
  planByLoad,
  readClusterStatus,
  readLoadReports,
  readTopics,
  submitTopicRequest,
  TOPIC_REQUEST_TIMEOUT_MS,
} from "../cluster/mod.ts";
import { formatReassignmentPlan } from "../cluster/reassignment_plan.ts";
import { ErrorCode, errorInfo } from "../protocol/errors.ts";

const USAGE = `usage:
  sluice cluster status [--etcd URL[,URL...]] [--cluster-name NAME] [--json]
  sluice cluster elect-leaders [--preferred] [--topic T [--partition P]] [--etcd URL[,URL...]] [--cluster-name NAME] [--json]
  sluice cluster balance --by-load [--etcd URL[,URL...]] [--cluster-name NAME]
  sluice cluster decommission ID [--throttle-bytes-per-sec N] [--timeout-seconds S] [--etcd ...] [--cluster-name NAME]

options:
  --etcd URLS          etcd client URLs, comma-separated (default $SLUICE_CLUSTER_ETCD)
  --cluster-name NAME  the cluster (default $SLUICE_CLUSTER_NAME or 'default')
  --json               print JSON instead of a table
  --preferred          elect-leaders: each partition's first replica leads, if it is registered, not shutting down and in the ISR (the only kind: no unclean elections)
  --topic T            elect-leaders: only this topic
  --partition P        elect-leaders: only this partition of --topic
  --by-load            balance: a plan that evens out the bytes per second each broker takes (plan JSON on stdout, loads on stderr)`;

/** The lease an elect-leaders request is put under (kept alive while the command waits; revoked at the end). */
const REQUEST_LEASE_TTL_SECONDS = 10;

/** A status check should say soon that etcd is not there. */
const STATUS_TIMEOUT_MS = 3_000;

const perSec = (bytes: number) => (bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB/s` : bytes >= 1e3 ? `${(bytes / 1e3).toFixed(1)} kB/s` : `${Math.round(bytes)} B/s`);

export function formatStatus(s: ClusterStatus, loads: ReadonlyMap<number, LoadReport> = new Map()): string {
  const lines = [`cluster ${s.cluster} (etcd revision ${s.revision})`];
  lines.push(s.controller === null ? "controller: none" : `controller: broker ${s.controller.brokerId} (epoch ${s.controller.epoch})`);
  lines.push(`topics: ${s.topics}, partitions: ${s.partitions.total} (offline ${s.partitions.offline}, under-replicated ${s.partitions.underReplicated})`);
  lines.push(`brokers: ${s.brokers.length}`);
  if (s.brokers.length > 0) {
    const rows = [["ID", "HOST:PORT", "HTTP", "RACK", "IN (1 min)", "OUT (1 min)", "ROLE"]];
    for (const b of s.brokers) {
      const l = loads.get(b.id)?.totals;
      const rate = (bytes: number | undefined, msgs: number | undefined) => (bytes === undefined ? "-" : `${perSec(bytes)} ${Math.round(msgs ?? 0)} msg/s`);
      rows.push([
        String(b.id),
        `${b.host}:${b.port}`,
        String(b.httpPort),
        b.rack ?? "-",
        rate(l?.bytesInPerSec, l?.messagesInPerSec),
        rate(l?.bytesOutPerSec, l?.messagesOutPerSec),
        s.controller?.brokerId === b.id ? "controller" : "",
      ]);
    }
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    for (const r of rows) lines.push(`  ${r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()}`);
  }
  return lines.join("\n");
}

export async function run(argv: string[], env: Record<string, string | undefined> = process.env): Promise<number> {
  if (argv[0] === "decommission") return (await import("./decommission_cmd.ts")).run(argv.slice(1), env);
  let values: { etcd?: string; "cluster-name"?: string; json?: boolean; help?: boolean; preferred?: boolean; topic?: string; partition?: string; "by-load"?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: {
        etcd: { type: "string" },
        "cluster-name": { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        preferred: { type: "boolean" },
        topic: { type: "string" },
        partition: { type: "string" },
        "by-load": { type: "boolean" },
      },
      allowPositionals: true,
      strict: true,
    }));
  } catch (e) {
    console.error(`sluice cluster: ${String((e as Error).message).split("\n")[0]}\n${USAGE}`);
    return 2;
  }
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  const [sub, ...extra] = positionals;
  if ((sub !== "status" && sub !== "elect-leaders" && sub !== "balance") || extra.length > 0) {
    console.error(`sluice cluster: ${sub === undefined ? "a subcommand is needed" : `unknown subcommand '${[sub, ...extra].join(" ")}'`}\n${USAGE}`);
    return 2;
  }
  const usage = (problem: string | undefined): number | undefined => {
    if (problem === undefined) return undefined;
    console.error(`sluice cluster: ${problem}\n${USAGE}`);
    return 2;
  };
  let partition: number | undefined;
  const bad = usage(
    sub !== "elect-leaders" && (values.preferred !== undefined || values.topic !== undefined || values.partition !== undefined)
      ? "--preferred, --topic and --partition belong to elect-leaders"
      : sub !== "balance" && values["by-load"] !== undefined
        ? "--by-load belongs to balance"
        : sub === "balance" && values["by-load"] !== true
          ? "balance needs --by-load (the only kind of balance: by bytes per second)"
          : values.partition !== undefined && values.topic === undefined
            ? "--partition needs --topic"
            : values.partition !== undefined && !/^\d{1,9}$/.test(values.partition)
              ? `--partition: '${values.partition}' is not a partition number`
              : undefined,
  );
  if (bad !== undefined) return bad;
  if (values.partition !== undefined) partition = Number(values.partition);
  const rawEtcd = values.etcd ?? env.SLUICE_CLUSTER_ETCD;
  let client: EtcdClient;
  let keys: ClusterKeys;
  try {
    if (rawEtcd === undefined || rawEtcd.trim() === "") throw new Error("--etcd (or SLUICE_CLUSTER_ETCD) is needed: the cluster's etcd URLs");
    client = new EtcdClient({ endpoints: parseEndpointList(rawEtcd), callTimeoutMs: STATUS_TIMEOUT_MS });
    keys = new ClusterKeys(values["cluster-name"] ?? env.SLUICE_CLUSTER_NAME ?? "default");
  } catch (e) {
    console.error(`sluice cluster: ${(e as Error).message}`);
    return 2;
  }
  try {
    if (sub === "elect-leaders") return await electLeaders(client, keys, { topic: values.topic, partition }, values.json === true);
    if (sub === "balance") return await balanceByLoad(client, keys);
    const status = await readClusterStatus(client, keys);
    const loads = await readLoadReports(client, keys);
    if (values.json === true) {
      console.log(JSON.stringify({ ...status, load: Object.fromEntries([...loads].map(([id, r]) => [id, { windowMs: r.windowMs, ...r.totals }])) }));
    } else {
      console.log(formatStatus(status, loads));
    }
    return 0;
  } catch (e) {
    // A SluiceError carries a wire code (a number, told by name); an etcd error a string code.
    const raw = (e as { code?: string | number }).code;
    const code = typeof raw === "number" ? errorInfo(raw).name : raw;
    console.error(`sluice cluster: ${(e as Error).message}${code === undefined ? "" : ` (${code})`}`);
    return 1;
  }
}

/** `elect-leaders`: the request under a lease of this command's own, the controller's answer per partition. */
async function electLeaders(client: EtcdClient, keys: ClusterKeys, scope: { topic?: string; partition?: number }, json: boolean): Promise<number> {
  const lease = await LeaseKeeper.grant(client, { ttlSeconds: REQUEST_LEASE_TTL_SECONDS });
  const view = ClusterView.start({ client, keys });
  try {
    const request = { op: "electLeaders" as const, ...(scope.topic === undefined ? {} : { topic: scope.topic }), ...(scope.partition === undefined ? {} : { partition: scope.partition }) };
    const r = await submitTopicRequest({ client, keys, view, leaseId: lease.id }, request, TOPIC_REQUEST_TIMEOUT_MS);
    const e = r.elections;
    if (e === undefined) throw new Error("the controller answered without per-partition outcomes");
    if (json) {
      console.log(JSON.stringify(e));
      return 0;
    }
    const rows = [["TOPIC", "PARTITION", "LEADER", "RESULT"]];
    for (const p of e.partitions) {
      const result = p.errorCode === ErrorCode.NONE ? "moved to the preferred leader" : `not moved: ${p.reason} (${errorInfo(p.errorCode).name})`;
      rows.push([p.topic, String(p.partition), String(p.leader), result]);
    }
    const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
    for (const row of rows) console.log(row.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
    console.log(`moved ${e.moved}, already led by the preferred leader ${e.notNeeded}, not moved ${e.notAvailable}${e.omitted > 0 ? ` (${e.omitted} not listed)` : ""}`);
    return 0;
  } finally {
    await view.close();
    await lease.revoke();
  }
}

/** `balance --by-load`: the plan on stdout, the predicted loads on stderr. */
async function balanceByLoad(client: EtcdClient, keys: ClusterKeys): Promise<number> {
  const status = await readClusterStatus(client, keys);
  const { topics } = await readTopics(client, keys);
  const reports = await readLoadReports(client, keys);
  const brokers = status.brokers.map((b) => b.id);
  const silent = brokers.filter((b) => !reports.has(b));
  if (silent.length > 0) {
    console.error(`broker${silent.length > 1 ? "s" : ""} ${silent.join(", ")} published no load report yet (every 10 s once running): their partitions count as idle where no other replica reported them`);
  }
  const current = topics.flatMap((t) => t.record.replicas.map((replicas, partition) => ({ topic: t.name, partition, replicas, leader: t.partitions[partition]?.leader ?? -1 })));
  const r = planByLoad({ current, brokers, reports, racks: new Map(status.brokers.map((b) => [b.id, b.rack])) });
  console.log(formatReassignmentPlan(r.plan));
  const after = new Map(r.after.map((l) => [l.broker, l.bytesPerSec]));
  const rows = [["BROKER", "BEFORE", "AFTER"]];
  for (const l of r.before) rows.push([String(l.broker), perSec(l.bytesPerSec), perSec(after.get(l.broker) ?? 0)]);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const spread = (list: readonly BrokerByteLoad[]) => {
    const v = list.filter((l) => brokers.includes(l.broker)).map((l) => l.bytesPerSec);
    return v.length === 0 ? "-" : `max ${perSec(Math.max(...v))}, min ${perSec(Math.min(...v))}`;
  };
  console.error(
    `${r.plan.partitions.length} partition${r.plan.partitions.length === 1 ? " changes" : "s change"}: ${r.moves} replica${r.moves === 1 ? "" : "s"} to copy (${r.bytesToCopy} bytes), ${r.leaderChanges} preferred leader${r.leaderChanges === 1 ? "" : "s"} change\n` +
      `predicted bytes per second per broker (in + out; after: each partition led by its first replica):\n` +
      rows.map((row) => `  ${row.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()}`).join("\n") +
      `\nbefore: ${spread(r.before)}; after: ${spread(r.after)}`,
  );
  return 0;
}
