// One TCP connection to the broker, speaking the framed protocol
// (docs/PROTOCOL.md, "Frames"): requests are pipelined, responses are matched
// by correlation id in whatever order they arrive.
//
// Writes are coalesced: request() encodes its frame into one output buffer
// and the buffer goes to the socket once per turn of the event loop (a
// microtask after the current work), or at once past FLUSH_EARLY_BYTES. A
// producer that sends to many partitions in one turn therefore costs one
// socket write, not one per request.
//
// Bounds: at most `inflightRequestsMax` requests await a response; further
// requests wait their turn in arrival order. A request unanswered after its
// timeout fails with RequestTimeoutError and closes the connection (its
// responses can no longer be trusted to come), failing the others with
// ConnectionError, which callers treat as retriable.

import { ApiKey } from "../protocol/api_keys.ts";
import { Writer } from "../protocol/codec.ts";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { readU32 } from "../protocol/big_endian.ts";
import { beginRequestFrame, endFrame } from "../protocol/frame.ts";
import { RESPONSE_HEADER_BYTES } from "../protocol/limits.ts";
import { decodeControlResponse, encodeControlRequest } from "../protocol/messages/control.ts";
import type { TransportSocket } from "../runtime/transport.ts";
import { unrefTimer } from "./backoff.ts";
import { ConnectionError, RequestTimeoutError } from "./errors.ts";
import type { ClientConfig } from "./options.ts";
import { ResponseReader } from "./response_reader.ts";

/** Past this many buffered request bytes the output buffer is written at once instead of at the end of the turn. */
const FLUSH_EARLY_BYTES = 1024 * 1024;
/** An output buffer grown past this is dropped after a flush rather than kept for the next turn. */
const OUTBOX_RETAINED_BYTES_MAX = 4 * 1024 * 1024;
const OUTBOX_INITIAL_BYTES = 64 * 1024;
/** Correlation ids wrap here (u32 on the wire; staying below 2^31 keeps them plain small integers). */
const CORRELATION_ID_WRAP = 0x7fffffff;

export type BodyEncoder = (w: Writer) => void;

export interface RequestOptions {
  /** Time the broker may legitimately hold the request on top of requestTimeoutMs (a long-poll's maxWaitMs). */
  readonly extraTimeoutMs?: number;
  /** false for a produce with acks=0: the broker answers nothing; the promise resolves once the bytes are written. */
  readonly expectResponse?: boolean;
}

interface Pending {
  readonly apiKey: number;
  readonly deadline: number;
  readonly resolve: (body: Uint8Array) => void;
  readonly reject: (error: Error) => void;
}

const EMPTY = new Uint8Array(0);

export class BrokerConnection {
  private readonly socket: TransportSocket;
  private readonly config: ClientConfig;
  private readonly reader: ResponseReader;
  private readonly pending = new Map<number, Pending>();
  /** Callers waiting for an in-flight slot, FIFO; each is one pending request() call. */
  private slotWaiters: Array<() => void> = [];
  /** Slots handed to woken waiters that have not yet registered their request. */
  private handedSlots = 0;
  /** acks=0 requests, settled when their bytes are handed to the socket. */
  private writtenWaiters: Array<{ resolve: (body: Uint8Array) => void; reject: (error: Error) => void }> = [];
  private outbox = new Writer({ initialBytes: OUTBOX_INITIAL_BYTES });
  private flushScheduled = false;
  private nextCorrelationId = 1;
  private currentChunk: Uint8Array = EMPTY;
  private sweepTimer: ReturnType<typeof setInterval> | undefined;
  private closeListeners: Array<(error: Error) => void> = [];
  private closedWith: Error | undefined;
  /** The broker's version string from ApiVersions. */
  brokerVersion = "";

  private constructor(socket: TransportSocket, config: ClientConfig) {
    this.socket = socket;
    this.config = config;
    this.reader = new ResponseReader({
      onFrame: (frame, owned) => this.onFrame(frame, owned),
      onError: (error) => this.close(new ConnectionError(`broker sent an unparseable frame: ${error.message}`, { cause: error })),
    });
    socket.onData((chunk) => {
      this.currentChunk = chunk;
      this.reader.push(chunk);
      this.currentChunk = EMPTY;
    });
    socket.onClose((error) => {
      const where = `${config.host}:${config.port}`;
      this.close(new ConnectionError(`connection to ${where} lost${error ? `: ${error.message}` : ""}`, { cause: error }));
    });
    const sweepMs = Math.min(1000, Math.max(10, Math.floor(config.requestTimeoutMs / 4)));
    this.sweepTimer = setInterval(() => this.expireRequests(), sweepMs);
    unrefTimer(this.sweepTimer);
  }

