// Produce throughput through the worker pool: the router copies each batch into
// a worker's request ring, the worker appends it to a PartitionLog on real files
// and group-commits, and the acks=all callback runs once the fdatasync covering
// the batch has returned.
//
//   ./node_modules/.bin/bun bench/pool_bench.ts [--seconds N] [--workers N] [--partitions N]
//       [--window N] [--flush-interval-ms N] [--acks all|1] [--small]
//
// Records are 100 bytes, in batches of ~16 KiB (one batch encoded once and sent
// again and again; the ring copy gets its base offset patched). `window` produce
// requests per partition are kept in flight (a pipelining client). Prints a table,
// then one JSON line (last): {"recordsPerSec","mbPerSec","ackMsP50","ackMsP99",...}

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { WorkerPool } from "../engine/worker_pool.ts";
import { encodeBatch } from "../protocol/record_batch.ts";
import { parseTopicConfig } from "../workers/mod.ts";

const RECORD_BYTES = 100;
const BATCH_BYTES = 16 * 1024;

export interface PoolBenchOptions {
  seconds: number;
  workers: number;
  partitions: number;
  /** Produce requests in flight per partition. */
  window: number;
  flushIntervalMs: number;
  acks: 1 | -1;
  /** Print the table and the JSON line (the test turns this off). */
  print?: boolean;
}

export interface PoolBenchResult {
  records: number;
  seconds: number;
  recordsPerSec: number;
  mbPerSec: number;
  /** Batches acknowledged. */
  batches: number;
  recordsPerBatch: number;
  ackMsP50: number;
  ackMsP99: number;
  /** fdatasyncs implied: durable-offset advances seen by the router. */
  advances: number;
  /** Times produce() said the ring was full. */
  ringFull: number;
  errors: number;
}

function buildBatch(): { bytes: Uint8Array; records: number } {
  const value = new Uint8Array(RECORD_BYTES).fill(0x61);
  const records = [];
  // Grow until the next record would pass 16 KiB (a record costs its value + ~10 bytes of framing).
  while ((records.length + 1) * (RECORD_BYTES + 11) + 61 <= BATCH_BYTES) records.push({ value });
  const bytes = encodeBatch(records);
  return { bytes, records: records.length };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

export async function runPoolBench(opts: PoolBenchOptions): Promise<PoolBenchResult> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-pool-bench-"));
  const pool = await WorkerPool.start({ workers: opts.workers, partitionsMax: Math.max(opts.partitions, 1) });
  try {
    const config = parseTopicConfig({ "flush.interval.ms": opts.flushIntervalMs });
    for (let p = 0; p < opts.partitions; p++) {
      await pool.openPartition(p, p % pool.workerCount, path.join(root, `p${p}`), config);
    }
    const { bytes, records: recordsPerBatch } = buildBatch();
    let advances = 0;
    pool.onAdvance(() => advances++);

    // Latency samples: one per acknowledged batch, in a preallocated buffer (bounded).
    const samples = new Float64Array(1 << 20);
    let sampleCount = 0;
    let batches = 0;
    let errors = 0;
    let ringFull = 0;
    let stopping = false;
    let inflight = 0;
    const started = performance.now();
    const deadline = started + opts.seconds * 1000;
    let finished!: () => void;
    const done = new Promise<void>((resolve) => (finished = resolve));

    const send = (slot: number): boolean => {
      const sentAt = performance.now();
      const ok = pool.produce(slot, bytes, opts.acks, (err) => {
        inflight--;
        if (err !== 0) errors++;
        else {
          batches++;
          if (sampleCount < samples.length) samples[sampleCount++] = performance.now() - sentAt;
        }
        if (!stopping && performance.now() >= deadline) stopping = true;
        if (!stopping) pump(slot);
        if (stopping && inflight === 0) finished();
      });
      if (ok) inflight++;
      return ok;
    };

    // Keep `window` requests in flight per partition; on a full ring wait for room.
    const waitingForRoom = new Set<number>();
    const pump = (slot: number): void => {
      if (!send(slot)) {
        ringFull++;
        const worker = pool.workerOf(slot);
        if (!waitingForRoom.has(worker)) {
          waitingForRoom.add(worker);
          pool.onWritable(worker, () => {
            waitingForRoom.delete(worker);
            for (let p = 0; p < opts.partitions; p++) if (pool.workerOf(p) === worker && !stopping) pump(p);
          });
        }
      }
    };
    for (let p = 0; p < opts.partitions; p++) for (let i = 0; i < opts.window; i++) pump(p);
    await done;
    const seconds = (performance.now() - started) / 1000;
    const sorted = samples.slice(0, sampleCount).sort();
    const records = batches * recordsPerBatch;
    const result: PoolBenchResult = {
      records,
      seconds,
      recordsPerSec: records / seconds,
      mbPerSec: (batches * bytes.length) / seconds / 1e6,
      batches,
      recordsPerBatch,
      ackMsP50: percentile(sorted, 0.5),
      ackMsP99: percentile(sorted, 0.99),
      advances,
      ringFull,
      errors,
    };
    if (opts.print !== false) {
      console.log(
        `pool produce: ${opts.workers} worker(s), ${opts.partitions} partition(s), window ${opts.window}/partition, ` +
          `acks=${opts.acks === -1 ? "all" : "1"}, flush.interval.ms=${opts.flushIntervalMs}, ` +
          `${recordsPerBatch} x ${RECORD_BYTES} B records per ${bytes.length} B batch, ${seconds.toFixed(2)} s`,
      );
      console.log(`  records/s   ${Math.round(result.recordsPerSec).toLocaleString("en")}`);
      console.log(`  MB/s        ${result.mbPerSec.toFixed(1)}`);
      console.log(`  ack p50/p99 ${result.ackMsP50.toFixed(2)} / ${result.ackMsP99.toFixed(2)} ms`);
      console.log(`  durable advances ${advances} (≈ ${(batches / Math.max(advances, 1)).toFixed(1)} batches per fdatasync), ring full ${ringFull}, errors ${errors}`);
      console.log(JSON.stringify(result));
    }
    return result;
  } finally {
    await pool.shutdown();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

function flag(argv: string[], name: string, fallback: number): number {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? Number(argv[i + 1]) : fallback;
}

if (import.meta.main) {
  const argv = process.argv.slice(2);
  const small = argv.includes("--small");
  const acksIndex = argv.indexOf("--acks");
  console.log(`command: bun bench/pool_bench.ts ${argv.join(" ")}`.trimEnd());
  await runPoolBench({
    seconds: flag(argv, "--seconds", small ? 0.3 : 3),
    workers: flag(argv, "--workers", 1),
    partitions: flag(argv, "--partitions", 1),
    window: flag(argv, "--window", 64),
    flushIntervalMs: flag(argv, "--flush-interval-ms", 0),
    acks: acksIndex >= 0 && argv[acksIndex + 1] === "1" ? 1 : -1,
  });
}
