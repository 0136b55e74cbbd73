import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { readI64Number } from "../../protocol/big_endian.ts";
import { AssertionError } from "../../protocol/assert.ts";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import { BatchError, forEachRecord } from "../../protocol/record_batch.ts";
import { closeQuietly, concat, makeBatch, makeTempDir, readAll, removeDir, splitBatches, testConfig } from "../../test/log/helpers.ts";
import { FaultyFileOps, type FileOps, realFileOps } from "./file_ops.ts";
import { WRITE_CHUNK_BYTES_MAX, WRITEV_BUFFERS_MAX } from "./log_limits.ts";
import { PartitionLog, type ReadPlan } from "./partition_log.ts";

let dir = "";
let logs: PartitionLog[] = [];
beforeEach(() => {
  dir = path.join(makeTempDir(), "p0");
  logs = [];
});
afterEach(() => {
  closeQuietly(logs);
  removeDir(path.dirname(dir));
});

function open(entries: Record<string, string | number> = {}, extra: Partial<Parameters<typeof PartitionLog.open>[0]> = {}) {
  const log = PartitionLog.open({ dir, config: testConfig(entries), ...extra });
  logs.push(log);
  return log;
}

function codeOf(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    if (e instanceof SluiceError) return e.code;
    throw e;
  }
  throw new Error("expected a SluiceError");
}

describe("append", () => {
  test("assigns contiguous offsets by patching the base offset in place, and reads back the same bytes", () => {
    const log = open();
    expect(log.logEndOffset).toBe(0);
    const a = makeBatch({ count: 3, tag: 1 });
    const r1 = log.append(a);
    expect(r1).toEqual({ baseOffset: 0, lastOffset: 2, logAppendTimeMs: -1, bytes: a.length, records: 3, duplicate: false });
    const blob = concat([makeBatch({ count: 2, tag: 2 }), makeBatch({ count: 5, tag: 3 })]);
    const r2 = log.append(blob);
    expect(r2.baseOffset).toBe(3);
    expect(r2.lastOffset).toBe(9);
    expect(r2.records).toBe(7);
    // the caller's bytes now carry the assigned offsets
    expect(readI64Number(blob, 0)).toBe(3);
    expect(readI64Number(blob, splitBatches(blob)[0].bytes.length)).toBe(5);
    expect(log.logEndOffset).toBe(10);
    const all = readAll(log);
    expect(all.map((b) => b.baseOffset)).toEqual([0, 3, 5]);
    expect(concat(all.map((b) => b.bytes))).toEqual(concat([a, blob]));
  });

  test("one bad batch rejects the whole blob and nothing is written", () => {
    const log = open();
    log.append(makeBatch({ tag: 1 }));
    const sizeBefore = log.sizeBytes;
    const bad = makeBatch({ tag: 2 });
    bad[bad.length - 1] ^= 0x01; // breaks the CRC
    const blob = concat([makeBatch({ tag: 3 }), bad]);
    expect(() => log.append(blob)).toThrow(BatchError);
    expect(codeOf(() => log.append(blob))).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(log.logEndOffset).toBe(3);
    expect(log.sizeBytes).toBe(sizeBefore);
    expect(fs.statSync(path.join(dir, "00000000000000000000.log")).size).toBe(sizeBefore);
    // the first (valid) batch of the rejected blob was not given an offset either
    expect(readI64Number(blob, 0)).toBe(0);
    expect(codeOf(() => log.append(new Uint8Array(0)))).toBe(ErrorCode.INVALID_RECORD);
    expect(codeOf(() => log.append(makeBatch({ tag: 4 }).subarray(0, 40)))).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(log.online).toBe(true);
  });

  test("a batch over max.message.bytes is MESSAGE_TOO_LARGE", () => {
    const log = open({ "max.message.bytes": 200 });
    expect(codeOf(() => log.append(makeBatch({ count: 10, valueBytes: 50 })))).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    expect(log.logEndOffset).toBe(0);
  });

  test("LogAppendTime stamps the batch and reports the time", () => {
    const log = open({ "message.timestamp.type": "LogAppendTime" });
    const r = log.append(makeBatch({ count: 2, timestamp: 5 }), 1_800_000_000_000);
    expect(r.logAppendTimeMs).toBe(1_800_000_000_000);
    const stored = log.read(0, 1 << 20);
    const stamps: bigint[] = [];
    forEachRecord(stored, 0, (rec) => stamps.push(rec.timestamp)); // also re-checks the CRC
    expect(stamps).toEqual([1_800_000_000_000n, 1_800_000_000_000n]);
    expect(log.offsetForTimestamp(1_800_000_000_000)).toBe(0);
  });
});