  /** Connects and performs the ApiVersions handshake. Fails with ConnectionError (or UNSUPPORTED_VERSION). */
  static async open(config: ClientConfig): Promise<BrokerConnection> {
    let socket: TransportSocket;
    try {
      socket = await config.transport.connect({ host: config.host, port: config.port, connectTimeoutMs: config.connectTimeoutMs });
    } catch (cause) {
      throw new ConnectionError(`cannot connect to ${config.host}:${config.port}: ${(cause as Error).message}`, { cause, phase: "connect" });
    }
    const connection = new BrokerConnection(socket, config);
    try {
      const payload = encodeControlRequest(ApiKey.ApiVersions, { clientId: config.clientId });
      const body = await connection.request(ApiKey.ApiVersions, (w) => w.writeRaw(payload));
      const versions = decodeControlResponse(ApiKey.ApiVersions, body);
      for (const needed of [ApiKey.Produce, ApiKey.Fetch, ApiKey.Metadata]) {
        const entry = versions.apis.find(([key]) => key === needed);
        if (entry === undefined || entry[1] > 0 || entry[2] < 0) {
          throw new SluiceError(ErrorCode.UNSUPPORTED_VERSION, `broker does not serve api ${needed} at version 0`);
        }
      }
      connection.brokerVersion = versions.version;
      return connection;
    } catch (e) {
      connection.close(e instanceof Error ? e : new Error(String(e)));
      throw e;
    }
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** Requests awaiting a response. */
  get inflight(): number {
    return this.pending.size;
  }

  onClose(listener: (error: Error) => void): void {
    if (this.closedWith !== undefined) listener(this.closedWith);
    else this.closeListeners.push(listener);
  }

  /**
   * Sends one request and resolves with its response body (which starts with
   * the ErrorCode:i16 envelope). `encodeBody` writes the body into the shared
   * output buffer; if it throws, nothing of the request is sent.
   */
  async request(apiKey: number, encodeBody: BodyEncoder, options?: RequestOptions): Promise<Uint8Array> {
    if (this.closedWith !== undefined) throw this.closedWith;
    const expectResponse = options?.expectResponse ?? true;
    if (expectResponse && (this.slotsInUse >= this.config.inflightRequestsMax || this.slotWaiters.length > 0)) {
      await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
      this.handedSlots--;
      if (this.closedWith !== undefined) throw this.closedWith;
    }
    const correlationId = this.nextCorrelationId;
    this.nextCorrelationId = correlationId >= CORRELATION_ID_WRAP ? 1 : correlationId + 1;

    const outbox = this.outbox;
    const before = outbox.length;
    try {
      const start = beginRequestFrame(outbox, { apiKey, apiVersion: 0, correlationId });
      encodeBody(outbox);
      endFrame(outbox, start);
    } catch (e) {
      // Roll back the half-written frame (rare path: an oversized or invalid request).
      const keep = outbox.finish().slice(0, before);
      outbox.reset();
      outbox.writeRaw(keep);
      this.releaseSlot();
      throw e;
    }

    const result = new Promise<Uint8Array>((resolve, reject) => {
      if (expectResponse) {
        const timeoutMs = this.config.requestTimeoutMs + (options?.extraTimeoutMs ?? 0);
        this.pending.set(correlationId, { apiKey, deadline: Date.now() + timeoutMs, resolve, reject });
      } else {
        this.writtenWaiters.push({ resolve, reject });
      }
    });
    if (outbox.length >= FLUSH_EARLY_BYTES) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
    return result;
  }

  /** Writes the output buffer to the socket (one write), then settles acks=0 requests. */
  private flush(): void {
    this.flushScheduled = false;
    const outbox = this.outbox;
    if (outbox.length > 0 && this.closedWith === undefined) {
      this.socket.write(outbox.finish()); // the transport copies what it cannot send at once
      outbox.reset();
      if (outbox.capacity > OUTBOX_RETAINED_BYTES_MAX) this.outbox = new Writer({ initialBytes: OUTBOX_INITIAL_BYTES });
    }
    if (this.writtenWaiters.length > 0) {
      const waiters = this.writtenWaiters;
      this.writtenWaiters = [];
      for (const w of waiters) w.resolve(EMPTY);
    }
  }

  private onFrame(frame: Uint8Array, owned: boolean): void {
    const correlationId = readU32(frame, 0);
    const pending = this.pending.get(correlationId);
    if (pending === undefined) return; // nothing asked for it (cannot happen with a correct broker)
    this.pending.delete(correlationId);
    // A frame gathered across reads has its own buffer; a view of the received
    // chunk is ours to keep too (transport chunks are never reused) unless it
    // would pin a much larger chunk.
    const body = frame.subarray(RESPONSE_HEADER_BYTES);
    const keepView = owned || frame.length * 2 >= this.currentChunk.length;
    pending.resolve(keepView ? body : body.slice());
    this.releaseSlot();
  }

  private get slotsInUse(): number {
    return this.pending.size + this.handedSlots;
  }

  private releaseSlot(): void {
    while (this.slotWaiters.length > 0 && this.slotsInUse < this.config.inflightRequestsMax) {
      this.handedSlots++;
      this.slotWaiters.shift()!();
    }
  }

  private expireRequests(): void {
    if (this.pending.size === 0) return;
    const now = Date.now();
    for (const [correlationId, p] of this.pending) {
      if (p.deadline > now) continue;
      this.pending.delete(correlationId);
      p.reject(new RequestTimeoutError(`no response to api ${p.apiKey} from ${this.config.host}:${this.config.port} in time`));
      this.close(new ConnectionError(`connection closed after a request timed out`));
      return;
    }
  }

  /** Closes the connection; every request still waiting fails with `error` (ConnectionError by default). */
  close(error?: Error): void {
    if (this.closedWith !== undefined) return;
    const reason = error ?? new ConnectionError("connection closed by the client");
    this.closedWith = reason;
    clearInterval(this.sweepTimer);
    this.socket.close();
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(reason);
    const waiters = this.slotWaiters;
    this.slotWaiters = [];
    for (const wake of waiters) {
      this.handedSlots++;
      wake();
    }
    const written = this.writtenWaiters;
    this.writtenWaiters = [];
    // acks=0 requests not yet written never reached the socket.
    for (const w of written) w.reject(reason);
    const listeners = this.closeListeners;
    this.closeListeners = [];
    for (const listener of listeners) listener(reason);
  }
}
