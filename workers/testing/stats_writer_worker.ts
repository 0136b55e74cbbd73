// Test peer for worker_stats.test.ts: records `count` fdatasyncs of `durationMs`
// into region `worker` of a stats buffer, then says so.

import { WorkerStats } from "../worker_stats.ts";

declare const self: Worker;

self.onmessage = (event: MessageEvent) => {
  const { sab, worker, count, durationMs } = event.data as { sab: SharedArrayBuffer; worker: number; count: number; durationMs: number };
  const stats = new WorkerStats(sab);
  for (let i = 0; i < count; i++) stats.recordFsync(worker, durationMs);
  postMessage("done");
};
