// Producer: send(topic, message) → { partition, offset }.
//
//   const p = new Producer({ broker: "127.0.0.1:9900", acks: "all" });
//   const { partition, offset } = await p.send("orders", { key: "k1", value: "hello" });
//   await p.close();
//
// What a resolved send() means (the durability contract): with acks=all the
// broker has fsynced the record (group commit) before it answered; with
// acks=1 it is in the broker's page cache; with acks=0 it was written to the
// socket and nothing more is known (offset -1).
//
// Batching: records are appended to an open RecordBatch per partition. A
// batch is closed when it reaches batchBytes or has been open lingerMs (one
// linger timer for the whole producer), and closed batches are drained into
// Produce requests of up to requestBytesMax, many partitions per request. Up
// to produceRequestsInflightMax requests are in flight on the connection
// (pipelining across partitions); the connection coalesces them into one
// socket write per event-loop turn. This file accepts and batches records;
// sending, reading the responses and retrying are produce_sender.ts.
//
// Ordering: records of one partition are acknowledged in send() order. With
// retries on (the default) a partition has at most one produce in flight, so
// a failed request is retried — the same batch bytes — before anything sent
// after it: a retry can never land behind a later batch. With retries: 0 up to
// partitionInflightMax requests per partition may be in flight.
//
// Memory: records accepted and not yet acknowledged hold at most
// bufferBytesMax (estimated encoded size). When the buffer is full, send()
// waits, in order, and fails after sendTimeoutMs with BufferExhaustedError.
// (Promises of callers who do not await are theirs to bound.)
//
// Cost per send() on the fast path (known topic, room in the buffer): the
// record is encoded into its partition's open batch, and the batch keeps the
// two settle functions of the one promise send() returns. No clock read, no
// map lookup by partition, no object per record until the acknowledgement,
// which settles a whole batch's records in one loop.

import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { BATCH_BYTES_MAX, FRAME_BYTES_MAX } from "../protocol/limits.ts";
import { type HeaderValueInput, RECORDS_OFFSET } from "../protocol/record_batch.ts";
import { checkTopicName } from "../protocol/topic_name.ts";
import { type Codec, codecForWriting, type CompressionName } from "../protocol/compression/mod.ts";
import { utf8Encode, utf8Length, utf8LengthMax } from "../protocol/utf8.ts";
import { BrokerLink, type RequestLink } from "./broker_link.ts";
import {
  ACK_TIMEOUT_MS_MAX,
  BACKOFF_CEILING_MS_MAX,
  BACKOFF_MS_MAX,
  BATCH_INITIAL_BYTES,
  CLIENT_BUFFER_BYTES_MAX,
  DELIVERY_TIMEOUT_MS_MAX,
  LINGER_MS_MAX,
  LEADER_SEARCH_INTERVAL_MS,
  METADATA_MAX_AGE_MS_MAX,
  PRODUCE_REQUEST_OVERHEAD_BYTES,
  PRODUCER_BATCH_BYTES_MIN,
  PRODUCER_RECORD_BYTES_MAX,
  REQUEST_TIMEOUT_MS_MAX,
  RETRIES_MAX,
  ROUND_ROBIN_WRAP,
  SPARE_BUILDER_BYTES,
  SPARE_BUILDERS_MIN,
  STRING_EXACT_CHARS_MAX,
} from "./client_limits.ts";
import { ClientClosedError, InvalidArgumentError } from "./errors.ts";
import { MetadataCache } from "./metadata_cache.ts";
import { murmur2, toPositive } from "./murmur2.ts";
import { checkInt, clientConfig, type ClientOptions } from "./options.ts";
import type { PartitionerFn, PartitionerName } from "./partitioners.ts";
import { type BudgetWaiter, MemoryBudget } from "./memory_budget.ts";
import { encodeStringField } from "./produce_request.ts";
import { ProducerIdempotence } from "./idempotence.ts";
import { type PartitionState, ProduceSender, type SenderOwner } from "./produce_sender.ts";
import { LeaderRouter } from "./leader_router.ts";
import {
  BatchList,
  BatchSendTracker,
  BuilderPool,
  encodeSingleRecordBatch,
  ProducerBatch,
  type RecordMetadata,
  type Resolve,
  type SentRange,
  singleRecordBatchBytes,
} from "./producer_batch.ts";

export type { RecordMetadata, SentRange } from "./producer_batch.ts";

export interface ProducerMessage {
  readonly key?: Uint8Array | string | null;
  readonly value: Uint8Array | string | null;
  readonly headers?: Record<string, HeaderValueInput> | Array<[string, HeaderValueInput]>;
  /** Send to this partition instead of asking the partitioner. */
  readonly partition?: number;
  /** Create time in ms since the epoch (default: now). */
  readonly timestamp?: number;
}

export type AcksOption = 0 | 1 | -1 | "all";

