// What `sluice cluster status` shows: the registered brokers, the controller
// with its epoch, and partition counts (offline: no leader; under-replicated:
// an ISR smaller than the replica list), all read at one etcd revision.

import { type BrokerInfo, parseBrokerInfo } from "./broker_registration.ts";
import type { ClusterKeys } from "./cluster_keys.ts";
import { type ControllerInfo, parseControllerKey } from "./controller_election.ts";
import type { EtcdClient } from "./etcd_client.ts";
import { NO_LEADER, PartitionStateSchema, parseJson, TopicRecordSchema } from "./topic_metadata.ts";

export interface ClusterStatus {
  readonly cluster: string;
  /** The etcd revision the status was read at. */
  readonly revision: number;
  readonly brokers: BrokerInfo[];
  readonly controller: ControllerInfo | null;
  readonly topics: number;
  readonly partitions: { readonly total: number; readonly offline: number; readonly underReplicated: number };
}

export async function readClusterStatus(client: EtcdClient, keys: ClusterKeys): Promise<ClusterStatus> {
  // The later ranges read at the first one's revision: everything as of one moment.
  const r = await client.range(keys.brokersPrefix, { prefix: true });
  const c = await client.range(keys.controller, { revision: r.revision });
  const t = await client.range(keys.topicsPrefix, { prefix: true, revision: r.revision });
  const p = await client.range(keys.partitionsPrefix, { prefix: true, revision: r.revision });
  const states = new Map(p.kvs.map((kv) => [kv.key, kv]));
  let topics = 0;
  const partitions = { total: 0, offline: 0, underReplicated: 0 };
  for (const kv of t.kvs) {
    const name = kv.key.slice(keys.topicsPrefix.length);
    const record = parseJson(TopicRecordSchema, kv);
    if (record === undefined) continue;
    topics++;
    for (let i = 0; i < record.partitions; i++) {
      partitions.total++;
      const skv = states.get(keys.partition(name, i));
      const state = skv === undefined ? undefined : parseJson(PartitionStateSchema, skv);
      if (state === undefined || state.leader === NO_LEADER) partitions.offline++;
      if (state === undefined || state.isr.length < record.replicas[i].length) partitions.underReplicated++;
    }
  }
  const brokers: BrokerInfo[] = [];
  for (const kv of r.kvs) {
    const info = parseBrokerInfo(kv);
    if (info !== undefined && keys.brokerIdOf(kv.key) === info.id) brokers.push(info);
  }
  brokers.sort((a, b) => a.id - b.id);
  return { cluster: keys.cluster, revision: r.revision, brokers, controller: parseControllerKey(c.kvs[0]) ?? null, topics, partitions };
}
