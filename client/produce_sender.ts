// Sending for the producer (producer.ts batches): closed batches are drained
// into pipelined Produce requests of up to requestBytesMax, many partitions per
// request, up to requestsInflightMax requests in flight; responses are read in
// place and settle their batches; a retriable failure puts a partition's
// batches back at the head of its queue, to be sent again (the same bytes)
// after a backoff, before anything sent after them.
//
// Ordering: with retries on a partition has at most one request in flight
// (partitionInflightMax 1), so a retry can never land behind a later batch.
//
// Idempotence (idempotence.ts, on by default): nothing is sent before the
// producer has its id; each batch is stamped with its partition's next
// sequence as it closes (producer.ts); a request carries a partition's
// retried batches or its new ones, never both; a batch failing for good asks
// for a new epoch before anything new is stamped.
//
// Cost per request: one ProduceRequest (the connection's handler: no promise,
// closure or async hop) and one InflightEntry per partition; the response is
// read in place (ProduceResponseReader), with one bigint per partition.

import { ApiKey } from "../protocol/api_keys.ts";
import type { Writer } from "../protocol/codec.ts";
import { assert } from "../protocol/assert.ts";
import { ErrorCode, SluiceError, isRetriable } from "../protocol/errors.ts";
import { PRODUCER_BATCHES_CACHED } from "../protocol/limits.ts";
import { backoffMs } from "./backoff.ts";
import { sendThrough, type RequestLink } from "./broker_link.ts";
import type { RequestHandler, RequestOptions } from "./connection.ts";
import { ClientClosedError, ConnectionError, RequestTimeoutError, errorCodeName } from "./errors.ts";
import type { ProducerIdempotence, SequencedPartition } from "./idempotence.ts";
import { ProduceResponseReader, type ProduceEntry, writeProduceRequestEntries } from "./produce_request.ts";
import type { BuilderPool, ProducerBatch } from "./producer_batch.ts";

/** One partition the producer sends to: its open batch (batching's) and its send queue (the sender's). */
export interface PartitionState extends SequencedPartition {
  readonly topic: string;
  /** The topic name as written in requests (shared by the topic's partitions). */
  readonly topicField: Uint8Array;
  readonly partition: number;
  open: ProducerBatch | undefined;
  /** Closed batches waiting to be sent, oldest first. */
  ready: ProducerBatch[];
  inflight: number;
  /** No send before this time (backoff after a retriable failure). */
  retryAt: number;
  /**
   * The link of the partition's last failed request, and how many failed in a
   * row there: the back-off grows with failures at one broker, and starts
   * again from retryBackoffMs at a new leader (after a failover the new
   * leader's first NOT_LEADER_OR_FOLLOWER, while it takes up leadership, must
   * not wait the back-off earned at the dead one).
   */
  failedLink: RequestLink | undefined;
  failuresAtLink: number;
  /** In the producer's ready queue (at most once). */
  readyQueued: boolean;
}

/** What the sender needs of the producer that batches for it. */
export interface SenderOwner {
  /** Called as each drain begins (with no linger, the open batches close now and are sent with it). */
  beforeDrain(): void;
  /** A batch is done: acknowledged from `baseOffset` (-1n with acks=0), or failed with `error`. */
  complete(batch: ProducerBatch, baseOffset: bigint, error: Error | undefined): void;
  /** The broker does not know the topic (or the partition): its partition count must be asked again. */
  topicUnknown(topic: string): void;
  /** True once close() began: a batch failed by the closing connection is not retried. */
  isClosing(): boolean;
}

export interface SenderOptions {
  link: RequestLink;
  /** Where a partition's requests go (a cluster: its leader's link; undefined: leader unknown, keep waiting). Default: `link`. */
  linkFor?: (state: PartitionState) => RequestLink | undefined;
  /** A partition's leader answered it is not (or was unreachable): find the new one. Its batches are already back at its head. */
  leaderLost?: (state: PartitionState) => void;
  /** A partition with batches to send has no known leader (linkFor gave none): look it up. */
  leaderUnknown?: (state: PartitionState) => void;
  builders: BuilderPool;
  acks: 0 | 1 | -1;
  ackTimeoutMs: number;
  requestBytesMax: number;
  requestsInflightMax: number;
  partitionInflightMax: number;
  retries: number;
  retryBackoffMs: number;
  retryBackoffMsMax: number;
  deliveryTimeoutMs: number;
  /** The idempotent producer's id, epoch and stamping (idempotence.ts); undefined when idempotence is off. */
  idempotence?: ProducerIdempotence;
}

