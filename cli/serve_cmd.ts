// `sluice serve`: run a broker in the foreground.
//
// Configuration, later sources winning: built-in defaults < a JSON config file
// (--config FILE or SLUICE_CONFIG) < SLUICE_* environment variables < flags.
// The merged result is validated once (engine/broker_config.ts, zod); a bad
// value stops the start with a message that names the field, its flag and its
// environment variable.
//
// When ready (every partition recovered, both listeners open) it prints exactly
// one line to stdout:  sluice listening on <host>:<port> (kafka <kafkaPort>, http <httpPort>)
// ("kafka <kafkaPort>, " is left out when the Kafka listener is off).
// SIGTERM or SIGINT: graceful stop, exit 0 (in a cluster, a controlled shutdown
// first: docs/CLUSTER.md). A second signal exits at once (1).

import fs from "node:fs";
import { Broker } from "../engine/broker.ts";
import { parseBrokerConfig } from "../engine/broker_config.ts";
import { defaultPlugins } from "../engine/broker_plugins.ts";
import { CLUSTER_SETTINGS, connectCluster, joinCluster, leaveCluster } from "./serve_cluster.ts";

type Kind = "string" | "int" | "bool" | "map" | "list";

interface Setting {
  key: string;
  flag: string;
  env: string;
  kind: Kind;
  help: string;
}

const SETTINGS: Setting[] = [
  { key: "host", flag: "--host", env: "SLUICE_HOST", kind: "string", help: "address to bind both listeners to (default 127.0.0.1)" },
  { key: "port", flag: "--port", env: "SLUICE_PORT", kind: "int", help: "native protocol port, 0 = any free port (default 9900)" },
  { key: "kafkaPort", flag: "--kafka-port", env: "SLUICE_KAFKA_PORT", kind: "int", help: "Kafka protocol port, 0 = any free port, -1 = off (default 9092)" },
  { key: "kafkaAdvertisedHost", flag: "--kafka-advertised-host", env: "SLUICE_KAFKA_ADVERTISED_HOST", kind: "string", help: "host Kafka clients are told to connect to (default: --host)" },
  { key: "kafkaAdvertisedPort", flag: "--kafka-advertised-port", env: "SLUICE_KAFKA_ADVERTISED_PORT", kind: "int", help: "port Kafka clients are told to connect to (default: the Kafka port)" },
  { key: "httpPort", flag: "--http-port", env: "SLUICE_HTTP_PORT", kind: "int", help: "HTTP port (/healthz, /metrics, the web console), 0 = any (default 9901)" },
  { key: "httpConsole", flag: "--http-console", env: "SLUICE_HTTP_CONSOLE", kind: "bool", help: "the web console and /api/v1/ on the HTTP port: true|false (default true)" },
  { key: "replicaRoleApi", flag: "--replica-role-api", env: "SLUICE_REPLICA_ROLE_API", kind: "bool", help: "serve api 1004 that sets partition replication roles by hand: tests only, never in a cluster (default false)" },
  { key: "dataDir", flag: "--data-dir", env: "SLUICE_DATA_DIR", kind: "string", help: "where topics and metadata live (default ./data)" },
  { key: "workers", flag: "--workers", env: "SLUICE_WORKERS", kind: "int", help: "partition worker threads (default: the number of cores)" },
  { key: "numPartitions", flag: "--num-partitions", env: "SLUICE_NUM_PARTITIONS", kind: "int", help: "partitions of a topic created without a count (default 1)" },
  { key: "autoCreateTopics", flag: "--auto-create-topics", env: "SLUICE_AUTO_CREATE_TOPICS", kind: "bool", help: "create a topic on first produce: true|false (default true)" },
  { key: "topicDefaults", flag: "--topic-default", env: "SLUICE_TOPIC_DEFAULTS", kind: "map", help: "a topic config default, KEY=VALUE (repeatable; env: comma-separated)" },
  { key: "connectionsMax", flag: "--connections-max", env: "SLUICE_CONNECTIONS_MAX", kind: "int", help: "open connections at most (default 1024)" },
  { key: "requestTimeoutMs", flag: "--request-timeout-ms", env: "SLUICE_REQUEST_TIMEOUT_MS", kind: "int", help: "close a connection whose request frame takes longer (default 30000)" },
  { key: "outputBytesMax", flag: "--output-bytes-max", env: "SLUICE_OUTPUT_BYTES_MAX", kind: "int", help: "close a connection with more unread response bytes (default 64 MiB)" },
  { key: "waitingFetchesMax", flag: "--waiting-fetches-max", env: "SLUICE_WAITING_FETCHES_MAX", kind: "int", help: "parked long-poll fetches at most (default 100000)" },
  { key: "memorySoftLimitBytes", flag: "--memory-soft-limit-bytes", env: "SLUICE_MEMORY_SOFT_LIMIT_BYTES", kind: "int", help: "resident bytes above which a full GC is forced, at most every 250 ms; 0 = off (default 160 MiB, plus 24 MiB a worker past two; must exceed 24 MiB a worker)" },
  { key: "workerJournal", flag: "--worker-journal", env: "SLUICE_WORKER_JOURNAL", kind: "bool", help: "one fdatasync per worker round for small appends across partitions: true|false (default true)" },
  { key: "shutdownTimeoutMs", flag: "--shutdown-timeout-ms", env: "SLUICE_SHUTDOWN_TIMEOUT_MS", kind: "int", help: "longest a graceful stop waits for in-flight requests (default 5000)" },
  ...CLUSTER_SETTINGS,
];

