// Consumer: reads assigned partitions from chosen positions, as an async
// iterator of records or of batches, or by poll().
//
//   const c = new Consumer({ broker: "127.0.0.1:9900" });
//   c.assign([{ topic: "orders", partition: 0, position: "beginning" }]);
//   for await (const r of c.records()) { ... r.offset, r.key, r.value ... }
//
// There is no group and no commit here: the application (or the group
// consumer built on top) says which partitions to read and from where —
// assign(), seek() — and reads position() to know where it is.
//
// Fetching: one long-poll Fetch at a time covers every assigned partition.
// What it returns waits in a prefetch queue bounded in bytes
// (prefetchBytesMax): a new fetch is only sent while the queue holds at most
// half of it, and asks for no more than the room left, so an application
// that reads slowly slows fetching instead of filling memory. (The broker
// never splits a batch, so a single batch larger than half the bound can
// take the queue past it once.) Bytes leave the queue as the application
// takes records out.
//
// Positions: records below a partition's position are skipped (a fetch may
// start inside a batch). A position outside the log (OFFSET_OUT_OF_RANGE)
// is reset by autoOffsetReset: "earliest" to the log start, "latest" to the
// end, "none" makes the iterator throw OffsetOutOfRangeError for that
// partition (after the records before it) until the application seeks.
//
// Failures: a lost connection or a retriable partition error is retried with
// backoff (the link reconnects); other errors are thrown by the iterator.
//
// A cluster: partitions are read from the bootstrap broker until one answers
// NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE or FENCED_LEADER_EPOCH (or its
// leader's connection fails); then the topic's Metadata names each
// partition's leader (leader_router.ts) and the partitions are read from
// their leaders, one fetch per broker at a time, the prefetch room shared
// between them. A single node never answers so, and reads as before.
// One reader at a time: use records(), batches() or poll(), not several at once.

import { ApiKey } from "../protocol/api_keys.ts";
import { readI32, readI64 } from "../protocol/big_endian.ts";
import { ErrorCode, SluiceError, isRetriable } from "../protocol/errors.ts";
import { FETCH_BYTES_MAX, FETCH_PARTITION_BYTES_MAX, FETCH_WAIT_MS_MAX } from "../protocol/limits.ts";
import { decodeFetchResponse, writeFetchRequest, type FetchTopic } from "../protocol/messages/fetch.ts";
import {
  BASE_OFFSET_OFFSET,
  BATCH_LENGTH_OFFSET,
  BATCH_OVERHEAD_BYTES,
  LAST_OFFSET_DELTA_OFFSET,
  isControlBatch,
} from "../protocol/record_batch.ts";
import { backoffMs, delay } from "./backoff.ts";
import { BrokerLink, controlCall, type RequestLink } from "./broker_link.ts";
import { LeaderRouter } from "./leader_router.ts";
import { ConnectionError } from "./errors.ts";
import { BACKOFF_CEILING_MS_MAX, BACKOFF_MS_MAX, CLIENT_BUFFER_BYTES_MAX, PREFETCH_BYTES_MIN } from "./client_limits.ts";
import { ClientClosedError, InvalidArgumentError, OffsetOutOfRangeError, errorCodeName } from "./errors.ts";
import { listOffsets, type OffsetAnswer, type OffsetQuery, type OffsetRequest } from "./list_offsets.ts";
import { checkInt, clientConfig, type ClientOptions } from "./options.ts";
import { checkTopicName } from "../protocol/topic_name.ts";
import { checkFetchedBatch, decodeFetchedRecords, type FetchedBatchInfo, type FetchedRecord } from "./record_decoder.ts";

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface ConsumerRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  /** Milliseconds since the epoch (create time, or log-append time for such topics). */
  readonly timestamp: number;
  /** Views into the fetched bytes: copy them to keep them past the record's use. */
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers: ReadonlyArray<readonly [string, Uint8Array | null]>;
}

/** The records of one stored batch that are at or past the partition's position. */
export interface ConsumerBatch {
  readonly topic: string;
  readonly partition: number;
  /** Decoded when first read (batches() readers who only need `bytes` never pay for it). */
  readonly records: ConsumerRecord[];
  /** The partition's high watermark when the batch was fetched (lag = highWatermark - last offset - 1). */
  readonly highWatermark: bigint;
  /**
   * The stored batch as fetched (RecordBatch v2, a view into the fetched
   * bytes; its framing and CRC-32C are checked). It may hold records below the
   * position, which `records` leaves out.
   */
  readonly bytes: Uint8Array;
}

/**
 * A batch taken out of the prefetch queue: checked (framing, CRC) when taken,
 * its records decoded on first use. A record that does not decode fails the
 * partition as a bad batch always did (`onBadBatch`), and the error is thrown.
 */
class FetchedBatch implements ConsumerBatch {
  private decoded: FetchedRecord[] | undefined;

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly highWatermark: bigint,
    readonly bytes: Uint8Array,
    private readonly info: FetchedBatchInfo,
    /** The partition's position when the batch was taken: records below it are left out. */
    private readonly position: bigint,
    private readonly onBadBatch: (error: unknown) => void,
  ) {}

  get records(): FetchedRecord[] {
    let records = this.decoded;
    if (records === undefined) {
      records = [];
      try {
        decodeFetchedRecords(this.bytes, 0, this.info, this.topic, this.partition, this.position, records);
      } catch (e) {
        this.onBadBatch(e);
        throw e;
      }
      this.decoded = records;
    }
    return records;
  }
}

