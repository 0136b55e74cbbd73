// `sluice cluster decommission BROKER`: moves every replica off a broker, so
// it can be stopped with no partition under-replicated (docs/SCALING.md,
// "Decommission").
//
//   sluice cluster decommission ID [--throttle-bytes-per-sec N] [--timeout-seconds S]
//                                  [--etcd URL[,URL…]] [--cluster-name NAME]
//
// Generates a balanced plan over the other registered brokers
// (cluster/reassignment_generator.ts: a broker left out is emptied), hands it
// to the controller, and waits until every move is done and the broker's
// `/metrics` says it hosts no partition (its files are deleted), with
// progress on stderr. Exit codes: 0 done, 1 a refusal or timeout (named), 2 bad usage.

import { parseArgs } from "node:util";
import { ClusterKeys, EtcdClient, parseEndpointList, proposeReassignment, readClusterStatus, readTopics } from "../cluster/mod.ts";
import { formatLoads } from "./partitions_cmd.ts";
import { MOVE_POLL_MS, moveKeys, parseMoveMetrics, readMetrics, submitPlan, waitForMoves } from "./reassign_exec.ts";

const USAGE = `usage:
  sluice cluster decommission ID [--throttle-bytes-per-sec N] [--timeout-seconds S] [--etcd URL[,URL...]] [--cluster-name NAME]

options:
  --throttle-bytes-per-sec N  what each leader sends to the replicas being added, at most (default: no cap)
  --timeout-seconds S  how long to wait for the moves (default 3600)
  --etcd URLS          etcd client URLs, comma-separated (default $SLUICE_CLUSTER_ETCD)
  --cluster-name NAME  the cluster (default $SLUICE_CLUSTER_NAME or 'default')`;

const CALL_TIMEOUT_MS = 3_000;
const DEFAULT_TIMEOUT_SECONDS = 3_600;

export async function run(argv: string[], env: Record<string, string | undefined> = process.env): Promise<number> {
  let values: { etcd?: string; "cluster-name"?: string; "throttle-bytes-per-sec"?: string; "timeout-seconds"?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: {
        etcd: { type: "string" },
        "cluster-name": { type: "string" },
        "throttle-bytes-per-sec": { type: "string" },
        "timeout-seconds": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: true,
      strict: true,
    }));
  } catch (e) {
    console.error(`sluice cluster decommission: ${String((e as Error).message).split("\n")[0]}\n${USAGE}`);
    return 2;
  }
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  let broker: number;
  let client: EtcdClient;
  let keys: ClusterKeys;
  let throttle: number | null = null;
  let timeoutS = DEFAULT_TIMEOUT_SECONDS;
  try {
    if (positionals.length !== 1 || !/^\d{1,9}$/.test(positionals[0])) throw new Error("one broker id is needed");
    broker = Number(positionals[0]);
    const t = values["throttle-bytes-per-sec"];
    if (t !== undefined) {
      if (!/^[1-9]\d{0,14}$/.test(t)) throw new Error(`--throttle-bytes-per-sec: '${t}' is not a positive integer`);
      throttle = Number(t);
    }
    const w = values["timeout-seconds"];
    if (w !== undefined) {
      if (!/^[1-9]\d{0,9}$/.test(w)) throw new Error(`--timeout-seconds: '${w}' is not a positive integer`);
      timeoutS = Number(w);
    }
    const rawEtcd = values.etcd ?? env.SLUICE_CLUSTER_ETCD;
    if (rawEtcd === undefined || rawEtcd.trim() === "") throw new Error("--etcd (or SLUICE_CLUSTER_ETCD) is needed: the cluster's etcd URLs");
    client = new EtcdClient({ endpoints: parseEndpointList(rawEtcd), callTimeoutMs: CALL_TIMEOUT_MS });
    keys = new ClusterKeys(values["cluster-name"] ?? env.SLUICE_CLUSTER_NAME ?? "default");
  } catch (e) {
    console.error(`sluice cluster decommission: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  try {
    const status = await readClusterStatus(client, keys);
    const me = status.brokers.find((b) => b.id === broker);
    if (me === undefined) throw Object.assign(new Error(`broker ${broker} is not registered`), { code: "BROKER_NOT_AVAILABLE" });
    const others = status.brokers.filter((b) => b.id !== broker);
    const { topics } = await readTopics(client, keys);
    // The plan Admin.decommission starts too: ProposeReassignment over every other broker (cluster/reassignment_admin.ts).
    const g = proposeReassignment({
      topics: topics.map((t) => [t.name, t.record] as const),
      registered: new Map(status.brokers.map((b) => [b.id, b.rack])),
      brokers: others.map((b) => b.id),
      onlyTopics: null,
    });
    console.error(`decommission of broker ${broker}: ${g.plan.partitions.length} partitions change, ${g.moves} replicas to copy\n${formatLoads(g.before, g.after)}`);
    const deadline = performance.now() + timeoutS * 1000;
    if (g.plan.partitions.length > 0) {
      const r = await submitPlan(client, keys, g.plan.partitions, throttle);
      console.error(r.message ?? "started");
      await waitForMoves(client, keys, moveKeys(g.plan.partitions), timeoutS * 1000, (line) => console.error(line));
    }
    // The moves are cut over in etcd; the broker deletes its copies when it sees that.
    for (;;) {
      const text = await readMetrics(me.host, me.httpPort);
      const hosted = text === null ? null : parseMoveMetrics(text).hosted;
      if (hosted === 0) break;
      if (performance.now() > deadline) throw new Error(`broker ${broker} still hosts ${hosted ?? "?"} partition(s) after ${timeoutS} s`);
      await new Promise((r) => setTimeout(r, MOVE_POLL_MS));
    }
    console.error(`broker ${broker} holds no partition; it can be stopped`);
    return 0;
  } catch (e) {
    const code = (e as { code?: string | number }).code;
    console.error(`sluice cluster decommission: ${(e as Error).message}${code === undefined ? "" : ` (${code})`}`);
    return 1;
  }
}