export interface ProducerOptions extends ClientOptions {
  /** 0: no response; 1: written by the broker; "all"/-1: fsynced by the broker (default). */
  readonly acks?: AcksOption;
  /** Default "hash": Kafka's murmur2 for keyed records, round-robin for records without a key. */
  readonly partitioner?: PartitionerName | PartitionerFn;
  /** A partition's open batch is closed at this size (before compression). */
  readonly batchBytes?: number;
  /** Compress each batch's records with this codec (Kafka's; default "none"). See docs/CLIENT.md. */
  readonly compression?: CompressionName;
  /** A partition's open batch is closed after this long even if not full. */
  readonly lingerMs?: number;
  /** Bytes of records accepted but not yet acknowledged. */
  readonly bufferBytesMax?: number;
  /** How long send() may wait for buffer space (and for a new topic's metadata). */
  readonly sendTimeoutMs?: number;
  /** Largest Produce request (one or more batches of one or more partitions). */
  readonly requestBytesMax?: number;
  /** Produce requests in flight on the connection. */
  readonly produceRequestsInflightMax?: number;
  /** Produce requests in flight per partition when retries is 0 (with retries it is always 1). */
  readonly partitionInflightMax?: number;
  /** Further attempts after a retriable failure (connection lost, timeout, partition not available). */
  readonly retries?: number;
  readonly retryBackoffMs?: number;
  readonly retryBackoffMsMax?: number;
  /** No retry starts once a batch is older than this; it fails with its last error. */
  readonly deliveryTimeoutMs?: number;
  /** How long the broker may wait for the fsync of acks=all before answering REQUEST_TIMED_OUT. */
  readonly ackTimeoutMs?: number;
  /** Partition counts are refreshed (in the background) after this long. */
  readonly metadataMaxAgeMs?: number;
  /** Ask the broker to create unknown topics (it does when auto.create.topics.enable is on). */
  readonly allowAutoCreateTopics?: boolean;
  /**
   * Idempotent producer (default true, like the Java client): the broker stores
   * a retried batch once and answers it with its original offsets. Needs
   * retries > 0 and acks 1 or all; left at its default it is off with retries 0
   * or acks 0, and off against a broker without InitProducerId. See docs/CLIENT.md.
   */
  readonly idempotent?: boolean;
  /** Test seam: the request link (default: a BrokerLink to `broker`). */
  readonly link?: RequestLink;
}

// Defaults, measured with `sluice bench produce` (2 producers, 100-byte
// messages, acks=all, same machine as the broker): 128 KiB batches cost both
// the client and the broker less per message than 64 KiB; a 4 MiB buffer
// (about 40,000 such records) gave the same throughput as 32 MiB with an ack
// p50 of 25-70 ms instead of 250-350 ms, because a closed-loop sender's
// records mostly wait in the buffer (latency ≈ buffer / throughput). It still
// covers the acknowledgement round trip at 1M messages/s with a margin of ten;
// raise it for a broker far away.
export const PRODUCER_DEFAULTS = {
  acks: "all" as AcksOption,
  batchBytes: 128 * 1024,
  lingerMs: 5,
  bufferBytesMax: 4 * 1024 * 1024,
  sendTimeoutMs: 30_000,
  requestBytesMax: 1024 * 1024,
  produceRequestsInflightMax: 32,
  partitionInflightMax: 5,
  retries: 10,
  retryBackoffMs: 100,
  retryBackoffMsMax: 1_000,
  deliveryTimeoutMs: 120_000,
  ackTimeoutMs: 30_000,
  metadataMaxAgeMs: 30_000,
} as const;

/** Per-record bytes on top of key, value and headers (record length, attributes, deltas, counts). */
const RECORD_OVERHEAD_BYTES = 24;

type Reject = (e: Error) => void;

/** How the producer picks a partition for a record that names none. */
const PartitionerKind = { roundRobin: 0, hash: 1, random: 2, custom: 3 } as const;
type PartitionerKind = (typeof PartitionerKind)[keyof typeof PartitionerKind];

/** What the producer keeps per topic it sends to (bounded by the application's topics). */
interface TopicState {
  readonly name: string;
  /** The name as an encoded String field (requests copy it; responses are matched against it). */
  readonly nameField: Uint8Array;
  /** The partition count in use; 0 while unknown (send() then asks the metadata cache and waits). */
  partitionCount: number;
  /** Partition states indexed by partition (one per partition sent to). */
  readonly partitions: PartitionState[];
  /** Next pick of the round-robin partitioner. */
  roundRobin: number;
}

/** What waiting sends call back into (the producer's internals, without exposing them on Producer). */
interface WaitingOwner {
  appendGranted(p: PendingSend): void;
  continueBatch(job: SendBatchJob, reserved: boolean): void;
  admitted(): void;
}

/** A send() waiting for buffer space: its record is appended as soon as the budget grants its bytes. */
class PendingSend implements BudgetWaiter {
  queued = false;
  constructor(
    readonly owner: WaitingOwner,
    readonly topic: TopicState,
    readonly partitionCount: number,
    readonly message: ProducerMessage,
    readonly bytes: number,
    readonly resolve: Resolve,
    readonly reject: Reject,
    readonly deadline: number,
  ) {}
  granted(): void {
    this.owner.appendGranted(this);
  }
  refused(error: Error): void {
    this.owner.admitted();
    this.reject(error);
  }
}

