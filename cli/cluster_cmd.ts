// `sluice cluster`: look at a cluster's coordination state in etcd.
//
//   sluice cluster status [--etcd URL[,URL…]] [--cluster-name NAME] [--json]
//
// Reads etcd directly (the brokers' registrations and the controller key), so
// it works whichever brokers are up. --etcd defaults to $SLUICE_CLUSTER_ETCD,
// --cluster-name to $SLUICE_CLUSTER_NAME or "default".
// Exit codes: 0 shown, 1 etcd unreachable or refused, 2 bad usage.

import { parseArgs } from "node:util";
import { ClusterKeys, type ClusterStatus, EtcdClient, parseEndpointList, readClusterStatus } from "../cluster/mod.ts";

const USAGE = `usage:
  sluice cluster status [--etcd URL[,URL...]] [--cluster-name NAME] [--json]
  sluice cluster decommission ID [--throttle-bytes-per-sec N] [--timeout-seconds S] [--etcd ...] [--cluster-name NAME]

options:
  --etcd URLS          etcd client URLs, comma-separated (default $SLUICE_CLUSTER_ETCD)
  --cluster-name NAME  the cluster (default $SLUICE_CLUSTER_NAME or 'default')
  --json               print JSON instead of a table`;

/** A status check should say soon that etcd is not there. */
const STATUS_TIMEOUT_MS = 3_000;

export function formatStatus(s: ClusterStatus): string {
  const lines = [`cluster ${s.cluster} (etcd revision ${s.revision})`];
  lines.push(s.controller === null ? "controller: none" : `controller: broker ${s.controller.brokerId} (epoch ${s.controller.epoch})`);
  lines.push(`topics: ${s.topics}, partitions: ${s.partitions.total} (offline ${s.partitions.offline}, under-replicated ${s.partitions.underReplicated})`);
  lines.push(`brokers: ${s.brokers.length}`);
  if (s.brokers.length > 0) {
    const rows = [["ID", "HOST:PORT", "HTTP", "RACK", "ROLE"]];
    for (const b of s.brokers) {
      rows.push([String(b.id), `${b.host}:${b.port}`, String(b.httpPort), b.rack ?? "-", s.controller?.brokerId === b.id ? "controller" : ""]);
    }
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    for (const r of rows) lines.push(`  ${r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()}`);
  }
  return lines.join("\n");
}

export async function run(argv: string[], env: Record<string, string | undefined> = process.env): Promise<number> {
  if (argv[0] === "decommission") return (await import("./decommission_cmd.ts")).run(argv.slice(1), env);
  let values: { etcd?: string; "cluster-name"?: string; json?: boolean; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: { etcd: { type: "string" }, "cluster-name": { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
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
  if (sub !== "status" || extra.length > 0) {
    console.error(`sluice cluster: ${sub === undefined ? "a subcommand is needed" : `unknown subcommand '${[sub, ...extra].join(" ")}'`}\n${USAGE}`);
    return 2;
  }
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
    const status = await readClusterStatus(client, keys);
    console.log(values.json === true ? JSON.stringify(status) : formatStatus(status));
    return 0;
  } catch (e) {
    const code = (e as { code?: string }).code;
    console.error(`sluice cluster: ${(e as Error).message}${code === undefined ? "" : ` (${code})`}`);
    return 1;
  }
}
