// Random bit flips in a stopped broker's data directory, then a restart: in
// sealed segments, the active tail (below and above the recovery point), the
// indexes, the topic metadata and the committed-offsets log. What must hold:
// corruption is detected every time (CRC), no corrupted byte is ever served,
// a torn tail (bytes past the durable end) is cut, a corrupt index is rebuilt,
// damage to durable data is reported and never silently cut, and no topic's
// data is ever deleted because the metadata that names it was damaged.
//
// Every case starts from a copy of one of two pristine directories with the
// same content — 100 records acked with acks=all in topic "cor" (three
// segments), one in "other", and a committed offset 50 for group "g" on cor/0:
//   clean:   stopped with SIGTERM (recovery point at the end of each log);
//   crashed: stopped with kill -9 (recovery point at the last segment roll).
// Both run without the worker journal, so the segments alone are tested; a
// third, crashedJournal, is crashed with it: its journal holds a copy of the
// active segment's acknowledged tail, and the restart writes that copy back.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { decodeFetchResponse } from "../../protocol/messages/fetch.ts";
import { decodeBatches, encodeBatch, patchBaseOffset } from "../../protocol/record_batch.ts";
import { type BrokerProcess, startBroker } from "../support/broker.ts";
import { RawClient, fetchBody, produceBody } from "../support/raw_client.ts";
import { Rng } from "./support/rng.ts";

const RECORDS = 100;
const SEGMENT_BYTES = 16 * 1024;
const COMMITTED = 50;
const SEED = Number(process.env.SLUICE_FAULT_SEED ?? 4);
/** Flips per randomized case in CI; `bun run test:long` runs test/long/corruption_and_disk.test.ts with more. */
export const FLIPS = Number(process.env.SLUICE_CORRUPTION_FLIPS ?? 4);

const pristine: { clean: string; crashed: string; crashedJournal: string } = { clean: "", crashed: "", crashedJournal: "" };
const temps: string[] = [];
const figures: Record<string, unknown> = {};

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-"));
  temps.push(d);
  return d;
}

async function buildPristine(stop: "clean" | "crashed", journal = false): Promise<string> {
  const dir = tempDir();
  const b = await startBroker({ dataDir: dir, args: ["--workers", "1", "--worker-journal", String(journal)] });
  const c = await RawClient.connect(b.port);
  await c.control(19, {
    topics: [
      { name: "cor", partitions: 1, configs: { "segment.bytes": String(SEGMENT_BYTES) } },
      { name: "other", partitions: 1 },
    ],
  });
  for (let i = 0; i < RECORDS; i++) {
    const r = await c.request(0, produceBody({ topic: "cor", acks: -1, partitions: [{ index: 0, records: encodeBatch([{ value: value(i) }]) }] }));
    if (r.body[0] !== 0 || r.body[1] !== 0) throw new Error("produce failed");
  }
  await c.request(0, produceBody({ topic: "other", acks: -1, partitions: [{ index: 0, records: encodeBatch([{ value: "o" }]) }] }));
  await c.control(8, { groupId: "g", generationId: -1, memberId: "", topics: [{ name: "cor", partitions: [{ partition: 0, offset: COMMITTED }] }] });
  c.close();
  if (stop === "clean") await b.stop();
  else await b.kill9();
  return dir;
}

function value(i: number): string {
  return `v${i}-${"x".repeat(400)}`;
}

beforeAll(async () => {
  pristine.clean = await buildPristine("clean");
  pristine.crashed = await buildPristine("crashed");
  pristine.crashedJournal = await buildPristine("crashed", true);
});

afterAll(() => {
  console.log(`corruption figures: ${JSON.stringify(figures)}`);
  for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
});

function copyOf(which: keyof typeof pristine): string {
  const dir = tempDir();
  fs.cpSync(pristine[which], dir, { recursive: true });
  return dir;
}

const partitionDir = (dir: string) => path.join(dir, "topics", "cor", "0");
const segments = (dir: string) => fs.readdirSync(partitionDir(dir)).filter((n) => n.endsWith(".log")).sort();