/** A sendBatch() call: appends its records in order, waiting (in the budget's queue) whenever the buffer is full. */
class SendBatchJob implements BudgetWaiter {
  /** The next record's bytes, while it waits. */
  bytes = 0;
  queued = false;
  /** The next record to append. */
  index = 0;
  /** Granted once: from then on the call is ahead of every waiter (later calls do not overtake its records). */
  first = false;
  partitionCount = 0;
  constructor(
    readonly owner: WaitingOwner,
    readonly topic: TopicState,
    readonly messages: readonly ProducerMessage[],
    readonly sizes: Int32Array,
    readonly tracker: BatchSendTracker,
    readonly deadline: number,
  ) {}
  granted(): void {
    this.first = true;
    this.owner.continueBatch(this, true);
  }
  refused(error: Error): void {
    this.tracker.fail(error);
    this.owner.admitted();
  }
}

function fieldBytes(v: Uint8Array | string | null | undefined, exact: boolean): number {
  if (v === null || v === undefined) return 1;
  if (typeof v !== "string") return 5 + v.length;
  // A long string is not walked twice (here and when encoded): reserve its bound, the append gives back the rest.
  return 5 + (exact || v.length <= STRING_EXACT_CHARS_MAX ? utf8Length(v) : utf8LengthMax(v));
}

/**
 * Estimated encoded size of a record: what it reserves of the buffer until it
 * is appended (then it holds what it really took). Exact for byte fields and
 * short strings; `exact` also measures long strings.
 */
export function recordSizeEstimate(message: ProducerMessage, exact = true): number {
  let bytes = RECORD_OVERHEAD_BYTES + fieldBytes(message.key, exact) + fieldBytes(message.value, exact);
  const headers = message.headers;
  if (headers !== undefined) {
    if (Array.isArray(headers)) for (const [k, v] of headers) bytes += fieldBytes(k, exact) + fieldBytes(v, exact);
    else for (const k in headers) if (Object.hasOwn(headers, k)) bytes += fieldBytes(k, exact) + fieldBytes(headers[k], exact);
  }
  return bytes;
}

export class Producer {
  private readonly link: RequestLink;
  private readonly idempotence: ProducerIdempotence | undefined;
  private readonly metadata: MetadataCache;
  private readonly partitionerKind: PartitionerKind;
  private readonly customPartitioner: PartitionerFn | undefined;
  private readonly budget: MemoryBudget;
  private readonly builders: BuilderPool;
  private readonly sender: ProduceSender;
  /** In a cluster, each partition's leader link (leader_router.ts); on a single node everything uses `link`. */
  private readonly router: LeaderRouter;
  /** Partitions whose leader is being looked up (at most one lookup chain each). */
  private readonly leaderSearches = new WeakSet<PartitionState>();
  private readonly batchBytes: number;
  private readonly compression: Codec | undefined;
  private readonly lingerMs: number;
  private readonly sendTimeoutMs: number;

  /** Topic states by name (one per topic sent to; names are checked when first seen). */
  private readonly topics = new Map<string, TopicState>();
  /** The topic of the last send(): most applications send to one topic at a time. */
  private lastTopic: TopicState | undefined;
  /** Partitions with an open batch (for linger). */
  private readonly openStates = new Set<PartitionState>();
  /** Every batch not yet completed (bounded by bufferBytesMax). */
  private readonly incomplete = new BatchList();
  /** send() and sendBatch() calls between acceptance and append (waiting for metadata or buffer space). */
  private admitting = 0;
  /** Of those, the ones waiting for a partition count: later sends queue behind them to keep their order. */
  private awaitingMetadata = 0;
  private lingerTimer: ReturnType<typeof setTimeout> | undefined;
  private lingerTimerAt = 0;
  private closing = false;
  private closedPromise: Promise<void> | undefined;
  /** close() waiting for sends already accepted to be appended. */
  private admittedWaiters: Array<() => void> = [];
  /** The settle functions of the promise being created (see `capture`). */
  private capturedResolve: Resolve | undefined;
  private capturedReject: Reject | undefined;
  /** One executor for every send() promise: no closure per record. */
  private readonly capture = (resolve: Resolve, reject: Reject): void => {
    this.capturedResolve = resolve;
    this.capturedReject = reject;
  };
  private readonly waitingOwner: WaitingOwner = {
    appendGranted: (p) => this.appendGranted(p),
    continueBatch: (job, reserved) => this.continueBatch(job, reserved),
    admitted: () => this.admitted(),
  };
  private readonly senderOwner: SenderOwner = {
    beforeDrain: () => {
      // No linger: the open batches close as the drain begins, so records sent together in one turn share a batch.
      if (this.lingerMs !== 0) return;
      for (const state of this.openStates) this.closeOpenBatch(state);
      this.openStates.clear();
    },
    complete: (batch, baseOffset, error) => this.complete(batch, baseOffset, error),
    topicUnknown: (topic) => {
      this.metadata.invalidate(topic);
      // The next send() to the topic asks the broker again before appending.
      const t = this.topics.get(topic);
      if (t !== undefined) t.partitionCount = 0;
    },
    isClosing: () => this.closing,
  };