/** One partition's batches in a Produce request, and the broker's answer for them. */
class InflightEntry implements ProduceEntry {
  /** The partition's result: -1 until the response names the partition. */
  errorCode = -1;
  baseOffset = -1n;
  constructor(
    readonly state: PartitionState,
    readonly batches: ProducerBatch[],
  ) {}
  get topicField(): Uint8Array {
    return this.state.topicField;
  }
  get partition(): number {
    return this.state.partition;
  }
}

/** One Produce request in flight: the connection's handler for it (one object per request, no promise). */
class ProduceRequest implements RequestHandler {
  constructor(
    readonly owner: ProduceSender,
    readonly entries: InflightEntry[],
    /** Where it was sent: a failure after the partition's leader moved elsewhere is re-routed at once. */
    readonly link: RequestLink,
  ) {}
  encodeBody(w: Writer): void {
    this.owner.encodeProduce(w, this);
  }
  onResponse(bytes: Uint8Array, start: number, end: number): void {
    this.owner.produceAnswered(this, bytes, start, end);
  }
  onError(error: Error): void {
    this.owner.produceFailed(this, error);
  }
}

export class ProduceSender {
  private readonly owner: SenderOwner;
  private readonly link: RequestLink;
  private readonly linkFor: ((state: PartitionState) => RequestLink | undefined) | undefined;
  private readonly leaderLost: (state: PartitionState) => void;
  private readonly leaderUnknown: (state: PartitionState) => void;
  private readonly builders: BuilderPool;
  private readonly acks: 0 | 1 | -1;
  private readonly ackTimeoutMs: number;
  private readonly requestBytesMax: number;
  private readonly requestsInflightMax: number;
  private readonly partitionInflightMax: number;
  private readonly retries: number;
  private readonly retryBackoffMs: number;
  private readonly retryBackoffMsMax: number;
  private readonly deliveryTimeoutMs: number;
  private readonly idempotence: ProducerIdempotence | undefined;
  /**
   * Partitions with closed batches to send, in rotation order: the live part
   * is [readyHead, length); a partition is in it at most once (readyQueued).
   * An array with a moving head, not a Set: unbatched, every request takes a
   * partition off the front and puts it back at the end.
   */
  private readonly readyQueue: PartitionState[] = [];
  private readyHead = 0;
  private requestsInflight = 0;
  private drainScheduled = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimerAt = 0;
  private readonly drainNow = (): void => this.drain();
  private readonly responseReader = new ProduceResponseReader();
  private readonly requestOptions: RequestOptions;

  constructor(owner: SenderOwner, options: SenderOptions) {
    this.owner = owner;
    this.link = options.link;
    this.linkFor = options.linkFor;
    this.leaderLost = options.leaderLost ?? (() => {});
    this.leaderUnknown = options.leaderUnknown ?? (() => {});
    this.builders = options.builders;
    this.acks = options.acks;
    this.ackTimeoutMs = options.ackTimeoutMs;
    this.requestBytesMax = options.requestBytesMax;
    this.requestsInflightMax = options.requestsInflightMax;
    this.partitionInflightMax = options.partitionInflightMax;
    this.retries = options.retries;
    this.retryBackoffMs = options.retryBackoffMs;
    this.retryBackoffMsMax = options.retryBackoffMsMax;
    this.deliveryTimeoutMs = options.deliveryTimeoutMs;
    this.idempotence = options.idempotence;
    this.requestOptions = { expectResponse: this.acks !== 0, extraTimeoutMs: this.ackTimeoutMs };
  }

  /** Produce requests awaiting a response. */
  get inflightRequests(): number {
    return this.requestsInflight;
  }

  /** No retry is armed any more (close()). */
  stopRetries(): void {
    clearTimeout(this.retryTimer);
  }

