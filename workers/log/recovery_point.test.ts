// The recovery point: two slots written alternately after every flush (no
// fsync), fsynced at rolls and checkpoints; and what that buys recovery after a
// kill -9: acknowledged data is below the point, so damage in it is reported
// and never cut as a torn tail.

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { ErrorCode } from "../../protocol/errors.ts";
import { type StoredBatch, makeBatch, makeTempDir, readAll, removeDir, testConfig } from "../../test/log/helpers.ts";
import { FaultyFileOps, realFileOps } from "./file_ops.ts";
import { LogError } from "./log_error.ts";
import { PartitionLog } from "./partition_log.ts";
import {
  LEGACY_RECOVERY_POINT_FILE,
  RECOVERY_POINT_FILE,
  RECOVERY_POINT_RECORD_BYTES,
  RECOVERY_POINT_SLOT_BYTES,
  RecoveryPointWriter,
  readRecoveryPoint,
} from "./recovery_point.ts";

let root = "";
let dir = "";
beforeEach(() => {
  root = makeTempDir();
  dir = path.join(root, "p0");
  fs.mkdirSync(dir);
});
afterEach(() => removeDir(root));

const rpFile = () => path.join(dir, RECOVERY_POINT_FILE);

function damageSlot(slot: number, at = 20, file = rpFile()): void {
  const bytes = fs.readFileSync(file);
  bytes[slot * RECOVERY_POINT_SLOT_BYTES + at] ^= 0x40;
  fs.writeFileSync(file, bytes);
}

describe("recovery point slots", () => {
  test("writes alternate between the two slots; the newest valid one is read back", () => {
    const w = new RecoveryPointWriter(realFileOps, dir);
    expect(readRecoveryPoint(realFileOps, dir)).toBe(null);
    w.record({ offset: 10, segmentBaseOffset: 0, position: 500 });
    expect(fs.statSync(rpFile()).size).toBe(2 * RECOVERY_POINT_SLOT_BYTES);
    expect(readRecoveryPoint(realFileOps, dir)).toEqual({ offset: 10, segmentBaseOffset: 0, position: 500 });
    w.record({ offset: 20, segmentBaseOffset: 0, position: 900 });
    w.record({ offset: 30, segmentBaseOffset: 25, position: 100 });
    expect(readRecoveryPoint(realFileOps, dir)).toEqual({ offset: 30, segmentBaseOffset: 25, position: 100 });
    expect(w.lastSequence).toBe(3);
    // Sequence 3 went to slot 1, sequence 2 is still whole in slot 0.
    damageSlot(1);
    expect(readRecoveryPoint(realFileOps, dir)).toEqual({ offset: 20, segmentBaseOffset: 0, position: 900 });
    w.close();
  });

  test("a torn write of the newer slot falls back to the older; both bad counts as none", () => {
    const w = new RecoveryPointWriter(realFileOps, dir);
    w.record({ offset: 5, segmentBaseOffset: 0, position: 50 });
    w.record({ offset: 7, segmentBaseOffset: 0, position: 70 });
    w.close();
    // A torn write: the newer slot (slot 0, sequence 2) is left with only a prefix of its record.
    const bytes = fs.readFileSync(rpFile());
    bytes.fill(0, 30, RECOVERY_POINT_RECORD_BYTES);
    fs.writeFileSync(rpFile(), bytes);
    expect(readRecoveryPoint(realFileOps, dir)).toEqual({ offset: 5, segmentBaseOffset: 0, position: 50 });
    // The next write goes to the slot that is not the newest valid one (slot 0 again), never over it.
    const again = new RecoveryPointWriter(realFileOps, dir);
    again.record({ offset: 9, segmentBaseOffset: 0, position: 90 });
    again.close();
    expect(readRecoveryPoint(realFileOps, dir)).toEqual({ offset: 9, segmentBaseOffset: 0, position: 90 });
    damageSlot(0);
    damageSlot(1);
    expect(readRecoveryPoint(realFileOps, dir)).toBe(null);
    // A file cut short keeps what it still holds whole.
    fs.truncateSync(rpFile(), RECOVERY_POINT_RECORD_BYTES);
    expect(readRecoveryPoint(realFileOps, dir)).toBe(null);
  });

  test("record() costs one small write and no fsync; checkpoint() fsyncs", () => {
    const files = new FaultyFileOps(realFileOps);
    const w = new RecoveryPointWriter(files, dir);
    w.record({ offset: 1, segmentBaseOffset: 0, position: 10 }); // creates the file
    const syncs = files.fdatasyncCalls;
    const written = files.bytesWritten;
    w.record({ offset: 2, segmentBaseOffset: 0, position: 20 });
    expect(files.fdatasyncCalls).toBe(syncs);
    expect(files.bytesWritten - written).toBe(RECOVERY_POINT_RECORD_BYTES);
    w.checkpoint({ offset: 3, segmentBaseOffset: 0, position: 30 });
    expect(files.fdatasyncCalls).toBe(syncs + 1);
    w.close();
  });

  test("on a full disk, slot writes still succeed (the file is preallocated)", () => {
    const files = new FaultyFileOps(realFileOps, { writeBytesMax: 0 });
    fs.writeFileSync(rpFile(), new Uint8Array(2 * RECOVERY_POINT_SLOT_BYTES));
    const w = new RecoveryPointWriter(files, dir);
    for (let i = 1; i <= 5; i++) w.record({ offset: i, segmentBaseOffset: 0, position: i * 10 });
    expect(readRecoveryPoint(realFileOps, dir)?.offset).toBe(5);
    w.close();
  });
});

