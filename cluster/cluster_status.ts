// What `sluice cluster status` shows: the registered brokers and the
// controller with its epoch, read at one etcd revision.

import { type BrokerInfo, parseBrokerInfo } from "./broker_registration.ts";
import type { ClusterKeys } from "./cluster_keys.ts";
import { type ControllerInfo, parseControllerKey } from "./controller_election.ts";
import type { EtcdClient } from "./etcd_client.ts";

export interface ClusterStatus {
  readonly cluster: string;
  /** The etcd revision the status was read at. */
  readonly revision: number;
  readonly brokers: BrokerInfo[];
  readonly controller: ControllerInfo | null;
}

export async function readClusterStatus(client: EtcdClient, keys: ClusterKeys): Promise<ClusterStatus> {
  // The second range reads at the first one's revision: brokers and controller as of one moment.
  const r = await client.range(keys.brokersPrefix, { prefix: true });
  const c = await client.range(keys.controller, { revision: r.revision });
  const brokers: BrokerInfo[] = [];
  for (const kv of r.kvs) {
    const info = parseBrokerInfo(kv);
    if (info !== undefined && keys.brokerIdOf(kv.key) === info.id) brokers.push(info);
  }
  brokers.sort((a, b) => a.id - b.id);
  return { cluster: keys.cluster, revision: r.revision, brokers, controller: parseControllerKey(c.kvs[0]) ?? null };
}
