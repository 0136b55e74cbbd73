// Failover as a client sees it: from kill -9 of a partition's leader broker to
// the first produce acknowledged (acks=all) by its new leader, over real
// broker processes (cli/dev_cluster.ts: 1 etcd member, 3 `sluice serve
// --cluster-etcd`, default settings: lease TTL 2 s).
//
// One partition, RF 3, min.insync.replicas 2. A producer (the client library,
// bootstrapped with all three brokers) sends one message at a time, each as
// soon as the previous one was answered. Per kill: the leader is read from
// Metadata, killed with SIGKILL, and the clock starts; the figure is the time
// to the first acknowledgement of a message SENT after the kill (so it cannot
// be an answer of the dead leader). Then the killed broker is started again on
// its data dir and the next kill waits until the ISR is full again.
//
// The producer runs with the client library's default settings (acks "all",
// idempotent, retries 10 with a 100-1,000 ms back-off, connectTimeoutMs 10 s):
// what an application gets without tuning. A request waiting for the dead
// leader's connection is sent to the new leader as soon as Metadata names it
// (client/leader_router.ts), so connectTimeoutMs does not bound failover; it
// can still be set (--connect-timeout-ms) to show that.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Admin, Producer } from "../client/mod.ts";
import { type DevCluster, startDevCluster } from "../cli/dev_cluster.ts";
import { CLUSTER_NAME_DEFAULT, ClusterKeys, EtcdClient, NO_LEADER, PartitionStateSchema } from "../cluster/mod.ts";

export interface KillFailoverSample {
  /** ms from the SIGKILL to the first acked produce sent after it. */
  ms: number;
  /** ms from the SIGKILL to etcd naming the new leader (the cluster's share; the rest is the client's and the new leader's). */
  electedMs: number;
  victim: number;
  /** The victim was also the controller (an election of the controller comes first). */
  victimWasController: boolean;
  newLeader: number;
}

const TOPIC = "failover";
const ISR_FULL_TIMEOUT_MS = 60_000;
const FAILOVER_TIMEOUT_MS = 60_000;
const ELECTION_POLL_MS = 10;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface KillFailoverOptions {
  kills: number;
  /** The producer's connectTimeoutMs; undefined: the library's default. */
  connectTimeoutMs?: number;
  log?: (line: string) => void;
  brokerLog?: (id: number, line: string) => void;
}

