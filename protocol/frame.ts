// Frames (docs/PROTOCOL.md, "Frames"):
//
//   Request  = Size:u32 ApiKey:u16 ApiVersion:u16 CorrelationId:u32 Body
//   Response = Size:u32 CorrelationId:u32 Body
//
// `Size` counts the bytes after itself. FrameParser cuts a byte stream into
// frames. It never allocates from a size it has not checked: a size above
// the limit or below the header is reported as a FrameError (carrying the
// correlation id when the header bytes are there to read) and nothing of the
// body is buffered. A frame that lies wholly inside one chunk is handed out as
// a view of that chunk (no copy); only a frame split across chunks is
// gathered, into one buffer the parser reuses and grows with the bytes that
// actually arrive, up to that frame's size.

import { assert } from "./assert.ts";
import { readU16, readU32, writeI16, writeI32 } from "./big_endian.ts";
import type { Writer } from "./codec.ts";
import { ErrorCode, SluiceError } from "./errors.ts";
import {
  FRAME_BYTES_MAX,
  FRAME_PARSER_RETAINED_BYTES_MAX,
  PARSER_INITIAL_BYTES,
  REQUEST_HEADER_BYTES,
  RESPONSE_HEADER_BYTES,
} from "./limits.ts";

/** Bytes of the size prefix. */
export const FRAME_SIZE_BYTES = 4;

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
}

// ---------------------------------------------------------------- encoding

/** Starts a request frame in `w`: a size placeholder and the header. Returns the frame's start for endFrame. */
export function beginRequestFrame(w: Writer, header: RequestHeader): number {
  const start = w.reserveI32();
  w.writeU16(header.apiKey).writeU16(header.apiVersion).writeU32(header.correlationId);
  return start;
}

/** Starts a response frame in `w`. Returns the frame's start for endFrame. */
export function beginResponseFrame(w: Writer, correlationId: number): number {
  const start = w.reserveI32();
  w.writeU32(correlationId);
  return start;
}

/**
 * Fills in the size of the frame begun at `start`. A frame over
 * FRAME_BYTES_MAX is refused (MESSAGE_TOO_LARGE): the peer would reject it.
 */
export function endFrame(w: Writer, start: number, frameBytesMax = FRAME_BYTES_MAX): void {
  const size = w.length - start - FRAME_SIZE_BYTES;
  if (size > frameBytesMax) {
    throw new SluiceError(ErrorCode.MESSAGE_TOO_LARGE, `frame of ${size} bytes is larger than ${frameBytesMax}`);
  }
  w.patchI32(start, size);
}

/** A whole request frame (size prefix included) as a fresh array. */
export function encodeRequestFrame(header: RequestHeader, body: Uint8Array): Uint8Array {
  const size = REQUEST_HEADER_BYTES + body.length;
  if (size > FRAME_BYTES_MAX) {
    throw new SluiceError(ErrorCode.MESSAGE_TOO_LARGE, `frame of ${size} bytes is larger than ${FRAME_BYTES_MAX}`);
  }
  const out = new Uint8Array(FRAME_SIZE_BYTES + size);
  writeI32(out, 0, size);
  writeI16(out, 4, header.apiKey);
  writeI16(out, 6, header.apiVersion);
  writeI32(out, 8, header.correlationId);
  out.set(body, 12);
  return out;
}

/** A whole response frame (size prefix included) as a fresh array. */
export function encodeResponseFrame(correlationId: number, body: Uint8Array): Uint8Array {
  const size = RESPONSE_HEADER_BYTES + body.length;
  if (size > FRAME_BYTES_MAX) {
    throw new SluiceError(ErrorCode.MESSAGE_TOO_LARGE, `frame of ${size} bytes is larger than ${FRAME_BYTES_MAX}`);
  }
  const out = new Uint8Array(FRAME_SIZE_BYTES + size);
  writeI32(out, 0, size);
  writeI32(out, 4, correlationId);
  out.set(body, 8);
  return out;
}

// ---------------------------------------------------------------- decoding

/** Reads the header of a request frame as FrameParser emits it (without the size prefix). */
export function readRequestHeader(frame: Uint8Array): RequestHeader {
  if (frame.length < REQUEST_HEADER_BYTES) {
    throw new SluiceError(ErrorCode.INVALID_REQUEST, `truncated request header: ${frame.length} bytes`);
  }
  return { apiKey: readU16(frame, 0), apiVersion: readU16(frame, 2), correlationId: readU32(frame, 4) };
}

/** The body of a request frame (a view). */
export function requestBody(frame: Uint8Array): Uint8Array {
  return frame.subarray(REQUEST_HEADER_BYTES);
}

/** The correlation id of a response frame as FrameParser emits it. */
export function readResponseCorrelationId(frame: Uint8Array): number {
  if (frame.length < RESPONSE_HEADER_BYTES) {
    throw new SluiceError(ErrorCode.INVALID_REQUEST, `truncated response header: ${frame.length} bytes`);
  }
  return readU32(frame, 0);
}

/** The body of a response frame (a view). */
export function responseBody(frame: Uint8Array): Uint8Array {
  return frame.subarray(RESPONSE_HEADER_BYTES);
}

