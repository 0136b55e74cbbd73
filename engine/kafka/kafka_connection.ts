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
//
// Responses leave in request order, as Kafka promises (the Java client and
// franz-go check it; a parked long-poll fetch must not be overtaken by the
// Metadata answer behind it). Requests still run at once and concurrently; a
// response ready before those ahead of it is held (its own bytes copied, the
// stored records it splices in kept as views) and written when its turn
// comes. Held bytes count towards the output's pause bound and, past
// outputBytesMax, close the connection as an output overflow does.

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
import { KAFKA_FRAME_BYTES_MAX, KAFKA_RESPONSE_SLOTS_COMPACT_AT, KAFKA_WRITER_RETAINED_BYTES_MAX } from "../engine_limits.ts";
import type { KafkaBodyEncoder, KafkaRequest } from "./kafka_request.ts";

const EMPTY = new Uint8Array(0);
const noop = (): void => {};


const PENDING = 0;
const READY = 1;
/** Answered without a response (Produce acks=0): its turn passes at once. */
const NO_RESPONSE = 2;

/** A request's place in the response order; it is also the request's meta. */
class ResponseSlot implements RequestMeta {
  state = PENDING;
  /** A held response of one run of bytes (no views), copied. */
  held: Uint8Array | null = null;
  /** A held response with views: segments (the copied own bytes in `own`, views of the caller's buffers). */
  segments: Uint8Array[] = [];
  own: ArrayBufferLike = EMPTY.buffer;
  bytes = 0;
  release: () => void = noop;
  constructor(
    readonly correlationId: number,
    readonly apiKey: number,
    readonly frameBytes: number,
    readonly startedMs: number,
  ) {}
}

export class KafkaConnection extends ClientConnection {
  declare readonly host: KafkaServerHost;
  /** Reused for every request's header and body (a request is decoded before its handler returns). */
  readonly #reader = new KafkaReader(EMPTY);
  /** Reused for every response; its bytes are copied into the output (or written) before reply returns. */
  readonly #writer = new KafkaWriter({ initialBytes: 16 * 1024 });
  /** Requests in the order they were read, from `#slotsHead` on (bounded by INFLIGHT_REQUESTS_MAX: reading pauses past it). */
  #slots: ResponseSlot[] = [];
  #slotsHead = 0;

  constructor(socket: ServerSocket, host: KafkaServerHost, makeOutput: (conn: ClientConnection) => OutputQueue) {
    super(socket, host, makeOutput, KAFKA_FRAME_BYTES_MAX);
    // Held responses' views go back to their owners (scratch buffers) when the connection closes.
    this.onClose(() => {
      for (let i = this.#slotsHead; i < this.#slots.length; i++) this.#slots[i].release();
      this.#slots = [];
      this.#slotsHead = 0;
      this.heldResponseBytes = 0;
    });
  }

  protected handleFrame(buf: Uint8Array, start: number, end: number): void {
    if (this.closed) return;
    // The parser guarantees the 8 bytes of api key, version and correlation id.
    const apiKey = readI16(buf, start);
    const apiVersion = readI16(buf, start + 2);
    const correlationId = readI32(buf, start + 4);
    const meta = new ResponseSlot(correlationId, apiKey, end - start, performance.now());
    const handler = this.host.handlers.get(apiKey);
    if (handler === undefined) return this.refuseFrame();
    if (!isVersionSupported(apiKey, apiVersion)) {
      if (apiKey !== KafkaApiKey.ApiVersions) return this.refuseFrame();
      this.#begin(meta);
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
    this.#begin(meta);
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

  #begin(slot: ResponseSlot): void {
    this.beginRequest(slot.frameBytes);
    this.#slots.push(slot);
  }

  /** A request done without a response (Produce acks=0): out of flight now, its turn in the order passes. */
  finishWithoutResponse(meta: RequestMeta): void {
    const slot = meta as ResponseSlot;
    this.finishRequest(slot);
    slot.state = NO_RESPONSE;
    this.#drain();
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
    const slot = req.meta as ResponseSlot;
    if (this.closed) {
      this.finishRequest(slot);
      release();
      return;
    }
    const w = this.#writer;
    try {
      const at = beginResponseFrame(w, slot.apiKey, req.apiVersion, slot.correlationId);
      encode(w);
      endFrame(w, at);
    } catch (e) {
      // An encoder that throws is a bug of ours: say so, and do not send half a frame.
      this.host.log(`sluice: kafka response of api ${slot.apiKey} v${req.apiVersion} failed to encode: ${(e as Error)?.stack ?? e}`);
      w.reset(KAFKA_WRITER_RETAINED_BYTES_MAX);
      this.finishRequest(slot);
      release();
      this.close(false);
      return;
    }
    if (w.byteLength === w.length) {
      // No spliced views (every response but a fetch's): one run of the writer's bytes.
      this.#replyBytes(slot, w.finish());
      w.reset(KAFKA_WRITER_RETAINED_BYTES_MAX);
      release();
      return;
    }
    const segments = w.segments();
    const own = segments[0].buffer;
    if (this.#slots[this.#slotsHead] === slot) {
      // Its turn: straight to the output (large record views without a copy).
      this.#shift();
      this.respondSegments(slot, segments, own, release);
      w.reset(KAFKA_WRITER_RETAINED_BYTES_MAX);
      this.#drain();
      return;
    }
    this.#hold(slot, segments, own, release);
    w.reset(KAFKA_WRITER_RETAINED_BYTES_MAX);
  }

  /**
   * A response that is one run of bytes (valid during the call): written now
   * when its turn has come, else copied and held. No segment list, no views,
   * no ArrayBuffer looked up: produce answers are held often (partitions
   * become durable out of request order) and this is their path.
   */
  #replyBytes(slot: ResponseSlot, bytes: Uint8Array): void {
    if (this.#slots[this.#slotsHead] === slot) {
      this.#shift();
      this.#writeBytes(slot, bytes);
      this.#drain();
      return;
    }
    slot.held = bytes.slice();
    slot.bytes = bytes.length;
    slot.state = READY;
    this.heldResponseBytes += bytes.length;
    this.#checkHeld();
  }

  #writeBytes(slot: ResponseSlot, bytes: Uint8Array): void {
    this.finishRequest(slot);
    if (this.closed) return;
    this.out.writer.writeRaw(bytes);
    this.out.commit();
  }

