import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { encodeBatch, patchBaseOffset } from "../../../protocol/record_batch.ts";
import { FaultyFileOps, realFileOps, writeFully } from "../../../workers/log/file_ops.ts";
import { checkDurabilityTrace } from "../../checker/durability_trace.ts";
import { Rng } from "./rng.ts";
import { PAGE_BYTES, TracedFileOps } from "./traced_file_ops.ts";

let dir = "";
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function batch(baseOffset: number, values: string[]): Uint8Array {
  const b = encodeBatch(values.map((value) => ({ value })));
  patchBaseOffset(b, 0, baseOffset);
  return b;
}

describe("TracedFileOps", () => {
  test("maps offsets to the batch bytes written, and traces syncs for the durability checker", () => {
    const faulty = new FaultyFileOps(realFileOps, { powerLoss: true });
    const files = new TracedFileOps(faulty);
    const p = path.join(dir, "0.log");
    const fd = files.open(p, "w+");
    const a = batch(0, ["a0", "a1", "a2"]);
    const b = batch(3, ["b3"]);
    const both = new Uint8Array(a.length + b.length);
    both.set(a, 0);
    both.set(b, a.length);
    writeFully(files, fd, both, 0, both.length, 0);
    expect(files.batchOf(1)).toEqual({ file: p, start: 0, end: a.length, baseOffset: 0, lastOffset: 2 });
    expect(files.batchOf(3)?.start).toBe(a.length);
    expect(files.batchOf(4)).toBeUndefined();

    expect(files.recordAck(0, 3, "early")).toBe(0); // acked before any fdatasync: the checker must object
    files.fdatasync(fd);
    expect(files.recordAck(0, 4, "ok")).toBe(0);
    const r = checkDurabilityTrace(files.trace);
    expect(r.early.map((e) => e.label)).toEqual(["early@0"]);
    expect(r.acks).toBe(3);
    files.close(fd);
  });

  test("a failed fdatasync leaves its bytes pending and not durable", () => {
    const files = new TracedFileOps(new FaultyFileOps(realFileOps, { powerLoss: true, failFdatasyncAt: 1 }));
    const fd = files.open(path.join(dir, "x"), "w+");
    writeFully(files, fd, new Uint8Array(10), 0, 10, 0);
    expect(() => files.fdatasync(fd)).toThrow();
    expect(files.pendingBytes).toBe(10);
    files.trace.push({ kind: "ack", file: path.join(dir, "x"), start: 0, end: 10, label: "x" });
    expect(checkDurabilityTrace(files.trace).valid).toBe(false);
    files.close(fd);
  });

  test("a reordered crash keeps synced bytes and lands only a subset of unsynced pages, some torn", () => {
    const outcomes = new Set<string>();
    for (let seed = 1; seed <= 12; seed++) {
      const faulty = new FaultyFileOps(realFileOps, { powerLoss: true, seed });
      const files = new TracedFileOps(faulty);
      const p = path.join(dir, `s${seed}.log`);
      const fd = files.open(p, "w+");
      const synced = new Uint8Array(1000).fill(1);
      writeFully(files, fd, synced, 0, synced.length, 0);
      files.fdatasync(fd);
      const unsynced = new Uint8Array(4 * PAGE_BYTES).fill(2);
      writeFully(files, fd, unsynced, 0, unsynced.length, synced.length);
      faulty.crash("drop-unsynced");
      expect(fs.statSync(p).size).toBe(1000);
      const r = files.crashReordered(new Rng(seed), realFileOps);
      expect(r.pages).toBe(5); // 1000 + 16384 bytes span pages 0..4
      const after = new Uint8Array(fs.readFileSync(p));
      expect(after.subarray(0, 1000)).toEqual(synced);
      for (let i = 1000; i < after.length; i++) expect(after[i] === 0 || after[i] === 2).toBe(true);
      outcomes.add(`${r.landed}/${r.torn}/${after.length}`);
    }
    expect(outcomes.size).toBeGreaterThan(4);
  });
});