  constructor(options: ProducerOptions = {}) {
    const config = clientConfig(options);
    this.link = options.link ?? new BrokerLink(config, "producer");
    const acks = options.acks ?? PRODUCER_DEFAULTS.acks;
    if (acks !== 0 && acks !== 1 && acks !== -1 && acks !== "all") {
      throw new InvalidArgumentError(`acks must be 0, 1, -1 or "all", got ${String(acks)}`);
    }
    this.compression = codecForWriting(options.compression ?? "none");
    this.batchBytes = checkInt("batchBytes", options.batchBytes ?? PRODUCER_DEFAULTS.batchBytes, PRODUCER_BATCH_BYTES_MIN, BATCH_BYTES_MAX);
    this.lingerMs = checkInt("lingerMs", options.lingerMs ?? PRODUCER_DEFAULTS.lingerMs, 0, LINGER_MS_MAX);
    const bufferBytesMax = checkInt("bufferBytesMax", options.bufferBytesMax ?? PRODUCER_DEFAULTS.bufferBytesMax, 1, CLIENT_BUFFER_BYTES_MAX);
    this.sendTimeoutMs = checkInt("sendTimeoutMs", options.sendTimeoutMs ?? PRODUCER_DEFAULTS.sendTimeoutMs, 0, REQUEST_TIMEOUT_MS_MAX);
    const requestBytesMax = checkInt(
      "requestBytesMax",
      options.requestBytesMax ?? PRODUCER_DEFAULTS.requestBytesMax,
      this.batchBytes,
      FRAME_BYTES_MAX - PRODUCE_REQUEST_OVERHEAD_BYTES,
    );
    const requestsInflightMax = checkInt(
      "produceRequestsInflightMax",
      options.produceRequestsInflightMax ?? PRODUCER_DEFAULTS.produceRequestsInflightMax,
      1,
      config.inflightRequestsMax,
    );
    const retries = checkInt("retries", options.retries ?? PRODUCER_DEFAULTS.retries, 0, RETRIES_MAX);
    const partitionInflightMax =
      retries > 0
        ? 1
        : checkInt("partitionInflightMax", options.partitionInflightMax ?? PRODUCER_DEFAULTS.partitionInflightMax, 1, requestsInflightMax);
    const retryBackoffMs = checkInt("retryBackoffMs", options.retryBackoffMs ?? PRODUCER_DEFAULTS.retryBackoffMs, 1, BACKOFF_MS_MAX);
    const retryBackoffMsMax = checkInt(
      "retryBackoffMsMax",
      options.retryBackoffMsMax ?? PRODUCER_DEFAULTS.retryBackoffMsMax,
      retryBackoffMs,
      BACKOFF_CEILING_MS_MAX,
    );
    const deliveryTimeoutMs = checkInt("deliveryTimeoutMs", options.deliveryTimeoutMs ?? PRODUCER_DEFAULTS.deliveryTimeoutMs, 1, DELIVERY_TIMEOUT_MS_MAX);
    const ackTimeoutMs = checkInt("ackTimeoutMs", options.ackTimeoutMs ?? PRODUCER_DEFAULTS.ackTimeoutMs, 1, ACK_TIMEOUT_MS_MAX);
    const router = new LeaderRouter(config, this.link, "producer", (topic, partition) => {
      // Its leader's link cannot connect: if batches wait for it, look for another leader (not forgetting this one yet).
      const state = this.topics.get(topic)?.partitions[partition];
      if (state !== undefined && (state.inflight > 0 || state.ready.length > 0)) this.findLeader(state, router, deliveryTimeoutMs, false);
    });
    this.router = router;
    this.metadata = new MetadataCache(this.link, {
      maxAgeMs: checkInt("metadataMaxAgeMs", options.metadataMaxAgeMs ?? PRODUCER_DEFAULTS.metadataMaxAgeMs, 0, METADATA_MAX_AGE_MS_MAX),
      allowAutoCreate: options.allowAutoCreateTopics ?? true,
      onMetadata: (response) => {
        router.learn(response);
        // Partitions waiting for a leader may go now.
        this.sender?.scheduleDrain();
      },
    });
    const partitioner = options.partitioner ?? "hash";
    if (typeof partitioner === "function") {
      this.partitionerKind = PartitionerKind.custom;
      this.customPartitioner = partitioner;
    } else if (partitioner === "hash") this.partitionerKind = PartitionerKind.hash;
    else if (partitioner === "round-robin") this.partitionerKind = PartitionerKind.roundRobin;
    else if (partitioner === "random") this.partitionerKind = PartitionerKind.random;
    else throw new InvalidArgumentError(`partitioner must be "hash", "round-robin", "random" or a function, got ${String(partitioner)}`);
    this.budget = new MemoryBudget(bufferBytesMax);
    const builderInitialBytes = Math.min(this.batchBytes + 1024, BATCH_INITIAL_BYTES);
    this.builders = new BuilderPool(Math.max(SPARE_BUILDERS_MIN, Math.floor(SPARE_BUILDER_BYTES / builderInitialBytes)), builderInitialBytes);
    let idempotence: ProducerIdempotence | undefined;
    const ackCode = acks === "all" ? -1 : acks;
    if (options.idempotent === true && (retries === 0 || ackCode === 0)) {
      throw new InvalidArgumentError(`idempotent needs retries > 0 and acks 1 or "all" (retries ${retries}, acks ${String(acks)})`);
    }
    if (options.idempotent !== false && retries > 0 && ackCode !== 0) {
      idempotence = new ProducerIdempotence(this.link, {
        explicit: options.idempotent === true,
        retryBackoffMs,
        retryBackoffMsMax,
        onReady: () => this.sender.scheduleDrain(),
        onNewGeneration: () => this.stampUnsent(),
        isClosing: () => this.closing,
      });
    }
    this.idempotence = idempotence;
    this.sender = new ProduceSender(this.senderOwner, {
      link: this.link,
      linkFor: (state) => router.linkFor(state.topic, state.partition),
      leaderLost: (state) => this.findLeader(state, router, deliveryTimeoutMs, true),
      leaderUnknown: (state) => this.findLeader(state, router, deliveryTimeoutMs, false),
      builders: this.builders,
      acks: acks === "all" ? -1 : acks,
      ackTimeoutMs,
      requestBytesMax,
      requestsInflightMax,
      partitionInflightMax,
      retries,
      retryBackoffMs,
      retryBackoffMsMax,
      deliveryTimeoutMs,
      idempotence,
    });
  }

