// Committed offsets in a cluster: kept in the replicated `__consumer_offsets`
// topic (docs/CLUSTER.md, "Consumer groups in a cluster"), one partition per
// group (offsets_topic.ts), in memory for the partitions this broker leads.
//
// Ownership: this broker coordinates a group exactly while it leads the
// group's offsets partition, as the roles the cluster pass applied say
// (host.leaderEpoch). `sync()` compares those roles with what is loaded: a
// partition newly led (or led again in a newer leader epoch: someone else
// may have written it meanwhile) is loaded from its log; one no longer led is
// dropped, with its groups (`onUnloaded`). Requests for a group whose
// partition is loading get COORDINATOR_LOAD_IN_PROGRESS; for one not led here,
// NOT_COORDINATOR (both retriable: clients find the coordinator again).
//
// Loading: the log end is taken when the leadership is seen (nothing appends
// to the partition before the load ends: commits are refused meanwhile), and
// the partition is read as a consumer reads it (below the high watermark)
// until that end. So a load ends only once everything the log held is
// committed on the ISR, and every offset acknowledged by an earlier
// coordinator is in it: an acknowledged commit was durable on every ISR member
// (acks=all), and the new leader is one of them.
//
// Durability contract of commit(): the records (offset_record.ts, the format
// of the single-node log) are appended through the engine with acks=all; the
// promise resolves once the append is durable on the ISR (engine.produce's
// acks=all contract), and only then do get()/entries() show the new values,
// and only if this broker still leads the partition in the epoch the commit
// was made in (else NOT_COORDINATOR: the commit may or may not be in the log;
// a client retries it at the new coordinator, and a commit is idempotent).
// Commits that arrive in one turn of the event loop share one append per
// partition; one append per partition is in flight at a time, so commits to
// one key become visible in the order they were made. Pending entries are
// bounded by OFFSET_COMMITS_PENDING_MAX (then COORDINATOR_NOT_AVAILABLE).
//
// Runs on the router (main) thread.

import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import { OFFSET_COMMITS_PENDING_MAX } from "../../protocol/limits.ts";
import { BatchBuilder, forEachRecord } from "../../protocol/record_batch.ts";
import { OFFSETS_BUILDER_INITIAL_BYTES, OFFSETS_COMMIT_TIMEOUT_MS, OFFSETS_LOAD_FETCH_WAIT_MS, OFFSETS_RECORDS_PER_BATCH_MAX } from "../engine_limits.ts";
import { decodeOffsetRecord, encodeOffsetKey, encodeOffsetValue } from "./offset_record.ts";
import { type CommittedOffsetValue, type OffsetEntry, type OffsetStore, partitionKey, sortedEntries } from "./offset_store.ts";
import { offsetsPartitionFor } from "./offsets_topic.ts";

/** What the store needs of the engine (cluster_offsets_host.ts adapts Engine). */
export interface OffsetsPartitionHost {
  readonly partitions: number;
  /** The leader epoch in which this broker leads offsets partition `p` (roles applied), or -1. */
  leaderEpoch(p: number): number;
  /** The log end offset of a partition this broker holds; -1 when it holds none. */
  logEndOffset(p: number): number;
  /** Appends with acks=all to the internal topic; `cb` once (error code, message). */
  append(p: number, records: Uint8Array, cb: (errorCode: number, message?: string) => void): void;
  /** Reads committed records from `offset` in leader epoch `epoch`, waiting up to `maxWaitMs` for some; a copy of whole batches. */
  read(p: number, offset: number, epoch: number, maxWaitMs: number): Promise<{ errorCode: number; bytes: Uint8Array | null }>;
}

export interface ClusterOffsetStoreOptions {
  readonly host: OffsetsPartitionHost;
  /** A partition was dropped (no longer led): its groups' membership must go. */
  readonly onUnloaded?: (p: number) => void;
  readonly log?: (line: string) => void;
}

interface PendingCommit {
  readonly groupId: string;
  readonly entries: readonly OffsetEntry[];
  resolve(): void;
  reject(e: unknown): void;
}

