import { afterAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { AssertionError } from "../protocol/assert.ts";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { decodeBatches, encodeBatch } from "../protocol/record_batch.ts";
import { type FileOps, type LogConfig, PartitionLog, parseTopicConfig, realFileOps } from "./log/mod.ts";
import { fsError } from "./log/file_ops.ts";
import type { FaultOptions } from "./control.ts";
import { DISK_FULL_RETRY_AFTER_MS } from "./log/log_limits.ts";
import { openHostedLog } from "./open_log.ts";
import type { HostedLog } from "./hosted_partition.ts";
import { DrainOutcome, type OpenLog, PartitionHost } from "./partition_host.ts";
import { RETENTION_CHECK_INTERVAL_MS } from "./worker_limits.ts";
import { PartitionStateTable, createStateTable } from "./partition_state.ts";
import { RingConsumer, RingProducer, createRing } from "./ring.ts";
import {
  Common,
  DurableCompl,
  EntryKind,
  FailedCompl,
  FetchReq,
  FetchedCompl,
  OffsetCompl,
  OffsetForTimestampReq,
  ProduceReq,
  ProducedCompl,
} from "./shared_layout.ts";
import { MemoryLog } from "./testing/memory_log.ts";
import { WorkerStats, createWorkerStats, fsyncBucketOf } from "./worker_stats.ts";
import { JOURNAL_PARTITION_ROUND_BYTES_MAX, JOURNAL_PARTITION_UNSYNCED_BYTES_MAX, JOURNAL_ROUND_BYTES_MAX } from "./log/log_limits.ts";
import { JOURNAL_HEADER_BYTES, WorkerJournal, scanJournal, workerJournalPath } from "./log/worker_journal.ts";

type Completion =
  | { kind: "produced"; slot: number; requestId: number; baseOffset: number; lastOffset: number; logStartOffset: number }
  | { kind: "fetched"; slot: number; requestId: number; error: number; highWatermark: number; logStartOffset: number; bytes: Uint8Array }
  | { kind: "offset"; slot: number; requestId: number; offset: number; timestampMs: number }
  | { kind: "durable"; slot: number; durableOffset: number }
  | { kind: "failed" | "partition-failed"; slot: number; requestId: number; error: number; message: string };

/** Plays the router's part: writes requests the way the pool does, decodes completions. */
class Router {
  readonly requests: RingProducer;
  readonly completions: RingConsumer;
  private nextId = 1;

  constructor(requests: SharedArrayBuffer, completions: SharedArrayBuffer) {
    this.requests = new RingProducer(requests);
    this.completions = new RingConsumer(completions);
  }

  produce(slot: number, records: Uint8Array, acks = 1): number {
    const r = this.requests;
    const at = r.reserve(EntryKind.PRODUCE, ProduceReq.RECORDS + records.length);
    if (at === -1) return -1;
    const id = this.nextId++;
    r.u32[(at + ProduceReq.SLOT) >>> 2] = slot;
    r.u32[(at + ProduceReq.REQUEST_ID) >>> 2] = id;
    r.i32[(at + ProduceReq.ACKS) >>> 2] = acks;
    r.u32[(at + ProduceReq.RECORDS_BYTES) >>> 2] = records.length;
    r.bytes.set(records, at + ProduceReq.RECORDS);
    r.commit();
    r.publish();
    return id;
  }

  fetch(slot: number, offset: number, maxBytes: number): number {
    const r = this.requests;
    const at = r.reserve(EntryKind.FETCH, FetchReq.BYTES);
    const id = this.nextId++;
    r.u32[(at + FetchReq.SLOT) >>> 2] = slot;
    r.u32[(at + FetchReq.REQUEST_ID) >>> 2] = id;
    r.u32[(at + FetchReq.MAX_BYTES) >>> 2] = maxBytes;
    r.f64[(at + FetchReq.OFFSET) >>> 3] = offset;
    r.f64[(at + FetchReq.UPPER_BOUND) >>> 3] = -1;
    r.commit();
    r.publish();
    return id;
  }

  offsetForTimestamp(slot: number, timestampMs: number): number {
    const r = this.requests;
    const at = r.reserve(EntryKind.OFFSET_FOR_TIMESTAMP, OffsetForTimestampReq.BYTES);
    const id = this.nextId++;
    r.u32[(at + OffsetForTimestampReq.SLOT) >>> 2] = slot;
    r.u32[(at + OffsetForTimestampReq.REQUEST_ID) >>> 2] = id;
    r.f64[(at + OffsetForTimestampReq.TIMESTAMP_MS) >>> 3] = timestampMs;
    r.commit();
    r.publish();
    return id;
  }

  /** Every published completion, decoded (fetched bytes copied), then released. */
  take(): Completion[] {
    const c = this.completions;
    const out: Completion[] = [];
    for (let kind = c.read(); kind !== -1; kind = c.read()) {
      const o = c.offset;
      const slot = c.u32[(o + Common.SLOT) >>> 2];
      const requestId = c.u32[(o + Common.REQUEST_ID) >>> 2];
      switch (kind) {
        case EntryKind.PRODUCED:
          out.push({
            kind: "produced", slot, requestId,
            baseOffset: c.f64[(o + ProducedCompl.BASE_OFFSET) >>> 3],
            lastOffset: c.f64[(o + ProducedCompl.LAST_OFFSET) >>> 3],
            logStartOffset: c.f64[(o + ProducedCompl.LOG_START_OFFSET) >>> 3],
          });
          break;
        case EntryKind.FETCHED: {
          const n = c.u32[(o + FetchedCompl.RECORDS_BYTES) >>> 2];
          out.push({
            kind: "fetched", slot, requestId,
            error: c.i32[(o + FetchedCompl.ERROR) >>> 2],
            highWatermark: c.f64[(o + FetchedCompl.HIGH_WATERMARK) >>> 3],
            logStartOffset: c.f64[(o + FetchedCompl.LOG_START_OFFSET) >>> 3],
            bytes: c.bytes.slice(o + FetchedCompl.RECORDS, o + FetchedCompl.RECORDS + n),
          });
          break;
        }
        case EntryKind.OFFSET:
          out.push({
            kind: "offset", slot, requestId,
            offset: c.f64[(o + OffsetCompl.OFFSET) >>> 3],
            timestampMs: c.f64[(o + OffsetCompl.TIMESTAMP_MS) >>> 3],
          });
          break;
        case EntryKind.DURABLE:
          out.push({ kind: "durable", slot, durableOffset: c.f64[(o + DurableCompl.DURABLE_OFFSET) >>> 3] });
          break;
        case EntryKind.REQUEST_FAILED:
        case EntryKind.PARTITION_FAILED: {
          const n = c.u32[(o + FailedCompl.MESSAGE_BYTES) >>> 2];
          out.push({
            kind: kind === EntryKind.REQUEST_FAILED ? "failed" : "partition-failed", slot, requestId,
            error: c.i32[(o + FailedCompl.ERROR) >>> 2],
            message: new TextDecoder().decode(c.bytes.subarray(o + FailedCompl.MESSAGE, o + FailedCompl.MESSAGE + n)),
          });
          break;
        }
        default:
          throw new Error(`unexpected completion kind ${kind}`);
      }
      c.advance();
    }
    c.release();
    return out;
  }
}

/** The request id a completion answers (DURABLE answers none: 0). */
function idOf(c: Completion): number {
  return "requestId" in c ? c.requestId : 0;
}

function batchOf(values: string[], timestamp = 1_000): Uint8Array {
  return encodeBatch(values.map((v) => ({ value: v, timestamp })));
}

const tempDirs: string[] = [];
afterAll(() => {
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A log implementation under test, with its way of making the next fdatasync fail. */
interface Impl {
  name: string;
  open: OpenLog;
  /** Options for host.open that make this partition's first flush fail. */
  failingFaults: FaultOptions;
  /** Options for host.open that make this partition's first write fail (a full disk). */
  fullDiskFaults: FaultOptions;
}

const memoryImpl: Impl = {
  name: "in-memory log",
  open: ({ config, faults }) => {
    const log = new MemoryLog(config);
    if (faults?.failFdatasyncAt !== undefined) log.failFlushes = true;
    if (faults?.writeBytesMax !== undefined) log.failWrites = true;
    return { log, recovery: null };
  },
  failingFaults: { failFdatasyncAt: 1 },
  fullDiskFaults: { writeBytesMax: 0 },
};

const realImpl: Impl = {
  name: "PartitionLog on real files",
  open: openHostedLog,
  failingFaults: { failFdatasyncAt: 1 },
  fullDiskFaults: { writeBytesMax: 0 },
};

interface Setup {
  host: PartitionHost;
  router: Router;
  table: PartitionStateTable;
  clock: { now: number };
  logs: HostedLog[];
  dir: (name: string) => string;
}

function setup(impl: Impl, opts: { completionBytes?: number; stats?: WorkerStats; journal?: (root: string) => WorkerJournal } = {}): Setup {
  const requests = createRing(1 << 16);
  const completions = createRing(opts.completionBytes ?? 1 << 16);
  const state = createStateTable(16);
  const clock = { now: 1_000_000 };
  const logs: HostedLog[] = [];
  const openLog: OpenLog = (o) => {
    const opened = impl.open(o);
    logs.push(opened.log);
    return opened;
  };
  const stats = opts.stats === undefined ? undefined : { recorder: opts.stats, worker: 1 };
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-host-"));
  tempDirs.push(root);
  const journal = opts.journal === undefined ? undefined : { journal: opts.journal(root), dataDir: root };
  const host = new PartitionHost({ requests, completions, state, openLog, clock: () => clock.now, stats, journal });
  return {
    host,
    router: new Router(requests, completions),
    table: new PartitionStateTable(state),
    clock,
    logs,
    dir: (name) => path.join(root, name),
  };
}

/** realFileOps that remembers the path of every descriptor it opens, for faults and counts by file. */
function pathTrackingFiles(): { files: FileOps; paths: Map<number, string> } {
  const paths = new Map<number, string>();
  const files: FileOps = {
    ...realFileOps,
    open: (p, flags) => {
      const fd = realFileOps.open(p, flags);
      paths.set(fd, p);
      return fd;
    },
  };
  return { files, paths };
}

function config(entries: Record<string, string | number> = {}): LogConfig {
  return parseTopicConfig({ "flush.interval.ms": 0, "segment.bytes": 1 << 20, ...entries });
}

for (const impl of [memoryImpl, realImpl]) {
  describe(`partition host (${impl.name})`, () => {
    test("produce: PRODUCED at write time, DURABLE after the flush, state row follows", async () => {
      const { host, router, table, clock, dir } = setup(impl);
      host.open(3, dir("p3"), config({ "flush.interval.ms": 5 }));
      expect(table.read(3).online).toBe(true);
      const id1 = router.produce(3, batchOf(["a", "b", "c"]));
      const id2 = router.produce(3, batchOf(["d"]), -1);
      expect(host.drain(clock.now)).toBe(DrainOutcome.EMPTY);
      const acks = router.take();
      expect(acks).toEqual([
        { kind: "produced", slot: 3, requestId: id1, baseOffset: 0, lastOffset: 2, logStartOffset: 0 },
        { kind: "produced", slot: 3, requestId: id2, baseOffset: 3, lastOffset: 3, logStartOffset: 0 },
      ]);
      let row = table.read(3);
      expect(row.logEndOffset).toBe(4);
      expect(row.highWatermark).toBe(0);
      expect(row.messagesIn).toBe(4);
      expect(row.sizeBytes).toBeGreaterThan(0);
      // Not due before flush.interval.ms has passed; the deadline says when.
      expect(host.flushDue(clock.now + 4)).toBe(0);
      await host.flushesSettled();
      expect(host.nextDeadlineMs()).toBe(clock.now + 5);
      expect(router.take()).toEqual([]);
      expect(host.flushDue(clock.now + 5)).toBe(1);
      await host.flushesSettled();
      expect(router.take()).toEqual([{ kind: "durable", slot: 3, durableOffset: 4 }]);
      row = table.read(3);
      expect(row.highWatermark).toBe(4);
      expect(row.durableOffset).toBe(4);
    });

    test("flushOneDue flushes one due partition at a time, oldest dirty first, each DURABLE published after its own flush", async () => {
      const { host, router, table, clock, dir } = setup(impl);
      host.open(1, dir("p1"), config({ "flush.interval.ms": 0 }));
      host.open(2, dir("p2"), config({ "flush.interval.ms": 0 }));
      host.open(3, dir("p3"), config({ "flush.interval.ms": 60_000 }));
      const a = router.produce(2, batchOf(["a"]), -1);
      const b = router.produce(1, batchOf(["b", "c"]), -1);
      router.produce(3, batchOf(["not due"]), -1);
      host.drain(clock.now);
      expect(host.dirtyCount).toBe(3);
      // acks=all answers wait for the flush; the first flush publishes them before its fdatasync.
      expect(router.take()).toEqual([]);
      expect(host.flushOneDue(clock.now)).toBe(true);
      await host.flushesSettled();
      const first = router.take();
      expect(first.filter((c) => c.kind === "produced").map(idOf)).toEqual([a, b, expect.any(Number)]);
      expect(first.filter((c) => c.kind === "durable")).toEqual([{ kind: "durable", slot: 2, durableOffset: 1 }]);
      expect(table.read(2).highWatermark).toBe(1);
      expect(table.read(1).highWatermark).toBe(0);
      // What arrived meanwhile for partition 2 waits for its next turn; partition 1 is next.
      router.produce(2, batchOf(["d"]), -1);
      host.drain(clock.now);
      expect(host.flushOneDue(clock.now)).toBe(true);
      await host.flushesSettled();
      expect(router.take().filter((c) => c.kind === "durable")).toEqual([{ kind: "durable", slot: 1, durableOffset: 2 }]);
      expect(host.flushOneDue(clock.now)).toBe(true);
      await host.flushesSettled();
      expect(router.take().filter((c) => c.kind === "durable")).toEqual([{ kind: "durable", slot: 2, durableOffset: 2 }]);
      // Partition 3 is dirty but not due.
      expect(host.flushOneDue(clock.now)).toBe(false);
      await host.flushesSettled();
      expect(host.dirtyCount).toBe(1);
    });

    test("fetch returns only batches below the high watermark, with base offsets patched", async () => {
      const { host, router, table, dir } = setup(impl);
      host.open(0, dir("p0"), config({ "flush.interval.ms": 1000 }));
      router.produce(0, batchOf(["x", "y"]));
      router.produce(0, batchOf(["z"]));
      host.drain();
      router.take();
      router.fetch(0, 0, 1 << 20);
      host.drain();
      const before = router.take()[0];
      expect(before).toMatchObject({ kind: "fetched", error: 0, highWatermark: 0 });
      expect((before as { bytes: Uint8Array }).bytes.length).toBe(0);
      host.flushDue(0, true);
      router.take();
      router.fetch(0, 0, 1 << 20);
      router.fetch(0, 2, 1 << 20);
      router.fetch(0, 9, 1 << 20);
      host.drain();
      const [all, second, outOfRange] = router.take() as Array<Completion & { kind: "fetched" }>;
      expect(all.highWatermark).toBe(3);
      const batches = decodeBatches(all.bytes);
      expect(batches.map((b) => b.header.baseOffset)).toEqual([0n, 2n]);
      expect(batches.flatMap((b) => b.records.map((r) => new TextDecoder().decode(r.value!)))).toEqual(["x", "y", "z"]);
      expect(decodeBatches(second.bytes).map((b) => b.header.baseOffset)).toEqual([2n]);
      expect(outOfRange.error).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
      expect(outOfRange.bytes.length).toBe(0);
      const row = table.read(0);
      expect(row.bytesOut).toBe(all.bytes.length + second.bytes.length);
      expect(row.messagesOut).toBe(4);
    });

    test("a full completion ring stops the drain without losing or reordering requests", async () => {
      const { host, router, dir } = setup(impl, { completionBytes: 2048 });
      host.open(1, dir("p1"), config());
      const ids: number[] = [];
      for (let i = 0; i < 40; i++) ids.push(router.produce(1, batchOf([`v${i}`])));
      const seen: number[] = [];
      let blocked = 0;
      for (let round = 0; round < 100 && seen.length < ids.length; round++) {
        const outcome = host.drain();
        if (outcome === DrainOutcome.COMPLETIONS_FULL) {
          blocked++;
          expect(host.blockedOnBytes).toBeGreaterThan(0);
        }
        for (const c of router.take()) if (c.kind === "produced") seen.push(c.requestId);
      }
      expect(blocked).toBeGreaterThan(0);
      expect(seen).toEqual(ids);
    });

    test("a failed flush takes the partition offline: one PARTITION_FAILED, then every request fails", async () => {
      const { host, router, table, logs, dir } = setup(impl);
      host.open(2, dir("p2"), config({ "flush.interval.ms": 1000 }), impl.failingFaults);
      router.produce(2, batchOf(["a"]), -1);
      host.drain();
      // An acks=all answer waits for what the flush says (its PRODUCED is published with it).
      expect(router.take()).toEqual([]);
      host.flushDue(0, true);
      const failed = router.take();
      expect(failed).toHaveLength(2);
      expect(failed[0]).toMatchObject({ kind: "produced", slot: 2 });
      expect(failed[1]).toMatchObject({ kind: "partition-failed", slot: 2, error: ErrorCode.KAFKA_STORAGE_ERROR });
      const row = table.read(2);
      expect(row.online).toBe(false);
      expect(row.errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
      expect(row.highWatermark).toBe(0);
      expect(logs[0].online).toBe(false);
      router.produce(2, batchOf(["b"]));
      router.fetch(2, 0, 1000);
      router.offsetForTimestamp(2, 0);
      host.drain();
      // No second flush attempt, no second PARTITION_FAILED.
      host.flushDue(0, true);
      const later = router.take();
      expect(later.map((c) => [c.kind, (c as { error?: number }).error])).toEqual([
        ["failed", ErrorCode.KAFKA_STORAGE_ERROR],
        ["fetched", ErrorCode.KAFKA_STORAGE_ERROR],
        ["failed", ErrorCode.KAFKA_STORAGE_ERROR],
      ]);
    });

    test("requests for a slot that is not open fail with UNKNOWN_TOPIC_OR_PARTITION; bad batches carry the log's code", async () => {
      const { host, router, table, dir } = setup(impl);
      host.open(0, dir("p0"), config());
      router.produce(5, batchOf(["a"]));
      router.fetch(5, 0, 100);
      const corrupt = batchOf(["hello"]);
      corrupt[corrupt.length - 1] ^= 0xff;
      router.produce(0, corrupt);
      host.drain();
      const out = router.take();
      expect(out[0]).toMatchObject({ kind: "failed", error: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });
      expect(out[1]).toMatchObject({ kind: "fetched", error: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });
      expect(out[2]).toMatchObject({ kind: "failed", error: ErrorCode.CORRUPT_MESSAGE });
      expect((out[2] as { message: string }).message.length).toBeGreaterThan(0);
      // A rejected batch is not stored and does not take the partition offline.
      expect(table.read(0)).toMatchObject({ logEndOffset: 0, online: true });
    });

    test("one pass, many produces: each gets its own offsets and answer, in request order, across partitions", async () => {
      const { host, router, table, logs, dir } = setup(impl);
      host.open(0, dir("p0"), config({ "flush.interval.ms": 1000 }));
      host.open(1, dir("p1"), config({ "flush.interval.ms": 1000 }));
      const ids: number[] = [];
      for (let i = 0; i < 6; i++) ids.push(router.produce(i % 2, batchOf([`a${i}`, `b${i}`])));
      expect(host.drain()).toBe(DrainOutcome.EMPTY);
      const out = router.take();
      expect(out.map((c) => [c.kind, c.slot, idOf(c), (c as { baseOffset: number }).baseOffset])).toEqual([
        ["produced", 0, ids[0], 0],
        ["produced", 1, ids[1], 0],
        ["produced", 0, ids[2], 2],
        ["produced", 1, ids[3], 2],
        ["produced", 0, ids[4], 4],
        ["produced", 1, ids[5], 4],
      ]);
      if (impl === memoryImpl) expect(logs.map((l) => (l as MemoryLog).writes)).toEqual([1, 1]);
      expect(table.read(0)).toMatchObject({ logEndOffset: 6, messagesIn: 6 });
      host.flushDue(0, true);
      router.take();
      router.fetch(1, 0, 1 << 20);
      host.drain();
      const fetched = router.take()[0] as Completion & { kind: "fetched" };
      const values = decodeBatches(fetched.bytes).flatMap((b) => b.records.map((r) => new TextDecoder().decode(r.value!)));
      expect(values).toEqual(["a1", "b1", "a3", "b3", "a5", "b5"]);
    });

    test("a bad batch fails only its own request; the requests staged around it are written and answered", async () => {
      const { host, router, table, dir } = setup(impl);
      host.open(0, dir("p0"), config());
      const corrupt = batchOf(["bad"]);
      corrupt[corrupt.length - 1] ^= 0xff;
      const ids = [router.produce(0, batchOf(["x"])), router.produce(0, corrupt), router.produce(7, batchOf(["nowhere"])), router.produce(0, batchOf(["y", "z"]))];
      host.drain();
      const out = router.take();
      expect(out.map((c) => [c.kind, idOf(c), (c as { error?: number }).error ?? (c as { baseOffset: number }).baseOffset])).toEqual([
        ["produced", ids[0], 0],
        ["failed", ids[1], ErrorCode.CORRUPT_MESSAGE],
        ["failed", ids[2], ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
        ["produced", ids[3], 1],
      ]);
      expect(table.read(0)).toMatchObject({ logEndOffset: 3, online: true });
    });

    test("a fetch between produces is answered between them: the produces before it are written first", async () => {
      const { host, router, logs, dir } = setup(impl);
      host.open(0, dir("p0"), config({ "flush.interval.ms": 1000 }));
      const a = router.produce(0, batchOf(["a"]));
      const f = router.fetch(0, 0, 1 << 20);
      const b = router.produce(0, batchOf(["b"]));
      host.drain();
      expect(router.take().map((c) => [c.kind, idOf(c)])).toEqual([
        ["produced", a],
        ["fetched", f],
        ["produced", b],
      ]);
      if (impl === memoryImpl) expect((logs[0] as MemoryLog).writes).toBe(2);
    });

    // The in-memory log's failed write is fatal (as EIO is); the real log undoes a write refused for space and stays online.
    const writeFailureIsFatal = impl === memoryImpl;
    test(`a failed write fails every request staged in that log${writeFailureIsFatal ? ", takes it offline once" : " (full disk: it stays online)"}; other partitions go on`, () => {
      const { host, router, table, dir } = setup(impl);
      host.open(0, dir("p0"), config());
      host.open(1, dir("p1"), config({ "flush.interval.ms": 1000 }), impl.fullDiskFaults);
      const ids = [router.produce(1, batchOf(["a"])), router.produce(0, batchOf(["ok"])), router.produce(1, batchOf(["b"]), -1)];
      host.drain();
      const out = router.take();
      expect(out.map((c) => [c.kind, c.slot, idOf(c), (c as { error?: number }).error ?? 0])).toEqual([
        ["failed", 1, ids[0], ErrorCode.KAFKA_STORAGE_ERROR],
        ["produced", 0, ids[1], 0],
        ["failed", 1, ids[2], ErrorCode.KAFKA_STORAGE_ERROR],
      ]);
      if (writeFailureIsFatal) expect(table.read(1)).toMatchObject({ online: false, logEndOffset: 0, errorCode: ErrorCode.KAFKA_STORAGE_ERROR });
      else expect(table.read(1)).toMatchObject({ online: true, logEndOffset: 0 });
      expect(table.read(0)).toMatchObject({ online: true, logEndOffset: 1 });
      host.flushDue(0, true);
      const after = router.take();
      expect(after.filter((c) => c.kind === "partition-failed")).toMatchObject(writeFailureIsFatal ? [{ slot: 1, error: ErrorCode.KAFKA_STORAGE_ERROR }] : []);
      expect(after.filter((c) => c.kind === "durable")).toEqual([{ kind: "durable", slot: 0, durableOffset: 1 }]);
    });

    test("acks=all answers wait for the flush and are published as it starts, before its fdatasync; acks=1 answers at once", async () => {
      const { host, router, logs, dir } = setup(impl);
      host.open(0, dir("p0"), config({ "flush.interval.ms": 5 }));
      const all1 = router.produce(0, batchOf(["a"]), -1);
      host.drain(0);
      host.drain(0);
      expect(router.completions.hasData()).toBe(false);
      expect(host.flushDue(1)).toBe(0);
      await host.flushesSettled();
      expect(router.completions.hasData()).toBe(false);
      const visibleAtFlush: boolean[] = [];
      if (impl === memoryImpl) (logs[0] as MemoryLog).onFlush = () => visibleAtFlush.push(router.completions.hasData());
      expect(host.flushDue(5)).toBe(1);
      await host.flushesSettled();
      if (impl === memoryImpl) expect(visibleAtFlush).toEqual([true]);
      expect(router.take()).toEqual([
        { kind: "produced", slot: 0, requestId: all1, baseOffset: 0, lastOffset: 0, logStartOffset: 0 },
        { kind: "durable", slot: 0, durableOffset: 1 },
      ]);
      // An acks=1 answer in the pass publishes everything before it too (the ring is FIFO).
      const all2 = router.produce(0, batchOf(["b"]), -1);
      const one = router.produce(0, batchOf(["c"]), 1);
      host.drain(10);
      expect(router.take().map((c) => [c.kind, idOf(c)])).toEqual([
        ["produced", all2],
        ["produced", one],
      ]);
    });

    test("held-back acks=all answers are published once they fill a quarter of the completion ring", async () => {
      const { host, router, dir } = setup(impl);
      host.open(0, dir("p0"), config({ "flush.interval.ms": 60_000 }));
      // 48 bytes per PRODUCED entry: a quarter of the 64 KiB ring is passed by the 342nd.
      for (let pass = 0; pass < 4; pass++) {
        for (let i = 0; i < 80; i++) router.produce(0, batchOf([`v${pass}.${i}`]), -1);
        expect(host.drain(0)).toBe(DrainOutcome.EMPTY);
        expect(router.completions.hasData()).toBe(false);
      }
      for (let i = 0; i < 80; i++) router.produce(0, batchOf([`w${i}`]), -1);
      expect(host.drain(0)).toBe(DrainOutcome.EMPTY);
      const out = router.take();
      expect(out).toHaveLength(400);
      expect(out.map((c) => (c as { baseOffset: number }).baseOffset)).toEqual(Array.from({ length: 400 }, (_, i) => i));
    });

    test("offset for timestamp; close flushes, reports DURABLE and goes offline", async () => {
      const { host, router, table, dir } = setup(impl);
      host.open(4, dir("p4"), config({ "flush.interval.ms": 60_000 }));
      router.produce(4, batchOf(["early"], 100));
      router.produce(4, batchOf(["late"], 500));
      router.offsetForTimestamp(4, 300);
      router.offsetForTimestamp(4, 900);
      host.drain();
      const out = router.take();
      expect(out.slice(2)).toMatchObject([{ kind: "offset", offset: 1, timestampMs: 500 }, { kind: "offset", offset: -1, timestampMs: -1 }]);
      host.close(4);
      expect(router.take()).toEqual([{ kind: "durable", slot: 4, durableOffset: 2 }]);
      expect(table.read(4).online).toBe(false);
      expect(table.read(4).highWatermark).toBe(2);
      expect(() => host.close(4)).toThrow();
      if (impl === realImpl) {
        // The same directory opens again with everything that was acknowledged.
        host.open(4, dir("p4"), config());
        expect(table.read(4)).toMatchObject({ online: true, logEndOffset: 2, highWatermark: 2 });
      }
    });
  });
}

describe("partition host writes (PartitionLog on real files)", () => {
  test("a pass of single-record produces costs one pwritev per partition, not one pwrite per request", async () => {
    const calls = { pwrite: 0, pwritev: 0 };
    const files: FileOps = {
      ...realFileOps,
      pwrite: (fd, buf, off, len, pos) => {
        calls.pwrite++;
        return realFileOps.pwrite(fd, buf, off, len, pos);
      },
      pwritev: (fd, bufs, pos) => {
        calls.pwritev++;
        return (realFileOps.pwritev as NonNullable<FileOps["pwritev"]>)(fd, bufs, pos);
      },
    };
    const counted: Impl = {
      ...realImpl,
      open: ({ dir, config }) => {
        const log = PartitionLog.open({ dir, config, files });
        return { log, recovery: log.recovery };
      },
    };
    const { host, router, table, dir } = setup(counted);
    host.open(0, dir("p0"), config({ "flush.interval.ms": 1000 }));
    host.open(1, dir("p1"), config({ "flush.interval.ms": 1000 }));
    calls.pwrite = 0;
    calls.pwritev = 0;
    // 100 fit one pass: a 64 KiB completion ring has room for 100 answers of the largest kind.
    for (let i = 0; i < 100; i++) router.produce(i % 2, batchOf([`m${i}`]));
    expect(host.drain()).toBe(DrainOutcome.EMPTY);
    expect(calls).toEqual({ pwrite: 0, pwritev: 2 });
    const out = router.take();
    expect(out).toHaveLength(100);
    expect(out.every((c) => c.kind === "produced")).toBe(true);
    expect(table.read(0).logEndOffset).toBe(50);
    expect(table.read(1).logEndOffset).toBe(50);
  });
});

describe("partition host and a full disk (PartitionLog on real files)", () => {
  test("produces get a disk-full error, the partition stays online, and writing resumes once space is freed", async () => {
    const { host, router, table, clock, dir } = setup(realImpl);
    const spaceFile = dir("freed");
    host.open(0, dir("p0"), config({ "flush.interval.ms": 1000 }), { writeBytesMax: 0, spaceFile });
    const refused = [router.produce(0, batchOf(["a"])), router.produce(0, batchOf(["b"]), -1)];
    host.drain();
    const out = router.take() as { kind: string; requestId: number; error?: number; message?: string }[];
    expect(out.map((c) => [c.kind, c.requestId, c.error])).toEqual(refused.map((id) => ["failed", id, ErrorCode.KAFKA_STORAGE_ERROR]));
    expect(out[0].message).toContain("no space left on device (ENOSPC)");
    expect(table.read(0)).toMatchObject({ online: true, logEndOffset: 0 });
    // Within the cool-down the next produce is refused without a write; after it (space freed) it is written.
    fs.writeFileSync(spaceFile, "");
    const early = router.produce(0, batchOf(["c"]));
    host.drain();
    expect(router.take().map((c) => [c.kind, idOf(c), (c as { error?: number }).error])).toEqual([["failed", early, ErrorCode.KAFKA_STORAGE_ERROR]]);
    clock.now += DISK_FULL_RETRY_AFTER_MS;
    const ok = router.produce(0, batchOf(["d", "e"]));
    host.drain();
    expect(router.take()).toEqual([{ kind: "produced", slot: 0, requestId: ok, baseOffset: 0, lastOffset: 1, logStartOffset: 0 }]);
    expect(table.read(0)).toMatchObject({ online: true, logEndOffset: 2 });
  });
});

describe("partition host and a write refused for space after a roll (PartitionLog on real files)", () => {
  test("the produce a roll already wrote is answered PRODUCED; only the refused one fails", async () => {
    // Writes into any segment but the first are refused for space.
    const tracked = pathTrackingFiles();
    const paths = tracked.paths;
    const refuse = (fd: number): void => {
      const p = paths.get(fd) ?? "";
      if (p.endsWith(".log") && !p.endsWith("00000000000000000000.log")) throw fsError("ENOSPC", "write");
    };
    const files: FileOps = {
      ...tracked.files,
      pwrite: (fd, buf, off, len, pos) => {
        refuse(fd);
        return realFileOps.pwrite(fd, buf, off, len, pos);
      },
      pwritev: (fd, bufs, pos) => {
        refuse(fd);
        return (realFileOps.pwritev as NonNullable<FileOps["pwritev"]>)(fd, bufs, pos);
      },
    };
    const rolling: Impl = {
      ...realImpl,
      open: ({ dir, config }) => {
        const log = PartitionLog.open({ dir, config, files });
        return { log, recovery: log.recovery };
      },
    };
    const { host, router, table, dir } = setup(rolling);
    host.open(0, dir("p0"), config({ "flush.interval.ms": 1000, "segment.bytes": 1024 }));
    // Two produces in one pass, each too big to share a 1 KiB segment: staging the second rolls, which writes the first.
    const a = router.produce(0, batchOf(["a".repeat(800)]));
    const b = router.produce(0, batchOf(["b".repeat(800)]));
    host.drain();
    const out = router.take() as { kind: string; requestId: number; error?: number; message?: string }[];
    expect(out.map((c) => [c.kind, c.requestId, c.error ?? 0])).toEqual([
      ["produced", a, 0],
      ["failed", b, ErrorCode.KAFKA_STORAGE_ERROR],
    ]);
    expect(out[1].message).toContain("no space left on device (ENOSPC) writing 00000000000000000001.log");
    expect(table.read(0)).toMatchObject({ online: true, logEndOffset: 1 });
  });
});

describe("partition host retention (PartitionLog on real files)", () => {
  test("retention runs on its interval and on setConfig, and moves the log start in the state row", async () => {
    const { host, router, table, clock, dir } = setup(realImpl);
    // Small segments: every ~1 KiB batch rolls a new one.
    host.open(6, dir("p6"), config({ "segment.bytes": 1024, "file.delete.delay.ms": 0 }));
    for (let i = 0; i < 6; i++) {
      router.produce(6, batchOf(["v".repeat(900)], 1_000 + i));
      host.drain(clock.now);
      host.flushDue(clock.now);
      await host.flushesSettled();
    }
    router.take();
    const before = table.read(6);
    expect(before.segments).toBeGreaterThanOrEqual(5);
    expect(before.logStartOffset).toBe(0);
    // Not due yet: nothing changes.
    host.retentionDue(clock.now + 1);
    expect(table.read(6).logStartOffset).toBe(0);
    // A config change applies retention at once.
    host.setConfig(6, config({ "segment.bytes": 1024, "retention.bytes": 2048, "file.delete.delay.ms": 0 }));
    const after = table.read(6);
    expect(after.logStartOffset).toBeGreaterThan(0);
    expect(after.segments).toBeLessThan(before.segments);
    expect(after.sizeBytes).toBeLessThan(before.sizeBytes);
    expect(after.logEndOffset).toBe(6);
    // And the periodic pass runs once the interval has passed.
    expect(host.nextDeadlineMs()).toBe(clock.now + RETENTION_CHECK_INTERVAL_MS);
  });
});

describe("partition host and damaged data (PartitionLog on real files)", () => {
  test("a fetch at a damaged batch answers CORRUPT_MESSAGE, a fetch before it the valid prefix; the row shows the damage, the partition stays online", async () => {
    const { host, router, table, dir } = setup(realImpl);
    const batches = ["a", "b", "c", "d"].map((v) => batchOf([v.repeat(50)]));
    host.open(7, dir("p7"), config());
    for (const b of batches) router.produce(7, b);
    host.drain();
    host.flushDue(0, true);
    host.close(7);
    router.take();
    // Flip a bit inside the third batch's records (covered by its CRC).
    const file = path.join(dir("p7"), "00000000000000000000.log");
    const bytes = fs.readFileSync(file);
    const third = batches[0].length + batches[1].length;
    bytes[third + batches[2].length - 3] ^= 0x10;
    fs.writeFileSync(file, bytes);

    host.open(7, dir("p7"), config());
    expect(table.read(7)).toMatchObject({ online: true, errorCode: 0, highWatermark: 4 });
    router.fetch(7, 0, 1 << 20);
    router.fetch(7, 2, 1 << 20);
    router.fetch(7, 3, 1 << 20);
    host.drain();
    const [prefix, atDamage, after] = router.take() as Array<Completion & { kind: "fetched" }>;
    expect(prefix.error).toBe(0);
    expect(decodeBatches(prefix.bytes).map((b) => b.header.baseOffset)).toEqual([0n, 1n]);
    expect(atDamage).toMatchObject({ kind: "fetched", error: ErrorCode.CORRUPT_MESSAGE, highWatermark: 4 });
    expect(atDamage.bytes.length).toBe(0);
    expect(after.error).toBe(0);
    expect(decodeBatches(after.bytes).map((b) => b.header.baseOffset)).toEqual([3n]);
    expect(table.read(7)).toMatchObject({ online: true, errorCode: ErrorCode.CORRUPT_MESSAGE });
    // Appends go on.
    router.produce(7, batchOf(["e"]));
    host.drain();
    expect(router.take()).toMatchObject([{ kind: "produced", baseOffset: 4 }]);
  });
});

describe("partition host fdatasync timing (PartitionLog on real files)", () => {
  test("every flush that ran an fdatasync is timed into this worker's stats; a slow disk shows in the high buckets", async () => {
    const recorder = new WorkerStats(createWorkerStats(2));
    const { host, router, dir } = setup(realImpl, { stats: recorder });
    host.open(0, dir("fast"), config({ "flush.interval.ms": 1000 }));
    host.open(1, dir("slow"), config({ "flush.interval.ms": 1000 }), { fdatasyncDelayMs: 20 });
    for (let round = 0; round < 3; round++) {
      router.produce(0, batchOf([`f${round}`]));
      router.produce(1, batchOf([`s${round}`]));
      host.drain();
      expect(host.flushDue(0, true)).toBe(2);
    }
    // Nothing new: no fdatasync, nothing timed.
    host.flushDue(0, true);
    router.take();
    const snap = recorder.fsyncLatency();
    expect(snap.count).toBe(6);
    const slowFrom = fsyncBucketOf(19_000);
    let slow = 0;
    for (let i = slowFrom; i < snap.counts.length; i++) slow += snap.counts[i];
    expect(slow).toBeGreaterThanOrEqual(3);
    expect(snap.sumNs).toBeGreaterThanOrEqual(3 * 20e6);
  });
});

describe("partition host with a worker journal (PartitionLog on real files)", () => {
  /** Real files, with every fdatasync counted by the file it hit. */
  function journaled(opts: { journalCapacity?: number; failJournalSyncAfter?: number } = {}) {
    const syncs = { journal: 0, segments: 0 };
    const tracked = pathTrackingFiles();
    const paths = tracked.paths;
    const files: FileOps = {
      ...tracked.files,
      fdatasync: (fd) => {
        const file = paths.get(fd) ?? "";
        if (file.endsWith(".journal")) {
          syncs.journal++;
          if (opts.failJournalSyncAfter !== undefined && syncs.journal > opts.failJournalSyncAfter) throw fsError("EIO", "fdatasync");
        } else if (file.endsWith(".log")) syncs.segments++;
        realFileOps.fdatasync(fd);
      },
      fdatasyncAsync: (fd, done) => {
        if ((paths.get(fd) ?? "").endsWith(".log")) syncs.segments++;
        realFileOps.fdatasyncAsync!(fd, done);
      },
    };
    const impl: Impl = {
      ...realImpl,
      open: ({ dir, config, faults }) => (faults === undefined ? (() => {
        const log = PartitionLog.open({ dir, config, files });
        return { log, recovery: log.recovery };
      })() : openHostedLog({ dir, config, faults, nowMs: 0 })),
    };
    let journal: WorkerJournal | null = null;
    const s = setup(impl, {
      journal: (root) => (journal = WorkerJournal.create(workerJournalPath(root, 0), files, opts.journalCapacity)),
    });
    const j = journal as unknown as WorkerJournal;
    syncs.journal = 0; // creating it synced once
    return { ...s, syncs, journal: j };
  }

  test("one journal fdatasync makes small appends to four partitions durable; the segments are synced when a partition closes", async () => {
    const { host, router, table, dir, syncs, journal } = journaled();
    for (let slot = 0; slot < 4; slot++) host.open(slot, dir(`p${slot}`), config(), undefined, "topic-id-1");
    syncs.segments = 0; // opening synced each (recovery ends with one)
    for (let slot = 0; slot < 4; slot++) router.produce(slot, batchOf([`a${slot}`, `b${slot}`]), -1);
    expect(host.drain()).toBe(DrainOutcome.EMPTY);
    expect(host.flushOneDue()).toBe(true);
    await host.flushesSettled();
    expect(syncs).toEqual({ journal: 1, segments: 0 });
    const out = router.take();
    expect(out.filter((c) => c.kind === "durable").sort((a, b) => a.slot - b.slot)).toEqual(
      [0, 1, 2, 3].map((slot) => ({ kind: "durable", slot, durableOffset: 2 })),
    );
    for (let slot = 0; slot < 4; slot++) expect(table.read(slot).highWatermark).toBe(2);
    expect(host.dirtyCount).toBe(0);
    expect(host.flushOneDue()).toBe(false);
    await host.flushesSettled();
    // The journal holds one record per partition, with the bytes the segment holds.
    const scan = scanJournal(realFileOps, journal.path);
    expect(scan.records.map((r) => r.dir).sort()).toEqual(["p0#topic-id-1", "p1#topic-id-1", "p2#topic-id-1", "p3#topic-id-1"]);
    expect(decodeBatches(scan.records.find((r) => r.dir === "p2#topic-id-1")!.batches)[0].records.map((r) => new TextDecoder().decode(r.value!))).toEqual(["a2", "b2"]);
    // Closing one partition checkpoints: every journaled segment is synced, then a new generation names none.
    host.close(1);
    expect(syncs.segments).toBe(4);
    expect(journal.generation).toBe(2);
    expect(scanJournal(realFileOps, journal.path).records).toEqual([]);
    // Nothing journaled is left unsynced: closing another one syncs nothing more.
    host.close(2);
    expect(syncs.segments).toBe(4);
  });

  test("replication control calls: leader epoch stamped, truncate checkpoints the journal first and moves the row back", async () => {
    const { host, router, table, dir, journal } = journaled();
    host.open(0, dir("p0"), config(), undefined, "topic-id-1");
    host.open(1, dir("p1"), config(), undefined, "topic-id-1");
    host.setLeaderEpoch(0, 7);
    for (const slot of [0, 1]) router.produce(slot, batchOf(["a", "b", "c"]), -1);
    for (const slot of [0, 1]) router.produce(slot, batchOf(["d", "e"]), -1);
    expect(host.drain()).toBe(DrainOutcome.EMPTY);
    expect(host.flushOneDue()).toBe(true);
    await host.flushesSettled();
    router.take();
    expect(table.read(0).highWatermark).toBe(5);
    expect(scanJournal(realFileOps, journal.path).records.length).toBe(2);
    expect(host.endOffsetForEpoch(0, 7)).toEqual({ epoch: 7, endOffset: 5 });
    expect(host.endOffsetForEpoch(1, 7)).toEqual({ epoch: -1, endOffset: -1 });
    // The journal names slot 0's bytes past offset 3: it must start a new generation before the cut.
    expect(host.truncate(0, 3)).toEqual({ logEndOffset: 3, removedOffsets: 2, removedSegments: 0 });
    expect(journal.generation).toBe(2);
    expect(scanJournal(realFileOps, journal.path).records).toEqual([]);
    const row = table.read(0);
    expect([row.logEndOffset, row.durableOffset, row.highWatermark]).toEqual([3, 3, 3]);
    // The other partition is untouched, and appends go on at the cut.
    expect(table.read(1).logEndOffset).toBe(5);
    router.produce(0, batchOf(["f"]), -1);
    host.drain();
    host.flushDue();
    await host.flushesSettled();
    const out = router.take();
    expect(out.find((c) => c.kind === "produced")).toMatchObject({ slot: 0, baseOffset: 3, lastOffset: 3 });
    expect(out.find((c) => c.kind === "durable")).toEqual({ kind: "durable", slot: 0, durableOffset: 4 });
    expect(() => host.setLeaderEpoch(0, 6)).toThrow("older than the log's latest epoch 7");
    expect(() => host.truncate(9, 0)).toThrow("slot 9 is not open");
  });

  test("a follower append keeps the leader's offsets and epochs and becomes durable by group commit (journal round), DURABLE published", async () => {
    const { host, router, table, dir, syncs } = journaled();
    host.open(0, dir("leader"), config(), undefined, "topic-id-1");
    host.open(1, dir("follower"), config(), undefined, "topic-id-1");
    host.setLeaderEpoch(0, 2);
    router.produce(0, batchOf(["a", "b"]), -1);
    router.produce(0, batchOf(["c"]), -1);
    host.drain();
    host.flushDue();
    await host.flushesSettled();
    router.take();
    // What a replica fetch returns: the leader's stored batches, up to its high watermark.
    router.fetch(0, 0, 1 << 20);
    host.drain();
    const fetched = (router.take().find((c) => c.kind === "fetched") as Completion & { kind: "fetched" }).bytes;
    expect(fetched.length).toBeGreaterThan(0);
    expect(host.appendAsFollower(1, fetched.slice())).toEqual({ baseOffset: 0, lastOffset: 2 });
    expect(table.read(1).logEndOffset).toBe(3);
    expect(() => host.appendAsFollower(1, fetched.slice())).toThrow("the log ends at 3");
    syncs.journal = 0;
    expect(host.flushDue()).toBeGreaterThan(0);
    await host.flushesSettled();
    expect(syncs.journal).toBe(1);
    expect(router.take().filter((c) => c.kind === "durable" && c.slot === 1)).toEqual([{ kind: "durable", slot: 1, durableOffset: 3 }]);
    expect(table.read(1).highWatermark).toBe(3);
    expect(host.endOffsetForEpoch(1, 2)).toEqual({ epoch: 2, endOffset: 3 });
    host.closeAll();
    // Byte for byte the leader's segment.
    const name = "00000000000000000000.log";
    expect(fs.readFileSync(path.join(dir("follower"), name))).toEqual(fs.readFileSync(path.join(dir("leader"), name)));
  });

  test("a partition with more than JOURNAL_PARTITION_ROUND_BYTES_MAX unsynced bytes syncs its own segment", async () => {
    const { host, router, dir, syncs } = journaled();
    host.open(0, dir("big"), config(), undefined, "topic-id-1");
    host.open(1, dir("small"), config(), undefined, "topic-id-1");
    syncs.segments = 0;
    // More than the bound in batches that each fit the test's small request ring.
    const piece = encodeBatch([{ value: new Uint8Array(30_000), timestamp: 1 }]);
    for (let sent = 0; sent <= JOURNAL_PARTITION_ROUND_BYTES_MAX; sent += piece.length) {
      expect(router.produce(0, piece, -1)).toBeGreaterThan(0);
      host.drain();
    }
    router.produce(1, batchOf(["x"]), -1);
    host.drain();
    expect(host.flushDue()).toBe(2);
    await host.flushesSettled();
    expect(syncs).toEqual({ journal: 1, segments: 1 });
    expect(router.take().filter((c) => c.kind === "durable").map((c) => c.slot).sort()).toEqual([0, 1]);
  });

  test("a partition opened with storage faults never uses the journal: its failing fdatasync still takes it offline", async () => {
    const { host, router, table, dir, syncs } = journaled();
    host.open(0, dir("ok"), config(), undefined, "topic-id-1");
    host.open(1, dir("faulty"), config(), { failFdatasyncAt: 1 }, "topic-id-1");
    router.produce(0, batchOf(["ok"]), -1);
    router.produce(1, batchOf(["lost"]), -1);
    host.drain();
    host.flushDue();
    await host.flushesSettled();
    expect(syncs.journal).toBe(1);
    const out = router.take();
    expect(out.filter((c) => c.kind === "durable")).toEqual([{ kind: "durable", slot: 0, durableOffset: 1 }]);
    expect(out.some((c) => c.kind === "partition-failed" && c.slot === 1 && c.error === ErrorCode.KAFKA_STORAGE_ERROR)).toBe(true);
    expect(table.read(1).online).toBe(false);
  });

  test("a failing journal is dropped: the round's partitions sync their own segments and their acks still come", async () => {
    const { host, router, table, dir, syncs } = journaled({ failJournalSyncAfter: 1 });
    host.open(0, dir("p0"), config(), undefined, "topic-id-1");
    host.open(1, dir("p1"), config(), undefined, "topic-id-1");
    syncs.segments = 0;
    router.produce(0, batchOf(["r1"]), -1);
    router.produce(1, batchOf(["r1"]), -1);
    host.drain();
    expect(host.flushOneDue()).toBe(true); // journal round 1 works
    expect(syncs).toEqual({ journal: 1, segments: 0 });
    router.produce(0, batchOf(["r2"]), -1);
    router.produce(1, batchOf(["r2"]), -1);
    host.drain();
    expect(host.flushOneDue()).toBe(true); // round 2: the journal fdatasync fails
    // Both segments synced (the first round's bytes too): nothing rests on the broken journal.
    expect(syncs).toEqual({ journal: 2, segments: 2 });
    expect(router.take().filter((c) => c.kind === "durable").map((c) => [c.slot, (c as { durableOffset: number }).durableOffset])).toEqual([
      [0, 1], [1, 1], [0, 2], [1, 2],
    ].sort((a, b) => a[1] - b[1] || a[0] - b[0]) as number[][]);
    expect(table.read(0).online && table.read(1).online).toBe(true);
    // From now on every partition syncs its own segment.
    router.produce(0, batchOf(["r3"]), -1);
    host.drain();
    host.flushDue();
    await host.flushesSettled();
    expect(syncs).toEqual({ journal: 2, segments: 3 });
  });

  test("a partition with JOURNAL_PARTITION_UNSYNCED_BYTES_MAX journaled and not synced syncs its own segment next, then joins the journal again", async () => {
    const { host, router, dir, syncs } = journaled();
    host.open(0, dir("p0"), config({ "segment.bytes": 8 << 20 }), undefined, "topic-id-1");
    host.open(1, dir("p1"), config({ "segment.bytes": 8 << 20 }), undefined, "topic-id-1");
    syncs.segments = 0;
    const piece = encodeBatch([{ value: new Uint8Array(30_000), timestamp: 1 }]);
    const small = batchOf(["x"]);
    // Each round: a piece for partition 0 and a small batch for partition 1, one journal fdatasync for both.
    let rounds = 0;
    for (let journaled = 0; journaled < JOURNAL_PARTITION_UNSYNCED_BYTES_MAX; journaled += piece.length) {
      router.produce(0, piece, -1);
      router.produce(1, small, -1);
      host.drain();
      expect(host.flushDue()).toBe(1); // fdatasyncs done
      rounds++;
    }
    expect(syncs).toEqual({ journal: rounds, segments: 0 });
    // Partition 0 now holds a bound's worth only the journal covers: its next flush is its own segment's.
    router.produce(0, piece, -1);
    router.produce(1, small, -1);
    host.drain();
    expect(host.flushDue()).toBe(2);
    await host.flushesSettled();
    expect(syncs).toEqual({ journal: rounds + 1, segments: 1 });
    // Synced, it takes part in journal rounds again.
    router.produce(0, piece, -1);
    router.produce(1, small, -1);
    host.drain();
    expect(host.flushDue()).toBe(1);
    await host.flushesSettled();
    expect(syncs).toEqual({ journal: rounds + 2, segments: 1 });
    const durable = router.take().filter((c) => c.kind === "durable" && c.slot === 0).map((c) => (c as { durableOffset: number }).durableOffset);
    expect(durable).toEqual(durable.map((_, k) => k + 1));
  });

  test("a full journal checkpoints (segments synced, new generation) before the next round", async () => {
    const capacity = JOURNAL_HEADER_BYTES + JOURNAL_ROUND_BYTES_MAX + 64 * 1024;
    const { host, router, dir, syncs, journal } = journaled({ journalCapacity: capacity });
    host.open(0, dir("p0"), config(), undefined, "topic-id-1");
    host.open(1, dir("p1"), config(), undefined, "topic-id-1");
    syncs.segments = 0;
    const value = new Uint8Array(20_000);
    let rounds = 0;
    while (journal.generation === 1) {
      router.produce(0, encodeBatch([{ value, timestamp: 1 }]), -1);
      router.produce(1, encodeBatch([{ value, timestamp: 1 }]), -1);
      host.drain();
      expect(host.flushOneDue()).toBe(true);
      await host.flushesSettled();
      rounds++;
      expect(rounds).toBeLessThan(10);
    }
    // The checkpoint synced both segments (which covered the appends of its round too).
    expect(syncs.segments).toBe(2);
    expect(rounds).toBe(3); // 2 rounds of ~40 KB fit; the third finds less than a round's room left
    expect(scanJournal(realFileOps, journal.path).records).toEqual([]);
    router.produce(0, encodeBatch([{ value, timestamp: 1 }]), -1);
    router.produce(1, encodeBatch([{ value, timestamp: 1 }]), -1);
    host.drain();
    expect(host.flushOneDue()).toBe(true);
    await host.flushesSettled();
    expect(syncs.segments).toBe(2);
    const scan = scanJournal(realFileOps, journal.path);
    expect(scan.generation).toBe(2);
    expect(scan.records.map((r) => r.dir).sort()).toEqual(["p0#topic-id-1", "p1#topic-id-1"]);
    expect(router.take().filter((c) => c.kind === "durable").map((c) => (c as { durableOffset: number }).durableOffset)).toEqual([1, 1, 2, 2, 3, 3, 4, 4]);
  });

  test("a partition opened without an incarnation (which the replay could not check) never uses the journal", async () => {
    const { host, router, dir, syncs } = journaled();
    host.open(0, dir("p0"), config());
    syncs.segments = 0;
    router.produce(0, batchOf(["a"]), -1);
    host.drain();
    host.flushDue();
    await host.flushesSettled();
    expect(syncs).toEqual({ journal: 0, segments: 1 });
  });

  test("closeAll syncs every partition and removes the journal file", async () => {
    const { host, router, dir, journal } = journaled();
    host.open(0, dir("p0"), config(), undefined, "topic-id-1");
    host.open(1, dir("p1"), config(), undefined, "topic-id-1");
    router.produce(0, batchOf(["a"]), -1);
    router.produce(1, batchOf(["b"]), -1);
    host.drain();
    host.flushOneDue();
    await host.flushesSettled();
    expect(fs.existsSync(journal.path)).toBe(true);
    host.closeAll();
    expect(fs.existsSync(journal.path)).toBe(false);
    const reopened = PartitionLog.open({ dir: dir("p1"), config: config() });
    expect(reopened.durableOffset).toBe(1);
    reopened.close();
  });
});

describe("a broken invariant in a log is not turned into an answer", () => {
  /** A log whose next stage() or flush() breaks an invariant (AssertionError) or fails as storage does (SluiceError). */
  class BreakingLog extends MemoryLog {
    breakStage: Error | null = null;
    breakFlush: Error | null = null;
    override stage(...args: Parameters<MemoryLog["stage"]>): ReturnType<MemoryLog["stage"]> {
      if (this.breakStage !== null) throw this.breakStage;
      return super.stage(...args);
    }
    override flush(): number {
      if (this.breakFlush !== null) throw this.breakFlush;
      return super.flush();
    }
  }
  const breaking: Impl = { ...memoryImpl, name: "breaking log", open: ({ config }) => ({ log: new BreakingLog(config), recovery: null }) };

  test("an AssertionError from stage() escapes drain(); a SluiceError from it fails only that request", async () => {
    const { host, router, logs, dir } = setup(breaking);
    host.open(0, dir("p0"), config());
    const log = logs[0] as BreakingLog;
    log.breakStage = new SluiceError(ErrorCode.KAFKA_STORAGE_ERROR, "disk says no");
    const id = router.produce(0, batchOf(["a"]));
    host.drain();
    expect(router.take().map((c) => [c.kind, idOf(c)])).toEqual([["failed", id]]);
    log.breakStage = new AssertionError("log: offsets given out of order");
    router.produce(0, batchOf(["b"]));
    expect(() => host.drain()).toThrow(AssertionError);
  });

  test("an AssertionError from flush() escapes the group commit instead of passing for a storage failure", async () => {
    const { host, router, logs, table, dir } = setup(breaking);
    host.open(0, dir("p0"), config());
    const log = logs[0] as BreakingLog;
    router.produce(0, batchOf(["a"]), -1);
    host.drain();
    log.breakFlush = new AssertionError("log: a flush moved the durable offset back");
    expect(() => host.flushDue()).toThrow(AssertionError);
    // Not reported as a storage failure: the row was not taken offline for it.
    expect(table.read(0)).toMatchObject({ online: true });
  });
});
