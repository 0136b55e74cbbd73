import { describe, expect, test } from "bun:test";
import { parseBenchArgs, UsageError } from "./options.ts";

describe("parseBenchArgs", () => {
  test("defaults: 1M messages of 100 bytes, 8 partitions, acks=all", () => {
    const o = parseBenchArgs(["produce", "--embedded"]);
    expect(o).toMatchObject({ mode: "produce", embedded: true, messages: 1_000_000, sizeBytes: 100, partitions: 8, acks: -1, producers: 1, consumers: 1, json: false });
  });

  test("every option is read", () => {
    const o = parseBenchArgs([
      "e2e", "--broker", "127.0.0.1:9900", "--duration", "2.5", "--size", "200", "--partitions", "4",
      "--producers", "2", "--consumers", "2", "--acks", "1", "--batch-bytes", "0", "--linger-ms", "2",
      "--rate", "100_000", "--json", "--topic", "t1", "--broker-pid", "1234",
    ]);
    expect(o).toMatchObject({
      mode: "e2e", broker: { host: "127.0.0.1", port: 9900 }, embedded: false, messages: undefined, durationSec: 2.5,
      sizeBytes: 200, partitions: 4, producers: 2, consumers: 2, acks: 1, batchBytes: 0, lingerMs: 2,
      ratePerSec: 100_000, json: true, topic: "t1", brokerPid: 1234,
    });
  });

  test("a cluster: several --broker addresses, the topic's RF and min ISR, a comparison RF; refused where they cannot apply", () => {
    const o = parseBenchArgs(["produce", "--broker", "127.0.0.1:9900,127.0.0.1:9910, 127.0.0.1:9920", "--replication-factor", "3", "--min-insync-replicas", "2", "--compare-rf", "1"]);
    expect(o).toMatchObject({
      broker: { host: "127.0.0.1", port: 9900 },
      brokers: [{ host: "127.0.0.1", port: 9900 }, { host: "127.0.0.1", port: 9910 }, { host: "127.0.0.1", port: 9920 }],
      replicationFactor: 3,
      minInsyncReplicas: 2,
      compareRf: 1,
    });
    expect(() => parseBenchArgs(["produce", "--embedded", "--replication-factor", "3"])).toThrow("need a cluster (--broker)");
    expect(() => parseBenchArgs(["produce", "--broker", "a:1,b:2", "--client", "raw"])).toThrow("give one --broker address");
    expect(() => parseBenchArgs(["produce", "--broker", "a:1", "--replication-factor", "2", "--min-insync-replicas", "3"])).toThrow("cannot exceed --replication-factor");
    expect(() => parseBenchArgs(["produce", "--broker", "a:1", "--replication-factor", "17"])).toThrow("--replication-factor must be 1..16");
    expect(() => parseBenchArgs(["produce", "--broker", "a:1,b"])).toThrow("--broker must be HOST:PORT");
    expect(() => parseBenchArgs(["produce", "--broker", "a:1", "--compare-rf", "1", "--topic", "t"])).toThrow("leave out --topic");
  });

  test("--compression: a codec name, log-line payload by default, refused for the baseline client", () => {
    expect(parseBenchArgs(["produce", "--embedded"])).toMatchObject({ compression: "none", payload: "pattern" });
    expect(parseBenchArgs(["produce", "--embedded", "--compression", "zstd"])).toMatchObject({ compression: "zstd", payload: "log" });
    expect(parseBenchArgs(["produce", "--embedded", "--compression", "lz4", "--payload", "pattern"])).toMatchObject({ compression: "lz4", payload: "pattern" });
    expect(() => parseBenchArgs(["produce", "--embedded", "--compression", "brotli"])).toThrow("--compression must be one of none, gzip, snappy, lz4, zstd");
    expect(() => parseBenchArgs(["produce", "--embedded", "--payload", "random"])).toThrow("--payload must be pattern or log");
    expect(() => parseBenchArgs(["produce", "--embedded", "--compression", "gzip", "--client", "raw"])).toThrow(UsageError);
  });

  test("load-shape and diagnostic options", () => {
    const o = parseBenchArgs([
      "e2e", "--embedded", "--duration", "7", "--warmup", "1", "--timeline", "--send-batch", "256", "--client", "raw",
      "--serve-arg=--topic-default", "--serve-arg=flush.interval.ms=0", "--profile-broker", "/tmp/p",
    ]);
    expect(o).toMatchObject({
      warmupSec: 1, timeline: true, sendBatch: 256, client: "raw", profileBrokerDir: "/tmp/p",
      serveArgs: ["--topic-default", "flush.interval.ms=0"],
    });
    expect(parseBenchArgs(["produce", "--broker", "h:1", "--broker-http-port", "9901"])).toMatchObject({ brokerHttpPort: 9901 });
  });

  test("refuses what it cannot honour, with a usage error", () => {
    const bad = [
      ["produce"],
      ["produce", "--embedded", "--broker", "h:1"],
      ["fly", "--embedded"],
      ["produce", "--embedded", "--messages", "10", "--duration", "1"],
      ["produce", "--embedded", "--acks", "2"],
      ["produce", "--embedded", "--size", "10"],
      ["produce", "--embedded", "--messages", "1e3"],
      ["e2e", "--embedded", "--partitions", "2", "--consumers", "3"],
      ["produce", "--broker", "nohost"],
      ["produce", "--embedded", "--frobnicate"],
      ["e2e", "--embedded", "--duration", "2", "--warmup", "2"],
      ["produce", "--embedded", "--client", "kafka"],
      ["produce", "--embedded", "--send-batch", "0"],
      ["produce", "--broker", "h:1", "--serve-arg=--workers"],
      ["produce", "--embedded", "--broker-http-port", "9901"],
    ];
    for (const argv of bad) expect(() => parseBenchArgs(argv)).toThrow(UsageError);
  });

  test("--help", () => {
    expect(parseBenchArgs(["--help"])).toBe("help");
  });
});