/** Where to read from: the log start, its end (only new records), an offset, or the first record at/after a time. */
export type SeekPosition = "beginning" | "end" | bigint | number | { readonly offset: bigint | number } | { readonly timestamp: number };

export interface PartitionAssignment extends TopicPartition {
  /** Default: "beginning" when autoOffsetReset is "earliest", "end" when "latest" (required when "none"). */
  readonly position?: SeekPosition;
}

export type AutoOffsetReset = "earliest" | "latest" | "none";

export interface ConsumerOptions extends ClientOptions {
  /** Bytes of fetched records held for the application before fetching pauses. */
  readonly prefetchBytesMax?: number;
  /** Largest fetch response (all partitions). */
  readonly fetchMaxBytes?: number;
  /** Largest share of one partition in a fetch. */
  readonly partitionFetchBytesMax?: number;
  /** How long the broker holds a fetch when there is nothing new (long-poll). */
  readonly fetchMaxWaitMs?: number;
  /** The broker answers once this many bytes are there (or fetchMaxWaitMs passed). */
  readonly fetchMinBytes?: number;
  readonly autoOffsetReset?: AutoOffsetReset;
  readonly retryBackoffMs?: number;
  readonly retryBackoffMsMax?: number;
  /**
   * Verify each fetched batch's CRC-32C (Kafka's check.crcs). The broker
   * verifies every batch it serves; turning this off saves the consumer about
   * a quarter of its CPU per record, at the price of not catching damage
   * between the broker's check and the application.
   */
  readonly checkCrcs?: boolean;
  /** Test seam: the request link (default: a BrokerLink to `broker`). */
  readonly link?: RequestLink;
}

/**
 * Fetch sizes: 2 MiB per response, 512 KiB per partition. Smaller responses
 * are cheaper per record on both ends (a fresh multi-MiB buffer per response
 * costs page faults in the client, a large read a large ring entry in the
 * broker). Measured with `sluice bench consume --embedded --messages 5000000
 * --partitions 8` (one consumer, runs interleaved): 8 MiB / 4 MiB (the former
 * defaults) 1.42-1.57M msgs/s; 4 MiB / 1 MiB 1.71-1.78M; 2 MiB / 1 MiB
 * 1.47-1.76M; 2 MiB / 256 KiB 1.79-1.92M; 2 MiB / 512 KiB 1.62-2.18M (median
 * of five 2.04M).
 */
export const CONSUMER_DEFAULTS = {
  prefetchBytesMax: 16 * 1024 * 1024,
  fetchMaxBytes: 2 * 1024 * 1024,
  partitionFetchBytesMax: 512 * 1024,
  fetchMaxWaitMs: 500,
  fetchMinBytes: 1,
  autoOffsetReset: "earliest" as AutoOffsetReset,
  retryBackoffMs: 100,
  retryBackoffMsMax: 1_000,
  checkCrcs: true,
} as const;

/** Start positions the consumer resolves with ListOffsets before fetching. */
type PendingPosition = "beginning" | "end" | { timestamp: number };

interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  /** Bumped by every seek: fetched data and answers of an older epoch are dropped. */
  epoch: number;
  /** Set until resolved into an offset by ListOffsets. */
  pending: PendingPosition | undefined;
  /** Next offset to fetch. */
  fetchOffset: bigint;
  /** Next offset to hand to the application. */
  position: bigint;
  highWatermark: bigint;
  /** Paused by an error the application must see (autoOffsetReset "none"). */
  failed: boolean;
  retryAt: number;
  retryAttempts: number;
  assigned: boolean;
}

/** A fetched records blob of one partition, consumed batch by batch. */
interface QueueItem {
  /** undefined for an error every reader must see (not tied to a partition). */
  readonly state: PartitionState | undefined;
  readonly epoch: number;
  readonly records: Uint8Array;
  /** Start of the next batch not yet handed out. */
  pos: number;
  readonly highWatermark: bigint;
  readonly error: Error | undefined;
}

const keyOf = (topic: string, partition: number) => `${topic}\0${partition}`;

/** The consumer's side of a records() iterator. */
interface RecordSource {
  /** The next batch if one is queued (throws a partition's error when the queue reaches it). */
  nextBatch(): ConsumerBatch | undefined;
  waitForData(): Promise<void>;
  closed(): boolean;
  stateOf(batch: ConsumerBatch): PartitionState | undefined;
  putBack(state: PartitionState, rest: ConsumerBatch, nextPosition: bigint): void;
}

const DONE: IteratorReturnResult<void> = Object.freeze({ done: true, value: undefined });

/**
 * records(): records one by one out of the batches the consumer takes from
 * its queue. Hand-written rather than an async generator, which costs about
 * twice as much per record; one record = one promise and one result object.
 */
class RecordIterator implements AsyncGenerator<ConsumerRecord, void, undefined> {
  private batch: ConsumerBatch | undefined;
  /** The next record of `batch` to hand out. */
  private index = 0;
  private state: PartitionState | undefined;
  private epoch = 0;
  /** The partition's position once the batch is handed out (for a put-back). */
  private nextPosition = -1n;
  private finished = false;

  constructor(private readonly source: RecordSource) {}

