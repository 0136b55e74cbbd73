// `sluice bench` options: parsed and checked at the edge, so a load run never
// starts with a value it cannot honour.

import { parseArgs } from "node:util";
import { COMPRESSION_NAMES, type CompressionName } from "../../protocol/compression/mod.ts";
import { PAYLOAD_BYTES_MAX, PAYLOAD_BYTES_MIN, PRODUCERS_MAX, type PayloadFiller } from "./payload.ts";

export const BenchMode = { produce: "produce", consume: "consume", e2e: "e2e" } as const;
export type BenchMode = (typeof BenchMode)[keyof typeof BenchMode];

export type Acks = 0 | 1 | -1;

export interface BenchOptions {
  mode: BenchMode;
  /** host and port of a running broker (the first of `brokers`); undefined with `embedded`. */
  broker?: { host: string; port: number };
  /** Every address given to --broker (a cluster: several); the clients bootstrap from all of them. */
  brokers?: { host: string; port: number }[];
  /** The bench topic's replication factor and min.insync.replicas (a cluster); the broker's defaults when unset. */
  replicationFactor?: number;
  minInsyncReplicas?: number;
  /** Run the same load again on a topic with this replication factor and report both (e.g. RF 3 against RF 1). */
  compareRf?: number;
  embedded: boolean;
  /** Stop after this many messages in total (over all producers)... */
  messages?: number;
  /** ...or after this many seconds of producing. Exactly one of the two is set. */
  durationSec?: number;
  sizeBytes: number;
  partitions: number;
  producers: number;
  consumers: number;
  acks: Acks;
  /** Client record-batch size; undefined = the client's default. 0 = one message per request. */
  batchBytes?: number;
  lingerMs?: number;
  /** Fixed offered load in msgs/s over all producers; undefined = as fast as acks allow. */
  ratePerSec?: number;
  json: boolean;
  topic?: string;
  /** PID of an external broker, to sample its RSS and CPU (the embedded broker's is known). */
  brokerPid?: number;
  /** HTTP port of an external broker, to read its fsync histogram from /metrics. */
  brokerHttpPort?: number;
  /** e2e/consume: how long consumers may go without a new message before the rest counts as lost. */
  drainTimeoutMs: number;
  /** Extra `serve` arguments for the embedded broker (repeatable `--serve-arg`). */
  serveArgs: string[];
  /** "sluice" = the client library; "raw" = the protocol-only baseline (tells client cost from broker cost). */
  client: "sluice" | "raw";
  /** Messages per send call: 1 = the client's send() per message, N > 1 = sendBatch() of N messages. */
  sendBatch: number;
  /** Seconds at the start whose messages are sent, consumed and checked but left out of the latency histograms. */
  warmupSec: number;
  /** Report the worst ack latency per 100 ms of the run. */
  timeline: boolean;
  /** --embedded only: run the broker under `bun --cpu-prof` and write the profile here. */
  profileBrokerDir?: string;
  /** The producers' batch compression (client library only). */
  compression: CompressionName;
  /** What fills each message after its header: a fixed pattern, or log-line text (default with --compression). */
  payload: PayloadFiller;
}

/** Messages or seconds: the caps that keep a mistyped flag from filling the disk. */
export const BENCH_MESSAGES_MAX = 1_000_000_000;
export const BENCH_DURATION_SEC_MAX = 3600;
export const BENCH_PARTITIONS_MAX = 10_000;
export const BENCH_CONSUMERS_MAX = 256;
export const BENCH_MESSAGES_DEFAULT = 1_000_000;
/** The cluster's own limit on a topic's replication factor (cluster/cluster_limits.ts REPLICATION_FACTOR_MAX). */
export const BENCH_REPLICATION_FACTOR_MAX = 16;
/** Addresses --broker takes (the client's bootstrap list has its own bound too). */
export const BENCH_BROKERS_MAX = 16;

export class UsageError extends Error {}

