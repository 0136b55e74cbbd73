// Topic and log configuration: Kafka's names and defaults, validated with zod at
// the edge (CreateTopics, AlterConfigs, the metadata store on start), turned
// into a typed LogConfig that the log reads. A bad value is rejected with
// INVALID_CONFIG and a message naming the field and the rule it broke.
//
// Values arrive as strings (Kafka's wire form) or numbers; both are accepted.

import { z } from "zod";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import { BATCH_BYTES_MAX } from "../../protocol/limits.ts";
import { BATCH_HEADER_BYTES } from "../../protocol/record_batch.ts";
import {
  FLUSH_BYTES_MAX,
  FLUSH_INTERVAL_MS_MAX,
  INDEX_INTERVAL_BYTES_MAX,
  SEGMENT_BYTES_MAX,
  SEGMENT_BYTES_MIN,
} from "./log_limits.ts";

const DAY_MS = 24 * 60 * 60 * 1000;
const MiB = 1024 * 1024;

export type TimestampType = "CreateTime" | "LogAppendTime";

export interface LogConfig {
  /** Roll the active segment when an append would take it past this size. */
  segmentBytes: number;
  /** Roll the active segment when its first batch is older than this. */
  segmentMs: number;
  /** Delete sealed segments whose largest timestamp is older than this; -1 keeps them forever. */
  retentionMs: number;
  /** Delete the oldest sealed segments while the partition is larger than this; -1 = unlimited. */
  retentionBytes: number;
  /** Bytes of log between two entries of the sparse offset and time indexes. */
  indexIntervalBytes: number;
  /** Longest an appended byte waits for its fdatasync; 0 = as soon as the writer is idle. */
  flushIntervalMs: number;
  /** Unsynced bytes that make a flush due at once. */
  flushBytes: number;
  /** Largest record batch accepted. */
  maxMessageBytes: number;
  timestampType: TimestampType;
  /** How long a deleted segment's file stays open for reads already planned on it. */
  fileDeleteDelayMs?: number;
}

/** Kafka names and defaults. Every key listed here is accepted by parseTopicConfig. */
export const TOPIC_CONFIG_DEFAULTS: Record<string, string | number> = {
  "segment.bytes": 1024 * MiB,
  "segment.ms": 7 * DAY_MS,
  "retention.ms": 7 * DAY_MS,
  "retention.bytes": -1,
  "index.interval.bytes": 4096,
  // 0: fdatasync as soon as data is written and the previous flush of the partition
  // returned (group commit without a wait: what piles up during one fdatasync rides
  // the next). Measured against 2 ms (docs/perf-log.md): the same batched throughput,
  // as much or more with one message per request, ~5 ms off e2e latency; the cost
  // is more fdatasyncs, so more broker CPU, at moderate load.
  "flush.interval.ms": 0,
  "flush.bytes": 4 * MiB,
  "max.message.bytes": BATCH_BYTES_MAX,
  "message.timestamp.type": "CreateTime",
  "cleanup.policy": "delete",
  "file.delete.delay.ms": 60_000,
};

function integer(min: number, max: number) {
  const rule =
    max === Number.MAX_SAFE_INTEGER ? `must be an integer ≥ ${min}` : `must be an integer from ${min} to ${max}`;
  return z
    .union([z.number(), z.string().trim().regex(/^-?\d+$/).transform(Number)], { error: rule })
    .pipe(z.number().int({ error: rule }).min(min, { error: rule }).max(max, { error: rule }));
}

const SAFE = Number.MAX_SAFE_INTEGER;