  next(): Promise<IteratorResult<ConsumerRecord, void>> {
    for (;;) {
      const batch = this.batch;
      if (batch !== undefined) {
        // A seek while the application held this batch makes the rest of it stale.
        const state = this.state;
        if (this.index < batch.records.length && state !== undefined && state.epoch === this.epoch) {
          return Promise.resolve({ done: false, value: batch.records[this.index++] });
        }
        this.batch = undefined;
      }
      if (this.finished) return Promise.resolve(DONE);
      let next: ConsumerBatch | undefined;
      try {
        next = this.source.nextBatch();
        void next?.records; // decoded here, so a bad batch rejects this next()
      } catch (e) {
        this.finished = true; // as a generator does after throwing
        return Promise.reject(e);
      }
      if (next === undefined) {
        if (this.source.closed()) {
          this.finished = true;
          return Promise.resolve(DONE);
        }
        return this.source.waitForData().then(() => this.next());
      }
      const state = this.source.stateOf(next);
      this.batch = next;
      this.index = 0;
      this.state = state;
      this.epoch = state?.epoch ?? 0;
      this.nextPosition = state?.position ?? -1n;
    }
  }

  /** Leaving the loop early: the records not yet handed out go back (the position moves back to the first). */
  return(): Promise<IteratorResult<ConsumerRecord, void>> {
    const { batch, state } = this;
    if (batch !== undefined && this.index < batch.records.length && state !== undefined && state.epoch === this.epoch && state.assigned) {
      this.source.putBack(state, { ...batch, records: batch.records.slice(this.index) }, this.nextPosition);
    }
    this.batch = undefined;
    this.finished = true;
    return Promise.resolve(DONE);
  }

  throw(error: unknown): Promise<IteratorResult<ConsumerRecord, void>> {
    void this.return();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): AsyncGenerator<ConsumerRecord, void, undefined> {
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.return();
  }
}

/** Rounds of leader lookups one listOffsets() call makes at most before it answers a partition's error. */
const LIST_OFFSETS_LEADER_ROUNDS_MAX = 8;
/** Partition answers after which the partition's leader is looked up again. */
const LEADER_ERRORS: ReadonlySet<number> = new Set([ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.LEADER_NOT_AVAILABLE, ErrorCode.FENCED_LEADER_EPOCH]);

export class Consumer implements AsyncIterable<ConsumerRecord> {
  private readonly link: RequestLink;
  /** In a cluster, each partition's leader link; everything else goes over `link`. */
  private readonly router: LeaderRouter;
  /** Topics whose metadata is being asked for (one lookup at a time each). */
  private readonly leaderLookups = new Set<string>();
  private readonly prefetchBytesMax: number;
  private readonly fetchMaxBytes: number;
  private readonly partitionFetchBytesMax: number;
  private readonly fetchMaxWaitMs: number;
  private readonly fetchMinBytes: number;
  private readonly autoOffsetReset: AutoOffsetReset;
  private readonly retryBackoffMs: number;
  private readonly retryBackoffMsMax: number;
  private readonly checkCrcs: boolean;

  private readonly states = new Map<string, PartitionState>();
  /** Fetched data in arrival order; its bytes are bounded by prefetchBytesMax (see the file comment). */
  private queue: QueueItem[] = [];
  private queueHead = 0;
  private prefetched = 0;
  private loop: Promise<void> | undefined;
  private loopWake: (() => void) | undefined;
  private readerWake: (() => void) | undefined;
  private wakeRequested = false;
  private closed = false;
  /** Called when a seek or assign changed positions while a fetch is in flight (see fetchLoop). */
  private onPositionsMoved: (() => void) | undefined;
  /** Fetches given up on after a seek, whose answers are still to come (at most one). */
  private abandonedFetches = 0;
  /** Records of a batch taken out of the queue but not handed out (poll's maxRecords, a break out of records()). */
  private carry: { state: PartitionState; epoch: number; batch: ConsumerBatch; nextPosition: bigint } | undefined;
  /** Fetch requests sent (for tests and monitoring). */
  fetchesSent = 0;
  /** What records() iterators use of the consumer. */
  private readonly recordSource: RecordSource = {
    nextBatch: () => this.nextBatch(),
    waitForData: () => this.waitForData(Infinity),
    closed: () => this.closed,
    stateOf: (batch) => this.states.get(keyOf(batch.topic, batch.partition)),
    putBack: (state, rest, nextPosition) => this.putBack(state, rest, nextPosition),
  };

