// A connection's output: responses are encoded straight into one reusable
// Writer (`pending`) and written to the socket once per event-loop turn, so a
// burst of pipelined responses costs one socket write, not one per response.
//
// Bun's socket.write takes what the kernel accepts and drops the rest; what it
// did not take is copied to `unsent` and written first on the next `drain`.
// While `unsent` is not empty, new responses keep collecting in `pending`.
//
// Bound: while the socket is refusing bytes (the peer is behind), the bytes
// queued (unsent + pending) may not pass `bytesMax` (OUTPUT_BYTES_MAX by
// default): a peer that does not read its responses is cut off (`onOverflow`)
// instead of growing the broker's memory. (The connection also stops reading
// new requests past OUTPUT_PAUSE_BYTES, so only requests already read can
// add to the queue.)

import { Writer } from "../../protocol/codec.ts";
import type { ServerSocket } from "../../runtime/listener_bun.ts";

/** Responses queued in one turn past this are written at once instead of at the end of the turn. */
export const FLUSH_EARLY_BYTES = 1024 * 1024;

/** A Writer that grew past this is dropped once empty, so one large response does not pin memory forever. */
export const OUTPUT_RETAINED_BYTES_MAX = 1024 * 1024;

export class OutputQueue {
  readonly #socket: ServerSocket;
  readonly #bytesMax: number;
  readonly #onOverflow: () => void;
  /** Called after bytes left the queue (so the connection can resume reading). */
  readonly #onFlushed: () => void;
  #pending = new Writer({ initialBytes: 16 * 1024 });
  #unsent: Uint8Array = new Uint8Array(0);
  #unsentStart = 0;
  #unsentEnd = 0;
  #flushScheduled = false;
  #closed = false;

  constructor(options: { socket: ServerSocket; bytesMax: number; onOverflow: () => void; onFlushed: () => void }) {
    this.#socket = options.socket;
    this.#bytesMax = options.bytesMax;
    this.#onOverflow = options.onOverflow;
    this.#onFlushed = options.onFlushed;
  }

  /** The writer to encode the next response into. Call `commit()` when the response is complete. */
  get writer(): Writer {
    return this.#pending;
  }

  /** Bytes queued and not yet taken by the socket. */
  get queuedBytes(): number {
    return this.#pending.length + (this.#unsentEnd - this.#unsentStart);
  }

  /** A response was appended to `writer`: schedule the flush, enforce the bound. */
  commit(): void {
    if (this.#closed) {
      this.#pending.reset();
      return;
    }
    // Only a peer that is behind (the socket refused bytes) can overflow: one
    // large response to a client that reads is not a reason to cut it off.
    if (this.queuedBytes > this.#bytesMax && this.#unsentEnd > this.#unsentStart) {
      this.#closed = true;
      this.#onOverflow();
      return;
    }
    // Past a threshold, write now rather than at the end of the turn: a burst of
    // large responses then meets the socket's limit (and the bound) early.
    if (this.#pending.length >= FLUSH_EARLY_BYTES) return this.flush();
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#flushTurn);
    }
  }

  /** The socket can take more bytes. */
  drain(): void {
    this.flush();
  }

  close(): void {
    this.#closed = true;
    this.#pending = new Writer({ initialBytes: 16 });
    this.#unsent = new Uint8Array(0);
    this.#unsentStart = this.#unsentEnd = 0;
  }

  readonly #flushTurn = (): void => {
    this.#flushScheduled = false;
    this.flush();
  };

  /** Writes as much as the socket takes now. */
  flush(): void {
    if (this.#closed) return;
    const before = this.queuedBytes;
    if (this.#unsentEnd > this.#unsentStart) {
      const n = this.#socket.write(this.#unsent, this.#unsentStart, this.#unsentEnd - this.#unsentStart);
      this.#unsentStart += n;
      if (this.#unsentStart < this.#unsentEnd) return this.#afterWrite(before);
      this.#unsentStart = this.#unsentEnd = 0;
    }
    const pending = this.#pending;
    if (pending.length > 0) {
      const bytes = pending.finish();
      const n = this.#socket.write(bytes, 0, bytes.length);
      if (n < bytes.length) this.#keepUnsent(bytes, n);
      pending.reset();
      if (pending.capacity > OUTPUT_RETAINED_BYTES_MAX) this.#pending = new Writer({ initialBytes: 16 * 1024 });
    }
    this.#afterWrite(before);
  }

  #afterWrite(before: number): void {
    if (this.queuedBytes > this.#bytesMax && this.#unsentEnd > this.#unsentStart) {
      this.#closed = true;
      this.#onOverflow();
      return;
    }
    if (this.#unsentEnd === this.#unsentStart && this.#unsent.length > OUTPUT_RETAINED_BYTES_MAX) {
      this.#unsent = new Uint8Array(0);
      this.#unsentStart = this.#unsentEnd = 0;
    }
    if (this.queuedBytes < before) this.#onFlushed();
  }

  #keepUnsent(bytes: Uint8Array, from: number): void {
    const rest = bytes.length - from;
    if (this.#unsent.length < rest) this.#unsent = new Uint8Array(Math.max(rest, 64 * 1024));
    this.#unsent.set(bytes.subarray(from), 0);
    this.#unsentStart = 0;
    this.#unsentEnd = rest;
  }
}