const topicConfigSchema = z.strictObject({
  "segment.bytes": integer(SEGMENT_BYTES_MIN, SEGMENT_BYTES_MAX).optional(),
  "segment.ms": integer(1, SAFE).optional(),
  "retention.ms": integer(-1, SAFE).optional(),
  "retention.bytes": integer(-1, SAFE).optional(),
  "index.interval.bytes": integer(0, INDEX_INTERVAL_BYTES_MAX).optional(),
  "flush.interval.ms": integer(0, FLUSH_INTERVAL_MS_MAX).optional(),
  "flush.bytes": integer(1, FLUSH_BYTES_MAX).optional(),
  // Capped at BATCH_BYTES_MAX: the shared ring is sized to hold four maximal batches.
  // At least a batch's fixed header: a smaller max.message.bytes would refuse every batch.
  "max.message.bytes": integer(BATCH_HEADER_BYTES, BATCH_BYTES_MAX).optional(),
  "message.timestamp.type": z
    .enum(["CreateTime", "LogAppendTime"], { error: "must be CreateTime or LogAppendTime" })
    .optional(),
  "cleanup.policy": z
    .string({ error: "must be delete" })
    .refine((v) => v !== "compact", { error: "compact is not supported yet (only delete)" })
    .refine((v) => v === "compact" || v === "delete", { error: "must be delete" })
    .optional(),
  "file.delete.delay.ms": integer(0, SAFE).optional(),
});

function describe(value: unknown): string {
  return typeof value === "string" ? `'${value}'` : String(value);
}

/**
 * Parses Kafka-named topic settings (missing keys take their defaults).
 * Throws SluiceError(INVALID_CONFIG) naming the first bad field and its rule.
 */
export function parseTopicConfig(entries: Record<string, string | number>): LogConfig {
  const parsed = topicConfigSchema.safeParse(entries);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    if (issue.code === "unrecognized_keys") {
      throw new SluiceError(ErrorCode.INVALID_CONFIG, `${issue.keys[0]}: unknown topic config`);
    }
    const field = String(issue.path[0]);
    throw new SluiceError(ErrorCode.INVALID_CONFIG, `${field}: ${issue.message} (got ${describe(entries[field])})`);
  }
  const v = parsed.data;
  const d = TOPIC_CONFIG_DEFAULTS;
  return {
    segmentBytes: v["segment.bytes"] ?? (d["segment.bytes"] as number),
    segmentMs: v["segment.ms"] ?? (d["segment.ms"] as number),
    retentionMs: v["retention.ms"] ?? (d["retention.ms"] as number),
    retentionBytes: v["retention.bytes"] ?? (d["retention.bytes"] as number),
    indexIntervalBytes: v["index.interval.bytes"] ?? (d["index.interval.bytes"] as number),
    flushIntervalMs: v["flush.interval.ms"] ?? (d["flush.interval.ms"] as number),
    flushBytes: v["flush.bytes"] ?? (d["flush.bytes"] as number),
    maxMessageBytes: v["max.message.bytes"] ?? (d["max.message.bytes"] as number),
    timestampType: v["message.timestamp.type"] ?? (d["message.timestamp.type"] as TimestampType),
    fileDeleteDelayMs: v["file.delete.delay.ms"] ?? (d["file.delete.delay.ms"] as number),
  };
}

/** The config back in Kafka's names and string form (for DescribeTopics). */
export function topicConfigEntries(cfg: LogConfig): Record<string, string> {
  return {
    "segment.bytes": String(cfg.segmentBytes),
    "segment.ms": String(cfg.segmentMs),
    "retention.ms": String(cfg.retentionMs),
    "retention.bytes": String(cfg.retentionBytes),
    "index.interval.bytes": String(cfg.indexIntervalBytes),
    "flush.interval.ms": String(cfg.flushIntervalMs),
    "flush.bytes": String(cfg.flushBytes),
    "max.message.bytes": String(cfg.maxMessageBytes),
    "message.timestamp.type": cfg.timestampType,
    "cleanup.policy": "delete",
    "file.delete.delay.ms": String(cfg.fileDeleteDelayMs ?? TOPIC_CONFIG_DEFAULTS["file.delete.delay.ms"]),
  };
}