/** Real files, recording the write syscalls the log makes (buffers and bytes of each). */
function countingFiles(): FileOps & { pwrites: number; pwritevs: number; calls: { buffers: number; bytes: number }[] } {
  const files = {
    ...realFileOps,
    pwrites: 0,
    pwritevs: 0,
    calls: [] as { buffers: number; bytes: number }[],
    pwrite: (fd: number, buf: Uint8Array, off: number, len: number, pos: number) => {
      files.pwrites++;
      files.calls.push({ buffers: 1, bytes: len });
      return realFileOps.pwrite(fd, buf, off, len, pos);
    },
    pwritev: (fd: number, bufs: readonly Uint8Array[], pos: number) => {
      files.pwritevs++;
      files.calls.push({ buffers: bufs.length, bytes: bufs.reduce((n, b) => n + b.length, 0) });
      return (realFileOps.pwritev as NonNullable<FileOps["pwritev"]>)(fd, bufs, pos);
    },
  };
  return files;
}

describe("staged appends (one vectored write for many)", () => {
  test("many stages, one pwritev: offsets contiguous, nothing visible before the write, same bytes after", () => {
    const files = countingFiles();
    const log = open({ "segment.bytes": 1 << 20 }, { files });
    const parts = [makeBatch({ count: 2, tag: 1 }), concat([makeBatch({ count: 1, tag: 2 }), makeBatch({ count: 4, tag: 3 })]), makeBatch({ count: 1, tag: 4 })];
    const writesBefore = files.pwrites + files.pwritevs;
    const results = parts.map((p) => ({ ...log.stage(p, 1_000) }));
    expect(results.map((r) => [r.baseOffset, r.lastOffset, r.records])).toEqual([[0, 1, 2], [2, 6, 5], [7, 7, 1]]);
    // Staged is not written: the log end, size and unsynced bytes have not moved, no syscall yet.
    expect(log.logEndOffset).toBe(0);
    expect(log.sizeBytes).toBe(0);
    expect(log.stagedByteCount).toBe(parts[0].length + parts[1].length + parts[2].length);
    expect(files.pwrites + files.pwritevs).toBe(writesBefore);
    log.writeStaged();
    expect(files.pwritevs).toBe(1);
    expect(files.pwrites).toBe(0);
    expect(log.logEndOffset).toBe(8);
    expect(log.stagedByteCount).toBe(0);
    expect(log.unsyncedBytes).toBe(log.sizeBytes);
    const all = readAll(log);
    expect(all.map((b) => b.baseOffset)).toEqual([0, 2, 3, 7]);
    expect(concat(all.map((b) => b.bytes))).toEqual(concat(parts));
    // Nothing staged: nothing written.
    log.writeStaged();
    expect(files.pwritevs).toBe(1);
  });

  test("a bad batch fails only its own stage; the appends staged around it keep their offsets", () => {
    const log = open();
    const good1 = makeBatch({ count: 1, tag: 1 });
    const bad = concat([makeBatch({ count: 1, tag: 2 }), makeBatch({ count: 1, tag: 3 })]);
    bad[bad.length - 1] ^= 0x01;
    const good2 = makeBatch({ count: 2, tag: 4 });
    expect(log.stage(good1).baseOffset).toBe(0);
    expect(codeOf(() => log.stage(bad))).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(readI64Number(bad, 0)).toBe(0); // not even its valid first batch got an offset
    expect(log.stage(good2).baseOffset).toBe(1);
    log.writeStaged();
    expect(readAll(log).map((b) => b.baseOffset)).toEqual([0, 1]);
    expect(concat(readAll(log).map((b) => b.bytes))).toEqual(concat([good1, good2]));
  });

  test("a roll while staging writes what was staged into the old segment, the rest into the new one", () => {
    const log = open({ "segment.bytes": 1024 });
    const parts: Uint8Array[] = [];
    for (let i = 0; i < 12; i++) parts.push(makeBatch({ count: 2, valueBytes: 60, tag: i }));
    for (const p of parts) log.stage(p);
    log.writeStaged();
    expect(log.segmentCount).toBeGreaterThan(1);
    expect(log.logEndOffset).toBe(24);
    const all = readAll(log);
    expect(all.map((b) => b.baseOffset)).toEqual(parts.map((_, i) => 2 * i));
    expect(concat(all.map((b) => b.bytes))).toEqual(concat(parts));
    // Sealed segments were flushed whole when they rolled; they hold batch-aligned data only.
    expect(log.durableOffset).toBeGreaterThan(0);
  });

  test(`at most ${WRITEV_BUFFERS_MAX} appends are staged: the next one writes them first`, () => {
    const files = countingFiles();
    const log = open({ "segment.bytes": 64 << 20 }, { files });
    const n = WRITEV_BUFFERS_MAX + 5;
    const parts: Uint8Array[] = [];
    for (let i = 0; i < n; i++) parts.push(makeBatch({ count: 1, valueBytes: 1, tag: i }));
    for (let i = 0; i < WRITEV_BUFFERS_MAX; i++) log.stage(parts[i]);
    expect(files.calls).toEqual([]);
    log.stage(parts[WRITEV_BUFFERS_MAX]);
    // The first WRITEV_BUFFERS_MAX went out; the new one is staged alone.
    expect(log.logEndOffset).toBe(WRITEV_BUFFERS_MAX);
    expect(log.stagedByteCount).toBe(parts[WRITEV_BUFFERS_MAX].length);
    for (let i = WRITEV_BUFFERS_MAX + 1; i < n; i++) log.stage(parts[i]);
    log.writeStaged();
    expect(Math.max(...files.calls.map((c) => c.buffers))).toBeLessThanOrEqual(WRITEV_BUFFERS_MAX);
    expect(files.calls.reduce((sum, c) => sum + c.bytes, 0)).toBe(parts.reduce((sum, p) => sum + p.length, 0));
    expect(log.logEndOffset).toBe(n);
    expect(concat(readAll(log).map((b) => b.bytes))).toEqual(concat(parts));
  });

  test(`staged appends go out in syscalls of whole batches, at most ${WRITE_CHUNK_BYTES_MAX} bytes unless one batch is larger`, () => {
    const files = countingFiles();
    const log = open({ "segment.bytes": 64 << 20 }, { files });
    // 40 appends of ~1.8 KiB, one append of 6 batches of ~20 KiB (larger than a chunk: cut between batches),
    // one batch larger than a chunk (alone, whole).
    const small = Array.from({ length: 40 }, (_, i) => makeBatch({ count: 2, valueBytes: 900, tag: i }));
    const many = Array.from({ length: 6 }, (_, i) => makeBatch({ count: 2, valueBytes: 10_000, tag: 100 + i }));
    const huge = makeBatch({ count: 1, valueBytes: 3 * WRITE_CHUNK_BYTES_MAX, tag: 99 });
    const manyBlob = concat(many);
    const last = makeBatch({ count: 1, tag: 7 });
    for (const p of small) log.stage(p);
    log.stage(manyBlob);
    log.stage(huge);
    log.stage(last);
    log.writeStaged();
    const batchSizes = [...small, ...many, huge].map((b) => b.length);
    // Every syscall starts and ends on a batch boundary.
    const boundaries = new Set<number>([0]);
    let at = 0;
    for (const n of [...batchSizes, 0]) boundaries.add((at += n));
    let pos = 0;
    for (const c of files.calls) {
      expect(boundaries.has(pos)).toBe(true);
      pos += c.bytes;
      expect(boundaries.has(pos) || pos === log.sizeBytes).toBe(true);
      if (c.bytes > WRITE_CHUNK_BYTES_MAX) expect(c.bytes).toBe(huge.length);
    }
    expect(pos).toBe(log.sizeBytes);
    expect(files.calls.length).toBeLessThanOrEqual(6);
    expect(readAll(log).length).toBe(small.length + many.length + 2);
    expect(concat(readAll(log).map((b) => b.bytes))).toEqual(concat([...small, manyBlob, huge, last]));
  });

  test("flush writes what is staged and makes it durable", () => {
    const log = open();
    log.stage(makeBatch({ count: 3 }));
    expect(log.flush()).toBe(3);
    expect(log.durableOffset).toBe(3);
    expect(log.stagedByteCount).toBe(0);
  });

  test("a failed write of staged appends (EIO) takes the log offline; nothing staged counts as written", () => {
    let writes = 0;
    const files: FileOps = {
      ...realFileOps,
      pwritev: undefined,
      pwrite: (fd, buf, off, len, pos) => {
        if (++writes > 1) throw Object.assign(new Error("EIO: injected"), { code: "EIO" });
        return realFileOps.pwrite(fd, buf, off, len, pos);
      },
    };
    const log = open({}, { files });
    log.append(makeBatch({ count: 1, tag: 1 }));
    log.stage(makeBatch({ tag: 2, count: 5 }));
    log.stage(makeBatch({ tag: 3 }));
    expect(codeOf(() => log.writeStaged())).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(log.online).toBe(false);
    expect(log.logEndOffset).toBe(1);
    expect(log.stagedByteCount).toBe(0);
    // Offline: every later stage and write fails the same way, even with nothing staged.
    expect(codeOf(() => log.writeStaged())).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(codeOf(() => log.stage(makeBatch({ tag: 4 })))).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
  });
});

