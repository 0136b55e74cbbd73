// A minimal raw-frame client of the native protocol, for protocol tests: send
// any bytes (well-formed or not), send requests with chosen correlation ids,
// and read responses matched by correlation id. No retries, no batching
// logic: what the test sends is what goes on the wire.

import net from "node:net";
import { decode, encode } from "@msgpack/msgpack";
import { Writer } from "../../protocol/codec.ts";
import { FrameParser, encodeRequestFrame, readResponseCorrelationId, responseBody } from "../../protocol/frame.ts";
import { writeFetchRequest } from "../../protocol/messages/fetch.ts";
import { writeProduceRequest } from "../../protocol/messages/produce.ts";
import { decodeResponseEnvelope } from "../../protocol/messages/response.ts";
import { type MatchedResponse, ResponsesById } from "./responses_by_id.ts";

/** A response; its body starts with ErrorCode:i16. */
export type RawResponse = MatchedResponse;

const RESPONSE_WAIT_MS = 20_000;

export class RawClient {
  readonly socket: net.Socket;
  readonly #parser: FrameParser;
  readonly #responses = new ResponsesById<RawResponse>();
  #nextCorrelationId = 1;
  /** Resolves when the connection is closed (by either side). */
  readonly closed: Promise<void>;
  /** Responses in arrival order (correlation ids), for ordering checks. */
  readonly arrivalOrder = this.#responses.arrivalOrder;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.#parser = new FrameParser({
      kind: "response",
      onFrame: (frame) => {
        this.#responses.deliver({ correlationId: readResponseCorrelationId(frame), body: responseBody(frame).slice() });
      },
      onError: (e) => socket.destroy(e),
    });
    socket.on("data", (chunk: Buffer) => this.#parser.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    this.closed = new Promise((resolve) => {
      socket.on("close", () => {
        this.#responses.close();
        resolve();
      });
    });
    socket.on("error", () => {});
  }

  static connect(port: number, host = "127.0.0.1"): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host });
      socket.setNoDelay(true);
      socket.once("connect", () => resolve(new RawClient(socket)));
      socket.once("error", reject);
    });
  }

  get isClosed(): boolean {
    return this.#responses.isClosed;
  }

  /** Writes raw bytes. */
  send(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Sends a request frame; returns its correlation id (chosen, or the next one). */
  sendRequest(apiKey: number, body: Uint8Array, opts: { apiVersion?: number; correlationId?: number } = {}): number {
    const correlationId = opts.correlationId ?? this.#nextCorrelationId++;
    this.send(encodeRequestFrame({ apiKey, apiVersion: opts.apiVersion ?? 0, correlationId }, body));
    return correlationId;
  }

  /** The response with this correlation id (waits for it, with a deadline). */
  response(correlationId: number, timeoutMs = RESPONSE_WAIT_MS): Promise<RawResponse> {
    return this.#responses.take(correlationId, timeoutMs);
  }

  async request(apiKey: number, body: Uint8Array, opts: { apiVersion?: number; correlationId?: number; timeoutMs?: number } = {}): Promise<RawResponse> {
    return this.response(this.sendRequest(apiKey, body, opts), opts.timeoutMs);
  }

  /**
   * A control (MessagePack) request; resolves with the decoded reply, or with
   * `{ errorCode, message }` for a request-level error.
   */
  async control<T = Record<string, unknown>>(apiKey: number, value: unknown, opts: { timeoutMs?: number } = {}): Promise<T | { errorCode: number; message: string }> {
    const res = await this.request(apiKey, encode(value, { ignoreUndefined: true }), { timeoutMs: opts.timeoutMs });
    const env = decodeResponseEnvelope(res.body);
    if (env.errorCode !== 0) return env as { errorCode: number; message: string };
    return decode((env as { body: Uint8Array }).body) as T;
  }

  /** Responses received that nobody asked for yet. */
  get unclaimed(): number {
    return this.#responses.unclaimed;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Encodes a body with the protocol Writer (for message writers like writeProduceRequest). */
export function encodeBody(write: (w: Writer) => void): Uint8Array {
  const w = new Writer({ initialBytes: 256 });
  write(w);
  return w.finish().slice();
}

// ---------------------------------------------------------------- request bodies for tests

/** A Produce body for one or more partitions of one topic. */
export function produceBody(opts: { topic: string; acks: number; timeoutMs?: number; partitions: { index: number; records: Uint8Array }[] }): Uint8Array {
  return encodeBody((w) =>
    writeProduceRequest(w, { acks: opts.acks, timeoutMs: opts.timeoutMs ?? 10_000, topics: [{ name: opts.topic, partitions: opts.partitions }] }),
  );
}

/** A Fetch body for partitions of one topic. */
export function fetchBody(opts: {
  topic: string;
  maxWaitMs?: number;
  minBytes?: number;
  maxBytes?: number;
  partitions: { index: number; offset: number; maxBytes?: number }[];
}): Uint8Array {
  return encodeBody((w) =>
    writeFetchRequest(w, {
      maxWaitMs: opts.maxWaitMs ?? 0,
      minBytes: opts.minBytes ?? 0,
      maxBytes: opts.maxBytes ?? 8 * 1024 * 1024,
      topics: [
        {
          name: opts.topic,
          partitions: opts.partitions.map((p) => ({ index: p.index, fetchOffset: BigInt(p.offset), partitionMaxBytes: p.maxBytes ?? 8 * 1024 * 1024 })),
        },
      ],
    }),
  );
}
