// One Produce request between being read and being answered.
//
// Durability contract (what the response means), per partition:
//   acks 0   no response at all; the request still counts as in flight until
//            every partition was written (so memory stays bounded).
//   acks 1   answered after the batches are written to the segment file.
//   acks -1  answered after an fdatasync that covers them returned; a partition
//            still waiting when TimeoutMs passes answers REQUEST_TIMED_OUT
//            (its data may still become durable). TimeoutMs ≤ 0: no bound.
//   Per partition: the base offset on success, else an error code (the batches
//   of a partition with an error are not stored, not even in part).
//
// Records stay views into the request frame while the engine takes them at
// once; a partition that must wait (blocked ring, auto-create) is copied into
// the connection's blocked queue (Connection.enqueueBlocked).
//
// One-partition requests are pooled (PRODUCE_POOL_MAX says why and when one
// is reused).

import { ApiKey } from "../../protocol/api_keys.ts";
import { ErrorCode } from "../../protocol/errors.ts";
import { FRAME_BYTES_MAX, RESPONSE_HEADER_BYTES } from "../../protocol/limits.ts";
import { utf8Length } from "../../protocol/utf8.ts";
import type { Writer } from "../../protocol/codec.ts";
import {
  decodeProduceRequest,
  PRODUCE_PARTITION_RESULT_BYTES,
  type ProduceRequest,
  type ProduceTopic,
  readSingleProduce,
  type SingleProduce,
  writeProducePartitionResult,
} from "../../protocol/messages/produce.ts";
import { writeOkPrefix } from "../../protocol/messages/response.ts";
import type { TimeoutItem, TimeoutList } from "../timeout_lists.ts";
import type { Acks } from "../engine.ts";
import type { ProduceCallback, ProduceResult } from "../partition_pool.ts";
import { ProducePartitionResults, RESULT_PENDING } from "../produce_results.ts";
import type { ProduceSubmitter, QueuedPartition, RequestMeta } from "../connection/client_connection.ts";
import type { Connection } from "./connection.ts";
import { PRODUCE_POOL_MAX } from "../engine_limits.ts";

export type { QueuedPartition } from "../connection/client_connection.ts";

/** Filled by readSingleProduce for each request (one router thread: one scratch). */
const SINGLE: SingleProduce = { acks: 0, timeoutMs: 0, topic: "", partition: 0, recordsStart: 0, recordsEnd: 0 };

/** Finished one-partition requests kept for reuse (PRODUCE_POOL_MAX: engine_limits.ts says why). */
const POOL: ProduceInFlight[] = [];

export class ProduceInFlight implements TimeoutItem, RequestMeta, ProduceSubmitter {
  #conn!: Connection;
  /** The decoded request; null for a request of one topic and one partition, kept in the fields below. */
  #req: ProduceRequest | null = null;
  // RequestMeta: a produce request is its own meta (no object per request for it).
  correlationId = 0;
  readonly apiKey = ApiKey.Produce;
  frameBytes = 0;
  startedMs = 0;
  /** acks and timeout as the request says (acks not yet checked). */
  #acksRaw = 0;
  #timeoutMs = 0;
  #acks: Acks = -1;
  #topic = "";
  #partition = -1;
  /**
   * Per-partition results, `flat` over the request's topics. A request of one
   * partition (nearly every request of a client that sends as it goes) keeps
   * them in the four fields below instead: four typed arrays per request were
   * ~9% of the router's time on the one-message-per-request path, and the
   * decoded request's objects and arrays most of the garbage it left.
   */
  #many: ProducePartitionResults | null = null;
  #code = RESULT_PENDING;
  #baseOffset = -1;
  #appendTime = -1;
  #logStart = -1;
  #pending = 0;
  #answered = false;
  /** Engine callbacks promised (produce() returned true) and not yet called. */
  #outstanding = 0;
  /** False once the connection's blocked queue held it: that queue may still name it, so it is never reused. */
  #poolable = true;
  /** Bound once per object, reused by every request it serves. */
  readonly #onSingle = (err: number, res: ProduceResult | null): void => this.#onCallback(0, err, res);
  readonly #writeOneBody = (w: Writer): void => this.#writeOne(w);
  timeoutAtMs = 0;
  timeoutPrev: TimeoutItem | null = null;
  timeoutNext: TimeoutItem | null = null;
  timeoutList: TimeoutList | null = null;