describe("segments", () => {
  test("roll at segment.bytes into 20-digit files with index files for the sealed ones", () => {
    const log = open({ "segment.bytes": 2048 });
    for (let i = 0; i < 60; i++) log.append(makeBatch({ count: 4, tag: i }));
    expect(log.segmentCount).toBeGreaterThan(3);
    const names = fs.readdirSync(dir).sort();
    expect(names).toContain("00000000000000000000.log");
    const logsOnDisk = names.filter((n) => n.endsWith(".log"));
    expect(logsOnDisk.length).toBe(log.segmentCount);
    for (const n of logsOnDisk) expect(n).toMatch(/^\d{20}\.log$/);
    // every sealed segment has its indexes; each segment stays within segment.bytes
    for (const n of logsOnDisk.slice(0, -1)) {
      expect(names).toContain(n.replace(".log", ".index"));
      expect(names).toContain(n.replace(".log", ".timeindex"));
      expect(fs.statSync(path.join(dir, n)).size).toBeLessThanOrEqual(2048);
    }
    // the second segment's name is its base offset
    const second = Number(logsOnDisk[1].slice(0, 20));
    expect(readAll(log).some((b) => b.baseOffset === second)).toBe(true);
    expect(readAll(log).length).toBe(60);
  });

  test("roll at segment.ms", () => {
    const log = open({ "segment.ms": 1000 });
    log.append(makeBatch({ tag: 1 }), 10_000);
    log.append(makeBatch({ tag: 2 }), 10_500);
    expect(log.segmentCount).toBe(1);
    log.append(makeBatch({ tag: 3 }), 11_000);
    expect(log.segmentCount).toBe(2);
    expect(log.durableOffset).toBe(6); // rolling synced the sealed segment
  });

  test("an append larger than segment.bytes still goes in (alone in a segment)", () => {
    const log = open({ "segment.bytes": 1024 });
    log.append(makeBatch({ count: 2 }));
    log.append(makeBatch({ count: 30, valueBytes: 60 }));
    expect(log.segmentCount).toBe(2);
    expect(readAll(log).length).toBe(2);
  });
});