export async function runKillFailoverBench(opts: KillFailoverOptions): Promise<KillFailoverSample[]> {
  const log = opts.log ?? (() => {});
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-kill-failover-"));
  let cluster: DevCluster | undefined;
  const samples: KillFailoverSample[] = [];
  try {
    cluster = await startDevCluster({ brokers: 3, etcdMembers: 1, basePort: 0, dir, brokerLog: opts.brokerLog ?? (() => {}) });
    for (let k = 0; k < opts.kills; k++) {
      const sample = await killOnce(cluster, `${TOPIC}-${k}`, opts.connectTimeoutMs);
      samples.push(sample);
      log(`kill ${k + 1}: broker ${sample.victim}${sample.victimWasController ? " (controller)" : ""} -> leader ${sample.newLeader}: elected after ${sample.electedMs.toFixed(0)} ms, first ack after ${sample.ms.toFixed(0)} ms`);
      await cluster.restartBroker(sample.victim);
    }
  } finally {
    await cluster?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const ms = samples.map((s) => s.ms);
  if (ms.length > 0) {
    const elected = samples.map((s) => s.electedMs);
    const after = samples.map((s) => s.ms - s.electedMs);
    log(`kill -9 of the leader -> first acked produce on the new leader: median ${median(ms).toFixed(0)} ms, max ${Math.max(...ms).toFixed(0)} ms, min ${Math.min(...ms).toFixed(0)} ms over ${ms.length} kills`);
    log(`  of which kill -9 -> new leader in etcd: median ${median(elected).toFixed(0)} ms, max ${Math.max(...elected).toFixed(0)} ms; new leader in etcd -> first ack: median ${median(after).toFixed(0)} ms, max ${Math.max(...after).toFixed(0)} ms`);
  }
  return samples;
}

/**
 * One kill on a fresh topic: every kill starts from a full ISR of three
 * without waiting for the restarted broker to catch up and be taken back into
 * an old topic's ISR.
 */
async function killOnce(c: DevCluster, topic: string, connectTimeoutMs: number | undefined): Promise<KillFailoverSample> {
  const bootstrap = c.brokers.map((b) => `127.0.0.1:${b.port}`).join(",");
  const admin = new Admin({ broker: bootstrap });
  // The library's defaults, but for connectTimeoutMs when one is given.
  const producer = new Producer(connectTimeoutMs === undefined ? { broker: bootstrap } : { broker: bootstrap, connectTimeoutMs });
  let stopping = false;
  let loop: Promise<void> = Promise.resolve();
  try {
    await admin.createTopic(topic, { partitions: 1, replicationFactor: 3, configs: { "min.insync.replicas": "2" } });
    const partition = async () => {
      const md = await admin.metadata([topic]);
      const p = md.topics.find((t) => t.name === topic)?.partitions[0];
      return p === undefined ? undefined : { leader: p.leader, isr: p.isr ?? [], controller: md.controllerId };
    };
    const before = await until("a leader and a full ISR", ISR_FULL_TIMEOUT_MS, async () => {
      const p = await partition();
      return p !== undefined && p.leader >= 0 && p.isr.length === 3 ? p : undefined;
    });
    // The send loop: one message at a time; each answer is stamped with its send time.
    let lastAck = { sentAt: 0, ackedAt: 0 };
    let seq = 0;
    loop = (async () => {
      while (!stopping) {
        const sentAt = performance.now();
        try {
          await producer.send(topic, { partition: 0, value: `m${seq++}` });
          lastAck = { sentAt, ackedAt: performance.now() };
        } catch {
          // Gave up (deliveryTimeoutMs) or closing: the next send tries again.
        }
      }
    })();
    await until("acknowledgements before the kill", FAILOVER_TIMEOUT_MS, async () => (seq > 20 && lastAck.ackedAt > 0 ? true : undefined));
    const victim = c.brokers.find((b) => b.id === before.leader);
    if (victim === undefined) throw new Error(`leader ${before.leader} is not one of the brokers`);
    // When etcd names the new leader (read straight from etcd every ELECTION_POLL_MS, not through a broker).
    const etcd = new EtcdClient({ endpoints: c.etcd.endpoints });
    const key = new ClusterKeys(CLUSTER_NAME_DEFAULT).partition(topic, 0);
    const killedAt = performance.now();
    victim.proc.kill("SIGKILL");
    const elected = until("the new leader in etcd", FAILOVER_TIMEOUT_MS, async () => {
      const kv = await etcd.get(key);
      const st = kv === undefined ? undefined : PartitionStateSchema.safeParse(JSON.parse(kv.value));
      return st?.success && st.data.leader !== NO_LEADER && st.data.leader !== victim.id ? performance.now() : undefined;
    }, ELECTION_POLL_MS);
    const ack = await until("the first ack after the kill", FAILOVER_TIMEOUT_MS, async () => (lastAck.sentAt >= killedAt ? lastAck : undefined));
    const after = await until("the new leader", FAILOVER_TIMEOUT_MS, async () => {
      const p = await partition();
      return p !== undefined && p.leader >= 0 && p.leader !== victim.id ? p : undefined;
    });
    await victim.exited;
    const electedAt = await elected;
    return { electedMs: electedAt - killedAt, ms: ack.ackedAt - killedAt, victim: victim.id, victimWasController: before.controller === victim.id, newLeader: after.leader };
  } finally {
    stopping = true;
    await producer.close().catch(() => {});
    await loop;
    await admin.close().catch(() => {});
  }
}