  constructor(options: ConsumerOptions = {}) {
    const config = clientConfig(options);
    this.link = options.link ?? new BrokerLink(config, "consumer");
    this.router = new LeaderRouter(config, this.link, "consumer");
    this.prefetchBytesMax = checkInt("prefetchBytesMax", options.prefetchBytesMax ?? CONSUMER_DEFAULTS.prefetchBytesMax, PREFETCH_BYTES_MIN, CLIENT_BUFFER_BYTES_MAX);
    this.fetchMaxBytes = checkInt("fetchMaxBytes", options.fetchMaxBytes ?? CONSUMER_DEFAULTS.fetchMaxBytes, 1, FETCH_BYTES_MAX);
    this.partitionFetchBytesMax = checkInt(
      "partitionFetchBytesMax",
      options.partitionFetchBytesMax ?? CONSUMER_DEFAULTS.partitionFetchBytesMax,
      1,
      FETCH_PARTITION_BYTES_MAX,
    );
    this.fetchMaxWaitMs = checkInt("fetchMaxWaitMs", options.fetchMaxWaitMs ?? CONSUMER_DEFAULTS.fetchMaxWaitMs, 0, FETCH_WAIT_MS_MAX);
    this.fetchMinBytes = checkInt("fetchMinBytes", options.fetchMinBytes ?? CONSUMER_DEFAULTS.fetchMinBytes, 0, FETCH_BYTES_MAX);
    const reset = options.autoOffsetReset ?? CONSUMER_DEFAULTS.autoOffsetReset;
    if (reset !== "earliest" && reset !== "latest" && reset !== "none") {
      throw new InvalidArgumentError(`autoOffsetReset must be "earliest", "latest" or "none", got ${String(reset)}`);
    }
    this.autoOffsetReset = reset;
    this.retryBackoffMs = checkInt("retryBackoffMs", options.retryBackoffMs ?? CONSUMER_DEFAULTS.retryBackoffMs, 1, BACKOFF_MS_MAX);
    this.retryBackoffMsMax = checkInt("retryBackoffMsMax", options.retryBackoffMsMax ?? CONSUMER_DEFAULTS.retryBackoffMsMax, this.retryBackoffMs, BACKOFF_CEILING_MS_MAX);
    this.checkCrcs = options.checkCrcs ?? CONSUMER_DEFAULTS.checkCrcs;
  }

  /** Bytes of fetched records waiting for the application (bounded by prefetchBytesMax). */
  get prefetchedBytes(): number {
    return this.prefetched;
  }

  // ---------------------------------------------------------------- assignment and positions

  /**
   * Replaces the set of partitions read. Partitions kept keep their position
   * unless a new one is given; partitions dropped lose their prefetched data.
   */
  assign(assignments: readonly PartitionAssignment[]): void {
    this.checkOpen();
    const next = new Map<string, PartitionAssignment>();
    for (const a of assignments) {
      checkTopicName(a.topic);
      if (!Number.isInteger(a.partition) || a.partition < 0) {
        throw new InvalidArgumentError(`partition must be a non-negative integer, got ${a.partition}`);
      }
      if (a.position === undefined && this.autoOffsetReset === "none" && !this.states.has(keyOf(a.topic, a.partition))) {
        throw new InvalidArgumentError(`${a.topic}/${a.partition}: a position is required when autoOffsetReset is "none"`);
      }
      next.set(keyOf(a.topic, a.partition), a);
    }
    for (const [key, state] of this.states) {
      if (next.has(key)) continue;
      state.assigned = false;
      state.epoch++;
      this.states.delete(key);
    }
    this.onPositionsMoved?.();
    for (const [key, a] of next) {
      let state = this.states.get(key);
      if (state === undefined) {
        state = {
          topic: a.topic,
          partition: a.partition,
          epoch: 0,
          pending: this.autoOffsetReset === "latest" ? "end" : "beginning",
          fetchOffset: -1n,
          position: -1n,
          highWatermark: -1n,
          failed: false,
          retryAt: 0,
          retryAttempts: 0,
          assigned: true,
        };
        this.states.set(key, state);
      }
      if (a.position !== undefined) this.setPosition(state, a.position);
    }
    this.dropStaleQueueItems();
    this.startLoop();
    this.wakeLoop();
  }

  /** The partitions assigned. */
  assignment(): TopicPartition[] {
    return [...this.states.values()].map((s) => ({ topic: s.topic, partition: s.partition }));
  }

  /** Moves a partition's position; data prefetched from the old position is dropped. */
  seek(tp: TopicPartition, position: SeekPosition): void {
    this.checkOpen();
    const state = this.states.get(keyOf(tp.topic, tp.partition));
    if (state === undefined) throw new InvalidArgumentError(`${tp.topic}/${tp.partition} is not assigned`);
    this.setPosition(state, position);
    this.dropStaleQueueItems();
    this.wakeLoop();
  }

  /**
   * The next offset the application will be given for the partition, or
   * undefined while a "beginning"/"end"/timestamp position is being resolved.
   */
  position(tp: TopicPartition): bigint | undefined {
    const state = this.states.get(keyOf(tp.topic, tp.partition));
    if (state === undefined || state.pending !== undefined) return undefined;
    return state.position;
  }

  /** The high watermark last seen for the partition (-1 before the first fetch). */
  highWatermark(tp: TopicPartition): bigint {
    return this.states.get(keyOf(tp.topic, tp.partition))?.highWatermark ?? -1n;
  }

