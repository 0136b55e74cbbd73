// One real etcd and `sluice serve --cluster-etcd` processes on it, reached
// straight (no proxies, unlike cluster_harness.ts), for the process tests
// that kill, stop and start brokers again on their own data dirs and ports
// (test/cluster_moves.test.ts, test/cluster_move_start.test.ts,
// test/cluster_leaders.test.ts). `useServeCluster` starts it in beforeAll,
// the first broker ids given, and waits for them and a controller in a
// ClusterView; afterAll ends every process and removes every dir.
//
// Every broker runs with a lease TTL of 2 s, min.insync.replicas 2 and one
// worker, plus the file's own flags; a broker started again takes the ports
// its last process had, so clients bootstrapped with them still reach it.

import { afterAll, beforeAll } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Admin } from "../../client/mod.ts";
import { ClusterKeys, ClusterView, EtcdClient } from "../../cluster/mod.ts";
import { type BrokerProcess, startBroker } from "./broker.ts";
import { ETCD_WAIT, type EtcdCluster, startEtcd } from "./etcd.ts";
import { waitFor } from "./wait_for.ts";

/** How long the cluster may take to come up in beforeAll (etcd, then the brokers one by one). */
const SERVE_CLUSTER_START_MS_MAX = 60_000;

export interface ServeClusterOptions {
  readonly clusterName: string;
  /** Names the temp dirs: `${dirPrefix}${id}-…` per broker, `${dirPrefix}-plans-…` for the file's own files. */
  readonly dirPrefix: string;
  /** The brokers started in beforeAll, in this order. */
  readonly ids: readonly number[];
  /** Flags every broker gets after the common ones (start() may add more per process). */
  readonly brokerArgs?: readonly string[];
  /** Flags of the processes beforeAll starts only (after brokerArgs). */
  readonly openArgs?: readonly string[];
}

export class ServeCluster {
  readonly clusterName: string;
  readonly keys: ClusterKeys;
  /** The running processes by broker id. */
  readonly brokers = new Map<number, BrokerProcess>();
  /** Each broker's data dir, kept across its processes. */
  readonly dataDirs = new Map<number, string>();
  /** Processes that ended (killed or stopped): their ports are reused by the next start, and cleanup removes them. */
  readonly done: BrokerProcess[] = [];
  private running?: { etcd: EtcdCluster; client: EtcdClient; view: ClusterView; tmp: string };

  constructor(private readonly opts: ServeClusterOptions) {
    this.clusterName = opts.clusterName;
    this.keys = new ClusterKeys(opts.clusterName);
  }

  private get up() {
    if (this.running === undefined) throw new Error("the cluster is not running: useServeCluster() starts it in beforeAll, read it inside a test");
    return this.running;
  }
  get etcd(): EtcdCluster {
    return this.up.etcd;
  }
  get client(): EtcdClient {
    return this.up.client;
  }
  /** A view of the cluster's keys, for waiting on what etcd holds. */
  get view(): ClusterView {
    return this.up.view;
  }
  /** A temp dir for the file's own files (plans), removed by cleanup. */
  get tmp(): string {
    return this.up.tmp;
  }

  /** Starts etcd, the view and the first brokers; resolves once the view sees them all and a controller. */
  async open(): Promise<void> {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `${this.opts.dirPrefix}-plans-`));
    const etcd = await startEtcd({ members: 1 }).catch((e) => {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw e;
    });
    const client = new EtcdClient({ endpoints: etcd.endpoints });
    this.running = { etcd, client, view: ClusterView.start({ client, keys: this.keys }), tmp };
    for (const id of this.opts.ids) await this.start(id, this.opts.openArgs);
    const n = this.opts.ids.length;
    await waitFor(() => this.view.brokers.size === n && this.view.controller !== undefined, { ...ETCD_WAIT, what: `${n} brokers and a controller` });
  }

  /** Starts broker `id` on its data dir (made on its first start), on the ports its last process had. */
  async start(id: number, extraArgs: readonly string[] = []): Promise<BrokerProcess> {
    if (!this.dataDirs.has(id)) this.dataDirs.set(id, fs.mkdtempSync(path.join(os.tmpdir(), `${this.opts.dirPrefix}${id}-`)));
    const dataDir = this.dataDirs.get(id)!;
    const was = this.brokers.get(id) ?? this.done.findLast((b) => b.dataDir === dataDir);
    const ports = was === undefined ? [] : ["--port", String(was.port), "--kafka-port", String(was.kafkaPort), "--http-port", String(was.httpPort)];
    const b = await startBroker({
      dataDir,
      args: [
        "--cluster-etcd", this.etcd.endpoints.join(","),
        "--broker-id", String(id),
        "--cluster-name", this.clusterName,
        "--cluster-lease-ttl-seconds", "2",
        "--min-insync-replicas", "2",
        "--workers", "1",
        ...(this.opts.brokerArgs ?? []),
        ...extraArgs,
        ...ports,
      ],
    });
    this.brokers.set(id, b);
    return b;
  }

  /** Takes broker `id` out of the running ones (into `done`) and returns its process, to end as the test likes. */
  retire(id: number): BrokerProcess {
    const b = this.brokers.get(id)!;
    this.brokers.delete(id);
    this.done.push(b);
    return b;
  }

  /** kill -9 of broker `id`; resolves once it is gone. */
  async kill9(id: number): Promise<void> {
    await this.retire(id).kill9();
  }

  /** The running brokers' native addresses, comma-separated: a client's bootstrap list. */
  bootstrap(): string {
    return [...this.brokers.values()].map((b) => `127.0.0.1:${b.port}`).join(",");
  }

  /** Creates `name` (RF 3, min.insync.replicas 2) and waits until the view holds every partition's state. */
  async createTopic(name: string, partitions: number): Promise<void> {
    const admin = new Admin({ broker: this.bootstrap() });
    try {
      await admin.createTopic(name, { partitions, replicationFactor: 3, configs: { "min.insync.replicas": "2" } });
    } finally {
      await admin.close();
    }
    const view = this.view;
    await waitFor(() => Array.from({ length: partitions }, (_, p) => view.partitionState(name, p)).every((st) => st !== undefined), { ...ETCD_WAIT, what: `${name}'s states` });
  }

  /** The flags that point an admin command at this cluster's etcd. */
  etcdArgs(): string[] {
    return ["--etcd", this.etcd.endpoints.join(","), "--cluster-name", this.clusterName];
  }

  /** Ends every process and removes every dir; stops etcd last. */
  async cleanup(): Promise<void> {
    const r = this.running;
    await r?.view.close();
    for (const b of [...this.brokers.values(), ...this.done]) await b.cleanup();
    for (const dir of this.dataDirs.values()) fs.rmSync(dir, { recursive: true, force: true });
    if (r !== undefined) fs.rmSync(r.tmp, { recursive: true, force: true });
    await r?.etcd.stop();
  }
}

/** A ServeCluster opened in beforeAll and cleaned up in afterAll of the calling file (or describe block). */
export function useServeCluster(opts: ServeClusterOptions): ServeCluster {
  const cluster = new ServeCluster(opts);
  beforeAll(() => cluster.open(), SERVE_CLUSTER_START_MS_MAX);
  afterAll(() => cluster.cleanup());
  return cluster;
}
