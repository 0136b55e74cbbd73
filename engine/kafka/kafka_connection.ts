// One client connection of the Kafka protocol, on the router thread: the
// shared connection (engine/connection/client_connection.ts: every bound,
// pausing, the produce blocked queue, output) plus Kafka's framing and
// dispatch.
//
//   Request  = Size:INT32 RequestHeader(v1|v2) Body
//   Response = Size:INT32 ResponseHeader(v0|v1) Body
//
// The size is checked against KAFKA_FRAME_BYTES_MAX before anything is
// buffered (FrameParser); Kafka's first 8 header bytes (api key, version,
// correlation id) sit where the native header's do, so the same parser cuts
// both streams. What Kafka does, this does:
//   - an api key the broker does not speak, or a version outside its range →
//     the connection closes (no answer: the client cannot read one)
//   - ApiVersions above its range → a v0 body with UNSUPPORTED_VERSION and the
//     supported ranges (KIP-511), so the client can retry
//   - a header or body that does not decode (truncated, a length past its
//     limit) → the connection closes; nothing was allocated from the bad length
//   - a refused frame size → the connection closes
// Responses go out in the order requests complete; Kafka clients match them
// by correlation id, and every client we serve keeps one connection's
// requests in order itself (librdkafka, kafkajs wait per partition).

import { readI16, readI32 } from "../../protocol/big_endian.ts";
import { KafkaDecodeError } from "../../protocol/kafka/decode_error.ts";
import { beginResponseFrame, decodeRequestHeader, endFrame } from "../../protocol/kafka/header.ts";
import { KafkaReader } from "../../protocol/kafka/reader.ts";
import { KafkaApiKey, isVersionSupported } from "../../protocol/kafka/versions.ts";
import { KafkaWriter } from "../../protocol/kafka/writer.ts";
import type { FrameError } from "../../protocol/frame.ts";
import type { ServerSocket } from "../../runtime/listener_bun.ts";
import { ClientConnection, type RequestMeta } from "../connection/client_connection.ts";
import type { OutputQueue } from "../connection/output_queue.ts";
import { answerUnsupportedApiVersions } from "./api_versions.ts";
import type { KafkaServerHost } from "./kafka_host.ts";
import { KAFKA_FRAME_BYTES_MAX, KAFKA_WRITER_RETAINED_BYTES_MAX } from "./kafka_limits.ts";
import type { KafkaBodyEncoder, KafkaRequest } from "./kafka_request.ts";

const EMPTY = new Uint8Array(0);
const noop = (): void => {};

export class KafkaConnection extends ClientConnection {
  declare readonly host: KafkaServerHost;
  /** Reused for every request's header and body (a request is decoded before its handler returns). */
  readonly #reader = new KafkaReader(EMPTY);
  /** Reused for every response; its bytes are copied into the output (or written) before reply returns. */
  readonly #writer = new KafkaWriter({ initialBytes: 16 * 1024 });

  constructor(socket: ServerSocket, host: KafkaServerHost, makeOutput: (conn: ClientConnection) => OutputQueue) {
    super(socket, host, makeOutput, KAFKA_FRAME_BYTES_MAX);
  }

  protected handleFrame(buf: Uint8Array, start: number, end: number): void {
    if (this.closed) return;
    // The parser guarantees the 8 bytes of api key, version and correlation id.
    const apiKey = readI16(buf, start);
    const apiVersion = readI16(buf, start + 2);
    const correlationId = readI32(buf, start + 4);
    const meta: RequestMeta = { correlationId, apiKey, frameBytes: end - start, startedMs: performance.now() };
    const handler = this.host.handlers.get(apiKey);
    if (handler === undefined) return this.refuseFrame();
    if (!isVersionSupported(apiKey, apiVersion)) {
      if (apiKey !== KafkaApiKey.ApiVersions) return this.refuseFrame();
      this.beginRequest(meta.frameBytes);
      answerUnsupportedApiVersions(this, meta);
      return;
    }
    const r = this.#reader.reset(buf, start, end);
    let clientId: string | null;
    try {
      clientId = decodeRequestHeader(r).clientId;
    } catch (e) {
      return this.#malformed(e);
    }
    this.beginRequest(meta.frameBytes);
    const req: KafkaRequest = { conn: this, meta, apiVersion, clientId, reader: r };
    try {
      handler(req);
    } catch (e) {
      this.#malformed(e);
    } finally {
      // The frame may be a view of a chunk the caller keeps; do not keep it past the call.
      r.reset(EMPTY);
    }
  }

  /** A request that does not decode (or a handler's bug): close, as Kafka does. */
  #malformed(e: unknown): void {
    if (!(e instanceof KafkaDecodeError)) this.host.log(`sluice: kafka request failed: ${(e as Error)?.stack ?? e}`);
    this.refuseFrame();
  }

  protected answerRefusedFrame(_error: FrameError): void {
    // Kafka answers nothing to a frame it cannot read: the connection just closes.
  }

  /**
   * Answers `req` with the body `encode` writes, under the response header
   * its api and version take. `release` runs once the views the body spliced
   * in (stored records) are no longer referenced.
   */
  reply(req: { meta: RequestMeta; apiVersion: number }, encode: KafkaBodyEncoder, release: () => void = noop): void {
    if (this.closed) {
      this.finishRequest(req.meta);
      release();
      return;
    }
    const w = this.#writer;
    try {
      const at = beginResponseFrame(w, req.meta.apiKey, req.apiVersion, req.meta.correlationId);
      encode(w);
      endFrame(w, at);
    } catch (e) {
      // An encoder that throws is a bug of ours: say so, and do not send half a frame.
      this.host.log(`sluice: kafka response of api ${req.meta.apiKey} v${req.apiVersion} failed to encode: ${(e as Error)?.stack ?? e}`);
      w.reset(KAFKA_WRITER_RETAINED_BYTES_MAX);
      this.finishRequest(req.meta);
      release();
      this.close(false);
      return;
    }
    const segments = w.segments();
    this.respondSegments(req.meta, segments, segments[0].buffer, release);
    // Copied out (or handed to the output as views): forget the spliced views now.
    w.reset(KAFKA_WRITER_RETAINED_BYTES_MAX);
  }
}
