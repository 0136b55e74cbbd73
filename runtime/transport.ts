// The byte-stream contract between the client and a runtime's TCP sockets.
//
// Why an interface: Bun's sockets (Bun.connect) are the fastest here, while
// node:net is what Node and Deno share. The client speaks only to this
// interface; one small adapter per runtime implements it (transport_bun.ts,
// transport_node.ts) and runtime/mod.ts picks one.
//
// Contract every adapter keeps (checked by test/client_transport.test.ts,
// which runs the same suite against each adapter):
// - `write(bytes)` never drops bytes. What the kernel does not take at once is
//   copied into the adapter's own output queue and sent, in order, when the
//   socket drains. The caller may reuse `bytes` as soon as `write` returns.
// - `queuedBytes` is the size of that queue: a caller that cares about memory
//   stops producing while it is above its own limit and resumes on `onDrain`.
// - `onData` chunks belong to the receiver (the adapter never reuses them).
// - `onClose` fires exactly once, whether the peer closed, the connection
//   failed, or `close()` was called; after it, `write` is a no-op.

export interface TransportConnectOptions {
  readonly host: string;
  readonly port: number;
  /** Give up connecting after this long (the connect promise rejects). */
  readonly connectTimeoutMs: number;
}

export interface TransportSocket {
  /** Sends `bytes` (in order, eventually); the adapter copies whatever it must keep. */
  write(bytes: Uint8Array): void;
  /** Bytes accepted by `write` but not yet handed to the kernel. */
  readonly queuedBytes: number;
  /** True until the connection has closed for any reason. */
  readonly open: boolean;
  onData(handler: (chunk: Uint8Array) => void): void;
  /** Called once; `error` is set when the connection failed rather than closed cleanly. */
  onClose(handler: (error: Error | undefined) => void): void;
  /** Called each time the output queue becomes empty after having held bytes. */
  onDrain(handler: () => void): void;
  close(): void;
}

export interface Transport {
  /** "bun" or "node" (node:net, also used on Deno). */
  readonly name: string;
  connect(options: TransportConnectOptions): Promise<TransportSocket>;
}

/**
 * The output queue both adapters use: chunks in order plus a read position
 * into the first. Bounded by the caller (see `queuedBytes` in the contract).
 */
export class OutputQueue {
  private chunks: Uint8Array[] = [];
  private head = 0;
  private headOffset = 0;
  bytes = 0;

  get empty(): boolean {
    return this.bytes === 0;
  }

  /** Keeps a private copy of `bytes` (the caller may reuse its buffer). */
  pushCopy(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.chunks.push(bytes.slice());
    this.bytes += bytes.length;
  }

  /** The next unsent bytes (a view into the first chunk), or undefined when empty. */
  peek(): Uint8Array | undefined {
    if (this.head >= this.chunks.length) return undefined;
    const chunk = this.chunks[this.head];
    return this.headOffset === 0 ? chunk : chunk.subarray(this.headOffset);
  }

  /** Marks `n` bytes of the chunk returned by `peek()` as sent. */
  consume(n: number): void {
    const chunk = this.chunks[this.head];
    if (chunk === undefined || n > chunk.length - this.headOffset) throw new Error("OutputQueue: consume past the head chunk");
    this.bytes -= n;
    this.headOffset += n;
    if (this.headOffset === chunk.length) {
      this.head++;
      this.headOffset = 0;
      // Compact now and then so the array does not grow without bound.
      if (this.head === this.chunks.length) {
        this.chunks = [];
        this.head = 0;
      } else if (this.head >= 64 && this.head * 2 >= this.chunks.length) {
        this.chunks = this.chunks.slice(this.head);
        this.head = 0;
      }
    }
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.headOffset = 0;
    this.bytes = 0;
  }
}
