// `sluice topics create|list|describe|delete|alter|config`: topic administration.
//
// `describe` shows each partition's offsets, size and current inflow
// (messagesInPerSec, bytesInPerSec from DescribeTopics) with its share of the
// topic's inflow, and marks partitions taking far more than their share, so a
// hot partition stands out.

import { Admin, type TopicDescription } from "../client/admin.ts";
import { type CommandSpec, intFlag, keyValueFlags, type ParsedArgs, runCommand, UsageError, writeOut } from "./args.ts";

const SUBCOMMANDS = ["create", "list", "describe", "delete", "alter", "config"] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

const SPEC: CommandSpec = {
  usage: "sluice topics <create|list|describe|delete|alter|config> [NAME] [options]",
  summary: [
    "Manage topics.",
    "  create NAME --partitions N [--replication-factor R] [--config KEY=VALUE]...",
    "                                                       create a topic (configs use Kafka's names; R: cluster only, default 3)",
    "  list                                                 topic names",
    "  describe NAME                                        partitions: offsets, size, inflow per second",
    "  delete NAME                                          delete a topic and its data",
    "  alter NAME --partitions N                            raise the partition count to N",
    "  config NAME --set KEY=VALUE... [--delete KEY]...     change settings (validated like at creation)",
  ].join("\n"),
  flags: {
    partitions: { type: "string", value: "N", help: "partition count (create: default the broker's num.partitions)" },
    "replication-factor": { type: "string", value: "R", help: "brokers holding each partition, in a cluster (default: the cluster's, 3)" },
    config: { type: "string", multiple: true, value: "KEY=VALUE", help: "a topic setting at creation, e.g. retention.ms=86400000" },
    set: { type: "string", multiple: true, value: "KEY=VALUE", help: "config: a setting to change" },
    delete: { type: "string", multiple: true, value: "KEY", help: "config: a setting to reset to its default" },
  },
  notes: [
    "examples:",
    "  sluice topics create orders --partitions 6 --config retention.ms=604800000",
    "  sluice topics describe orders",
    "  sluice topics config orders --set retention.bytes=1073741824",
  ],
};

export async function run(argv: string[]): Promise<number> {
  return runCommand("topics", argv, SPEC, async (args) => {
    const [sub, name, ...extra] = args.positionals;
    if (sub === undefined) throw new UsageError("which topics command? create, list, describe, delete, alter or config");
    if (!(SUBCOMMANDS as readonly string[]).includes(sub)) throw new UsageError(`unknown topics command '${sub}'`);
    if (sub !== "list" && name === undefined) throw new UsageError(`topics ${sub} needs a topic NAME`);
    if (extra.length > 0 || (sub === "list" && name !== undefined)) throw new UsageError(`unexpected argument '${extra[0] ?? name}'`);
    const admin = new Admin(args.client);
    try {
      return await runSubcommand(sub as Subcommand, name ?? "", args, admin);
    } finally {
      await admin.close();
    }
  });
}

