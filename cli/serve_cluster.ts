// `sluice serve` in cluster mode (docs/CLUSTER.md): the flags, and the steps
// serve_cmd.ts takes when --cluster-etcd is set (join after the listeners open,
// leave on SIGTERM).
//
// 1. connectCluster(), before the broker opens anything: etcd must answer, or
//    the start stops with a message that names the endpoints (exit 1).
// 2. joinCluster(), once the listeners are open (the registered ports are the
//    real ones, so port 0 works): session, registration (a live broker with
//    the same id refuses this start), candidacy for controller.
//
// As a member a broker is registered (host, native and Kafka ports), may be
// the controller, sends topic admin to the controller through etcd and opens
// the partitions etcd assigns to it (engine/cluster_replicas.ts); only each
// partition's leader serves it. On SIGTERM leaveCluster() runs a controlled
// shutdown, then leaves.

import { ClusterKeys, ClusterMember, EtcdClient, NO_LEADER, type PartitionCounters, parseEndpointList } from "../cluster/mod.ts";
import type { BrokerConfig } from "../engine/broker_config.ts";
import type { Engine } from "../engine/engine.ts";
import { header, type MetricsRegistry } from "../engine/metrics.ts";

export const CLUSTER_SETTINGS = [
  { key: "clusterEtcd", flag: "--cluster-etcd", env: "SLUICE_CLUSTER_ETCD", kind: "list", help: "etcd URLs, comma-separated: join a cluster (default: none, a single node)" },
  { key: "brokerId", flag: "--broker-id", env: "SLUICE_BROKER_ID", kind: "int", help: "this broker's id in the cluster (required with --cluster-etcd)" },
  { key: "clusterName", flag: "--cluster-name", env: "SLUICE_CLUSTER_NAME", kind: "string", help: "the cluster's name, its etcd key prefix /sluice/NAME/ (default 'default')" },
  { key: "advertisedPort", flag: "--advertised-port", env: "SLUICE_ADVERTISED_PORT", kind: "int", help: "native port other brokers and clients are told to connect to, in a cluster (default: the native port)" },
  { key: "rack", flag: "--rack", env: "SLUICE_RACK", kind: "string", help: "this broker's rack (failure domain), for replica placement" },
  { key: "clusterLeaseTtlSeconds", flag: "--cluster-lease-ttl-seconds", env: "SLUICE_CLUSTER_LEASE_TTL_SECONDS", kind: "int", help: "seconds after a crash until the cluster counts the broker gone (default 2)" },
  { key: "defaultReplicationFactor", flag: "--default-replication-factor", env: "SLUICE_DEFAULT_REPLICATION_FACTOR", kind: "int", help: "replication factor of a topic created without one, in a cluster (default 3)" },
  { key: "controlledShutdownTimeoutMs", flag: "--controlled-shutdown-timeout-ms", env: "SLUICE_CONTROLLED_SHUTDOWN_TIMEOUT_MS", kind: "int", help: "on SIGTERM, longest to wait for the controller to move this broker's leaderships away before leaving (default 10000; 0: leave at once)" },
  { key: "minInsyncReplicas", flag: "--min-insync-replicas", env: "SLUICE_MIN_INSYNC_REPLICAS", kind: "int", help: "min.insync.replicas of a topic created without one, in a cluster (default 2)" },
  { key: "autoLeaderRebalance", flag: "--auto-leader-rebalance", env: "SLUICE_AUTO_LEADER_REBALANCE", kind: "bool", help: "while controller, move leaderships back to each partition's first replica when a broker's imbalance passes the percentage: true|false (default true)" },
  { key: "leaderImbalancePerBrokerPercentage", flag: "--leader-imbalance-per-broker-percentage", env: "SLUICE_LEADER_IMBALANCE_PER_BROKER_PERCENTAGE", kind: "int", help: "share (0-100) of a broker's preferred partitions led elsewhere above which they move back (default 10)" },
  { key: "leaderImbalanceCheckIntervalSeconds", flag: "--leader-imbalance-check-interval-seconds", env: "SLUICE_LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS", kind: "int", help: "how often the controller checks the leader imbalance, seconds (default 300)" },
  { key: "loadReportIntervalMs", flag: "--load-report-interval-ms", env: "SLUICE_LOAD_REPORT_INTERVAL_MS", kind: "int", help: "how often this broker publishes its partitions' one-minute rates to etcd (default 10000)" },
  { key: "replicaLagTimeMaxMs", flag: "--replica-lag-time-max-ms", env: "SLUICE_REPLICA_LAG_TIME_MAX_MS", kind: "int", help: "a follower not caught up with its leader for this long leaves the ISR, in a cluster (default 10000)" },
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

/** The cluster's families on `/metrics`, as this broker sees the cluster; `isrProposals`: this broker's ISR changes as leader. */
export function clusterMetrics(
  member: ClusterMember,
  isrProposals?: { accepted: number; refused: number; shrinks: number; expands: number },
  followerLag?: () => { max: number; total: number },
): string {
  const view = member.view;
  let offline = 0;
  let underReplicated = 0;
  for (const [topic, record] of view.topics) {
    for (let p = 0; p < record.partitions; p++) {
      const s = view.partitionState(topic, p);
      if (s === undefined || s.leader === NO_LEADER) offline++;
      if (s === undefined || s.isr.length < record.replicas[p].length) underReplicated++;
    }
  }
  const stats = member.partitionController?.stats;
  const lag = followerLag?.() ?? { max: 0, total: 0 };
  const rows: [string, "gauge" | "counter", string, number][] = [
    ["sluice_cluster_controller", "gauge", "1 while this broker is the controller (and its lease's deadline is ahead), else 0.", member.isController ? 1 : 0],
    ["sluice_cluster_controller_epoch", "gauge", "The controller epoch (the election key's create revision) as this broker sees it; 0 when there is none.", view.controller?.epoch ?? 0],
    ["sluice_cluster_brokers", "gauge", "Brokers registered in etcd, as this broker sees them.", view.brokers.size],
    ["sluice_cluster_brokers_shutting_down", "gauge", "Registered brokers in controlled shutdown (handing their leaderships away before they stop), as this broker sees etcd.", view.shuttingDownBrokerIds().size],
    ["sluice_cluster_session_suspended", "gauge", "1 while this broker's etcd lease passed its local deadline without an answer (it acts as nothing).", member.lease?.suspended === true ? 1 : 0],
    ["sluice_cluster_sessions_total", "counter", "etcd sessions this broker opened (1 + the ones that replaced a lost one).", member.sessions],
    ["sluice_cluster_partitions_offline", "gauge", "Partitions with no leader, as this broker sees etcd.", offline],
    ["sluice_cluster_partitions_under_replicated", "gauge", "Partitions whose ISR is smaller than their replica list, as this broker sees etcd.", underReplicated],
    ["sluice_cluster_leader_changes_total", "counter", "Partition leader changes this broker wrote as controller (this session).", stats?.leaderChanges ?? 0],
    ["sluice_cluster_isr_changes_total", "counter", "ISR-only partition state changes this broker wrote as controller (this session).", stats?.isrChanges ?? 0],
    ["sluice_cluster_preferred_leader_moves_total", "counter", "Leaderships the automatic leader balancer moved back to their first replica as controller (this session).", member.leaderBalancer?.stats.moved ?? 0],
    ["sluice_cluster_isr_proposals_accepted_total", "counter", "ISR changes this broker proposed as a partition's leader that the controller wrote.", isrProposals?.accepted ?? 0],
    ["sluice_cluster_isr_proposals_refused_total", "counter", "ISR changes this broker proposed as a partition's leader that were refused or not answered in time.", isrProposals?.refused ?? 0],
    ["sluice_cluster_isr_shrinks_total", "counter", "ISR changes this broker proposed as leader, written by the controller, that took a member out.", isrProposals?.shrinks ?? 0],
    ["sluice_cluster_isr_expands_total", "counter", "ISR changes this broker proposed as leader, written by the controller, that took a member in.", isrProposals?.expands ?? 0],
    ["sluice_cluster_follower_lag_max_messages", "gauge", "The largest lag of a follower behind a partition this broker leads (leader log end - follower fetch offset).", lag.max],
    ["sluice_cluster_follower_lag_messages", "gauge", "The lag of every follower of every partition this broker leads, summed (messages).", lag.total],
  ];
  let out = "";
  for (const [name, type, help, value] of rows) out += `${header(name, type, help)}${name} ${value}\n`;
  return out;
}

/** The host other brokers and clients are told to connect to: the Kafka advertised host, else the bind host (a wildcard told as 127.0.0.1). */
function advertisedHost(config: BrokerConfig): string {
  if (config.kafkaAdvertisedHost !== undefined) return config.kafkaAdvertisedHost;
  return config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
}

/** The cumulative counters of every partition this broker hosts, and whether it leads each (the load reports' source). */
function* hostedCounters(engine: Engine, member: () => ClusterMember | undefined): Iterable<PartitionCounters> {
  const m = member();
  for (const { topic, partition, state } of engine.partitionStates()) {
    if (!state.online) continue;
    yield {
      topic,
      partition,
      leader: m !== undefined && m.view.partitionState(topic, partition)?.leader === m.brokerId,
      bytesIn: state.bytesIn,
      messagesIn: state.messagesIn,
      bytesOut: state.bytesOut,
      messagesOut: state.messagesOut,
      sizeBytes: state.sizeBytes,
    };
  }
}

/** Registers the running broker and starts its candidacy. Throws DuplicateBrokerIdError, EtcdUnreachableError. */
export async function joinCluster(
  config: BrokerConfig,
  client: EtcdClient,
  broker: { port: number; kafkaPort: number | null; httpPort: number; metrics: MetricsRegistry; engine: Engine },
  log: (line: string) => void,
): Promise<ClusterMember> {
  if (config.brokerId === undefined) throw new Error("brokerId is required with clusterEtcd");
  // Set once start() returns; the load reporter's first sample runs inside it.
  let joined: ClusterMember | undefined;
  const member = await ClusterMember.start({
    client,
    clusterName: config.clusterName,
    leaseTtlSeconds: config.clusterLeaseTtlSeconds,
    broker: { id: config.brokerId, host: advertisedHost(config), port: config.advertisedPort ?? broker.port, kafkaPort: broker.kafkaPort, httpPort: broker.httpPort, rack: config.rack ?? null },
    log,
    leaderBalance: {
      enabled: config.autoLeaderRebalance,
      imbalancePercent: config.leaderImbalancePerBrokerPercentage,
      intervalMs: config.leaderImbalanceCheckIntervalSeconds * 1000,
    },
    loadReport: { sample: () => hostedCounters(broker.engine, () => joined), intervalMs: config.loadReportIntervalMs },
  });
  joined = member;
  // From here topic admin goes to the controller and this broker's partitions follow etcd.
  broker.engine.attachCluster(member, {
    defaultReplicationFactor: config.defaultReplicationFactor,
    defaultMinInsyncReplicas: config.minInsyncReplicas,
    replicaLagTimeMaxMs: config.replicaLagTimeMaxMs,
  });
  log(`sluice: broker ${config.brokerId} joined cluster '${config.clusterName}' (etcd ${client.endpoints.join(",")})`);
  broker.metrics.addProvider(() => clusterMetrics(member, broker.engine.replication.isrProposals, () => broker.engine.replication.followerLag()));
  broker.metrics.addProvider(() => broker.engine.cluster?.moveMetrics() ?? "");
  return member;
}

/**
 * SIGTERM in cluster mode: a controlled shutdown (the controller moves this
 * broker's leaderships to other in-sync replicas and takes it out of the
 * ISRs, at most `timeoutMs`), then leaving the cluster (resign, revoke). The
 * broker keeps serving meanwhile; its listeners close after this.
 */
export async function leaveCluster(member: ClusterMember | undefined, timeoutMs: number): Promise<void> {
  if (member === undefined) return;
  await member.controlledShutdown(timeoutMs);
  await member.close();
}
