// A connection's output: responses are encoded straight into one reusable
// Writer (`pending`) and written to the socket once per event-loop turn, so a
// burst of pipelined responses costs one socket write, not one per response.
//
// Large record payloads (fetch responses) are not copied into the writer:
// `commitPieces` writes a response given as pieces — the writer's bytes (frame
// and partition headers, and any responses before it) interleaved with views
// of the caller's buffers (the records) — straight to the socket, in order, one
// write per piece. The records are then copied once, by the kernel; and the
// writer never grows to the size of a fetch, so no fresh memory is touched per
// response (writing fresh memory costs ~10× more than reusing it).
//
// Bun's socket.write takes what the kernel accepts and drops the rest. What it
// did not take is kept as `held` segments, written first on the next `drain`:
// the rest of the writer's bytes are copied (the writer is reused at once);
// views of a caller's buffer are kept as they are, and the caller's `release`
// runs once the last of them was written (or the queue closed). While segments
// are held, new responses keep collecting in `pending`, behind them.
//
// Bound: while the socket is refusing bytes (the peer is behind), the bytes
// queued (held + pending) may not pass `bytesMax` (OUTPUT_BYTES_MAX by
// default): a peer that does not read its responses is cut off (`onOverflow`)
// instead of growing the broker's memory. (The connection also stops reading
// new requests past OUTPUT_PAUSE_BYTES, so only requests already read can
// add to the queue; the held segments are at most 2 × partitions + 1 per
// response, and responses are bounded by the requests in flight.)

import { Writer } from "../../protocol/codec.ts";
import type { ServerSocket } from "../../runtime/listener_bun.ts";
import { OUTPUT_FLUSH_EARLY_BYTES, OUTPUT_RETAINED_BYTES_MAX, OUTPUT_UNSENT_INITIAL_BYTES, OUTPUT_WRITER_INITIAL_BYTES } from "../engine_limits.ts";

/** Bytes the socket refused, to be written first on `drain`. */
interface HeldSegment {
  bytes: Uint8Array;
  /** Runs once these bytes were written (or the queue closed): the caller's buffer is free again. */
  release: (() => void) | null;
}

export class OutputQueue {
  readonly #socket: ServerSocket;
  readonly #bytesMax: number;
  readonly #onOverflow: () => void;
  /** Called after bytes left the queue (so the connection can resume reading). */
  readonly #onFlushed: () => void;
  #pending = new Writer({ initialBytes: OUTPUT_WRITER_INITIAL_BYTES });
  /** FIFO of held segments: entries before `#heldHead` are gone. */
  #held: HeldSegment[] = [];
  #heldHead = 0;
  #heldBytes = 0;
  /** Reused for the rest of the writer's bytes the socket did not take (one at a time: see flush). */
  #unsent: Uint8Array = new Uint8Array(0);
  #flushScheduled = false;
  #closed = false;

  constructor(options: { socket: ServerSocket; bytesMax: number; onOverflow: () => void; onFlushed: () => void }) {
    this.#socket = options.socket;
    this.#bytesMax = options.bytesMax;
    this.#onOverflow = options.onOverflow;
    this.#onFlushed = options.onFlushed;
  }

  /** The writer to encode the next response into. Call `commit()` (or `commitPieces`) when the response is complete. */
  get writer(): Writer {
    return this.#pending;
  }

  /** Bytes queued and not yet taken by the socket. */
  get queuedBytes(): number {
    return this.#pending.length + this.#heldBytes;
  }

  /** Segments waiting for the socket (for tests). */
  get heldSegments(): number {
    return this.#held.length - this.#heldHead;
  }