async function runSubcommand(sub: Subcommand, name: string, args: ParsedArgs, admin: Admin): Promise<number> {
  const v = args.values;
  const print = (human: string, json: unknown) => writeOut(args.json ? `${JSON.stringify(json)}\n` : `${human}\n`);
  switch (sub) {
    case "create": {
      const partitions = intFlag("partitions", v.partitions as string | undefined, 1, 10_000);
      const configs = keyValueFlags("config", v.config as string[] | undefined);
      const replicationFactor = intFlag("replication-factor", v["replication-factor"] as string | undefined, 1, 16);
      await admin.createTopic(name, { partitions, replicationFactor, configs: Object.keys(configs).length > 0 ? configs : undefined });
      const [description] = await admin.describeTopics([name]);
      await print(`created topic ${name} with ${description.partitions.length} partition(s)`, {
        topic: name,
        partitions: description.partitions.length,
        configs: description.configs,
      });
      return 0;
    }
    case "list": {
      const names = await admin.listTopics();
      await writeOut(args.json ? `${JSON.stringify(names)}\n` : names.map((n) => `${n}\n`).join(""));
      return 0;
    }
    case "describe": {
      const [description] = await admin.describeTopics([name]);
      await writeOut(args.json ? `${JSON.stringify(description)}\n` : formatDescription(description));
      return 0;
    }
    case "delete": {
      await admin.deleteTopics([name]);
      await print(`deleted topic ${name}`, { topic: name, deleted: true });
      return 0;
    }
    case "alter": {
      const partitions = intFlag("partitions", v.partitions as string | undefined, 1, 10_000);
      if (partitions === undefined) throw new UsageError("topics alter needs --partitions N (the new total)");
      await admin.createPartitions(name, partitions);
      await print(`topic ${name} now has ${partitions} partitions`, { topic: name, partitions });
      return 0;
    }
    case "config": {
      const set = keyValueFlags("set", v.set as string[] | undefined);
      const remove = (v.delete as string[] | undefined) ?? [];
      if (Object.keys(set).length === 0 && remove.length === 0) throw new UsageError("topics config needs --set KEY=VALUE or --delete KEY");
      await admin.alterTopicConfig(name, { set, delete: remove });
      const [description] = await admin.describeTopics([name]);
      const changed = [...Object.keys(set), ...remove];
      await print(
        [`updated topic ${name}:`, ...changed.map((k) => `  ${k}=${description.configs[k] ?? "(default)"}`)].join("\n"),
        { topic: name, configs: description.configs },
      );
      return 0;
    }
  }
}

/** A partition taking more than this multiple of the mean inflow is marked hot. */
const HOT_PARTITION_FACTOR = 2;

function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let u = 0;
  let x = n;
  while (x >= 1024 && u < units.length - 1) {
    x /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${x.toFixed(1)} ${units[u]}`;
}

function formatRate(n: number): string {
  if (n >= 1_000_000) return `${(n / 1_000_000).toFixed(2)}M`;
  if (n >= 10_000) return `${(n / 1000).toFixed(1)}k`;
  return n >= 100 ? n.toFixed(0) : n.toFixed(1);
}

export function formatDescription(d: TopicDescription): string {
  const totalRate = d.partitions.reduce((s, p) => s + p.messagesInPerSec, 0);
  const totalBytes = d.partitions.reduce((s, p) => s + p.bytes, 0);
  const meanRate = d.partitions.length > 0 ? totalRate / d.partitions.length : 0;
  // Cluster mode: who holds each partition (the figures are this broker's, -1 where it holds no replica).
  const clustered = d.partitions.some((p) => p.replicas !== undefined);
  const clusterHeader = clustered ? ["LEADER", "EPOCH", "REPLICAS", "ISR"] : [];
  const clusterCells = (p: TopicDescription["partitions"][number]) =>
    clustered ? [p.leader === undefined || p.leader < 0 ? "none" : String(p.leader), String(p.leaderEpoch ?? "-"), (p.replicas ?? []).join(","), (p.isr ?? []).join(",")] : [];
  const header = ["PARTITION", ...clusterHeader, "LOG-START", "HIGH-WATER", "MESSAGES", "SIZE", "SEGMENTS", "MSG/S", "BYTES/S", "SHARE", "ONLINE", ""];
  const rows = d.partitions.map((p) => {
    const share = totalRate > 0 ? p.messagesInPerSec / totalRate : 0;
    const hot = d.partitions.length > 1 && totalRate > 0 && p.messagesInPerSec > HOT_PARTITION_FACTOR * meanRate;
    return [
      String(p.partition),
      ...clusterCells(p),
      String(p.logStartOffset),
      String(p.highWatermark),
      String(p.highWatermark - p.logStartOffset),
      formatBytes(p.bytes),
      String(p.segments),
      formatRate(p.messagesInPerSec),
      `${formatBytes(Math.round(p.bytesInPerSec))}`,
      totalRate > 0 ? `${(share * 100).toFixed(0)}%` : "-",
      p.online ? "yes" : "NO",
      hot ? "<- hot" : "",
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ").trimEnd();
  const configs = Object.entries(d.configs)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `  ${k}=${v}`);
  return [
    `topic ${d.name}: ${d.partitions.length} partition(s), ${formatBytes(totalBytes)}, ${formatRate(totalRate)} msg/s in`,
    "",
    line(header),
    ...rows.map(line),
    "",
    "configs:",
    ...configs,
    "",
  ].join("\n");
}
