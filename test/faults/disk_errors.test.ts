// Disk errors under a real broker, injected with SLUICE_FAULTS (engine/fault_hooks.ts):
// - the k-th fdatasync fails with EIO: no ack for that group, the partition goes
//   offline and stays offline (no retry), nothing acked is lost after a restart;
// - a write fails with ENOSPC: a clear error to producers, no partial batch in
//   the file or served, other topics unharmed, the partition stays online and
//   writing resumes once space is freed, without a restart;
// - a disk 10× slower than the producer: backpressure (latency rises, then a
//   timeout error for a producer that insists), bounded broker memory, nothing lost.

import { afterEach, describe, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ErrorCode } from "../../protocol/errors.ts";
import { decodeFetchResponse } from "../../protocol/messages/fetch.ts";
import { decodeProduceResponse } from "../../protocol/messages/produce.ts";
import { encodeBatch } from "../../protocol/record_batch.ts";
import { History } from "../checker/history.ts";
import { checkQueueHistory, summarizeQueueReport } from "../checker/queue_checker.ts";
import { type BrokerProcess, startBroker } from "../support/broker.ts";
import { RawClient, fetchBody, produceBody } from "../support/raw_client.ts";
import { createTopic, describePartitions, rssMiB } from "./support/broker_ops.ts";
import { pollUntil } from "../support/wait_for.ts";
import { Rng } from "./support/rng.ts";
import { PipelinedProducer, drainPartition, quantile, recordsFrom } from "./support/workload.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-"));
  cleanups.push(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

async function start(dataDir: string, faults?: Record<string, Record<string, number | string>>): Promise<BrokerProcess> {
  const b = await startBroker({
    dataDir,
    args: ["--workers", "2"],
    env: faults === undefined ? {} : { SLUICE_FAULTS: JSON.stringify(faults) },
  });
  cleanups.push(() => b.cleanup());
  return b;
}

async function produceOnce(port: number, topic: string, acks: number, value: string = "probe"): Promise<number> {
  const c = await RawClient.connect(port);
  try {
    const r = await c.request(0, produceBody({ topic, acks, partitions: [{ index: 0, records: encodeBatch([{ value }]) }] }));
    return decodeProduceResponse(r.body).topics[0].partitions[0].errorCode;
  } finally {
    c.close();
  }
}

describe("fdatasync fails with EIO", () => {
  // CI: three points; `bun run test:long` sets SLUICE_EIO_AT to sweep many.
  const points = (process.env.SLUICE_EIO_AT ?? "3,7,20").split(",").map(Number);
  for (const k of points) {
    test(`fdatasync #${k} fails: no ack for its group, the partition goes offline and stays offline, nothing acked lost`, async () => {
      const dir = tempDir();
      let b = await start(dir, { eio: { failFdatasyncAt: k } });
      await createTopic(b.port, "eio", 1);
      const history = new History();
      const producer = new PipelinedProducer({ port: b.port, topic: "eio", partitions: [0], name: "p", history, rng: new Rng(k), inflightMax: 8 });
      await producer.start();
      const failed = await pollUntil(() => producer.stats.errors.size > 0, { timeoutMs: 10_000 });
      await producer.stop();
      expect(failed).toBe(true);
      expect([...producer.stats.errors.keys()]).toEqual([ErrorCode.KAFKA_STORAGE_ERROR]);

      const [atFailure] = await describePartitions(b.port, "eio");
      expect(atFailure.online).toBe(false);
      expect(atFailure.errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
      // No ack for anything the failed fdatasync was to cover: every acked offset is below the durable offset.
      const ackedOffsets = history.events.flatMap((e) => (e.kind === "ack" ? [e.offset] : []));
      const maxAcked = Math.max(-1, ...ackedOffsets);
      expect(maxAcked).toBeLessThan(atFailure.durableOffset);
      expect(atFailure.highWatermark).toBe(atFailure.durableOffset);
      // No retry: the partition stays offline, its durable offset does not move, new produces fail.
      await Bun.sleep(300);
      const [later] = await describePartitions(b.port, "eio");
      expect(later).toMatchObject({ online: false, durableOffset: atFailure.durableOffset, highWatermark: atFailure.highWatermark });
      expect(await produceOnce(b.port, "eio", -1)).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
      expect(await produceOnce(b.port, "eio", 1)).toBe(ErrorCode.KAFKA_STORAGE_ERROR);

      // Restart without the fault: everything acked is there, nothing is read twice or changed.
      await b.stop();
      b = await start(dir);
      const c = await RawClient.connect(b.port);
      const d = await drainPartition({ client: c, topic: "eio", partition: 0, name: "after", history });
      c.close();
      const report = checkQueueHistory(history.events, { drained: true });
      console.log(
        `fsync EIO at #${k}: ${JSON.stringify({ acked: report.counts.acked, durableAtFailure: atFailure.durableOffset, logEndAtFailure: atFailure.logEndOffset, highWatermarkAfterRestart: d.highWatermark, failedRequests: producer.stats.failedIndeterminate, recoveredUnacked: report.counts.recovered, lost: report.counts.lost + report.counts.unreadAcked, inconsistent: report.inconsistent.length })}`,
      );
      expect(summarizeQueueReport(report).split("\n").length).toBe(1);
      expect(report.valid).toBe(true);
      // The first fdatasync covers the first group: when it fails, nothing was ever acked.
      if (k > 1) expect(report.counts.acked).toBeGreaterThan(0);
      // The writes of the failed group reached the page cache; after a clean restart they may be back.
      expect(d.highWatermark).toBeGreaterThanOrEqual(atFailure.durableOffset);
    }, 60_000);
  }
});

describe("write fails with ENOSPC", () => {
  test("a clear error to producers, no partial batch in the file or served, other topics unharmed, writing resumes once space is freed (no restart)", async () => {
    const dir = tempDir();
    const writeBytesMax = 64 * 1024;
    // The test frees space by creating this file (engine/fault_hooks.ts: spaceFile).
    const spaceFile = path.join(tempDir(), "space-freed");
    let b = await start(dir, { full: { writeBytesMax, spaceFile } });
    await createTopic(b.port, "full", 1);
    await createTopic(b.port, "roomy", 1);
    const history = new History();
    const full = new PipelinedProducer({ port: b.port, topic: "full", partitions: [0], name: "f", history, rng: new Rng(1), valueBytes: 200 });
    const roomy = new PipelinedProducer({ port: b.port, topic: "roomy", partitions: [0], name: "r", history, rng: new Rng(2) });
    await Promise.all([full.start(), roomy.start()]);
    expect(await pollUntil(() => full.stats.errors.size > 0, { timeoutMs: 10_000 })).toBe(true);
    const roomyAckedAtFull = roomy.stats.acked;
    // The other topic keeps being served while this one is out of space.
    expect(await pollUntil(() => roomy.stats.acked > roomyAckedAtFull + 1000, { timeoutMs: 10_000 })).toBe(true);
    await Promise.all([full.stop(), roomy.stop()]);
    expect([...full.stats.errors.keys()]).toEqual([ErrorCode.KAFKA_STORAGE_ERROR]);
    const failedWhileFull = full.stats.errors.get(ErrorCode.KAFKA_STORAGE_ERROR) ?? 0;

    // The partition stays online, and the refused writes were cut off again: the file holds whole batches only.
    const [p] = await describePartitions(b.port, "full");
    expect(p.online).toBe(true);
    const segment = path.join(dir, "topics", "full", "0", "00000000000000000000.log");
    const sizeAtFull = fs.statSync(segment).size;
    expect(sizeAtFull).toBeLessThanOrEqual(writeBytesMax);
    expect(wholeBatchBytes(fs.readFileSync(segment))).toBe(sizeAtFull);
    // Still full: a produce gets the disk-full error (the log end does not move). The probe is
    // larger than the whole write budget: the room a refused write left (anything under one of
    // the producer's batches) could take a small one.
    expect(await produceOnce(b.port, "full", 1, "x".repeat(writeBytesMax))).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    const c = await RawClient.connect(b.port);
    const res = await c.request(1, fetchBody({ topic: "full", maxBytes: 8 << 20, partitions: [{ index: 0, offset: 0, maxBytes: 8 << 20 }] }));
    const r = decodeFetchResponse(res.body).topics[0].partitions[0];
    expect(r.errorCode).toBe(ErrorCode.NONE);
    const served = recordsFrom(r.records, 0);
    expect(served.every((x) => x.offset < p.highWatermark)).toBe(true);
    c.close();
    const [stillFull] = await describePartitions(b.port, "full");
    expect(stillFull.logEndOffset).toBe(p.logEndOffset);
    expect(wholeBatchBytes(fs.readFileSync(segment))).toBe(fs.statSync(segment).size);

    // Space is freed, the broker keeps running: produces succeed again (after the log's short cool-down).
    fs.writeFileSync(spaceFile, "");
    const freedAt = performance.now();
    const again = new PipelinedProducer({ port: b.port, topic: "full", partitions: [0], name: "f2", history, rng: new Rng(3) });
    await again.start();
    expect(await pollUntil(() => again.stats.acked > 0, { timeoutMs: 10_000 })).toBe(true);
    const resumeMs = Math.round(performance.now() - freedAt);
    expect(await pollUntil(() => again.stats.acked > 100, { timeoutMs: 10_000 })).toBe(true);
    await again.stop();
    // Requests that came within the cool-down of the last refused write may still have been refused; nothing else.
    expect([...again.stats.errors.keys()].filter((code) => code !== ErrorCode.KAFKA_STORAGE_ERROR)).toEqual([]);
    // No offset was used up by the refused writes: the first one written after them is the log end at the time.
    const firstAfter = Math.min(...history.events.flatMap((e) => (e.kind === "ack" && e.producer === "f2" ? [e.offset] : [])));
    expect(firstAfter).toBe(p.logEndOffset);
    const [resumed] = await describePartitions(b.port, "full");
    expect(resumed.online).toBe(true);

    // A restart afterwards recovers cleanly: nothing acked is lost, nothing read twice or changed.
    await b.stop();
    b = await start(dir);
    const c2 = await RawClient.connect(b.port);
    await drainPartition({ client: c2, topic: "full", partition: 0, name: "after", history });
    await drainPartition({ client: c2, topic: "roomy", partition: 0, name: "after", history });
    c2.close();
    const report = checkQueueHistory(history.events, { drained: true });
    console.log(
      `ENOSPC: ${JSON.stringify({ writeBytesMax, ackedBeforeFull: full.stats.acked, failedRequests: failedWhileFull, logEndAtFull: p.logEndOffset, segmentBytesAtFull: sizeAtFull, online: p.online, resumeMsAfterSpaceFreed: resumeMs, refusedAfterSpaceFreed: again.stats.errors.get(ErrorCode.KAFKA_STORAGE_ERROR) ?? 0, ackedAfterSpaceFreed: again.stats.acked, logEndAfter: resumed.logEndOffset, otherTopicAckedMeanwhile: roomy.stats.acked, lost: report.counts.lost + report.counts.unreadAcked, unexpected: report.unexpected.length })}`,
    );
    expect(summarizeQueueReport(report).split("\n").length).toBe(1);
    expect(report.valid).toBe(true);
  }, 60_000);
});

/** Bytes of whole batches from the start of a segment file (equal to its size when no partial batch is at its end). */
function wholeBatchBytes(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  // A batch: base offset (8), length (4), then `length` bytes.
  while (pos + 12 <= bytes.length) {
    const size = 12 + view.getInt32(pos + 8);
    if (pos + size > bytes.length) break;
    pos += size;
  }
  return pos;
}

describe("slow disk", () => {
  test("a producer 10× faster than the disk: latency rises, an insisting producer gets timeouts, memory stays bounded, nothing lost", async () => {
    const dir = tempDir();
    // Slow enough that the baseline producer is 10× faster even on a loaded two-core machine.
    const diskBytesPerSec = 32 * 1024;
    let b = await start(dir, { slow: { diskBytesPerSec } });
    await createTopic(b.port, "slow", 1);
    await createTopic(b.port, "fast", 1);
    const rssStart = rssMiB(b.pid);
    let rssMax = rssStart;
    const sampler = setInterval(() => {
      rssMax = Math.max(rssMax, rssMiB(b.pid));
    }, 100);
    const history = new History();
    // 0. The same producer on a topic with a normal disk: the baseline latency.
    const baseline = new PipelinedProducer({ port: b.port, topic: "fast", partitions: [0], name: "baseline", history, rng: new Rng(0), inflightMax: 16, recordsPerBatchMax: 20, valueBytes: 100 });
    await baseline.start();
    await Bun.sleep(500);
    await baseline.stop();
    const baselineBytesPerSec = (baseline.stats.acked * 120) / 0.5;
    // 1. A polite producer (16 requests in flight): the disk paces it; its latency rises to the fsync time.
    const polite = new PipelinedProducer({ port: b.port, topic: "slow", partitions: [0], name: "polite", history, rng: new Rng(1), inflightMax: 16, recordsPerBatchMax: 20, valueBytes: 100 });
    await polite.start();
    await Bun.sleep(1_500);
    await polite.stop();
    const politeBytesPerSec = (polite.stats.acked * 120) / 1.5;
    // 2. An insisting producer: 2,000 requests in flight, 500 ms timeout. The broker must not buffer
    //    without bound; the producer must see REQUEST_TIMED_OUT (or no answer) rather than growing memory.
    const insisting = new PipelinedProducer({
      port: b.port,
      topic: "slow",
      partitions: [0],
      name: "insisting",
      history,
      rng: new Rng(2),
      inflightMax: 2_000,
      recordsPerBatchMax: 20,
      valueBytes: 100,
      timeoutMs: 500,
      responseWaitMs: 8_000,
    });
    await insisting.start();
    await Bun.sleep(2_000);
    clearInterval(sampler);
    rssMax = Math.max(rssMax, rssMiB(b.pid));
    // kill -9 rather than a graceful stop: a stop would first flush the backlog at the disk's pace.
    await b.kill9();
    await insisting.stop();
    const timeouts = insisting.stats.errors.get(ErrorCode.REQUEST_TIMED_OUT) ?? 0;
    const politeP50 = quantile(polite.stats.latenciesMs, 0.5);
    const insistingP50 = quantile(insisting.stats.latenciesMs, 0.5);

    // Nothing acked lost: restart without the fault and drain.
    b = await start(dir);
    const c0 = await RawClient.connect(b.port);
    await drainPartition({ client: c0, topic: "fast", partition: 0, name: "after", history });
    c0.close();
    const c = await RawClient.connect(b.port);
    await drainPartition({ client: c, topic: "slow", partition: 0, name: "after", history });
    c.close();
    const report = checkQueueHistory(history.events, { drained: true });
    console.log(
      `slow disk: ${JSON.stringify({ diskBytesPerSec, baselineBytesPerSec: Math.round(baselineBytesPerSec), baselineLatencyP50Ms: Math.round(quantile(baseline.stats.latenciesMs, 0.5) * 10) / 10, politeAcked: polite.stats.acked, politeBytesPerSec: Math.round(politeBytesPerSec), politeLatencyP50Ms: Math.round(politeP50), insistingRequests: insisting.stats.requests, insistingAckedRecords: insisting.stats.acked, insistingLatencyP50Ms: Math.round(insistingP50), timeoutErrors: timeouts, unknownOutcomeRecords: insisting.stats.failedIndeterminate, rssStartMiB: rssStart, rssMaxMiB: rssMax, lost: report.counts.lost + report.counts.unreadAcked, recoveredUnacked: report.counts.recovered })}`,
    );
    // The producer is at least 10× faster than the disk, and the disk paced it.
    expect(baselineBytesPerSec).toBeGreaterThan(diskBytesPerSec * 10);
    expect(politeBytesPerSec).toBeLessThan(diskBytesPerSec * 3);
    // Backpressure became visible: latency rose, then the insisting producer got errors.
    expect(politeP50).toBeGreaterThan(5 * quantile(baseline.stats.latenciesMs, 0.5));
    expect(timeouts + insisting.stats.failedIndeterminate).toBeGreaterThan(0);
    expect(rssMax - rssStart).toBeLessThan(300);
    expect(summarizeQueueReport(report).split("\n").length).toBe(1);
    expect(report.valid).toBe(true);
  }, 60_000);
});
