// The raw Kafka-protocol client of the tests and load tools: sends any bytes
// (well-formed or not), builds request frames without sending them (to send
// several in one write, or mutated), or sends requests built with the
// protocol/kafka encoders under chosen correlation ids, and matches responses
// by correlation id. It remembers the api and version of each request it sent
// with sendRequest, so it knows which response header to read (v0 or v1;
// always v0 for ApiVersions); a response to bytes sent with send() is kept
// with its body after the correlation id. No retries, no batching: what the
// test sends is what goes on the wire.

import net from "node:net";
import { beginRequestFrame, decodeResponseHeader, endFrame } from "../../protocol/kafka/header.ts";
import { KafkaReader } from "../../protocol/kafka/reader.ts";
import { KafkaWriter } from "../../protocol/kafka/writer.ts";
import { FRAME_BYTES_MAX } from "../../protocol/limits.ts";
import { type MatchedResponse, ResponsesById } from "./responses_by_id.ts";

const RESPONSE_WAIT_MS = 20_000;

export type KafkaRawResponse = MatchedResponse;

interface Sent {
  apiKey: number;
  apiVersion: number;
}

export class KafkaRawClient {
  readonly socket: net.Socket;
  readonly clientId: string | null;
  readonly #sent = new Map<number, Sent>();
  readonly #responses = new ResponsesById<KafkaRawResponse>();
  readonly #writer = new KafkaWriter({ initialBytes: 1024 });
  #pending: Buffer = Buffer.alloc(0);
  #nextCorrelationId = 1;
  /** Correlation ids in the order responses arrived. */
  readonly arrivalOrder = this.#responses.arrivalOrder;
  /** Resolves when the connection closes (either side). */
  readonly closed: Promise<void>;

  private constructor(socket: net.Socket, clientId: string | null) {
    this.socket = socket;
    this.clientId = clientId;
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", () => {});
    this.closed = new Promise((resolve) => {
      socket.on("close", () => {
        this.#responses.close();
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
    return this.#responses.isClosed;
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
      // Bytes sent with send(): which header version the response has is not known here; the body starts after the correlation id.
      let bodyAt = 4;
      if (sent !== undefined) {
        this.#sent.delete(correlationId);
        const r = new KafkaReader(frame);
        decodeResponseHeader(r, sent.apiKey, sent.apiVersion);
        bodyAt = r.pos;
      }
      this.#responses.deliver({ correlationId, body: frame.slice(bodyAt) });
    }
  }

  /** Writes raw bytes (a hand-made, built or broken frame). */
  send(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /**
   * The frame of a request (size, header, the body `writeBody` encodes), not
   * sent and not remembered: send it with send(), as it is, with others, or
   * mutated. Its response comes with the body after the correlation id.
   */
  frame(apiKey: number, apiVersion: number, writeBody: (w: KafkaWriter) => void, correlationId = this.#nextCorrelationId++): { bytes: Uint8Array; correlationId: number } {
    const w = new KafkaWriter();
    const at = beginRequestFrame(w, { apiKey, apiVersion, correlationId, clientId: this.clientId });
    writeBody(w);
    endFrame(w, at);
    return { bytes: w.finish().slice(), correlationId };
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
    return this.#responses.take(correlationId, timeoutMs);
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
    return decode(await this.request(apiKey, apiVersion, writeBody, opts.timeoutMs), opts.responseVersion ?? apiVersion);
  }

  /** Sends a request; resolves with a reader at its response body (after the response header). */
  async request(apiKey: number, apiVersion: number, writeBody: (w: KafkaWriter) => void, timeoutMs?: number): Promise<KafkaReader> {
    const res = await this.response(this.sendRequest(apiKey, apiVersion, writeBody), timeoutMs);
    return new KafkaReader(res.body);
  }

  /** Requests sent whose response has not arrived. */
  get outstanding(): number {
    return this.#sent.size;
  }

  close(): void {
    this.socket.destroy();
  }
}
