// `sluice consume TOPIC`: prints messages, one per line, from a chosen
// position of one or all partitions. Stops after --max-messages, or after
// --timeout-ms without new data, or on Ctrl-C.

import { Admin } from "../client/admin.ts";
import { Consumer, type ConsumerRecord, type SeekPosition } from "../client/consumer.ts";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { type CommandSpec, intFlag, runCommand, UsageError, writeOut } from "./args.ts";
import { POLL_WAIT_MS_MAX } from "./cli_limits.ts";

const SPEC: CommandSpec = {
  usage: "sluice consume TOPIC [options]",
  summary: "Prints the topic's messages, one per line (the value, or JSON with --format json / --json).",
  flags: {
    partition: { type: "string", value: "P", help: "read only partition P (default: all partitions)" },
    from: { type: "string", value: "WHERE", help: "beginning | end (default) | OFFSET | @TIMESTAMP_MS" },
    "max-messages": { type: "string", value: "N", help: "exit after N messages" },
    "timeout-ms": { type: "string", value: "MS", help: "exit after MS without new messages" },
    format: { type: "string", value: "value|json", help: "value: the value as text; json: topic, partition, offset, timestamp, key, value, headers" },
    group: { type: "string", value: "G", help: "read as a member of consumer group G (the group shares out the partitions; starts at its committed offsets, --from applies only where it has none; commits what was printed)" },
  },
  notes: ["examples:", "  sluice consume orders --from beginning --max-messages 10", "  sluice consume orders --partition 2 --from @1700000000000 --format json"],
};

const decoder = new TextDecoder();
const text = (b: Uint8Array | null) => (b === null ? null : decoder.decode(b));

export function parseFrom(raw: string | undefined): SeekPosition {
  if (raw === undefined || raw === "end" || raw === "latest") return "end";
  if (raw === "beginning" || raw === "earliest") return "beginning";
  if (/^@\d+$/.test(raw)) return { timestamp: Number(raw.slice(1)) };
  if (/^\d+$/.test(raw)) return { offset: BigInt(raw) };
  throw new UsageError(`--from must be beginning, end, an OFFSET or @TIMESTAMP_MS, got '${raw}'`);
}

function formatJson(r: ConsumerRecord): string {
  return JSON.stringify({
    topic: r.topic,
    partition: r.partition,
    offset: Number(r.offset),
    timestamp: r.timestamp,
    key: text(r.key),
    value: text(r.value),
    headers: r.headers.map(([k, v]) => [k, text(v)]),
  });
}

export async function run(argv: string[]): Promise<number> {
  return runCommand("consume", argv, SPEC, async (args) => {
    const [topic, ...extra] = args.positionals;
    if (topic === undefined) throw new UsageError("consume needs a TOPIC");
    if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
    const v = args.values;
    const partition = intFlag("partition", v.partition as string | undefined, 0, 1_000_000);
    const maxMessages = intFlag("max-messages", v["max-messages"] as string | undefined, 1, Number.MAX_SAFE_INTEGER);
    const timeoutMs = intFlag("timeout-ms", v["timeout-ms"] as string | undefined, 0, 2 ** 31 - 1);
    const format = args.json ? "json" : ((v.format as string | undefined) ?? "value");
    if (format !== "value" && format !== "json") throw new UsageError(`--format must be value or json, got '${format}'`);
    if (v.group !== undefined) {
      if (partition !== undefined) throw new UsageError("--partition and --group exclude each other: the group assigns the partitions");
      const { consumeWithGroup } = await import("./consume_group.ts");
      return consumeWithGroup({ topic, group: v.group as string, client: args.client, from: v.from as string | undefined, maxMessages, timeoutMs, format });
    }
    const position = parseFrom(v.from as string | undefined);

    let partitions: number[];
    if (partition !== undefined) partitions = [partition];
    else {
      const admin = new Admin(args.client);
      try {
        const metadata = await admin.metadata([topic]);
        const t = metadata.topics.find((x) => x.name === topic);
        if (t === undefined || t.errorCode !== ErrorCode.NONE) {
          throw new SluiceError(t?.errorCode ?? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${topic}' does not exist`);
        }
        partitions = t.partitions.map((p) => p.partition);
      } finally {
        await admin.close();
      }
    }

    const consumer = new Consumer({ ...args.client, autoOffsetReset: "earliest" });
    let stopping = false;
    const stop = () => {
      stopping = true;
      consumer.wake();
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    let count = 0;
    try {
      consumer.assign(partitions.map((p) => ({ topic, partition: p, position })));
      let lastDataAt = Date.now();
      while (!stopping && (maxMessages === undefined || count < maxMessages)) {
        const waitMs = timeoutMs === undefined ? POLL_WAIT_MS_MAX : Math.min(POLL_WAIT_MS_MAX, Math.max(0, lastDataAt + timeoutMs - Date.now()));
        const records = await consumer.poll({ maxWaitMs: waitMs, maxRecords: maxMessages === undefined ? 10_000 : maxMessages - count });
        if (records.length === 0) {
          if (timeoutMs !== undefined && Date.now() - lastDataAt >= timeoutMs) break;
          continue;
        }
        lastDataAt = Date.now();
        count += records.length;
        const out = records.map((r) => (format === "json" ? formatJson(r) : (text(r.value) ?? ""))).join("\n");
        if (!(await writeOut(`${out}\n`))) break; // stdout closed (e.g. piped into head)
      }
    } finally {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      await consumer.close();
    }
    if (process.stderr.isTTY) process.stderr.write(`consumed ${count} message(s)\n`);
    return 0;
  });
}
