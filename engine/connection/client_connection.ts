// One client connection on the router thread: the part every front end
// (engine/native, engine/kafka) shares. A front end subclasses it and handles
// whole frames (`handleFrame`); the bounds below hold for both.
//
// Input: bytes go through an incremental FrameParser (size-prefixed frames,
// the size checked against the front end's frame limit before anything is
// buffered); each whole frame is handed to the front end at once (pipelining:
// many requests in flight, each answered when ready).
//
// Bounds, and what happens at each (every one pauses reading, so the client
// sees TCP backpressure and the broker's memory stays flat):
//   - requests in flight (read, not yet answered) ≥ INFLIGHT_REQUESTS_MAX → pause
//   - request bytes in flight ≥ INFLIGHT_BYTES_MAX → pause
//   - a produce the engine could not take (worker ring full, topic being
//     auto-created) → pause; the partitions wait in `#blocked` (in order) and
//     are retried when the engine says the partition is writable
//   - queued response bytes (with any a front end holds back) > OUTPUT_PAUSE_BYTES → pause;
//     > outputBytesMax → close
//   - a frame not complete within requestTimeoutMs (while reading) → close (server sweep)
//   - fetch reads in the workers' rings over FETCH_READ_BYTES_IN_FLIGHT_PER_CLIENT_MAX
//     → later reads wait on the router (engine/fetch_read_budget.ts); on close
//     they are dropped
//
// Produce order: within a partition, batches reach the engine in the order
// their requests were read. Once one partition is blocked, every later produce
// partition of this connection queues behind it, whatever its partition.

import { FRAME_SIZE_BYTES, type FrameError, FrameParser, beginResponseFrame, endFrame } from "../../protocol/frame.ts";
import { INFLIGHT_BYTES_MAX, INFLIGHT_REQUESTS_MAX } from "../../protocol/limits.ts";
import type { Writer } from "../../protocol/codec.ts";
import type { ServerSocket } from "../../runtime/listener_bun.ts";
import type { FetchHandle } from "../fetch_operation.ts";
import { FetchReadBudget } from "../fetch_read_budget.ts";
import { OUTPUT_PAUSE_BYTES, SEGMENT_VIEWS_COPIED_BYTES_MAX } from "../engine_limits.ts";
import type { ConnectionHost } from "./connection_host.ts";
import type { OutputQueue } from "./output_queue.ts";

/** A request from being read to being answered. */
export interface RequestMeta {
  readonly correlationId: number;
  readonly apiKey: number;
  /** Bytes of its frame (counted in the connection's in-flight bytes until answered). */
  readonly frameBytes: number;
  /** performance.now() when it was read (for the latency histogram). */
  readonly startedMs: number;
}

/** What holds a queued produce partition and hands it to the engine once it can. */
export interface ProduceSubmitter {
  /** Hands one partition to the engine. false: not taken (it stays queued, in order). */
  submitQueued(item: QueuedPartition): boolean;
}

/** A produce partition waiting in a connection's blocked queue. */
export interface QueuedPartition {
  owner: ProduceSubmitter;
  topic: string;
  partition: number;
  records: Uint8Array;
  /** Index of the partition in the request, flattened over topics. */
  flat: number;
}

let nextConnectionId = 1;

export abstract class ClientConnection {
  /** Counts up from 1 per broker process, over every front end. */
  readonly id = nextConnectionId++;
  readonly socket: ServerSocket;
  readonly host: ConnectionHost;
  readonly #parser: FrameParser;
  /** Largest frame this front end reads and writes (its frame limit). */
  readonly #frameBytesMax: number;
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
  /**
   * Response bytes a front end holds back before they may enter the output
   * (Kafka answers in request order): they count with the output queue's
   * bytes towards OUTPUT_PAUSE_BYTES.
   */
  protected heldResponseBytes = 0;

