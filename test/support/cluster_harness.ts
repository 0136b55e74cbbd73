// A test cluster: 1 or 3 real etcd members and N `sluice serve --cluster-etcd`
// broker processes on 127.0.0.1, every broker link behind a fault proxy
// (cluster_broker.ts, link_proxy.ts), all data under one temp dir.
//
//   const c = await startCluster({ brokers: 3, etcdMembers: 1 });
//   try {
//     await c.createTopic("t", { partitions: 3, replicationFactor: 3 });
//     const leader = await c.waitForLeader("t", 0);
//     await c.broker(leader).kill9();
//     ...
//   } finally {
//     await c.cleanup();          // every process and proxy, the temp dir
//   }
//
// What the cluster decided (leaders, ISR, controller) is read from etcd by the
// harness's own client, straight to the members, never through a proxy: a
// test must see etcd's truth even while it partitions a broker from it.
//
// isolate(id) is the network partition of the failure table: the broker can
// reach neither etcd nor any other broker, and nobody (brokers, clients) can
// reach it. Connections already open are held, not closed (a blackhole).

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Admin } from "../../client/mod.ts";
import { ClusterKeys, EtcdClient, NO_LEADER, type PartitionState, PartitionStateSchema } from "../../cluster/mod.ts";
import { ClusterBroker } from "./cluster_broker.ts";
import { ETCD_WAIT, type EtcdCluster, startEtcd } from "./etcd.ts";
import { LinkProxy } from "./link_proxy.ts";
import { waitFor, waitForValue } from "./wait_for.ts";

export interface ClusterOptions {
  readonly brokers: number;
  readonly etcdMembers?: 1 | 3;
  /** etcd session TTL (default 2 s, the minimum the broker takes). */
  readonly leaseTtlSeconds?: number;
  /** Extra flags for every broker (after the harness's own). */
  readonly brokerArgs?: readonly string[];
  /** Environment per broker id (SLUICE_FAULTS…), kept across restarts; `dir` is the cluster's temp dir (for fault files). */
  readonly brokerEnv?: (id: number, dir: string) => Record<string, string>;
  readonly clusterName?: string;
  /** Kafka listeners on (port 0 each, reached straight, not through a proxy: Kafka metadata names them); default off. */
  readonly kafkaListener?: boolean;
}

/** Temp dirs of clusters not cleaned up yet: removed when the test process exits, whatever happened. */
const liveDirs = new Set<string>();
process.on("exit", () => {
  for (const d of liveDirs) fs.rmSync(d, { recursive: true, force: true });
});

export class ClusterHarness {
  readonly name: string;
  readonly dir: string;
  readonly etcd: EtcdCluster;
  readonly etcdClient: EtcdClient;
  readonly keys: ClusterKeys;
  readonly brokers: ReadonlyMap<number, ClusterBroker>;
  private readonly admins: Admin[] = [];
  private readonly isolated = new Set<number>();

  constructor(opts: { name: string; dir: string; etcd: EtcdCluster; brokers: Map<number, ClusterBroker> }) {
    this.name = opts.name;
    this.dir = opts.dir;
    this.etcd = opts.etcd;
    this.brokers = opts.brokers;
    this.keys = new ClusterKeys(opts.name);
    this.etcdClient = new EtcdClient({ endpoints: opts.etcd.endpoints, callTimeoutMs: 5_000, attemptTimeoutMs: 1_000 });
  }

  broker(id: number): ClusterBroker {
    const b = this.brokers.get(id);
    if (b === undefined) throw new Error(`no broker ${id} in this cluster (ids ${[...this.brokers.keys()].join(",")})`);
    return b;
  }

  get ids(): number[] {
    return [...this.brokers.keys()];
  }

  /** Every broker's advertised (proxied) address, comma-separated: a client's bootstrap list. */
  bootstrap(except: readonly number[] = []): string {
    return this.ids.filter((id) => !except.includes(id)).map((id) => this.broker(id).address).join(",");
  }

  /** PIDs of the running brokers by id, for the proxies' source attribution. */
  brokerPids(): Map<string, number> {
    const m = new Map<string, number>();
    for (const [id, b] of this.brokers) {
      const pid = b.pid;
      if (pid !== undefined) m.set(String(id), pid);
    }
    return m;
  }

  /** An Admin client on the brokers' proxied addresses (closed by cleanup). */
  admin(broker: string = this.bootstrap()): Admin {
    const a = new Admin({ broker, connectTimeoutMs: 1_000, requestTimeoutMs: 10_000 });
    this.admins.push(a);
    return a;
  }

  /** Creates a topic through any live broker (the controller places it), and waits until every partition has a leader in etcd. */
  async createTopic(name: string, opts: { partitions: number; replicationFactor: number; configs?: Record<string, string> }): Promise<void> {
    await this.admin().createTopic(name, opts);
    for (let p = 0; p < opts.partitions; p++) await this.waitForLeader(name, p);
  }

  async partitionState(topic: string, partition: number): Promise<PartitionState | undefined> {
    const kv = await this.etcdClient.get(this.keys.partition(topic, partition));
    if (kv === undefined) return undefined;
    const r = PartitionStateSchema.safeParse(JSON.parse(kv.value));
    return r.success ? r.data : undefined;
  }

  /** The partition's leader per etcd, or undefined while it has none. */
  async leaderOf(topic: string, partition: number): Promise<number | undefined> {
    const s = await this.partitionState(topic, partition);
    return s === undefined || s.leader === NO_LEADER ? undefined : s.leader;
  }

