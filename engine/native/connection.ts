// One client connection of the native protocol, on the router thread.
//
// Input: bytes go through an incremental FrameParser; each whole frame is
// dispatched at once (pipelining: many requests in flight, each answered when
// ready, matched by correlation id).
//
// Bounds, and what happens at each (every one pauses reading, so the client
// sees TCP backpressure and the broker's memory stays flat):
//   - requests in flight (read, not yet answered) ≥ INFLIGHT_REQUESTS_MAX → pause
//   - request bytes in flight ≥ INFLIGHT_BYTES_MAX → pause
//   - a produce the engine could not take (worker ring full, topic being
//     auto-created) → pause; the partitions wait in `#blocked` (in order) and
//     are retried when the engine says the partition is writable
//   - queued response bytes > OUTPUT_PAUSE_BYTES → pause; > outputBytesMax → close
//   - a frame not complete within requestTimeoutMs (while reading) → close (server sweep)
//   - fetch reads in the workers' rings over FETCH_READ_BYTES_IN_FLIGHT_PER_CLIENT_MAX
//     → later reads wait on the router (engine/fetch_read_budget.ts); on close
//     they are dropped
//
// Produce order: within a partition, batches reach the engine in the order
// their requests were read. Once one partition is blocked, every later produce
// partition of this connection queues behind it, whatever its partition.

import { ApiKey } from "../../protocol/api_keys.ts";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import {
  FRAME_SIZE_BYTES,
  FrameError,
  FrameParser,
  beginResponseFrame,
  endFrame,
} from "../../protocol/frame.ts";
import { readU16, readU32 } from "../../protocol/big_endian.ts";
import { FRAME_BYTES_MAX, INFLIGHT_BYTES_MAX, INFLIGHT_REQUESTS_MAX, REQUEST_HEADER_BYTES, RESPONSE_HEADER_BYTES } from "../../protocol/limits.ts";
import { writeErrorBody } from "../../protocol/messages/response.ts";
import type { Writer } from "../../protocol/codec.ts";
import type { ServerSocket } from "../../runtime/listener_bun.ts";
import { OUTPUT_PAUSE_BYTES } from "../engine_limits.ts";
import type { FetchHandle } from "../fetch_operation.ts";
import { FetchReadBudget } from "../fetch_read_budget.ts";
import { decodeControlBody, encodeControlReply, type RequestContext } from "./dispatch.ts";
import { FetchInFlight } from "./fetch_in_flight.ts";
import type { OutputQueue } from "./output_queue.ts";
import type { NativeServerHost } from "./server_host.ts";
import { ProduceInFlight, type QueuedPartition } from "./produce_in_flight.ts";

/** A request from being read to being answered. */
export interface RequestMeta {
  readonly correlationId: number;
  readonly apiKey: number;
  /** Bytes of its frame (counted in the connection's in-flight bytes until answered). */
  readonly frameBytes: number;
  /** performance.now() when it was read (for the latency histogram). */
  readonly startedMs: number;
}

let nextConnectionId = 1;

export class Connection {
  readonly id = nextConnectionId++;
  readonly socket: ServerSocket;
  readonly host: NativeServerHost;
  readonly #parser: FrameParser;
  readonly out: OutputQueue;
  #inflightRequests = 0;
  #inflightBytes = 0;
  #paused = false;
  #closed = false;
  /** Produce partitions the engine could not take yet, in read order (see the header). */
  readonly #blocked: QueuedPartition[] = [];
  #blockedHead = 0;
  #waitingWritable = false;
  readonly #fetches = new Set<FetchHandle>();
  /** Fetch reads this connection may have in the workers' rings at once (FETCH_READ_BYTES_IN_FLIGHT_PER_CLIENT_MAX). */
  readonly fetchReads = new FetchReadBudget();
  readonly #closeCallbacks: (() => void)[] = [];
  /** When the frame now being gathered started arriving (0: none); for the request timeout. */
  partialSinceMs = 0;

