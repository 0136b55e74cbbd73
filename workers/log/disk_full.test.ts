// A full disk (ENOSPC, EDQUOT) under the partition log: the refused write is
// undone (no partial batch in the file, the log end unchanged), its appends get
// a disk-full error, the log stays online, and appends succeed again once space
// is freed, without reopening. EIO stays fatal.

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import { sluiceError as errorOf } from "../../protocol/testing/sluice_error.ts";
import { closeQuietly, makeBatch, makeTempDir, readAll, removeDir, splitBatches, testConfig } from "../../test/log/helpers.ts";
import { FaultyFileOps, type FileOps, fsError, realFileOps } from "./file_ops.ts";
import { DISK_FULL_RETRY_AFTER_MS, WRITEV_BUFFERS_MAX } from "./log_limits.ts";
import { PartitionLog } from "./partition_log.ts";

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

function open(files: FileOps, entries: Record<string, string | number> = {}): PartitionLog {
  const log = PartitionLog.open({ dir, config: testConfig(entries), files });
  logs.push(log);
  return log;
}

const T0 = 1_700_000_000_000;
const activeSize = (): number => {
  const names = fs.readdirSync(dir).filter((n) => n.endsWith(".log")).sort();
  return fs.statSync(path.join(dir, names[names.length - 1])).size;
};
/** The active segment's bytes are whole batches only (no partial batch at its end). */
const wholeBatchesOnly = (): boolean => {
  const names = fs.readdirSync(dir).filter((n) => n.endsWith(".log")).sort();
  const bytes = fs.readFileSync(path.join(dir, names[names.length - 1]));
  try {
    const batches = splitBatches(new Uint8Array(bytes));
    return batches.reduce((n, b) => n + b.bytes.length, 0) === bytes.length;
  } catch {
    return false;
  }
};

