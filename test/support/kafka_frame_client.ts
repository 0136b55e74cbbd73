// A Kafka-protocol frame client for the listener tests: build frames without
// sending them (to send several in one write, or mutated), send
// any bytes (well-formed or not), send a request of any api and version with
// the protocol/kafka encoders, and read the response body matched by
// correlation id. What the test sends is what goes on the wire.

import net from "node:net";
import { FrameParser, readResponseCorrelationId, responseBody } from "../../protocol/frame.ts";
import { beginRequestFrame, endFrame } from "../../protocol/kafka/header.ts";
import { KafkaReader } from "../../protocol/kafka/reader.ts";
import { responseHeaderVersion } from "../../protocol/kafka/versions.ts";
import { KafkaWriter } from "../../protocol/kafka/writer.ts";

const RESPONSE_WAIT_MS = 20_000;

export class KafkaFrameClient {
  readonly socket: net.Socket;
  readonly #parser: FrameParser;
  readonly #arrived = new Map<number, Uint8Array>();
  readonly #waiting = new Map<number, (body: Uint8Array | Error) => void>();
  #nextCorrelationId = 1;
  #closed = false;
  /** Correlation ids of the responses, in the order they arrived. */
  readonly arrivalOrder: number[] = [];
  /** Resolves when the connection is closed (by either side). */
  readonly closed: Promise<void>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.#parser = new FrameParser({
      kind: "response",
      frameBytesMax: 64 * 1024 * 1024,
      onFrame: (frame) => {
        const id = readResponseCorrelationId(frame);
        this.arrivalOrder.push(id);
        const body = responseBody(frame).slice();
        const w = this.#waiting.get(id);
        if (w !== undefined) {
          this.#waiting.delete(id);
          w(body);
        } else {
          this.#arrived.set(id, body);
        }
      },
      onError: (e) => socket.destroy(e),
    });
    socket.on("data", (chunk: Buffer) => this.#parser.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    this.closed = new Promise((resolve) => {
      socket.on("close", () => {
        this.#closed = true;
        for (const w of this.#waiting.values()) w(new Error("connection closed"));
        this.#waiting.clear();
        resolve();
      });
    });
    socket.on("error", () => {});
  }

  static connect(port: number, host = "127.0.0.1"): Promise<KafkaFrameClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host }, () => {
        socket.off("error", reject);
        resolve(new KafkaFrameClient(socket));
      });
      socket.once("error", reject);
    });
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Writes bytes as they are. */
  sendRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** The frame of a request (size, header v1/v2, the body `encode` writes), without sending it. */
  frame(apiKey: number, apiVersion: number, encode: (w: KafkaWriter) => void, correlationId = this.#nextCorrelationId++): { bytes: Uint8Array; correlationId: number } {
    const w = new KafkaWriter();
    const at = beginRequestFrame(w, { apiKey, apiVersion, correlationId, clientId: "raw-test" });
    encode(w);
    endFrame(w, at);
    return { bytes: w.finish().slice(), correlationId };
  }

  /** Sends a request; resolves with a reader at the response body (after the header its api and version take). */
  async request(apiKey: number, apiVersion: number, encode: (w: KafkaWriter) => void): Promise<KafkaReader> {
    const { bytes, correlationId } = this.frame(apiKey, apiVersion, encode);
    this.sendRaw(bytes);
    const body = await this.response(correlationId);
    const r = new KafkaReader(body);
    if (responseHeaderVersion(apiKey, apiVersion) === 1) r.taggedFields("header._tagged_fields");
    return r;
  }

  /** The response body (after the correlation id) of `correlationId`. */
  response(correlationId: number): Promise<Uint8Array> {
    const got = this.#arrived.get(correlationId);
    if (got !== undefined) {
      this.#arrived.delete(correlationId);
      return Promise.resolve(got);
    }
    if (this.#closed) return Promise.reject(new Error("connection closed"));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(correlationId);
        reject(new Error(`no response to ${correlationId} within ${RESPONSE_WAIT_MS} ms`));
      }, RESPONSE_WAIT_MS);
      this.#waiting.set(correlationId, (b) => {
        clearTimeout(timer);
        if (b instanceof Error) reject(b);
        else resolve(b);
      });
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