/**
 * A frame whose size the parser refused. `code` is MESSAGE_TOO_LARGE (size
 * over the limit) or INVALID_REQUEST (size below the header). The header
 * fields are null when their bytes could not be read. After this error the
 * stream has no frame boundary any more: answer (if the correlation id is
 * known) and close the connection.
 */
export class FrameError extends SluiceError {
  readonly size: number;
  readonly correlationId: number | null;
  readonly apiKey: number | null;
  readonly apiVersion: number | null;
  constructor(
    code: number,
    message: string,
    fields: { size: number; correlationId: number | null; apiKey: number | null; apiVersion: number | null },
  ) {
    super(code, message);
    this.size = fields.size;
    this.correlationId = fields.correlationId;
    this.apiKey = fields.apiKey;
    this.apiVersion = fields.apiVersion;
  }
}

export interface FrameParserOptions {
  /** Which header follows the size: decides the smallest valid size and where the correlation id is. */
  kind: "request" | "response";
  /** Largest accepted size (default FRAME_BYTES_MAX). */
  frameBytesMax?: number;
  /**
   * The largest gathering buffer kept for the next split frame (default
   * FRAME_PARSER_RETAINED_BYTES_MAX). A connection that keeps receiving large
   * frames (a follower's replica fetches) keeps a larger one: gathering into
   * fresh memory per frame costs a page fault per page.
   */
  retainedBytesMax?: number;
  /**
   * Called once per whole frame, with the bytes after the size prefix (header
   * + body). The view is valid only until onFrame returns: it may point into
   * the pushed chunk or into the parser's reused buffer. Copy what you keep.
   */
  onFrame?: (frame: Uint8Array) => void;
  /**
   * Instead of onFrame: the same bytes as `buf[start, end)`, without a view per
   * frame (a subarray per request was ~6% of the broker's router time with one
   * small message per request). Same validity rule as onFrame.
   */
  onFrameAt?: (buf: Uint8Array, start: number, end: number) => void;
  /** Called once when a size is refused; the parser then ignores all further input. */
  onError: (error: FrameError) => void;
}

/**
 * Cuts a byte stream into frames; feed it chunks of any size with push().
 * One parser per connection; not reentrant (do not push from onFrame).
 */
export class FrameParser {
  private readonly kind: "request" | "response";
  private readonly frameBytesMax: number;
  private readonly retainedBytesMax: number;
  private readonly headerBytes: number;
  private readonly onFrameAt: (buf: Uint8Array, start: number, end: number) => void;
  private readonly onError: (error: FrameError) => void;

  /** Gathers a frame split across chunks: its first `gathered` bytes (size prefix included). */
  private acc: Uint8Array | null = null;
  private gathered = 0;
  /** Size prefix + size of the frame being gathered; 0 while the prefix is incomplete. */
  private frameTotal = 0;
  /** A refused size waiting for its header bytes (so the error can carry the correlation id); -1 if none. */
  private refusedSize = -1;
  private failed = false;

  constructor(opts: FrameParserOptions) {
    this.kind = opts.kind;
    this.frameBytesMax = opts.frameBytesMax ?? FRAME_BYTES_MAX;
    this.retainedBytesMax = opts.retainedBytesMax ?? FRAME_PARSER_RETAINED_BYTES_MAX;
    this.headerBytes = opts.kind === "request" ? REQUEST_HEADER_BYTES : RESPONSE_HEADER_BYTES;
    const onFrame = opts.onFrame;
    if (opts.onFrameAt !== undefined) this.onFrameAt = opts.onFrameAt;
    else if (onFrame !== undefined) this.onFrameAt = (buf, start, end) => onFrame(buf.subarray(start, end));
    else throw new TypeError("FrameParser needs onFrame or onFrameAt");
    this.onError = opts.onError;
  }

  /** Bytes of an unfinished frame held by the parser. */
  get bufferedBytes(): number {
    return this.gathered;
  }

  /** True while part of a frame has arrived but not all of it (for request timeouts). */
  get inFrame(): boolean {
    return this.gathered > 0;
  }

  /** True after a refused size: the stream can no longer be parsed. */
  get hasFailed(): boolean {
    return this.failed;
  }

  push(chunk: Uint8Array): void {
    if (this.failed) return;
    const n = chunk.length;
    let p = 0;
    if (this.gathered > 0) {
      p = this.continueGathering(chunk);
      if (p < 0) return;
    }
    while (p < n) {
      const left = n - p;
      if (left < FRAME_SIZE_BYTES) {
        this.startGathering(chunk, p, n, 0);
        return;
      }
      const size = readU32(chunk, p);
      if (!this.sizeOk(size)) {
        if (size < this.headerBytes || left >= FRAME_SIZE_BYTES + this.headerBytes) {
          this.fail(size, chunk, p + FRAME_SIZE_BYTES, n);
        } else {
          this.refusedSize = size;
          this.startGathering(chunk, p, n, 0);
        }
        return;
      }
      const total = FRAME_SIZE_BYTES + size;
      if (left < total) {
        this.startGathering(chunk, p, n, total);
        return;
      }
      p += total;
      this.onFrameAt(chunk, p - size, p);
    }
  }