describe("reads", () => {
  function filled(entries: Record<string, string | number> = {}) {
    const log = open({ "segment.bytes": 4096, "index.interval.bytes": 300, ...entries });
    const sizes: number[] = [];
    for (let i = 0; i < 80; i++) {
      const b = makeBatch({ count: 1 + (i % 4), valueBytes: 10 + ((i * 13) % 50), tag: i });
      sizes.push(b.length);
      log.append(b);
    }
    return log;
  }

  test("every offset reads from the batch that holds it", () => {
    const log = filled();
    const all = readAll(log);
    for (let offset = 0; offset < log.logEndOffset; offset++) {
      const got = splitBatches(log.read(offset, 1));
      expect(got.length).toBe(1); // at least one whole batch, even over maxBytes
      expect(got[0].baseOffset).toBeLessThanOrEqual(offset);
      expect(got[0].lastOffset).toBeGreaterThanOrEqual(offset);
      const expected = all.find((b) => b.baseOffset === got[0].baseOffset);
      expect(got[0].bytes).toEqual(expected?.bytes as Uint8Array);
    }
  });

  test("maxBytes bounds the read at a batch boundary; the high watermark excludes batches not wholly below it", () => {
    const log = filled();
    const all = readAll(log);
    const r = splitBatches(log.read(0, 700));
    const total = r.reduce((n, b) => n + b.bytes.length, 0);
    expect(total).toBeLessThanOrEqual(700);
    expect(total + all[r.length].bytes.length).toBeGreaterThan(700); // took as many as fit (same segment)
    const hw = all[5].baseOffset + 1; // inside batch 5
    const limited = splitBatches(log.read(0, 1 << 20, hw));
    expect(limited.map((b) => b.baseOffset)).toEqual(all.slice(0, 5).map((b) => b.baseOffset));
    expect(log.read(hw - 1, 1 << 20, hw).length).toBe(0);
    expect(log.read(all[5].baseOffset, 1 << 20, all[5].baseOffset).length).toBe(0);
  });

  test("out of range below the start and above the end; empty at the end", () => {
    const log = filled();
    expect(log.planRead(log.logEndOffset + 1, 100)).toEqual({ error: ErrorCode.OFFSET_OUT_OF_RANGE });
    expect(log.planRead(-1, 100)).toEqual({ error: ErrorCode.OFFSET_OUT_OF_RANGE });
    expect(codeOf(() => log.read(log.logEndOffset + 5, 100))).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    const plan = log.planRead(log.logEndOffset, 100) as ReadPlan;
    expect(plan.length).toBe(0);
  });

  test("readInto fills a view over shared memory at an offset, and planRead honours the durable high watermark", () => {
    const log = filled();
    log.flush();
    log.append(makeBatch({ tag: 999 }));
    const durable = log.durableOffset;
    expect(durable).toBeLessThan(log.logEndOffset);
    const plan = log.planRead(durable - 1, 1 << 20, durable) as ReadPlan;
    expect(plan.length).toBeGreaterThan(0);
    const shared = new Uint8Array(new SharedArrayBuffer(plan.length + 100));
    expect(log.readInto(plan, shared, 100)).toBe(plan.length);
    const got = splitBatches(shared.slice(100));
    expect(got[got.length - 1].lastOffset).toBe(durable - 1);
    expect(() => log.readInto(plan, shared, 101)).toThrow(RangeError);
  });

  test("a log of many segments finds offsets in each", () => {
    const log = open({ "segment.bytes": 1024, "index.interval.bytes": 0 });
    for (let i = 0; i < 200; i++) log.append(makeBatch({ count: 2, tag: i }));
    expect(log.segmentCount).toBeGreaterThan(20);
    for (let offset = 0; offset < 400; offset += 7) {
      const got = splitBatches(log.read(offset, 1))[0];
      expect(got.baseOffset).toBe(offset - (offset % 2));
    }
  });

  test("offsetForTimestamp gives the first record at or after T", () => {
    const log = open({ "segment.bytes": 2048 });
    // batches at t = 1000, 2000, ... each with records at t, t+1, t+2
    for (let i = 1; i <= 40; i++) log.append(makeBatch({ count: 3, timestamp: i * 1000, tag: i }));
    expect(log.offsetForTimestamp(0)).toBe(0);
    expect(log.offsetForTimestamp(1000)).toBe(0);
    expect(log.offsetForTimestamp(1001)).toBe(1);
    expect(log.offsetForTimestamp(1003)).toBe(3);
    expect(log.offsetForTimestamp(25_002)).toBe(24 * 3 + 2);
    expect(log.offsetForTimestamp(40_002)).toBe(119);
    expect(log.offsetForTimestamp(40_003)).toBe(-1);
  });

  test("recordAtTimestamp gives the found record's own timestamp too (what ListOffsets answers)", () => {
    const log = open({ "segment.bytes": 2048 });
    for (let i = 1; i <= 40; i++) log.append(makeBatch({ count: 3, timestamp: i * 1000, tag: i }));
    expect(log.recordAtTimestamp(0)).toEqual({ offset: 0, timestampMs: 1000 });
    expect(log.recordAtTimestamp(1001)).toEqual({ offset: 1, timestampMs: 1001 });
    expect(log.recordAtTimestamp(1003)).toEqual({ offset: 3, timestampMs: 2000 });
    expect(log.recordAtTimestamp(25_002)).toEqual({ offset: 74, timestampMs: 25_002 });
    expect(log.recordAtTimestamp(40_003)).toBe(null);
    // LogAppendTime: every record carries the time the batch was appended.
    const appendTime = PartitionLog.open({ dir: dir + "-lat", config: testConfig({ "message.timestamp.type": "LogAppendTime" }) });
    appendTime.append(makeBatch({ count: 3, timestamp: 5 }), 777_000);
    expect(appendTime.recordAtTimestamp(100)).toEqual({ offset: 0, timestampMs: 777_000 });
    appendTime.deleteFiles();
  });

  test("timestamps out of order: the first offset whose timestamp is ≥ T", () => {
    const log = open();
    const ts = [5000, 1000, 9000, 2000, 7000];
    for (const [i, t] of ts.entries()) log.append(makeBatch({ count: 1, timestamp: t, tag: i }));
    expect(log.offsetForTimestamp(6000)).toBe(2);
    expect(log.offsetForTimestamp(5000)).toBe(0);
    expect(log.offsetForTimestamp(8000)).toBe(2);
    expect(log.offsetForTimestamp(9001)).toBe(-1);
  });
});

