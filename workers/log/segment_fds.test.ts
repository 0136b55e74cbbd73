// Bounded descriptors: a log of hundreds of segments keeps the active one and
// at most SEALED_SEGMENT_FDS_MAX sealed ones open, whatever it reads; sealed
// segments open on demand; retention's file.delete.delay.ms still serves reads
// planned on a deleted segment that was open.

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import { type StoredBatch, makeBatch, makeTempDir, readAll, removeDir, splitBatches, testConfig } from "../../test/log/helpers.ts";
import { SEALED_SEGMENT_FDS_MAX } from "./log_limits.ts";
import { PartitionLog, type ReadPlan } from "./partition_log.ts";

let root = "";
let dir = "";
beforeEach(() => {
  root = makeTempDir();
  dir = path.join(root, "p0");
});
afterEach(() => removeDir(root));

const SEGMENTS = 300;
/** One ~900-byte batch per 1 KiB segment: every append rolls. */
const CONFIG = testConfig({ "segment.bytes": 1024, "index.interval.bytes": 4096 });

function openFds(): number {
  return fs.readdirSync("/proc/self/fd").length;
}

function build(log: PartitionLog, count: number): StoredBatch[] {
  const out: StoredBatch[] = [];
  for (let i = 0; i < count; i++) {
    const b = makeBatch({ count: 3, valueBytes: 280, tag: i, timestamp: 1_000 * i });
    const r = log.append(b);
    out.push({ baseOffset: r.baseOffset, lastOffset: r.lastOffset, bytes: b.slice() });
  }
  log.flush();
  return out;
}

describe("descriptors of a long log", () => {
  test(`${SEGMENTS} segments: appends, reopen, reads of every segment and timestamp lookups keep at most ${SEALED_SEGMENT_FDS_MAX} sealed segments open`, () => {
    const base = openFds();
    // Active segment + recovery point file + the bounded sealed ones.
    const bound = base + 2 + SEALED_SEGMENT_FDS_MAX;
    let log = PartitionLog.open({ dir, config: CONFIG });
    const batches = build(log, SEGMENTS);
    expect(log.segmentCount).toBe(SEGMENTS);
    expect(openFds()).toBeLessThanOrEqual(bound);
    expect(log.openSealedSegments).toBe(SEALED_SEGMENT_FDS_MAX);
    log.close();
    expect(openFds()).toBe(base);

    // Opening recovers every segment one at a time and leaves only the active one open.
    log = PartitionLog.open({ dir, config: CONFIG });
    expect(log.segmentCount).toBe(SEGMENTS);
    expect(openFds()).toBeLessThanOrEqual(base + 2);
    expect(log.openSealedSegments).toBe(0);

    // A consumer from the start: every segment opened on demand, the oldest closed behind it.
    expect(readAll(log)).toEqual(batches);
    expect(openFds()).toBeLessThanOrEqual(bound);
    expect(log.openSealedSegments).toBe(SEALED_SEGMENT_FDS_MAX);
    // Random reads all over the log, and lookups by time that walk every segment.
    let rng = 7;
    for (let i = 0; i < 500; i++) {
      rng = (rng * 1103515245 + 12345) % 2147483648;
      const b = batches[rng % batches.length];
      expect(splitBatches(log.read(b.baseOffset + (rng % 3), 1))).toEqual([b]);
    }
    expect(log.offsetForTimestamp(150_000)).toBe(batches[150].baseOffset);
    expect(log.offsetForTimestamp(10 ** 12)).toBe(-1);
    expect(openFds()).toBeLessThanOrEqual(bound);
    log.close();
    expect(openFds()).toBe(base);
  });

  test("a sealed segment closed between planning and reading opens again; a damaged index is rebuilt through a descriptor opened on demand", () => {
    const log = PartitionLog.open({ dir, config: CONFIG, sealedSegmentFds: 2 });
    const batches = build(log, 10);
    const plan = log.planRead(batches[1].baseOffset, 1) as ReadPlan;
    // Reads of other segments push segment 1 out of the two open ones.
    for (const b of batches.slice(4, 8)) log.read(b.baseOffset, 1);
    expect(plan.segment?.isOpen).toBe(false);
    const target = new Uint8Array(plan.length);
    expect(log.readInto(plan, target, 0)).toBe(plan.length);
    expect(splitBatches(target)).toEqual([batches[1]]);
    log.close();

    const index = path.join(dir, fs.readdirSync(dir).filter((n) => n.endsWith(".index")).sort()[3]);
    const bytes = fs.readFileSync(index);
    bytes[bytes.length - 1] ^= 1;
    fs.writeFileSync(index, bytes);
    const again = PartitionLog.open({ dir, config: CONFIG, sealedSegmentFds: 2 });
    expect(readAll(again)).toEqual(batches);
    expect(again.indexRebuilds).toBe(1);
    again.close();
  });
});

describe("retention and descriptors", () => {
  test("file.delete.delay.ms: a read planned on a deleted segment that was open is served until the delay ends; a closed one answers OFFSET_OUT_OF_RANGE", () => {
    const config = testConfig({ "segment.bytes": 1024, "retention.bytes": 4096, "file.delete.delay.ms": 1_000 });
    const log = PartitionLog.open({ dir, config: testConfig({ "segment.bytes": 1024, "file.delete.delay.ms": 1_000 }), sealedSegmentFds: 4 });
    const batches = build(log, 12);
    // Segment 0 is read last (open), segment 1 was pushed out of the open ones.
    const closedPlan = log.planRead(batches[1].baseOffset, 1) as ReadPlan;
    for (const b of batches.slice(4, 7)) log.read(b.baseOffset, 1);
    const openPlan = log.planRead(batches[0].baseOffset, 1) as ReadPlan;
    expect(openPlan.segment?.isOpen).toBe(true);
    expect(closedPlan.segment?.isOpen).toBe(false);
    const base = openFds();

    log.setConfig(config);
    const r = log.applyRetention(10_000);
    expect(r.deletedSegments).toBeGreaterThanOrEqual(2);
    expect(log.logStartOffset).toBeGreaterThan(batches[1].lastOffset);
    expect(fs.existsSync(openPlan.segment!.logPath)).toBe(false);
    const target = new Uint8Array(4096);
    expect(log.readInto(openPlan, target, 0)).toBe(batches[0].bytes.length);
    expect(splitBatches(target.subarray(0, batches[0].bytes.length))).toEqual([batches[0]]);
    const codeOf = (plan: ReadPlan) => {
      try {
        log.readInto(plan, target, 0);
      } catch (e) {
        return (e as SluiceError).code;
      }
      return 0;
    };
    expect(codeOf(closedPlan)).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    // Deleted segments that were open stay open for the delay only.
    expect(openFds()).toBeLessThanOrEqual(base);
    log.applyRetention(10_000 + 999);
    expect(codeOf(openPlan)).toBe(0);
    log.applyRetention(10_000 + 1_000);
    expect(codeOf(openPlan)).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    expect(openFds()).toBeLessThan(base);
    log.close();
  });
});