function flipBit(file: string, position: number, bit: number): void {
  const bytes = fs.readFileSync(file);
  bytes[position] ^= 1 << bit;
  fs.writeFileSync(file, bytes);
}

/** Where each batch of a segment file is: [start, end). */
function batchesOf(file: string): [number, number][] {
  const bytes = fs.readFileSync(file);
  const out: [number, number][] = [];
  for (let p = 0; p + 12 <= bytes.length; ) {
    const size = 12 + bytes.readInt32BE(p + 8);
    out.push([p, p + size]);
    p += size;
  }
  return out;
}

interface Outcome {
  started: boolean;
  startError: string;
  online: boolean | null;
  highWatermark: number | null;
  /** Records read from cor/0 with a good CRC, in offset order, with their values. */
  readable: { offset: number; value: string }[];
  /** The broker sent bytes that fail the batch CRC or structure check. */
  servedCorrupt: string | null;
  fetchError: number;
  committed: number | "missing" | `error ${number}` | null;
  output: string;
}

async function restartAndInspect(dir: string): Promise<Outcome> {
  const o: Outcome = { started: false, startError: "", online: null, highWatermark: null, readable: [], servedCorrupt: null, fetchError: 0, committed: null, output: "" };
  let b: BrokerProcess;
  try {
    b = await startBroker({ dataDir: dir, args: ["--workers", "1"] });
  } catch (e) {
    o.startError = (e as Error).message;
    return o;
  }
  o.started = true;
  try {
    const c = await RawClient.connect(b.port);
    const d = (await c.control(1000, { topics: ["cor"] })) as { topics: { errorCode: number; partitions?: { online: boolean; highWatermark: number }[] }[] };
    const p = d.topics[0]?.partitions?.[0];
    o.online = p?.online ?? null;
    o.highWatermark = p?.highWatermark ?? null;
    let offset = 0;
    for (let i = 0; i < 1000; i++) {
      const r = decodeFetchResponse((await c.request(1, fetchBody({ topic: "cor", maxBytes: 1 << 20, partitions: [{ index: 0, offset, maxBytes: 1 << 20 }] }))).body).topics[0].partitions[0];
      if (r.errorCode !== 0) {
        o.fetchError = r.errorCode;
        break;
      }
      if (r.records.length === 0) break;
      try {
        for (const batch of decodeBatches(r.records)) {
          for (const rec of batch.records) {
            if (Number(rec.offset) >= offset) o.readable.push({ offset: Number(rec.offset), value: new TextDecoder().decode(rec.value!) });
          }
        }
      } catch (e) {
        o.servedCorrupt = (e as Error).message;
        break;
      }
      offset = o.readable.length > 0 ? o.readable[o.readable.length - 1].offset + 1 : offset;
    }
    const f = (await c.control(9, { groupId: "g", topics: [{ name: "cor", partitions: [0] }] })) as
      | { topics: { partitions: { offset: number; errorCode: number }[] }[] }
      | { errorCode: number };
    if ("errorCode" in f) o.committed = `error ${f.errorCode}`;
    else {
      const q = f.topics[0]?.partitions[0];
      o.committed = q === undefined || q.offset < 0 ? "missing" : q.errorCode !== 0 ? `error ${q.errorCode}` : q.offset;
    }
    c.close();
  } finally {
    o.output = b.output();
    await b.stop();
  }
  return o;
}

/** Every acked record readable with its value, in order. */
function allIntact(o: Outcome): boolean {
  return o.readable.length === RECORDS && o.readable.every((r, i) => r.offset === i && r.value === value(i));
}

/** Reported: the broker refused to start, or the partition is offline or answers fetches with an error. */
function reported(o: Outcome): boolean {
  return !o.started || o.online === false || o.fetchError !== 0;
}