  constructor(
    socket: ServerSocket,
    host: ConnectionHost,
    makeOutput: (conn: ClientConnection) => OutputQueue,
    frameBytesMax: number,
  ) {
    this.socket = socket;
    this.host = host;
    this.#frameBytesMax = frameBytesMax;
    this.#parser = new FrameParser({
      kind: "request",
      frameBytesMax,
      onFrameAt: (buf, start, end) => this.handleFrame(buf, start, end),
      onError: (error) => this.#onFrameError(error),
    });
    this.out = makeOutput(this);
  }

  /**
   * One request frame, `buf[start, end)` (header + body, after the size
   * prefix; at least the 8 bytes of api key, version and correlation id).
   * Valid only during the call. The front end calls `beginRequest` for it
   * (unless it closes the connection instead) and answers it at most once.
   */
  protected abstract handleFrame(buf: Uint8Array, start: number, end: number): void;

  /**
   * A frame size the parser refused (over the frame limit, or below the
   * header): the front end may answer it (the correlation id is in `error`
   * when its bytes arrived) before the connection closes.
   */
  protected abstract answerRefusedFrame(error: FrameError): void;

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

  /** A request frame of `frameBytes` is under way: it counts in flight until `finishRequest`. */
  protected beginRequest(frameBytes: number): void {
    this.#inflightRequests++;
    this.#inflightBytes += frameBytes;
  }

  #onFrameError(error: FrameError): void {
    // No frame boundary any more: answer when the front end can, then close.
    this.answerRefusedFrame(error);
    this.refuseFrame();
  }

  /** Closes the connection for a frame that cannot be served (after what is queued is sent). */
  refuseFrame(): void {
    this.host.stats.framesRefused++;
    this.out.flush();
    this.close(true);
  }

  /** Ties `cb` to the connection: it runs once when the connection closes (at once if it is closed). */
  onClose(cb: () => void): void {
    if (this.#closed) queueMicrotask(cb);
    else this.#closeCallbacks.push(cb);
  }

  // ------------------------------------------------------------------ output

  /**
   * Writes one response frame (size, correlation id, then the body by
   * `writeBody`) and ends the request's time in flight. `writeBody` must not
   * throw and must keep the frame within the front end's frame limit (callers
   * size their bodies first).
   */
  respond(meta: RequestMeta, writeBody: (w: Writer) => void): void {
    this.finishRequest(meta);
    if (this.#closed) return;
    const w = this.out.writer;
    const start = beginResponseFrame(w, meta.correlationId);
    writeBody(w);
    endFrame(w, start, this.#frameBytesMax);
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

  /**
   * Writes one response frame encoded elsewhere (size prefix included) as
   * `segments`, in order: those whose memory is `encoderBuffer` (the
   * encoder's own, reused at once) are copied into the output writer; the
   * others are views of the caller's buffers (stored records), sent without a
   * copy when they are large (OutputQueue.commitPieces), and `release` runs
   * once they are no longer referenced (written, or the connection closed).
   */
  respondSegments(meta: RequestMeta, segments: readonly Uint8Array[], encoderBuffer: ArrayBufferLike, release: () => void): void {
    this.finishRequest(meta);
    if (this.#closed) return release();
    const w = this.out.writer;
    let viewBytes = 0;
    for (const seg of segments) if (seg.buffer !== encoderBuffer) viewBytes += seg.length;
    if (viewBytes <= SEGMENT_VIEWS_COPIED_BYTES_MAX) {
      for (const seg of segments) w.writeRaw(seg);
      this.out.commit();
      release();
      return;
    }
    // Pieces: even ones are the writer's bytes from byte 0 (earlier responses and
    // this one's fields), odd ones the caller's views. Ranges first: the writer may grow.
    const bounds: number[] = [];
    const views: Uint8Array[] = [];
    let from = 0;
    for (const seg of segments) {
      if (seg.buffer === encoderBuffer) {
        w.writeRaw(seg);
      } else if (seg.length > 0) {
        bounds.push(from, w.length);
        views.push(seg);
        from = w.length;
      }
    }
    bounds.push(from, w.length);
    const bytes = w.finish();
    const pieces: Uint8Array[] = [];
    for (let i = 0; i < views.length; i++) pieces.push(bytes.subarray(bounds[2 * i], bounds[2 * i + 1]), views[i]);
    pieces.push(bytes.subarray(bounds[bounds.length - 2], bounds[bounds.length - 1]));
    this.out.commitPieces(pieces, release);
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
      this.out.queuedBytes + this.heldResponseBytes > OUTPUT_PAUSE_BYTES ||
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