  /** The request whose body is `buf[start, end)`, read at `startedMs` from a frame of `frameBytes`. */
  static start(conn: Connection, correlationId: number, frameBytes: number, startedMs: number, buf: Uint8Array, start: number, end: number): void {
    if (readSingleProduce(buf, start, end, SINGLE)) {
      const p = POOL.pop() ?? new ProduceInFlight();
      p.#init(conn, correlationId, frameBytes, startedMs, null, SINGLE.acks, SINGLE.timeoutMs, SINGLE.topic, SINGLE.partition);
      p.#run(buf.subarray(SINGLE.recordsStart, SINGLE.recordsEnd));
      return;
    }
    const req = decodeProduceRequest(buf, start, end);
    const p = new ProduceInFlight();
    p.#init(conn, correlationId, frameBytes, startedMs, req, req.acks, req.timeoutMs, "", -1);
    p.#run(null);
  }

  private constructor() {}

  #init(
    conn: Connection,
    correlationId: number,
    frameBytes: number,
    startedMs: number,
    req: ProduceRequest | null,
    acks: number,
    timeoutMs: number,
    topic: string,
    partition: number,
  ): void {
    this.#conn = conn;
    this.correlationId = correlationId;
    this.frameBytes = frameBytes;
    this.startedMs = startedMs;
    this.#req = req;
    this.#acksRaw = acks;
    this.#timeoutMs = timeoutMs;
    this.#acks = acks === 0 || acks === 1 || acks === -1 ? acks : -1;
    this.#topic = topic;
    this.#partition = partition;
    this.#code = RESULT_PENDING;
    this.#baseOffset = -1;
    this.#appendTime = -1;
    this.#logStart = -1;
    this.#answered = false;
    this.#outstanding = 0;
    this.#poolable = req === null;
    this.timeoutAtMs = 0;
    if (req === null) {
      this.#pending = 1;
      this.#many = null;
    } else {
      let n = 0;
      for (const t of req.topics) n += t.partitions.length;
      this.#pending = n;
      this.#many = new ProducePartitionResults(n);
    }
  }

  /** `records`: the one partition's records (a view into the frame) when #req is null. */
  #run(records: Uint8Array | null): void {
    const acks = this.#acksRaw;
    if (!(acks === 0 || acks === 1 || acks === -1)) {
      this.#failPending(ErrorCode.INVALID_REQUIRED_ACKS);
      return this.#finish();
    }
    if (this.#pending === 0) return this.#finish();
    // Timed from the request's arrival (a clock read saved per request).
    if (acks === -1 && this.#timeoutMs > 0) this.#conn.host.produceDeadlines.add(this, this.#timeoutMs, this.startedMs);
    const conn = this.#conn;
    const req = this.#req;
    if (req === null) {
      // One topic, one partition: no queue item unless it must wait. Nothing of
      // `this` is read after #submit: its callback may already have answered it.
      if (conn.produceBlocked || !this.#submit(this.#topic, this.#partition, records!, 0)) {
        this.#poolable = false;
        conn.enqueueBlocked({ owner: this, topic: this.#topic, partition: this.#partition, records: records!, flat: 0 });
      }
      return;
    }
    let flat = 0;
    for (const t of req.topics) {
      for (const p of t.partitions) {
        const item: QueuedPartition = { owner: this, topic: t.name, partition: p.index, records: p.records, flat: flat++ };
        if (conn.produceBlocked || !this.submitQueued(item)) conn.enqueueBlocked(item);
      }
    }
  }

  /** Hands one partition to the engine. false: not taken (the caller keeps it queued, in order). */
  submitQueued(item: QueuedPartition): boolean {
    return this.#submit(item.topic, item.partition, item.records, item.flat);
  }

  #submit(topic: string, partition: number, records: Uint8Array, flat: number): boolean {
    if (this.#conn.closed) return true; // dropped with the connection; nothing will answer
    // The closure of a partition of a larger request is made out of line (see partitionCallback).
    const cb = this.#many === null ? this.#onSingle : this.partitionCallback(flat);
    // Counted first: the engine may call back before produce() returns.
    this.#outstanding++;
    const taken = this.#conn.host.engine.produce(topic, partition, records, this.#acks, cb);
    if (!taken) this.#outstanding--;
    return taken;
  }

  /**
   * The engine callback of partition `flat` of a request of several. Its own
   * method because a closure inside #submit would make every call of #submit
   * allocate the scope it captures, one-partition requests included.
   */
  private partitionCallback(flat: number): ProduceCallback {
    return (err, res) => this.#onCallback(flat, err, res);
  }

  #onCallback(flat: number, err: number, res: ProduceResult | null): void {
    this.#outstanding--;
    this.#onResult(flat, err, res);
    this.#releaseIfDone();
  }

  #onResult(flat: number, err: number, res: ProduceResult | null): void {
    const many = this.#many;
    if (many === null) {
      if (this.#code !== RESULT_PENDING) return; // already answered (timed out)
      this.#code = err;
      if (err === ErrorCode.NONE && res !== null) {
        this.#baseOffset = res.baseOffset;
        this.#appendTime = res.logAppendTimeMs;
        this.#logStart = res.logStartOffset;
      }
    } else {
      if (!many.set(flat, err, res)) return; // already answered (timed out)
    }
    if (--this.#pending === 0) this.#finish();
  }

  onTimeout(): void {
    this.#failPending(ErrorCode.REQUEST_TIMED_OUT);
    this.#finish();
    this.#releaseIfDone();
  }

  /** Every partition without a result gets `code`. */
  #failPending(code: number): void {
    const many = this.#many;
    if (many === null) {
      if (this.#code === RESULT_PENDING) this.#code = code;
    } else {
      many.failPending(code);
    }
    this.#pending = 0;
  }

  #finish(): void {
    if (this.#answered) return;
    this.#answered = true;
    if (this.timeoutList !== null) this.#conn.host.produceDeadlines.remove(this);
    const conn = this.#conn;
    if (this.#acksRaw === 0) {
      conn.finishRequest(this);
      return;
    }
    const req = this.#req;
    if (req === null) {
      // One partition: 36 bytes plus the name, always within a frame (the request held the name).
      conn.respond(this, this.#writeOneBody);
      return;
    }
    // A response partition (30 bytes) is larger than a request partition can be (8): size it first.
    let bytes = 2 + 4;
    for (const t of req.topics) bytes += 2 + utf8Length(t.name) + 4 + PRODUCE_PARTITION_RESULT_BYTES * t.partitions.length;
    if (bytes + RESPONSE_HEADER_BYTES > FRAME_BYTES_MAX) {
      conn.respondError(this, ErrorCode.MESSAGE_TOO_LARGE, `the response would be ${bytes} bytes, larger than a frame`);
      return;
    }
    const many = this.#many!;
    conn.respond(this, (w) => writeProduceResults(w, req.topics, many.codes, many.baseOffsets, many.appendTimes, many.logStarts));
  }

  /** Back into the pool once answered with no engine callback still to come (one-partition requests only). */
  #releaseIfDone(): void {
    if (!this.#answered || this.#outstanding !== 0 || !this.#poolable || POOL.length >= PRODUCE_POOL_MAX) return;
    this.#poolable = false; // released once
    this.#conn = undefined as unknown as Connection;
    this.#topic = "";
    POOL.push(this);
  }

  /** The response body of a one-partition request: writeProduceResults' bytes for one entry. */
  #writeOne(w: Writer): void {
    writeOkPrefix(w);
    w.writeArrayCount(1).writeString(this.#topic).writeArrayCount(1);
    writeProducePartitionResult(w, this.#partition, this.#code, this.#baseOffset, this.#appendTime, this.#logStart);
  }
}

/**
 * The Produce response body (protocol/messages/produce.ts grammar) straight
 * from the per-partition result arrays, `flat` over the request's topics: the
 * same bytes as writeProduceResponse, without building result objects or
 * 64-bit BigInts per partition (this runs once per produce request).
 */
export function writeProduceResults(
  w: Writer,
  topics: readonly ProduceTopic[],
  codes: Int16Array,
  baseOffsets: Float64Array,
  appendTimes: Float64Array,
  logStarts: Float64Array,
): void {
  writeOkPrefix(w);
  w.writeArrayCount(topics.length);
  let flat = 0;
  for (let t = 0; t < topics.length; t++) {
    const parts = topics[t].partitions;
    w.writeString(topics[t].name).writeArrayCount(parts.length);
    for (let p = 0; p < parts.length; p++, flat++) {
      writeProducePartitionResult(w, parts[p].index, codes[flat], baseOffsets[flat], appendTimes[flat], logStarts[flat]);
    }
  }
}
