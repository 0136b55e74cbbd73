// The broker's configuration: one zod schema, so every value is checked once,
// at start, with a message that names the field. Sources (flags, SLUICE_*
// environment variables, a JSON file) are merged by cli/serve_cmd.ts; this
// module only defines what a valid configuration is and its defaults.
//
// Settings that bear on a fixed limit are checked against it here, so a
// configuration the limits cannot serve is refused at start, naming the field:
// outputBytesMax must hold a maximal fetch response past the point where the
// connection stops reading (OUTPUT_BYTES_MIN, engine_limits.ts);
// memorySoftLimitBytes must be above what the workers' rings keep resident
// (WORKER_RINGS_BYTES each), and its default grows with them; topicDefaults
// must be a valid topic configuration (max.message.bytes within BATCH_BYTES_MAX
// and the log's limits: workers/log/log_limits.ts).

import os from "node:os";
import { z } from "zod";
import {
  BROKER_ID_MAX,
  CLUSTER_NAME_DEFAULT,
  CLUSTER_NAME_PATTERN,
  CONTROLLED_SHUTDOWN_TIMEOUT_MS,
  CONTROLLED_SHUTDOWN_TIMEOUT_MS_MAX,
  LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS_DEFAULT,
  LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS_MAX,
  LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS_MIN,
  LEADER_IMBALANCE_PERCENT_DEFAULT,
  LOAD_REPORT_INTERVAL_MS,
  LOAD_REPORT_INTERVAL_MS_MAX,
  LOAD_REPORT_INTERVAL_MS_MIN,
  DEFAULT_MIN_INSYNC_REPLICAS,
  DEFAULT_REPLICATION_FACTOR,
  ETCD_ENDPOINTS_MAX,
  LEASE_TTL_SECONDS_DEFAULT,
  LEASE_TTL_SECONDS_MAX,
  LEASE_TTL_SECONDS_MIN,
  REPLICATION_FACTOR_MAX,
} from "../cluster/mod.ts";
import {
  CONNECTIONS_MAX,
  FETCH_RESPONSE_BYTES_MAX,
  FETCH_WAIT_MS_MAX,
  OUTPUT_BYTES_MAX,
  PARTITIONS_PER_TOPIC_MAX,
  REQUEST_TIMEOUT_MS,
  WAITING_FETCHES_MAX,
} from "../protocol/limits.ts";
import { REPLICA_LAG_TIME_MAX_MS_DEFAULT, REPLICA_LAG_TIME_MAX_MS_MAX, REPLICA_LAG_TIME_MAX_MS_MIN } from "./replication/replication_limits.ts";
import {
  GOVERNOR_INTERVAL_MS,
  MEMORY_SOFT_LIMIT_BYTES,
  MEMORY_SOFT_LIMIT_HEADROOM_BYTES,
  OUTPUT_BYTES_MIN,
  OUTPUT_PAUSE_BYTES,
  WORKER_RINGS_BYTES,
  WORKERS_MAX,
} from "./engine_limits.ts";
import { parseLogConfig } from "./topic_config.ts";

const port = z.number().int().min(0).max(65_535);