  #checkHeld(): void {
    if (this.heldResponseBytes > this.host.config.outputBytesMax) {
      // A request ahead never completes while the client keeps the rest coming: as an output overflow.
      this.host.stats.outputOverflows++;
      this.close(false);
      return;
    }
    this.updatePause();
  }

  /** Keeps a response whose turn has not come: its own bytes copied into one buffer, views kept. */
  #hold(slot: ResponseSlot, segments: readonly Uint8Array[], own: ArrayBufferLike, release: () => void): void {
    let ownBytes = 0;
    let total = 0;
    for (const seg of segments) {
      total += seg.length;
      if (seg.buffer === own) ownBytes += seg.length;
    }
    const copy = new Uint8Array(ownBytes);
    const held: Uint8Array[] = [];
    let at = 0;
    for (const seg of segments) {
      if (seg.buffer !== own) {
        held.push(seg);
        continue;
      }
      copy.set(seg, at);
      held.push(copy.subarray(at, at + seg.length));
      at += seg.length;
    }
    slot.segments = held;
    slot.own = copy.buffer;
    slot.bytes = total;
    slot.release = release;
    slot.state = READY;
    this.heldResponseBytes += total;
    this.#checkHeld();
  }

  /** Writes every response whose turn has come. */
  #drain(): void {
    while (this.#slotsHead < this.#slots.length && !this.closed) {
      const slot = this.#slots[this.#slotsHead];
      if (slot.state === PENDING) break;
      this.#shift();
      if (slot.state === READY) {
        this.heldResponseBytes -= slot.bytes;
        if (slot.held !== null) {
          const held = slot.held;
          slot.held = null;
          this.#writeBytes(slot, held);
          continue;
        }
        const { segments, own, release } = slot;
        slot.segments = [];
        slot.release = noop;
        this.respondSegments(slot, segments, own, release);
      }
    }
  }

  #shift(): void {
    this.#slots[this.#slotsHead] = undefined as unknown as ResponseSlot;
    this.#slotsHead++;
    if (this.#slotsHead === this.#slots.length) {
      this.#slots.length = 0;
      this.#slotsHead = 0;
    } else if (this.#slotsHead > KAFKA_RESPONSE_SLOTS_COMPACT_AT && this.#slotsHead * 2 > this.#slots.length) {
      this.#slots = this.#slots.slice(this.#slotsHead);
      this.#slotsHead = 0;
    }
  }
}
