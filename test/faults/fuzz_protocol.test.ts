// The big protocol fuzzer: ≥100,000 hostile frames per run (mutated valid
// requests of every api and random bytes), millions in `bun run test:long`.
// Design in scenarios/fuzz.ts. Replay a failure with SLUICE_FUZZ_SEED.

import { expect, test } from "bun:test";
import { type FuzzFigures, runFuzz } from "./scenarios/fuzz.ts";

let figures: FuzzFigures | null = null;

test("100,000 hostile frames: no crash, no uncaught error, every frame answered or closed within 1 s, RSS bounded", async () => {
  const f = await runFuzz({
    frames: 100_000,
    seed: Number(process.env.SLUICE_FUZZ_SEED ?? 20_251_121),
    connections: 8,
    burstMax: 64,
    answerMs: 1_000,
  });
  figures = f;
  console.log(`fuzz figures: ${JSON.stringify(f)}`);
  expect(f.frames).toBeGreaterThanOrEqual(100_000);
  expect(f.brokerAlive).toBe(true);
  expect(f.brokerComplaints).toEqual([]);
  expect(f.unanswered).toEqual([]);
  expect(f.badResponses).toEqual([]);
  expect(f.answerMs.max).toBeLessThan(1_000);
  // Most frames are bad, and the broker said so rather than going quiet.
  expect(f.errorResponses).toBeGreaterThan(f.frames / 3);
  // RSS: bounded. Measured: it climbs from ~90 MiB to a plateau of 230-300 MiB
  // within the first 100,000 frames and stays there over 300,000 and more.
  expect(f.rssMiB.max).toBeLessThan(512);
  for (const a of f.sizePrefixAttacks) expect(a.outcome).toMatch(/closed$/);
  for (const a of f.sizePrefixAttacks) expect(a.ms).toBeLessThan(1_000);
}, 300_000);

// KNOWN BUG, open (see regressions.test.ts): a Fetch at a negative or >2^53 offset
// is answered twice. Marked `failing` until engine/fetch_operation.ts is fixed.
test.failing("fuzz: no frame is answered twice", () => {
  expect(figures).not.toBe(null);
  expect(figures!.duplicateAnswerExamples).toEqual([]);
  expect(figures!.duplicateAnswers).toBe(0);
});
