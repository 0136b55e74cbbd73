import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import { OFFSET_COMMITS_PENDING_MAX } from "../../protocol/limits.ts";
import type { OffsetEntry } from "./offset_store.ts";
import { type OffsetsLogFile, OffsetsLog, type OpenOffsetsLogFile } from "./offsets_log.ts";
import { openOffsetsLogFile } from "./offsets_log_file.ts";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-offsets-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Counts appends and flushes; can make the next flush fail. */
function counting() {
  const stats = { appends: 0, flushes: 0, failNextFlush: false };
  const open: OpenOffsetsLogFile = (d) => {
    const f = openOffsetsLogFile(d);
    const wrapped: OffsetsLogFile = {
      get logStartOffset() {
        return f.logStartOffset;
      },
      get logEndOffset() {
        return f.logEndOffset;
      },
      get sizeBytes() {
        return f.sizeBytes;
      },
      append(records, nowMs) {
        stats.appends++;
        return f.append(records, nowMs);
      },
      flush() {
        stats.flushes++;
        if (stats.failNextFlush) throw new SluiceError(ErrorCode.KAFKA_STORAGE_ERROR, "fdatasync failed: EIO (injected)");
        return f.flush();
      },
      planRead: (o, m, l) => f.planRead(o, m, l),
      readInto: (p, t, o) => f.readInto(p, t, o),
      close: () => f.close(),
    };
    return wrapped;
  };
  return { stats, open };
}

const entry = (topic: string, partition: number, offset: number, metadata = ""): OffsetEntry => ({ topic, partition, offset, metadata, timestampMs: 1_700_000_000_000 });
const flushTurn = () => new Promise((r) => setImmediate(r));

