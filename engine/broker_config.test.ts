import { describe, expect, test } from "bun:test";
import { defaultMemorySoftLimitBytes, parseBrokerConfig } from "./broker_config.ts";
import { BATCH_BYTES_MAX, FETCH_RESPONSE_BYTES_MAX } from "../protocol/limits.ts";
import { REPLICA_LAG_TIME_MAX_MS_DEFAULT, REPLICA_LAG_TIME_MAX_MS_MIN } from "./replication/replication_limits.ts";
import { MEMORY_SOFT_LIMIT_BYTES, MEMORY_SOFT_LIMIT_HEADROOM_BYTES, OUTPUT_BYTES_MIN, OUTPUT_PAUSE_BYTES, WORKER_RINGS_BYTES } from "./engine_limits.ts";

describe("broker config", () => {
  test("the memory soft limit defaults to MEMORY_SOFT_LIMIT_BYTES, 0 turns it off, a negative value is refused naming the field", () => {
    expect(parseBrokerConfig({ workers: 2 }).memorySoftLimitBytes).toBe(MEMORY_SOFT_LIMIT_BYTES);
    expect(parseBrokerConfig({ workers: 1 }).memorySoftLimitBytes).toBe(MEMORY_SOFT_LIMIT_BYTES);
    expect(parseBrokerConfig({ memorySoftLimitBytes: 0 }).memorySoftLimitBytes).toBe(0);
    expect(() => parseBrokerConfig({ memorySoftLimitBytes: -5 })).toThrow(/memorySoftLimitBytes/);
    expect(() => parseBrokerConfig({ memorySoftLimitBytes: 1.5 })).toThrow(/memorySoftLimitBytes/);
  });

  test("replicaLagTimeMaxMs defaults to Kafka's 10 s; below twice the replica fetch wait or not an integer is refused, naming the field", () => {
    expect(parseBrokerConfig({}).replicaLagTimeMaxMs).toBe(REPLICA_LAG_TIME_MAX_MS_DEFAULT);
    expect(parseBrokerConfig({ replicaLagTimeMaxMs: REPLICA_LAG_TIME_MAX_MS_MIN }).replicaLagTimeMaxMs).toBe(REPLICA_LAG_TIME_MAX_MS_MIN);
    expect(() => parseBrokerConfig({ replicaLagTimeMaxMs: REPLICA_LAG_TIME_MAX_MS_MIN - 1 })).toThrow(/replicaLagTimeMaxMs/);
    expect(() => parseBrokerConfig({ replicaLagTimeMaxMs: 1500.5 })).toThrow(/replicaLagTimeMaxMs/);
  });

  test("the automatic leader balancer is on with Kafka's defaults (10 %, 300 s); a percentage above 100 or an interval of 0 is refused, naming the field", () => {
    const c = parseBrokerConfig({});
    expect([c.autoLeaderRebalance, c.leaderImbalancePerBrokerPercentage, c.leaderImbalanceCheckIntervalSeconds]).toEqual([true, 10, 300]);
    expect(parseBrokerConfig({ autoLeaderRebalance: false }).autoLeaderRebalance).toBe(false);
    expect(() => parseBrokerConfig({ leaderImbalancePerBrokerPercentage: 101 })).toThrow(/leaderImbalancePerBrokerPercentage/);
    expect(() => parseBrokerConfig({ leaderImbalanceCheckIntervalSeconds: 0 })).toThrow(/leaderImbalanceCheckIntervalSeconds/);
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

  test("a memory soft limit the workers' rings alone pass is refused, naming the field; the default grows with the workers' rings", () => {
    // 16 workers keep 16 ring pairs resident: the old fixed default (160 MiB) was below that.
    expect(16 * WORKER_RINGS_BYTES).toBeGreaterThan(MEMORY_SOFT_LIMIT_BYTES);
    expect(() => parseBrokerConfig({ workers: 16, memorySoftLimitBytes: MEMORY_SOFT_LIMIT_BYTES })).toThrow(/memorySoftLimitBytes: must be 0 \(off\) or above/);
    expect(() => parseBrokerConfig({ workers: 2, memorySoftLimitBytes: 2 * WORKER_RINGS_BYTES })).toThrow(/memorySoftLimitBytes/);
    expect(parseBrokerConfig({ workers: 2, memorySoftLimitBytes: 2 * WORKER_RINGS_BYTES + 1 }).memorySoftLimitBytes).toBe(2 * WORKER_RINGS_BYTES + 1);
    expect(parseBrokerConfig({ workers: 16, memorySoftLimitBytes: 0 }).memorySoftLimitBytes).toBe(0);
    const grown = parseBrokerConfig({ workers: 16 }).memorySoftLimitBytes;
    expect(grown).toBe(defaultMemorySoftLimitBytes(16));
    expect(grown).toBe(16 * WORKER_RINGS_BYTES + MEMORY_SOFT_LIMIT_HEADROOM_BYTES);
    // The default is always one the check accepts.
    for (const workers of [1, 2, 3, 7, 64]) expect(() => parseBrokerConfig({ workers })).not.toThrow();
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