export const BENCH_USAGE = `usage: sluice bench produce|consume|e2e (--broker HOST:PORT[,HOST:PORT...] | --embedded) [options]

  --broker HOST:PORT   a running broker, or several of a cluster (comma-separated: the clients
                       bootstrap from them and send to each partition's leader)
  --embedded           start one broker in a temp dir, remove it after
  --replication-factor N   the bench topic's RF (a cluster; default: the cluster's)
  --min-insync-replicas M  its min.insync.replicas (default: the cluster's, at most N)
  --compare-rf R       run the same load again on a fresh topic with RF R (min ISR at most R) and
                       report both and their ratio (e.g. --replication-factor 3 --compare-rf 1)
  --messages N         total messages (default ${BENCH_MESSAGES_DEFAULT})  --duration S   or produce for S seconds
  --size BYTES         message size (default 100, min ${PAYLOAD_BYTES_MIN})
  --partitions P       partitions of the bench topic (default 8)
  --producers K        producer threads (default 1)        --consumers C   consumer threads (default 1)
  --acks 0|1|all       default all                         --rate R        fixed offered load, msgs/s in total
  --batch-bytes B      client batch size (0 = one message per request)   --linger-ms MS
  --topic NAME         default: a fresh sluice-bench-<random>
  --broker-pid PID     sample an external broker's RSS and CPU
  --broker-http-port P read an external broker's fsync histogram from its /metrics
  --drain-timeout-ms   consumers give up after this long without a message (default 10000)
  --serve-arg ARG      pass ARG to the embedded broker's \`serve\` (repeatable)
  --client sluice|raw  the client library (default) or a protocol-only baseline client
  --send-batch N       messages per send call: 1 = send() each (default), N = sendBatch() of N
  --warmup S           leave the first S seconds' messages out of the latency histograms
                       (they are still sent, consumed and checked for loss)
  --timeline           also report the worst ack latency per 100 ms (when did a stall happen)
  --profile-broker DIR run the embedded broker under bun --cpu-prof, profile written to DIR
  --compression CODEC  none (default) | gzip | snappy | lz4 | zstd: the producers compress batches
                       (the report's "on disk" line, from the broker's /metrics, shows what it saves)
  --payload pattern|log  message filler: a fixed pattern (default) or log-line text
                       (default with --compression: a pattern compresses unrealistically well)
  --json               last line of output is one JSON object

With --rate, latency counts from each message's intended send time (coordinated
omission corrected). e2e consumes everything back and checks each message's
sequence number and checksum, so \`lost\` is measured.`;

function intIn(name: string, raw: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(raw.replace(/_/g, ""))) throw new UsageError(`--${name} must be an integer, got '${raw}'`);
  const value = Number(raw.replace(/_/g, ""));
  if (value < min || value > max) throw new UsageError(`--${name} must be ${min}..${max}, got ${value}`);
  return value;
}

function numberIn(name: string, raw: string, min: number, max: number): number {
  const value = Number(raw.replace(/_/g, ""));
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new UsageError(`--${name} must be a number in ${min}..${max}, got '${raw}'`);
  }
  return value;
}

/** --broker: one HOST:PORT or several, comma-separated. */
export function parseBrokerList(raw: string): { host: string; port: number }[] {
  const list = raw.split(",").map((a) => a.trim()).filter((a) => a !== "");
  if (list.length === 0) throw new UsageError("--broker needs at least one HOST:PORT");
  if (list.length > BENCH_BROKERS_MAX) throw new UsageError(`--broker takes at most ${BENCH_BROKERS_MAX} addresses, got ${list.length}`);
  return list.map(parseHostPort);
}

export function parseHostPort(raw: string): { host: string; port: number } {
  const at = raw.lastIndexOf(":");
  if (at <= 0) throw new UsageError(`--broker must be HOST:PORT, got '${raw}'`);
  return { host: raw.slice(0, at), port: intIn("broker port", raw.slice(at + 1), 1, 65535) };
}