  constructor(socket: ServerSocket, host: NativeServerHost, makeOutput: (conn: Connection) => OutputQueue) {
    this.socket = socket;
    this.host = host;
    this.#parser = new FrameParser({
      kind: "request",
      onFrameAt: (buf, start, end) => this.#onFrame(buf, start, end),
      onError: (error) => this.#onFrameError(error),
    });
    this.out = makeOutput(this);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get paused(): boolean {
    return this.#paused;
  }

  get inflightRequests(): number {
    return this.#inflightRequests;
  }

  /** True when nothing is in flight and nothing is left to write (graceful shutdown waits for this). */
  get idle(): boolean {
    return this.#inflightRequests === 0 && this.out.queuedBytes === 0;
  }

  // ------------------------------------------------------------------ input

  onData(chunk: Uint8Array): void {
    if (this.#closed) return;
    this.#parser.push(chunk);
    if (this.#closed) return;
    if (this.#parser.inFrame) {
      if (this.partialSinceMs === 0) this.partialSinceMs = Date.now();
    } else {
      this.partialSinceMs = 0;
    }
    this.updatePause();
  }

  /** One request frame, `buf[start, end)` (header + body, after the size prefix). */
  #onFrame(buf: Uint8Array, start: number, end: number): void {
    if (this.#closed) return;
    // The parser guarantees end - start >= REQUEST_HEADER_BYTES. Read in place: no header object, no body view.
    const apiKey = readU16(buf, start);
    const apiVersion = readU16(buf, start + 2);
    const correlationId = readU32(buf, start + 4);
    const bodyStart = start + REQUEST_HEADER_BYTES;
    const frameBytes = end - start;
    const startedMs = performance.now();
    this.#inflightRequests++;
    this.#inflightBytes += frameBytes;
    const host = this.host;
    if (apiKey === ApiKey.Produce && apiVersion === 0 && !host.shuttingDown) {
      // The hot path: the request is its own meta (ProduceInFlight), no object for it here.
      try {
        ProduceInFlight.start(this, correlationId, frameBytes, startedMs, buf, bodyStart, end);
      } catch (e) {
        this.#requestFailed({ correlationId, apiKey, frameBytes, startedMs }, e);
      }
      return;
    }
    const meta: RequestMeta = { correlationId, apiKey, frameBytes, startedMs };
    if (!host.dispatcher.serves(apiKey, apiVersion)) {
      this.respondError(meta, ErrorCode.UNSUPPORTED_VERSION, `api key ${apiKey} version ${apiVersion} is not supported`);
      return;
    }
    if (host.shuttingDown && apiKey !== ApiKey.ApiVersions) {
      this.respondError(meta, ErrorCode.LEADER_NOT_AVAILABLE, "the broker is shutting down");
      return;
    }
    try {
      if (apiKey === ApiKey.Fetch) FetchInFlight.start(this, meta, buf.subarray(bodyStart, end));
      else this.#control(meta, apiVersion, buf.subarray(bodyStart, end));
    } catch (e) {
      this.#requestFailed(meta, e);
    }
  }

  /** A request that threw before it was under way (a decode error: the frame boundary is intact, the connection stays open). */
  #requestFailed(meta: RequestMeta, e: unknown): void {
    const code = e instanceof SluiceError ? e.code : ErrorCode.UNKNOWN_SERVER_ERROR;
    if (!(e instanceof SluiceError)) this.host.log(`sluice: ${this.host.dispatcher.nameOf(meta.apiKey)} failed: ${(e as Error)?.stack ?? e}`);
    this.respondError(meta, code, (e as Error)?.message);
  }

  #onFrameError(error: FrameError): void {
    // No frame boundary any more: answer when the correlation id is known, then close.
    if (error.correlationId !== null) {
      this.#inflightRequests++;
      const meta: RequestMeta = { correlationId: error.correlationId, apiKey: error.apiKey ?? -1, frameBytes: 0, startedMs: performance.now() };
      this.respondError(meta, error.code, error.message);
    }
    this.host.stats.framesRefused++;
    this.out.flush();
    this.close(true);
  }

  #control(meta: RequestMeta, apiVersion: number, body: Uint8Array): void {
    const { apiKey, correlationId } = meta;
    const handler = this.host.dispatcher.controlHandler(apiKey)!;
    const value = decodeControlBody(body);
    const ctx: RequestContext = {
      connectionId: this.id,
      remoteAddress: this.socket.remoteAddress,
      apiKey,
      apiVersion,
      correlationId,
      onConnectionClose: (cb) => {
        if (this.#closed) queueMicrotask(cb);
        else this.#closeCallbacks.push(cb);
      },
    };
    const reply = (result: unknown): void => {
      let bytes: Uint8Array;
      try {
        bytes = encodeControlReply(result);
      } catch (e) {
        return fail(e);
      }
      if (bytes.length + 2 + RESPONSE_HEADER_BYTES > FRAME_BYTES_MAX) {
        return this.respondError(meta, ErrorCode.MESSAGE_TOO_LARGE, `the reply (${bytes.length} bytes) is larger than a frame`);
      }
      this.respond(meta, (w) => {
        w.writeI16(ErrorCode.NONE);
        w.writeRaw(bytes);
      });
    };
    const fail = (e: unknown): void => {
      if (e instanceof SluiceError) return this.respondError(meta, e.code, e.message);
      this.host.log(`sluice: ${this.host.dispatcher.nameOf(apiKey)} failed: ${(e as Error)?.stack ?? e}`);
      this.respondError(meta, ErrorCode.UNKNOWN_SERVER_ERROR, (e as Error)?.message);
    };
    let result: unknown;
    try {
      result = handler(value, ctx);
    } catch (e) {
      return fail(e);
    }
    if (result instanceof Promise) result.then(reply, fail);
    else reply(result);
  }

  // ------------------------------------------------------------------ output

  /**
   * Writes one response frame (body by `writeBody`) and ends the request's
   * time in flight. `writeBody` must not throw and must keep the frame within
   * FRAME_BYTES_MAX (callers size their bodies first).
   */
  respond(meta: RequestMeta, writeBody: (w: Writer) => void): void {
    this.finishRequest(meta);
    if (this.#closed) return;
    const w = this.out.writer;
    const start = beginResponseFrame(w, meta.correlationId);
    writeBody(w);
    endFrame(w, start);
    this.out.commit();
  }

  /**
   * Writes one response frame whose body is given as pieces (OutputQueue.commitPieces):
   * `writeBody` encodes everything but the large payloads into the writer and
   * returns the pieces with the payload bytes they add beyond it (as
   * writeFetchResponsePieces does). `release` runs once the payload views are
   * no longer needed (written, or the connection closed).
   */
  respondPieces(meta: RequestMeta, writeBody: (w: Writer) => { pieces: Uint8Array[]; recordBytes: number }, release: () => void): void {
    this.finishRequest(meta);
    if (this.#closed) return release();
    const w = this.out.writer;
    const start = beginResponseFrame(w, meta.correlationId);
    const { pieces, recordBytes } = writeBody(w);
    w.patchI32(start, w.length - start - FRAME_SIZE_BYTES + recordBytes);
    this.out.commitPieces(pieces, release);
  }

  respondError(meta: RequestMeta, code: number, message?: string): void {
    this.respond(meta, (w) => writeErrorBody(w, code, message));
  }

  /** A request is answered (or, for acks=0, done): release its in-flight budget, record its latency. */
  finishRequest(meta: RequestMeta): void {
    this.#inflightRequests--;
    this.#inflightBytes -= meta.frameBytes;
    this.host.stats.observeRequest(meta.apiKey, (performance.now() - meta.startedMs) / 1e3);
    if (this.#paused && !this.#closed) this.updatePause();
  }

  // ------------------------------------------------------------------ produce ordering

  /** True while earlier produce partitions wait: a new one must queue behind them. */
  get produceBlocked(): boolean {
    return this.#blockedHead < this.#blocked.length;
  }

  /** Queues a partition the engine could not take (or that must wait behind one). Copies its records. */
  enqueueBlocked(item: QueuedPartition): void {
    item.records = item.records.slice();
    this.#blocked.push(item);
    this.#waitForHead();
    this.updatePause();
  }

  #waitForHead(): void {
    if (this.#waitingWritable || !this.produceBlocked || this.#closed) return;
    const head = this.#blocked[this.#blockedHead];
    this.#waitingWritable = true;
    this.host.engine.onWritable(head.topic, head.partition, () => {
      this.#waitingWritable = false;
      this.#drainBlocked();
    });
  }

  #drainBlocked(): void {
    if (this.#closed) return;
    while (this.#blockedHead < this.#blocked.length) {
      const item = this.#blocked[this.#blockedHead];
      if (!item.owner.submitQueued(item)) break;
      this.#blocked[this.#blockedHead] = undefined as unknown as QueuedPartition;
      this.#blockedHead++;
    }
    if (this.#blockedHead === this.#blocked.length) {
      this.#blocked.length = 0;
      this.#blockedHead = 0;
    } else {
      this.#waitForHead();
    }
    this.updatePause();
  }

  // ------------------------------------------------------------------ fetch bookkeeping

  trackFetch(handle: FetchHandle): void {
    this.#fetches.add(handle);
  }

  untrackFetch(handle: FetchHandle): void {
    this.#fetches.delete(handle);
  }

  // ------------------------------------------------------------------ flow control

  /** Pauses or resumes reading to match the bounds in the header. */
  updatePause(): void {
    if (this.#closed) return;
    const over =
      this.#inflightRequests >= INFLIGHT_REQUESTS_MAX ||
      this.#inflightBytes >= INFLIGHT_BYTES_MAX ||
      this.produceBlocked ||
      this.out.queuedBytes > OUTPUT_PAUSE_BYTES ||
      this.host.shuttingDown;
    if (over && !this.#paused) {
      this.#paused = true;
      this.socket.pause();
    } else if (!over && this.#paused) {
      this.#paused = false;
      // A partial frame's clock restarts: it could not arrive while we did not read.
      if (this.partialSinceMs !== 0) this.partialSinceMs = Date.now();
      this.socket.resume();
    }
  }

  /** Closes the connection. `graceful`: after what is queued is sent. */
  close(graceful = false): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const f of this.#fetches) f.cancel();
    this.#fetches.clear();
    // Reads its fetches queued but never issued are dropped, not run for nobody.
    this.fetchReads.close();
    this.#blocked.length = 0;
    this.#blockedHead = 0;
    if (graceful) this.socket.end();
    else this.socket.terminate();
    this.out.close();
    this.host.connectionClosed(this);
    for (const cb of this.#closeCallbacks.splice(0)) {
      try {
        cb();
      } catch (e) {
        this.host.log(`sluice: a connection-close callback failed: ${(e as Error)?.message ?? e}`);
      }
    }
  }

  /** The socket closed from the other side (or failed). */
  onSocketClosed(): void {
    this.close(false);
  }
}
