// Damage to durable data that recovery trusts (sealed segments, the active
// segment below the recovery point) is caught on the read path: a read serves
// the original bytes or fails with CORRUPT_MESSAGE, never a changed byte, and
// nothing is ever cut.

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import { type StoredBatch, makeBatch, makeTempDir, removeDir, splitBatches, testConfig } from "../../test/log/helpers.ts";
import { LogError } from "./log_error.ts";
import { PartitionLog, type ReadPlan } from "./partition_log.ts";

let root = "";
let dir = "";
beforeEach(() => {
  root = makeTempDir();
  dir = path.join(root, "p0");
});
afterEach(() => removeDir(root));

const CONFIG = testConfig({ "segment.bytes": 2048, "index.interval.bytes": 200 });

function open(): PartitionLog {
  return PartitionLog.open({ dir, config: CONFIG });
}

/** Writes `count` batches and closes cleanly: everything is below the recovery point, trusted at open. */
function closedLog(count: number): StoredBatch[] {
  const log = open();
  const out: StoredBatch[] = [];
  for (let i = 0; i < count; i++) {
    const b = makeBatch({ count: 1 + (i % 3), tag: i, timestamp: 1000 * i });
    const r = log.append(b);
    out.push({ baseOffset: r.baseOffset, lastOffset: r.lastOffset, bytes: b.slice() });
  }
  log.close();
  return out;
}

interface Placed {
  file: string;
  position: number;
  batch: StoredBatch;
  index: number;
}

function locate(batches: StoredBatch[]): Placed[] {
  const logs = fs.readdirSync(dir).filter((n) => n.endsWith(".log")).sort().map((n) => path.join(dir, n));
  const bases = logs.map((f) => Number(path.basename(f).slice(0, 20)));
  const positions = new Map<string, number>();
  return batches.map((batch, index) => {
    let k = bases.length - 1;
    while (bases[k] > batch.baseOffset) k--;
    const position = positions.get(logs[k]) ?? 0;
    positions.set(logs[k], position + batch.bytes.length);
    return { file: logs[k], position, batch, index };
  });
}

function flipBit(file: string, position: number, bit: number): void {
  const fd = fs.openSync(file, "r+");
  const b = new Uint8Array(1);
  fs.readSync(fd, b, 0, 1, position);
  b[0] ^= 1 << bit;
  fs.writeSync(fd, b, 0, 1, position);
  fs.closeSync(fd);
}

function logFiles(): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  for (const n of fs.readdirSync(dir)) if (n.endsWith(".log")) m.set(n, fs.readFileSync(path.join(dir, n)));
  return m;
}

function damageOf(fn: () => unknown): LogError {
  try {
    fn();
  } catch (e) {
    if (e instanceof LogError) return e;
    throw e;
  }
  throw new Error("expected a LogError");
}

/** Reads from the log start like a consumer until the end or the first error; every batch served is checked. */
function consume(log: PartitionLog): { batches: StoredBatch[]; error: SluiceError | null } {
  const batches: StoredBatch[] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    let bytes: Uint8Array;
    try {
      bytes = log.read(offset, 64 * 1024);
    } catch (e) {
      if (e instanceof SluiceError) return { batches, error: e };
      throw e;
    }
    if (bytes.length === 0) break;
    for (const b of splitBatches(bytes)) {
      batches.push(b);
      offset = b.lastOffset + 1;
    }
  }
  return { batches, error: null };
}

