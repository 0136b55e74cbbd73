import { describe, expect, test } from "bun:test";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import { BATCH_BYTES_MAX } from "../../protocol/limits.ts";
import { TOPIC_CONFIG_DEFAULTS, parseTopicConfig, topicConfigEntries } from "./log_config.ts";

function configError(entries: Record<string, string | number>): SluiceError {
  try {
    parseTopicConfig(entries);
  } catch (e) {
    if (e instanceof SluiceError) return e;
    throw e;
  }
  throw new Error("expected INVALID_CONFIG");
}

describe("parseTopicConfig", () => {
  test("defaults are Kafka's", () => {
    const cfg = parseTopicConfig({});
    expect(cfg.segmentBytes).toBe(1073741824);
    expect(cfg.segmentMs).toBe(604800000);
    expect(cfg.retentionMs).toBe(604800000);
    expect(cfg.retentionBytes).toBe(-1);
    expect(cfg.indexIntervalBytes).toBe(4096);
    expect(cfg.flushIntervalMs).toBe(0);
    expect(cfg.flushBytes).toBe(4 * 1024 * 1024);
    expect(cfg.maxMessageBytes).toBe(BATCH_BYTES_MAX);
    expect(cfg.timestampType).toBe("CreateTime");
  });

  test("accepts strings and numbers", () => {
    const cfg = parseTopicConfig({ "retention.ms": "-1", "segment.bytes": 4096, "message.timestamp.type": "LogAppendTime" });
    expect(cfg.retentionMs).toBe(-1);
    expect(cfg.segmentBytes).toBe(4096);
    expect(cfg.timestampType).toBe("LogAppendTime");
  });

  test("a bad value names the field, the rule and the value", () => {
    const e = configError({ "retention.ms": "abc" });
    expect(e.code).toBe(ErrorCode.INVALID_CONFIG);
    expect(e.message).toBe("retention.ms: must be an integer ≥ -1 (got 'abc')");
    expect(configError({ "segment.bytes": 10 }).message).toBe(
      "segment.bytes: must be an integer from 1024 to 2147483647 (got 10)",
    );
    expect(configError({ "flush.bytes": "1.5" }).message).toContain("flush.bytes: must be an integer");
    expect(configError({ "max.message.bytes": BATCH_BYTES_MAX + 1 }).message).toContain("max.message.bytes");
    expect(configError({ "message.timestamp.type": "Now" }).message).toBe(
      "message.timestamp.type: must be CreateTime or LogAppendTime (got 'Now')",
    );
  });

  test("unknown keys and compaction are refused", () => {
    expect(configError({ "retention.hours": 1 }).message).toBe("retention.hours: unknown topic config");
    const e = configError({ "cleanup.policy": "compact" });
    expect(e.code).toBe(ErrorCode.INVALID_CONFIG);
    expect(e.message).toContain("not supported yet");
    expect(configError({ "cleanup.policy": "keep" }).message).toContain("must be delete");
  });

  test("topicConfigEntries round-trips through parseTopicConfig", () => {
    const cfg = parseTopicConfig({ "retention.bytes": 1 << 20, "flush.interval.ms": 0 });
    const entries = topicConfigEntries(cfg);
    expect(entries["retention.bytes"]).toBe(String(1 << 20));
    expect(Object.keys(entries).sort()).toEqual(Object.keys(TOPIC_CONFIG_DEFAULTS).sort());
    expect(parseTopicConfig(entries)).toEqual(cfg);
  });
});
