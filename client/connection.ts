// One TCP connection to the broker, speaking the framed protocol
// (docs/PROTOCOL.md, "Frames"): requests are pipelined, responses are matched
// by correlation id in whatever order they arrive.
//
// Writes are coalesced: request() encodes its frame into one output buffer
// and the buffer goes to the socket once per turn of the event loop (a
// microtask after the current work), or at once past OUTBOX_FLUSH_EARLY_BYTES. A
// producer that sends to many partitions in one turn therefore costs one
// socket write, not one per request.
//
// Bounds: at most `inflightRequestsMax` requests await a response; further
// requests wait their turn in arrival order. A request unanswered after its
// timeout fails with RequestTimeoutError and closes the connection (its
// responses can no longer be trusted to come), failing the others with
// ConnectionError, which callers treat as retriable.
//
// Two ways to ask: request() returns a promise; send() takes a handler object
// that encodes the body and is called back with the answer. The producer uses
// send() with one object per Produce request, so a request costs no promise,
// closure or async hop (request() is send() with a small adapter).

import { ApiKey } from "../protocol/api_keys.ts";
import { Writer } from "../protocol/codec.ts";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { readU32 } from "../protocol/big_endian.ts";
import { endFrame } from "../protocol/frame.ts";
import { RESPONSE_HEADER_BYTES } from "../protocol/limits.ts";
import { decodeControlResponse, encodeControlRequest } from "../protocol/messages/control.ts";
import type { TransportSocket } from "../runtime/transport.ts";
import { unrefTimer } from "./backoff.ts";
import { ConnectionError, RequestTimeoutError } from "./errors.ts";
import type { ClientConfig } from "./options.ts";
import { ResponseReader } from "./response_reader.ts";
import {
  CORRELATION_ID_WRAP,
  OUTBOX_FLUSH_EARLY_BYTES,
  OUTBOX_INITIAL_BYTES,
  OUTBOX_RETAINED_BYTES_MAX,
  REQUEST_SWEEP_MS_MAX,
  REQUEST_SWEEP_MS_MIN,
} from "./client_limits.ts";


export type BodyEncoder = (w: Writer) => void;

/**
 * One request for send(): writes its body and is told the outcome exactly
 * once. onResponse/onError are called from the connection's own callbacks
 * (socket data, flush, close), never from inside send(); they must not throw.
 */
export interface RequestHandler {
  /** Writes the request body; if it throws, nothing of the request is sent and onError gets the error. */
  encodeBody(w: Writer): void;
  /**
   * The response body is `bytes[start, end)` (it starts with the ErrorCode:i16
   * envelope; empty for a request without response, once written). `bytes` is
   * the receiver's to keep, but it may be a whole socket read: read the body
   * on the spot, or copy it (see bodyOf).
   */
  onResponse(bytes: Uint8Array, start: number, end: number): void;
  onError(error: Error): void;
}

/**
 * A response body to keep: a view when it is most of `bytes`, else a copy
 * (a small view would pin a much larger socket read).
 */
export function bodyOf(bytes: Uint8Array, start: number, end: number): Uint8Array {
  return (end - start + RESPONSE_HEADER_BYTES) * 2 >= bytes.length ? bytes.subarray(start, end) : bytes.slice(start, end);
}

export interface RequestOptions {
  /** Time the broker may legitimately hold the request on top of requestTimeoutMs (a long-poll's maxWaitMs). */
  readonly extraTimeoutMs?: number;
  /** false for a produce with acks=0: the broker answers nothing; the promise resolves once the bytes are written. */
  readonly expectResponse?: boolean;
}

interface Pending {
  readonly apiKey: number;
  readonly deadline: number;
  readonly handler: RequestHandler;
}

/** A send() waiting for an in-flight slot. */
interface SlotWaiter {
  readonly apiKey: number;
  readonly handler: RequestHandler;
  readonly extraTimeoutMs: number;
}

/** request()'s promise as a RequestHandler. */
class PromiseRequest implements RequestHandler {
  resolve!: (body: Uint8Array) => void;
  reject!: (error: Error) => void;
  constructor(readonly encodeBody: BodyEncoder) {}
  onResponse(bytes: Uint8Array, start: number, end: number): void {
    this.resolve(bodyOf(bytes, start, end));
  }
  onError(error: Error): void {
    this.reject(error);
  }
}

const EMPTY = new Uint8Array(0);

export class BrokerConnection {
  private readonly socket: TransportSocket;
  private readonly config: ClientConfig;
  private readonly reader: ResponseReader;
  private readonly pending = new Map<number, Pending>();
  /** Requests waiting for an in-flight slot, FIFO (encoded when a slot frees). */
  private slotWaiters: SlotWaiter[] = [];
  private slotWaitersHead = 0;
  /** Requests without a response (acks=0), settled when their bytes are handed to the socket. */
  private writtenWaiters: RequestHandler[] = [];
  private outbox = new Writer({ initialBytes: OUTBOX_INITIAL_BYTES });
  private flushScheduled = false;
  private nextCorrelationId = 1;
  private sweepTimer: ReturnType<typeof setInterval> | undefined;
  private closeListeners: Array<(error: Error) => void> = [];
  private closedWith: Error | undefined;
  /** The broker's version string from ApiVersions. */
  brokerVersion = "";