describe("the log moves its recovery point after every flush", () => {
  const CONFIG = testConfig({ "segment.bytes": 2048, "index.interval.bytes": 200 });
  const logDir = () => path.join(dir, "log");

  /** Appends and flushes `count` batches, then drops the log as a kill -9 would: no close, the page cache intact. */
  function killedLog(count: number, opts: { flushEach?: boolean } = {}): StoredBatch[] {
    const log = PartitionLog.open({ dir: logDir(), config: CONFIG });
    for (let i = 0; i < count; i++) {
      log.append(makeBatch({ count: 1 + (i % 3), tag: i, timestamp: 1000 * i }));
      if (opts.flushEach !== false) log.flush();
    }
    const batches = readAll(log);
    // What a killed process leaves: the files exactly as they are now (close() would flush and checkpoint).
    const leftBehind = new Map<string, Buffer>();
    for (const n of fs.readdirSync(logDir())) leftBehind.set(n, fs.readFileSync(path.join(logDir(), n)));
    log.close();
    for (const n of fs.readdirSync(logDir())) fs.rmSync(path.join(logDir(), n));
    for (const [n, bytes] of leftBehind) fs.writeFileSync(path.join(logDir(), n), bytes);
    return batches;
  }

  function activeSegment(): string {
    return path.join(logDir(), fs.readdirSync(logDir()).filter((n) => n.endsWith(".log")).sort().at(-1)!);
  }

  test("after a kill -9 the point names the durable offset exactly", () => {
    const batches = killedLog(40);
    const rp = readRecoveryPoint(realFileOps, logDir());
    const size = fs.statSync(activeSegment()).size;
    expect(rp).toEqual({
      offset: batches.at(-1)!.lastOffset + 1,
      segmentBaseOffset: Number(path.basename(activeSegment()).slice(0, 20)),
      position: size,
    });
    const log = PartitionLog.open({ dir: logDir(), config: CONFIG });
    expect(log.recovery.validatedBatches).toBe(0);
    expect(readAll(log)).toEqual(batches);
    log.close();
  });

  test("a flipped bit in acknowledged data followed by whole batches (kill -9): never cut — refused at open or at the read, reported", () => {
    const batches = killedLog(40);
    const active = activeSegment();
    const bytes = fs.readFileSync(active);
    const base = Number(path.basename(active).slice(0, 20));
    const inActive = batches.filter((b) => b.baseOffset >= base);
    expect(inActive.length).toBeGreaterThan(3);
    const victim = inActive[1];
    const position = inActive[0].bytes.length;
    // Inside the records: only a CRC check sees it.
    const recordsFlip = Buffer.from(bytes);
    recordsFlip[position + victim.bytes.length - 4] ^= 0x08;
    fs.writeFileSync(active, recordsFlip);
    const log = PartitionLog.open({ dir: logDir(), config: CONFIG });
    expect(log.recovery.truncatedBytes).toBe(0);
    expect(log.logEndOffset).toBe(batches.at(-1)!.lastOffset + 1);
    const e = (() => {
      try {
        log.read(victim.baseOffset, 100);
      } catch (err) {
        return err as LogError;
      }
      throw new Error("expected the read to fail");
    })();
    expect(e).toBeInstanceOf(LogError);
    expect(e.position).toBe(position);
    log.close();
    expect(fs.statSync(active).size).toBe(bytes.length);

    // In the batch's lastOffsetDelta, with the active segment's index files as a kill -9 leaves them
    // (none since the roll): the offsets stop adding up in the walk to the point; open refuses, naming it.
    const deltaFlip = Buffer.from(bytes);
    deltaFlip[position + 26] ^= 0x01;
    fs.writeFileSync(active, deltaFlip);
    for (const suffix of [".index", ".timeindex"]) fs.rmSync(active.replace(".log", suffix), { force: true });
    let refused: unknown = null;
    try {
      PartitionLog.open({ dir: logDir(), config: CONFIG }).close();
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(LogError);
    expect((refused as LogError).code).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(fs.readFileSync(active)).toEqual(deltaFlip);
  });

  test("the same flip above the point (data written but never flushed) is a torn tail and is cut", () => {
    const flushed = killedLog(20);
    const log = PartitionLog.open({ dir: logDir(), config: CONFIG });
    for (let i = 0; i < 3; i++) log.append(makeBatch({ tag: 100 + i }));
    const unflushed = readAll(log).slice(flushed.length);
    const active = activeSegment();
    const bytes = fs.readFileSync(active);
    const firstUnflushed = bytes.length - unflushed.reduce((n, b) => n + b.bytes.length, 0);
    bytes[firstUnflushed + unflushed[0].bytes.length - 3] ^= 0x02;
    fs.writeFileSync(active, bytes);
    const again = PartitionLog.open({ dir: logDir(), config: CONFIG });
    expect(again.recovery.truncatedBytes).toBe(bytes.length - firstUnflushed);
    expect(readAll(again)).toEqual(flushed);
    again.close();
  });

  test("a damaged newer slot: the older one is used and what lies above it is validated, nothing lost", () => {
    const batches = killedLog(10);
    // The newest record's slot is damaged: the point falls back one flush.
    const file = path.join(logDir(), RECOVERY_POINT_FILE);
    const raw = fs.readFileSync(file);
    const sequenceOf = (slot: number) => Number(raw.readBigInt64BE(slot * RECOVERY_POINT_SLOT_BYTES + 8));
    damageSlot(sequenceOf(0) > sequenceOf(1) ? 0 : 1, 20, file);
    const log = PartitionLog.open({ dir: logDir(), config: CONFIG });
    expect(log.recovery.validatedBatches).toBeGreaterThan(0);
    expect(readAll(log)).toEqual(batches);
    log.close();
  });

  test("both slots damaged and a bad batch in a sealed segment: refused, not cut, though whole batches follow it", () => {
    const batches = killedLog(40);
    const sealed = path.join(logDir(), fs.readdirSync(logDir()).filter((n) => n.endsWith(".log")).sort()[0]);
    const before = fs.readFileSync(sealed);
    const bytes = Buffer.from(before);
    bytes[batches[0].bytes.length + 40] ^= 0x04; // the second batch, inside its CRC-covered header
    fs.writeFileSync(sealed, bytes);
    // No usable point; and the sealed segment's index is gone, so the segment is scanned with CRCs.
    const rp = path.join(logDir(), RECOVERY_POINT_FILE);
    const rpBytes = fs.readFileSync(rp);
    rpBytes[20] ^= 1;
    rpBytes[RECOVERY_POINT_SLOT_BYTES + 20] ^= 1;
    fs.writeFileSync(rp, rpBytes);
    expect(readRecoveryPoint(realFileOps, logDir())).toBe(null);
    fs.rmSync(sealed.replace(".log", ".index"));
    let refused: unknown = null;
    try {
      PartitionLog.open({ dir: logDir(), config: CONFIG }).close();
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(LogError);
    expect((refused as LogError).offset).toBe(batches[1].baseOffset);
    expect(fs.statSync(sealed).size).toBe(before.length);
  });

  test("an old recovery-point.json is removed at open (the slots replace it)", () => {
    const log = PartitionLog.open({ dir: logDir(), config: CONFIG });
    log.append(makeBatch());
    log.close();
    fs.writeFileSync(path.join(logDir(), LEGACY_RECOVERY_POINT_FILE), "{}");
    PartitionLog.open({ dir: logDir(), config: CONFIG }).close();
    expect(fs.existsSync(path.join(logDir(), LEGACY_RECOVERY_POINT_FILE))).toBe(false);
  });
});
