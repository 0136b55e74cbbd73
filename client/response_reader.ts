// Cuts the broker's byte stream into response frames for one client
// connection (docs/PROTOCOL.md, "Frames": Size:u32 CorrelationId:u32 Body).
//
// Why not protocol/frame.ts's FrameParser: the broker's parser must bound a
// connection's memory by the bytes that actually arrive, so it gathers a
// split frame into a reused buffer that grows as bytes come, and its frames
// are only valid during the callback. A client would then copy every large
// response twice (gathering, then out of the reused buffer), and a fetch
// response of megabytes always arrives in many socket reads. Here a frame
// split across reads is copied once, into a buffer of exactly its size that
// the receiver owns; a frame wholly inside one read is a view of that read's
// chunk (chunks belong to the receiver: runtime/transport.ts). Frames are
// handed over as (bytes, start, end), so a caller that reads a frame on the
// spot (the producer's acknowledgements) makes no view per frame.
//
// Memory: the buffer is allocated when the size prefix arrives, so the peer
// decides it — bounded by FRAME_BYTES_MAX (16 MiB), one per connection, and
// the peer is the broker this client chose to talk to.

import { readU32 } from "../protocol/big_endian.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { FRAME_SIZE_BYTES, FrameError } from "../protocol/frame.ts";
import { FRAME_BYTES_MAX, RESPONSE_HEADER_BYTES } from "../protocol/limits.ts";

export interface ResponseReaderOptions {
  /**
   * One whole frame (correlation id + body, without the size prefix):
   * `bytes[start, end)`. `bytes` is either a buffer of the frame's own (a
   * frame split across reads: start 0, end its length) or the chunk being
   * pushed; the receiver may keep either (keeping a view pins the chunk).
   */
  readonly onFrame: (bytes: Uint8Array, start: number, end: number) => void;
  /** A size outside [RESPONSE_HEADER_BYTES, frameBytesMax]: the stream has no frame boundary any more. */
  readonly onError: (error: FrameError) => void;
  readonly frameBytesMax?: number;
}

export class ResponseReader {
  private readonly onFrame: (bytes: Uint8Array, start: number, end: number) => void;
  private readonly onError: (error: FrameError) => void;
  private readonly frameBytesMax: number;
  /** The frame being gathered across chunks (its final size), and how much of it has arrived. */
  private gathering: Uint8Array | null = null;
  private filled = 0;
  /** A size prefix split across chunks. */
  private readonly prefix = new Uint8Array(FRAME_SIZE_BYTES);
  private prefixFilled = 0;
  private failed = false;

  constructor(options: ResponseReaderOptions) {
    this.onFrame = options.onFrame;
    this.onError = options.onError;
    this.frameBytesMax = options.frameBytesMax ?? FRAME_BYTES_MAX;
  }

  /** Bytes of an unfinished frame held (size prefix included once known). */
  get bufferedBytes(): number {
    return this.gathering !== null ? FRAME_SIZE_BYTES + this.filled : this.prefixFilled;
  }

  push(chunk: Uint8Array): void {
    if (this.failed) return;
    const n = chunk.length;
    let p = 0;
    while (p < n) {
      const gathering = this.gathering;
      if (gathering !== null) {
        const take = Math.min(gathering.length - this.filled, n - p);
        gathering.set(take === n && p === 0 ? chunk : chunk.subarray(p, p + take), this.filled);
        this.filled += take;
        p += take;
        if (this.filled < gathering.length) return;
        this.gathering = null;
        this.filled = 0;
        this.onFrame(gathering, 0, gathering.length);
        continue;
      }
      let size: number;
      if (this.prefixFilled > 0 || n - p < FRAME_SIZE_BYTES) {
        while (this.prefixFilled < FRAME_SIZE_BYTES && p < n) this.prefix[this.prefixFilled++] = chunk[p++];
        if (this.prefixFilled < FRAME_SIZE_BYTES) return;
        this.prefixFilled = 0;
        size = readU32(this.prefix, 0);
      } else {
        size = readU32(chunk, p);
        p += FRAME_SIZE_BYTES;
      }
      if (size < RESPONSE_HEADER_BYTES || size > this.frameBytesMax) {
        this.fail(size);
        return;
      }
      if (n - p >= size) {
        p += size;
        this.onFrame(chunk, p - size, p);
        continue;
      }
      this.gathering = new Uint8Array(size);
      this.filled = 0;
    }
  }

  private fail(size: number): void {
    this.failed = true;
    this.gathering = null;
    const tooLarge = size > this.frameBytesMax;
    const message = tooLarge
      ? `frame size ${size} is larger than ${this.frameBytesMax}`
      : `frame size ${size} is smaller than the ${RESPONSE_HEADER_BYTES}-byte response header`;
    this.onError(
      new FrameError(tooLarge ? ErrorCode.MESSAGE_TOO_LARGE : ErrorCode.INVALID_REQUEST, message, {
        size,
        correlationId: null,
        apiKey: null,
        apiVersion: null,
      }),
    );
  }
}
