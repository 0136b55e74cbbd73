// flushAsync(): the fdatasync runs off the thread while the owner writes more;
// its completion makes durable exactly the log end as of its start.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { ErrorCode, type SluiceError } from "../../protocol/errors.ts";
import { makeBatch, makeTempDir, removeDir, testConfig } from "../../test/log/helpers.ts";
import { FaultyFileOps, realFileOps } from "./file_ops.ts";
import { PartitionLog } from "./partition_log.ts";

let dir: string;
beforeEach(() => {
  dir = makeTempDir();
});
afterEach(() => removeDir(dir));

function flushed(log: PartitionLog): { done: Promise<{ durable: number; error: SluiceError | null }>; started: boolean } {
  let resolve!: (v: { durable: number; error: SluiceError | null }) => void;
  const done = new Promise<{ durable: number; error: SluiceError | null }>((r) => (resolve = r));
  const started = log.flushAsync((durable, error) => resolve({ durable, error }));
  return { done, started };
}

describe("flushAsync", () => {
  test("covers what was written before it started, not what was written while it ran; a power loss keeps exactly that", async () => {
    const files = new FaultyFileOps(realFileOps, { powerLoss: true, fdatasyncDelayMs: 20 });
    const log = PartitionLog.open({ dir, config: testConfig(), files });
    log.append(makeBatch({ count: 3 }));
    const first = flushed(log);
    expect(first.started).toBe(true);
    // One in flight at most: no second start, and the policy does not call one due.
    expect(log.flushInFlight).toBe(true);
    expect(flushed(log).started).toBe(false);
    expect(log.flushDue(Date.now() + 60_000)).toBe(false);
    // Written while it runs: not covered.
    log.append(makeBatch({ count: 2 }));
    expect(log.logEndOffset).toBe(5);
    expect(log.durableOffset).toBe(0);
    const r = await first.done;
    expect(r.error).toBeNull();
    expect(r.durable).toBe(3);
    expect(log.durableOffset).toBe(3);
    expect(log.flushInFlight).toBe(false);
    // The second append is owed to the next flush.
    expect(log.flushDue(Date.now() + 60_000)).toBe(true);
    // Power loss now: the first three records survive, the two written during the fdatasync do not.
    files.crash("drop-unsynced");
    const reopened = PartitionLog.open({ dir, config: testConfig() });
    try {
      expect(reopened.logEndOffset).toBe(3);
    } finally {
      reopened.close();
    }
  });

  test("a failed fdatasync in flight takes the log offline, reports nothing durable, and is not retried", async () => {
    const files = new FaultyFileOps(realFileOps, { failFdatasyncAt: 1 });
    const log = PartitionLog.open({ dir, config: testConfig(), files });
    try {
      log.append(makeBatch({ count: 2 }));
      const r = await flushed(log).done;
      expect(r.error?.code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
      expect(r.durable).toBe(0);
      expect(log.durableOffset).toBe(0);
      expect(log.online).toBe(false);
      expect(() => log.append(makeBatch({ count: 1 }))).toThrow(expect.objectContaining({ code: ErrorCode.KAFKA_STORAGE_ERROR }));
      expect(() => log.flushAsync(() => {})).toThrow(expect.objectContaining({ code: ErrorCode.KAFKA_STORAGE_ERROR }));
      expect(files.fdatasyncCalls).toBe(1);
    } finally {
      log.close();
    }
  });

  test("a truncation while one is in flight makes it stale: its completion publishes nothing past the cut", async () => {
    const files = new FaultyFileOps(realFileOps, { fdatasyncDelayMs: 20 });
    const log = PartitionLog.open({ dir, config: testConfig(), files });
    try {
      log.append(makeBatch({ count: 2 }));
      log.flush();
      log.append(makeBatch({ count: 4 }));
      const f = flushed(log);
      // Back to the end of the first batch (offsets 0-1): the in-flight flush noted 6.
      log.truncateTo(2);
      const r = await f.done;
      expect(r.error).toBeNull();
      expect(r.durable).toBe(2);
      expect(log.durableOffset).toBe(2);
      expect(log.logEndOffset).toBe(2);
    } finally {
      log.close();
    }
  });

  test("a synchronous flush while one is in flight syncs again instead of trusting it", async () => {
    const files = new FaultyFileOps(realFileOps, { fdatasyncDelayMs: 20 });
    const log = PartitionLog.open({ dir, config: testConfig(), files });
    try {
      log.append(makeBatch({ count: 2 }));
      const f = flushed(log);
      const calls = files.fdatasyncCalls;
      expect(log.flush()).toBe(2);
      expect(files.fdatasyncCalls).toBe(calls + 1);
      expect((await f.done).durable).toBe(2);
    } finally {
      log.close();
    }
  });
});
