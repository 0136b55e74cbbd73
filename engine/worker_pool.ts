// The router side of the partition workers: starts the worker threads, maps
// partition slots to them, writes produce/fetch requests into each worker's
// request ring and turns completions from its completion ring back into the
// callers' callbacks.
//
// Runs on: the router (main) thread.
//
// Durability contract of produce():
// - acks=1: `cb` runs once the worker wrote the batches to the segment file (page
//   cache). A crash of the machine may lose them.
// - acks=-1 (all): `cb` runs only after an fdatasync covering the request's last
//   offset has returned: the batches survive a crash. On a single node this is
//   also when they become visible to fetches (high watermark = durable offset).
// - acks=0: `cb` runs at write time like acks=1 (the caller sends no response,
//   but errors are still reported).
// - If the fdatasync fails, every acks=all request of that partition still waiting
//   gets KAFKA_STORAGE_ERROR and the partition stays offline (no retry).
// - Requests for one partition are appended in the order produce() was called.
//
// Parts: the requests in flight of one worker (in_flight_queue.ts), acks=all
// results waiting for their fdatasync (durable_waiters.ts), the router's end
// of one worker (worker_link.ts), and how callers are called back
// (pool_callbacks.ts).
//
// Hot path: no promise and no postMessage per request. A request is copied into
// the ring and its callback goes into a bounded per-worker FIFO (completions come
// back in request order). The ring's tail is published once per microtask turn for
// all requests of that turn, and a parked worker is woken once per event-loop pass
// (setImmediate) for all turns of that pass. Completions are drained with one
// Atomics.waitAsync wake per batch.

import * as os from "node:os";
import { readI32 } from "../protocol/big_endian.ts";
import { BATCH_LENGTH_OFFSET, BATCH_OVERHEAD_BYTES } from "../protocol/record_batch.ts";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { COMPLETION_RING_BYTES, PARTITIONS_MAX, RING_BYTES } from "../protocol/limits.ts";
import {
  Common,
  type ControlReply,
  type ControlRequest,
  DurableCompl,
  type EpochEndOffset,
  EntryKind,
  FailedCompl,
  FetchReq,
  FetchedCompl,
  type LogConfig,
  OffsetCompl,
  OffsetForTimestampReq,
  PartitionStateTable,
  type PartitionStateView,
  ProduceReq,
  ProducedCompl,
  RingConsumer,
  RingWord,
  type TruncateResult,
  WORKER_ENTRY_URL,
  WorkerStats,
  createRing,
  createStateTable,
  createWorkerStats,
  workerJournalPath,
} from "../workers/mod.ts";
import { COMPLETION_WAIT_MS, COMPLETION_WAIT_WRITABLE_MS, REQUESTS_IN_FLIGHT_PER_WORKER_MAX, WORKER_EXIT_WAIT_MS } from "./engine_limits.ts";
import { DurableWaiters } from "./durable_waiters.ts";
import { RequestType } from "./in_flight_queue.ts";
import { Histogram } from "./metrics.ts";
import type { FetchCallback, OffsetCallback, OpenPartitionOptions, ProduceCallback } from "./partition_pool.ts";
import { advanced, defer, failLater, fetched, invoke, produced } from "./pool_callbacks.ts";
import { WorkerLink } from "./worker_link.ts";

export type { PartitionStateView } from "../workers/mod.ts";

export interface WorkerPoolOptions {
  /** Partition worker threads; 0 or absent = one per core. */
  workers: number;
  /** Rows of the shared state table (largest slot + 1). Default PARTITIONS_MAX. */
  partitionsMax?: number;
  /** Data bytes of each request ring (power of two). Default RING_BYTES; tests use small rings. */
  requestRingBytes?: number;
  /** Data bytes of each completion ring (power of two). Default COMPLETION_RING_BYTES. */
  completionRingBytes?: number;
  /** Requests in flight per worker. Default REQUESTS_IN_FLIGHT_PER_WORKER_MAX; tests use small bounds. */
  requestsInFlightMax?: number;
  /**
   * The data dir whose `journal/` holds one journal per worker
   * (workers/log/worker_journal.ts). Replay old journals before starting the
   * pool (journal_replay.ts): a worker starts its journal empty. Absent: no journal.
   */
  journalDataDir?: string;
}

export interface RingStats {
  worker: number;
  requestBytesUsed: number;
  requestBytesCapacity: number;
  completionBytesUsed: number;
  completionBytesCapacity: number;
}

const EMPTY_BYTES = new Uint8Array(0);
const utf8 = new TextDecoder();

