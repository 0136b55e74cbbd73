// One Fetch request between being read and being answered; the sink of the
// engine's FetchOperation.
//
// Each partition's bytes arrive as a view valid only during the callback
// (it points into a worker's completion ring). They are copied into a scratch
// buffer taken from the server's pool; when the fetch is done the response's
// headers are encoded into the connection's output in request order (topics
// grouped as the grammar wants) and written together with views of the
// scratch buffer (OutputQueue.commitPieces): the records are not copied again
// on the router. The scratch buffer goes back to the pool once the socket took
// them (or the connection closed).

import { ErrorCode } from "../../protocol/errors.ts";
import { FRAME_BYTES_MAX, RESPONSE_HEADER_BYTES } from "../../protocol/limits.ts";
import { decodeFetchRequest, FETCH_PARTITION_RESULT_BYTES_MIN, type FetchRequest as WireFetchRequest, writeFetchResponse, writeFetchResponsePieces } from "../../protocol/messages/fetch.ts";
import { utf8Length } from "../../protocol/utf8.ts";
import type { FetchHandle, FetchPartitionRequest, FetchSink } from "../fetch_operation.ts";
import type { Connection, RequestMeta } from "./connection.ts";
import { FETCH_RECORDS_COPIED_BYTES_MAX } from "../engine_limits.ts";
import { FetchPartitionResults } from "../fetch_results.ts";

export class FetchInFlight implements FetchSink {
  readonly #conn: Connection;
  readonly #req: WireFetchRequest;
  readonly #meta: RequestMeta;
  readonly #results: FetchPartitionResults;
  #handle: FetchHandle | null = null;
  #finished = false;

  static start(conn: Connection, meta: RequestMeta, body: Uint8Array): void {
    const req = decodeFetchRequest(body);
    const partitions: FetchPartitionRequest[] = [];
    for (const t of req.topics) {
      for (const p of t.partitions) {
        // Offsets beyond 2^53 cannot exist in a log; -1 makes the engine answer OFFSET_OUT_OF_RANGE.
        const offset = p.fetchOffset >= 0n && p.fetchOffset <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(p.fetchOffset) : -1;
        partitions.push({ topic: t.name, partition: p.index, offset, maxBytes: p.partitionMaxBytes });
      }
    }
    const inFlight = new FetchInFlight(conn, req, meta, partitions.length);
    const handle = conn.host.engine.fetch(
      { maxWaitMs: req.maxWaitMs, minBytes: req.minBytes, maxBytes: req.maxBytes, partitions, readBudget: conn.fetchReads },
      inFlight,
    );
    if (!inFlight.#finished) {
      inFlight.#handle = handle;
      conn.trackFetch(handle);
    }
  }

  private constructor(
    conn: Connection,
    req: WireFetchRequest,
    meta: RequestMeta,
    n: number,
  ) {
    this.#conn = conn;
    this.#req = req;
    this.#meta = meta;
    this.#results = new FetchPartitionResults(conn.host.scratch, n);
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
    const used = r.usedBytes;
    const { scratch, release } = r.takeScratch();
    // Size the response first: a frame must stay within FRAME_BYTES_MAX.
    let bytes = 2 + 4 + used;
    for (const t of this.#req.topics) bytes += 2 + utf8Length(t.name) + 4 + FETCH_PARTITION_RESULT_BYTES_MIN * t.partitions.length;
    if (bytes + RESPONSE_HEADER_BYTES > FRAME_BYTES_MAX) {
      release();
      conn.respondError(this.#meta, ErrorCode.MESSAGE_TOO_LARGE, `the response would be ${bytes} bytes, larger than a frame; ask for fewer partitions or bytes`);
      return;
    }
    let flat = 0;
    const topics = this.#req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => {
        const i = flat++;
        return {
          index: p.index,
          errorCode: r.codes[i],
          highWatermark: BigInt(r.highWatermarks[i]),
          logStartOffset: BigInt(r.logStarts[i]),
          records: r.records(i, scratch),
        };
      }),
    }));
    if (used <= FETCH_RECORDS_COPIED_BYTES_MAX) {
      // Small: copied into the output writer, so it leaves in the turn's one socket write with the other responses.
      conn.respond(this.#meta, (w) => writeFetchResponse(w, { topics }));
      release();
      return;
    }
    // Large: the records go from the scratch buffer to the socket (no copy into the output writer);
    // the scratch returns to the pool once the socket took them.
    conn.respondPieces(this.#meta, (w) => writeFetchResponsePieces(w, { topics }), release);
  }
}