  /**
   * Log start, high watermark, or first offset at/after a timestamp, for any
   * partitions (assigned or not). Each goes to its partition's leader (in a
   * cluster: looked up with Metadata first, and again, up to
   * LIST_OFFSETS_LEADER_ROUNDS_MAX times, for a partition answered
   * NOT_LEADER_OR_FOLLOWER / LEADER_NOT_AVAILABLE / FENCED_LEADER_EPOCH or
   * whose leader could not be reached); on a single node, the bootstrap broker.
   */
  async listOffsets(requests: readonly OffsetRequest[]): Promise<OffsetAnswer[]> {
    this.checkOpen();
    const answers = new Array<OffsetAnswer | undefined>(requests.length);
    let todo = requests.map((_, i) => i);
    /** Topics to look up before the next round (a leader answered it is not, or could not be reached). */
    let stale = new Set<string>();
    for (let round = 0; todo.length > 0; round++) {
      const last = round + 1 >= LIST_OFFSETS_LEADER_ROUNDS_MAX;
      // A timer of its own: sleepLoop would take the fetch loop's wake-up.
      if (round > 0) await delay(backoffMs(round - 1, { initialMs: this.retryBackoffMs, maxMs: this.retryBackoffMsMax }));
      // Topics with a partition whose leader is not known: ask once, together.
      for (const i of todo) if (this.router.linkFor(requests[i].topic, requests[i].partition) === undefined) stale.add(requests[i].topic);
      if (stale.size > 0) this.router.learn(await controlCall(this.link, ApiKey.Metadata, { topics: [...stale], allowAutoCreate: false }));
      stale = new Set();
      const byLink = new Map<RequestLink, number[]>();
      const again: number[] = [];
      for (const i of todo) {
        const link = this.router.linkFor(requests[i].topic, requests[i].partition);
        if (link === undefined) {
          if (last) answers[i] = { topic: requests[i].topic, partition: requests[i].partition, errorCode: ErrorCode.LEADER_NOT_AVAILABLE, offset: -1n, timestamp: -1 };
          else again.push(i);
          continue;
        }
        const g = byLink.get(link);
        if (g === undefined) byLink.set(link, [i]);
        else g.push(i);
      }
      await Promise.all(
        [...byLink].map(async ([link, indexes]) => {
          let got: OffsetAnswer[];
          try {
            got = await listOffsets(link, indexes.map((i) => requests[i]));
          } catch (e) {
            if (last || !(e instanceof ConnectionError)) throw e;
            for (const i of indexes) {
              this.router.forget(requests[i].topic, requests[i].partition);
              stale.add(requests[i].topic);
              again.push(i);
            }
            return;
          }
          indexes.forEach((i, k) => {
            if (!last && LEADER_ERRORS.has(got[k].errorCode)) {
              this.router.forget(requests[i].topic, requests[i].partition);
              stale.add(requests[i].topic);
              again.push(i);
            } else answers[i] = got[k];
          });
        }),
      );
      todo = again;
    }
    return answers as OffsetAnswer[];
  }

  private setPosition(state: PartitionState, position: SeekPosition): void {
    state.epoch++;
    this.onPositionsMoved?.();
    state.failed = false;
    state.retryAt = 0;
    state.retryAttempts = 0;
    if (position === "beginning" || position === "end") {
      state.pending = position;
      return;
    }
    let offset: bigint;
    if (typeof position === "bigint") offset = position;
    else if (typeof position === "number") offset = toOffset(position);
    else if ("offset" in position) offset = typeof position.offset === "bigint" ? position.offset : toOffset(position.offset);
    else if ("timestamp" in position && Number.isSafeInteger(position.timestamp)) {
      state.pending = { timestamp: position.timestamp };
      return;
    } else throw new InvalidArgumentError(`not a seek position: ${JSON.stringify(position, (_, v) => (typeof v === "bigint" ? String(v) : v))}`);
    if (offset < 0n) throw new InvalidArgumentError(`offset must be non-negative, got ${offset}`);
    state.pending = undefined;
    state.fetchOffset = offset;
    state.position = offset;
  }

  // ---------------------------------------------------------------- reading

  [Symbol.asyncIterator](): AsyncIterator<ConsumerRecord> {
    return this.records();
  }

  /**
   * Records one by one, in offset order per partition. Ends when the consumer
   * is closed. Leaving the loop early (break) puts the records not yet yielded
   * back: the partition's position moves back to the first of them.
   */
  records(): AsyncGenerator<ConsumerRecord, void, undefined> {
    return new RecordIterator(this.recordSource);
  }

  /** Batches (the records of one stored batch each, below-position records removed). Ends when closed. */
  async *batches(): AsyncGenerator<ConsumerBatch, void, undefined> {
    for (;;) {
      const batch = await this.nextBatchWaiting();
      if (batch === undefined) return;
      yield batch;
    }
  }

  /**
   * The records available now (up to maxRecords), waiting up to maxWaitMs
   * for the first one. Returns [] on timeout, after wake(), or once closed.
   */
  async poll(options?: { maxWaitMs?: number; maxRecords?: number }): Promise<ConsumerRecord[]> {
    const maxRecords = options?.maxRecords ?? 10_000;
    const deadline = Date.now() + (options?.maxWaitMs ?? 1_000);
    const out: ConsumerRecord[] = [];
    this.wakeRequested = false;
    for (;;) {
      for (let batch = this.nextBatch(); batch !== undefined; batch = this.nextBatch()) {
        const room = maxRecords - out.length;
        if (batch.records.length > room) {
          const state = this.states.get(keyOf(batch.topic, batch.partition))!;
          for (let i = 0; i < room; i++) out.push(batch.records[i]);
          this.putBack(state, { ...batch, records: batch.records.slice(room) }, state.position);
          return out;
        }
        for (const r of batch.records) out.push(r);
        if (out.length >= maxRecords) return out;
      }
      if (out.length > 0 || this.closed || this.wakeRequested || Date.now() >= deadline) return out;
      await this.waitForData(deadline - Date.now());
    }
  }

  /** Makes a pending poll() return at once. */
  wake(): void {
    this.wakeRequested = true;
    this.readerWake?.();
  }

  private async nextBatchWaiting(): Promise<ConsumerBatch | undefined> {
    for (;;) {
      const batch = this.nextBatch();
      if (batch !== undefined) return batch;
      if (this.closed) return undefined;
      await this.waitForData(Infinity);
    }
  }

