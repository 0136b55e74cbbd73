import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import { makeBatch, makeTempDir, readAll, removeDir, testConfig } from "../../test/log/helpers.ts";
import { PartitionLog, type ReadPlan } from "./partition_log.ts";
import { segmentsToDelete } from "./retention.ts";

describe("segmentsToDelete (policy)", () => {
  const seg = (size: number, maxTimestamp: number) => ({ size, maxTimestamp });

  test("by time: the oldest segments whose largest timestamp is past retention.ms, stopping at the first kept", () => {
    const sealed = [seg(10, 100), seg(10, 200), seg(10, 900), seg(10, 150)];
    expect(segmentsToDelete({ sealed, totalBytes: 50, retentionMs: 500, retentionBytes: -1, nowMs: 1000 })).toBe(2);
    expect(segmentsToDelete({ sealed, totalBytes: 50, retentionMs: -1, retentionBytes: -1, nowMs: 1e12 })).toBe(0);
    // a segment without timestamps is not judged by time
    expect(segmentsToDelete({ sealed: [seg(10, -1)], totalBytes: 20, retentionMs: 0, retentionBytes: -1, nowMs: 1e12 })).toBe(0);
  });

  test("by size: while the partition stays at or above retention.bytes without the segment", () => {
    const sealed = [seg(100, 0), seg(100, 0), seg(100, 0)];
    // total 350 (50 in the active segment)
    expect(segmentsToDelete({ sealed, totalBytes: 350, retentionMs: -1, retentionBytes: 150, nowMs: 0 })).toBe(2);
    expect(segmentsToDelete({ sealed, totalBytes: 350, retentionMs: -1, retentionBytes: 50, nowMs: 0 })).toBe(3);
    expect(segmentsToDelete({ sealed, totalBytes: 350, retentionMs: -1, retentionBytes: 251, nowMs: 0 })).toBe(0);
    expect(segmentsToDelete({ sealed, totalBytes: 350, retentionMs: -1, retentionBytes: 0, nowMs: 0 })).toBe(3);
  });

  test("both rules: the larger prefix", () => {
    const sealed = [seg(100, 0), seg(100, 5000), seg(100, 5000)];
    expect(segmentsToDelete({ sealed, totalBytes: 310, retentionMs: 1000, retentionBytes: 110, nowMs: 3000 })).toBe(2);
  });
});

describe("retention on a log", () => {
  let root = "";
  let dir = "";
  beforeEach(() => {
    root = makeTempDir();
    dir = path.join(root, "p0");
  });
  afterEach(() => removeDir(root));

  function fill(log: PartitionLog, count: number, timestampOf: (i: number) => number): void {
    for (let i = 0; i < count; i++) log.append(makeBatch({ count: 2, tag: i, timestamp: timestampOf(i) }));
  }

  test("by time: old segments go, the log start moves, reads below it are OFFSET_OUT_OF_RANGE", () => {
    const log = PartitionLog.open({ dir, config: testConfig({ "segment.bytes": 1024, "retention.ms": 10_000 }) });
    fill(log, 60, (i) => (i < 30 ? 1_000 : 50_000));
    const segmentsBefore = log.segmentCount;
    const before = readAll(log);
    expect(log.applyRetention(5_000).deletedSegments).toBe(0); // at t = 5 s nothing is 10 s old
    const r = log.applyRetention(30_000);
    expect(r.deletedSegments).toBeGreaterThan(0);
    expect(r.logStartOffset).toBe(log.logStartOffset);
    expect(log.segmentCount).toBe(segmentsBefore - r.deletedSegments);
    expect(log.logStartOffset).toBeGreaterThan(0);
    expect(log.logStartOffset).toBeLessThanOrEqual(60); // only segments holding nothing newer than t=1000
    // what is left is untouched
    expect(readAll(log)).toEqual(before.filter((b) => b.baseOffset >= log.logStartOffset));
    expect(log.planRead(log.logStartOffset - 1, 100)).toEqual({ error: ErrorCode.OFFSET_OUT_OF_RANGE });
    try {
      log.read(0, 100);
      throw new Error("expected OFFSET_OUT_OF_RANGE");
    } catch (e) {
      expect((e as SluiceError).code).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    }
    // the files are gone, and a reopen starts at the same place
    const start = log.logStartOffset;
    expect(fs.readdirSync(dir).filter((n) => n.endsWith(".log")).length).toBe(log.segmentCount);
    log.close();
    const again = PartitionLog.open({ dir, config: testConfig({ "segment.bytes": 1024 }) });
    expect(again.logStartOffset).toBe(start);
    again.close();
  });

  test("never the active segment, even when everything is past retention", () => {
    const log = PartitionLog.open({ dir, config: testConfig({ "segment.bytes": 1024, "retention.ms": 1 }) });
    fill(log, 40, () => 1_000);
    log.applyRetention(1_000_000);
    expect(log.segmentCount).toBe(1);
    const files = fs.readdirSync(dir).filter((n) => n.endsWith(".log"));
    expect(files.length).toBe(1);
    expect(Number(files[0].slice(0, 20))).toBe(log.logStartOffset);
    expect(log.logEndOffset).toBe(80);
    log.close();
  });

  test("by size: oldest segments go while the partition is over retention.bytes", () => {
    const log = PartitionLog.open({ dir, config: testConfig({ "segment.bytes": 1024, "retention.bytes": 3000 }) });
    fill(log, 80, () => Date.now()); // recent: time retention would keep them all
    expect(log.sizeBytes).toBeGreaterThan(3000);
    const r = log.applyRetention();
    expect(r.deletedSegments).toBeGreaterThan(0);
    expect(log.sizeBytes).toBeGreaterThanOrEqual(3000 - 1024);
    expect(log.sizeBytes).toBeLessThan(3000 + 1024);
    expect(log.applyRetention().deletedSegments).toBe(0);
    log.close();
  });

  test("a read planned on a segment deleted since: served within file.delete.delay.ms, OFFSET_OUT_OF_RANGE after", () => {
    const log = PartitionLog.open({
      dir,
      config: testConfig({ "segment.bytes": 1024, "retention.bytes": 0, "file.delete.delay.ms": 1000 }),
    });
    fill(log, 40, () => 1);
    const plan = log.planRead(0, 4096) as ReadPlan;
    const expected = log.read(0, 4096);
    log.applyRetention(10_000);
    expect(log.logStartOffset).toBeGreaterThan(0);
    const target = new Uint8Array(plan.length);
    expect(log.readInto(plan, target, 0)).toBe(plan.length);
    expect(Array.from(target)).toEqual(Array.from(expected));
    log.applyRetention(11_000); // past the delay: the file is closed
    expect(() => log.readInto(plan, target, 0)).toThrow(SluiceError);
    log.close();
  });
});