  /** The producer id and epoch the broker gave (-1 before the first send, or with idempotence off). */
  get producerIdAndEpoch(): { producerId: number; producerEpoch: number } {
    const i = this.idempotence;
    return i === undefined || i.off ? { producerId: -1, producerEpoch: -1 } : { producerId: i.producerId, producerEpoch: i.producerEpoch };
  }

  /**
   * A partition's leader is gone or unknown: metadata is asked again (once at a
   * time per topic), and again every LEADER_SEARCH_INTERVAL_MS while the answer
   * names no leader, or names one the producer cannot connect to (a killed
   * leader stays named until the controller elects another, within its lease
   * TTL), and the partition has batches to send, until the producer closes.
   * The partition's batches wait at its head; when Metadata names another
   * leader, requests still waiting for the old one's connection are sent to
   * it (leader_router.ts).
   */
  private findLeader(state: PartitionState, router: LeaderRouter, deliveryTimeoutMs: number, lost: boolean): void {
    if (this.closing || !router.routed(state.topic)) return;
    if (lost) router.forget(state.topic, state.partition);
    if (this.leaderSearches.has(state)) return;
    this.leaderSearches.add(state);
    const again = () => {
      this.leaderSearches.delete(state);
      if (this.closing) return;
      if (router.linkFor(state.topic, state.partition) !== undefined && router.leaderConnected(state.topic, state.partition)) return;
      if (state.ready.length === 0 && state.inflight === 0) return; // nothing waits for a leader
      this.leaderSearches.add(state);
      setTimeout(() => {
        this.leaderSearches.delete(state);
        this.findLeader(state, router, deliveryTimeoutMs, false);
      }, LEADER_SEARCH_INTERVAL_MS);
    };
    this.metadata.refresh(state.topic, Date.now() + deliveryTimeoutMs).then(again, again);
  }

  /** Buffer bytes held by records not yet acknowledged (for monitoring and tests). */
  get bufferedBytes(): number {
    return this.budget.usedBytes;
  }

  /** Produce requests awaiting a response. */
  get inflightRequests(): number {
    return this.sender.inflightRequests;
  }