  /** Waits until etcd names a leader for the partition that satisfies `accept` (default: any); returns it. */
  async waitForLeader(topic: string, partition: number, accept: (leader: number, s: PartitionState) => boolean = () => true, timeoutMs = ETCD_WAIT.timeoutMs): Promise<number> {
    return waitForValue(async () => {
      const s = await this.partitionState(topic, partition);
      return s !== undefined && s.leader !== NO_LEADER && accept(s.leader, s) ? s.leader : undefined;
    }, { ...ETCD_WAIT, timeoutMs, what: `a leader for ${topic}/${partition}` });
  }

  /** The controller's broker id per etcd, or undefined while there is none. */
  async controllerId(): Promise<number | undefined> {
    const kv = await this.etcdClient.get(this.keys.controller);
    if (kv === undefined) return undefined;
    return (JSON.parse(kv.value) as { brokerId: number }).brokerId;
  }

  async waitForController(accept: (id: number) => boolean = () => true): Promise<number> {
    return waitForValue(async () => {
      const id = await this.controllerId();
      return id !== undefined && accept(id) ? id : undefined;
    }, { ...ETCD_WAIT, what: "a controller" });
  }

  /**
   * Waits until every running broker's own metadata (its view of etcd, which
   * may trail etcd by a watch event) lists every running broker: what a test
   * that starts talking to any broker at once needs.
   */
  async waitForMetadata(): Promise<void> {
    const running = this.ids.filter((id) => this.broker(id).running);
    const admins = running.map((id) => this.admin(this.broker(id).address));
    await waitFor(async () => {
      for (const a of admins) if ((await a.metadata([])).brokers.length !== running.length) return false;
      return true;
    }, { ...ETCD_WAIT, what: `brokers ${running.join(",")} each listing all of them in their metadata` });
  }

  /** Broker ids registered in etcd (live sessions). */
  async registeredBrokers(): Promise<number[]> {
    const r = await this.etcdClient.range(this.keys.brokersPrefix, { prefix: true });
    return r.kvs.map((kv) => this.keys.brokerIdOf(kv.key)).filter((id): id is number => id !== undefined).sort((a, b) => a - b);
  }

  async waitForRegistered(ids: readonly number[]): Promise<void> {
    const want = [...ids].sort((a, b) => a - b).join(",");
    await waitFor(async () => (await this.registeredBrokers()).join(",") === want, { ...ETCD_WAIT, what: `brokers ${want} registered` });
  }

  /**
   * Cuts broker `id` off: from etcd (its etcd links), from every other broker
   * and every client (its inbound link), and its own connections to other
   * brokers (their inbound links, for connections it opened).
   */
  isolate(id: number): void {
    const victim = this.broker(id);
    this.isolated.add(id);
    for (const l of victim.etcdLinks) l.cut();
    victim.inbound.cut();
    for (const [other, b] of this.brokers) if (other !== id) b.inbound.cut({ from: (source) => source === String(id) });
  }

  /** Ends every partition made by isolate(). */
  heal(): void {
    for (const b of this.brokers.values()) {
      b.inbound.heal();
      for (const l of b.etcdLinks) l.heal();
    }
    this.isolated.clear();
  }

  /** Stops everything this cluster started (brokers, proxies, etcd) and removes its temp dir; safe to call twice. */
  async cleanup(): Promise<void> {
    for (const a of this.admins.splice(0)) await a.close().catch(() => {});
    for (const b of this.brokers.values()) await b.cleanup().catch(() => {});
    await this.etcd.stop().catch(() => {});
    fs.rmSync(this.dir, { recursive: true, force: true });
    liveDirs.delete(this.dir);
  }
}

let clusters = 0;

/** Starts etcd, the proxies and the brokers; waits until every broker is registered and a controller is elected. */
export async function startCluster(opts: ClusterOptions): Promise<ClusterHarness> {
  const name = opts.clusterName ?? `faults${process.pid}x${++clusters}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-cluster-"));
  liveDirs.add(dir);
  const brokers = new Map<number, ClusterBroker>();
  let etcd: EtcdCluster | undefined;
  let harness: ClusterHarness | undefined;
  try {
    etcd = await startEtcd({ members: opts.etcdMembers ?? 1 });
    // The proxies learn the brokers' PIDs through the harness, which exists once every broker object does.
    const sources = () => harness?.brokerPids() ?? new Map<string, number>();
    for (let id = 1; id <= opts.brokers; id++) {
      const inbound = await LinkProxy.start({ name: `to-broker-${id}`, sources });
      const etcdLinks: LinkProxy[] = [];
      for (let m = 0; m < etcd.endpoints.length; m++) {
        etcdLinks.push(await LinkProxy.start({ name: `broker-${id}-to-etcd-${m}`, targetPort: Number(new URL(etcd.endpoints[m]).port) }));
      }
      const dataDir = path.join(dir, `broker-${id}`);
      fs.mkdirSync(dataDir);
      brokers.set(id, new ClusterBroker({
        id,
        dataDir,
        inbound,
        etcdLinks,
        args: ["--cluster-name", name, "--cluster-lease-ttl-seconds", String(opts.leaseTtlSeconds ?? 2), "--workers", "1", "--http-console", "false", ...(opts.brokerArgs ?? [])],
        env: opts.brokerEnv?.(id, dir),
        kafkaListener: opts.kafkaListener,
      }));
    }
    harness = new ClusterHarness({ name, dir, etcd, brokers });
    await Promise.all([...brokers.values()].map((b) => b.start()));
    await harness.waitForRegistered(harness.ids);
    await harness.waitForController();
    return harness;
  } catch (e) {
    if (harness !== undefined) await harness.cleanup();
    else {
      for (const b of brokers.values()) await b.cleanup().catch(() => {});
      await etcd?.stop().catch(() => {});
      fs.rmSync(dir, { recursive: true, force: true });
      liveDirs.delete(dir);
    }
    throw e;
  }
}
