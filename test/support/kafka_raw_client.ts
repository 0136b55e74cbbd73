// A minimal raw Kafka-protocol client for tests and load tools: sends any
// bytes (well-formed or not), or requests built with the protocol/kafka
// encoders under chosen correlation ids, and matches responses by correlation
// id. It remembers the api and version of each request it sent, so it knows
// which response header to read (v0 or v1; always v0 for ApiVersions). No
// retries, no batching: what the test sends is what goes on the wire.

import net from "node:net";
import { beginRequestFrame, decodeResponseHeader, endFrame } from "../../protocol/kafka/header.ts";
import { KafkaReader } from "../../protocol/kafka/reader.ts";
import { KafkaWriter } from "../../protocol/kafka/writer.ts";
import { FRAME_BYTES_MAX } from "../../protocol/limits.ts";

const RESPONSE_WAIT_MS = 20_000;

export interface KafkaRawResponse {
  correlationId: number;
  /** The response body, after the header (a copy: it outlives the socket's buffers). */
  body: Uint8Array;
}

interface Sent {
  apiKey: number;
  apiVersion: number;
}

export class KafkaRawClient {
  readonly socket: net.Socket;
  readonly clientId: string | null;
  readonly #sent = new Map<number, Sent>();
  readonly #arrived = new Map<number, KafkaRawResponse>();
  readonly #waiting = new Map<number, { resolve: (r: KafkaRawResponse) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();
  readonly #writer = new KafkaWriter({ initialBytes: 1024 });
  #pending: Buffer = Buffer.alloc(0);
  #nextCorrelationId = 1;
  #closedError: Error | null = null;
  /** Correlation ids in the order responses arrived. */
  readonly arrivalOrder: number[] = [];
  /** Resolves when the connection closes (either side). */
  readonly closed: Promise<void>;

  private constructor(socket: net.Socket, clientId: string | null) {
    this.socket = socket;
    this.clientId = clientId;
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", () => {});
    this.closed = new Promise((resolve) => {
      socket.on("close", () => {
        this.#closedError = new Error("connection closed");
        for (const [, w] of this.#waiting) {
          clearTimeout(w.timer);
          w.reject(this.#closedError);
        }
        this.#waiting.clear();
        resolve();
      });
    });
  }

  static connect(port: number, opts: { host?: string; clientId?: string | null } = {}): Promise<KafkaRawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: opts.host ?? "127.0.0.1" });
      socket.setNoDelay(true);
      socket.once("connect", () => resolve(new KafkaRawClient(socket, opts.clientId === undefined ? "raw-client" : opts.clientId)));
      socket.once("error", reject);
    });
  }

  get isClosed(): boolean {
    return this.#closedError !== null;
  }

  #onData(chunk: Buffer): void {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    while (this.#pending.length >= 4) {
      const size = this.#pending.readInt32BE(0);
      if (size < 4 || size > FRAME_BYTES_MAX) {
        this.socket.destroy(new Error(`response frame size ${size}`));
        return;
      }
      if (this.#pending.length < 4 + size) return;
      const frame = new Uint8Array(this.#pending.subarray(4, 4 + size));
      this.#pending = this.#pending.subarray(4 + size);
      const correlationId = new DataView(frame.buffer, frame.byteOffset, 4).getInt32(0);
      const sent = this.#sent.get(correlationId);
      if (sent === undefined) {
        this.socket.destroy(new Error(`response to correlation id ${correlationId}, which was not sent`));
        return;
      }
      this.#sent.delete(correlationId);
      const r = new KafkaReader(frame);
      decodeResponseHeader(r, sent.apiKey, sent.apiVersion);
      const response = { correlationId, body: frame.slice(r.pos) };
      this.arrivalOrder.push(correlationId);
      const w = this.#waiting.get(correlationId);
      if (w !== undefined) {
        this.#waiting.delete(correlationId);
        clearTimeout(w.timer);
        w.resolve(response);
      } else this.#arrived.set(correlationId, response);
    }
  }

  /** Writes raw bytes (a hand-made or broken frame). */
  send(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /**
   * Sends a request whose body `writeBody` encodes; returns its correlation id.
   * `expectResponse: false` (Produce with acks 0) does not wait for one.
   */
  sendRequest(
    apiKey: number,
    apiVersion: number,
    writeBody: (w: KafkaWriter) => void,
    opts: { correlationId?: number; expectResponse?: boolean } = {},
  ): number {
    const correlationId = opts.correlationId ?? this.#nextCorrelationId++;
    const w = this.#writer.reset(1024 * 1024);
    const at = beginRequestFrame(w, { apiKey, apiVersion, correlationId, clientId: this.clientId });
    writeBody(w);
    endFrame(w, at);
    if (opts.expectResponse !== false) this.#sent.set(correlationId, { apiKey, apiVersion });
    for (const piece of w.segments()) this.socket.write(piece.slice());
    return correlationId;
  }

  /** The response with this correlation id (waits for it, with a deadline). */
  response(correlationId: number, timeoutMs = RESPONSE_WAIT_MS): Promise<KafkaRawResponse> {
    const got = this.#arrived.get(correlationId);
    if (got !== undefined) {
      this.#arrived.delete(correlationId);
      return Promise.resolve(got);
    }
    if (this.#closedError !== null) return Promise.reject(this.#closedError);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(correlationId);
        reject(new Error(`no response to correlation id ${correlationId} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(correlationId, { resolve, reject, timer });
    });
  }

  /**
   * Sends a request and decodes its response with `decode` at the version the
   * response is in (`responseVersion`, default the request's: ApiVersions
   * above the broker's max is answered at v0).
   */
  async call<T>(
    apiKey: number,
    apiVersion: number,
    writeBody: (w: KafkaWriter) => void,
    decode: (r: KafkaReader, version: number) => T,
    opts: { responseVersion?: number; timeoutMs?: number } = {},
  ): Promise<T> {
    const res = await this.response(this.sendRequest(apiKey, apiVersion, writeBody), opts.timeoutMs);
    return decode(new KafkaReader(res.body), opts.responseVersion ?? apiVersion);
  }

  /** Requests sent whose response has not arrived. */
  get outstanding(): number {
    return this.#sent.size;
  }

  close(): void {
    this.socket.destroy();
  }
}