describe("offsets log", () => {
  test("committed offsets survive close and reopen; the last commit of a key wins", async () => {
    const log = OffsetsLog.open({ dir, openFile: openOffsetsLogFile });
    await log.commit("g1", [entry("t", 0, 5, "meta"), entry("t", 1, 7)]);
    await log.commit("g1", [entry("t", 0, 9)]);
    await log.commit("g2", [entry("t", 0, 1)]);
    log.close();
    const again = OffsetsLog.open({ dir, openFile: openOffsetsLogFile });
    expect(again.get("g1", "t", 0)).toEqual({ topic: "t", partition: 0, offset: 9, metadata: "", timestampMs: 1_700_000_000_000 } as never);
    expect(again.get("g1", "t", 1)?.offset).toBe(7);
    expect(again.get("g2", "t", 0)?.offset).toBe(1);
    expect([...again.groups()].sort()).toEqual(["g1", "g2"]);
    expect(again.loadReport.records).toBe(4);
    again.close();
    expect(fs.existsSync(path.join(dir, "0"))).toBe(true);
  });

  test("commits of one event-loop turn share one append and one fdatasync, and are invisible until it returned", async () => {
    const { stats, open } = counting();
    const log = OffsetsLog.open({ dir, openFile: open });
    const acked: number[] = [];
    const all = [];
    for (let i = 0; i < 50; i++) all.push(log.commit(`g${i % 5}`, [entry("t", i, i + 1)]).then(() => acked.push(i)));
    expect(log.get("g0", "t", 0)).toBeUndefined();
    expect(stats.flushes).toBe(0);
    await Promise.all(all);
    expect(acked.length).toBe(50);
    expect(stats.appends).toBe(1);
    expect(stats.flushes).toBe(1);
    expect(log.get("g0", "t", 0)?.offset).toBe(1);
    await log.commit("g0", [entry("t", 0, 2)]);
    expect(stats.flushes).toBe(2);
    log.close();
  });

  test("after a crash (never closed), damage in an acked commit is reported at open, never cut as a torn tail", async () => {
    const log = OffsetsLog.open({ dir, openFile: openOffsetsLogFile });
    for (let i = 1; i <= 3; i++) await log.commit("g", [entry("t", 0, i, `m${i}`)]);
    // No close: what a kill -9 leaves (the page cache keeps every write; no checkpoint ran).
    const file = path.join(dir, "0", fs.readdirSync(path.join(dir, "0")).find((n) => n.endsWith(".log"))!);
    const bytes = fs.readFileSync(file);
    const at = bytes.lastIndexOf(Buffer.from("m3"));
    expect(at).toBeGreaterThan(0);
    bytes[at] ^= 0x01; // inside the last acked commit
    fs.writeFileSync(file, bytes);
    let opened: OffsetsLog | undefined;
    const e = await Promise.resolve()
      .then(() => (opened = OffsetsLog.open({ dir, openFile: openOffsetsLogFile })))
      .catch((x) => x);
    opened?.close();
    // Had the recovery point stayed behind the last commits, recovery would cut the damaged batch
    // as a torn tail and the group would silently read offset 2 again.
    expect(opened).toBeUndefined();
    expect((e as SluiceError).code).toBe(ErrorCode.CORRUPT_MESSAGE);
  });

  test("a failed fdatasync rejects every commit of its group with KAFKA_STORAGE_ERROR, shows none of them, and refuses later commits", async () => {
    const { stats, open } = counting();
    const log = OffsetsLog.open({ dir, openFile: open, log: () => {} });
    await log.commit("g", [entry("t", 0, 1)]);
    stats.failNextFlush = true;
    const results = await Promise.allSettled([log.commit("g", [entry("t", 0, 2)]), log.commit("h", [entry("t", 0, 3)])]);
    expect(results.map((r) => (r.status === "rejected" ? (r.reason as SluiceError).code : 0))).toEqual([
      ErrorCode.KAFKA_STORAGE_ERROR,
      ErrorCode.KAFKA_STORAGE_ERROR,
    ]);
    expect(log.get("g", "t", 0)?.offset).toBe(1);
    expect(log.get("h", "t", 0)).toBeUndefined();
    const later = await log.commit("g", [entry("t", 0, 4)]).catch((e) => e);
    expect((later as SluiceError).code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
  });

  test("pending offsets are bounded: past OFFSET_COMMITS_PENDING_MAX a commit is refused at once (retriable)", async () => {
    const log = OffsetsLog.open({ dir, openFile: openOffsetsLogFile });
    const many = Array.from({ length: OFFSET_COMMITS_PENDING_MAX }, (_, i) => entry("t", i % 10_000, Math.floor(i / 10_000)));
    const first = log.commit("g", many);
    const refused = await log.commit("g", [entry("t", 0, 1)]).catch((e) => e);
    expect((refused as SluiceError).code).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect((refused as SluiceError).retriable).toBe(true);
    await first;
    expect(log.get("g", "t", 9_999)?.offset).toBe(9);
    log.close();
  });

  test("compaction rewrites the log with one record per live key; values are unchanged after reopening", async () => {
    const lines: string[] = [];
    const log = OffsetsLog.open({ dir, openFile: openOffsetsLogFile, compactRecordsMin: 100, log: (l) => lines.push(l) });
    for (let round = 1; round <= 60; round++) {
      await log.commit("g", [entry("t", 0, round), entry("t", 1, round * 2)]);
    }
    expect(lines.some((l) => l.includes("compacted"))).toBe(true);
    expect(log.records).toBeLessThan(100);
    expect(log.get("g", "t", 1)?.offset).toBe(120);
    log.close();
    const again = OffsetsLog.open({ dir, openFile: openOffsetsLogFile });
    expect(again.get("g", "t", 0)?.offset).toBe(60);
    expect(again.get("g", "t", 1)?.offset).toBe(120);
    expect(again.loadReport.records).toBeLessThan(100);
    expect(fs.readdirSync(dir).sort()).toEqual(["0"]);
    again.close();
  });

  test("a swap interrupted by a crash is finished (new log complete) or discarded (new log unfinished)", async () => {
    const log = OffsetsLog.open({ dir, openFile: openOffsetsLogFile });
    await log.commit("g", [entry("t", 0, 3)]);
    log.close();
    // Crash between the two renames: only the complete compacted log is there under its temporary name.
    fs.renameSync(path.join(dir, "0"), path.join(dir, "0.compacting"));
    fs.mkdirSync(path.join(dir, "0.old"));
    const finished = OffsetsLog.open({ dir, openFile: openOffsetsLogFile });
    expect(finished.get("g", "t", 0)?.offset).toBe(3);
    finished.close();
    expect(fs.readdirSync(dir).sort()).toEqual(["0"]);
    // Crash while writing the compacted log: the old log is still in place and wins.
    fs.mkdirSync(path.join(dir, "0.compacting"));
    fs.writeFileSync(path.join(dir, "0.compacting", "00000000000000000000.log"), new Uint8Array(10));
    const discarded = OffsetsLog.open({ dir, openFile: openOffsetsLogFile });
    expect(discarded.get("g", "t", 0)?.offset).toBe(3);
    expect(fs.readdirSync(dir).sort()).toEqual(["0"]);
    discarded.close();
  });

  test("commits after close are refused", async () => {
    const log = OffsetsLog.open({ dir, openFile: openOffsetsLogFile });
    log.close();
    const e = await log.commit("g", [entry("t", 0, 1)]).catch((x) => x);
    expect((e as SluiceError).code).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    await flushTurn();
  });
});