/** One offsets partition led here: loading, then serving. */
interface LedPartition {
  readonly p: number;
  readonly epoch: number;
  loaded: boolean;
  readonly byGroup: Map<string, Map<string, OffsetEntry>>;
  pending: PendingCommit[];
  pendingEntries: number;
  flushScheduled: boolean;
  appending: boolean;
  dropped: boolean;
}

export interface PartitionLoadReport {
  readonly partition: number;
  readonly epoch: number;
  readonly records: number;
  readonly groups: number;
  readonly loadMs: number;
}

export class ClusterOffsetStore implements OffsetStore {
  readonly #host: OffsetsPartitionHost;
  readonly #opts: ClusterOffsetStoreOptions;
  readonly #led = new Map<number, LedPartition>();
  readonly #builder = new BatchBuilder({ initialBytes: OFFSETS_BUILDER_INITIAL_BYTES });
  #pendingEntries = 0;
  #closed = false;
  /** The last loads finished (at most 1,000), and how many in all. */
  readonly loads: PartitionLoadReport[] = [];
  loadsTotal = 0;

  constructor(opts: ClusterOffsetStoreOptions) {
    this.#host = opts.host;
    this.#opts = opts;
  }

  // ---- ownership ----

  /** Throws NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS unless this broker serves `groupId` now. */
  checkCoordinator(groupId: string): void {
    if (this.#closed) throw new SluiceError(ErrorCode.COORDINATOR_NOT_AVAILABLE, "the broker is shutting down");
    const p = offsetsPartitionFor(groupId, this.#host.partitions);
    this.#syncOne(p);
    const led = this.#led.get(p);
    if (led === undefined) throw new SluiceError(ErrorCode.NOT_COORDINATOR, `this broker does not lead offsets partition ${p} of group ${groupId}`);
    if (!led.loaded) throw new SluiceError(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, `offsets partition ${p} is loading`);
  }

  /** Whether `groupId` is served here now (ListGroups lists only those). */
  serves(groupId: string): boolean {
    return this.#led.get(offsetsPartitionFor(groupId, this.#host.partitions))?.loaded === true;
  }

  /** Compares every offsets partition's role with what is loaded: loads the newly led, drops the others. */
  sync(): void {
    if (this.#closed) return;
    for (let p = 0; p < this.#host.partitions; p++) this.#syncOne(p);
  }

  /** The partitions served now, and those loading (metrics, tests). */
  ledPartitions(): { loaded: number[]; loading: number[] } {
    const out = { loaded: [] as number[], loading: [] as number[] };
    for (const led of this.#led.values()) (led.loaded ? out.loaded : out.loading).push(led.p);
    return out;
  }

  #syncOne(p: number): void {
    const epoch = this.#host.leaderEpoch(p);
    const led = this.#led.get(p);
    if (led !== undefined && led.epoch === epoch) return;
    if (led !== undefined) this.#drop(led, epoch < 0 ? "no longer leads it" : `leads it again in epoch ${epoch}`);
    if (epoch >= 0) this.#load(p, epoch);
  }

  #drop(led: LedPartition, why: string): void {
    led.dropped = true;
    this.#led.delete(led.p);
    const e = new SluiceError(ErrorCode.NOT_COORDINATOR, `this broker ${why}: offsets partition ${led.p}`);
    for (const c of led.pending) c.reject(e);
    this.#pendingEntries -= led.pendingEntries;
    led.pending = [];
    led.pendingEntries = 0;
    this.#opts.log?.(`groups: offsets partition ${led.p} (epoch ${led.epoch}) dropped: this broker ${why}`);
    this.#opts.onUnloaded?.(led.p);
  }

  #load(p: number, epoch: number): void {
    const led: LedPartition = {
      p,
      epoch,
      loaded: false,
      byGroup: new Map(),
      pending: [],
      pendingEntries: 0,
      flushScheduled: false,
      appending: false,
      dropped: false,
    };
    this.#led.set(p, led);
    const end = this.#host.logEndOffset(p);
    const started = performance.now();
    void this.#readAll(led, end).then(
      (records) => {
        if (led.dropped) return;
        led.loaded = true;
        const report = { partition: p, epoch, records, groups: led.byGroup.size, loadMs: performance.now() - started };
        this.loads.push(report);
        this.loadsTotal++;
        if (this.loads.length > 1_000) this.loads.splice(0, this.loads.length - 1_000);
        this.#opts.log?.(`groups: offsets partition ${p} loaded in epoch ${epoch}: ${records} records, ${report.groups} groups, ${report.loadMs.toFixed(1)} ms`);
      },
      (e) => {
        if (led.dropped) return;
        // Not served: drop it; the next sync (a request or the periodic check) tries again.
        this.#opts.log?.(`groups: loading offsets partition ${p} failed: ${(e as Error)?.message ?? e}`);
        led.dropped = true;
        if (this.#led.get(p) === led) this.#led.delete(p);
      },
    );
  }

  /** Reads `led`'s partition from its start to `end` (committed), applying every record; the record count. */
  async #readAll(led: LedPartition, end: number): Promise<number> {
    let offset = 0;
    let records = 0;
    while (offset < end && !led.dropped && !this.#closed) {
      const r = await this.#host.read(led.p, offset, led.epoch, OFFSETS_LOAD_FETCH_WAIT_MS);
      // The topic keeps everything (no retention), so a read from 0 is never out of range; any error ends this load.
      if (r.errorCode !== ErrorCode.NONE) throw new SluiceError(r.errorCode, `reading offsets partition ${led.p} at ${offset}`);
      const bytes = r.bytes;
      if (bytes === null || bytes.length === 0) continue; // the high watermark has not reached `end` yet
      let pos = 0;
      while (pos + 12 <= bytes.length) {
        let last = -1;
        const { size } = forEachRecord(bytes, pos, (rec) => {
          const o = Number(rec.offset);
          last = o;
          if (o < offset) return; // a batch may begin below where we asked
          records++;
          const decoded = decodeOffsetRecord(rec.key, rec.value);
          if (typeof decoded !== "string") apply(led, decoded.groupId, decoded.entry);
        });
        pos += size;
        if (last >= offset) offset = last + 1;
      }
    }
    return records;
  }

  // ---- OffsetStore ----

  get(groupId: string, topic: string, partition: number): CommittedOffsetValue | undefined {
    return this.#servedPartition(groupId)?.byGroup.get(groupId)?.get(partitionKey(topic, partition));
  }

  entries(groupId: string): OffsetEntry[] {
    return sortedEntries(this.#servedPartition(groupId)?.byGroup.get(groupId));
  }

  *groups(): Iterable<string> {
    for (const led of this.#led.values()) if (led.loaded) yield* led.byGroup.keys();
  }

  commit(groupId: string, entries: readonly OffsetEntry[]): Promise<void> {
    try {
      this.checkCoordinator(groupId);
    } catch (e) {
      return Promise.reject(e);
    }
    if (entries.length === 0) return Promise.resolve();
    if (this.#pendingEntries + entries.length > OFFSET_COMMITS_PENDING_MAX) {
      return Promise.reject(new SluiceError(ErrorCode.COORDINATOR_NOT_AVAILABLE, `${this.#pendingEntries} offsets already wait for the offsets topic; retry`));
    }
    const led = this.#led.get(offsetsPartitionFor(groupId, this.#host.partitions))!;
    return new Promise<void>((resolve, reject) => {
      led.pending.push({ groupId, entries, resolve, reject });
      led.pendingEntries += entries.length;
      this.#pendingEntries += entries.length;
      this.#scheduleFlush(led);
    });
  }

  /** Refuses everything from now on; pending commits fail (COORDINATOR_NOT_AVAILABLE). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const e = new SluiceError(ErrorCode.COORDINATOR_NOT_AVAILABLE, "the broker is shutting down");
    for (const led of this.#led.values()) {
      led.dropped = true;
      for (const c of led.pending) c.reject(e);
      led.pending = [];
    }
    this.#led.clear();
    this.#pendingEntries = 0;
  }

  #servedPartition(groupId: string): LedPartition | undefined {
    const led = this.#led.get(offsetsPartitionFor(groupId, this.#host.partitions));
    return led?.loaded === true ? led : undefined;
  }

  // ---- writing ----

  #scheduleFlush(led: LedPartition): void {
    if (led.flushScheduled || led.appending) return;
    led.flushScheduled = true;
    setImmediate(() => this.#flush(led));
  }

  /** One append of everything pending on `led` (one batch per OFFSETS_RECORDS_PER_BATCH_MAX records, in order). */
  #flush(led: LedPartition): void {
    led.flushScheduled = false;
    if (led.dropped || led.appending || led.pending.length === 0) return;
    const batch = led.pending;
    led.pending = [];
    this.#pendingEntries -= led.pendingEntries;
    led.pendingEntries = 0;
    const now = Date.now();
    const chunks: Uint8Array[] = [];
    this.#builder.reset(now);
    let inBatch = 0;
    for (const c of batch) {
      for (const e of c.entries) {
        this.#builder.append({ key: encodeOffsetKey(c.groupId, e.topic, e.partition), value: encodeOffsetValue(e), timestamp: e.timestampMs });
        if (++inBatch === OFFSETS_RECORDS_PER_BATCH_MAX) {
          chunks.push(this.#builder.finish().slice());
          this.#builder.reset(now);
          inBatch = 0;
        }
      }
    }
    if (inBatch > 0) chunks.push(this.#builder.finish().slice());
    led.appending = true;
    let left = chunks.length;
    let failure: SluiceError | undefined;
    let settled = false;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      led.appending = false;
      if (failure === undefined && led.dropped) failure = new SluiceError(ErrorCode.NOT_COORDINATOR, `offsets partition ${led.p} moved while the commit was written`);
      if (failure !== undefined) {
        for (const c of batch) c.reject(failure);
        if (failure.code === ErrorCode.NOT_COORDINATOR) this.#syncOne(led.p);
      } else {
        for (const c of batch) for (const e of c.entries) apply(led, c.groupId, e);
        for (const c of batch) c.resolve();
      }
      if (!led.dropped && led.pending.length > 0) this.#scheduleFlush(led);
    };
    const timer = setTimeout(() => {
      failure ??= new SluiceError(ErrorCode.COORDINATOR_NOT_AVAILABLE, `the commit was not durable on the ISR of offsets partition ${led.p} within ${OFFSETS_COMMIT_TIMEOUT_MS} ms`);
      finish();
    }, OFFSETS_COMMIT_TIMEOUT_MS);
    for (const chunk of chunks) {
      this.#host.append(led.p, chunk, (code, message) => {
        if (code !== ErrorCode.NONE) failure ??= new SluiceError(commitErrorCode(code), `offsets partition ${led.p}: ${message ?? `error ${code}`}`);
        if (--left === 0) finish();
      });
    }
  }
}

function apply(led: LedPartition, groupId: string, e: OffsetEntry): void {
  let g = led.byGroup.get(groupId);
  if (g === undefined) led.byGroup.set(groupId, (g = new Map()));
  g.set(partitionKey(e.topic, e.partition), e);
}

/** The commit's answer for an append's error, as Kafka's GroupMetadataManager maps them. */
export function commitErrorCode(code: number): number {
  switch (code) {
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode.NOT_ENOUGH_REPLICAS:
    case ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case ErrorCode.REQUEST_TIMED_OUT:
    case ErrorCode.LEADER_NOT_AVAILABLE:
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    case ErrorCode.NOT_LEADER_OR_FOLLOWER:
    case ErrorCode.FENCED_LEADER_EPOCH:
    case ErrorCode.KAFKA_STORAGE_ERROR:
      return ErrorCode.NOT_COORDINATOR;
    case ErrorCode.MESSAGE_TOO_LARGE:
    case ErrorCode.RECORD_LIST_TOO_LARGE:
    case ErrorCode.INVALID_FETCH_SIZE:
      return ErrorCode.INVALID_COMMIT_OFFSET_SIZE;
    default:
      return ErrorCode.UNKNOWN_SERVER_ERROR;
  }
}