  private constructor(socket: TransportSocket, config: ClientConfig) {
    this.socket = socket;
    this.config = config;
    this.reader = new ResponseReader({
      onFrame: (bytes, start, end) => this.onFrame(bytes, start, end),
      onError: (error) => this.close(new ConnectionError(`broker sent an unparseable frame: ${error.message}`, { cause: error })),
    });
    socket.onData((chunk) => {
      this.reader.push(chunk);
    });
    socket.onClose((error) => {
      const where = `${config.host}:${config.port}`;
      this.close(new ConnectionError(`connection to ${where} lost${error ? `: ${error.message}` : ""}`, { cause: error }));
    });
    const sweepMs = Math.min(REQUEST_SWEEP_MS_MAX, Math.max(REQUEST_SWEEP_MS_MIN, Math.floor(config.requestTimeoutMs / 4)));
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
  request(apiKey: number, encodeBody: BodyEncoder, options?: RequestOptions): Promise<Uint8Array> {
    const handler = new PromiseRequest(encodeBody);
    const result = new Promise<Uint8Array>((resolve, reject) => {
      handler.resolve = resolve;
      handler.reject = reject;
    });
    this.send(apiKey, handler, options?.expectResponse ?? true, options?.extraTimeoutMs ?? 0);
    return result;
  }

  /**
   * Sends one request now, or when an in-flight slot frees (in arrival order).
   * `extraTimeoutMs`: time the broker may hold it on top of requestTimeoutMs.
   */
  send(apiKey: number, handler: RequestHandler, expectResponse: boolean, extraTimeoutMs: number): void {
    const closedWith = this.closedWith;
    if (closedWith !== undefined) {
      queueMicrotask(() => handler.onError(closedWith));
      return;
    }
    if (expectResponse && (this.pending.size >= this.config.inflightRequestsMax || this.slotWaitersHead < this.slotWaiters.length)) {
      this.slotWaiters.push({ apiKey, handler, extraTimeoutMs });
      return;
    }
    this.write(apiKey, handler, expectResponse, extraTimeoutMs);
  }

  private write(apiKey: number, handler: RequestHandler, expectResponse: boolean, extraTimeoutMs: number): void {
    const correlationId = this.nextCorrelationId;
    this.nextCorrelationId = correlationId >= CORRELATION_ID_WRAP ? 1 : correlationId + 1;

    const outbox = this.outbox;
    const before = outbox.length;
    try {
      const start = outbox.reserveI32();
      outbox.writeU16(apiKey).writeU16(0).writeU32(correlationId);
      handler.encodeBody(outbox);
      endFrame(outbox, start);
    } catch (e) {
      // Roll back the half-written frame (rare path: an oversized or invalid request).
      const keep = outbox.finish().slice(0, before);
      outbox.reset();
      outbox.writeRaw(keep);
      queueMicrotask(() => handler.onError(e instanceof Error ? e : new Error(String(e))));
      return;
    }

    if (expectResponse) {
      const deadline = Date.now() + this.config.requestTimeoutMs + extraTimeoutMs;
      this.pending.set(correlationId, { apiKey, deadline, handler });
    } else {
      this.writtenWaiters.push(handler);
    }
    if (outbox.length >= OUTBOX_FLUSH_EARLY_BYTES) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flushNow);
    }
  }

  private readonly flushNow = (): void => this.flush();

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
      for (const w of waiters) w.onResponse(EMPTY, 0, 0);
    }
  }

  private onFrame(bytes: Uint8Array, start: number, end: number): void {
    const correlationId = readU32(bytes, start);
    const pending = this.pending.get(correlationId);
    if (pending === undefined) return; // nothing asked for it (cannot happen with a correct broker)
    this.pending.delete(correlationId);
    try {
      pending.handler.onResponse(bytes, start + RESPONSE_HEADER_BYTES, end);
    } finally {
      if (this.slotWaitersHead < this.slotWaiters.length) this.releaseSlot();
    }
  }

  /** Sends waiting requests while slots are free. */
  private releaseSlot(): void {
    const waiters = this.slotWaiters;
    while (this.slotWaitersHead < waiters.length && this.pending.size < this.config.inflightRequestsMax && this.closedWith === undefined) {
      const w = waiters[this.slotWaitersHead++];
      this.write(w.apiKey, w.handler, true, w.extraTimeoutMs);
    }
    if (this.slotWaitersHead === waiters.length) {
      waiters.length = 0;
      this.slotWaitersHead = 0;
    } else if (this.slotWaitersHead >= 1024 && this.slotWaitersHead * 2 >= waiters.length) {
      waiters.splice(0, this.slotWaitersHead);
      this.slotWaitersHead = 0;
    }
  }

  private expireRequests(): void {
    if (this.pending.size === 0) return;
    const now = Date.now();
    for (const [correlationId, p] of this.pending) {
      if (p.deadline > now) continue;
      this.pending.delete(correlationId);
      p.handler.onError(new RequestTimeoutError(`no response to api ${p.apiKey} from ${this.config.host}:${this.config.port} in time`));
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
    for (const p of pending) p.handler.onError(reason);
    const waiters = this.slotWaiters.slice(this.slotWaitersHead);
    this.slotWaiters = [];
    this.slotWaitersHead = 0;
    for (const w of waiters) w.handler.onError(reason);
    const written = this.writtenWaiters;
    this.writtenWaiters = [];
    // acks=0 requests not yet written never reached the socket.
    for (const w of written) w.onError(reason);
    const listeners = this.closeListeners;
    this.closeListeners = [];
    for (const listener of listeners) listener(reason);
  }
}
