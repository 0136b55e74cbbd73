// Crash test of idempotent producers' state: a child process appends batches
// of four idempotent producers (test/log/idempotent_crash_child.ts) and is
// killed with SIGKILL at random moments. After every kill, on a copy of the
// partition as the crash left it, the log is reopened (producer state from
// the last snapshot plus the batch headers after it) and:
// - every batch reported durable is there, at its offset (nothing lost);
// - each producer's sequences in the log run on without a repeat or a gap
//   (nothing duplicated, across every restart so far);
// - each producer's last five batches, sent again byte for byte, are answered
//   with their original offsets and append nothing.
// The next child then continues from the state it recovers itself.

import { afterAll, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { readI16, readI32, readI64Number } from "../protocol/big_endian.ts";
import { BASE_SEQUENCE_OFFSET, PRODUCER_EPOCH_OFFSET, PRODUCER_ID_OFFSET } from "../protocol/record_batch.ts";
import { parseTopicConfig } from "../workers/log/log_config.ts";
import { PRODUCER_BATCHES_CACHED } from "../workers/log/log_limits.ts";
import { PartitionLog } from "../workers/log/partition_log.ts";
import { addSequence } from "../workers/log/producer_state.ts";
import { CRASH_PRODUCERS, IDEMPOTENT_CRASH_CONFIG } from "./log/idempotent_crash_child.ts";
import { makeTempDir, removeDir, splitBatches } from "./log/helpers.ts";

const KILLS = 12;
const READY_TIMEOUT_MS = 10_000;
const root = makeTempDir();
afterAll(() => removeDir(root));

function collectLines(stream: ReadableStream<Uint8Array>): { lines: string[]; done: Promise<void> } {
  const lines: string[] = [];
  const decoder = new TextDecoder();
  let partial = "";
  const done = (async () => {
    for await (const chunk of stream) {
      partial += decoder.decode(chunk, { stream: true });
      const parts = partial.split("\n");
      partial = parts.pop() as string; // a line cut by the kill is ignored
      lines.push(...parts);
    }
  })();
  return { lines, done };
}

async function waitFor(condition: () => boolean, deadlineMs: number, what: string): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(2);
  }
}

interface Stored {
  seq: number;
  base: number;
  last: number;
  bytes: Uint8Array;
}

test(`idempotent producers' state survives ${KILLS} SIGKILLs: retries are answered with their original offsets, nothing is stored twice`, async () => {
  const dir = path.join(root, "p0");
  const seed = Number(process.env.SLUICE_CRASH_SEED ?? Date.now() % 100_000);
  let rng = seed || 1;
  const random = (n: number): number => {
    rng = (rng * 1103515245 + 12345) % 2147483648;
    return rng % n;
  };
  const reported = new Map<string, { base: number; last: number }>();
  let duplicatesAnswered = 0;
  let fromSnapshot = 0;
  for (let kill = 0; kill < KILLS; kill++) {
    const child = Bun.spawn([process.execPath, path.join(import.meta.dir, "log", "idempotent_crash_child.ts"), dir, String(seed * 100 + kill)], {
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      const out = collectLines(child.stdout);
      await waitFor(() => out.lines.length > 0 || child.exitCode !== null, READY_TIMEOUT_MS, "the child to open the log");
      if (!out.lines[0]?.startsWith("ready ")) throw new Error(`child failed: ${await new Response(child.stderr).text()}`);
      await Bun.sleep(20 + random(250));
      child.kill("SIGKILL");
      await child.exited;
      await out.done;
      expect(child.signalCode).toBe("SIGKILL");
      for (const line of out.lines) {
        const [kind, id, seq, base, last] = line.split(" ");
        if (kind === "ready") continue;
        expect(kind).toBe("durable");
        reported.set(`${id}:${seq}`, { base: Number(base), last: Number(last) });
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }

    const copy = path.join(root, `verify-${kill}`);
    fs.cpSync(dir, copy, { recursive: true });
    const log = PartitionLog.open({ dir: copy, config: parseTopicConfig(IDEMPOTENT_CRASH_CONFIG) });
    try {
      if (log.producerLoad?.from === "snapshot") fromSnapshot++;
      const byProducer = new Map<number, Stored[]>();
      let expected = log.logStartOffset;
      while (expected < log.logEndOffset) {
        for (const b of splitBatches(log.read(expected, 1 << 20))) {
          if (b.lastOffset < expected) continue;
          const id = readI64Number(b.bytes, PRODUCER_ID_OFFSET);
          expect(readI16(b.bytes, PRODUCER_EPOCH_OFFSET)).toBe(0);
          const list = byProducer.get(id) ?? [];
          list.push({ seq: readI32(b.bytes, BASE_SEQUENCE_OFFSET), base: b.baseOffset, last: b.lastOffset, bytes: b.bytes.slice() });
          byProducer.set(id, list);
          expected = b.lastOffset + 1;
        }
      }
      const found = new Map<string, { base: number; last: number }>();
      for (const [id, list] of byProducer) {
        expect(CRASH_PRODUCERS as readonly number[]).toContain(id);
        // Sequences run on: each batch starts where the one before ended (no repeat, no gap).
        for (let i = 1; i < list.length; i++) {
          const prev = list[i - 1];
          expect(list[i].seq).toBe(addSequence(prev.seq, prev.last - prev.base + 1));
        }
        for (const s of list) found.set(`${id}:${s.seq}`, { base: s.base, last: s.last });
      }
      for (const [key, r] of reported) {
        const got = found.get(key);
        if (got === undefined) throw new Error(`kill ${kill} (seed ${seed}): durable batch ${key} is missing`);
        expect(got).toEqual(r);
      }
      // Each producer's last batches sent again: answered with their offsets, nothing appended.
      const end = log.logEndOffset;
      for (const list of byProducer.values()) {
        for (const s of list.slice(-PRODUCER_BATCHES_CACHED)) {
          const r = log.append(s.bytes.slice());
          expect(r).toMatchObject({ duplicate: true, baseOffset: s.base, lastOffset: s.last });
          duplicatesAnswered++;
        }
      }
      expect(log.logEndOffset).toBe(end);
    } finally {
      log.close();
      removeDir(copy);
    }
  }
  expect(reported.size).toBeGreaterThan(KILLS);
  expect(duplicatesAnswered).toBeGreaterThan(KILLS);
  console.log(
    `idempotent crash test: seed ${seed}, ${KILLS} kills, ${reported.size} durable batches, ${duplicatesAnswered} retries answered, ${fromSnapshot} opens from a snapshot`,
  );
}, 90_000);
