// Produce (0), versions 3–9 served; 0–2 (message sets, not RecordBatch v2)
// are answered UNSUPPORTED_VERSION for every partition, as only v2 batches
// are stored. The records are the client's RecordBatch bytes, handed to the
// engine as they came (compressed batches included): the worker validates
// the CRC and patches the base offset, nothing else.
//
// Durability contract (what the response means), per partition — the
// engine's, as for the native protocol (engine/native/produce_in_flight.ts):
//   acks 0   no response; the request still counts in flight until every
//            partition was written (so memory stays bounded)
//   acks 1   answered once the batches are in the segment file
//   acks -1  answered once an fdatasync covering them returned; a partition
//            still waiting when timeoutMs passes answers REQUEST_TIMED_OUT
//   any other acks: INVALID_REQUIRED_ACKS for every partition
// Per partition: the base offset, else a Kafka error code (a batch that fails
// validation: CORRUPT_MESSAGE, INVALID_RECORD, MESSAGE_TOO_LARGE, … as the
// worker found it; v8+ with its message). Order within a partition is the
// order requests were read: a partition the engine cannot take yet (ring
// full, topic being auto-created) waits in the connection's blocked queue,
// and every later partition of the connection behind it.

import { ErrorCode } from "../../protocol/errors.ts";
import { decodeProduceRequest, encodeProduceResults, type ProduceRequest, type ProduceResults } from "../../protocol/kafka/messages/produce.ts";
import { PRODUCE_VERSION_ACCEPTED_MIN } from "../../protocol/kafka/versions.ts";
import type { ProduceSubmitter, QueuedPartition, RequestMeta } from "../connection/client_connection.ts";
import type { Acks } from "../engine.ts";
import type { ProduceCallback, ProduceResult } from "../partition_pool.ts";
import { ProducePartitionResults } from "../produce_results.ts";
import type { TimeoutItem, TimeoutList } from "../timeout_lists.ts";
import type { KafkaConnection } from "./kafka_connection.ts";
import type { KafkaHandler, KafkaRequest } from "./kafka_request.ts";

export const handleProduce: KafkaHandler = (req) => {
  const body = decodeProduceRequest(req.reader, req.apiVersion);
  new KafkaProduce(req, body).run();
};

class KafkaProduce implements TimeoutItem, ProduceSubmitter {
  readonly #conn: KafkaConnection;
  readonly #meta: RequestMeta;
  readonly #apiVersion: number;
  readonly #body: ProduceRequest;
  /** Results, flat over the request's topics and partitions (v8+ adds a message to an error). */
  readonly #results: ProducePartitionResults;
  readonly #messages: (string | null)[];
  #pending: number;
  #answered = false;
  timeoutAtMs = 0;
  timeoutPrev: TimeoutItem | null = null;
  timeoutNext: TimeoutItem | null = null;
  timeoutList: TimeoutList | null = null;

  constructor(req: KafkaRequest, body: ProduceRequest) {
    this.#conn = req.conn;
    this.#meta = req.meta;
    this.#apiVersion = req.apiVersion;
    this.#body = body;
    let n = 0;
    for (const t of body.topicData) n += t.partitionData.length;
    this.#results = new ProducePartitionResults(n);
    this.#messages = new Array<string | null>(n).fill(null);
    this.#pending = n;
  }

  run(): void {
    const { acks, timeoutMs } = this.#body;
    if (this.#apiVersion < PRODUCE_VERSION_ACCEPTED_MIN) {
      return this.#failAll(ErrorCode.UNSUPPORTED_VERSION, `Produce v${this.#apiVersion} carries message sets; only RecordBatch v2 (Produce v3+) is stored`);
    }
    if (!(acks === 0 || acks === 1 || acks === -1)) return this.#failAll(ErrorCode.INVALID_REQUIRED_ACKS, `acks ${acks} is not 0, 1 or -1`);
    if (this.#pending === 0) return this.#finish();
    if (acks === -1 && timeoutMs > 0) this.#conn.host.produceDeadlines.add(this, timeoutMs, this.#meta.startedMs);
    const conn = this.#conn;
    let flat = 0;
    for (const t of this.#body.topicData) {
      for (const p of t.partitionData) {
        const i = flat++;
        if (p.records === null || p.records.length === 0) {
          this.#result(i, ErrorCode.CORRUPT_MESSAGE, null, "no record batch");
          continue;
        }
        const item: QueuedPartition = { owner: this, topic: t.name, partition: p.index, records: p.records, flat: i };
        if (conn.produceBlocked || !this.submitQueued(item)) conn.enqueueBlocked(item);
      }
    }
  }

  submitQueued(item: QueuedPartition): boolean {
    if (this.#conn.closed) return true; // dropped with the connection; nothing will answer
    const flat = item.flat;
    const cb: ProduceCallback = (err, res, message) => this.#result(flat, err, res, message ?? null);
    return this.#conn.host.engine.produce(item.topic, item.partition, item.records, this.#body.acks as Acks, cb);
  }

  #result(flat: number, err: number, res: ProduceResult | null, message: string | null): void {
    if (!this.#results.set(flat, err, res)) return; // already answered (timed out)
    this.#messages[flat] = err === ErrorCode.NONE ? null : message;
    if (--this.#pending === 0) this.#finish();
  }

  onTimeout(): void {
    this.#results.failPending(ErrorCode.REQUEST_TIMED_OUT);
    this.#pending = 0;
    this.#finish();
  }

  #failAll(code: number, message: string): void {
    this.#results.failPending(code);
    this.#messages.fill(message);
    this.#pending = 0;
    this.#finish();
  }

  #finish(): void {
    if (this.#answered) return;
    this.#answered = true;
    if (this.timeoutList !== null) this.#conn.host.produceDeadlines.remove(this);
    // acks 0: no response (checked first: a refused request is not answered either, as Kafka does).
    if (this.#body.acks === 0) return this.#conn.finishWithoutResponse(this.#meta);
    const r = this.#results;
    const body = this.#body;
    const version = this.#apiVersion;
    const results: ProduceResults = {
      codes: r.codes,
      baseOffsets: r.baseOffsets,
      logAppendTimes: r.appendTimes,
      logStartOffsets: r.logStarts,
      messages: this.#messages,
    };
    this.#conn.reply({ meta: this.#meta, apiVersion: version }, (w) => encodeProduceResults(w, version, body, results));
  }
}
