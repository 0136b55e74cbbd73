// A topic's effective log configuration: the broker's topic defaults
// (`topicDefaults` in the broker config), overridden by the topic's own
// settings. Only the topic's own settings are stored in the metadata, so a
// changed broker default reaches every topic that did not set its own.

import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { type LogConfig, parseTopicConfig, topicConfigEntries } from "../workers/mod.ts";

export type { LogConfig };

/** Throws SluiceError(INVALID_CONFIG) naming the bad field. */
export function parseLogConfig(defaults: Record<string, string>, own: Record<string, string>): LogConfig {
  return parseTopicConfig({ ...defaults, ...own });
}

/** Every setting with its effective value, Kafka names (for DescribeTopics). */
export function effectiveTopicConfig(cfg: LogConfig): Record<string, string> {
  return topicConfigEntries(cfg);
}

/** Topic configs only a cluster knows (kept in etcd with the topic, not part of a partition's log config). */
export const CLUSTER_TOPIC_CONFIGS: readonly string[] = ["min.insync.replicas"];

/** The log's share of a cluster topic's configs (the cluster-only keys left out). */
export function logConfigsOf(configs: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(configs)) if (!CLUSTER_TOPIC_CONFIGS.includes(k)) out[k] = v;
  return out;
}

/** Checks the cluster-only configs of a new topic; throws SluiceError(INVALID_CONFIG) naming the bad one. */
export function checkClusterTopicConfigs(configs: Readonly<Record<string, string>>, replicationFactor: number): void {
  const raw = configs["min.insync.replicas"];
  if (raw === undefined) return;
  const n = Number(raw);
  if (!/^[1-9]\d{0,2}$/.test(raw) || n > replicationFactor) {
    throw new SluiceError(ErrorCode.INVALID_CONFIG, `min.insync.replicas: must be an integer from 1 to the replication factor ${replicationFactor} (got '${raw}')`);
  }
}