  /**
   * Takes the next batch with records at or past its partition's position
   * out of the queue, releasing its bytes. Throws a partition's error when
   * the queue reaches it.
   */
  private nextBatch(): ConsumerBatch | undefined {
    const carried = this.carry;
    if (carried !== undefined) {
      this.carry = undefined;
      const s = carried.state;
      if (s.assigned && s.epoch === carried.epoch) {
        s.position = carried.nextPosition;
        return carried.batch;
      }
    }
    while (this.queueHead < this.queue.length) {
      const item = this.queue[this.queueHead];
      const state = item.state;
      if (state === undefined) {
        this.shiftQueue();
        throw item.error;
      }
      if (!state.assigned || item.epoch !== state.epoch) {
        this.shiftQueue();
        continue;
      }
      if (item.error !== undefined) {
        this.shiftQueue();
        throw item.error;
      }
      if (item.pos >= item.records.length) {
        this.shiftQueue();
        continue;
      }
      const start = item.pos;
      let info: FetchedBatchInfo;
      try {
        info = checkFetchedBatch(item.records, start, this.checkCrcs);
      } catch (e) {
        this.badBatch(state, state.epoch, state.position, e);
        throw e;
      }
      const { size, nextOffset, attributes, recordCount } = info;
      item.pos = start + size;
      this.release(size);
      const position = state.position;
      if (nextOffset <= position) continue; // every record below the position
      state.position = nextOffset;
      if (isControlBatch(attributes) || recordCount === 0) continue;
      const epoch = state.epoch;
      return new FetchedBatch(state.topic, state.partition, item.highWatermark, item.records.subarray(start, start + size), info, position, (e) =>
        this.badBatch(state, epoch, position, e),
      );
    }
    return undefined;
  }

  /** A batch that does not decode: the partition stops at it until the application seeks. */
  private badBatch(state: PartitionState, epoch: number, position: bigint, _error: unknown): void {
    if (state.epoch !== epoch || !state.assigned) return; // moved on meanwhile
    state.position = position;
    state.failed = true;
    state.epoch++;
    this.dropStaleQueueItems();
  }

  /**
   * Keeps the not-yet-handed-out end of a batch for the next read, ahead of
   * the queue; the partition's position goes back to its first record.
   * `nextPosition` is where the position goes once it is handed out.
   */
  private putBack(state: PartitionState, rest: ConsumerBatch, nextPosition: bigint): void {
    this.carry = { state, epoch: state.epoch, batch: rest, nextPosition };
    state.position = rest.records[0].offset;
  }

