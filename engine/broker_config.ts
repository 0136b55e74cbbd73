// The broker's configuration: one zod schema, so every value is checked once,
// at start, with a message that names the field. Sources (flags, SLUICE_*
// environment variables, a JSON file) are merged by cli/serve_cmd.ts; this
// module only defines what a valid configuration is and its defaults.

import os from "node:os";
import { z } from "zod";
import {
  BROKER_ID_MAX,
  CLUSTER_NAME_DEFAULT,
  CLUSTER_NAME_PATTERN,
  ETCD_ENDPOINTS_MAX,
  LEASE_TTL_SECONDS_DEFAULT,
  LEASE_TTL_SECONDS_MAX,
  LEASE_TTL_SECONDS_MIN,
} from "../cluster/mod.ts";
import {
  CONNECTIONS_MAX,
  FETCH_WAIT_MS_MAX,
  OUTPUT_BYTES_MAX,
  PARTITIONS_PER_TOPIC_MAX,
  REQUEST_TIMEOUT_MS,
  WAITING_FETCHES_MAX,
} from "../protocol/limits.ts";

/**
 * Default resident-memory soft limit (memorySoftLimitBytes): a broker of two
 * workers starts at ~75 MiB, and its rings alone take 48 MiB once cycled
 * through; 160 MiB leaves room for a few hundred partitions before the
 * governor's collections back off.
 */
export const MEMORY_SOFT_LIMIT_BYTES = 160 * 1024 * 1024;

/** Partition worker threads at most; each owns a ring pair of RING_BYTES + COMPLETION_RING_BYTES. */
export const WORKERS_MAX = 64;

const port = z.number().int().min(0).max(65_535);

export const BrokerConfigSchema = z
  .object({
    /** Address both listeners bind to. */
    host: z.string().min(1).default("127.0.0.1"),
    /** Native protocol port; 0 = any free port. */
    port: port.default(9900),
    /** HTTP (health, metrics) port; 0 = any free port. */
    httpPort: port.default(9901),
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
    topicDefaults: z.record(z.string(), z.string()).default({}),
    /** Connection limits; the defaults are protocol/limits.ts. */
    connectionsMax: z.number().int().min(1).max(1_000_000).default(CONNECTIONS_MAX),
    requestTimeoutMs: z.number().int().min(10).max(3_600_000).default(REQUEST_TIMEOUT_MS),
    outputBytesMax: z.number().int().min(64 * 1024).max(OUTPUT_BYTES_MAX * 16).default(OUTPUT_BYTES_MAX),
    waitingFetchesMax: z.number().int().min(0).max(10_000_000).default(WAITING_FETCHES_MAX),
    /**
     * Resident memory above which the router forces a full garbage collection, at
     * most every 250 ms (engine/memory_governor.ts says why); 0 turns it off.
     */
    memorySoftLimitBytes: z.number().int().min(0).max(2 ** 40).default(MEMORY_SOFT_LIMIT_BYTES),
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
    /** The broker's rack (failure domain), registered with it; replica placement will use it. */
    rack: z.string().min(1).max(64).optional(),
    /** The broker's etcd session TTL: how long after a crash it counts as gone; bounds failover time. */
    clusterLeaseTtlSeconds: z.number().int().min(LEASE_TTL_SECONDS_MIN).max(LEASE_TTL_SECONDS_MAX).default(LEASE_TTL_SECONDS_DEFAULT),
  })
  .strict()
  .refine((c) => c.clusterEtcd === undefined || c.brokerId !== undefined, {
    path: ["brokerId"],
    message: "required when clusterEtcd is set (each broker of a cluster needs its own id)",
  });

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