describe("a write refused for space", () => {
  test("fails with a disk-full error, leaves nothing partial, keeps the log online; writing resumes once space is freed; a restart recovers cleanly", () => {
    const files = new FaultyFileOps(realFileOps, { writeBytesMax: 1000 });
    let log = open(files);
    let tag = 0;
    let refused: SluiceError | null = null;
    while (refused === null) {
      try {
        log.append(makeBatch({ tag: tag++, count: 3 }), T0);
      } catch (e) {
        refused = e as SluiceError;
      }
    }
    expect(refused.code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(refused.message).toMatch(/^no space left on device \(ENOSPC\) writing 00000000000000000000\.log; nothing of this request was stored$/);
    expect(log.online).toBe(true);
    expect(log.outOfSpaceFailures).toBe(1);
    const end = log.logEndOffset;
    const before = readAll(log);
    expect(end).toBe((tag - 1) * 3);
    // The short write was cut off again: the file ends at the last whole batch.
    expect(activeSize()).toBe(before.reduce((n, b) => n + b.bytes.length, 0));
    expect(wholeBatchesOnly()).toBe(true);
    expect(activeSize()).toBeLessThan(1000);

    // Still full: refused again after the cool-down, still nothing partial, the log end still the same.
    expect(errorOf(() => log.append(makeBatch({ tag: 99 }), T0 + DISK_FULL_RETRY_AFTER_MS)).message).toContain("no space left on device");
    expect(log.outOfSpaceFailures).toBe(2);
    expect(wholeBatchesOnly()).toBe(true);
    // Space freed: within the cool-down the append is still refused without a write ...
    files.setWriteBytesMax(undefined);
    const writtenBefore = files.bytesWritten;
    const early = errorOf(() => log.append(makeBatch({ tag: 98 }), T0 + DISK_FULL_RETRY_AFTER_MS + 1));
    expect(early.code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(early.message).toContain("no space left on device (ENOSPC)");
    expect(files.bytesWritten).toBe(writtenBefore);
    expect(log.outOfSpaceFailures).toBe(2);
    // ... and after it, it is written with the next offsets: none was used up by the refused writes.
    const r = log.append(makeBatch({ tag: 100, count: 2 }), T0 + 2 * DISK_FULL_RETRY_AFTER_MS);
    expect(r.baseOffset).toBe(end);
    expect(r.lastOffset).toBe(end + 1);
    expect(log.append(makeBatch({ tag: 101 }), T0 + 2 * DISK_FULL_RETRY_AFTER_MS).baseOffset).toBe(end + 2);
    expect(log.flush()).toBe(end + 5);
    const all = readAll(log);
    expect(all.map((b) => b.baseOffset)).toEqual([...before.map((b) => b.baseOffset), end, end + 2]);

    // A clean restart: nothing to cut, the same batches.
    log.close();
    log = open(realFileOps);
    expect(log.recovery.truncatedBytes).toBe(0);
    expect(log.logEndOffset).toBe(end + 5);
    expect(readAll(log)).toEqual(all);
  });

  test("a kill -9 right after a refused write recovers the whole batches before it, nothing partial", () => {
    const files = new FaultyFileOps(realFileOps, { writeBytesMax: 700 });
    const log = open(files);
    const a = log.append(makeBatch({ tag: 1 }), T0);
    log.flush();
    log.append(makeBatch({ tag: 2 }), T0);
    expect(errorOf(() => log.append(makeBatch({ tag: 3, count: 20 }), T0)).message).toContain("ENOSPC");
    const end = log.logEndOffset;
    // Not closed (no checkpoint, no flush of the tail): reopen from what is on disk.
    logs = [];
    const again = open(realFileOps);
    expect(again.logEndOffset).toBe(end);
    expect(again.recovery.truncatedBytes).toBe(0);
    expect(readAll(again).map((b) => b.baseOffset)).toEqual([a.baseOffset, 3]);
  });

  test("staged appends: the whole write is undone, every one of them fails, their offsets are given again", () => {
    const files = new FaultyFileOps(realFileOps, { writeBytesMax: 400 });
    const log = open(files);
    log.append(makeBatch({ tag: 1, count: 1 }), T0);
    const sizeBefore = activeSize();
    // The first staged batch fits, the second does not: the first is cut off again too.
    log.stage(makeBatch({ tag: 2, count: 2 }), T0);
    log.stage(makeBatch({ tag: 3, count: 8 }), T0);
    const e = errorOf(() => log.writeStaged());
    expect(e.message).toContain("no space left on device (ENOSPC)");
    expect(log.online).toBe(true);
    expect(log.logEndOffset).toBe(1);
    expect(log.stagedByteCount).toBe(0);
    expect(activeSize()).toBe(sizeBefore);
    files.setWriteBytesMax(undefined);
    expect(log.stage(makeBatch({ tag: 4, count: 2 }), T0 + DISK_FULL_RETRY_AFTER_MS).baseOffset).toBe(1);
    log.writeStaged();
    expect(log.logEndOffset).toBe(3);
  });

  test("a write stage() does first (WRITEV_BUFFERS_MAX staged) that is refused fails those appends at the next writeStaged()", () => {
    const files = new FaultyFileOps(realFileOps, { writeBytesMax: 0 });
    const log = open(files, { "segment.bytes": 1 << 20 });
    for (let i = 0; i < WRITEV_BUFFERS_MAX; i++) log.stage(makeBatch({ tag: i, count: 1 }), T0);
    // Staging one more writes the staged ones first; refused, so this append fails ...
    expect(errorOf(() => log.stage(makeBatch({ tag: 999, count: 1 }), T0)).message).toContain("ENOSPC");
    // ... and the ones staged before it were not written: the next writeStaged() says so (once).
    expect(errorOf(() => log.writeStaged()).message).toContain("no space left on device");
    expect(log.logEndOffset).toBe(0);
    expect(log.online).toBe(true);
    log.writeStaged();
    files.setWriteBytesMax(undefined);
    expect(log.append(makeBatch({ tag: 1000 }), T0 + DISK_FULL_RETRY_AFTER_MS).baseOffset).toBe(0);
  });

  test("EDQUOT (a quota) is handled like ENOSPC", () => {
    let refuse = true;
    const files: FileOps = {
      ...realFileOps,
      pwritev: undefined,
      pwrite: (fd, buf, off, len, pos) => {
        if (refuse) throw fsError("EDQUOT", "write");
        return realFileOps.pwrite(fd, buf, off, len, pos);
      },
    };
    const log = open(files);
    const e = errorOf(() => log.append(makeBatch(), T0));
    expect(e.message).toContain("no space left on device (EDQUOT)");
    expect(log.online).toBe(true);
    refuse = false;
    expect(log.append(makeBatch(), T0 + DISK_FULL_RETRY_AFTER_MS).baseOffset).toBe(0);
  });

  test("if the truncation after it fails too, the log goes offline", () => {
    const inner = new FaultyFileOps(realFileOps, { writeBytesMax: 300 });
    const files: FileOps = {
      ...realFileOps,
      pwrite: (fd, buf, off, len, pos) => inner.pwrite(fd, buf, off, len, pos),
      pwritev: (fd, bufs, pos) => inner.pwritev(fd, bufs, pos),
      ftruncate: () => {
        throw fsError("EIO", "ftruncate");
      },
    };
    const log = open(files);
    log.append(makeBatch({ tag: 1 }), T0);
    const e = errorOf(() => log.append(makeBatch({ tag: 2, count: 5 }), T0));
    expect(e.code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(log.online).toBe(false);
    expect(e.message).toContain("truncating");
    expect(log.logEndOffset).toBe(3);
  });
});

describe("EIO stays fatal", () => {
  test("a write failing with EIO takes the log offline; it is never retried", () => {
    let writes = 0;
    const files: FileOps = {
      ...realFileOps,
      pwritev: undefined,
      pwrite: (fd, buf, off, len, pos) => {
        writes++;
        if (writes > 1) throw fsError("EIO", "write");
        return realFileOps.pwrite(fd, buf, off, len, pos);
      },
    };
    const log = open(files);
    log.append(makeBatch({ tag: 1 }), T0);
    expect(errorOf(() => log.append(makeBatch({ tag: 2 }), T0)).code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(log.online).toBe(false);
    expect(((log.offlineError as SluiceError).cause as { code: string }).code).toBe("EIO");
    const tried = writes;
    expect(errorOf(() => log.append(makeBatch({ tag: 3 }), T0 + 10 * DISK_FULL_RETRY_AFTER_MS)).code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(writes).toBe(tried);
    expect(log.outOfSpaceFailures).toBe(0);
  });
});

describe("a roll refused for space", () => {
  test("index files of the sealed segment: the old segment stays active, the next append rolls", () => {
    const files = new FaultyFileOps(realFileOps, {});
    const log = open(files, { "segment.bytes": 2048 });
    let tag = 0;
    while (activeSize() + 200 <= 2048) log.append(makeBatch({ tag: tag++, count: 2 }), T0);
    const end = log.logEndOffset;
    const before = readAll(log);
    // No room beyond what is written: the roll's index files cannot be written.
    files.setWriteBytesMax(files.bytesGrown);
    const e = errorOf(() => log.append(makeBatch({ tag: tag++, count: 2, valueBytes: 100 }), T0));
    expect(e.message).toMatch(/^no space left on device \(ENOSPC\) rolling 00000000000000000000\.log into a new segment; nothing of this request was stored$/);
    expect(log.online).toBe(true);
    expect(log.segmentCount).toBe(1);
    expect(log.logEndOffset).toBe(end);
    files.setWriteBytesMax(undefined);
    const r = log.append(makeBatch({ tag: tag++, count: 2, valueBytes: 100 }), T0 + DISK_FULL_RETRY_AFTER_MS);
    expect(r.baseOffset).toBe(end);
    expect(log.segmentCount).toBe(2);
    expect(fs.existsSync(path.join(dir, "00000000000000000000.index"))).toBe(true);
    log.flush();
    const all = readAll(log);
    expect(all.slice(0, before.length)).toEqual(before);
    log.close();
    const again = open(realFileOps, { "segment.bytes": 2048 });
    expect(again.recovery.truncatedBytes).toBe(0);
    expect(readAll(again)).toEqual(all);
  });

  test("creating the new segment file: the old segment stays active, the next append rolls", () => {
    let refuse = false;
    const files: FileOps = {
      ...realFileOps,
      open: (p, flags) => {
        if (refuse && p.endsWith(".log")) throw fsError("ENOSPC", "open");
        return realFileOps.open(p, flags);
      },
    };
    const log = open(files, { "segment.bytes": 2048 });
    let tag = 0;
    while (activeSize() + 200 <= 2048) log.append(makeBatch({ tag: tag++, count: 2 }), T0);
    const end = log.logEndOffset;
    refuse = true;
    expect(errorOf(() => log.append(makeBatch({ tag: tag++, count: 2, valueBytes: 100 }), T0)).message).toContain("no space left on device");
    expect(log.online).toBe(true);
    expect(log.segmentCount).toBe(1);
    expect(log.logEndOffset).toBe(end);
    // Still refused within the cool-down, even with room again; tried again after it.
    refuse = false;
    expect(errorOf(() => log.append(makeBatch({ tag: tag }), T0 + 1)).code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(log.segmentCount).toBe(1);
    expect(log.append(makeBatch({ tag: tag++, count: 2, valueBytes: 100 }), T0 + DISK_FULL_RETRY_AFTER_MS).baseOffset).toBe(end);
    expect(log.segmentCount).toBe(2);
    expect(log.logEndOffset).toBe(end + 2);
  });
});