/** FLIPS times: a copy of `which` (after `prepare`) with its last acked batch cut at a random byte, restarted; one outcome line each. */
async function cutLastAckedBatch(which: keyof typeof pristine, rng: Rng, prepare: (dir: string) => void = () => {}): Promise<string[]> {
  const results: string[] = [];
  for (let k = 0; k < FLIPS; k++) {
    const dir = copyOf(which);
    prepare(dir);
    const file = path.join(partitionDir(dir), segments(dir).at(-1)!);
    const [start, end] = batchesOf(file).at(-1)!;
    const cutAt = rng.between(start + 1, end - 1);
    fs.truncateSync(file, cutAt);
    const o = await restartAndInspect(dir);
    const quietlyCut = o.started && o.online === true && o.fetchError === 0 && o.readable.length < RECORDS;
    results.push(`cut@${cutAt}: ${o.servedCorrupt !== null ? "SERVED CORRUPT" : reported(o) ? "reported" : quietlyCut ? "QUIETLY CUT" : "?"}`);
  }
  return results;
}

describe("record data", () => {
  // Found here (the broker served such batches), fixed in the log since.
  test("bit flips in sealed segments: detected every time, never served", async () => {
    const rng = new Rng(SEED);
    const results: string[] = [];
    for (let k = 0; k < FLIPS; k++) {
      const dir = copyOf(rng.chance(0.5) ? "clean" : "crashed");
      const sealed = segments(dir).slice(0, -1);
      const file = path.join(partitionDir(dir), rng.pick(sealed));
      const [start, end] = rng.pick(batchesOf(file));
      const at = rng.between(start + 21, end - 1); // CRC-covered bytes
      flipBit(file, at, rng.below(8));
      const o = await restartAndInspect(dir);
      results.push(`${path.basename(file)}@${at}: ${o.servedCorrupt !== null ? "SERVED CORRUPT" : reported(o) ? "reported" : allIntact(o) ? "intact?" : "silently short"}`);
    }
    figures.sealedFlips = results;
    expect(results.filter((r) => !r.endsWith("reported"))).toEqual([]);
  }, 120_000);

  // Found here (the broker served such batches), fixed in the log since.
  test("a bit flip in the active segment below the recovery point (clean stop): reported, nothing cut, nothing corrupt served", async () => {
    const rng = new Rng(SEED + 1);
    const results: string[] = [];
    for (let k = 0; k < FLIPS; k++) {
      const dir = copyOf("clean");
      const file = path.join(partitionDir(dir), segments(dir).at(-1)!);
      const size = fs.statSync(file).size;
      const [start, end] = rng.pick(batchesOf(file));
      const at = rng.between(start + 21, end - 1);
      flipBit(file, at, rng.below(8));
      const o = await restartAndInspect(dir);
      const cut = fs.statSync(file).size !== size;
      results.push(`@${at}/${size}: ${o.servedCorrupt !== null ? "SERVED CORRUPT" : cut ? "CUT" : reported(o) ? "reported" : "not reported"}`);
    }
    figures.activeBelowRecoveryPoint = results;
    expect(results.filter((r) => !r.endsWith("reported"))).toEqual([]);
  }, 120_000);

  // Found here (recovery cut such damage as a torn tail, silently dropping acked
  // records), fixed in b558e64: the recovery point now moves after every flush.
  test("a bit flip in acked data above the recovery point (kill -9): never silently cut", async () => {
    const rng = new Rng(SEED + 2);
    const results: string[] = [];
    for (let k = 0; k < FLIPS; k++) {
      const dir = copyOf("crashed");
      const file = path.join(partitionDir(dir), segments(dir).at(-1)!);
      const batches = batchesOf(file);
      // Not the last batch: a batch with whole batches after it cannot be a torn write.
      const [start, end] = rng.pick(batches.slice(0, -1));
      const at = rng.between(start + 21, end - 1);
      flipBit(file, at, rng.below(8));
      const o = await restartAndInspect(dir);
      const lost = RECORDS - o.readable.length;
      results.push(
        `batch ${batches.findIndex(([s]) => s === start)}/${batches.length}: ${o.servedCorrupt !== null ? "SERVED CORRUPT" : reported(o) ? "reported" : lost > 0 ? `SILENTLY CUT ${lost} acked records` : "intact?"}`,
      );
    }
    figures.ackedAboveRecoveryPoint = results;
    expect(results.filter((r) => !r.endsWith("reported"))).toEqual([]);
  }, 120_000);

  test("a torn tail (a write past the durable end, cut short by the crash): cut to the last whole batch, the rest intact", async () => {
    // What a crash leaves after a group that never got its fdatasync: one whole
    // batch written past the last durable offset, then a second one torn at a
    // random byte. Both are above the recovery point; only the torn one may go.
    const rng = new Rng(SEED + 3);
    const results: string[] = [];
    for (let k = 0; k < FLIPS; k++) {
      const dir = copyOf("crashed");
      const file = path.join(partitionDir(dir), segments(dir).at(-1)!);
      const durableSize = fs.statSync(file).size;
      const whole = encodeBatch([{ value: value(RECORDS) }]);
      patchBaseOffset(whole, 0, RECORDS);
      const torn = encodeBatch([{ value: value(RECORDS + 1) }]);
      patchBaseOffset(torn, 0, RECORDS + 1);
      const tearAt = rng.between(1, torn.length - 1);
      fs.appendFileSync(file, whole);
      fs.appendFileSync(file, torn.subarray(0, tearAt));
      const o = await restartAndInspect(dir);
      const ok =
        o.started && o.online === true && o.readable.length === RECORDS + 1 && o.readable.every((r, i) => r.offset === i && r.value === value(i));
      const sizeAfter = fs.statSync(file).size;
      results.push(`torn after ${tearAt}/${torn.length} bytes: ${ok ? "cut" : JSON.stringify({ started: o.started, online: o.online, readable: o.readable.length })}, ${durableSize + whole.length + tearAt} -> ${sizeAfter} bytes`);
      expect(o.servedCorrupt).toBe(null);
      expect(ok).toBe(true);
      expect(sizeAfter).toBe(durableSize + whole.length);
    }
    figures.tornTail = results;
  }, 120_000);

  test("a torn write below the recovery point (acked data shorter than recorded): reported, never cut further", async () => {
    // A disk that loses fdatasynced bytes: the segment ends inside its last acked
    // batch. That cannot be a torn write of ours (the recovery point says it was
    // durable), so it must be reported, not cut quietly.
    const results = await cutLastAckedBatch("crashed", new Rng(SEED + 8));
    figures.lostDurableTail = results;
    expect(results.filter((r) => !r.endsWith("reported"))).toEqual([]);
  }, 120_000);
});

