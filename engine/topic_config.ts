// A topic's effective log configuration: the broker's topic defaults
// (`topicDefaults` in the broker config), overridden by the topic's own
// settings. Only the topic's own settings are stored in the metadata, so a
// changed broker default reaches every topic that did not set its own.

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
