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

import { ErrorCode } from "../../protocol/errors.ts";
import { FRAME_BYTES_MAX, RESPONSE_HEADER_BYTES } from "../../protocol/limits.ts";
import { utf8Length } from "../../protocol/utf8.ts";
import type { Writer } from "../../protocol/codec.ts";
import { decodeProduceRequest, type ProduceRequest, type ProduceTopic } from "../../protocol/messages/produce.ts";
import { writeOkPrefix } from "../../protocol/messages/response.ts";
import type { DeadlineItem } from "../deadline_timer.ts";
import type { Acks } from "../engine.ts";
import type { ProduceResult } from "../partition_pool.ts";
import type { Connection, RequestMeta } from "./connection.ts";

export interface QueuedPartition {
  owner: ProduceInFlight;
  topic: string;
  partition: number;
  records: Uint8Array;
  /** Index of the partition in the request, flattened over topics. */
  flat: number;
}

/** Index, error code, base offset, log append time, log start offset. */
const PARTITION_RESULT_BYTES = 4 + 2 + 8 + 8 + 8;

const PENDING = 0x7fff; // not a wire error code: "no result yet"

export class ProduceInFlight implements DeadlineItem {
  readonly #conn: Connection;
  readonly #req: ProduceRequest;
  readonly #meta: RequestMeta;
  readonly #acks: Acks;
  readonly #codes: Int16Array;
  readonly #baseOffsets: Float64Array;
  readonly #appendTimes: Float64Array;
  readonly #logStarts: Float64Array;
  #pending: number;
  #answered = false;
  deadlineMs = 0;
  heapIndex = -1;

  static start(conn: Connection, meta: RequestMeta, body: Uint8Array): void {
    const req = decodeProduceRequest(body);
    new ProduceInFlight(conn, req, meta).#run();
  }

  private constructor(conn: Connection, req: ProduceRequest, meta: RequestMeta) {
    this.#conn = conn;
    this.#req = req;
    this.#meta = meta;
    this.#acks = req.acks === 0 || req.acks === 1 || req.acks === -1 ? req.acks : -1;
    let n = 0;
    for (const t of req.topics) n += t.partitions.length;
    this.#pending = n;
    this.#codes = new Int16Array(n).fill(PENDING);
    this.#baseOffsets = new Float64Array(n).fill(-1);
    this.#appendTimes = new Float64Array(n).fill(-1);
    this.#logStarts = new Float64Array(n).fill(-1);
  }

  #run(): void {
    const req = this.#req;
    const validAcks = req.acks === 0 || req.acks === 1 || req.acks === -1;
    if (!validAcks) {
      this.#codes.fill(ErrorCode.INVALID_REQUIRED_ACKS);
      this.#pending = 0;
      return this.#finish();
    }
    if (this.#pending === 0) return this.#finish();
    if (this.#acks === -1 && req.timeoutMs > 0) {
      this.deadlineMs = Date.now() + req.timeoutMs;
      this.#conn.host.produceDeadlines.add(this);
    }
    const conn = this.#conn;
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
    if (this.#conn.closed) return true; // dropped with the connection; nothing will answer
    const flat = item.flat;
    return this.#conn.host.engine.produce(item.topic, item.partition, item.records, this.#acks, (err, res, _message) =>
      this.#onResult(flat, err, res),
    );
  }

  #onResult(flat: number, err: number, res: ProduceResult | null): void {
    if (this.#codes[flat] !== PENDING) return; // already answered (timed out)
    this.#codes[flat] = err;
    if (err === ErrorCode.NONE && res !== null) {
      this.#baseOffsets[flat] = res.baseOffset;
      this.#appendTimes[flat] = res.logAppendTimeMs;
      this.#logStarts[flat] = res.logStartOffset;
    }
    if (--this.#pending === 0) this.#finish();
  }

  onDeadline(): void {
    for (let i = 0; i < this.#codes.length; i++) {
      if (this.#codes[i] === PENDING) {
        this.#codes[i] = ErrorCode.REQUEST_TIMED_OUT;
        this.#pending--;
      }
    }
    this.#finish();
  }

  #finish(): void {
    if (this.#answered) return;
    this.#answered = true;
    if (this.heapIndex !== -1) this.#conn.host.produceDeadlines.remove(this);
    const conn = this.#conn;
    if (this.#req.acks === 0) {
      conn.finishRequest(this.#meta);
      return;
    }
    // A response partition (30 bytes) is larger than a request partition can be (8): size it first.
    let bytes = 2 + 4;
    for (const t of this.#req.topics) bytes += 2 + utf8Length(t.name) + 4 + PARTITION_RESULT_BYTES * t.partitions.length;
    if (bytes + RESPONSE_HEADER_BYTES > FRAME_BYTES_MAX) {
      conn.respondError(this.#meta, ErrorCode.MESSAGE_TOO_LARGE, `the response would be ${bytes} bytes, larger than a frame`);
      return;
    }
    conn.respond(this.#meta, (w) => writeProduceResults(w, this.#req.topics, this.#codes, this.#baseOffsets, this.#appendTimes, this.#logStarts));
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
      w.writeI32(parts[p].index).writeI16(codes[flat]);
      w.writeI64Number(baseOffsets[flat]).writeI64Number(appendTimes[flat]).writeI64Number(logStarts[flat]);
    }
  }
}
