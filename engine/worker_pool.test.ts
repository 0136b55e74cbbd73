import { afterAll, afterEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { decodeBatches, encodeBatch, patchBaseOffset } from "../protocol/record_batch.ts";
import { waitFor } from "../test/support/wait_for.ts";
import { type LogConfig, parseTopicConfig } from "../workers/mod.ts";
import type { PartitionPool, ProduceResult } from "./partition_pool.ts";
import { WorkerPool } from "./worker_pool.ts";

const roots: string[] = [];
const pools: WorkerPool[] = [];

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-pool-"));
  roots.push(d);
  return d;
}

async function startPool(opts: Parameters<typeof WorkerPool.start>[0]): Promise<WorkerPool> {
  const pool = await WorkerPool.start({ partitionsMax: 64, requestRingBytes: 1 << 20, completionRingBytes: 1 << 20, ...opts });
  pools.push(pool);
  return pool;
}

afterEach(async () => {
  for (const p of pools.splice(0)) await p.shutdown().catch(() => {});
});
afterAll(() => {
  for (const d of roots) fs.rmSync(d, { recursive: true, force: true });
});

function config(entries: Record<string, string | number> = {}): LogConfig {
  return parseTopicConfig({ "segment.bytes": 1 << 20, ...entries });
}

interface Produced {
  err: number;
  res: ProduceResult | null;
  message?: string;
  atMs: number;
}

function produce(pool: WorkerPool, slot: number, records: Uint8Array, acks: 0 | 1 | -1): Promise<Produced> {
  return new Promise((resolve, reject) => {
    const ok = pool.produce(slot, records, acks, (err, res, message) => resolve({ err, res, message, atMs: performance.now() }));
    if (!ok) reject(new Error("ring full"));
  });
}

function fetch(pool: WorkerPool, slot: number, offset: number, maxBytes = 1 << 20) {
  return new Promise<{ err: number; bytes: Uint8Array; highWatermark: number; logStartOffset: number }>((resolve, reject) => {
    const ok = pool.fetch(slot, offset, maxBytes, (err, bytes, highWatermark, logStartOffset) =>
      // The view is valid only during the callback: keep a copy.
      resolve({ err, bytes: bytes.slice(), highWatermark, logStartOffset }),
    );
    if (!ok) reject(new Error("ring full"));
  });
}

function batch(values: string[], timestamp = 1_700_000_000_000): Uint8Array {
  return encodeBatch(values.map((v) => ({ value: v, timestamp })));
}

function values(bytes: Uint8Array): string[] {
  return decodeBatches(bytes).flatMap((b) => b.records.map((r) => new TextDecoder().decode(r.value!)));
}