  /** Drains at the end of this turn (once, however often asked). */
  scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    queueMicrotask(this.drainNow);
  }

  /** Moves ready batches into Produce requests while request slots are free. */
  private drain(): void {
    this.drainScheduled = false;
    this.owner.beforeDrain();
    let idem = this.idempotence;
    if (idem !== undefined) {
      // Nothing goes out before the producer id (or the next epoch) arrived: it drains again then.
      if (!idem.ready()) return;
      if (idem.failure !== undefined) return this.failAllReady(idem.failure);
      if (idem.off) idem = undefined;
    }
    const now = Date.now();
    let earliestRetry = Infinity;
    const queue = this.readyQueue;
    while (this.requestsInflight < this.requestsInflightMax && this.readyHead < queue.length) {
      let entries: InflightEntry[] | undefined;
      let bytes = 0;
      let topicField: Uint8Array | undefined;
      let topics = 0;
      // One request goes to one broker: the first partition taken decides which (the others wait their turn).
      let link: RequestLink | undefined = this.linkFor === undefined ? this.link : undefined;
      const first = this.readyHead;
      let end = first;
      for (; end < queue.length; end++) {
        if (bytes >= this.requestBytesMax) break;
        const state = queue[end];
        if (state.inflight >= this.partitionInflightMax) continue;
        if (state.retryAt > now) {
          earliestRetry = Math.min(earliestRetry, state.retryAt);
          continue;
        }
        if (this.linkFor !== undefined) {
          const to = this.linkFor(state);
          if (to === undefined) {
            this.leaderUnknown(state);
            continue;
          }
          if (link !== undefined && to !== link) continue;
          link = to;
        }
        let taken: ProducerBatch[] | undefined;
        const ready = state.ready;
        while (ready.length > 0) {
          const next = ready[0];
          const size = next.bytes!.length;
          if (bytes > 0 && bytes + size > this.requestBytesMax) break;
          // Retried batches (stamped before) and new ones never share a request: the broker answers an append as one or the other.
          if (idem !== undefined && taken !== undefined && (next.attempts > 0) !== (taken[0].attempts > 0)) break;
          // Every unsent batch was stamped when it closed, or when the id (or epoch) it waited for arrived.
          assert(idem === undefined || next.attempts > 0 || next.stampGeneration === idem.generation, "produce sender: a new batch goes out stamped for the current producer epoch");
          (taken ??= []).push(ready.shift()!);
          bytes += size;
          // The broker remembers a producer's last PRODUCER_BATCHES_CACHED batches of a partition: a retry of
          // this request (a lost answer, or a new leader that replicated it) is recognised only if it holds no more.
          if (idem !== undefined && taken.length >= PRODUCER_BATCHES_CACHED) break;
          // With one request per partition in flight, everything ready may go now;
          // otherwise one batch per request keeps partitions' requests independent.
          if (this.partitionInflightMax > 1) break;
        }
        if (taken !== undefined) {
          (entries ??= []).push(new InflightEntry(state, taken));
          if (state.topicField !== topicField) {
            topicField = state.topicField;
            topics++;
          }
        }
      }
      // Rotate: partitions looked at ([first, end)) go to the back (fairness); emptied ones leave.
      this.readyHead = end;
      for (let i = first; i < end; i++) queue[i].readyQueued = false;
      for (let i = first; i < end; i++) if (queue[i].ready.length > 0) this.markReady(queue[i]);
      this.compactReadyQueue();
      if (entries === undefined) break;
      // A request writes each topic once: entries of several topics are grouped (stable, so partitions keep their order).
      if (topics > 1) entries = groupByTopic(entries);
      this.sendRequest(entries, link ?? this.link);
    }
    if (earliestRetry !== Infinity) this.armRetry(earliestRetry);
  }

  /** Queues a partition that has ready batches (at most once). */
  markReady(state: PartitionState): void {
    if (state.readyQueued) return;
    state.readyQueued = true;
    this.readyQueue.push(state);
  }

  /** Drops the queue's consumed front once it is most of the array (amortized O(1) per partition taken). */
  private compactReadyQueue(): void {
    const queue = this.readyQueue;
    const head = this.readyHead;
    if (head === queue.length) {
      queue.length = 0;
      this.readyHead = 0;
    } else if (head >= 64 && head * 2 >= queue.length) {
      queue.copyWithin(0, head);
      queue.length -= head;
      this.readyHead = 0;
    }
  }

  /** The producer could not become idempotent as asked: every ready batch fails with why. */
  private failAllReady(error: SluiceError): void {
    const queue = this.readyQueue;
    for (let i = this.readyHead; i < queue.length; i++) {
      const state = queue[i];
      state.readyQueued = false;
      for (const b of state.ready.splice(0)) this.owner.complete(b, -1n, error);
    }
    queue.length = 0;
    this.readyHead = 0;
  }

  private armRetry(at: number): void {
    if (this.retryTimer !== undefined && this.retryTimerAt <= at) return;
    clearTimeout(this.retryTimer);
    this.retryTimerAt = at;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.scheduleDrain();
    }, Math.max(0, at - Date.now()));
  }

  private sendRequest(entries: InflightEntry[], link: RequestLink): void {
    for (let i = 0; i < entries.length; i++) {
      const { state, batches } = entries[i];
      state.inflight++;
      for (let b = 0; b < batches.length; b++) batches[b].attempts++;
    }
    this.requestsInflight++;
    sendThrough(link, ApiKey.Produce, new ProduceRequest(this, entries, link), this.requestOptions);
  }

  /** ProduceRequest.encodeBody. */
  encodeProduce(w: Writer, request: ProduceRequest): void {
    const entries = request.entries;
    writeProduceRequestEntries(w, this.acks, this.ackTimeoutMs, entries);
    if (this.retries > 0) return;
    // Without retries these bytes are never sent again: their builders can serve new batches now.
    for (let i = 0; i < entries.length; i++) {
      const batches = entries[i].batches;
      for (let b = 0; b < batches.length; b++) batches[b].releaseBuilder(this.builders);
    }
  }

  /** Every Produce request ends here once (answered, written with acks=0, or failed). */
  private requestDone(): void {
    this.requestsInflight--;
    this.scheduleDrain();
  }

  /** ProduceRequest.onResponse. */
  produceAnswered(request: ProduceRequest, bytes: Uint8Array, start: number, end: number): void {
    if (this.acks === 0) this.onAcksZeroWritten(request.entries);
    else this.onResponse(request.entries, request.link, bytes, start, end);
    this.requestDone();
  }

  /** ProduceRequest.onError. */
  produceFailed(request: ProduceRequest, error: Error): void {
    this.onRequestFailed(request.entries, request.link, error);
    this.requestDone();
  }

  private onAcksZeroWritten(entries: InflightEntry[]): void {
    for (const { state, batches } of entries) {
      state.inflight--;
      for (const b of batches) this.owner.complete(b, -1n, undefined);
    }
  }

  private onResponse(entries: InflightEntry[], link: RequestLink, bytes: Uint8Array, start: number, end: number): void {
    try {
      this.readResults(entries, bytes, start, end);
    } catch (e) {
      this.onRequestFailed(entries, link, e);
      return;
    }
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i];
      const { state, batches, errorCode } = entry;
      if (errorCode === -1) {
        this.onPartitionFailed(entry, link, new SluiceError(ErrorCode.UNKNOWN_SERVER_ERROR, `broker did not answer for ${state.topic}/${state.partition}`));
        continue;
      }
      if (errorCode !== ErrorCode.NONE) {
        this.onPartitionFailed(entry, link, new SluiceError(errorCode, `produce to ${state.topic}/${state.partition}: ${errorCodeName(errorCode)}`));
        continue;
      }
      state.inflight--;
      state.failuresAtLink = 0; // answered: the next failure backs off from the start
      let base = entry.baseOffset;
      for (let b = 0; b < batches.length; b++) {
        const batch = batches[b];
        this.owner.complete(batch, base, undefined);
        if (b + 1 < batches.length) base += BigInt(batch.recordCount);
      }
    }
  }

  /**
   * Stores each partition's result in its entry (a body that does not parse
   * throws before any entry is settled). The broker answers in request order,
   * so each result is looked for first where the previous one was found.
   */
  private readResults(entries: InflightEntry[], bytes: Uint8Array, start: number, end: number): void {
    const r = this.responseReader;
    const topicCount = r.start(bytes, start, end);
    let next = 0;
    for (let t = 0; t < topicCount; t++) {
      const partitionCount = r.nextTopic();
      let topicField: Uint8Array | undefined;
      for (let i = 0; i < entries.length; i++) {
        const field = entries[i].state.topicField;
        if (field === topicField) continue;
        if (r.topicIs(field)) {
          topicField = field;
          break;
        }
      }
      for (let p = 0; p < partitionCount; p++) {
        r.nextPartition();
        if (topicField === undefined) continue; // a topic this request did not name
        const found = findEntry(entries, next, topicField, r.index);
        if (found < 0) continue;
        const entry = entries[found];
        if (entry.errorCode !== -1) continue; // answered twice: the first answer stands
        entry.errorCode = r.errorCode;
        entry.baseOffset = r.baseOffset;
        next = found + 1;
      }
    }
    r.finish();
  }

  private onRequestFailed(entries: InflightEntry[], link: RequestLink, error: unknown): void {
    const e = error instanceof SluiceError ? error : new SluiceError(ErrorCode.UNKNOWN_SERVER_ERROR, String((error as Error)?.message ?? error), { cause: error });
    for (const entry of entries) this.onPartitionFailed(entry, link, e);
  }

  /** A partition's batches failed: retry them first (in order) if allowed, else fail their records. */
  private onPartitionFailed(entry: InflightEntry, link: RequestLink, error: SluiceError): void {
    const { state, batches } = entry;
    state.inflight--;
    const now = Date.now();
    const first = batches[0];
    const retry =
      isRetriable(error.code) &&
      first.attempts <= this.retries &&
      now - first.createdAt < this.deliveryTimeoutMs &&
      !(this.owner.isClosing() && error instanceof ClientClosedError);
    if (error.code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) this.owner.topicUnknown(state.topic);
    if (!retry) {
      for (const b of batches) this.owner.complete(b, -1n, error);
      // A hole in the partition's sequence (or an unknown outcome): a new epoch before the next stamp.
      this.idempotence?.brokenSequence();
      return;
    }
    // Back to the head of the partition's queue, ahead of anything sent later.
    state.ready.unshift(...batches);
    // With one request per partition in flight, moving the partition to another broker cannot reorder it.
    if (this.linkFor !== undefined && this.linkFor(state) !== link) {
      // Metadata moved the partition since this request went out (or its leader is being looked up):
      // no back-off, it goes to the new leader as soon as one is known (at once if one is).
      state.retryAt = now;
    } else {
      // A request that timed out on the client is a lost connection too (the link closed it): its broker
      // may be paused or cut off while another leads the partition, so the leader is looked up again.
      if (LEADER_ERRORS.has(error.code) || error instanceof ConnectionError || error instanceof RequestTimeoutError) this.leaderLost(state);
      if (state.failedLink !== link) {
        state.failedLink = link;
        state.failuresAtLink = 0;
      }
      state.retryAt = now + backoffMs(state.failuresAtLink++, { initialMs: this.retryBackoffMs, maxMs: this.retryBackoffMsMax });
    }
    this.markReady(state);
    this.armRetry(state.retryAt);
  }
}

/** Answers after which a partition's leader must be looked up again (docs/CLUSTER.md). */
const LEADER_ERRORS: ReadonlySet<number> = new Set([ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.LEADER_NOT_AVAILABLE, ErrorCode.FENCED_LEADER_EPOCH]);

/** The index of the entry for (topicField, partition), looking from `from` on first, or -1. */
function findEntry(entries: readonly InflightEntry[], from: number, topicField: Uint8Array, partition: number): number {
  const n = entries.length;
  for (let k = 0; k < n; k++) {
    const i = (from + k) % n;
    const state = entries[i].state;
    if (state.partition === partition && state.topicField === topicField) return i;
  }
  return -1;
}

/** Entries ordered by topic (first appearance), keeping their order within a topic. */
function groupByTopic(entries: InflightEntry[]): InflightEntry[] {
  const groups = new Map<Uint8Array, InflightEntry[]>();
  for (const entry of entries) {
    const list = groups.get(entry.state.topicField);
    if (list === undefined) groups.set(entry.state.topicField, [entry]);
    else list.push(entry);
  }
  const out: InflightEntry[] = [];
  for (const list of groups.values()) for (const entry of list) out.push(entry);
  return out;
}