describe("record data with the worker journal (kill -9)", () => {
  test("a bit flip in the active segment's acked tail: written back from the journal, every record intact", async () => {
    const rng = new Rng(SEED + 9);
    const results: string[] = [];
    for (let k = 0; k < FLIPS; k++) {
      const dir = copyOf("crashedJournal");
      expect(fs.readdirSync(path.join(dir, "journal")).length).toBe(1);
      const file = path.join(partitionDir(dir), segments(dir).at(-1)!);
      const [start, end] = rng.pick(batchesOf(file));
      const at = rng.between(start + 21, end - 1);
      flipBit(file, at, rng.below(8));
      const o = await restartAndInspect(dir);
      results.push(`@${at}: ${o.servedCorrupt !== null ? "SERVED CORRUPT" : allIntact(o) && o.online === true ? "restored" : JSON.stringify({ online: o.online, readable: o.readable.length })}`);
      expect(o.output).toContain("worker journals replayed");
      // Replayed and removed: the broker runs with a new, empty one.
      expect(fs.readdirSync(path.join(dir, "journal")).filter((n) => n.endsWith(".journal")).length).toBeLessThanOrEqual(1);
    }
    figures.journalRestoredFlips = results;
    expect(results.filter((r) => !r.endsWith("restored"))).toEqual([]);
  }, 120_000);

  test("acked bytes gone from both the segment and the journal: reported by the recovery point, never cut quietly", async () => {
    const results = await cutLastAckedBatch("crashedJournal", new Rng(SEED + 10), (dir) => fs.rmSync(path.join(dir, "journal"), { recursive: true }));
    figures.journalLostToo = results;
    expect(results.filter((r) => !r.endsWith("reported"))).toEqual([]);
  }, 120_000);
});

