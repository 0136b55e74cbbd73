// `sluice serve` in cluster mode (docs/CLUSTER.md): the flags, and the two
// steps serve_cmd.ts takes when --cluster-etcd is set.
//
// 1. connectCluster(), before the broker opens anything: etcd must answer, or
//    the start stops with a message that names the endpoints (exit 1).
// 2. joinCluster(), once the listeners are open (the registered ports are the
//    real ones, so port 0 works): session, registration (a live broker with
//    the same id refuses this start), candidacy for controller.
//
// What a broker does as a member so far: it is registered, it may be the
// controller, and `sluice cluster status` shows both. Partitions are still
// this broker's own (replication is the next step, docs/CLUSTER.md).

import { ClusterKeys, ClusterMember, EtcdClient, parseEndpointList } from "../cluster/mod.ts";
import type { BrokerConfig } from "../engine/broker_config.ts";

export const CLUSTER_SETTINGS = [
  { key: "clusterEtcd", flag: "--cluster-etcd", env: "SLUICE_CLUSTER_ETCD", kind: "list", help: "etcd URLs, comma-separated: join a cluster (default: none, a single node)" },
  { key: "brokerId", flag: "--broker-id", env: "SLUICE_BROKER_ID", kind: "int", help: "this broker's id in the cluster (required with --cluster-etcd)" },
  { key: "clusterName", flag: "--cluster-name", env: "SLUICE_CLUSTER_NAME", kind: "string", help: "the cluster's name, its etcd key prefix /sluice/NAME/ (default 'default')" },
  { key: "rack", flag: "--rack", env: "SLUICE_RACK", kind: "string", help: "this broker's rack (failure domain), for replica placement" },
  { key: "clusterLeaseTtlSeconds", flag: "--cluster-lease-ttl-seconds", env: "SLUICE_CLUSTER_LEASE_TTL_SECONDS", kind: "int", help: "seconds after a crash until the cluster counts the broker gone (default 2)" },
] as const;

/** An etcd client for the configured endpoints, after one successful read; throws an Error an operator can act on. */
export async function connectCluster(config: BrokerConfig): Promise<EtcdClient> {
  const endpoints = parseEndpointList((config.clusterEtcd ?? []).join(","));
  const client = new EtcdClient({ endpoints });
  const keys = new ClusterKeys(config.clusterName);
  try {
    await client.range(keys.controller);
  } catch (e) {
    throw new Error(`cannot reach etcd at ${endpoints.join(",")}: ${(e as Error)?.message ?? e}`);
  }
  return client;
}

/** Registers the running broker and starts its candidacy. Throws DuplicateBrokerIdError, EtcdUnreachableError. */
export async function joinCluster(
  config: BrokerConfig,
  client: EtcdClient,
  broker: { port: number; httpPort: number },
  log: (line: string) => void,
): Promise<ClusterMember> {
  if (config.brokerId === undefined) throw new Error("brokerId is required with clusterEtcd");
  const member = await ClusterMember.start({
    client,
    clusterName: config.clusterName,
    leaseTtlSeconds: config.clusterLeaseTtlSeconds,
    broker: { id: config.brokerId, host: config.host, port: broker.port, httpPort: broker.httpPort, rack: config.rack ?? null },
    log,
  });
  log(`sluice: broker ${config.brokerId} joined cluster '${config.clusterName}' (etcd ${client.endpoints.join(",")})`);
  return member;
}
