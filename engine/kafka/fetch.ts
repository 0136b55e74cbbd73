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
// fetch_in_flight.ts) works the same way, over the same results
// (engine/fetch_results.ts).
//
// isolation_level: read_uncommitted and read_committed both read up to the
// high watermark (no transactions yet, so nothing is uncommitted); the last
// stable offset is the high watermark. Fetch sessions (KIP-227) are answered
// "no session" (sessionId 0): every client then sends full fetches.

import { decodeFetchRequest, encodeFetchResults, type FetchRequest, type FetchResults } from "../../protocol/kafka/messages/fetch.ts";
import type { RequestMeta } from "../connection/client_connection.ts";
import type { FetchHandle, FetchPartitionRequest, FetchSink } from "../fetch_operation.ts";
import { FetchPartitionResults } from "../fetch_results.ts";
import type { KafkaConnection } from "./kafka_connection.ts";
import type { KafkaHandler } from "./kafka_request.ts";

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
  readonly #results: FetchPartitionResults;
  #handle: FetchHandle | null = null;
  #finished = false;

  constructor(conn: KafkaConnection, meta: RequestMeta, apiVersion: number, body: FetchRequest, n: number) {
    this.#conn = conn;
    this.#meta = meta;
    this.#apiVersion = apiVersion;
    this.#body = body;
    this.#results = new FetchPartitionResults(conn.host.scratch, n);
  }

  /** The engine took the fetch; unless it already answered, the connection tracks it (closing cancels it). */
  started(handle: FetchHandle): void {
    if (this.#finished) return;
    this.#handle = handle;
    this.#conn.trackFetch(handle);
  }

  partition(i: number, errorCode: number, bytes: Uint8Array | null, highWatermark: number, logStartOffset: number): void {
    this.#results.set(i, errorCode, bytes, highWatermark, logStartOffset);
  }

  reset(): void {
    this.#results.reset();
  }

  done(): void {
    this.#finished = true;
    const conn = this.#conn;
    if (this.#handle !== null) conn.untrackFetch(this.#handle);
    const r = this.#results;
    const { scratch, release } = r.takeScratch();
    const version = this.#apiVersion;
    const body = this.#body;
    const results: FetchResults = {
      codes: r.codes,
      highWatermarks: r.highWatermarks,
      logStartOffsets: r.logStarts,
      records: scratch,
      starts: r.starts,
      lengths: r.lengths,
    };
    conn.reply({ meta: this.#meta, apiVersion: version }, (w) => encodeFetchResults(w, version, body, results), release);
  }
}