export class WorkerPool {
  private readonly links: WorkerLink[];
  private readonly table: PartitionStateTable;
  private readonly tableSab: SharedArrayBuffer;
  /** Counters the workers add to (fdatasync latency); kept referenced until they have ended. */
  private readonly stats: WorkerStats;
  readonly partitionsMax: number;
  /** Worker index per slot; -1 = not open. */
  private readonly slotWorker: Int32Array;
  /** Durable offset per slot as last reported (the acks=all threshold). */
  private readonly durable: Float64Array;
  /** Non-zero: the partition failed with this code; acks=all on it fail at once. */
  private readonly failedCode: Int32Array;
  private readonly waiters = new Map<number, DurableWaiters>();
  private readonly advanceListeners: Array<(slot: number) => void> = [];
  private nextControlId = 1;
  private shuttingDown: Promise<void> | null = null;

  private constructor(links: WorkerLink[], tableSab: SharedArrayBuffer, statsSab: SharedArrayBuffer, partitionsMax: number) {
    this.links = links;
    this.tableSab = tableSab;
    this.table = new PartitionStateTable(tableSab);
    this.stats = new WorkerStats(statsSab);
    this.partitionsMax = partitionsMax;
    this.slotWorker = new Int32Array(partitionsMax).fill(-1);
    this.durable = new Float64Array(partitionsMax);
    this.failedCode = new Int32Array(partitionsMax);
  }

