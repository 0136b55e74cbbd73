// What a partition worker does, as plain code that runs without threads (the
// worker entry, worker_main.ts, only wires messages and the wait loop to it).
//
// Runs on: the partition worker thread (or a test's main thread).
//
// Per pass it drains the request ring (produce, fetch, offset-for-timestamp),
// calls the partitions' logs, and writes one completion per request into the
// completion ring, in request order. Then it runs the group-commit flush policy:
// every log with unsynced bytes whose `flushDue(now)` says so is flushed, and a
// DURABLE completion carries its new durable offset back to the router. Those
// flushes run their fdatasync off the thread (PartitionLog.flushAsync): the next
// passes stage and write while it runs, and the DURABLE is published when it
// returns, for the log end as of its start. With a worker journal, the small
// tails of all due partitions are first made durable together by one journal
// round (journal_rounds.ts, synchronous); the rest flush one by one.
// What the host keeps per partition, and needs of its log, is in hosted_partition.ts.
//
// Coalesced writes: a produce is staged in its log (validated, given offsets,
// a view of its ring slot kept), not written; at the end of the pass, or before
// a fetch or offset lookup that must be answered after it, every log writes what
// it staged with vectored writes of up to 64 KiB, and only then are the PRODUCED
// completions written. So a pass of N small produce requests for one partition
// costs one pwritev, not N pwrites, and each request still gets its own offsets,
// its own answer, and fails alone when its batches are bad. A failed write fails
// every request staged in that log since its last write (none is acknowledged).
// A write the disk refused for space (ENOSPC, EDQUOT) fails them the same way,
// with KAFKA_STORAGE_ERROR saying the disk is full, but the log undid it and
// stays online: later produces try again (partition_log.ts), so writing resumes
// once space is freed. Only a log that says it is offline takes the partition offline.
//
// Waking the router: completions are published (tail stored, the router woken
// if it is parked) at most once per pass, and in a flush round once before the
// first fdatasync and once after each partition's (so the acks of a partition
// go out while the next one syncs: with 4 partitions per worker and one message
// per request, bench:peers' unbatched row went from ~170k to ~200k msgs/s). A pass whose
// only answers are acks=all PRODUCED entries does not publish them: the router
// can answer nobody before the DURABLE that follows the next flush. They are
// published just before that flush's first fdatasync, so the router files them
// while the disk works (publishing them only with the DURABLE put that filing on
// the ack path: bench/pool_bench.ts, 64 requests in flight, lost ~20% in most runs),
// and however many passes ran since the last flush, the router wakes once for them.
//
// Durability contract (what each completion means to the router):
// - PRODUCED: the batches are written to the segment file (page cache) and will
//   be read by later fetches once durable. An acks=1 ack may be sent now.
// - DURABLE(slot, d): an fdatasync covering every offset below d has returned.
//   acks=all producers whose last offset is below d may be answered; the high
//   watermark is d (single node), so fetches now return those batches.
//   DURABLE for a flush is written after the PRODUCED entries of the batches it
//   covers (the ring is FIFO), so the router never sees durability before the ack.
// - PARTITION_FAILED(slot): an fdatasync failed. Nothing written since the last
//   DURABLE is known to be durable; the partition is offline from now on and every
//   later request on it fails with KAFKA_STORAGE_ERROR. There is no retry: after a
//   failed fdatasync the kernel may already have dropped the dirty pages.
//
// Acks are published before the flush starts, so acks=1 producers never wait for an
// fdatasync, and requests that arrive while fdatasync runs pile up in the ring and
// are covered together by the next one (classic group commit). An acks=all
// PRODUCED may be published later than its write, never later than the start of
// the flush that covers it (so before its DURABLE or PARTITION_FAILED).

