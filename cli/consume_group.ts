// `sluice consume TOPIC --group G`: read as a member of consumer group G.
// The group decides which partitions this process reads (several processes
// with the same group share the topic); each starts from the group's committed
// offset, or from --from (beginning | end) where the group has none. What was
// printed is committed every second and at exit, so the next run with the same
// group continues after it. Stops after --max-messages, after --timeout-ms
// without messages, or on Ctrl-C / SIGTERM (committing first).

import { GroupConsumer, type GroupMessage } from "../client/group_consumer.ts";
import { UsageError, writeOut } from "./args.ts";
import { AUTO_COMMIT_INTERVAL_MS } from "./cli_limits.ts";

export interface GroupConsumeOptions {
  readonly topic: string;
  readonly group: string;
  readonly client: { broker: string; clientId: string; connectTimeoutMs: number };
  /** beginning | end | undefined (end): where to start a partition the group has no offset for. */
  readonly from: string | undefined;
  readonly maxMessages: number | undefined;
  readonly timeoutMs: number | undefined;
  readonly format: "value" | "json";
}

const decoder = new TextDecoder();
const text = (b: Uint8Array | null) => (b === null ? null : decoder.decode(b));

function formatJson(m: GroupMessage): string {
  return JSON.stringify({
    topic: m.topic,
    partition: m.partition,
    offset: m.offset,
    timestamp: m.timestamp,
    key: text(m.key),
    value: text(m.value),
    headers: m.headers.map(([k, v]) => [k, text(v)]),
  });
}

export function groupResetPolicy(from: string | undefined): "earliest" | "latest" {
  if (from === undefined || from === "end" || from === "latest") return "latest";
  if (from === "beginning" || from === "earliest") return "earliest";
  throw new UsageError(`with --group, --from only chooses where to start without a committed offset: beginning or end, got '${from}'`);
}

/** Consumes as a group member; resolves with the exit code. */
export async function consumeWithGroup(o: GroupConsumeOptions): Promise<number> {
  const autoOffsetReset = groupResetPolicy(o.from);
  const consumer = new GroupConsumer({
    brokers: [o.client.broker],
    groupId: o.group,
    clientId: o.client.clientId,
    autoOffsetReset,
    autoCommitIntervalMs: AUTO_COMMIT_INTERVAL_MS,
    client: { connectTimeoutMs: o.client.connectTimeoutMs },
    log: (line) => {
      if (process.env.SLUICE_VERBOSE) process.stderr.write(`${line}\n`);
    },
  });
  consumer.subscribe([o.topic]);
  let count = 0;
  let lastDataAt = Date.now();
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= consumer.close();
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  const idle =
    o.timeoutMs === undefined
      ? undefined
      : setInterval(() => {
          if (Date.now() - lastDataAt >= o.timeoutMs!) stop();
        }, Math.max(10, Math.min(250, o.timeoutMs)));
  try {
    await consumer.run({
      // Not called again once stop() began closing (the loop checks before each message), so every
      // message it is called for is printed before it counts as processed and gets committed.
      eachMessage: async (m) => {
        lastDataAt = Date.now();
        count++;
        const line = o.format === "json" ? formatJson(m) : (text(m.value) ?? "");
        if (!(await writeOut(`${line}\n`))) stop(); // stdout closed (piped into head)
        if (o.maxMessages !== undefined && count >= o.maxMessages) stop();
      },
    });
  } finally {
    if (idle !== undefined) clearInterval(idle);
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    stop();
    await stopping;
  }
  if (process.stderr.isTTY) process.stderr.write(`consumed ${count} message(s) as group ${o.group}\n`);
  return 0;
}