export const BrokerConfigSchema = z
  .object({
    /** Address both listeners bind to. */
    host: z.string().min(1).default("127.0.0.1"),
    /** Native protocol port; 0 = any free port. */
    port: port.default(9900),
    /** Kafka protocol port; 0 = any free port, -1 = no Kafka listener. */
    kafkaPort: z.number().int().min(-1).max(65_535).default(9092),
    /**
     * The host Kafka clients are told to connect to (Metadata, FindCoordinator):
     * Kafka's `advertised.listeners`. Default: `host` (with 0.0.0.0 or :: told
     * as 127.0.0.1, an address no client can connect to).
     */
    kafkaAdvertisedHost: z.string().min(1).max(255).optional(),
    /** The port Kafka clients are told to connect to; default: the Kafka listener's own port. */
    kafkaAdvertisedPort: z.number().int().min(1).max(65_535).optional(),
    /** HTTP (health, metrics, web console) port; 0 = any free port. */
    httpPort: port.default(9901),
    /** The web console and its JSON API (/, /api/v1/) on the HTTP port (engine/http/). */
    httpConsole: z.boolean().default(true),
    /** Serve api 1004, which sets partitions' replication roles by hand (engine/replication/replica_role_api.ts): tests only, never in a cluster. */
    replicaRoleApi: z.boolean().default(false),
    /** Where topics and metadata live. */
    dataDir: z.string().min(1).default("./data"),
    /** Partition worker threads (default: the number of cores). */
    workers: z
      .number()
      .int()
      .min(1)
      .max(WORKERS_MAX)
      .default(() => Math.min(WORKERS_MAX, Math.max(1, os.availableParallelism()))),
    /**
     * Partitions of a topic created without a count (auto-create, or CreateTopics
     * with -1). Kafka's `num.partitions`. Default 1, as in Kafka: a topic that
     * appears on first produce keeps total order, which is what someone trying
     * the broker expects to see; ask for more partitions when you want parallelism.
     */
    numPartitions: z.number().int().min(1).max(PARTITIONS_PER_TOPIC_MAX).default(1),
    /** Kafka's `auto.create.topics.enable`: a produce or metadata request for a missing topic creates it. */
    autoCreateTopics: z.boolean().default(true),
    /** Topic configuration defaults (Kafka names, string values), applied under each topic's own configs. */
    topicDefaults: z
      .record(z.string(), z.string())
      .default({})
      .superRefine((defaults, ctx) => {
        try {
          parseLogConfig(defaults, {});
        } catch (e) {
          ctx.addIssue({ code: "custom", message: (e as Error).message });
        }
      }),
    /** Connection limits; the defaults are protocol/limits.ts. */
    connectionsMax: z.number().int().min(1).max(1_000_000).default(CONNECTIONS_MAX),
    requestTimeoutMs: z.number().int().min(10).max(3_600_000).default(REQUEST_TIMEOUT_MS),
    /** At least OUTPUT_BYTES_MIN: the pause threshold plus one maximal fetch response. */
    outputBytesMax: z
      .number()
      .int()
      .min(OUTPUT_BYTES_MIN, `must be at least ${OUTPUT_BYTES_MIN} bytes: reading stops past ${OUTPUT_PAUSE_BYTES}, and a maximal fetch response (${FETCH_RESPONSE_BYTES_MAX}) must still fit`)
      .max(OUTPUT_BYTES_MAX * 16)
      .default(OUTPUT_BYTES_MAX),
    waitingFetchesMax: z.number().int().min(0).max(10_000_000).default(WAITING_FETCHES_MAX),
    /**
     * Resident memory above which the router forces a full garbage collection, at
     * most every 250 ms (engine/memory_governor.ts says why); 0 turns it off.
     * Default: MEMORY_SOFT_LIMIT_BYTES, raised by the rings of workers past two
     * (defaultMemorySoftLimitBytes). Otherwise above the workers' rings.
     */
    memorySoftLimitBytes: z.number().int().min(0).max(2 ** 40).optional(),
    /**
     * One journal per worker (workers/log/worker_journal.ts): the small unsynced
     * appends of all of a worker's partitions become durable with one fdatasync
     * instead of one per partition. Off: every partition syncs its own segment.
     */
    workerJournal: z.boolean().default(true),
    /** Longest `sluice serve` waits for in-flight work on SIGTERM before it closes anyway. */
    shutdownTimeoutMs: z.number().int().min(0).max(FETCH_WAIT_MS_MAX).default(5_000),
    // ---- cluster (docs/CLUSTER.md); without clusterEtcd the broker is a single node and needs no etcd
    /** etcd client URLs (members of one etcd cluster); set = this broker joins a cluster. */
    clusterEtcd: z
      .array(z.string().regex(/^https?:\/\/[^/\s]+\/?$/, "expected http://HOST:PORT"))
      .min(1)
      .max(ETCD_ENDPOINTS_MAX)
      .optional(),
    /** This broker's id in the cluster, unique among live brokers (required with clusterEtcd). */
    brokerId: z.number().int().min(0).max(BROKER_ID_MAX).optional(),
    /** Names the cluster's keys in etcd (/sluice/<clusterName>/), so clusters can share an etcd. */
    clusterName: z.string().regex(CLUSTER_NAME_PATTERN, "1-64 letters, digits, '.', '_' or '-'").default(CLUSTER_NAME_DEFAULT),
    /**
     * The native port registered in the cluster, which other brokers (followers)
     * and clients are told to connect to: Kafka's `advertised.listeners` for the
     * native listener. Default: the native listener's own port. Set when
     * something sits in front of the listener (a proxy, a NAT).
     */
    advertisedPort: z.number().int().min(1).max(65_535).optional(),
    /** The broker's rack (failure domain), registered with it; replica placement will use it. */
    rack: z.string().min(1).max(64).optional(),
    /** The broker's etcd session TTL: how long after a crash it counts as gone; bounds failover time. */
    clusterLeaseTtlSeconds: z.number().int().min(LEASE_TTL_SECONDS_MIN).max(LEASE_TTL_SECONDS_MAX).default(LEASE_TTL_SECONDS_DEFAULT),
    /** Cluster mode: the replication factor of a topic created without one (above the live brokers: INVALID_REPLICATION_FACTOR). */
    defaultReplicationFactor: z.number().int().min(1).max(REPLICATION_FACTOR_MAX).default(DEFAULT_REPLICATION_FACTOR),
    /** Cluster mode: min.insync.replicas of a topic created without one (capped at its replication factor). */
    minInsyncReplicas: z.number().int().min(1).max(REPLICATION_FACTOR_MAX).default(DEFAULT_MIN_INSYNC_REPLICAS),
    /** Cluster mode: longest a SIGTERM waits for the controller to move this broker's leaderships away (0: leave at once). */
    controlledShutdownTimeoutMs: z.number().int().min(0).max(CONTROLLED_SHUTDOWN_TIMEOUT_MS_MAX).default(CONTROLLED_SHUTDOWN_TIMEOUT_MS),
    /** Cluster mode: a follower not caught up with its leader for this long is proposed out of the ISR (Kafka's replica.lag.time.max.ms). */
    replicaLagTimeMaxMs: z.number().int().min(REPLICA_LAG_TIME_MAX_MS_MIN).max(REPLICA_LAG_TIME_MAX_MS_MAX).default(REPLICA_LAG_TIME_MAX_MS_DEFAULT),
    /** Cluster mode, while controller: move leaderships back to each partition's first replica when a broker's imbalance passes the percentage (Kafka's auto.leader.rebalance.enable). */
    autoLeaderRebalance: z.boolean().default(true),
    /** Of the partitions a broker is first replica of, the share led elsewhere (percent) above which the balancer acts (Kafka's leader.imbalance.per.broker.percentage). */
    leaderImbalancePerBrokerPercentage: z.number().int().min(0).max(100).default(LEADER_IMBALANCE_PERCENT_DEFAULT),
    /** How often the controller checks the leader imbalance (Kafka's leader.imbalance.check.interval.seconds). */
    leaderImbalanceCheckIntervalSeconds: z
      .number()
      .int()
      .min(LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS_MIN)
      .max(LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS_MAX)
      .default(LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS_DEFAULT),
    /** Cluster mode: how often this broker publishes its partitions' one-minute rates to etcd (cluster/load_reports.ts). */
    loadReportIntervalMs: z.number().int().min(LOAD_REPORT_INTERVAL_MS_MIN).max(LOAD_REPORT_INTERVAL_MS_MAX).default(LOAD_REPORT_INTERVAL_MS),
  })
  .strict()
  .superRefine((c, ctx) => {
    const rings = c.workers * WORKER_RINGS_BYTES;
    if (c.memorySoftLimitBytes !== undefined && c.memorySoftLimitBytes !== 0 && c.memorySoftLimitBytes <= rings) {
      ctx.addIssue({
        code: "custom",
        path: ["memorySoftLimitBytes"],
        message: `must be 0 (off) or above ${rings} bytes, what the rings of ${c.workers} workers keep resident: a lower limit forces a collection every ${GOVERNOR_INTERVAL_MS} ms that frees nothing`,
      });
    }
  })
  .refine((c) => c.clusterEtcd === undefined || c.brokerId !== undefined, {
    path: ["brokerId"],
    message: "required when clusterEtcd is set (each broker of a cluster needs its own id)",
  })
  .transform((c) => ({ ...c, memorySoftLimitBytes: c.memorySoftLimitBytes ?? defaultMemorySoftLimitBytes(c.workers) }));

/** MEMORY_SOFT_LIMIT_BYTES for up to two workers; past that, the same headroom above the workers' rings. */
export function defaultMemorySoftLimitBytes(workers: number): number {
  return Math.max(MEMORY_SOFT_LIMIT_BYTES, workers * WORKER_RINGS_BYTES + MEMORY_SOFT_LIMIT_HEADROOM_BYTES);
}

export type BrokerConfig = z.output<typeof BrokerConfigSchema>;
export type BrokerConfigInput = z.input<typeof BrokerConfigSchema>;

/** Validates a merged configuration; throws an Error whose message names every bad field. */
export function parseBrokerConfig(input: unknown): BrokerConfig {
  const result = BrokerConfigSchema.safeParse(input);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const field = issue.path.length > 0 ? issue.path.join(".") : "(config)";
    return `  ${field}: ${issue.message}`;
  });
  throw new Error(`invalid configuration:\n${lines.join("\n")}`);
}
