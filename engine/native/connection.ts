// One client connection of the native protocol, on the router thread: the
// shared connection (engine/connection/client_connection.ts: every bound,
// pausing, the produce blocked queue, output) plus the native frame dispatch.
//
// Each whole frame is dispatched at once (pipelining: many requests in flight,
// each answered when ready, matched by correlation id). Produce (0) and Fetch
// (1) are served here (the hot path); every other api by a control handler
// (dispatch.ts). A refused frame is answered with its error when the
// correlation id is known, then the connection closes.

import { ApiKey } from "../../protocol/api_keys.ts";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import type { FrameError } from "../../protocol/frame.ts";
import { readU16, readU32 } from "../../protocol/big_endian.ts";
import { FRAME_BYTES_MAX, REQUEST_HEADER_BYTES, RESPONSE_HEADER_BYTES } from "../../protocol/limits.ts";
import { writeErrorBody } from "../../protocol/messages/response.ts";
import type { ServerSocket } from "../../runtime/listener_bun.ts";
import { ClientConnection, type RequestMeta } from "../connection/client_connection.ts";
import type { OutputQueue } from "../connection/output_queue.ts";
import { decodeControlBody, encodeControlReply, type RequestContext } from "./dispatch.ts";
import { FetchInFlight } from "./fetch_in_flight.ts";
import { ReplicaFetchInFlight } from "./replica_fetch_in_flight.ts";
import type { NativeServerHost } from "./server_host.ts";
import { ProduceInFlight } from "./produce_in_flight.ts";

export type { RequestMeta } from "../connection/client_connection.ts";

export class Connection extends ClientConnection {
  declare readonly host: NativeServerHost;

  constructor(socket: ServerSocket, host: NativeServerHost, makeOutput: (conn: ClientConnection) => OutputQueue) {
    super(socket, host, makeOutput, FRAME_BYTES_MAX);
  }

  /** One request frame, `buf[start, end)` (header + body, after the size prefix). */
  protected handleFrame(buf: Uint8Array, start: number, end: number): void {
    if (this.closed) return;
    // The parser guarantees end - start >= REQUEST_HEADER_BYTES. Read in place: no header object, no body view.
    const apiKey = readU16(buf, start);
    const apiVersion = readU16(buf, start + 2);
    const correlationId = readU32(buf, start + 4);
    const bodyStart = start + REQUEST_HEADER_BYTES;
    const frameBytes = end - start;
    const startedMs = performance.now();
    this.beginRequest(frameBytes);
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
      else if (apiKey === ApiKey.ReplicaFetch) ReplicaFetchInFlight.start(this, meta, apiVersion, buf.subarray(bodyStart, end));
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

  protected answerRefusedFrame(error: FrameError): void {
    // Answer when the correlation id is known; the connection closes after.
    if (error.correlationId === null) return;
    this.beginRequest(0);
    const meta: RequestMeta = { correlationId: error.correlationId, apiKey: error.apiKey ?? -1, frameBytes: 0, startedMs: performance.now() };
    this.respondError(meta, error.code, error.message);
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
      onConnectionClose: (cb) => this.onClose(cb),
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

  respondError(meta: RequestMeta, code: number, message?: string): void {
    this.respond(meta, (w) => writeErrorBody(w, code, message));
  }
}