import { AssertionError, assert } from "../protocol/assert.ts";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { BATCH_HEADER_BYTES, BATCH_LENGTH_OFFSET, BATCH_OVERHEAD_BYTES, RECORD_COUNT_OFFSET } from "../protocol/record_batch.ts";
import type { FaultOptions } from "./control.ts";
import { errorFields } from "./control.ts";
import type { LogConfig } from "./log/mod.ts";
import { type HostedLog, HostedPartition, type ReplicaLog, type StagedAppend, isOnline, isReplicaLog } from "./hosted_partition.ts";
import { JournalRounds } from "./journal_rounds.ts";
import type { WorkerJournal } from "./log/worker_journal.ts";
import { PartitionStateTable } from "./partition_state.ts";
import { PendingProduces } from "./pending_produces.ts";
import { RingConsumer, RingProducer } from "./ring.ts";
import type { WorkerStats } from "./worker_stats.ts";
import {
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
import {
  DEFERRED_COMPLETIONS_RING_FRACTION,
  DRAIN_PASS_BYTES_MAX,
  DRAIN_PASS_REQUESTS_MAX,
  FAILED_MESSAGE_BYTES_MAX,
  RETENTION_CHECK_INTERVAL_MS,
} from "./worker_limits.ts";

/** Opens (and recovers) one partition's log; may throw SluiceError. */
export type OpenLog = (opts: { dir: string; config: LogConfig; nowMs: number; faults?: FaultOptions }) => {
  log: HostedLog;
  recovery: unknown;
};

export interface PartitionHostOptions {
  requests: SharedArrayBuffer;
  completions: SharedArrayBuffer;
  state: SharedArrayBuffer;
  openLog: OpenLog;
  /** Milliseconds clock (tests pass a fake one). */
  clock?: () => number;
  /** Where this worker's counters go (worker_stats.ts): each flush's fdatasync time. */
  stats?: { recorder: WorkerStats; worker: number };
  /**
   * The worker journal (worker_journal.ts) and the data dir its records name
   * partitions relative to. Absent: every partition syncs its own segment.
   */
  journal?: { journal: WorkerJournal; dataDir: string };
}

// Payload sizes that follow from the completion layout (not limits of their own).
/** Completion bytes a produce may need: the larger of its success and failure entries. */
const PRODUCE_COMPLETION_BYTES_MAX = Math.max(ProducedCompl.BYTES, FailedCompl.MESSAGE + FAILED_MESSAGE_BYTES_MAX);
/** Completion bytes an offset lookup may need, likewise. */
const OFFSET_COMPLETION_BYTES_MAX = Math.max(OffsetCompl.BYTES, FailedCompl.MESSAGE + FAILED_MESSAGE_BYTES_MAX);

/** How a drain pass ended. */
export const DrainOutcome = {
  /** The request ring is empty. */
  EMPTY: 0,
  /** The pass budget ran out; more requests are waiting. */
  BUDGET: 1,
  /** The completion ring lacks room for the next request's result; see `blockedOnBytes`. */
  COMPLETIONS_FULL: 2,
} as const;
export type DrainOutcome = (typeof DrainOutcome)[keyof typeof DrainOutcome];

const utf8 = new TextEncoder();

export class PartitionHost {
  private readonly requests: RingConsumer;
  private readonly completions: RingProducer;
  private readonly table: PartitionStateTable;
  private readonly openLog: OpenLog;
  private readonly clock: () => number;
  private readonly stats: { recorder: WorkerStats; worker: number } | null;
  private readonly partitions = new Map<number, HostedPartition>();
  /** Partitions appended since their last flush. Bounded by the partitions this worker hosts. */
  private readonly dirty = new Set<HostedPartition>();
  /** Partitions whose state row changed in this pass. Same bound. */
  private readonly touched: HostedPartition[] = [];
  /** Produce requests of the current pass staged (or failed) and not answered yet, in request order. */
  private readonly pending = new PendingProduces<HostedPartition>(DRAIN_PASS_REQUESTS_MAX);
  /** Partitions with staged appends in the current pass. Bounded by the partitions this worker hosts. */
  private readonly staging: HostedPartition[] = [];
  /** Filled by each log's stage() (reused). */
  private readonly stagedAppend: StagedAppend = { baseOffset: 0, lastOffset: -1, logAppendTimeMs: -1, bytes: 0, records: 0, duplicate: false };
  /** A completion the router should see now (anything but an acks=all PRODUCED) is unpublished. */
  private completionsUrgent = false;
  /** Unpublished completion bytes past which they are published even if none is urgent. */
  private readonly deferredCompletionBytesMax: number;
  /** Partitions owing a DURABLE/PARTITION_FAILED completion that did not fit. Same bound. */
  private readonly unreported = new Set<HostedPartition>();
  private readonly failedUnreported = new Map<HostedPartition, { code: number; message: string }>();
  private readonly fetchedView: DataView;
  /** Payload bytes the completion ring must free before the blocked request can proceed. */
  blockedOnBytes = 0;
  private nextRetentionMs: number;
  /** The worker journal's rounds (journal_rounds.ts); inactive without a journal. */
  private readonly journalRounds: JournalRounds;

  constructor(opts: PartitionHostOptions) {
    this.requests = new RingConsumer(opts.requests);
    this.completions = new RingProducer(opts.completions);
    this.table = new PartitionStateTable(opts.state);
    this.openLog = opts.openLog;
    this.clock = opts.clock ?? Date.now;
    this.stats = opts.stats ?? null;
    this.fetchedView = new DataView(this.completions.bytes.buffer, this.completions.bytes.byteOffset, this.completions.bytes.byteLength);
    this.deferredCompletionBytesMax = Math.floor(this.completions.capacity * DEFERRED_COMPLETIONS_RING_FRACTION);
    this.nextRetentionMs = this.clock() + RETENTION_CHECK_INTERVAL_MS;
    // Built once: the round calls back into the host through these, never per request.
    this.journalRounds = new JournalRounds(opts.journal, {
      partitions: this.partitions,
      dirty: this.dirty,
      flushPartition: (p) => this.flushPartition(p),
      markOffline: (p, code, message) => this.markOffline(p, code, message),
      noteDurable: (p, durableOffset) => this.noteDurable(p, durableOffset),
      publishHeldCompletions: () => {
        if (this.completions.unpublished) this.publishCompletions();
      },
      publishFlushed: () => this.publishFlushed(),
      recordFsync: (ms) => this.stats?.recorder.recordFsync(this.stats.worker, ms),
    });
  }

  get partitionCount(): number {
    return this.partitions.size;
  }

  // ---------------------------------------------------------------- control

  /** Open and recover a partition's log into `slot`; publishes its state row (online). */
  open(slot: number, dir: string, config: LogConfig, faults?: FaultOptions, incarnation?: string): unknown {
    if (this.partitions.has(slot)) throw new SluiceError(ErrorCode.INVALID_REQUEST, `slot ${slot} is already open on this worker`);
    if (slot < 0 || slot >= this.table.rows) throw new SluiceError(ErrorCode.INVALID_REQUEST, `slot ${slot} outside the state table`);
    const { log, recovery } = this.openLog({ dir, config, nowMs: this.clock(), faults });
    const p = new HostedPartition(slot, log);
    p.journalKey = this.journalRounds.keyFor(log, dir, incarnation, faults !== undefined);
    this.partitions.set(slot, p);
    this.table.beginGeneration(slot);
    this.refreshRow(p);
    this.table.write(slot, p.view);
    if (log.durableOffset < log.logEndOffset) {
      p.dirty = true;
      this.dirty.add(p);
    }
    return recovery;
  }

  /**
   * Stop serving a partition. Requests already in the ring are processed first (the
   * router publishes before it asks), then, for close, a final flush and a
   * checkpoint, so acks=all waiters resolve. The state row goes offline.
   */
  close(slot: number, opts: { deleteFiles?: boolean } = {}): void {
    const p = this.partitions.get(slot);
    if (p === undefined) throw new SluiceError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `slot ${slot} is not open on this worker`);
    this.journalRounds.beforeClose(p);
    if (!opts.deleteFiles && isOnline(p) && (p.dirty || p.log.flushInFlight)) this.flushPartition(p);
    this.reportOwed();
    this.publishRows();
    this.publishCompletions();
    try {
      if (!opts.deleteFiles && isOnline(p)) p.log.checkpoint();
    } finally {
      this.forget(p);
      this.refreshRow(p);
      p.view.online = false;
      this.table.write(slot, p.view);
      // deleteFiles closes without the flush that close() would do.
      if (opts.deleteFiles) p.log.deleteFiles();
      else p.log.close();
    }
  }

  setConfig(slot: number, config: LogConfig): void {
    const p = this.partitions.get(slot);
    if (p === undefined) throw new SluiceError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `slot ${slot} is not open on this worker`);
    p.log.setConfig(config);
    this.retain(p, this.clock());
    this.publishRows();
  }

  // ---------------------------------------------------------------- replication (control calls; log/log_truncate.ts, log/leader_epoch_cache.ts)

  private replicaLogOf(slot: number): HostedPartition & { log: HostedLog & ReplicaLog } {
    const p = this.partitions.get(slot);
    if (p === undefined) throw new SluiceError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `slot ${slot} is not open on this worker`);
    if (!isReplicaLog(p.log)) throw new SluiceError(ErrorCode.INVALID_REQUEST, `slot ${slot}: its log cannot replicate`);
    if (!isOnline(p)) throw new SluiceError(ErrorCode.KAFKA_STORAGE_ERROR, `slot ${slot} is offline`);
    return p as HostedPartition & { log: HostedLog & ReplicaLog };
  }

  /** The partition leads with `epoch` from now on (stamped into its appends, recorded in its leader-epoch file). */
  setLeaderEpoch(slot: number, epoch: number): void {
    const p = this.replicaLogOf(slot);
    this.storageCall(p, () => p.log.setLeaderEpoch(epoch));
  }

  /** Kafka's OffsetForLeaderEpoch on the partition's log. */
  endOffsetForEpoch(slot: number, epoch: number): { epoch: number; endOffset: number } {
    return this.replicaLogOf(slot).log.endOffsetForEpoch(epoch);
  }

  /**
   * Cuts the partition's log back to `offset` (a follower after a leader
   * change). The worker journal is checkpointed first if it holds records of
   * this partition: replaying them after a crash would write the cut bytes
   * back. The row's log end and durable offset move back with the log.
   */
  truncate(slot: number, offset: number): { logEndOffset: number; removedOffsets: number; removedSegments: number } {
    const p = this.replicaLogOf(slot);
    this.journalRounds.beforeTruncate(p);
    if (!isOnline(p)) throw new SluiceError(ErrorCode.KAFKA_STORAGE_ERROR, `slot ${slot} went offline while the journal was checkpointed`);
    const result = this.storageCall(p, () => p.log.truncateTo(offset));
    // Everything left is durable (the cut segment was synced): nothing owed to a flush.
    p.dirty = false;
    this.dirty.delete(p);
    this.refreshRow(p);
    this.table.write(slot, p.view);
    return result;
  }

  /**
   * A follower's append of batches fetched from the leader (their offsets and
   * epochs kept; log/replica_append.ts checks them). Written on return; made
   * durable by the host's group commit (its flush policy or a journal round),
   * which publishes the DURABLE completion and the row as for produces. A
   * refused append (OFFSET_MISMATCH, a bad batch) stores nothing and throws.
   */
  appendAsFollower(slot: number, records: Uint8Array): { baseOffset: number; lastOffset: number } {
    const p = this.replicaLogOf(slot);
    const r = this.storageCall(p, () => p.log.appendAsFollower(records, this.clock()));
    p.view.bytesIn += r.bytes;
    p.view.messagesIn += r.records;
    if (!p.dirty) {
      p.dirty = true;
      this.dirty.add(p);
    }
    this.touch(p);
    this.publishRows();
    return { baseOffset: r.baseOffset, lastOffset: r.lastOffset };
  }

  /** A control call on a log; a storage failure in it takes the partition offline, as a failed flush does. */
  private storageCall<T>(p: HostedPartition, call: () => T): T {
    try {
      return call();
    } catch (err) {
      if (!p.log.online) {
        const e = errorFields(err, ErrorCode.KAFKA_STORAGE_ERROR);
        this.markOffline(p, ErrorCode.KAFKA_STORAGE_ERROR, e.message);
        this.publishFlushed();
      }
      throw err;
    }
  }

  /** Flush, checkpoint and close every partition (shutdown). Returns the first error, if any. */
  closeAll(): void {
    let first: unknown = null;
    for (const slot of [...this.partitions.keys()]) {
      try {
        this.close(slot);
      } catch (err) {
        first ??= err;
      }
    }
    // Every partition is synced and closed: nothing in the journal is needed any more.
    if (first === null) this.journalRounds.closeAndRemove();
    if (first !== null) throw first;
  }

  // ---------------------------------------------------------------- data path

  /** True when published requests are waiting in the request ring. */
  hasRequests(): boolean {
    return this.requests.hasData();
  }

  /**
   * One drain pass: process requests until the ring is empty, the pass budget is
   * spent, or the completion ring lacks room; write the staged produces (one
   * vectored write per partition) and their completions, release request space,
   * publish state rows and (unless they can wait for the next DURABLE, see the
   * top) completions, once at the end.
   */
  drain(nowMs: number = this.clock()): DrainOutcome {
    let outcome: DrainOutcome = DrainOutcome.EMPTY;
    let bytes = 0;
    let count = 0;
    this.blockedOnBytes = 0;
    for (;;) {
      if (bytes >= DRAIN_PASS_BYTES_MAX || count >= DRAIN_PASS_REQUESTS_MAX) {
        outcome = DrainOutcome.BUDGET;
        break;
      }
      const kind = this.requests.read();
      if (kind === -1) break;
      const at = this.requests.offset;
      let done: boolean;
      switch (kind) {
        case EntryKind.PRODUCE:
          done = this.stageProduce(at, nowMs, false);
          break;
        case EntryKind.FOLLOWER_APPEND:
          done = this.stageProduce(at, nowMs, true);
          break;
        case EntryKind.FETCH:
          // Answers go back in request order: the produces before it are answered first.
          this.settleProduces();
          done = this.fetch(at);
          break;
        case EntryKind.OFFSET_FOR_TIMESTAMP:
          this.settleProduces();
          done = this.offsetForTimestamp(at);
          break;
        default:
          // The router writes only these kinds into the request ring.
          throw new AssertionError(`partition host: unknown request kind ${kind}`);
      }
      if (!done) {
        outcome = DrainOutcome.COMPLETIONS_FULL;
        break;
      }
      bytes += this.requests.length;
      count++;
      this.requests.advance();
    }
    // Staged batches are views of request slots: written before the slots are released.
    this.settleProduces();
    this.requests.release();
    // Rows before completions: a router reacting to a completion reads a row at least as new.
    this.publishRows();
    if (
      outcome === DrainOutcome.COMPLETIONS_FULL ||
      this.completionsUrgent ||
      this.completions.unpublishedBytes >= this.deferredCompletionBytesMax
    ) {
      this.publishCompletions();
    }
    return outcome;
  }

  /**
   * Group commit: flush every dirty log whose flush policy says it is due (or all
   * dirty logs with `force`), publish its durable offset and a DURABLE completion.
   * Returns the number of flushes done.
   */
  flushDue(nowMs: number = this.clock(), force = false): number {
    let flushes = 0;
    if (!force && this.journalRounds.round(nowMs)) flushes++;
    for (const p of this.dirty) {
      if (force || p.log.flushDue(nowMs)) {
        // Held-back acks=all answers go out before the first fdatasync: the router files them meanwhile.
        if (flushes === 0 && this.completions.unpublished) this.publishCompletions();
        else if (flushes > 0) {
          // The partitions flushed so far are reported before the next fdatasync, so the
          // router answers their acks while the disk works on this one.
          this.reportOwed();
          this.publishRows();
          this.publishCompletions();
        }
        if (force) this.flushPartition(p);
        else this.startFlush(p);
        flushes++;
      }
    }
    const reported = this.reportOwed();
    this.publishRows();
    if (flushes > 0 || reported > 0 || this.completionsUrgent || this.owesReports) this.publishCompletions();
    return flushes;
  }

  /**
   * Group commit of one partition: flushes the dirty log that has waited longest
   * among those due, and publishes its DURABLE (after the held-back acks=all
   * answers, published before the fdatasync so the router files them meanwhile).
   * false when none is due. The worker loop drains the request ring between two
   * of these, so requests that arrive while one partition syncs are written in
   * time for the next partition's fdatasync instead of waiting a whole round.
   */
  flushOneDue(nowMs: number = this.clock()): boolean {
    if (this.journalRounds.round(nowMs)) return true;
    for (const p of this.dirty) {
      if (!p.log.flushDue(nowMs)) continue;
      if (this.completions.unpublished) this.publishCompletions();
      this.startFlush(p);
      this.reportOwed();
      this.publishRows();
      this.publishCompletions();
      return true;
    }
    return false;
  }

  /** Partitions with appends not yet covered by a flush. */
  get dirtyCount(): number {
    return this.dirty.size;
  }

  /** Apply retention to every partition if the retention interval has passed (or `force`). */
  retentionDue(nowMs: number = this.clock(), force = false): void {
    if (!force && nowMs < this.nextRetentionMs) return;
    this.nextRetentionMs = nowMs + RETENTION_CHECK_INTERVAL_MS;
    for (const p of this.partitions.values()) this.retain(p, nowMs);
    this.publishRows();
  }

  /**
   * The earliest moment something timed is due: a dirty log's flush deadline or the
   * next retention check. The worker loop waits for new requests at most until then.
   */
  nextDeadlineMs(): number {
    let deadline = this.nextRetentionMs;
    for (const p of this.dirty) {
      const d = p.log.flushDeadlineMs();
      if (d !== null && d < deadline) deadline = d;
    }
    return deadline;
  }

  /** True while DURABLE/PARTITION_FAILED completions wait for room in the completion ring. */
  get owesReports(): boolean {
    return this.unreported.size > 0 || this.failedUnreported.size > 0;
  }

  /** Park (without blocking the event loop) until the completion ring has room for what blocked the drain. */
  waitForCompletionRoom(timeoutMs: number): Promise<unknown> {
    return this.completions.waitForRoom(Math.max(this.blockedOnBytes, DurableCompl.BYTES), timeoutMs);
  }

  /** End a `waitForRequests` park early (after a control message changed what is due). */
  wake(): void {
    this.requests.wake();
  }

  /** Park until the router publishes requests, or `timeoutMs` passes. */
  waitForRequests(timeoutMs: number): Promise<unknown> {
    return this.requests.waitForData(timeoutMs);
  }

  // ---------------------------------------------------------------- requests

  /**
   * Stage one produce in its partition's log, or note why it failed; its answer is
   * written by settleProduces(). Needs completion room for every request pending
   * in this pass plus this one (each may turn into a failure entry).
   */
  /** A PRODUCE, or a follower's append of its leader's batches (`asFollower`: offsets and epochs kept, log/replica_append.ts). */
  private stageProduce(at: number, nowMs: number, asFollower: boolean): boolean {
    const pending = this.pending;
    if (!this.completions.canReserveMany(pending.count + 1, PRODUCE_COMPLETION_BYTES_MAX)) return this.block(PRODUCE_COMPLETION_BYTES_MAX);
    const r = this.requests;
    const slot = r.u32[(at + ProduceReq.SLOT) >>> 2];
    const requestId = r.u32[(at + ProduceReq.REQUEST_ID) >>> 2];
    const acks = r.i32[(at + ProduceReq.ACKS) >>> 2];
    const length = r.u32[(at + ProduceReq.RECORDS_BYTES) >>> 2];
    const p = this.partitions.get(slot);
    if (p === undefined) {
      pending.addFailed(slot, requestId, acks, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `partition slot ${slot} is not open`);
      return true;
    }
    if (!isOnline(p)) {
      pending.addFailed(slot, requestId, acks, ErrorCode.KAFKA_STORAGE_ERROR, "the partition is offline after a storage failure");
      return true;
    }
    const start = at + ProduceReq.RECORDS;
    try {
      // The log keeps a view of the ring slot (no copy), patches base offsets in
      // place, and writes it from shared memory in settleProduces().
      const records = r.bytes.subarray(start, start + length);
      if (asFollower) {
        const log = p.log;
        if (!isReplicaLog(log)) throw new SluiceError(ErrorCode.UNSUPPORTED_VERSION, `slot ${slot} has no replica log`);
        log.stageAsFollower(records, nowMs, this.stagedAppend);
      } else {
        p.log.stage(records, nowMs, this.stagedAppend);
      }
    } catch (err) {
      const e = errorFields(err, ErrorCode.UNKNOWN_SERVER_ERROR);
      if (!p.log.online) this.markOffline(p, ErrorCode.KAFKA_STORAGE_ERROR, e.message);
      pending.addFailed(slot, requestId, acks, e.code === ErrorCode.NONE ? ErrorCode.UNKNOWN_SERVER_ERROR : e.code, e.message);
      return true;
    }
    if (this.stagedAppend.duplicate) {
      // An idempotent producer's retry of stored batches: answered with their offsets, nothing staged.
      pending.addStaged(p, slot, requestId, acks, this.stagedAppend);
      return true;
    }
    // stage() wrote what was staged before this append: the pending ones before it are written.
    if (p.log.stagedByteCount === length) p.stagedFrom = pending.count;
    pending.addStaged(p, slot, requestId, acks, this.stagedAppend);
    if (!p.staging) {
      p.staging = true;
      this.staging.push(p);
    }
    return true;
  }

  /**
   * Write what every log staged in this pass (gathered vectored writes), then the
   * answers of the pending produces in request order: PRODUCED, or REQUEST_FAILED
   * for a request that failed alone or whose log's write failed.
   */
  private settleProduces(): void {
    const pending = this.pending;
    if (pending.count === 0) return;
    const staging = this.staging;
    for (let k = 0; k < staging.length; k++) {
      const p = staging[k];
      try {
        p.log.writeStaged();
      } catch (err) {
        const e = errorFields(err, ErrorCode.KAFKA_STORAGE_ERROR);
        if (!p.log.online) this.markOffline(p, ErrorCode.KAFKA_STORAGE_ERROR, e.message);
        p.writeError = { code: e.code === ErrorCode.NONE ? ErrorCode.KAFKA_STORAGE_ERROR : e.code, message: e.message };
      }
    }
    const c = this.completions;
    for (let i = 0; i < pending.count; i++) {
      const slot = pending.slot[i];
      const requestId = pending.requestId[i];
      const p = pending.partition[i];
      if (p === null || (p.writeError !== null && i >= p.stagedFrom)) {
        const code = p === null ? pending.error[i] : (p.writeError as { code: number }).code;
        const message = p === null ? (pending.message[i] ?? "") : (p.writeError as { message: string }).message;
        this.writeFailure(EntryKind.REQUEST_FAILED, slot, requestId, code, message);
        this.completionsUrgent = true;
        continue;
      }
      const o = c.reserve(EntryKind.PRODUCED, ProducedCompl.BYTES);
      // Room for every pending answer was checked before each was staged.
      assert(o !== -1, "partition host: completion room checked before staging is gone");
      c.u32[(o + ProducedCompl.SLOT) >>> 2] = slot;
      c.u32[(o + ProducedCompl.REQUEST_ID) >>> 2] = requestId;
      c.f64[(o + ProducedCompl.BASE_OFFSET) >>> 3] = pending.baseOffset[i];
      c.f64[(o + ProducedCompl.LAST_OFFSET) >>> 3] = pending.lastOffset[i];
      c.f64[(o + ProducedCompl.LOG_APPEND_TIME_MS) >>> 3] = pending.logAppendTimeMs[i];
      c.f64[(o + ProducedCompl.LOG_START_OFFSET) >>> 3] = p.log.logStartOffset;
      c.commit();
      // acks=0/1 are answered at write time; acks=all only by the DURABLE after the next flush. A duplicate
      // appended nothing, so no flush may follow it: published now, the router answers it once its original is durable.
      if (pending.acks[i] !== -1 || pending.duplicate[i] === 1) this.completionsUrgent = true;
      p.view.bytesIn += pending.bytes[i];
      p.view.messagesIn += pending.records[i];
      if (!p.dirty) {
        p.dirty = true;
        this.dirty.add(p);
      }
      this.touch(p);
    }
    for (let k = 0; k < staging.length; k++) {
      staging[k].staging = false;
      staging[k].writeError = null;
      staging[k].stagedFrom = 0;
    }
    staging.length = 0;
    pending.clear();
  }

  private fetch(at: number): boolean {
    const r = this.requests;
    const c = this.completions;
    const slot = r.u32[(at + FetchReq.SLOT) >>> 2];
    const requestId = r.u32[(at + FetchReq.REQUEST_ID) >>> 2];
    const maxBytes = r.u32[(at + FetchReq.MAX_BYTES) >>> 2];
    const offset = r.f64[(at + FetchReq.OFFSET) >>> 3];
    const p = this.partitions.get(slot);
    if (p === undefined) return this.fetched(slot, requestId, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1, -1, null, 0);
    const log = p.log;
    if (!isOnline(p)) return this.fetched(slot, requestId, ErrorCode.KAFKA_STORAGE_ERROR, -1, -1, null, 0);
    // Single node: the high watermark is the durable offset. The reply always
    // carries it; the read stops at the router's bound when it gave one.
    const highWatermark = log.durableOffset;
    const upperBound = r.f64[(at + FetchReq.UPPER_BOUND) >>> 3];
    const readTo = upperBound < 0 ? highWatermark : Math.min(upperBound, log.logEndOffset);
    const plan = log.planRead(offset, Math.min(maxBytes, c.payloadBytesMax - FetchedCompl.RECORDS), readTo);
    if ("error" in plan) {
      // Planning can meet damage (a header that makes no sense): the fetcher gets the code, the row shows it.
      if (plan.error === ErrorCode.CORRUPT_MESSAGE || plan.error === ErrorCode.KAFKA_STORAGE_ERROR) this.noteHealth(p);
      return this.fetched(slot, requestId, plan.error, highWatermark, log.logStartOffset, null, 0);
    }
    const need = FetchedCompl.RECORDS + plan.length;
    if (need > c.payloadBytesMax) {
      // One batch larger than the whole completion ring can carry: a configuration
      // mistake (the ring must hold four maximal batches), never a wait.
      return this.fetched(slot, requestId, ErrorCode.MESSAGE_TOO_LARGE, highWatermark, log.logStartOffset, null, 0);
    }
    if (!c.canReserve(need)) return this.block(need);
    return this.fetched(slot, requestId, ErrorCode.NONE, highWatermark, log.logStartOffset, plan, need, p);
  }

  /** Write a FETCHED completion; with a plan, read the batches straight into the ring. */
  private fetched(
    slot: number,
    requestId: number,
    error: number,
    highWatermark: number,
    logStartOffset: number,
    plan: { length: number } | null,
    need: number,
    p?: HostedPartition,
  ): boolean {
    const c = this.completions;
    const bytes = plan === null ? FetchedCompl.RECORDS : need;
    if (!c.canReserve(bytes)) return this.block(bytes);
    const o = c.reserve(EntryKind.FETCHED, bytes);
    let n = 0;
    if (plan !== null && p !== undefined && plan.length > 0) {
      try {
        // Checked as read: only whole batches that pass their CRC, possibly fewer than planned.
        n = p.log.readInto(plan, c.bytes, o + FetchedCompl.RECORDS);
      } catch (err) {
        const e = errorFields(err, ErrorCode.KAFKA_STORAGE_ERROR);
        if (!p.log.online) this.markOffline(p, ErrorCode.KAFKA_STORAGE_ERROR, e.message);
        error = e.code;
        n = 0;
      }
      // The read fills only the room reserved for the plan: past it lies the next entry's space.
      assert(n <= plan.length, "partition host: readInto returned more bytes than planned", n);
      if (p.log.corruption !== null) this.touch(p);
      if (n > 0) {
        p.view.bytesOut += n;
        p.view.messagesOut += this.countRecords(o + FetchedCompl.RECORDS, n);
        this.touch(p);
      }
    }
    c.u32[(o + FetchedCompl.SLOT) >>> 2] = slot;
    c.u32[(o + FetchedCompl.REQUEST_ID) >>> 2] = requestId;
    c.i32[(o + FetchedCompl.ERROR) >>> 2] = error;
    c.u32[(o + FetchedCompl.RECORDS_BYTES) >>> 2] = n;
    c.f64[(o + FetchedCompl.HIGH_WATERMARK) >>> 3] = highWatermark;
    c.f64[(o + FetchedCompl.LOG_START_OFFSET) >>> 3] = logStartOffset;
    c.commit(FetchedCompl.RECORDS + n);
    this.completionsUrgent = true;
    return true;
  }

  private offsetForTimestamp(at: number): boolean {
    const c = this.completions;
    if (!c.canReserve(OFFSET_COMPLETION_BYTES_MAX)) return this.block(OFFSET_COMPLETION_BYTES_MAX);
    const r = this.requests;
    const slot = r.u32[(at + OffsetForTimestampReq.SLOT) >>> 2];
    const requestId = r.u32[(at + OffsetForTimestampReq.REQUEST_ID) >>> 2];
    const timestampMs = r.f64[(at + OffsetForTimestampReq.TIMESTAMP_MS) >>> 3];
    const p = this.partitions.get(slot);
    if (p === undefined) return this.fail(slot, requestId, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `partition slot ${slot} is not open`);
    if (!isOnline(p)) return this.fail(slot, requestId, ErrorCode.KAFKA_STORAGE_ERROR, "the partition is offline after a storage failure");
    let found: { offset: number; timestampMs: number } | null;
    try {
      found = p.log.recordAtTimestamp(timestampMs);
    } catch (err) {
      const e = errorFields(err, ErrorCode.UNKNOWN_SERVER_ERROR);
      this.noteHealth(p);
      return this.fail(slot, requestId, e.code, e.message);
    }
    const o = c.reserve(EntryKind.OFFSET, OffsetCompl.BYTES);
    c.u32[(o + OffsetCompl.SLOT) >>> 2] = slot;
    c.u32[(o + OffsetCompl.REQUEST_ID) >>> 2] = requestId;
    c.f64[(o + OffsetCompl.OFFSET) >>> 3] = found === null ? -1 : found.offset;
    c.f64[(o + OffsetCompl.TIMESTAMP_MS) >>> 3] = found === null ? -1 : found.timestampMs;
    c.commit();
    this.completionsUrgent = true;
    return true;
  }

  /** A REQUEST_FAILED completion (room was checked by the caller). */
  private fail(slot: number, requestId: number, code: number, message: string): boolean {
    this.writeFailure(EntryKind.REQUEST_FAILED, slot, requestId, code, message);
    this.completionsUrgent = true;
    return true;
  }

  /** Store the completion ring's tail and wake the router if it is parked. */
  private publishCompletions(): void {
    this.completions.publish();
    this.completionsUrgent = false;
  }

  private writeFailure(kind: number, slot: number, requestId: number, code: number, message: string): void {
    const c = this.completions;
    const o = c.reserve(kind, FailedCompl.MESSAGE + FAILED_MESSAGE_BYTES_MAX);
    const target = c.bytes.subarray(o + FailedCompl.MESSAGE, o + FailedCompl.MESSAGE + FAILED_MESSAGE_BYTES_MAX);
    // encodeInto stops at the target's end without splitting a character.
    const { written } = utf8.encodeInto(message, target);
    c.u32[(o + FailedCompl.SLOT) >>> 2] = slot;
    c.u32[(o + FailedCompl.REQUEST_ID) >>> 2] = requestId;
    c.i32[(o + FailedCompl.ERROR) >>> 2] = code === ErrorCode.NONE ? ErrorCode.UNKNOWN_SERVER_ERROR : code;
    c.u32[(o + FailedCompl.MESSAGE_BYTES) >>> 2] = written;
    c.commit(FailedCompl.MESSAGE + written);
  }

  private block(bytes: number): boolean {
    this.blockedOnBytes = bytes;
    return false;
  }

  // ---------------------------------------------------------------- flush, retention, state

  private flushPartition(p: HostedPartition): void {
    p.dirty = false;
    this.dirty.delete(p);
    let durable: number;
    const before = p.log.durableOffset;
    const started = performance.now();
    try {
      durable = p.log.flush();
    } catch (err) {
      // A failed fdatasync is timed too: a disk that fails slowly shows in the histogram.
      this.stats?.recorder.recordFsync(this.stats.worker, performance.now() - started);
      const e = errorFields(err, ErrorCode.KAFKA_STORAGE_ERROR);
      // A failed fdatasync always takes the log offline; a write it did first that was refused for space does not.
      if (!p.log.online) this.markOffline(p, ErrorCode.KAFKA_STORAGE_ERROR, e.message);
      return;
    }
    // Timed only when an fdatasync ran (the durable offset moved); a flush with nothing unsynced returns at once.
    if (durable > before) this.stats?.recorder.recordFsync(this.stats.worker, performance.now() - started);
    this.noteDurable(p, durable);
  }

  /**
   * Group commit of one partition without waiting for the disk: the fdatasync
   * runs off this thread (PartitionLog.flushAsync) while the loop goes on
   * staging and writing; what was written before it started becomes durable
   * when it returns, and its DURABLE (or the partition's failure) is published
   * then. At most one per log is in flight: the log's flushDue() says no until
   * it returned.
   */
  private startFlush(p: HostedPartition): void {
    p.dirty = false;
    this.dirty.delete(p);
    const started = performance.now();
    try {
      this.flushesInFlight++;
      const began = p.log.flushAsync((durable, error) => {
        this.flushesInFlight--;
        this.stats?.recorder.recordFsync(this.stats.worker, performance.now() - started);
        if (error !== null) {
          if (!p.log.online) this.markOffline(p, ErrorCode.KAFKA_STORAGE_ERROR, errorFields(error, ErrorCode.KAFKA_STORAGE_ERROR).message);
        } else if (durable > p.view.durableOffset) this.noteDurable(p, durable);
        this.publishFlushed();
        // More may have become due while it ran: a parked loop looks again.
        this.wake();
        if (this.flushesInFlight === 0) for (const w of this.flushWaiters.splice(0)) w();
      });
      if (!began) this.flushesInFlight--;
    } catch (err) {
      this.flushesInFlight--;
      const e = errorFields(err, ErrorCode.KAFKA_STORAGE_ERROR);
      if (!p.log.online) this.markOffline(p, ErrorCode.KAFKA_STORAGE_ERROR, e.message);
    }
  }

  private flushesInFlight = 0;
  private readonly flushWaiters: (() => void)[] = [];

  /** Resolves once no flush started by the group commit is in flight (their DURABLEs are published by then). */
  flushesSettled(): Promise<void> {
    if (this.flushesInFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.flushWaiters.push(resolve));
  }

  /** The partition is durable up to `durable` (its own flush or a journal round): its row, and a DURABLE owed. */
  private noteDurable(p: HostedPartition, durable: number): void {
    // The high watermark a consumer reads up to never moves back, and never passes what was written.
    assert(durable >= p.view.durableOffset, "partition host: the durable offset moved back", durable);
    assert(durable <= p.log.logEndOffset, "partition host: the durable offset passed the log end", durable);
    this.refreshRow(p);
    p.view.durableOffset = durable;
    p.view.highWatermark = durable;
    this.touch(p);
    this.unreported.add(p);
  }

  /** DURABLE reports and state rows of what was just flushed, published. */
  private publishFlushed(): void {
    this.reportOwed();
    this.publishRows();
    this.publishCompletions();
  }

  /** After a read or lookup failed: publish what the log now says of its health. */
  private noteHealth(p: HostedPartition): void {
    const damage = p.log.corruption;
    if (!p.log.online) this.markOffline(p, ErrorCode.KAFKA_STORAGE_ERROR, damage?.message ?? "the partition log went offline");
    else if (damage !== null) this.touch(p);
  }

  /** The partition's storage failed: offline in the table, and the router is told once. */
  private markOffline(p: HostedPartition, code: number, message: string): void {
    if (p.failed) return;
    p.failed = true;
    p.dirty = false;
    this.dirty.delete(p);
    p.view.online = false;
    p.view.errorCode = code;
    this.touch(p);
    this.failedUnreported.set(p, { code, message });
  }

  /** Write owed DURABLE and PARTITION_FAILED completions that fit now; returns how many it wrote. */
  private reportOwed(): number {
    const c = this.completions;
    let written = 0;
    for (const p of this.unreported) {
      if (!c.canReserve(DurableCompl.BYTES)) return written;
      const o = c.reserve(EntryKind.DURABLE, DurableCompl.BYTES);
      c.u32[(o + DurableCompl.SLOT) >>> 2] = p.slot;
      // The latest durable offset, even if several flushes happened while owed.
      c.f64[(o + DurableCompl.DURABLE_OFFSET) >>> 3] = p.view.durableOffset;
      c.commit();
      this.unreported.delete(p);
      written++;
    }
    for (const [p, e] of this.failedUnreported) {
      if (!c.canReserve(FailedCompl.MESSAGE + FAILED_MESSAGE_BYTES_MAX)) return written;
      this.writeFailure(EntryKind.PARTITION_FAILED, p.slot, 0, e.code, e.message);
      this.failedUnreported.delete(p);
      written++;
    }
    return written;
  }

  private retain(p: HostedPartition, nowMs: number): void {
    if (!isOnline(p)) return;
    try {
      p.log.applyRetention(nowMs);
    } catch (err) {
      const e = errorFields(err, ErrorCode.KAFKA_STORAGE_ERROR);
      if (!p.log.online) this.markOffline(p, ErrorCode.KAFKA_STORAGE_ERROR, e.message);
      return;
    }
    this.touch(p);
  }

  private touch(p: HostedPartition): void {
    if (p.touched) return;
    p.touched = true;
    this.touched.push(p);
  }

  /** Copy the log's own numbers into the row (offsets, size, segments, health). */
  private refreshRow(p: HostedPartition): void {
    const log = p.log;
    const v = p.view;
    v.logStartOffset = log.logStartOffset;
    v.logEndOffset = log.logEndOffset;
    v.sizeBytes = log.sizeBytes;
    v.segments = log.segmentCount;
    if (isOnline(p)) {
      v.online = true;
      // Online, yet a read found damage: the row says so (describe shows it), the fetches at it fail.
      v.errorCode = log.corruption !== null ? ErrorCode.CORRUPT_MESSAGE : 0;
      v.durableOffset = log.durableOffset;
      v.highWatermark = log.durableOffset;
    } else {
      v.online = false;
      if (v.errorCode === 0) v.errorCode = ErrorCode.KAFKA_STORAGE_ERROR;
    }
  }

  private publishRows(): void {
    const touched = this.touched;
    for (let i = 0; i < touched.length; i++) {
      const p = touched[i];
      p.touched = false;
      if (!this.partitions.has(p.slot) || this.partitions.get(p.slot) !== p) continue;
      this.refreshRow(p);
      this.table.write(p.slot, p.view);
    }
    touched.length = 0;
  }

  private forget(p: HostedPartition): void {
    this.partitions.delete(p.slot);
    this.dirty.delete(p);
    this.unreported.delete(p);
  }

  /** Records in `length` bytes of whole batches at `at` in the completion ring (for messagesOut). */
  private countRecords(at: number, length: number): number {
    const v = this.fetchedView;
    let records = 0;
    let pos = at;
    const end = at + length;
    while (pos + BATCH_HEADER_BYTES <= end) {
      records += v.getInt32(pos + RECORD_COUNT_OFFSET);
      pos += BATCH_OVERHEAD_BYTES + v.getInt32(pos + BATCH_LENGTH_OFFSET);
    }
    return records;
  }
}
