import { describe, expect, test } from "bun:test";
import { parseBrokerConfig } from "./broker_config.ts";
import { BATCH_BYTES_MAX, FETCH_RESPONSE_BYTES_MAX } from "../protocol/limits.ts";
import { MEMORY_SOFT_LIMIT_BYTES, OUTPUT_BYTES_MIN, OUTPUT_PAUSE_BYTES } from "./engine_limits.ts";

describe("broker config", () => {
  test("the memory soft limit defaults to MEMORY_SOFT_LIMIT_BYTES, 0 turns it off, a negative value is refused naming the field", () => {
    expect(parseBrokerConfig({}).memorySoftLimitBytes).toBe(MEMORY_SOFT_LIMIT_BYTES);
    expect(parseBrokerConfig({ memorySoftLimitBytes: 0 }).memorySoftLimitBytes).toBe(0);
    expect(() => parseBrokerConfig({ memorySoftLimitBytes: -5 })).toThrow(/memorySoftLimitBytes/);
    expect(() => parseBrokerConfig({ memorySoftLimitBytes: 1.5 })).toThrow(/memorySoftLimitBytes/);
  });

  test("the worker journal is on by default, can be turned off, and only takes a boolean", () => {
    expect(parseBrokerConfig({}).workerJournal).toBe(true);
    expect(parseBrokerConfig({ workerJournal: false }).workerJournal).toBe(false);
    expect(() => parseBrokerConfig({ workerJournal: "maybe" })).toThrow(/workerJournal/);
  });

  test("outputBytesMax below a maximal fetch response past the pause threshold is refused, naming the field; the least that works is taken", () => {
    expect(OUTPUT_BYTES_MIN).toBe(OUTPUT_PAUSE_BYTES + FETCH_RESPONSE_BYTES_MAX);
    expect(parseBrokerConfig({ outputBytesMax: OUTPUT_BYTES_MIN }).outputBytesMax).toBe(OUTPUT_BYTES_MIN);
    // What was accepted before: a bound smaller than one maximal fetch response.
    expect(() => parseBrokerConfig({ outputBytesMax: 1024 * 1024 })).toThrow(/outputBytesMax: must be at least/);
    expect(() => parseBrokerConfig({ outputBytesMax: OUTPUT_BYTES_MIN - 1 })).toThrow(/outputBytesMax/);
  });

  test("topicDefaults the topic limits refuse are refused at parse, naming the field and the setting", () => {
    expect(parseBrokerConfig({ topicDefaults: { "max.message.bytes": String(BATCH_BYTES_MAX) } }).topicDefaults).toEqual({
      "max.message.bytes": String(BATCH_BYTES_MAX),
    });
    expect(() => parseBrokerConfig({ topicDefaults: { "max.message.bytes": String(BATCH_BYTES_MAX + 1) } })).toThrow(/topicDefaults: .*max\.message\.bytes/);
    expect(() => parseBrokerConfig({ topicDefaults: { "segment.bytes": "-1" } })).toThrow(/topicDefaults: .*segment\.bytes/);
    expect(() => parseBrokerConfig({ topicDefaults: { "no.such.setting": "1" } })).toThrow(/topicDefaults: .*no\.such\.setting/);
  });

  test("an unknown field is refused by name", () => {
    expect(() => parseBrokerConfig({ memorySoftLimit: 1 })).toThrow(/memorySoftLimit/);
  });
});
