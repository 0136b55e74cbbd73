// `sluice serve` configuration: defaults < file < environment < flags, and a
// bad value named by its field, flag and environment variable.

import { afterEach, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseBrokerConfig } from "../engine/broker_config.ts";
import { mergeConfigSources } from "./serve_cmd.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function configFile(value: unknown): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-"));
  dirs.push(d);
  const file = path.join(d, "sluice.json");
  fs.writeFileSync(file, JSON.stringify(value));
  return file;
}

describe("serve configuration", () => {
  test("defaults: 127.0.0.1:9900, http 9901, ./data, auto-create on, 1 partition", () => {
    const cfg = parseBrokerConfig(mergeConfigSources({ argv: [], env: {} }).merged);
    expect(cfg).toMatchObject({ host: "127.0.0.1", port: 9900, httpPort: 9901, dataDir: "./data", autoCreateTopics: true, numPartitions: 1 });
    expect(cfg.workers).toBeGreaterThanOrEqual(1);
  });

  test("the web console: on by default; off by flag, environment or file; a bad value is named", () => {
    const at = (argv: string[], env: Record<string, string>) => parseBrokerConfig(mergeConfigSources({ argv, env }).merged).httpConsole;
    expect(at([], {})).toBe(true);
    expect(at(["--http-console", "false"], {})).toBe(false);
    expect(at([], { SLUICE_HTTP_CONSOLE: "false" })).toBe(false);
    expect(at([], { SLUICE_CONFIG: configFile({ httpConsole: false }) })).toBe(false);
    expect(at(["--http-console=true"], { SLUICE_HTTP_CONSOLE: "false" })).toBe(true);
    expect(() => at(["--http-console", "maybe"], {})).toThrow("httpConsole");
  });

  test("the Kafka listener: 9092 by default, SLUICE_KAFKA_PORT, --kafka-port -1 turns it off, an advertised address; -2 is refused by name", () => {
    expect(parseBrokerConfig(mergeConfigSources({ argv: [], env: {} }).merged).kafkaPort).toBe(9092);
    expect(parseBrokerConfig(mergeConfigSources({ argv: [], env: { SLUICE_KAFKA_PORT: "0" } }).merged).kafkaPort).toBe(0);
    const off = parseBrokerConfig(mergeConfigSources({ argv: ["--kafka-port", "-1"], env: { SLUICE_KAFKA_PORT: "0" } }).merged);
    expect(off.kafkaPort).toBe(-1);
    const adv = parseBrokerConfig(
      mergeConfigSources({ argv: ["--kafka-advertised-host", "broker.example", "--kafka-advertised-port=19092"], env: {} }).merged,
    );
    expect([adv.kafkaAdvertisedHost, adv.kafkaAdvertisedPort]).toEqual(["broker.example", 19092]);
    expect(() => parseBrokerConfig(mergeConfigSources({ argv: ["--kafka-port", "-2"], env: {} }).merged)).toThrow(/kafkaPort/);
  });

  test("the native advertised port (registered in a cluster): flag, SLUICE_ADVERTISED_PORT, unset by default; 0 is refused by name", () => {
    expect(parseBrokerConfig(mergeConfigSources({ argv: [], env: {} }).merged).advertisedPort).toBeUndefined();
    expect(parseBrokerConfig(mergeConfigSources({ argv: ["--advertised-port", "19900"], env: {} }).merged).advertisedPort).toBe(19900);
    expect(parseBrokerConfig(mergeConfigSources({ argv: [], env: { SLUICE_ADVERTISED_PORT: "19901" } }).merged).advertisedPort).toBe(19901);
    expect(() => parseBrokerConfig(mergeConfigSources({ argv: ["--advertised-port", "0"], env: {} }).merged)).toThrow(/advertisedPort/);
  });

  test("flags beat the environment, which beats the file; topic defaults merge key by key", () => {
    const file = configFile({ port: 1111, httpPort: 2222, numPartitions: 3, topicDefaults: { "retention.ms": "1000", "segment.bytes": "1048576" } });
    const { merged } = mergeConfigSources({
      argv: ["--port", "3333", "--topic-default", "retention.ms=5000", "--auto-create-topics=false"],
      env: { SLUICE_CONFIG: file, SLUICE_PORT: "4444", SLUICE_HTTP_PORT: "5555", SLUICE_DATA_DIR: "/tmp/x" },
    });
    const cfg = parseBrokerConfig(merged);
    expect(cfg.port).toBe(3333);
    expect(cfg.httpPort).toBe(5555);
    expect(cfg.numPartitions).toBe(3);
    expect(cfg.dataDir).toBe("/tmp/x");
    expect(cfg.autoCreateTopics).toBe(false);
    expect(cfg.topicDefaults).toEqual({ "retention.ms": "5000", "segment.bytes": "1048576" });
  });

  test("an unknown key in the file is refused by name", () => {
    const file = configFile({ prot: 1 });
    expect(() => parseBrokerConfig(mergeConfigSources({ argv: ["--config", file], env: {} }).merged)).toThrow(/prot/);
  });

  test("a bad value stops `sluice serve` with exit 2 and names the field, flag and variable", () => {
    const repo = path.resolve(import.meta.dir, "..");
    const r = spawnSync(path.join(repo, "node_modules", ".bin", "bun"), ["cli/main.ts", "serve", "--port", "70000"], { cwd: repo, encoding: "utf8", timeout: 20_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("port (--port, SLUICE_PORT)");
    const r2 = spawnSync(path.join(repo, "node_modules", ".bin", "bun"), ["cli/main.ts", "serve", "--workers", "many"], { cwd: repo, encoding: "utf8", timeout: 20_000 });
    expect(r2.status).toBe(2);
    expect(r2.stderr).toContain("workers (--workers, SLUICE_WORKERS)");
  });
});
