// Metadata failover time: from the moment a broker stops renewing its etcd
// session (what kill -9 looks like to etcd) to the moment etcd holds a new
// leader for every partition it led. Brokers are in-process cluster members
// (cluster/cluster_member.ts) on a real etcd; the topic is recreated each
// round, so every round starts with full ISRs.
//
//   bun bench/cluster_failover.ts [--kills 20] [--rounds 0] [--ttl 2] [--partitions 12]
//   (npm run bench:cluster-failover)
//
// --kills N: failover as a client sees it, over broker processes: kill -9 of a
// partition's leader to the first acked produce on its new leader
// (cluster_kill_failover.ts). --rounds N: the control plane's share below.
//
// Two kinds of round: a broker that is not the controller dies (the
// controller reacts), and the controller itself dies (an election first).
// This is the control plane's share of failover; the data path (followers
// fetching from the new leader, the first acked produce) comes with
// replication (docs/CLUSTER.md).

import { parseArgs } from "node:util";
import { ClusterMember, EtcdClient, readTopics } from "../cluster/mod.ts";
import { ETCD_WAIT, startEtcd } from "../test/support/etcd.ts";
import { runKillFailoverBench } from "./cluster_kill_failover.ts";
import { waitFor } from "../test/support/wait_for.ts";

export interface FailoverResult {
  readonly kind: "broker" | "controller";
  /** ms from the session's abandonment to a live leader for every partition it led. */
  readonly samplesMs: number[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export async function runFailoverBench(opts: { rounds: number; ttlSeconds: number; partitions: number; log?: (line: string) => void }): Promise<FailoverResult[]> {
  const etcd = await startEtcd({ members: 1 });
  const client = new EtcdClient({ endpoints: etcd.endpoints });
  const results: FailoverResult[] = [
    { kind: "broker", samplesMs: [] },
    { kind: "controller", samplesMs: [] },
  ];
  try {
    for (let round = 0; round < opts.rounds; round++) {
      for (const result of results) {
        const name = `bench-failover-${process.pid}-${round}-${result.kind}`;
        const members = new Map<number, ClusterMember>();
        try {
          for (const id of [1, 2, 3]) {
            members.set(id, await ClusterMember.start({
              client,
              clusterName: name,
              leaseTtlSeconds: opts.ttlSeconds,
              broker: { id, host: "127.0.0.1", port: 9000 + id, httpPort: 9100 + id, rack: null },
              log: () => {},
            }));
            if (id === 1) await waitFor(() => members.get(1)!.isController, { ...ETCD_WAIT, what: "controller" });
          }
          const controller = members.get(1)!;
          await waitFor(() => [...members.values()].every((m) => m.view.brokers.size === 3), { ...ETCD_WAIT, what: "views" });
          await controller.createTopic({ name: "t", partitions: opts.partitions, replicationFactor: 3 });
          const victimId = result.kind === "controller" ? 1 : 2;
          const keys = controller.keys;
          const startedAt = performance.now();
          await members.get(victimId)!.abandon();
          members.delete(victimId);
          await waitFor(async () => {
            const t = (await readTopics(client, keys)).topics[0];
            return t.partitions.every((p) => p !== undefined && p.leader !== victimId && p.leader >= 0);
          }, { what: "every partition led by a live broker", timeoutMs: 30_000, everyMs: 5 });
          result.samplesMs.push(performance.now() - startedAt);
        } finally {
          for (const m of members.values()) await m.close();
        }
      }
    }
  } finally {
    await etcd.stop();
  }
  for (const r of results) {
    opts.log?.(`${r.kind} killed: failover median ${median(r.samplesMs).toFixed(0)} ms, max ${Math.max(...r.samplesMs).toFixed(0)} ms over ${r.samplesMs.length} rounds`);
  }
  return results;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { kills: { type: "string" }, "connect-timeout-ms": { type: "string" }, rounds: { type: "string" }, ttl: { type: "string" }, partitions: { type: "string" } } });
  const kills = Number(values.kills ?? 20);
  const rounds = Number(values.rounds ?? 0);
  const ttlSeconds = Number(values.ttl ?? 2);
  const partitions = Number(values.partitions ?? 12);
  const connectTimeoutMs = values["connect-timeout-ms"] === undefined ? undefined : Number(values["connect-timeout-ms"]);
  if (kills > 0) {
    console.log(
      `bun bench/cluster_failover.ts --kills ${kills}${connectTimeoutMs === undefined ? "" : ` --connect-timeout-ms ${connectTimeoutMs}`} ` +
        "(1 etcd member, 3 broker processes, default lease TTL 2 s; RF 3, min ISR 2, one partition; producer with the client's default settings" +
        `${connectTimeoutMs === undefined ? "" : ` but connectTimeoutMs ${connectTimeoutMs}`})`,
    );
    await runKillFailoverBench({ kills, connectTimeoutMs, log: (line) => console.log(line) });
  }
  if (rounds > 0) {
    console.log(`bun bench/cluster_failover.ts --rounds ${rounds} --ttl ${ttlSeconds} --partitions ${partitions} (1 etcd member, 3 brokers in-process, RF 3)`);
    await runFailoverBench({ rounds, ttlSeconds, partitions, log: (line) => console.log(line) });
  }
}