function usage(): string {
  const lines = ["usage: sluice serve [options]", "", "options (flag / environment variable):"];
  for (const s of SETTINGS) lines.push(`  ${s.flag.padEnd(24)} ${s.env.padEnd(28)} ${s.help}`);
  lines.push(`  ${"--config FILE".padEnd(24)} ${"SLUICE_CONFIG".padEnd(28)} a JSON file with the same settings in camelCase (e.g. {"port": 9900, "topicDefaults": {"retention.ms": "3600000"}})`);
  lines.push("", "Precedence: flags > environment > config file > defaults.");
  return lines.join("\n");
}

class UsageError extends Error {}

/** A flag or environment value in its schema type; left as a string when it does not parse, so validation names it. */
function convert(kind: Kind, raw: string): unknown {
  if (kind === "int") return /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw;
  if (kind === "list") return raw.split(",").map((x) => x.trim()).filter((x) => x !== "");
  if (kind === "bool") {
    const v = raw.trim().toLowerCase();
    if (v === "true" || v === "1" || v === "yes") return true;
    if (v === "false" || v === "0" || v === "no") return false;
    return raw;
  }
  return raw;
}

function parseKeyValue(item: string, where: string): [string, string] {
  const eq = item.indexOf("=");
  if (eq <= 0) throw new UsageError(`${where}: expected KEY=VALUE, got '${item}'`);
  return [item.slice(0, eq).trim(), item.slice(eq + 1).trim()];
}

export interface ServeConfigSources {
  argv: string[];
  env: Record<string, string | undefined>;
}