  /** A response was appended to `writer`: schedule the flush, enforce the bound. */
  commit(): void {
    if (this.#closed) {
      this.#pending.reset();
      return;
    }
    // Only a peer that is behind (the socket refused bytes) can overflow: one
    // large response to a client that reads is not a reason to cut it off.
    if (this.#overBound()) return this.#overflow();
    // Past a threshold, write now rather than at the end of the turn: a burst of
    // large responses then meets the socket's limit (and the bound) early.
    if (this.#pending.length >= OUTPUT_FLUSH_EARLY_BYTES) return this.flush();
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#flushTurn);
    }
  }

  /**
   * Writes a response given as pieces, in order, now: pieces at even indexes
   * are views of `writer`'s bytes from byte 0 (everything committed before it
   * and this response's headers), pieces at odd indexes are views of the
   * caller's buffers (as protocol/messages/fetch.ts writeFetchResponsePieces
   * returns them). `release` runs once no piece of the caller's is referenced
   * any more — at once when the socket took everything.
   */
  commitPieces(pieces: readonly Uint8Array[], release: () => void): void {
    const pending = this.#pending;
    if (this.#closed) {
      pending.reset();
      release();
      return;
    }
    const before = this.queuedBytes;
    /** The last held segment that is a view of the caller's buffers: `release` waits for it. */
    let callerTail: HeldSegment | null = null;
    let i = 0;
    if (this.heldSegments === 0) {
      // Nothing queued before it: straight to the socket, while it takes everything.
      for (; i < pieces.length; i++) {
        const p = pieces[i];
        if (p.length === 0) continue;
        const n = this.#socket.write(p, 0, p.length);
        if (n < p.length) {
          const seg = this.#hold(p.subarray(n), (i & 1) === 0);
          if ((i & 1) === 1) callerTail = seg;
          i++;
          break;
        }
      }
    }
    for (; i < pieces.length; i++) {
      if (pieces[i].length === 0) continue;
      const seg = this.#hold(pieces[i], (i & 1) === 0);
      if ((i & 1) === 1) callerTail = seg;
    }
    // The writer's bytes were written or copied: it is free for the next response.
    pending.reset();
    // Segments leave in order, so once the last view of the caller's is written, all are.
    if (callerTail !== null) callerTail.release = release;
    else release();
    this.#afterWrite(before);
  }

  /** The socket can take more bytes. */
  drain(): void {
    this.flush();
  }

  close(): void {
    this.#closed = true;
    this.#pending = new Writer({ initialBytes: 16 });
    this.#unsent = new Uint8Array(0);
    const held = this.#held;
    const from = this.#heldHead;
    this.#held = [];
    this.#heldHead = 0;
    this.#heldBytes = 0;
    for (let k = from; k < held.length; k++) held[k].release?.();
  }

  readonly #flushTurn = (): void => {
    this.#flushScheduled = false;
    this.flush();
  };

  /** Writes as much as the socket takes now: held segments first, then what is pending. */
  flush(): void {
    if (this.#closed) return;
    const before = this.queuedBytes;
    while (this.#heldHead < this.#held.length) {
      const seg = this.#held[this.#heldHead];
      const n = this.#socket.write(seg.bytes, 0, seg.bytes.length);
      this.#heldBytes -= n;
      if (n < seg.bytes.length) {
        seg.bytes = seg.bytes.subarray(n);
        return this.#afterWrite(before);
      }
      this.#shiftHeld();
    }
    const pending = this.#pending;
    if (pending.length > 0) {
      const bytes = pending.finish();
      const n = this.#socket.write(bytes, 0, bytes.length);
      // Nothing is held here, so the reused unsent buffer is free.
      if (n < bytes.length) this.#holdUnsent(bytes.subarray(n));
      pending.reset();
      if (pending.capacity > OUTPUT_RETAINED_BYTES_MAX) this.#pending = new Writer({ initialBytes: OUTPUT_WRITER_INITIAL_BYTES });
    }
    this.#afterWrite(before);
  }

  // ---------------------------------------------------------------- internals

  #overBound(): boolean {
    return this.queuedBytes > this.#bytesMax && this.heldSegments > 0;
  }

  #overflow(): void {
    this.#closed = true;
    this.#onOverflow();
  }

  #afterWrite(before: number): void {
    if (this.#closed) return;
    if (this.#overBound()) return this.#overflow();
    if (this.heldSegments === 0 && this.#unsent.length > OUTPUT_RETAINED_BYTES_MAX) this.#unsent = new Uint8Array(0);
    if (this.queuedBytes < before) this.#onFlushed();
  }

  /** Holds `bytes` behind what is held; a view of the writer (`fromWriter`) is copied, a caller's view is kept. */
  #hold(bytes: Uint8Array, fromWriter: boolean): HeldSegment {
    if (!fromWriter) return this.#pushHeld(bytes);
    // The reused buffer is free only while nothing is held (it may back the oldest segment).
    if (this.heldSegments === 0) return this.#holdUnsent(bytes);
    return this.#pushHeld(bytes.slice());
  }

  /** Copies the rest of the writer's bytes into the reused unsent buffer and holds it. Only while nothing is held. */
  #holdUnsent(rest: Uint8Array): HeldSegment {
    if (this.#unsent.length < rest.length) this.#unsent = new Uint8Array(Math.max(rest.length, OUTPUT_UNSENT_INITIAL_BYTES));
    this.#unsent.set(rest, 0);
    return this.#pushHeld(this.#unsent.subarray(0, rest.length));
  }

  #pushHeld(bytes: Uint8Array): HeldSegment {
    const seg: HeldSegment = { bytes, release: null };
    this.#held.push(seg);
    this.#heldBytes += bytes.length;
    return seg;
  }

  #shiftHeld(): void {
    const seg = this.#held[this.#heldHead];
    this.#held[this.#heldHead] = undefined as unknown as HeldSegment;
    this.#heldHead++;
    if (this.#heldHead === this.#held.length) {
      this.#held = [];
      this.#heldHead = 0;
    }
    seg.release?.();
  }
}