/** Parses argv after `bench`. Returns "help" for --help. Throws UsageError on anything it cannot honour. */
export function parseBenchArgs(argv: string[]): BenchOptions | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        broker: { type: "string" },
        embedded: { type: "boolean" },
        messages: { type: "string" },
        duration: { type: "string" },
        size: { type: "string" },
        partitions: { type: "string" },
        producers: { type: "string" },
        consumers: { type: "string" },
        acks: { type: "string" },
        "batch-bytes": { type: "string" },
        "linger-ms": { type: "string" },
        rate: { type: "string" },
        json: { type: "boolean" },
        topic: { type: "string" },
        "broker-pid": { type: "string" },
        "broker-http-port": { type: "string" },
        "drain-timeout-ms": { type: "string" },
        "serve-arg": { type: "string", multiple: true },
        client: { type: "string" },
        "profile-broker": { type: "string" },
        "send-batch": { type: "string" },
        timeline: { type: "boolean" },
        warmup: { type: "string" },
        compression: { type: "string" },
        payload: { type: "string" },
        "replication-factor": { type: "string" },
        "min-insync-replicas": { type: "string" },
        "compare-rf": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return "help";
  if (positionals.length !== 1) throw new UsageError("give exactly one mode: produce, consume or e2e");
  const mode = positionals[0];
  if (mode !== "produce" && mode !== "consume" && mode !== "e2e") {
    throw new UsageError(`unknown mode '${mode}' (produce, consume or e2e)`);
  }
  if ((values.broker === undefined) === (values.embedded !== true)) {
    throw new UsageError("give exactly one of --broker HOST:PORT and --embedded");
  }
  if (values.messages !== undefined && values.duration !== undefined) {
    throw new UsageError("give --messages or --duration, not both");
  }
  const acksRaw = values.acks ?? "all";
  const acks: Acks = acksRaw === "all" || acksRaw === "-1" ? -1 : acksRaw === "1" ? 1 : acksRaw === "0" ? 0 : (() => {
    throw new UsageError(`--acks must be 0, 1 or all, got '${acksRaw}'`);
  })();
  const brokers = values.broker === undefined ? undefined : parseBrokerList(values.broker);
  const options: BenchOptions = {
    mode,
    broker: brokers?.[0],
    brokers,
    replicationFactor: values["replication-factor"] === undefined ? undefined : intIn("replication-factor", values["replication-factor"], 1, BENCH_REPLICATION_FACTOR_MAX),
    minInsyncReplicas: values["min-insync-replicas"] === undefined ? undefined : intIn("min-insync-replicas", values["min-insync-replicas"], 1, BENCH_REPLICATION_FACTOR_MAX),
    compareRf: values["compare-rf"] === undefined ? undefined : intIn("compare-rf", values["compare-rf"], 1, BENCH_REPLICATION_FACTOR_MAX),
    embedded: values.embedded === true,
    messages: values.duration === undefined
      ? (values.messages === undefined ? BENCH_MESSAGES_DEFAULT : intIn("messages", values.messages, 1, BENCH_MESSAGES_MAX))
      : undefined,
    durationSec: values.duration === undefined ? undefined : numberIn("duration", values.duration, 0.1, BENCH_DURATION_SEC_MAX),
    sizeBytes: values.size === undefined ? 100 : intIn("size", values.size, PAYLOAD_BYTES_MIN, PAYLOAD_BYTES_MAX),
    partitions: values.partitions === undefined ? 8 : intIn("partitions", values.partitions, 1, BENCH_PARTITIONS_MAX),
    producers: values.producers === undefined ? 1 : intIn("producers", values.producers, 1, PRODUCERS_MAX),
    consumers: values.consumers === undefined ? 1 : intIn("consumers", values.consumers, 1, BENCH_CONSUMERS_MAX),
    acks,
    batchBytes: values["batch-bytes"] === undefined ? undefined : intIn("batch-bytes", values["batch-bytes"], 0, 64 * 1024 * 1024),
    lingerMs: values["linger-ms"] === undefined ? undefined : numberIn("linger-ms", values["linger-ms"], 0, 60_000),
    ratePerSec: values.rate === undefined ? undefined : numberIn("rate", values.rate, 1, 1e9),
    json: values.json === true,
    topic: values.topic,
    brokerPid: values["broker-pid"] === undefined ? undefined : intIn("broker-pid", values["broker-pid"], 1, 2 ** 31 - 1),
    brokerHttpPort: values["broker-http-port"] === undefined ? undefined : intIn("broker-http-port", values["broker-http-port"], 1, 65535),
    drainTimeoutMs: values["drain-timeout-ms"] === undefined ? 10_000 : intIn("drain-timeout-ms", values["drain-timeout-ms"], 100, 600_000),
    serveArgs: values["serve-arg"] ?? [],
    profileBrokerDir: values["profile-broker"],
    timeline: values.timeline === true,
    warmupSec: values.warmup === undefined ? 0 : numberIn("warmup", values.warmup, 0, BENCH_DURATION_SEC_MAX),
    sendBatch: values["send-batch"] === undefined ? 1 : intIn("send-batch", values["send-batch"], 1, 65_536),
    client: values.client === undefined || values.client === "sluice" ? "sluice" : values.client === "raw" ? "raw" : (() => {
      throw new UsageError(`--client must be sluice or raw, got '${values.client}'`);
    })(),
    compression: values.compression === undefined ? "none" : (COMPRESSION_NAMES as readonly string[]).includes(values.compression)
      ? (values.compression as CompressionName)
      : (() => {
          throw new UsageError(`--compression must be one of ${COMPRESSION_NAMES.join(", ")}, got '${values.compression}'`);
        })(),
    payload: "pattern",
  };
  if (values.payload !== undefined && values.payload !== "pattern" && values.payload !== "log") {
    throw new UsageError(`--payload must be pattern or log, got '${values.payload}'`);
  }
  options.payload = (values.payload as PayloadFiller | undefined) ?? (options.compression === "none" ? "pattern" : "log");
  if (options.compression !== "none" && options.client === "raw") throw new UsageError("--compression needs --client sluice (the baseline client writes plain batches)");
  if (options.embedded && options.brokerPid !== undefined) throw new UsageError("--broker-pid is for --broker; the embedded broker's pid is known");
  if (options.embedded && options.brokerHttpPort !== undefined) throw new UsageError("--broker-http-port is for --broker; the embedded broker's is known");
  if (!options.embedded && options.serveArgs.length > 0) throw new UsageError("--serve-arg needs --embedded");
  if (!options.embedded && options.profileBrokerDir !== undefined) throw new UsageError("--profile-broker needs --embedded");
  if (options.durationSec !== undefined && options.warmupSec >= options.durationSec) {
    throw new UsageError(`--warmup (${options.warmupSec}) must be shorter than --duration (${options.durationSec})`);
  }
  const replicated = options.replicationFactor !== undefined || options.minInsyncReplicas !== undefined || options.compareRf !== undefined;
  if (replicated && options.embedded) throw new UsageError("--replication-factor, --min-insync-replicas and --compare-rf need a cluster (--broker), not --embedded");
  if (replicated && options.client === "raw") throw new UsageError("--client raw talks to one broker and does not follow leaders: no replication options with it");
  if ((options.brokers?.length ?? 0) > 1 && options.client === "raw") throw new UsageError("--client raw talks to one broker: give one --broker address");
  if (options.minInsyncReplicas !== undefined && options.replicationFactor !== undefined && options.minInsyncReplicas > options.replicationFactor) {
    throw new UsageError(`--min-insync-replicas (${options.minInsyncReplicas}) cannot exceed --replication-factor (${options.replicationFactor})`);
  }
  if (options.compareRf !== undefined && options.topic !== undefined) throw new UsageError("--compare-rf creates two fresh topics: leave out --topic");
  if (options.consumers > options.partitions) {
    throw new UsageError(`--consumers (${options.consumers}) cannot exceed --partitions (${options.partitions}): each consumer reads whole partitions`);
  }
  if (options.messages !== undefined && options.messages < options.producers) {
    throw new UsageError(`--messages (${options.messages}) must be at least --producers (${options.producers})`);
  }
  return options;
}
