// How far the moves this broker leads have got (docs/SCALING.md, "Progress"),
// on `/metrics` for `sluice partitions reassign --status` and `sluice cluster
// decommission`, which read every leader's page through the httpPort of its
// registration: per moving partition the leader's log start, end and size,
// and each adding replica's last fetch offset (everything below it is on that
// replica); per broker the partitions it hosts (0 once a decommissioned
// broker's files are gone), what the move throttle let through, and its
// follower fetchers by kind (the copy fetchers of the replicas moves add
// here) with the bytes each kind brought.

import type { ClusterMember } from "../cluster/mod.ts";
import { moveOf } from "../cluster/mod.ts";
import { formatValue, header } from "./metrics.ts";
import type { ReplicaManager } from "./replication/replica_manager.ts";
import { NOT_HOSTED, type TopicLifecycle } from "./topic_lifecycle.ts";

export interface MoveProgressRow {
  readonly topic: string;
  readonly partition: number;
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  readonly sizeBytes: number;
  /** Adding replica → its last fetch offset (-1: it has not fetched yet). */
  readonly adding: ReadonlyMap<number, number>;
}

/** The moving partitions this broker leads, with their adding replicas' progress. */
export function moveProgress(member: ClusterMember, lifecycle: TopicLifecycle, replication: ReplicaManager): MoveProgressRow[] {
  const rows: MoveProgressRow[] = [];
  for (const [topic, record] of member.view.topics) {
    if (record.moves === undefined) continue;
    const local = lifecycle.topics.get(topic);
    if (local === undefined || local.state !== "online") continue;
    for (const key of Object.keys(record.moves)) {
      const p = Number(key);
      const slot = local.slots[p] ?? NOT_HOSTED;
      const leader = slot === NOT_HOSTED ? undefined : replication.leaderOf(slot);
      if (leader === undefined) continue;
      const st = lifecycle.pool.state(slot);
      const adding = new Map<number, number>();
      for (const b of moveOf(record, p)!.adding) adding.set(b, leader.followers.get(b)?.fetchOffset ?? -1);
      rows.push({ topic, partition: p, logStartOffset: st.logStartOffset, logEndOffset: st.logEndOffset, sizeBytes: st.sizeBytes, adding });
    }
  }
  return rows;
}

function label(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** The `/metrics` families of move progress. */
export function moveProgressMetrics(member: ClusterMember, lifecycle: TopicLifecycle, replication: ReplicaManager): string {
  const rows = moveProgress(member, lifecycle, replication);
  let hosted = 0;
  for (const t of lifecycle.topics.values()) for (const s of t.slots) if (s !== NOT_HOSTED) hosted++;
  let out = "";
  out += `${header("sluice_hosted_partitions", "gauge", "Partition replicas this broker holds (open or offline).")}sluice_hosted_partitions ${hosted}\n`;
  out += `${header("sluice_move_throttled_bytes_total", "counter", "Bytes this broker sent as leader to replicas a move adds, under a throttle.")}sluice_move_throttled_bytes_total ${replication.moveThrottle.sentBytes}\n`;
  // The replicas a move adds here copy on connections of their own (replica_manager.ts): how many, and what they brought.
  const fetchers = replication.fetcherCounts();
  out += header("sluice_replica_fetchers", "gauge", "Follower fetchers (one connection each) to leader brokers: ordinary, and copy fetchers for the replicas moves add here.");
  out += `sluice_replica_fetchers{kind="ordinary"} ${fetchers.ordinary}\nsluice_replica_fetchers{kind="copy"} ${fetchers.copy}\n`;
  out += header("sluice_replica_fetched_bytes_total", "counter", "Bytes of records this broker fetched as follower, by kind of fetcher.");
  out += `sluice_replica_fetched_bytes_total{kind="ordinary"} ${replication.fetchedBytes.ordinary}\nsluice_replica_fetched_bytes_total{kind="copy"} ${replication.fetchedBytes.copy}\n`;
  const families: [string, string, (r: MoveProgressRow) => number][] = [
    ["sluice_move_log_start_offset", "The log start offset of a moving partition this broker leads.", (r) => r.logStartOffset],
    ["sluice_move_log_end_offset", "The log end offset of a moving partition this broker leads.", (r) => r.logEndOffset],
    ["sluice_move_size_bytes", "The log size of a moving partition this broker leads.", (r) => r.sizeBytes],
  ];
  for (const [name, help, value] of families) {
    out += header(name, "gauge", help);
    for (const r of rows) out += `${name}{topic="${label(r.topic)}",partition="${r.partition}"} ${formatValue(value(r))}\n`;
  }
  out += header("sluice_move_replica_fetch_offset", "gauge", "The last fetch offset of a replica a move adds (everything below it is on that replica; -1: not fetched yet).");
  for (const r of rows) for (const [b, off] of r.adding) out += `sluice_move_replica_fetch_offset{topic="${label(r.topic)}",partition="${r.partition}",replica="${b}"} ${off}\n`;
  return out;
}