  /** Sends one record; resolves once the broker acknowledged it as `acks` asks. */
  send(topic: string, message: ProducerMessage): Promise<RecordMetadata> {
    try {
      if (this.closing) throw new ClientClosedError("producer");
      const t = this.topicFor(topic);
      const size = this.checkMessage(message);
      const partitionCount = t.partitionCount;
      const partition = message.partition;
      if (this.awaitingMetadata === 0 && partitionCount > 0 && (partition === undefined || partition < partitionCount)) {
        // Fast path: known topic, room in the buffer, nobody waiting before us.
        if (this.budget.tryReserve(size)) return this.appendReserved(t, partitionCount, message, size);
        return this.sendWhenRoom(t, partitionCount, message, size, Date.now() + this.sendTimeoutMs);
      }
      return this.sendSlow(t, message, size);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Sends many records of one topic; resolves once all are acknowledged (or
   * rejects with the first failure). Cheaper than one send() per record: one
   * promise for the call, one bookkeeping entry per batch it touches.
   */
  sendBatch(topic: string, messages: readonly ProducerMessage[]): Promise<{ count: number; ranges: SentRange[] }> {
    let t: TopicState;
    let sizes: Int32Array;
    try {
      this.checkOpen();
      t = this.topicFor(topic);
      const n = messages.length;
      if (n === 0) return Promise.resolve({ count: 0, ranges: [] });
      // Every message is checked before any is sent.
      sizes = new Int32Array(n);
      for (let i = 0; i < n; i++) sizes[i] = this.checkMessage(messages[i]);
    } catch (e) {
      return Promise.reject(e);
    }
    let resolve!: (r: { count: number; ranges: SentRange[] }) => void;
    let reject!: (e: Error) => void;
    const done = new Promise<{ count: number; ranges: SentRange[] }>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const tracker = new BatchSendTracker(messages.length, resolve, reject);
    const job = new SendBatchJob(this.waitingOwner, t, messages, sizes, tracker, Date.now() + this.sendTimeoutMs);
    this.admitting++;
    if (this.awaitingMetadata === 0 && t.partitionCount > 0) {
      job.partitionCount = t.partitionCount;
      this.continueBatch(job, false);
    } else {
      this.awaitingMetadata++;
      this.partitionCountOf(t, job.deadline).then(
        (count) => {
          this.awaitingMetadata--;
          job.partitionCount = count;
          this.continueBatch(job, false);
        },
        (error) => {
          this.awaitingMetadata--;
          job.refused(error as Error);
        },
      );
    }
    return done;
  }

  /** Sends everything accepted so far at once (ignoring linger) and resolves when all of it is acknowledged or failed. */
  flush(): Promise<void> {
    for (const state of this.openStates) this.closeOpenBatch(state);
    this.openStates.clear();
    this.sender.scheduleDrain();
    const batches = this.incomplete.toArray();
    if (batches.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let remaining = batches.length;
      const one = () => {
        if (--remaining === 0) resolve();
      };
      for (const b of batches) (b.flushWaiters ??= []).push(one);
    });
  }

  /**
   * Sends and waits for everything accepted so far (including send() calls
   * still waiting for buffer space), then closes the connection. send() calls
   * made after close() fail with ClientClosedError. With `timeoutMs`, records
   * still unacknowledged after that long fail with ClientClosedError (they may
   * or may not have reached the broker).
   */
  close(options?: { timeoutMs?: number }): Promise<void> {
    this.closedPromise ??= (async () => {
      this.closing = true;
      const drained = (async () => {
        for (;;) {
          await this.flush();
          if (this.admitting === 0) break;
          await new Promise<void>((resolve) => this.admittedWaiters.push(resolve));
        }
      })();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeoutMs = options?.timeoutMs;
      if (timeoutMs === undefined) await drained;
      else {
        await Promise.race([drained, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
        clearTimeout(timer);
      }
      clearTimeout(this.lingerTimer);
      this.sender.stopRetries();
      const closedError = new ClientClosedError("producer");
      this.budget.failAll(closedError);
      for (const batch of this.incomplete.toArray()) this.complete(batch, -1n, closedError);
      this.link.close();
      this.router.close();
    })();
    return this.closedPromise;
  }

  // ---------------------------------------------------------------- accepting records

  private checkOpen(): void {
    if (this.closing) throw new ClientClosedError("producer");
  }

  private checkMessage(message: ProducerMessage): number {
    if (message === null || typeof message !== "object") throw new InvalidArgumentError("a message must be an object with a value");
    const partition = message.partition;
    if (partition !== undefined && !(Number.isInteger(partition) && partition >= 0)) {
      throw new InvalidArgumentError(`partition must be a non-negative integer, got ${partition}`);
    }
    const timestamp = message.timestamp;
    if (timestamp !== undefined && !Number.isSafeInteger(timestamp)) {
      throw new SluiceError(ErrorCode.INVALID_TIMESTAMP, `timestamp must be an integer of ms, got ${timestamp}`);
    }
    let size = recordSizeEstimate(message, false);
    // A bound that looks too large for a batch or the buffer is measured before refusing.
    if (size > PRODUCER_RECORD_BYTES_MAX || size > this.budget.bytesMax) size = recordSizeEstimate(message, true);
    if (size > PRODUCER_RECORD_BYTES_MAX) {
      throw new SluiceError(ErrorCode.MESSAGE_TOO_LARGE, `a record of about ${size} bytes is larger than a batch may be (${BATCH_BYTES_MAX})`);
    }
    return size;
  }

  /** The topic's state, checking its name the first time it is seen. */
  private topicFor(topic: string): TopicState {
    const last = this.lastTopic;
    if (last !== undefined && last.name === topic) return last;
    let t = this.topics.get(topic);
    if (t === undefined) {
      checkTopicName(topic);
      t = {
        name: topic,
        nameField: encodeStringField(topic),
        partitionCount: this.metadata.partitionCountNow(topic) ?? 0,
        partitions: [],
        roundRobin: 0,
      };
      this.topics.set(topic, t);
    }
    this.lastTopic = t;
    return t;
  }

  /** The topic's partition count, asking the broker when it is not known (the count in use is updated). */
  private async partitionCountOf(t: TopicState, deadline: number): Promise<number> {
    const count = await this.metadata.partitionCount(t.name, deadline);
    t.partitionCount = count;
    return count;
  }

  /** send() to a topic whose partition count is not known yet (or a partition beyond it). */
  private async sendSlow(t: TopicState, message: ProducerMessage, size: number): Promise<RecordMetadata> {
    const deadline = Date.now() + this.sendTimeoutMs;
    this.admitting++;
    this.awaitingMetadata++;
    try {
      let partitionCount = await this.partitionCountOf(t, deadline);
      if (message.partition !== undefined && message.partition >= partitionCount) {
        // Partitions may have been added since the count was cached: ask once more before refusing.
        this.metadata.invalidate(t.name);
        partitionCount = await this.partitionCountOf(t, deadline);
      }
      // Accepted before any close(): appended even if close() was called meanwhile.
      if (this.budget.tryReserve(size)) return this.appendReserved(t, partitionCount, message, size);
      return this.sendWhenRoom(t, partitionCount, message, size, deadline);
    } finally {
      this.awaitingMetadata--;
      this.admitted();
    }
  }

  /** send() when the buffer is full: the record waits in the budget's queue, in order. */
  private sendWhenRoom(t: TopicState, partitionCount: number, message: ProducerMessage, size: number, deadline: number): Promise<RecordMetadata> {
    const promise = new Promise<RecordMetadata>(this.capture);
    const pending = new PendingSend(this.waitingOwner, t, partitionCount, message, size, this.capturedResolve!, this.capturedReject!, deadline);
    this.admitting++;
    this.budget.wait(pending); // may grant or refuse at once
    return promise;
  }

  /** The budget reserved a waiting send's bytes: append it now (we are inside the budget's wake-up). */
  private appendGranted(p: PendingSend): void {
    const t = p.topic;
    try {
      const state = this.appendRecord(t, Math.max(t.partitionCount, p.partitionCount), p.message, p.bytes);
      const batch = state.open!;
      batch.addOne(p.resolve);
      if (batch.sizeBytes >= this.batchBytes) this.closeOpenBatch(state);
    } catch (e) {
      p.reject(e as Error);
    }
    this.admitted();
  }

  /**
   * Appends a sendBatch() call's records from `job.index` on while the buffer
   * has room, then queues the job for the next record's bytes. `reserved`:
   * the bytes of the record at `job.index` are already reserved (granted).
   */
  private continueBatch(job: SendBatchJob, reserved: boolean): void {
    const { topic: t, messages, sizes, tracker } = job;
    const budget = this.budget;
    for (; job.index < messages.length; job.index++) {
      const size = sizes[job.index];
      if (tracker.failed) {
        if (reserved) budget.release(size);
        break;
      }
      if (!reserved && !(job.first ? budget.tryReserveFirst(size) : budget.tryReserve(size))) {
        job.bytes = size;
        // granted() continues from here; refused() fails the call.
        if (job.first) budget.waitFirst(job);
        else budget.wait(job);
        return;
      }
      reserved = false;
      try {
        const state = this.appendRecord(t, Math.max(t.partitionCount, job.partitionCount), messages[job.index], size);
        const batch = state.open!;
        batch.addToRange(tracker);
        if (batch.sizeBytes >= this.batchBytes) this.closeOpenBatch(state);
      } catch (e) {
        tracker.fail(e as Error);
        break;
      }
    }
    this.admitted();
  }

  private admitted(): void {
    if (--this.admitting > 0 || this.admittedWaiters.length === 0) return;
    const waiters = this.admittedWaiters;
    this.admittedWaiters = [];
    for (const wake of waiters) wake();
  }

  /** The partition for a record that names none. */
  private choosePartition(t: TopicState, key: Uint8Array | string | null | undefined, partitionCount: number): number {
    const kind = this.partitionerKind;
    const hasKey = key !== undefined && key !== null;
    if (kind === PartitionerKind.hash && hasKey) {
      return toPositive(murmur2(typeof key === "string" ? utf8Encode(key) : key)) % partitionCount;
    }
    if (kind === PartitionerKind.roundRobin || kind === PartitionerKind.hash) {
      const n = t.roundRobin;
      t.roundRobin = (n + 1) % ROUND_ROBIN_WRAP;
      return n % partitionCount;
    }
    if (kind === PartitionerKind.random) return Math.floor(Math.random() * partitionCount);
    const keyBytes = hasKey ? (typeof key === "string" ? utf8Encode(key) : key) : null;
    return this.customPartitioner!({ topic: t.name, key: keyBytes, partitionCount });
  }

  /**
   * Appends a record whose `size` is already reserved to its partition's open
   * batch (opening one, or closing a full one first) and returns the
   * partition: the caller registers the record's delivery with `state.open`
   * and closes the batch if it is full. On failure the reservation is
   * released and the error thrown.
   */
  /** Appends a message whose buffer room is already reserved; its promise settles with the batch's answer. */
  private appendReserved(t: TopicState, partitionCount: number, message: ProducerMessage, size: number): Promise<RecordMetadata> {
    const state = this.appendRecord(t, partitionCount, message, size);
    const promise = new Promise<RecordMetadata>(this.capture);
    const batch = state.open!;
    batch.addOne(this.capturedResolve!);
    if (batch.sizeBytes >= this.batchBytes) this.closeOpenBatch(state);
    return promise;
  }

  private appendRecord(t: TopicState, partitionCount: number, message: ProducerMessage, size: number): PartitionState {
    let partition = message.partition;
    if (partition === undefined) partition = this.choosePartition(t, message.key, partitionCount);
    if (!(partition >= 0 && partition < partitionCount && Number.isInteger(partition))) {
      this.budget.release(size);
      throw message.partition !== undefined
        ? new SluiceError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `partition ${partition} of topic '${t.name}' does not exist (it has ${partitionCount})`)
        : new InvalidArgumentError(`the partitioner returned ${partition} for topic '${t.name}' with ${partitionCount} partitions`);
    }
    const state = t.partitions[partition] ?? this.newPartitionState(t, partition);
    let batch = state.open;
    if (batch !== undefined && batch.sizeBytes + size > this.batchBytes && batch.recordCount > 0) {
      this.closeOpenBatch(state);
      batch = undefined;
    }
    if (batch === undefined) {
      const value = message.value;
      if (
        value instanceof Uint8Array &&
        (message.key === undefined || message.key === null) &&
        message.headers === undefined &&
        message.timestamp === undefined &&
        singleRecordBatchBytes(value.length) >= this.batchBytes
      ) {
        this.appendSingle(t, state, value, size);
        return state;
      }
      batch = this.openBatch(t, state);
    }
    const builder = batch.builder!;
    const before = builder.sizeBytes;
    try {
      builder.append(message);
    } catch (e) {
      if (batch.recordCount === 0) this.discardEmptyOpenBatch(state);
      this.budget.release(size);
      throw e;
    }
    // The buffer holds what the record really took (the reservation was an upper bound).
    const taken = builder.sizeBytes - before;
    if (taken < size) {
      this.budget.shrink(size - taken);
      batch.reservedBytes += taken;
    } else batch.reservedBytes += size;
    return state;
  }

  private newPartitionState(t: TopicState, partition: number): PartitionState {
    const state: PartitionState = { topic: t.name, topicField: t.nameField, partition, open: undefined, ready: [], inflight: 0, retryAt: 0, failedLink: undefined, failuresAtLink: 0, readyQueued: false, nextSequence: 0, sequenceGeneration: -1 };
    t.partitions[partition] = state;
    return state;
  }

  private openBatch(t: TopicState, state: PartitionState): ProducerBatch {
    const now = Date.now();
    const batch = new ProducerBatch(t.name, state.partition, this.builders.take(), now);
    state.open = batch;
    this.openStates.add(state);
    this.incomplete.add(batch);
    this.armLinger(now + this.lingerMs);
    // Once per batch (not per record): follow the metadata cache, which refreshes old counts in the background.
    const count = this.metadata.partitionCountNow(t.name, now);
    if (count !== undefined) t.partitionCount = count;
    return batch;
  }

  /**
   * A record that fills a batch by itself (the common shape: a byte value and
   * nothing else): its batch is encoded whole, without a builder, and left
   * open only for the caller to register the record's delivery and close it
   * (it is at least batchBytes, so the caller does).
   */
  private appendSingle(t: TopicState, state: PartitionState, value: Uint8Array, size: number): void {
    const now = Date.now();
    const batch = ProducerBatch.single(t.name, state.partition, encodeSingleRecordBatch(value, now), now);
    state.open = batch;
    this.incomplete.add(batch);
    const count = this.metadata.partitionCountNow(t.name, now);
    if (count !== undefined) t.partitionCount = count;
    // As appendRecord: the buffer holds what the record took (its bytes past the batch header).
    const taken = batch.sizeBytes - RECORDS_OFFSET;
    if (taken < size) {
      this.budget.shrink(size - taken);
      batch.reservedBytes += taken;
    } else batch.reservedBytes += size;
  }

  private discardEmptyOpenBatch(state: PartitionState): void {
    const batch = state.open!;
    state.open = undefined;
    this.openStates.delete(state);
    this.incomplete.delete(batch);
    this.builders.give(batch.builder!);
  }

  /** A new producer id or epoch arrived: every partition's unsent batches are stamped for it, in queue order. */
  private stampUnsent(): void {
    const idem = this.idempotence as ProducerIdempotence;
    for (const t of this.topics.values()) {
      for (const state of t.partitions) if (state !== undefined) idem.stampUnsent(state, state.ready);
    }
  }

  private closeOpenBatch(state: PartitionState): void {
    const batch = state.open;
    if (batch === undefined) return;
    state.open = undefined;
    this.openStates.delete(state);
    if (batch.recordCount === 0) {
      this.incomplete.delete(batch);
      this.builders.give(batch.builder!);
      return;
    }
    const idem = this.idempotence;
    if (idem !== undefined && idem.canStamp) {
      // Stamped before the CRC is made (one pass); in close order, which is the partition's send order.
      batch.stampGeneration = idem.generation;
      batch.close(this.compression, idem.nextStamp(state, batch.recordCount));
    } else batch.close(this.compression);
    state.ready.push(batch);
    this.sender.markReady(state);
    this.sender.scheduleDrain();
  }

  // ---------------------------------------------------------------- linger

  private armLinger(at: number): void {
    if (this.lingerMs === 0) {
      // No linger: close at the end of this turn, so records sent together still share a batch.
      this.sender.scheduleDrain();
      return;
    }
    if (this.lingerTimer !== undefined && this.lingerTimerAt <= at) return;
    clearTimeout(this.lingerTimer);
    this.lingerTimerAt = at;
    this.lingerTimer = setTimeout(() => this.onLinger(), Math.max(0, at - Date.now()));
  }

  private onLinger(): void {
    this.lingerTimer = undefined;
    const now = Date.now();
    let next = Infinity;
    for (const state of this.openStates) {
      const due = state.open!.createdAt + this.lingerMs;
      if (due <= now) this.closeOpenBatch(state);
      else if (due < next) next = due;
    }
    if (next !== Infinity) this.armLinger(next);
  }

  private complete(batch: ProducerBatch, baseOffset: bigint, error: Error | undefined): void {
    if (batch.done) return;
    batch.done = true;
    this.incomplete.delete(batch);
    this.budget.release(batch.reservedBytes);
    if (error === undefined) batch.succeed(baseOffset);
    else batch.fail(error);
    if (!batch.builderReleased && batch.builder !== undefined) this.builders.give(batch.builder);
    if (batch.flushWaiters !== undefined) for (const wake of batch.flushWaiters) wake();
  }
}