describe("worker pool (real threads, real files)", () => {
  test("acks=1 answers at write time; acks=all only after the durable offset covers the batch", async () => {
    const pool = await startPool({ workers: 2 });
    // The engine codes against PartitionPool: the real pool must satisfy it.
    const asEngineSees: PartitionPool<LogConfig> = pool;
    expect(asEngineSees.workerCount).toBe(2);
    const dir = tempDir();
    // A long flush interval separates "written" from "durable" in time.
    await pool.openPartition(0, 1, dir, config({ "flush.interval.ms": 300 }));
    expect(pool.workerOf(0)).toBe(1);
    const advanced: number[] = [];
    pool.onAdvance((slot) => advanced.push(slot));

    const started = performance.now();
    const all = produce(pool, 0, batch(["a", "b"]), -1);
    const one = await produce(pool, 0, batch(["c"]), 1);
    expect(one.err).toBe(0);
    expect(one.res).toMatchObject({ baseOffset: 2, lastOffset: 2 });
    // The acks=1 ack came before the flush: nothing is durable yet.
    expect(pool.state(0).durableOffset).toBe(0);
    expect(pool.state(0).logEndOffset).toBe(3);
    const durable = await all;
    expect(durable.err).toBe(0);
    expect(durable.res).toMatchObject({ baseOffset: 0, lastOffset: 1 });
    expect(durable.atMs - started).toBeGreaterThanOrEqual(250);
    expect(durable.atMs).toBeGreaterThan(one.atMs);
    const row = pool.state(0);
    expect(row.durableOffset).toBeGreaterThan(1);
    expect(row.highWatermark).toBe(row.durableOffset);
    expect(row.online).toBe(true);
    expect(row.messagesIn).toBe(3);
    expect(advanced).toContain(0);
  }, 30_000);

  test("flush.interval.ms=0: acks=all resolves right after the group's fdatasync", async () => {
    const pool = await startPool({ workers: 1 });
    await pool.openPartition(3, 0, tempDir(), config({ "flush.interval.ms": 0 }));
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => produce(pool, 3, batch([`m${i}`]), -1)));
    expect(results.map((r) => r.err)).toEqual(new Array(50).fill(0));
    expect(results.map((r) => r.res!.baseOffset)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(pool.state(3).durableOffset).toBe(50);
  }, 30_000);

  test("fetch returns exactly the bytes produced, base offsets patched, and nothing at or past the high watermark", async () => {
    const pool = await startPool({ workers: 1 });
    await pool.openPartition(5, 0, tempDir(), config({ "flush.interval.ms": 60_000 }));
    const sent = [batch(["x0", "x1", "x2"]), batch(["y0"]), batch(["z0", "z1"])];
    for (const b of sent) expect((await produce(pool, 5, b, 1)).err).toBe(0);
    // Written but not durable: invisible to fetches.
    const early = await fetch(pool, 5, 0);
    expect(early.err).toBe(0);
    expect(early.bytes.length).toBe(0);
    expect(early.highWatermark).toBe(0);
    // Make a flush due now.
    await pool.setConfig(5, config({ "flush.interval.ms": 0 }));
    await waitFor(() => pool.state(5).highWatermark === 6, { what: "the high watermark to reach 6" });
    const got = await fetch(pool, 5, 0);
    expect(got.err).toBe(0);
    expect(got.highWatermark).toBe(6);
    const expected = sent.map((b) => b.slice());
    patchBaseOffset(expected[0], 0, 0);
    patchBaseOffset(expected[1], 0, 3);
    patchBaseOffset(expected[2], 0, 4);
    expect(got.bytes).toEqual(new Uint8Array(Buffer.concat(expected)));
    expect(values(got.bytes)).toEqual(["x0", "x1", "x2", "y0", "z0", "z1"]);
    // From the middle: whole batches only, starting with the one holding the offset.
    expect(decodeBatches((await fetch(pool, 5, 4)).bytes).map((b) => b.header.baseOffset)).toEqual([4n]);
    expect((await fetch(pool, 5, 7)).err).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    const row = pool.state(5);
    expect(row.bytesOut).toBeGreaterThan(0);
    expect(row.messagesOut).toBeGreaterThanOrEqual(6);
  }, 30_000);

  test("many pipelined produces on several partitions keep per-partition call order", async () => {
    const pool = await startPool({ workers: 2 });
    const slots = [0, 1, 2, 3];
    for (const s of slots) await pool.openPartition(s, s % 2, tempDir(), config({ "flush.interval.ms": 5 }));
    const perSlot = new Map<number, number[]>(slots.map((s) => [s, []]));
    const callOrder = new Map<number, number[]>(slots.map((s) => [s, []]));
    let done = 0;
    const total = 4000;
    let failed = 0;
    for (let i = 0; i < total; i++) {
      const slot = slots[i % slots.length];
      const acks = i % 3 === 0 ? -1 : 1;
      const seq = callOrder.get(slot)!.length;
      callOrder.get(slot)!.push(seq);
      const ok = pool.produce(slot, batch([`${slot}:${seq}`]), acks, (err, res) => {
        if (err !== 0 || res === null) failed++;
        else perSlot.get(slot)!.push(res.baseOffset);
        done++;
      });
      expect(ok).toBe(true);
    }
    await waitFor(() => done === total, { what: "every produce callback" });
    expect(failed).toBe(0);
    for (const s of slots) {
      const offsets = perSlot.get(s)!;
      expect(offsets.length).toBe(total / slots.length);
      // The produce for call k got offset k: appended in call order.
      expect(offsets.slice().sort((a, b) => a - b)).toEqual(Array.from({ length: offsets.length }, (_, k) => k));
    }
    // The stored order matches the call order.
    await waitFor(() => pool.state(0).highWatermark === total / slots.length, { what: "slot 0 durable" });
    const read = await fetch(pool, 0, 0, 8 << 20);
    expect(values(read.bytes)).toEqual(Array.from({ length: total / slots.length }, (_, k) => `0:${k}`));
  }, 30_000);

  test("acks=all waiters of one partition resolve in order across the waiter ring's wrap-around and growth", async () => {
    const pool = await startPool({ workers: 1 });
    await pool.openPartition(0, 0, tempDir(), config({ "flush.interval.ms": 60_000 }));
    // 50 wait and resolve: the waiter ring's head is now past its start.
    const first = Array.from({ length: 50 }, (_, i) => produce(pool, 0, batch([`a${i}`]), -1));
    await waitFor(() => pool.state(0).logEndOffset === 50, { what: "50 written" });
    await pool.setConfig(0, config({ "flush.interval.ms": 0 }));
    expect((await Promise.all(first)).map((r) => r.res?.baseOffset)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    // 300 more wait together: they wrap around the ring and make it grow twice.
    await pool.setConfig(0, config({ "flush.interval.ms": 60_000 }));
    const second = Array.from({ length: 300 }, (_, i) => produce(pool, 0, batch([`b${i}`]), -1));
    await waitFor(() => pool.state(0).logEndOffset === 350, { what: "350 written" });
    await pool.setConfig(0, config({ "flush.interval.ms": 0 }));
    const results = await Promise.all(second);
    expect(results.every((r) => r.err === 0)).toBe(true);
    expect(results.map((r) => r.res?.baseOffset)).toEqual(Array.from({ length: 300 }, (_, i) => 50 + i));
    expect(results.map((r) => r.res?.lastOffset)).toEqual(Array.from({ length: 300 }, (_, i) => 50 + i));
  }, 30_000);

  test("a full request ring refuses with false, then onWritable fires and produce succeeds", async () => {
    // 64 KiB ring, 16 KiB batches: a handful fit.
    const pool = await startPool({ workers: 1, requestRingBytes: 1 << 16 });
    await pool.openPartition(0, 0, tempDir(), config({ "flush.interval.ms": 0 }));
    const big = batch([Buffer.alloc(16 * 1024 - 200, 65).toString()]);
    let accepted = 0;
    let answered = 0;
    while (pool.produce(0, big, 1, (err) => {
      expect(err).toBe(0);
      answered++;
    })) {
      accepted++;
      if (accepted > 1000) throw new Error("the ring never filled");
    }
    expect(accepted).toBeGreaterThanOrEqual(1);
    expect(accepted).toBeLessThan(8);
    let writable = 0;
    pool.onWritable(0, () => writable++);
    await waitFor(() => writable === 1, { what: "onWritable" });
    expect(pool.produce(0, big, 1, () => answered++)).toBe(true);
    await waitFor(() => answered === accepted + 1, { what: "every ack" });
    expect(writable).toBe(1);
    const stats = pool.ringStats();
    expect(stats).toHaveLength(1);
    expect(stats[0].requestBytesCapacity).toBe(1 << 16);
  }, 30_000);

  test("appendAsFollower through the request ring: the leader's bytes stored as they are, split at batch boundaries past one ring entry, the caller's buffer free on return; a wrong start offset is refused and stores nothing", async () => {
    // 64 KiB request ring: an entry holds < 32 KiB, so 6 batches of ~12 KiB go as several entries.
    const leader = await startPool({ workers: 1 });
    const follower = await startPool({ workers: 1, requestRingBytes: 1 << 16 });
    await leader.openPartition(0, 0, tempDir(), config({ "flush.interval.ms": 0 }));
    await follower.openPartition(0, 0, tempDir(), config({ "flush.interval.ms": 0 }));
    const sent: string[] = [];
    for (let i = 0; i < 6; i++) {
      const v = [`b${i}-`.padEnd(12 * 1024, "x"), `b${i}-second`];
      sent.push(...v);
      expect((await produce(leader, 0, batch(v), -1)).err).toBe(ErrorCode.NONE);
    }
    const stored = await fetch(leader, 0, 0, 1 << 20);
    expect(stored.bytes.length).toBeGreaterThan(2 * (1 << 15));
    // The caller's buffer is reused as soon as the call returns (a replica fetch hands over the parser's view):
    // what the ring could not take yet must have been copied.
    const callers = stored.bytes.slice();
    const appended = follower.appendAsFollower(0, callers);
    callers.fill(0);
    expect(await appended).toEqual({ baseOffset: 0, lastOffset: 11 });
    await waitFor(() => follower.state(0).durableOffset === 12, { what: "the follower's group commit" });
    const copy = await fetch(follower, 0, 0, 1 << 20);
    expect(Buffer.from(copy.bytes).equals(Buffer.from(stored.bytes))).toBe(true);
    expect(values(copy.bytes)).toEqual(sent);
    // The same bytes again start at 0, not at the log end 12.
    const refused = await follower.appendAsFollower(0, stored.bytes).then(
      () => null,
      (e: SluiceError) => e,
    );
    expect(refused).toBeInstanceOf(SluiceError);
    expect(refused!.message).toContain("the log ends at 12");
    expect(follower.state(0).logEndOffset).toBe(12);
  }, 30_000);

  test("the in-flight bound counts acks=all waiting for their fdatasync; room returns when it completes", async () => {
    const pool = await startPool({ workers: 1, requestsInFlightMax: 8 });
    await pool.openPartition(0, 0, tempDir(), config({ "flush.interval.ms": 60_000 }));
    const acks: Promise<Produced>[] = [];
    for (let i = 0; i < 8; i++) acks.push(produce(pool, 0, batch([`w${i}`]), -1));
    // Written (acks=1 would be answered) but not durable: all 8 still count.
    await waitFor(() => pool.state(0).logEndOffset === 8, { what: "8 batches written" });
    let refusedCalled = false;
    expect(pool.produce(0, batch(["over"]), -1, () => (refusedCalled = true))).toBe(false);
    expect(pool.fetch(0, 0, 100, () => {})).toBe(false);
    let writable = false;
    pool.onWritable(0, () => (writable = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(writable).toBe(false);
    // A flush completes the 8 and frees the bound.
    await pool.setConfig(0, config({ "flush.interval.ms": 0 }));
    await waitFor(() => writable, { what: "onWritable after the flush" });
    expect((await Promise.all(acks)).every((r) => r.err === 0)).toBe(true);
    expect(refusedCalled).toBe(false);
    expect((await produce(pool, 0, batch(["after"]), -1)).err).toBe(0);
  }, 30_000);

  test("fetch results larger than the completion ring's free space wait for the router, never fail", async () => {
    const pool = await startPool({ workers: 1, completionRingBytes: 1 << 16 });
    await pool.openPartition(0, 0, tempDir(), config({ "flush.interval.ms": 0 }));
    const b = batch([Buffer.alloc(8000, 66).toString()]);
    for (let i = 0; i < 8; i++) expect((await produce(pool, 0, b, -1)).err).toBe(0);
    // 40 fetches of ~8 KiB each into a 64 KiB completion ring: the worker must wait for room.
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => fetch(pool, 0, i % 8, 1)));
    for (const [i, r] of results.entries()) {
      expect(r.err).toBe(0);
      expect(decodeBatches(r.bytes)[0].header.baseOffset).toBe(BigInt(i % 8));
    }
  }, 30_000);

  test("a failed fdatasync: acks=all gets KAFKA_STORAGE_ERROR, the partition goes offline, later requests fail", async () => {
    const pool = await startPool({ workers: 1 });
    const dir = tempDir();
    await pool.openPartition(0, 0, dir, config({ "flush.interval.ms": 0 }), { faults: { failFdatasyncAt: 1 } });
    const r = await produce(pool, 0, batch(["doomed"]), -1);
    expect(r.err).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    const row = pool.state(0);
    expect(row.online).toBe(false);
    expect(row.errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(row.highWatermark).toBe(0);
    expect((await produce(pool, 0, batch(["later"]), 1)).err).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect((await fetch(pool, 0, 0)).err).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    // Other partitions on the same worker are unaffected.
    await pool.openPartition(1, 0, tempDir(), config({ "flush.interval.ms": 0 }));
    expect((await produce(pool, 1, batch(["fine"]), -1)).err).toBe(0);
  }, 30_000);

  test("shutdown flushes everything: a new pool recovers every acknowledged record", async () => {
    const dir = tempDir();
    const pool = await startPool({ workers: 1 });
    await pool.openPartition(7, 0, dir, config({ "flush.interval.ms": 60_000 }));
    const acked: Promise<Produced>[] = [];
    for (let i = 0; i < 100; i++) acked.push(produce(pool, 7, batch([`r${i}`]), i % 2 === 0 ? 1 : -1));
    // Wait for the acks=1 half; the acks=all half waits for the final flush.
    await Promise.all(acked.filter((_, i) => i % 2 === 0));
    expect(pool.state(7).durableOffset).toBe(0);
    await pool.shutdown();
    const results = await Promise.all(acked);
    expect(results.every((r) => r.err === 0)).toBe(true);

    const again = await startPool({ workers: 1 });
    await again.openPartition(7, 0, dir, config({ "flush.interval.ms": 60_000 }));
    const row = again.state(7);
    expect(row.logEndOffset).toBe(100);
    expect(row.highWatermark).toBe(100);
    const read = await fetch(again, 7, 0, 8 << 20);
    expect(values(read.bytes)).toEqual(Array.from({ length: 100 }, (_, i) => `r${i}`));
  }, 30_000);

  test("control errors cross the thread boundary as SluiceError with their code", async () => {
    const pool = await startPool({ workers: 1 });
    const file = path.join(tempDir(), "not-a-dir");
    fs.writeFileSync(file, "x");
    const err = await pool.openPartition(0, 0, file, config()).catch((e) => e);
    expect(err).toBeInstanceOf(SluiceError);
    // A file system error while opening is a storage error of that partition.
    expect((err as SluiceError).code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect((err as SluiceError).message).toContain("EEXIST");
    expect(pool.workerOf(0)).toBe(-1);
    await pool.openPartition(0, 0, tempDir(), config());
    const twice = await pool.openPartition(0, 0, tempDir(), config()).catch((e) => e);
    expect((twice as SluiceError).code).toBe(ErrorCode.INVALID_REQUEST);
    const unknown = await pool.closePartition(9).catch((e) => e);
    expect((unknown as SluiceError).code).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    // Requests for a slot that is not open are answered (asynchronously) with an error.
    expect((await produce(pool, 9, batch(["x"]), 1)).err).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  }, 30_000);

  test("offsetForTimestamp, close, and delete (files removed)", async () => {
    const pool = await startPool({ workers: 1 });
    const dir = tempDir();
    await pool.openPartition(2, 0, dir, config({ "flush.interval.ms": 0 }));
    await produce(pool, 2, batch(["old"], 1_000), -1);
    await produce(pool, 2, batch(["new"], 5_000), -1);
    const found = await new Promise<[number, number]>((resolve) => pool.offsetForTimestamp(2, 2_000, (err, o, t) => resolve(err === 0 ? [o, t] : [-100, -100])));
    expect(found).toEqual([1, 5_000]);
    const none = await new Promise<[number, number, number]>((resolve) => pool.offsetForTimestamp(2, 9_000, (err, o, t) => resolve([err, o, t])));
    expect(none).toEqual([0, -1, -1]);
    await pool.closePartition(2);
    expect(pool.workerOf(2)).toBe(-1);
    expect(pool.state(2).online).toBe(false);
    expect(pool.state(2).highWatermark).toBe(2);
    await pool.openPartition(2, 0, dir, config());
    expect(pool.state(2).logEndOffset).toBe(2);
    expect(fs.readdirSync(dir).length).toBeGreaterThan(0);
    await pool.deletePartition(2);
    expect(fs.existsSync(dir) ? fs.readdirSync(dir).length : 0).toBe(0);
  }, 30_000);
  test("a fetch at a batch damaged on disk gets CORRUPT_MESSAGE (not a crash, not an empty answer); the state row shows it", async () => {
    const pool = await startPool({ workers: 1 });
    const dir = tempDir();
    await pool.openPartition(5, 0, dir, config({ "flush.interval.ms": 0 }));
    const sizes: number[] = [];
    for (const v of ["one", "two", "three"]) {
      const b = batch([v.repeat(40)]);
      sizes.push(b.length);
      expect((await produce(pool, 5, b, -1)).err).toBe(ErrorCode.NONE);
    }
    await pool.closePartition(5);
    const file = path.join(dir, "00000000000000000000.log");
    const bytes = fs.readFileSync(file);
    bytes[sizes[0] + sizes[1] - 5] ^= 0x01; // inside the second batch's records
    fs.writeFileSync(file, bytes);
    await pool.openPartition(5, 0, dir, config());
    const first = await fetch(pool, 5, 0);
    expect(first.err).toBe(ErrorCode.NONE);
    expect(values(first.bytes)).toEqual(["one".repeat(40)]);
    for (let i = 0; i < 2; i++) {
      const damaged = await fetch(pool, 5, 1);
      expect(damaged.err).toBe(ErrorCode.CORRUPT_MESSAGE);
      expect(damaged.bytes.length).toBe(0);
      expect(damaged.highWatermark).toBe(3);
    }
    expect(values((await fetch(pool, 5, 2)).bytes)).toEqual(["three".repeat(40)]);
    expect(pool.state(5)).toMatchObject({ online: true, errorCode: ErrorCode.CORRUPT_MESSAGE });
    expect((await produce(pool, 5, batch(["four"]), -1)).res?.baseOffset).toBe(3);
  }, 30_000);
  test("fsyncLatency(): the workers' group-commit fdatasyncs as a histogram in seconds, read from shared counters", async () => {
    const pool = await startPool({ workers: 2 });
    expect(pool.fsyncLatency().count).toBe(0);
    await pool.openPartition(0, 0, tempDir(), config({ "flush.interval.ms": 0 }));
    await pool.openPartition(1, 1, tempDir(), config({ "flush.interval.ms": 0 }));
    for (let i = 0; i < 5; i++) {
      // acks=all resolves only after an fdatasync covered the batch: at least one per round and partition.
      const [a, b] = await Promise.all([produce(pool, 0, batch([`a${i}`]), -1), produce(pool, 1, batch([`b${i}`]), -1)]);
      expect([a.err, b.err]).toEqual([0, 0]);
    }
    const h = pool.fsyncLatency();
    expect(h.count).toBeGreaterThanOrEqual(10);
    expect(h.count).toBeLessThanOrEqual(10 + 2); // a close or an extra flush at most
    expect(h.counts.reduce((x, y) => x + y, 0)).toBe(h.count);
    expect(h.bounds[0]).toBeCloseTo(16e-6, 12);
    expect(h.bounds.at(-1)).toBeCloseTo(8.388608, 9);
    expect(h.sum).toBeGreaterThan(0);
    expect(h.sum / h.count).toBeLessThan(5); // seconds, not microseconds
  }, 30_000);
});
