// `sluice produce TOPIC`: one message per stdin line, optionally `key<S>value`.
//
// Lines are sent as they are read, many in flight at once; reading pauses
// while the producer's buffer is full (send() backpressure), so piping a huge
// file uses bounded memory. At the end it prints how many messages the
// broker acknowledged; on a terminal it shows progress on stderr meanwhile.

import readline from "node:readline";
import { Producer, type AcksOption } from "../client/producer.ts";
import type { PartitionerName } from "../client/partitioners.ts";
import { COMPRESSION_NAMES, type CompressionName } from "../client/mod.ts";
import { type CommandSpec, errorLine, intFlag, runCommand, UsageError, writeOut } from "./args.ts";
import { PROGRESS_INTERVAL_MS, SENDS_INFLIGHT_MAX } from "./cli_limits.ts";

const SPEC: CommandSpec = {
  usage: "sluice produce TOPIC [options] < messages.txt",
  summary: "Sends one message per line of stdin. With --key-separator, each line is KEY<S>VALUE.",
  flags: {
    "key-separator": { type: "string", value: "S", help: "split each line at the first S into key and value" },
    partitioner: { type: "string", value: "NAME", help: "round-robin | hash (default: hash for keyed lines, else round-robin) | random" },
    partition: { type: "string", value: "P", help: "send every message to partition P" },
    acks: { type: "string", value: "0|1|all", help: "acknowledgement: 0 none, 1 written, all fsynced (default all)" },
    "linger-ms": { type: "string", value: "MS", help: "batching delay (default 5)" },
    compression: { type: "string", value: "CODEC", help: "compress batches: none (default) | gzip | snappy | lz4 | zstd" },
  },
  notes: [
    "examples:",
    "  printf 'a:1\\nb:2\\n' | sluice produce orders --key-separator :",
    "  seq 1000 | sluice produce numbers --acks 1",
    "  sluice produce logs --compression zstd < app.log",
  ],
};

const ACKS: Record<string, AcksOption> = { "0": 0, "1": 1, all: "all", "-1": "all" };

export async function run(argv: string[]): Promise<number> {
  return runCommand("produce", argv, SPEC, async (args) => {
    const [topic, ...extra] = args.positionals;
    if (topic === undefined) throw new UsageError("produce needs a TOPIC");
    if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
    const v = args.values;
    const separator = v["key-separator"] as string | undefined;
    if (separator === "") throw new UsageError("--key-separator must not be empty");
    const partitioner = (v.partitioner as string | undefined) ?? "hash";
    if (!["round-robin", "hash", "random"].includes(partitioner)) {
      throw new UsageError(`--partitioner must be round-robin, hash or random, got '${partitioner}'`);
    }
    const acksRaw = (v.acks as string | undefined) ?? "all";
    const acks = ACKS[acksRaw];
    if (acks === undefined) throw new UsageError(`--acks must be 0, 1 or all, got '${acksRaw}'`);
    const partition = intFlag("partition", v.partition as string | undefined, 0, 1_000_000);
    const lingerMs = intFlag("linger-ms", v["linger-ms"] as string | undefined, 0, 60_000);
    const compression = (v.compression as string | undefined) ?? "none";
    if (!(COMPRESSION_NAMES as readonly string[]).includes(compression)) {
      throw new UsageError(`--compression must be one of ${COMPRESSION_NAMES.join(", ")}, got '${compression}'`);
    }

    const producer = new Producer({
      ...args.client,
      acks,
      partitioner: partitioner as PartitionerName,
      compression: compression as CompressionName,
      ...(lingerMs !== undefined ? { lingerMs } : {}),
    });
    let sent = 0;
    let acked = 0;
    let failed = 0;
    let firstError: unknown;
    let inflight = 0;
    let slotFree: (() => void) | undefined;
    const started = Date.now();
    const progress = process.stderr.isTTY
      ? setInterval(() => {
          const seconds = (Date.now() - started) / 1000;
          process.stderr.write(`\r${acked} acked, ${sent - acked - failed} in flight, ${failed} failed, ${Math.round(acked / Math.max(seconds, 0.001))} msg/s `);
        }, PROGRESS_INTERVAL_MS)
      : undefined;

    const onSettled = () => {
      inflight--;
      const wake = slotFree;
      slotFree = undefined;
      wake?.();
    };
    const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
    let lineNumber = 0;
    try {
      for await (const line of lines) {
        lineNumber++;
        let key: string | null = null;
        let value = line;
        if (separator !== undefined) {
          const at = line.indexOf(separator);
          if (at < 0) throw new UsageError(`line ${lineNumber} has no key separator '${separator}'`);
          key = line.slice(0, at);
          value = line.slice(at + separator.length);
        }
        while (inflight >= SENDS_INFLIGHT_MAX) await new Promise<void>((resolve) => (slotFree = resolve));
        inflight++;
        sent++;
        producer.send(topic, { key, value, ...(partition !== undefined ? { partition } : {}) }).then(
          () => {
            acked++;
            onSettled();
          },
          (error) => {
            failed++;
            firstError ??= error;
            onSettled();
          },
        );
      }
    } finally {
      lines.close();
      await producer.close();
      if (progress !== undefined) {
        clearInterval(progress);
        process.stderr.write("\r\x1b[K");
      }
    }
    const seconds = (Date.now() - started) / 1000;
    await writeOut(
      args.json
        ? `${JSON.stringify({ topic, sent, acked, failed, seconds })}\n`
        : `${acked} message(s) acked${failed > 0 ? `, ${failed} failed` : ""} (${topic})\n`,
    );
    if (failed > 0) {
      process.stderr.write(`sluice produce: ${failed} message(s) failed; first error: ${errorLine(firstError)}\n`);
      return 1;
    }
    return 0;
  });
}