describe("reads check every batch they serve", () => {
  test("a flipped bit in a sealed segment: open trusts it, the read at it fails naming segment, position and offset; nothing is cut", () => {
    const batches = closedLog(40);
    const where = locate(batches);
    const sealed = where[0].file;
    const inSealed = where.filter((w) => w.file === sealed);
    const victim = inSealed[3];
    flipBit(sealed, victim.position + 70, 2);
    const before = logFiles();
    const log = open();
    expect(log.corruption).toBe(null);

    // Reading from the segment's start stops right before the damaged batch: whole, original batches only.
    const prefix = splitBatches(log.read(inSealed[0].batch.baseOffset, 64 * 1024));
    expect(prefix).toEqual(inSealed.slice(0, 3).map((w) => w.batch));
    expect(log.corruptReads).toBe(1);
    expect(log.corruption?.offset).toBe(victim.batch.baseOffset);

    // At the damaged batch: a typed error that says where, every time.
    for (let i = 0; i < 2; i++) {
      const e = damageOf(() => log.read(victim.batch.baseOffset, 64 * 1024));
      expect(e.code).toBe(ErrorCode.CORRUPT_MESSAGE);
      expect(e.segment).toBe(path.basename(sealed));
      expect(e.position).toBe(victim.position);
      expect(e.offset).toBe(victim.batch.baseOffset);
      expect(e.reason).toContain("CRC");
    }
    expect(log.corruptReads).toBe(3);
    // The first damage found stays recorded.
    expect(log.corruption?.position).toBe(victim.position);

    // The rest of the log is served, the partition stays online and takes appends.
    const after = where[victim.index + 1];
    expect(splitBatches(log.read(after.batch.baseOffset, 1))[0]).toEqual(after.batch);
    expect(log.online).toBe(true);
    expect(log.append(makeBatch({ tag: 99 })).baseOffset).toBe(batches.at(-1)!.lastOffset + 1);
    log.close();
    // Nothing was cut or rewritten (the append went to the active segment only).
    const now = logFiles();
    expect(now.get(path.basename(sealed))).toEqual(before.get(path.basename(sealed)));
  });

  test("a flipped bit in the active segment below the recovery point (clean close): the read fails, nothing is cut", () => {
    const batches = closedLog(40);
    const where = locate(batches);
    const active = where.at(-1)!.file;
    const victim = where.filter((w) => w.file === active).at(-2)!;
    flipBit(active, victim.position + 30, 5);
    const size = fs.statSync(active).size;
    const log = open();
    expect(log.recovery.truncatedBytes).toBe(0);
    expect(damageOf(() => log.read(victim.batch.baseOffset, 1)).offset).toBe(victim.batch.baseOffset);
    expect(splitBatches(log.read(where.at(-1)!.batch.baseOffset, 1))).toEqual([where.at(-1)!.batch]);
    log.close();
    expect(fs.statSync(active).size).toBe(size);
  });

  test("every byte of a batch flipped in turn (sealed and active): a read serves original bytes or fails, never a changed byte", () => {
    const batches = closedLog(40);
    const where = locate(batches);
    const sealed = where.filter((w) => w.file === where[0].file);
    const active = where.filter((w) => w.file === where.at(-1)!.file);
    // One batch at an index entry (the segment's first) and ones walked to from an entry.
    const victims = [sealed[0], sealed[2], active[1]];
    for (const victim of victims) {
      const neighbours = where.slice(Math.max(0, victim.index - 1), victim.index + 2);
      const flips: [number, number][] = [];
      for (let i = 0; i < victim.batch.bytes.length; i++) {
        // partitionLeaderEpoch (bytes 12..15) is outside the CRC and carries nothing a read depends on, as in Kafka.
        if (i < 12 || i >= 16) flips.push([i, i % 8]);
      }
      // A base offset moved by a few (outside the CRC, and still inside the segment's range).
      flips.push([7, 0], [7, 1], [7, 2]);
      for (const [i, bit] of flips) {
        flipBit(victim.file, victim.position + i, bit);
        let log: PartitionLog | null = null;
        try {
          log = open();
        } catch (e) {
          // Recovery read this header (the active segment's first batch) and refused: reported, not served.
          expect(e).toBeInstanceOf(LogError);
        }
        if (log !== null) {
          const { batches: served, error } = consume(log);
          expect(served).toEqual(batches.slice(0, served.length));
          if (served.length <= victim.index) {
            expect(error?.code).toBe(ErrorCode.CORRUPT_MESSAGE);
          }
          // Reads that start inside or next to the damaged batch: original batches or an error.
          for (let offset = neighbours[0].batch.baseOffset; offset <= neighbours.at(-1)!.batch.lastOffset; offset++) {
            let bytes: Uint8Array;
            try {
              bytes = log.read(offset, 1);
            } catch (e) {
              expect((e as SluiceError).code).toBe(ErrorCode.CORRUPT_MESSAGE);
              continue;
            }
            for (const b of splitBatches(bytes)) expect(b).toEqual(batches.find((x) => x.baseOffset === b.baseOffset)!);
          }
          log.close();
        }
        flipBit(victim.file, victim.position + i, bit);
      }
    }
  });

  test("readInto a view over shared memory serves the valid prefix; a plan starting at the damage throws", () => {
    const batches = closedLog(40);
    const where = locate(batches);
    const inSealed = where.filter((w) => w.file === where[0].file);
    flipBit(inSealed[2].file, inSealed[2].position + inSealed[2].batch.bytes.length - 1, 7);
    const log = open();
    const target = new Uint8Array(new SharedArrayBuffer(8192));
    const plan = log.planRead(inSealed[0].batch.baseOffset, 8192) as ReadPlan;
    expect(plan.length).toBeGreaterThan(inSealed[0].batch.bytes.length + inSealed[1].batch.bytes.length);
    const n = log.readInto(plan, target, 100);
    expect(n).toBe(inSealed[0].batch.bytes.length + inSealed[1].batch.bytes.length);
    expect(splitBatches(target.slice(100, 100 + n))).toEqual([inSealed[0].batch, inSealed[1].batch]);
    const atDamage = log.planRead(inSealed[2].batch.baseOffset, 8192) as ReadPlan;
    expect(() => log.readInto(atDamage, target, 0)).toThrow(LogError);
    log.close();
  });

  test("a header that makes no sense: planRead answers CORRUPT_MESSAGE (never throws) and the damage is recorded", () => {
    const batches = closedLog(40);
    const where = locate(batches);
    const inSealed = where.filter((w) => w.file === where[0].file);
    // The length of the segment's first batch: every read in that segment walks past it.
    flipBit(inSealed[0].file, inSealed[0].position + 8, 6);
    const log = open();
    expect(log.planRead(inSealed[1].batch.baseOffset, 100)).toEqual({ error: ErrorCode.CORRUPT_MESSAGE });
    expect(log.corruption?.segment).toBe(path.basename(inSealed[0].file));
    expect(log.online).toBe(true);
    const e = damageOf(() => log.read(inSealed[1].batch.baseOffset, 100));
    expect(e.code).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(e.position).toBe(inSealed[0].position);
    expect(log.corruptReads).toBe(2);
    log.close();
  });

  test("offsetForTimestamp never answers from a damaged batch", () => {
    const batches = closedLog(40);
    const where = locate(batches);
    const victim = where[5];
    expect(victim.file).toBe(where[0].file);
    flipBit(victim.file, victim.position + 75, 1);
    const log = open();
    expect(log.offsetForTimestamp(4_000)).toBe(batches[4].baseOffset);
    const e = damageOf(() => log.offsetForTimestamp(5_000));
    expect(e.offset).toBe(victim.batch.baseOffset);
    expect(log.corruption).not.toBe(null);
    expect(log.offsetForTimestamp(20_000)).toBe(batches[20].baseOffset);
    log.close();
  });
});