  static async start(opts: WorkerPoolOptions): Promise<WorkerPool> {
    const workers = opts.workers > 0 ? opts.workers : os.availableParallelism();
    const partitionsMax = opts.partitionsMax ?? PARTITIONS_MAX;
    if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`workers must be a positive integer, got ${opts.workers}`);
    if (!Number.isInteger(partitionsMax) || partitionsMax < 1 || partitionsMax > PARTITIONS_MAX) {
      throw new RangeError(`partitionsMax must be from 1 to ${PARTITIONS_MAX}, got ${partitionsMax}`);
    }
    const inFlightMax = opts.requestsInFlightMax ?? REQUESTS_IN_FLIGHT_PER_WORKER_MAX;
    if (!Number.isInteger(inFlightMax) || inFlightMax < 1 || inFlightMax > REQUESTS_IN_FLIGHT_PER_WORKER_MAX) {
      throw new RangeError(`requestsInFlightMax must be from 1 to ${REQUESTS_IN_FLIGHT_PER_WORKER_MAX}, got ${inFlightMax}`);
    }
    const tableSab = createStateTable(partitionsMax);
    const statsSab = createWorkerStats(workers);
    const links: WorkerLink[] = [];
    const ready: Promise<void>[] = [];
    for (let i = 0; i < workers; i++) {
      const requestsSab = createRing(opts.requestRingBytes ?? RING_BYTES);
      const completionsSab = createRing(opts.completionRingBytes ?? COMPLETION_RING_BYTES);
      const worker = new Worker(WORKER_ENTRY_URL, { type: "module" });
      const link = new WorkerLink(i, worker, requestsSab, completionsSab, inFlightMax);
      links.push(link);
      ready.push(
        new Promise<void>((resolve, reject) => {
          const onReady = (e: MessageEvent) => {
            if ((e.data as ControlReply).op !== "ready") return;
            worker.removeEventListener("message", onReady);
            worker.removeEventListener("error", onError);
            resolve();
          };
          const onError = (e: Event) => reject(new Error(`worker ${i} failed to start: ${(e as ErrorEvent).message}`));
          worker.addEventListener("message", onReady);
          worker.addEventListener("error", onError);
        }),
      );
      const journal = opts.journalDataDir === undefined ? undefined : { path: workerJournalPath(opts.journalDataDir, i), dataDir: opts.journalDataDir };
      const init: ControlRequest = { op: "init", workerIndex: i, requests: requestsSab, completions: completionsSab, state: tableSab, stats: statsSab, journal };
      worker.postMessage(init);
    }
    try {
      await Promise.all(ready);
    } catch (err) {
      for (const l of links) l.worker.terminate();
      throw err;
    }
    const pool = new WorkerPool(links, tableSab, statsSab, partitionsMax);
    for (const link of links) pool.attach(link);
    return pool;
  }

  get workerCount(): number {
    return this.links.length;
  }

  // ------------------------------------------------------------------ control

  /** Open (and recover) a partition on a worker. Rejects with the log's SluiceError (code preserved). */
  async openPartition(slot: number, worker: number, dir: string, config: LogConfig, opts: OpenPartitionOptions = {}): Promise<{ recovery: unknown }> {
    this.checkSlot(slot);
    if (!Number.isInteger(worker) || worker < 0 || worker >= this.links.length) {
      throw new SluiceError(ErrorCode.INVALID_REQUEST, `worker ${worker} outside 0..${this.links.length - 1}`);
    }
    if (this.slotWorker[slot] !== -1) throw new SluiceError(ErrorCode.INVALID_REQUEST, `slot ${slot} is already open`);
    const link = this.links[worker];
    const recovery = await this.call(link, { op: "open", id: 0, slot, dir, config, faults: opts.faults, incarnation: opts.incarnation });
    this.slotWorker[slot] = worker;
    this.durable[slot] = this.table.read(slot).durableOffset;
    this.failedCode[slot] = 0;
    return { recovery };
  }

  /** Flush, checkpoint and close a partition; acks=all waiters covered by the final flush succeed. */
  async closePartition(slot: number): Promise<void> {
    const link = this.linkOfOpen(slot);
    await this.call(link, { op: "close", id: 0, slot });
    this.forgetSlot(slot, ErrorCode.NOT_LEADER_OR_FOLLOWER, "the partition was closed");
  }

  /** Close a partition without a final flush and remove its files. Waiting acks=all fail. */
  async deletePartition(slot: number): Promise<void> {
    const link = this.linkOfOpen(slot);
    await this.call(link, { op: "delete", id: 0, slot });
    this.forgetSlot(slot, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, "the partition was deleted");
  }

  async setConfig(slot: number, config: LogConfig): Promise<void> {
    const link = this.linkOfOpen(slot);
    await this.call(link, { op: "setConfig", id: 0, slot, config });
  }

  // ------------------------------------------------------------------ replication (docs/CLUSTER.md)

  /** The partition leads in `epoch` from now on: its next appends carry it, the epoch file starts it at the log end. */
  async setLeaderEpoch(slot: number, epoch: number): Promise<void> {
    await this.call(this.linkOfOpen(slot), { op: "setLeaderEpoch", id: 0, slot, epoch });
  }

  /** Kafka's OffsetForLeaderEpoch on this replica's log. */
  async endOffsetForEpoch(slot: number, epoch: number): Promise<EpochEndOffset> {
    return (await this.call(this.linkOfOpen(slot), { op: "endOffsetForEpoch", id: 0, slot, epoch })) as EpochEndOffset;
  }

  /** Cuts the log back to `offset` (a batch boundary); the row moves back with it. */
  async truncate(slot: number, offset: number): Promise<TruncateResult> {
    return (await this.call(this.linkOfOpen(slot), { op: "truncate", id: 0, slot, offset })) as TruncateResult;
  }

  /**
   * A follower's append of batches fetched from the leader, offsets and epochs
   * kept. Goes through the request ring as a FOLLOWER_APPEND entry, like a
   * produce: one copy into shared memory, written by the worker from there
   * with the pass's other appends (a control message cost a structured clone
   * on each side and a wake-up). More bytes than one ring entry holds go as
   * several entries, cut at batch boundaries, in order. Resolves once written;
   * the row's durable offset moves with the worker's group commit, as for
   * produces. Rejects with the log's error (OFFSET_MISMATCH, a bad batch, ...).
   * `records` may be reused once this returns (what the ring could not take yet
   * is copied).
   */
  appendAsFollower(slot: number, records: Uint8Array): Promise<{ baseOffset: number; lastOffset: number }> {
    return new Promise((resolve, reject) => {
      const link = this.linkFor(slot, ((err: number, _res: unknown, message?: string) => reject(new SluiceError(err, message ?? ""))) as ProduceCallback, RequestType.PRODUCE);
      if (link === null) return;
      const pieceMax = link.requests.payloadBytesMax - ProduceReq.RECORDS;
      let pos = 0;
      let baseOffset = -1;
      let failed = false;
      let copied = false;
      const next = (): void => {
        while (!failed && pos < records.length) {
          const end = wholeBatchesEnd(records, pos, pieceMax);
          const last = end >= records.length;
          const cb: ProduceCallback = (err, res, message) => {
            if (err !== ErrorCode.NONE || res === null) {
              failed = true;
              reject(new SluiceError(err, message ?? `the follower append to slot ${slot} failed`));
              return;
            }
            if (baseOffset < 0) baseOffset = res.baseOffset;
            if (last) resolve({ baseOffset, lastOffset: res.lastOffset });
          };
          if (!this.enqueueRecords(link, EntryKind.FOLLOWER_APPEND, slot, records.subarray(pos, end), 1, cb)) {
            // The caller's view may die when this returns: keep a copy of what is left for later.
            if (!copied) {
              records = records.slice(pos);
              pos = 0;
              copied = true;
            }
            this.onWritable(this.links.indexOf(link), next);
            return;
          }
          pos = end;
        }
      };
      next();
    });
  }

  // ------------------------------------------------------------------ hot path

  /**
   * Append `records` (whole batches) to a partition. Copies them into the ring; the
   * caller may reuse its buffer on return. Returns false when the worker's ring (or
   * its in-flight bound) is full: nothing was queued; wait for onWritable(worker).
   */
  produce(slot: number, records: Uint8Array, acks: 0 | 1 | -1, cb: ProduceCallback): boolean {
    const link = this.linkFor(slot, cb, RequestType.PRODUCE);
    if (link === null) return true;
    if (acks !== 0 && acks !== 1 && acks !== -1) {
      failLater(RequestType.PRODUCE, cb, ErrorCode.INVALID_REQUIRED_ACKS, `acks must be 0, 1 or -1, got ${acks}`);
      return true;
    }
    const payload = ProduceReq.RECORDS + records.length;
    if (payload > link.requests.payloadBytesMax) {
      const message = `records of ${records.length} bytes exceed the ring's entry limit ${link.requests.payloadBytesMax - ProduceReq.RECORDS}`;
      failLater(RequestType.PRODUCE, cb, ErrorCode.RECORD_LIST_TOO_LARGE, message);
      return true;
    }
    return this.enqueueRecords(link, EntryKind.PRODUCE, slot, records, acks, cb);
  }

  /** One PRODUCE or FOLLOWER_APPEND entry (same layout); false when the ring or the in-flight bound is full. */
  private enqueueRecords(link: WorkerLink, kind: number, slot: number, records: Uint8Array, acks: number, cb: ProduceCallback): boolean {
    const r = link.requests;
    const payload = ProduceReq.RECORDS + records.length;
    if (link.pending >= link.pendingMax) return this.refuse(link, payload);
    const at = r.reserve(kind, payload);
    if (at === -1) return this.refuse(link, payload);
    const id = link.nextRequestId;
    link.nextRequestId = (id + 1) >>> 0;
    r.u32[(at + ProduceReq.SLOT) >>> 2] = slot;
    r.u32[(at + ProduceReq.REQUEST_ID) >>> 2] = id;
    r.i32[(at + ProduceReq.ACKS) >>> 2] = acks;
    r.u32[(at + ProduceReq.RECORDS_BYTES) >>> 2] = records.length;
    r.bytes.set(records, at + ProduceReq.RECORDS);
    r.commit();
    link.inflight.push(RequestType.PRODUCE, slot, id, acks, cb);
    link.pending++;
    this.schedulePublish(link);
    return true;
  }

  /**
   * Read whole batches from `offset`, below the high watermark (the durable
   * offset), or below `upperBound` and the log end when it is given (a replica
   * fetch: the log end; a leader's consumer fetch: its replicated high
   * watermark). False = ring full (see produce).
   */
  fetch(slot: number, offset: number, maxBytes: number, cb: FetchCallback, upperBound = -1): boolean {
    const link = this.linkFor(slot, cb, RequestType.FETCH);
    if (link === null) return true;
    if (!Number.isSafeInteger(offset) || !Number.isInteger(maxBytes) || maxBytes < 0) {
      failLater(RequestType.FETCH, cb, ErrorCode.INVALID_REQUEST, "");
      return true;
    }
    if (link.pending >= link.pendingMax) return this.refuse(link, FetchReq.BYTES);
    const r = link.requests;
    const at = r.reserve(EntryKind.FETCH, FetchReq.BYTES);
    if (at === -1) return this.refuse(link, FetchReq.BYTES);
    const id = link.nextRequestId;
    link.nextRequestId = (id + 1) >>> 0;
    r.u32[(at + FetchReq.SLOT) >>> 2] = slot;
    r.u32[(at + FetchReq.REQUEST_ID) >>> 2] = id;
    r.u32[(at + FetchReq.MAX_BYTES) >>> 2] = Math.min(maxBytes, 0xffff_ffff);
    r.f64[(at + FetchReq.OFFSET) >>> 3] = offset;
    r.f64[(at + FetchReq.UPPER_BOUND) >>> 3] = upperBound;
    r.commit();
    link.inflight.push(RequestType.FETCH, slot, id, 0, cb);
    link.pending++;
    this.schedulePublish(link);
    return true;
  }

  /** First record whose timestamp is at least `timestampMs`: its offset and timestamp (-1, -1 if none). False = ring full. */
  offsetForTimestamp(slot: number, timestampMs: number, cb: OffsetCallback): boolean {
    const link = this.linkFor(slot, cb, RequestType.OFFSET);
    if (link === null) return true;
    if (link.pending >= link.pendingMax) return this.refuse(link, OffsetForTimestampReq.BYTES);
    const r = link.requests;
    const at = r.reserve(EntryKind.OFFSET_FOR_TIMESTAMP, OffsetForTimestampReq.BYTES);
    if (at === -1) return this.refuse(link, OffsetForTimestampReq.BYTES);
    const id = link.nextRequestId;
    link.nextRequestId = (id + 1) >>> 0;
    r.u32[(at + OffsetForTimestampReq.SLOT) >>> 2] = slot;
    r.u32[(at + OffsetForTimestampReq.REQUEST_ID) >>> 2] = id;
    r.f64[(at + OffsetForTimestampReq.TIMESTAMP_MS) >>> 3] = timestampMs;
    r.commit();
    link.inflight.push(RequestType.OFFSET, slot, id, 0, cb);
    link.pending++;
    this.schedulePublish(link);
    return true;
  }

  /** `cb` runs once, on the router thread, when that worker's ring has room again. */
  onWritable(worker: number, cb: () => void): void {
    const link = this.links[worker];
    if (link === undefined) throw new RangeError(`worker ${worker} outside 0..${this.links.length - 1}`);
    link.writableWaiters.push(cb);
    // Room may already be back (the worker drained since the refusal).
    defer(() => this.checkWritable(link));
  }

  workerOf(slot: number): number {
    this.checkSlot(slot);
    return this.slotWorker[slot];
  }

  /** The partition's row of the shared state table; no message to the worker. */
  state(slot: number): PartitionStateView {
    this.checkSlot(slot);
    return this.table.read(slot);
  }

  /** The high watermark alone (cheaper than state() for long-poll checks). */
  highWatermark(slot: number): number {
    this.checkSlot(slot);
    return this.table.highWatermark(slot);
  }

  /** `cb(slot)` runs on the router thread whenever a partition's high watermark advanced. */
  onAdvance(cb: (slot: number) => void): void {
    this.advanceListeners.push(cb);
  }

  ringStats(): RingStats[] {
    return this.links.map((l) => ({
      worker: l.index,
      requestBytesUsed: l.requests.bytesUsed(),
      requestBytesCapacity: l.requests.capacity,
      completionBytesUsed: l.completions.bytesUsed(),
      completionBytesCapacity: l.completions.capacity,
    }));
  }

  /**
   * Latency of the group-commit fdatasyncs of every worker since the pool
   * started, as a histogram in seconds (rendered as sluice_fsync_duration_seconds).
   * Read from shared counters: no message to the workers.
   */
  fsyncLatency(): Histogram {
    const snap = this.stats.fsyncLatency();
    const h = new Histogram(snap.boundsUs.map((us) => us / 1e6));
    h.counts.set(snap.counts);
    // The count from the buckets, so it always equals the +Inf bucket (counters are read one by one).
    let count = 0;
    for (let i = 0; i < snap.counts.length; i++) count += snap.counts[i];
    h.count = count;
    h.sum = snap.sumNs / 1e9;
    return h;
  }

  /** Drain in-flight work, flush + checkpoint + close every log, end the threads. */
  shutdown(): Promise<void> {
    this.shuttingDown ??= this.doShutdown();
    return this.shuttingDown;
  }

  private async doShutdown(): Promise<void> {
    const errors: unknown[] = [];
    await Promise.all(
      this.links.map(async (link) => {
        if (link.dead === null) {
          try {
            await this.call(link, { op: "shutdown", id: 0 });
          } catch (err) {
            errors.push(err);
          }
        }
        link.stopped = true;
        this.failLink(link, ErrorCode.NOT_LEADER_OR_FOLLOWER, "the broker is shutting down");
        // Wake the completion loop parked on this ring so it sees `stopped` now.
        Atomics.notify(link.completions.ctrl, RingWord.TAIL);
        link.worker.terminate();
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([link.ended, new Promise((r) => (timer = setTimeout(r, WORKER_EXIT_WAIT_MS)))]);
        clearTimeout(timer);
      }),
    );
    for (let slot = 0; slot < this.partitionsMax; slot++) this.slotWorker[slot] = -1;
    // Keep the state table and stats referenced until every worker has ended (they are, via `this`).
    void this.tableSab;
    void this.stats;
    if (errors.length > 0) throw errors[0];
  }

  // ------------------------------------------------------------------ internals

  private attach(link: WorkerLink): void {
    link.worker.addEventListener("message", (e: MessageEvent) => this.onControlReply(link, e.data as ControlReply));
    link.worker.addEventListener("error", (e: Event) => {
      const message = `partition worker ${link.index} failed: ${(e as ErrorEvent).message ?? "unknown error"}`;
      this.failLink(link, ErrorCode.KAFKA_STORAGE_ERROR, message);
    });
    link.worker.addEventListener("close", () => {
      if (!link.stopped) this.failLink(link, ErrorCode.KAFKA_STORAGE_ERROR, `partition worker ${link.index} ended unexpectedly`);
    });
    void this.completionLoop(link);
  }

  private async completionLoop(link: WorkerLink): Promise<void> {
    while (!link.stopped) {
      this.drainCompletions(link);
      const timeout = link.writableWaiters.length > 0 ? COMPLETION_WAIT_WRITABLE_MS : COMPLETION_WAIT_MS;
      await link.completions.waitForData(timeout);
    }
  }

  /** Process every published completion of a worker, then release their ring space once. */
  private drainCompletions(link: WorkerLink): void {
    const c = link.completions;
    let processed = 0;
    for (let kind = c.read(); kind !== -1; kind = c.read()) {
      const o = c.offset;
      switch (kind) {
        case EntryKind.DURABLE:
          this.onDurable(c.u32[(o + DurableCompl.SLOT) >>> 2], c.f64[(o + DurableCompl.DURABLE_OFFSET) >>> 3]);
          break;
        case EntryKind.PARTITION_FAILED:
          this.onPartitionFailed(c.u32[(o + FailedCompl.SLOT) >>> 2], c.i32[(o + FailedCompl.ERROR) >>> 2], failedMessage(c, o));
          break;
        default:
          this.completeRequest(link, kind, o);
      }
      c.advance();
      processed++;
    }
    // Fetch callbacks have returned: their views may be overwritten from here on.
    if (processed > 0) c.release();
    if (link.writableWaiters.length > 0) this.checkWritable(link);
  }

  private completeRequest(link: WorkerLink, kind: number, o: number): void {
    const c = link.completions;
    const q = link.inflight;
    if (q.size === 0) throw new Error(`worker pool: completion kind ${kind} from worker ${link.index} with nothing in flight`);
    const i = q.first;
    const requestId = c.u32[(o + Common.REQUEST_ID) >>> 2];
    if (requestId !== q.id[i]) throw new Error(`worker pool: completion for request ${requestId}, expected ${q.id[i]} (worker ${link.index})`);
    const type = q.type[i];
    const slot = q.slot[i];
    const acks = q.acks[i];
    const cb = q.cb[i];
    q.shift();
    if (kind === EntryKind.REQUEST_FAILED) {
      link.pending--;
      const code = c.i32[(o + FailedCompl.ERROR) >>> 2];
      if (type === RequestType.PRODUCE) invoke(() => (cb as ProduceCallback)(code, null, failedMessage(c, o)));
      else if (type === RequestType.FETCH) invoke(() => (cb as FetchCallback)(code, EMPTY_BYTES, -1, -1));
      else invoke(() => (cb as OffsetCallback)(code, -1, -1));
      return;
    }
    if (kind === EntryKind.PRODUCED && type === RequestType.PRODUCE) {
      const baseOffset = c.f64[(o + ProducedCompl.BASE_OFFSET) >>> 3];
      const lastOffset = c.f64[(o + ProducedCompl.LAST_OFFSET) >>> 3];
      const logAppendTimeMs = c.f64[(o + ProducedCompl.LOG_APPEND_TIME_MS) >>> 3];
      const logStartOffset = c.f64[(o + ProducedCompl.LOG_START_OFFSET) >>> 3];
      if (acks !== -1 || lastOffset < this.durable[slot]) {
        link.pending--;
        produced(cb as ProduceCallback, ErrorCode.NONE, { baseOffset, lastOffset, logAppendTimeMs, logStartOffset });
      } else if (this.failedCode[slot] !== 0) {
        link.pending--;
        const code = this.failedCode[slot];
        invoke(() => (cb as ProduceCallback)(code, null, "the partition went offline before the batch was durable"));
      } else {
        // Stays counted in link.pending until its fdatasync is reported.
        let w = this.waiters.get(slot);
        if (w === undefined) {
          w = new DurableWaiters();
          this.waiters.set(slot, w);
        }
        w.push(baseOffset, lastOffset, logAppendTimeMs, logStartOffset, cb as ProduceCallback);
      }
      return;
    }
    if (kind === EntryKind.FETCHED && type === RequestType.FETCH) {
      link.pending--;
      const n = c.u32[(o + FetchedCompl.RECORDS_BYTES) >>> 2];
      const start = o + FetchedCompl.RECORDS;
      const bytes = n === 0 ? EMPTY_BYTES : c.bytes.subarray(start, start + n);
      const error = c.i32[(o + FetchedCompl.ERROR) >>> 2];
      const hw = c.f64[(o + FetchedCompl.HIGH_WATERMARK) >>> 3];
      const logStart = c.f64[(o + FetchedCompl.LOG_START_OFFSET) >>> 3];
      fetched(cb as FetchCallback, error, bytes, hw, logStart);
      return;
    }
    if (kind === EntryKind.OFFSET && type === RequestType.OFFSET) {
      link.pending--;
      const offset = c.f64[(o + OffsetCompl.OFFSET) >>> 3];
      const timestampMs = c.f64[(o + OffsetCompl.TIMESTAMP_MS) >>> 3];
      invoke(() => (cb as OffsetCallback)(ErrorCode.NONE, offset, timestampMs));
      return;
    }
    throw new Error(`worker pool: completion kind ${kind} does not answer request type ${type} (worker ${link.index})`);
  }

  private onDurable(slot: number, durableOffset: number): void {
    if (durableOffset <= this.durable[slot]) return;
    this.durable[slot] = durableOffset;
    const w = this.waiters.get(slot);
    if (w !== undefined) {
      const link = this.links[this.slotWorker[slot]];
      while (w.oldestCovered(durableOffset)) {
        if (link !== undefined) link.pending--;
        w.settleOldest(ErrorCode.NONE);
      }
      if (w.size === 0) this.waiters.delete(slot);
    }
    const listeners = this.advanceListeners;
    for (let i = 0; i < listeners.length; i++) advanced(listeners[i], slot);
  }

  private onPartitionFailed(slot: number, code: number, message: string): void {
    this.failedCode[slot] = code;
    this.failWaiters(slot, code, message);
  }

  private failWaiters(slot: number, code: number, message: string): void {
    const w = this.waiters.get(slot);
    if (w === undefined) return;
    this.waiters.delete(slot);
    const link = this.slotWorker[slot] >= 0 ? this.links[this.slotWorker[slot]] : undefined;
    while (w.size > 0) {
      if (link !== undefined) link.pending--;
      w.settleOldest(code, message);
    }
  }

  /** After close/delete: resolve what the final flush covered, fail the rest, unmap the slot. */
  private forgetSlot(slot: number, code: number, message: string): void {
    const link = this.linkOfOpen(slot);
    this.drainCompletions(link);
    this.onDurable(slot, this.table.read(slot).durableOffset);
    this.failWaiters(slot, code, message);
    this.slotWorker[slot] = -1;
  }

  private onControlReply(link: WorkerLink, reply: ControlReply): void {
    if (reply.op !== "reply") return;
    // Completions the worker published before replying are handled first, so a
    // resolved close/shutdown already reflects its final flush.
    this.drainCompletions(link);
    const pending = link.control.get(reply.id);
    if (pending === undefined) return;
    link.control.delete(reply.id);
    if (reply.ok) pending.resolve(reply.result);
    else pending.reject(Object.assign(new SluiceError(reply.code, reply.message), { workerErrorName: reply.name }));
  }

  private call(link: WorkerLink, msg: ControlRequest & { id: number }): Promise<unknown> {
    if (link.dead !== null) return Promise.reject(new SluiceError(ErrorCode.KAFKA_STORAGE_ERROR, link.dead));
    // Requests queued before this control message must reach the worker before it.
    this.publish(link);
    const id = this.nextControlId++;
    msg.id = id;
    return new Promise((resolve, reject) => {
      link.control.set(id, { resolve, reject });
      link.worker.postMessage(msg);
    });
  }

  private schedulePublish(link: WorkerLink): void {
    if (link.publishScheduled) return;
    link.publishScheduled = true;
    queueMicrotask(() => this.publishTail(link));
  }

  /**
   * Make this microtask turn's requests visible (a running worker takes them at
   * once) and wake a parked worker once per event-loop pass, not once per turn:
   * every socket read of the pass that queued requests shares one Atomics.notify
   * (~10% of a router's CPU in a replicated produce when it ran per turn).
   */
  private publishTail(link: WorkerLink): void {
    link.publishScheduled = false;
    if (!link.requests.publishTail() || link.wakeScheduled) return;
    link.wakeScheduled = true;
    setImmediate(() => {
      link.wakeScheduled = false;
      link.requests.notifyIfWaiting();
    });
  }

  /** Publish and wake now (before a control message, or when the ring is full). */
  private publish(link: WorkerLink): void {
    link.publishScheduled = false;
    if (link.requests.unpublished) link.requests.publishTail();
    link.requests.notifyIfWaiting();
  }

  /** The ring (or in-flight bound) is full: publish what is queued so the worker can make room. */
  private refuse(link: WorkerLink, payloadBytes: number): false {
    if (payloadBytes > link.blockedPayloadBytes) link.blockedPayloadBytes = payloadBytes;
    this.publish(link);
    return false;
  }

  private checkWritable(link: WorkerLink): void {
    if (link.writableWaiters.length === 0) return;
    if (link.dead === null) {
      if (link.pending >= link.pendingMax) return;
      if (!link.requests.canReserve(link.blockedPayloadBytes)) return;
    }
    const waiters = link.writableWaiters;
    link.writableWaiters = [];
    link.blockedPayloadBytes = 0;
    for (const w of waiters) invoke(w);
  }

  /** A worker is gone: fail everything it had in flight and every later request. */
  private failLink(link: WorkerLink, code: number, message: string): void {
    if (link.dead !== null) return;
    link.dead = message;
    link.stopped = true;
    const q = link.inflight;
    while (q.size > 0) {
      const i = q.first;
      const type = q.type[i];
      const cb = q.cb[i];
      q.shift();
      if (type === RequestType.PRODUCE) invoke(() => (cb as ProduceCallback)(code, null, message));
      else if (type === RequestType.FETCH) invoke(() => (cb as FetchCallback)(code, EMPTY_BYTES, -1, -1));
      else invoke(() => (cb as OffsetCallback)(code, -1, -1));
    }
    for (let slot = 0; slot < this.partitionsMax; slot++) {
      if (this.slotWorker[slot] === link.index) this.failWaiters(slot, code, message);
    }
    link.pending = 0;
    for (const p of link.control.values()) p.reject(new SluiceError(code, message));
    link.control.clear();
    this.checkWritable(link);
  }

  private linkFor(slot: number, cb: ProduceCallback | FetchCallback | OffsetCallback, type: number): WorkerLink | null {
    const w = slot >= 0 && slot < this.partitionsMax && Number.isInteger(slot) ? this.slotWorker[slot] : -1;
    const link = w >= 0 ? this.links[w] : undefined;
    let code: number = ErrorCode.NONE;
    let message = "";
    if (link === undefined) {
      code = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      message = `partition slot ${slot} is not open`;
    } else if (link.dead !== null) {
      code = ErrorCode.KAFKA_STORAGE_ERROR;
      message = link.dead;
    } else {
      return link;
    }
    failLater(type, cb, code, message);
    return null;
  }

  private linkOfOpen(slot: number): WorkerLink {
    this.checkSlot(slot);
    const w = this.slotWorker[slot];
    if (w < 0) throw new SluiceError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `partition slot ${slot} is not open`);
    return this.links[w];
  }

  private checkSlot(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.partitionsMax) {
      throw new SluiceError(ErrorCode.INVALID_REQUEST, `partition slot ${slot} outside 0..${this.partitionsMax - 1}`);
    }
  }
}

function failedMessage(c: RingConsumer, o: number): string {
  const n = c.u32[(o + FailedCompl.MESSAGE_BYTES) >>> 2];
  // TextDecoder does not accept views over a SharedArrayBuffer: copy the (short) message.
  return utf8.decode(c.bytes.slice(o + FailedCompl.MESSAGE, o + FailedCompl.MESSAGE + n));
}

/** The end of the whole batches of `records` from `pos` that fit in `maxBytes` (at least one batch). */
function wholeBatchesEnd(records: Uint8Array, pos: number, maxBytes: number): number {
  if (records.length - pos <= maxBytes) return records.length;
  let end = pos;
  while (end + BATCH_OVERHEAD_BYTES <= records.length) {
    const size = BATCH_OVERHEAD_BYTES + readI32(records, end + BATCH_LENGTH_OFFSET);
    if (end + size > records.length || (end + size - pos > maxBytes && end > pos)) break;
    end += size;
  }
  // A cut batch at the end is left for the log to refuse, whole.
  return end > pos ? end : records.length;
}
