// Crash test of the partition log: a child process appends with group commit
// and reports each batch once flush() has returned for it; it is killed with
// SIGKILL at random moments. After every kill the log is reopened here and
// must hold every reported batch, byte for byte (by CRC-32C), at its offset,
// with offsets contiguous from the start and nothing duplicated.

import { afterAll, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { crc32c } from "../protocol/crc32c.ts";
import { parseTopicConfig } from "../workers/log/log_config.ts";
import { PartitionLog } from "../workers/log/partition_log.ts";
import { CRASH_CHILD_CONFIG } from "./log/crash_child.ts";
import { makeTempDir, removeDir, splitBatches } from "./log/helpers.ts";
import { waitFor } from "./support/wait_for.ts";

const KILLS = 24;
const READY_TIMEOUT_MS = 10_000;
const root = makeTempDir();
afterAll(() => removeDir(root));

interface Reported {
  last: number;
  crc: number;
}

/** Collects the child's complete stdout lines as they arrive. */
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

test(`the log keeps every batch reported durable across ${KILLS} SIGKILLs`, async () => {
  const dir = path.join(root, "p0");
  const seed = Number(process.env.SLUICE_CRASH_SEED ?? Date.now() % 100_000);
  let rng = seed || 1;
  const random = (n: number): number => {
    rng = (rng * 1103515245 + 12345) % 2147483648;
    return rng % n;
  };
  const reported = new Map<number, Reported>();
  let truncatedTotal = 0;
  for (let kill = 0; kill < KILLS; kill++) {
    const child = Bun.spawn([process.execPath, path.join(import.meta.dir, "log", "crash_child.ts"), dir, String(seed * 100 + kill)], {
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      const out = collectLines(child.stdout);
      await waitFor(() => out.lines.length > 0 || child.exitCode !== null, { what: "the child to open the log", timeoutMs: READY_TIMEOUT_MS });
      expect(out.lines[0]).toStartWith("ready ");
      // The random moment: anywhere from just after open to a few hundred ms of appending.
      await Bun.sleep(random(250));
      child.kill("SIGKILL");
      await child.exited;
      await out.done;
      expect(child.signalCode).toBe("SIGKILL");
      for (const line of out.lines) {
        const [kind, a, b, c] = line.split(" ");
        if (kind === "ready") {
          truncatedTotal += Number(b);
          continue;
        }
        expect(kind).toBe("durable");
        const base = Number(a);
        const entry = { last: Number(b), crc: Number(c) };
        const earlier = reported.get(base);
        // An offset is given out once: a second report must be the same batch.
        if (earlier !== undefined) expect(entry).toEqual(earlier);
        reported.set(base, entry);
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }

    // Verify on a copy, so the next child recovers from the crash as it was left (not from our clean close).
    const copy = path.join(root, `verify-${kill}`);
    fs.cpSync(dir, copy, { recursive: true });
    const log = PartitionLog.open({ dir: copy, config: parseTopicConfig(CRASH_CHILD_CONFIG) });
    try {
      let expected = log.logStartOffset;
      const found = new Map<number, Reported>();
      while (expected < log.logEndOffset) {
        const bytes = log.read(expected, 1 << 20);
        let pos = 0;
        for (const batch of splitBatches(bytes)) {
          if (batch.lastOffset < expected) continue;
          expect(batch.baseOffset).toBe(expected); // contiguous, nothing twice
          found.set(batch.baseOffset, { last: batch.lastOffset, crc: crc32c(batch.bytes) });
          expected = batch.lastOffset + 1;
          pos += batch.bytes.length;
        }
        expect(pos).toBeGreaterThan(0);
      }
      for (const [base, entry] of reported) {
        const got = found.get(base);
        if (got === undefined) throw new Error(`kill ${kill} (seed ${seed}): reported batch at offset ${base} is missing`);
        expect(got).toEqual(entry);
      }
    } finally {
      log.close();
      removeDir(copy);
    }
  }
  // The run must have exercised something: many durable batches across several segments.
  expect(reported.size).toBeGreaterThan(KILLS);
  console.log(`crash test: seed ${seed}, ${KILLS} kills, ${reported.size} durable batches checked, ${truncatedTotal} torn bytes cut`);
}, 60_000);