describe("indexes", () => {
  test("bit flips in offset and time indexes: rebuilt, every record readable as before", async () => {
    const rng = new Rng(SEED + 4);
    const results: string[] = [];
    for (let k = 0; k < FLIPS; k++) {
      const dir = copyOf(rng.chance(0.5) ? "clean" : "crashed");
      const indexes = fs.readdirSync(partitionDir(dir)).filter((n) => n.endsWith(".index") || n.endsWith(".timeindex"));
      const file = path.join(partitionDir(dir), rng.pick(indexes));
      const size = fs.statSync(file).size;
      const at = rng.below(size);
      flipBit(file, at, rng.below(8));
      const o = await restartAndInspect(dir);
      results.push(`${path.basename(file)}@${at}: ${allIntact(o) && o.online === true ? "rebuilt, intact" : "BROKEN"}`);
      expect(o.servedCorrupt).toBe(null);
      expect(allIntact(o)).toBe(true);
    }
    figures.indexFlips = results;
  }, 120_000);
});

describe("topic metadata", () => {
  // Found here, fixed in ccf506b: meta/topics.json had no checksum, so a flip inside a
  // topic name parsed, and the engine removed the real topic's directory.
  test("bit flips in the topic metadata: detected every time (the broker refuses to start, naming the file), never a topic's data deleted", async () => {
    const rng = new Rng(SEED + 5);
    const results: string[] = [];
    for (let k = 0; k < FLIPS * 2; k++) {
      const dir = copyOf("clean");
      const file = path.join(dir, "meta", "topics.json");
      const text = fs.readFileSync(file, "utf8");
      // Half the flips land in a topic name: the damage JSON parsing cannot see.
      const nameAt = text.indexOf('"cor"') + 1;
      const at = k % 2 === 0 ? rng.between(nameAt, nameAt + 2) : rng.below(text.length);
      flipBit(file, at, rng.below(7));
      const before = segments(dir).length;
      const o = await restartAndInspect(dir);
      const dataKept = fs.existsSync(partitionDir(dir)) && segments(dir).length === before;
      const outcome = !dataKept
        ? "DATA DELETED"
        : !o.started
          ? o.startError.includes("topics.json") ? "refused to start" : "refused to start without naming the file"
          : allIntact(o) ? "undetected (all topics kept)" : "undetected (started without the topic, data kept)";
      results.push(`@${at}: ${outcome}`);
    }
    figures.metadataFlips = results;
    expect(results.filter((r) => !r.endsWith("refused to start"))).toEqual([]);
  }, 120_000);
});

describe("committed offsets", () => {
  for (const which of ["clean", "crashed"] as const) {
    test(`bit flips in the committed-offsets log (${which} stop): a committed offset is never silently lost`, async () => {
      const rng = new Rng(SEED + (which === "clean" ? 6 : 7));
      const results: string[] = [];
      for (let k = 0; k < FLIPS; k++) {
        const dir = copyOf(which);
        const offsetsDir = path.join(dir, "__consumer_offsets", "0");
        const file = path.join(offsetsDir, fs.readdirSync(offsetsDir).filter((n) => n.endsWith(".log")).sort().at(-1)!);
        const [start, end] = rng.pick(batchesOf(file));
        const at = rng.between(start + 21, end - 1);
        flipBit(file, at, rng.below(8));
        const o = await restartAndInspect(dir);
        const outcome =
          !o.started ? "refused to start" : o.committed === COMMITTED ? "intact?" : typeof o.committed === "string" && o.committed.startsWith("error") ? `reported (${o.committed})` : `SILENTLY LOST (${o.committed})`;
        results.push(`@${at}: ${outcome}`);
      }
      figures[`offsetsLogFlips_${which}`] = results;
      expect(results.filter((r) => r.includes("SILENTLY"))).toEqual([]);
    }, 120_000);
  }
});