  private shiftQueue(): void {
    const item = this.queue[this.queueHead];
    this.release(item.records.length - item.pos);
    this.queueHead++;
    if (this.queueHead === this.queue.length) {
      this.queue = [];
      this.queueHead = 0;
    } else if (this.queueHead >= 256 && this.queueHead * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
  }

  private dropStaleQueueItems(): void {
    const kept: QueueItem[] = [];
    for (let i = this.queueHead; i < this.queue.length; i++) {
      const item = this.queue[i];
      if (item.state === undefined || (item.state.assigned && item.epoch === item.state.epoch)) kept.push(item);
      else this.release(item.records.length - item.pos);
    }
    this.queue = kept;
    this.queueHead = 0;
  }

  private release(bytes: number): void {
    if (bytes <= 0) return;
    const before = this.prefetched;
    this.prefetched -= bytes;
    if (this.prefetched < 0) throw new Error(`Consumer: prefetched bytes went negative (${this.prefetched})`);
    // Crossing the refill mark: the fetch loop may go on.
    if (before > this.refillMark && this.prefetched <= this.refillMark) this.wakeLoop();
  }

  private waitForData(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        clearTimeout(timer);
        if (this.readerWake === done) this.readerWake = undefined;
        resolve();
      };
      if (timeoutMs !== Infinity) timer = setTimeout(done, Math.max(0, timeoutMs));
      this.readerWake = done;
    });
  }

  // ---------------------------------------------------------------- fetching

  /** Fetch only while the queue holds at most this many bytes (half the bound: hysteresis, fewer small fetches). */
  private get refillMark(): number {
    return Math.floor(this.prefetchBytesMax / 2);
  }

  private startLoop(): void {
    this.loop ??= this.fetchLoop().catch((e) => {
      // The loop handles its own errors; reaching here is a bug. Surface it to the reader.
      this.pushError(undefined, e as Error);
    });
  }

  private wakeLoop(): void {
    this.loopWake?.();
  }

  private sleepLoop(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        clearTimeout(timer);
        if (this.loopWake === done) this.loopWake = undefined;
        resolve();
      };
      if (ms !== Infinity) timer = setTimeout(done, Math.max(0, ms));
      this.loopWake = done;
    });
  }

  private async fetchLoop(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      const now = Date.now();
      const pending: PartitionState[] = [];
      const ready: PartitionState[] = [];
      let nextRetry = Infinity;
      for (const s of this.states.values()) {
        if (s.failed) continue;
        if (s.retryAt > now) {
          nextRetry = Math.min(nextRetry, s.retryAt);
          continue;
        }
        if (s.pending !== undefined) pending.push(s);
        else ready.push(s);
      }
      try {
        if (pending.length > 0) {
          await this.resolvePositions(pending);
          failures = 0;
          continue;
        }
        if (ready.length === 0) {
          await this.sleepLoop(nextRetry === Infinity ? Infinity : nextRetry - now);
          continue;
        }
        if (this.prefetched > this.refillMark) {
          await this.sleepLoop(Infinity);
          continue;
        }
        const groups = this.byLink(ready);
        if (groups.size === 0) {
          await this.sleepLoop(this.retryBackoffMs);
          continue;
        }
        if (groups.size === 1 && groups.has(this.link)) await this.fetchUnlessMoved(ready);
        else await this.fetchFromLeaders(groups);
        failures = 0;
      } catch (e) {
        if (this.closed) return;
        const code = e instanceof SluiceError ? e.code : ErrorCode.UNKNOWN_SERVER_ERROR;
        if (!isRetriable(code)) {
          // Not going to get better by itself: the reader sees it, and the loop backs off.
          this.pushError(undefined, e as Error);
        }
        await this.sleepLoop(backoffMs(failures++, { initialMs: this.retryBackoffMs, maxMs: this.retryBackoffMsMax }));
      }
    }
  }

  /** Partitions by the link of their leader; a partition whose leader is unknown waits (and its leader is looked up). */
  private byLink(states: PartitionState[]): Map<RequestLink, PartitionState[]> {
    const groups = new Map<RequestLink, PartitionState[]>();
    for (const s of states) {
      const link = this.router.linkFor(s.topic, s.partition);
      if (link === undefined) {
        this.findLeaders(s.topic);
        continue;
      }
      const g = groups.get(link);
      if (g === undefined) groups.set(link, [s]);
      else g.push(s);
    }
    return groups;
  }

  /** One fetch per leader broker, together; the prefetch room is shared between them. */
  private async fetchFromLeaders(groups: Map<RequestLink, PartitionState[]>): Promise<void> {
    await Promise.all(
      [...groups].map(async ([link, states]) => {
        try {
          await this.fetchOnce(states, { abandoned: false }, link, groups.size);
        } catch (e) {
          if (this.closed) return;
          if (!(e instanceof ConnectionError)) throw e;
          // That broker is gone: its partitions wait for the next leader.
          for (const s of states) this.leaderLost(s);
        }
      }),
    );
  }

  /** A partition's leader answered it is not (or could not be reached): ask for the topic's metadata again. */
  private leaderLost(s: PartitionState): void {
    this.router.forget(s.topic, s.partition);
    this.findLeaders(s.topic);
  }

  private findLeaders(topic: string): void {
    if (this.closed || this.leaderLookups.has(topic)) return;
    this.leaderLookups.add(topic);
    controlCall(this.link, ApiKey.Metadata, { topics: [topic], allowAutoCreate: false })
      .then((response) => {
        this.router.learn(response);
        this.wakeLoop();
      })
      .catch(() => {
        // Asked again on the loop's next turn.
      })
      .finally(() => this.leaderLookups.delete(topic));
  }

  /** ListOffsets for partitions positioned at "beginning", "end" or a timestamp. */
  private async resolvePositions(all: PartitionState[]): Promise<void> {
    const groups = this.byLink(all);
    if (groups.size === 0) {
      await this.sleepLoop(this.retryBackoffMs);
      return;
    }
    for (const [link, states] of groups) await this.resolvePositionsAt(link, states);
  }

  private async resolvePositionsAt(link: RequestLink, states: PartitionState[]): Promise<void> {
    const epochs = states.map((s) => s.epoch);
    const requests = states.map((s) => ({ topic: s.topic, partition: s.partition, at: queryOf(s.pending!) }));
    const answers = await listOffsets(link, requests);
    for (let i = 0; i < states.length; i++) {
      const s = states[i];
      const a = answers[i];
      if (s.epoch !== epochs[i] || !s.assigned) continue;
      if (a.errorCode !== ErrorCode.NONE) {
        this.partitionError(s, a.errorCode, `list offsets of ${s.topic}/${s.partition}`);
        continue;
      }
      if (a.offset < 0n) {
        // No record at or after that time: start at the end.
        s.pending = "end";
        continue;
      }
      s.pending = undefined;
      s.fetchOffset = a.offset;
      s.position = a.offset;
      s.retryAttempts = 0;
    }
  }

  /**
   * Runs one fetch, but stops waiting for it when positions move (a seek or a
   * new assignment) so the next fetch asks for the new positions at once
   * instead of after the long-poll. The abandoned fetch's answer is dropped
   * whole when it comes (so it cannot break the prefetch bound); only one
   * fetch is abandoned at a time.
   */
  private async fetchUnlessMoved(states: PartitionState[]): Promise<void> {
    const token = { abandoned: false };
    const fetching = this.fetchOnce(states, token);
    if (this.abandonedFetches > 0) return fetching;
    const moved = new Promise<"moved">((resolve) => (this.onPositionsMoved = () => resolve("moved")));
    try {
      const outcome = await Promise.race([fetching.then(() => "done" as const), moved]);
      if (outcome === "moved") {
        token.abandoned = true;
        this.abandonedFetches++;
        fetching.catch(() => {}).finally(() => this.abandonedFetches--);
      }
    } finally {
      this.onPositionsMoved = undefined;
    }
  }

  private async fetchOnce(states: PartitionState[], token: { abandoned: boolean }, link: RequestLink = this.link, share = 1): Promise<void> {
    const room = Math.floor((this.prefetchBytesMax - this.prefetched) / share);
    const maxBytes = Math.max(1, Math.min(this.fetchMaxBytes, room));
    const partitionMaxBytes = Math.max(1, Math.min(this.partitionFetchBytesMax, maxBytes));
    const byTopic = new Map<string, FetchTopic>();
    const asked = new Map<string, { state: PartitionState; epoch: number; offset: bigint }>();
    for (const s of states) {
      let t = byTopic.get(s.topic);
      if (t === undefined) byTopic.set(s.topic, (t = { name: s.topic, partitions: [] }));
      t.partitions.push({ index: s.partition, fetchOffset: s.fetchOffset, partitionMaxBytes });
      asked.set(keyOf(s.topic, s.partition), { state: s, epoch: s.epoch, offset: s.fetchOffset });
    }
    const request = { maxWaitMs: this.fetchMaxWaitMs, minBytes: this.fetchMinBytes, maxBytes, topics: [...byTopic.values()] };
    this.fetchesSent++;
    const body = await link.request(ApiKey.Fetch, (w) => writeFetchRequest(w, request), { extraTimeoutMs: this.fetchMaxWaitMs });
    if (this.closed || token.abandoned) return;
    const response = decodeFetchResponse(body);
    let delivered = false;
    for (const t of response.topics) {
      for (const p of t.partitions) {
        const a = asked.get(keyOf(t.name, p.index));
        if (a === undefined) continue;
        const s = a.state;
        if (!s.assigned || s.epoch !== a.epoch || s.fetchOffset !== a.offset) continue; // moved meanwhile
        if (p.errorCode !== ErrorCode.NONE) {
          if (p.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) this.offsetOutOfRange(s, p.logStartOffset, p.highWatermark);
          else this.partitionError(s, p.errorCode, `fetch of ${s.topic}/${s.partition}`);
          continue;
        }
        s.highWatermark = p.highWatermark;
        s.retryAttempts = 0;
        const records = p.records;
        if (records.length === 0) continue;
        s.fetchOffset = nextOffsetAfter(records, s.fetchOffset);
        this.queue.push({ state: s, epoch: s.epoch, records, pos: 0, highWatermark: p.highWatermark, error: undefined });
        this.prefetched += records.length;
        delivered = true;
      }
    }
    if (delivered) this.readerWake?.();
  }

  private offsetOutOfRange(s: PartitionState, logStartOffset: bigint, highWatermark: bigint): void {
    if (this.autoOffsetReset === "none") {
      s.failed = true;
      this.pushError(s, new OffsetOutOfRangeError(s.topic, s.partition, s.fetchOffset, { logStartOffset, highWatermark }));
      return;
    }
    s.epoch++; // anything still queued from the old position is dropped
    s.pending = this.autoOffsetReset === "earliest" ? "beginning" : "end";
    this.dropStaleQueueItems();
  }

  /** A partition-level error: retriable ones back off that partition, others reach the reader. */
  private partitionError(s: PartitionState, code: number, where: string): void {
    if (LEADER_ERRORS.has(code)) this.leaderLost(s);
    if (isRetriable(code)) {
      s.retryAt = Date.now() + backoffMs(s.retryAttempts++, { initialMs: this.retryBackoffMs, maxMs: this.retryBackoffMsMax });
      return;
    }
    s.failed = true;
    this.pushError(s, new SluiceError(code, `${where}: ${errorCodeName(code)}`));
  }

  /** Queues an error behind the data fetched before it; `state` undefined means any reader sees it. */
  private pushError(state: PartitionState | undefined, error: Error): void {
    if (state === undefined) {
      // A failure of the whole fetch repeats on every retry: queue it once until a reader took it.
      if (this.queue.some((item, i) => i >= this.queueHead && item.state === undefined)) return;
    }
    this.queue.push({ state, epoch: state?.epoch ?? 0, records: NO_RECORDS, pos: 0, highWatermark: -1n, error });
    this.readerWake?.();
  }

  private checkOpen(): void {
    if (this.closed) throw new ClientClosedError("consumer");
  }

  /** Stops fetching and closes the connection; iterators end, poll() returns []. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.link.close();
    this.router.close();
    this.wakeLoop();
    this.readerWake?.();
    await this.loop;
    this.queue = [];
    this.queueHead = 0;
    this.prefetched = 0;
  }
}

const NO_RECORDS = new Uint8Array(0);

function queryOf(p: PendingPosition): OffsetQuery {
  if (p === "beginning") return "earliest";
  if (p === "end") return "latest";
  return p;
}

function toOffset(n: number): bigint {
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`offset must be an integer, got ${n}`);
  return BigInt(n);
}

/** The offset after the last record of the last batch in `records` (whole batches back to back). */
function nextOffsetAfter(records: Uint8Array, current: bigint): bigint {
  let pos = 0;
  let next = current;
  while (pos + BATCH_OVERHEAD_BYTES <= records.length) {
    const size = BATCH_OVERHEAD_BYTES + readI32(records, pos + BATCH_LENGTH_OFFSET);
    if (pos + LAST_OFFSET_DELTA_OFFSET + 4 > records.length || size <= BATCH_OVERHEAD_BYTES) break;
    const last = readI64(records, pos + BASE_OFFSET_OFFSET) + BigInt(readI32(records, pos + LAST_OFFSET_DELTA_OFFSET));
    if (last + 1n > next) next = last + 1n;
    pos += size;
  }
  return next;
}
