// Fetch (1), versions 4–12: the engine's fetch (long-poll on maxWaitMs and
// minBytes, per-partition partitionMaxBytes, the total maxBytes) answered
// with the stored RecordBatch bytes as they are on disk — compressed batches
// as the producer sent them, a batch a fetch starts in the middle of whole
// (the client skips its earlier records), no re-encoding.
//
// The bytes of each partition arrive as a view valid only during the engine's
// callback (a worker's completion ring); they are copied once into a scratch
// buffer from the server's pool and spliced into the response as views
// (KafkaWriter.appendView), so the router copies them no more: large
// responses reach the socket from the scratch buffer (respondSegments), which
// goes back to the pool once written. The native fetch (engine/native/
// fetch_in_flight.ts) works the same way.
//
// isolation_level: read_uncommitted and read_committed both read up to the
// high watermark (no transactions yet, so nothing is uncommitted); the last
// stable offset is the high watermark. Fetch sessions (KIP-227) are answered
// "no session" (sessionId 0): every client then sends full fetches.

import { ErrorCode } from "../../protocol/errors.ts";
import { decodeFetchRequest, encodeFetchResponse, type FetchRequest } from "../../protocol/kafka/messages/fetch.ts";
import type { RequestMeta } from "../connection/client_connection.ts";
import type { FetchHandle, FetchPartitionRequest, FetchSink } from "../fetch_operation.ts";
import type { KafkaConnection } from "./kafka_connection.ts";
import type { KafkaHandler } from "./kafka_request.ts";

const EMPTY = new Uint8Array(0);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export const handleFetch: KafkaHandler = (req) => {
  const body = decodeFetchRequest(req.reader, req.apiVersion);
  const partitions: FetchPartitionRequest[] = [];
  for (const t of body.topics) {
    for (const p of t.partitions) {
      // Offsets beyond 2^53 cannot exist in a log; -1 makes the engine answer OFFSET_OUT_OF_RANGE.
      const offset = p.fetchOffset >= 0n && p.fetchOffset <= MAX_SAFE ? Number(p.fetchOffset) : -1;
      partitions.push({ topic: t.topic, partition: p.partition, offset, maxBytes: p.partitionMaxBytes, currentLeaderEpoch: p.currentLeaderEpoch });
    }
  }
  const conn = req.conn;
  const sink = new KafkaFetch(conn, req.meta, req.apiVersion, body, partitions.length);
  const handle = conn.host.engine.fetch(
    { maxWaitMs: body.maxWaitMs, minBytes: body.minBytes, maxBytes: body.maxBytes, partitions, readBudget: conn.fetchReads },
    sink,
  );
  sink.started(handle);
};

class KafkaFetch implements FetchSink {
  readonly #conn: KafkaConnection;
  readonly #meta: RequestMeta;
  readonly #apiVersion: number;
  readonly #body: FetchRequest;
  readonly #codes: Int16Array;
  readonly #starts: Int32Array;
  readonly #lengths: Int32Array;
  readonly #highWatermarks: Float64Array;
  readonly #logStarts: Float64Array;
  /** Taken from the pool at the first bytes, given back when the fetch parks or ends: a parked fetch holds none. */
  #scratch: Uint8Array = EMPTY;
  #used = 0;
  #handle: FetchHandle | null = null;
  #finished = false;

  constructor(conn: KafkaConnection, meta: RequestMeta, apiVersion: number, body: FetchRequest, n: number) {
    this.#conn = conn;
    this.#meta = meta;
    this.#apiVersion = apiVersion;
    this.#body = body;
    this.#codes = new Int16Array(n);
    this.#starts = new Int32Array(n);
    this.#lengths = new Int32Array(n);
    this.#highWatermarks = new Float64Array(n).fill(-1);
    this.#logStarts = new Float64Array(n).fill(-1);
  }

  /** The engine took the fetch; unless it already answered, the connection tracks it (closing cancels it). */
  started(handle: FetchHandle): void {
    if (this.#finished) return;
    this.#handle = handle;
    this.#conn.trackFetch(handle);
  }

  partition(i: number, errorCode: number, bytes: Uint8Array | null, highWatermark: number, logStartOffset: number): void {
    this.#codes[i] = errorCode;
    this.#highWatermarks[i] = highWatermark;
    this.#logStarts[i] = logStartOffset;
    const n = bytes === null ? 0 : bytes.length;
    this.#starts[i] = this.#used;
    this.#lengths[i] = n;
    if (n === 0) return;
    this.#ensure(n);
    this.#scratch.set(bytes!, this.#used);
    this.#used += n;
  }

  reset(): void {
    this.#used = 0;
    this.#lengths.fill(0);
    if (this.#scratch !== EMPTY) this.#conn.host.scratch.give(this.#scratch);
    this.#scratch = EMPTY;
  }

  done(): void {
    this.#finished = true;
    const conn = this.#conn;
    if (this.#handle !== null) conn.untrackFetch(this.#handle);
    const scratch = this.#scratch;
    this.#scratch = EMPTY;
    const release = scratch === EMPTY ? noop : () => conn.host.scratch.give(scratch);
    const readCommitted = this.#body.isolationLevel === 1;
    let flat = 0;
    const responses = this.#body.topics.map((t) => ({
      topic: t.topic,
      partitions: t.partitions.map((p) => {
        const i = flat++;
        const code = this.#codes[i];
        const hw = this.#highWatermarks[i];
        return {
          partitionIndex: p.partition,
          errorCode: code,
          highWatermark: BigInt(hw),
          lastStableOffset: BigInt(hw),
          logStartOffset: BigInt(this.#logStarts[i]),
          // None: there are no transactions. Kafka sends null unless the fetch is read_committed.
          abortedTransactions: readCommitted ? [] : null,
          records: scratch.subarray(this.#starts[i], this.#starts[i] + this.#lengths[i]),
        };
      }),
    }));
    const version = this.#apiVersion;
    conn.reply(
      { meta: this.#meta, apiVersion: version },
      (w) => encodeFetchResponse(w, version, { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses }),
      release,
    );
  }

  #ensure(n: number): void {
    const needed = this.#used + n;
    if (needed <= this.#scratch.length) return;
    if (this.#scratch === EMPTY) {
      this.#scratch = this.#conn.host.scratch.take();
      if (needed <= this.#scratch.length) return;
    }
    let size = Math.max(this.#scratch.length * 2, 64 * 1024);
    while (size < needed) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.#scratch.subarray(0, this.#used));
    this.#scratch = grown;
  }
}

const noop = (): void => {};