/** Merges defaults < file < env < flags into one object (not yet validated). Exported for tests. */
export function mergeConfigSources({ argv, env }: ServeConfigSources): { merged: Record<string, unknown>; help: boolean } {
  const flags: Record<string, unknown> = {};
  const flagDefaults: Record<string, string> = {};
  let configFile = env.SLUICE_CONFIG;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    if (arg === "--help" || arg === "-h") {
      help = true;
      continue;
    }
    let value: string | undefined;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const takeValue = (): string => {
      if (value !== undefined) return value;
      const next = argv[++i];
      if (next === undefined) throw new UsageError(`${arg} needs a value`);
      return next;
    };
    if (arg === "--config") {
      configFile = takeValue();
      continue;
    }
    const setting = SETTINGS.find((s) => s.flag === arg);
    if (setting === undefined) throw new UsageError(`unknown option '${arg}'`);
    const raw = takeValue();
    if (setting.kind === "map") {
      const [k, v] = parseKeyValue(raw, setting.flag);
      flagDefaults[k] = v;
    } else {
      flags[setting.key] = convert(setting.kind, raw);
    }
  }

  let fromFile: Record<string, unknown> = {};
  if (configFile !== undefined && configFile !== "") {
    let text: string;
    try {
      text = fs.readFileSync(configFile, "utf8");
    } catch (e) {
      throw new UsageError(`cannot read the config file ${configFile}: ${(e as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new UsageError(`the config file ${configFile} is not valid JSON: ${(e as Error).message}`);
    }
    if (json === null || typeof json !== "object" || Array.isArray(json)) throw new UsageError(`the config file ${configFile} must hold a JSON object`);
    fromFile = json as Record<string, unknown>;
  }

  const fromEnv: Record<string, unknown> = {};
  let envDefaults: Record<string, string> = {};
  for (const s of SETTINGS) {
    const raw = env[s.env];
    if (raw === undefined || raw === "") continue;
    if (s.kind === "map") {
      envDefaults = Object.fromEntries(raw.split(",").filter((x) => x.trim() !== "").map((x) => parseKeyValue(x, s.env)));
    } else {
      fromEnv[s.key] = convert(s.kind, raw);
    }
  }

  const merged: Record<string, unknown> = { ...fromFile, ...fromEnv, ...flags };
  const fileDefaults =
    fromFile.topicDefaults !== null && typeof fromFile.topicDefaults === "object" ? (fromFile.topicDefaults as Record<string, unknown>) : {};
  if (fromFile.topicDefaults !== undefined || Object.keys(envDefaults).length > 0 || Object.keys(flagDefaults).length > 0) {
    merged.topicDefaults =
      fromFile.topicDefaults !== undefined && (fromFile.topicDefaults === null || typeof fromFile.topicDefaults !== "object")
        ? fromFile.topicDefaults // let validation name the bad value
        : { ...fileDefaults, ...envDefaults, ...flagDefaults };
  }
  return { merged, help };
}

/** Adds the flag and env names to a validation message ("port (--port, SLUICE_PORT): …"). */
function withSourceNames(message: string): string {
  return message.replace(/^ {2}([A-Za-z.]+):/gm, (line, field: string) => {
    const s = SETTINGS.find((x) => x.key === field.split(".")[0]);
    return s === undefined ? line : `  ${field} (${s.flag}, ${s.env}):`;
  });
}

export async function run(argv: string[]): Promise<number> {
  let config;
  try {
    const { merged, help } = mergeConfigSources({ argv, env: process.env });
    if (help) {
      console.log(usage());
      return 0;
    }
    config = parseBrokerConfig(merged);
  } catch (e) {
    const message = e instanceof UsageError ? e.message : withSourceNames((e as Error).message);
    console.error(`sluice serve: ${message}`);
    if (e instanceof UsageError) console.error(`Run \`sluice serve --help\` for the options.`);
    return 2;
  }

  const log = (line: string) => console.error(line);
  // A bug in one request must not take the broker down: report loudly and keep serving.
  process.on("unhandledRejection", (reason) => log(`sluice: unhandled rejection: ${(reason as Error)?.stack ?? reason}`));
  process.on("uncaughtException", (error) => log(`sluice: uncaught exception: ${error?.stack ?? error}`));

  // Cluster mode: etcd must answer before anything opens (a clear error and exit 1 if not).
  const etcd = config.clusterEtcd === undefined ? undefined : await connectCluster(config).catch((e: Error) => e);
  if (etcd instanceof Error) {
    console.error(`sluice serve: ${etcd.message}`);
    return 1;
  }

  let broker: Broker;
  try {
    broker = await Broker.start(config, { plugins: defaultPlugins(), log });
  } catch (e) {
    console.error(`sluice serve: could not start: ${(e as Error)?.message ?? e}`);
    return 1;
  }

  const member = etcd === undefined ? undefined : await joinCluster(config, etcd, broker, log).catch((e: Error) => e);
  if (member instanceof Error) {
    console.error(`sluice serve: could not join the cluster: ${member.message}`);
    await broker.stop().catch(() => {});
    return 1;
  }

  const kafka = broker.kafkaPort === null ? "" : `kafka ${broker.kafkaPort}, `;
  const readyLine = `sluice listening on ${config.host}:${broker.port} (${kafka}http ${broker.httpPort})\n`;

  return await new Promise<number>((resolve) => {
    let signalled = false;
    const onSignal = (signal: string) => {
      if (signalled) {
        log(`sluice: second ${signal}, exiting now`);
        process.exit(1);
      }
      signalled = true;
      log(`sluice: ${signal}: stopping (finishing in-flight requests)`);
      // In a cluster: hand the leaderships away while still serving (followers fetch the last records from here),
      // then leave (resign, revoke the session) so a successor takes over at once, then stop.
      leaveCluster(member, config.controlledShutdownTimeoutMs).then(() => broker.stop()).then(
        () => {
          log("sluice: stopped");
          resolve(0);
          // Anything still holding the event loop (a worker's pending wait) must not keep a stopped broker alive.
          setTimeout(() => process.exit(0), 200).unref();
        },
        (e) => {
          log(`sluice: stop failed: ${(e as Error)?.stack ?? e}`);
          resolve(1);
          setTimeout(() => process.exit(1), 200).unref();
        },
      );
    };
    process.on("SIGTERM", () => onSignal("SIGTERM"));
    process.on("SIGINT", () => onSignal("SIGINT"));
    // Ready only now: whoever reads the line may signal at once, and a SIGTERM before the handlers would kill the broker unstopped (exit 143).
    process.stdout.write(readyLine);
  });
}