describe("group commit", () => {
  test("durable offset moves only at flush; flushDue by bytes and by interval", () => {
    const log = open({ "flush.interval.ms": 5, "flush.bytes": 1000 });
    expect(log.flushDue(0)).toBe(false);
    expect(log.flushDeadlineMs()).toBeNull();
    log.append(makeBatch({ tag: 1 }), 100);
    expect(log.durableOffset).toBe(0);
    expect(log.flushDue(104)).toBe(false);
    expect(log.flushDeadlineMs()).toBe(105);
    expect(log.flushDue(105)).toBe(true);
    expect(log.flush()).toBe(3);
    expect(log.durableOffset).toBe(3);
    expect(log.flushDue(1000)).toBe(false);
    for (let i = 0; i < 10; i++) log.append(makeBatch({ tag: i, valueBytes: 50 }), 200);
    expect(log.flushDue(200)).toBe(true); // over flush.bytes without waiting
    log.flush();
    expect(log.durableOffset).toBe(log.logEndOffset);
  });

  test("flush.interval.ms = 0 flushes as soon as anything is unsynced", () => {
    const log = open({ "flush.interval.ms": 0 });
    log.append(makeBatch(), 50);
    expect(log.flushDue(50)).toBe(true);
  });

  test("one fdatasync per group", () => {
    const files = new FaultyFileOps(realFileOps);
    const log = open({}, { files });
    const before = files.fdatasyncCalls;
    for (let i = 0; i < 20; i++) log.append(makeBatch({ tag: i }));
    log.flush();
    log.flush(); // nothing new: no fdatasync
    expect(files.fdatasyncCalls - before).toBe(1);
  });

  test("a failed fdatasync takes the partition offline: no durable advance, no retry", () => {
    const files = new FaultyFileOps(realFileOps, { failFdatasyncAt: 2 });
    const log = open({}, { files });
    log.append(makeBatch({ tag: 1 }));
    log.flush();
    const durable = log.durableOffset;
    log.append(makeBatch({ tag: 2 }));
    expect(codeOf(() => log.flush())).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    const calls = files.fdatasyncCalls;
    expect(log.durableOffset).toBe(durable);
    expect(log.online).toBe(false);
    expect((log.offlineError as SluiceError).code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(((log.offlineError as SluiceError).cause as { code: string }).code).toBe("EIO");
    expect(codeOf(() => log.flush())).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(files.fdatasyncCalls).toBe(calls); // never retried
    expect(codeOf(() => log.append(makeBatch({ tag: 3 })))).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(log.planRead(0, 100)).toEqual({ error: ErrorCode.KAFKA_STORAGE_ERROR });
  });

  test("a full disk fails the append but keeps the partition online (disk_full.test.ts has the rest)", () => {
    const files = new FaultyFileOps(realFileOps, { writeBytesMax: 300 });
    const log = open({}, { files });
    log.append(makeBatch({ tag: 1 }));
    expect(codeOf(() => log.append(makeBatch({ tag: 2, count: 5 })))).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(log.online).toBe(true);
    expect(log.logEndOffset).toBe(3);
  });
});

describe("lifecycle", () => {
  test("close and reopen: same bytes, nothing to validate, offsets continue", () => {
    let log = open({ "segment.bytes": 2048 });
    for (let i = 0; i < 25; i++) log.append(makeBatch({ tag: i }));
    const before = readAll(log);
    log.close();
    log = open({ "segment.bytes": 2048 });
    expect(log.recovery.validatedBatches).toBe(0);
    expect(log.recovery.truncatedBytes).toBe(0);
    expect(log.recovery.rebuiltIndexes).toBe(0);
    expect(log.durableOffset).toBe(75);
    expect(readAll(log)).toEqual(before);
    expect(log.append(makeBatch()).baseOffset).toBe(75);
  });

  test("closed log refuses work; deleteFiles removes the directory", () => {
    const log = open();
    log.append(makeBatch());
    log.close();
    expect(codeOf(() => log.append(makeBatch()))).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    const again = open();
    again.deleteFiles();
    expect(fs.existsSync(dir)).toBe(false);
  });
});

describe("open", () => {
  test("an I/O failure while opening is KAFKA_STORAGE_ERROR with the cause", () => {
    const plain = open();
    plain.append(makeBatch());
    plain.close();
    // recovery ends with an fdatasync of the active segment: make it fail
    const files = new FaultyFileOps(realFileOps, { failFdatasyncAt: 1 });
    try {
      PartitionLog.open({ dir, config: testConfig(), files });
      throw new Error("expected the open to fail");
    } catch (e) {
      expect((e as SluiceError).code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
      expect(((e as SluiceError).cause as { code: string }).code).toBe("EIO");
    }
  });
});

describe("broken invariants", () => {
  test("an AssertionError under a write goes on up unchanged and leaves the log online; an I/O error takes it offline", () => {
    let thrown: Error | null = null;
    const files: FileOps = {
      ...realFileOps,
      pwritev: (fd, bufs, pos) => {
        if (thrown !== null) throw thrown;
        return (realFileOps.pwritev as NonNullable<FileOps["pwritev"]>)(fd, bufs, pos);
      },
      pwrite: (fd, buf, off, len, pos) => {
        if (thrown !== null) throw thrown;
        return realFileOps.pwrite(fd, buf, off, len, pos);
      },
    };
    const log = open({}, { files });
    log.append(makeBatch({ tag: 1 }));
    thrown = new AssertionError("file ops: a write past its buffer");
    expect(() => log.append(makeBatch({ tag: 2 }))).toThrow(AssertionError);
    expect(log.online).toBe(true);
    thrown = Object.assign(new Error("EIO: i/o error, write"), { code: "EIO" });
    expect(codeOf(() => log.append(makeBatch({ tag: 3 })))).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(log.online).toBe(false);
  });
});
