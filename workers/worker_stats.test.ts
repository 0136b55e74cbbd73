import { describe, expect, test } from "bun:test";
import { FSYNC_BUCKET_BOUNDS_US } from "./shared_layout.ts";
import { WorkerStats, createWorkerStats, fsyncBucketOf } from "./worker_stats.ts";

describe("worker stats: fdatasync latency", () => {
  test("buckets are powers of two from 16 µs to ~8.4 s, upper bounds inclusive, the rest in the last", () => {
    expect(FSYNC_BUCKET_BOUNDS_US[0]).toBe(16);
    expect(FSYNC_BUCKET_BOUNDS_US.at(-1)).toBe(8_388_608);
    expect([0, 3, 16].map(fsyncBucketOf)).toEqual([0, 0, 0]);
    expect([16.001, 32, 32.5, 64].map(fsyncBucketOf)).toEqual([1, 1, 2, 2]);
    expect(fsyncBucketOf(1_000)).toBe(6); // ≤ 1024 µs
    expect(fsyncBucketOf(8_388_608)).toBe(19);
    expect(fsyncBucketOf(8_388_609)).toBe(20);
    expect(fsyncBucketOf(3_600e6)).toBe(20);
    for (let i = 0; i < FSYNC_BUCKET_BOUNDS_US.length; i++) {
      expect(fsyncBucketOf(FSYNC_BUCKET_BOUNDS_US[i])).toBe(i);
      expect(fsyncBucketOf(FSYNC_BUCKET_BOUNDS_US[i] + 0.5)).toBe(i + 1);
    }
  });

  test("each worker writes its own region; a reader sums them", () => {
    const sab = createWorkerStats(3);
    const w0 = new WorkerStats(sab);
    const w2 = new WorkerStats(sab);
    w0.recordFsync(0, 0.2); // 200 µs
    w0.recordFsync(0, 0.2);
    w2.recordFsync(2, 12); // 12 ms
    const snap = new WorkerStats(sab).fsyncLatency();
    expect(snap.count).toBe(3);
    expect(snap.sumNs).toBe(200_000 + 200_000 + 12_000_000);
    expect(snap.counts[fsyncBucketOf(200)]).toBe(2);
    expect(snap.counts[fsyncBucketOf(12_000)]).toBe(1);
    expect(snap.counts.reduce((a, b) => a + b, 0)).toBe(3);
    expect(() => w0.recordFsync(3, 1)).toThrow(RangeError);
    expect(() => new WorkerStats(new SharedArrayBuffer(64))).toThrow();
  });

  test("counts added by two other threads at once are all seen, without a message", async () => {
    const sab = createWorkerStats(2);
    const run = (worker: number) =>
      new Promise<void>((resolve) => {
        const w = new Worker(new URL("./testing/stats_writer_worker.ts", import.meta.url).href, { type: "module" });
        w.onmessage = () => {
          w.terminate();
          resolve();
        };
        w.postMessage({ sab, worker, count: 20_000, durationMs: 0.5 });
      });
    await Promise.all([run(0), run(1)]);
    const snap = new WorkerStats(sab).fsyncLatency();
    expect(snap.count).toBe(40_000);
    expect(snap.counts[fsyncBucketOf(500)]).toBe(40_000);
    expect(snap.sumNs).toBe(40_000 * 500_000);
  });
});