  /** Drops any partial frame and a failure: the parser starts afresh (for a new connection). */
  reset(): void {
    this.gathered = 0;
    this.frameTotal = 0;
    this.refusedSize = -1;
    this.failed = false;
    if (this.acc !== null && this.acc.length > this.retainedBytesMax) this.acc = null;
  }

  private sizeOk(size: number): boolean {
    return size >= this.headerBytes && size <= this.frameBytesMax;
  }

  /** Copies chunk[p, n) as the start of a frame; `total` is 0 when the size prefix is not yet complete. */
  private startGathering(chunk: Uint8Array, p: number, n: number, total: number): void {
    this.frameTotal = total;
    this.gathered = 0;
    this.append(chunk, p, n);
  }

  /**
   * Appends chunk bytes to the gathered frame. Capacity grows by doubling with
   * the bytes that have arrived, never past the frame's (checked) total.
   */
  private append(chunk: Uint8Array, from: number, to: number): void {
    const needed = this.gathered + (to - from);
    // Callers take at most what the frame still lacks: memory follows a checked size, never an unchecked one.
    assert(this.frameTotal === 0 || needed <= this.frameTotal, "frame parser: gathered past the frame's size", needed);
    let acc = this.acc;
    if (acc === null || acc.length < needed) {
      let cap = acc === null ? PARSER_INITIAL_BYTES : acc.length * 2;
      while (cap < needed) cap *= 2;
      if (this.frameTotal > 0 && cap > this.frameTotal) cap = Math.max(this.frameTotal, needed);
      const grown = new Uint8Array(cap);
      if (acc !== null && this.gathered > 0) grown.set(acc.subarray(0, this.gathered));
      this.acc = acc = grown;
    }
    acc.set(chunk.subarray(from, to), this.gathered);
    this.gathered = needed;
  }

  /** Continues a gathered frame with `chunk`. Returns the chunk bytes consumed, or -1 if the chunk was used up (or the parser failed). */
  private continueGathering(chunk: Uint8Array): number {
    const n = chunk.length;
    let p = 0;
    if (this.frameTotal === 0 && this.refusedSize < 0) {
      // The size prefix itself was split.
      const take = Math.min(FRAME_SIZE_BYTES - this.gathered, n);
      this.append(chunk, 0, take);
      p = take;
      if (this.gathered < FRAME_SIZE_BYTES) return -1;
      const size = readU32(this.acc!, 0);
      if (!this.sizeOk(size)) {
        if (size < this.headerBytes) {
          this.fail(size, chunk, n, n);
          return -1;
        }
        this.refusedSize = size;
      } else {
        this.frameTotal = FRAME_SIZE_BYTES + size;
      }
    }
    if (this.refusedSize >= 0) {
      // Gather only the header of a refused frame (at most headerBytes), then report.
      const headerEnd = FRAME_SIZE_BYTES + this.headerBytes;
      const take = Math.min(headerEnd - this.gathered, n - p);
      this.append(chunk, p, p + take);
      if (this.gathered >= headerEnd) this.fail(this.refusedSize, this.acc!, FRAME_SIZE_BYTES, headerEnd);
      return -1;
    }
    const take = Math.min(this.frameTotal - this.gathered, n - p);
    this.append(chunk, p, p + take);
    p += take;
    if (this.gathered < this.frameTotal) return -1;
    const acc = this.acc!;
    const end = this.frameTotal;
    this.gathered = 0;
    this.frameTotal = 0;
    // A frame larger than the retained size is not kept around for the next one.
    if (acc.length > this.retainedBytesMax) this.acc = null;
    this.onFrameAt(acc, FRAME_SIZE_BYTES, end);
    return p;
  }

  /** Reports a refused size, with the header fields found in bytes[from, to) when they are all there. */
  private fail(size: number, bytes: Uint8Array, from: number, to: number): void {
    this.failed = true;
    this.gathered = 0;
    this.frameTotal = 0;
    this.refusedSize = -1;
    if (this.acc !== null && this.acc.length > this.retainedBytesMax) this.acc = null;
    const headerReadable = size >= this.headerBytes && to - from >= this.headerBytes;
    let apiKey: number | null = null;
    let apiVersion: number | null = null;
    let correlationId: number | null = null;
    if (headerReadable) {
      if (this.kind === "request") {
        apiKey = readU16(bytes, from);
        apiVersion = readU16(bytes, from + 2);
        correlationId = readU32(bytes, from + 4);
      } else {
        correlationId = readU32(bytes, from);
      }
    }
    const tooLarge = size > this.frameBytesMax;
    const message = tooLarge
      ? `frame size ${size} is larger than ${this.frameBytesMax}`
      : `frame size ${size} is smaller than the ${this.headerBytes}-byte ${this.kind} header`;
    this.onError(
      new FrameError(tooLarge ? ErrorCode.MESSAGE_TOO_LARGE : ErrorCode.INVALID_REQUEST, message, {
        size,
        correlationId,
        apiKey,
        apiVersion,
      }),
    );
  }
}
