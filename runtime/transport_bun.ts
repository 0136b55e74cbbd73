// Transport over Bun.connect. Bun's `socket.write` writes what the kernel takes
// and returns the count; the rest is dropped unless kept, so this adapter keeps
// it in an OutputQueue and sends it from the `drain` handler.

import type { Socket } from "bun";
import { OutputQueue, type Transport, type TransportConnectOptions, type TransportSocket } from "./transport.ts";

class BunSocket implements TransportSocket {
  socket: Socket<undefined> | undefined;
  private readonly queue = new OutputQueue();
  private dataHandler: (chunk: Uint8Array) => void = () => {};
  private closeHandler: (error: Error | undefined) => void = () => {};
  private drainHandler: () => void = () => {};
  private closed = false;

  get queuedBytes(): number {
    return this.queue.bytes;
  }

  get open(): boolean {
    return !this.closed;
  }

  write(bytes: Uint8Array): void {
    if (this.closed || bytes.length === 0) return;
    const socket = this.socket;
    if (socket === undefined || !this.queue.empty) {
      this.queue.pushCopy(bytes);
      return;
    }
    const written = socket.write(bytes);
    if (written < 0) return; // closed underneath us; the close handler reports it
    if (written < bytes.length) this.queue.pushCopy(bytes.subarray(written));
  }

  /** Sends queued bytes until the kernel stops taking them. */
  flushQueue(): void {
    const socket = this.socket;
    if (socket === undefined || this.closed) return;
    const hadBytes = !this.queue.empty;
    for (let next = this.queue.peek(); next !== undefined; next = this.queue.peek()) {
      const written = socket.write(next);
      if (written <= 0) return;
      this.queue.consume(written);
      if (written < next.length) return;
    }
    if (hadBytes) this.drainHandler();
  }

  deliver(chunk: Uint8Array): void {
    if (!this.closed) this.dataHandler(chunk);
  }

  finish(error: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.clear();
    this.closeHandler(error);
  }

  onData(handler: (chunk: Uint8Array) => void): void {
    this.dataHandler = handler;
  }

  onClose(handler: (error: Error | undefined) => void): void {
    this.closeHandler = handler;
  }

  onDrain(handler: () => void): void {
    this.drainHandler = handler;
  }

  close(): void {
    if (this.closed) return;
    this.socket?.end();
    this.finish(undefined);
  }
}

export const bunTransport: Transport = {
  name: "bun",
  async connect(options: TransportConnectOptions): Promise<TransportSocket> {
    const wrapper = new BunSocket();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let timedOut = false;
    const connecting = Bun.connect({
      hostname: options.host,
      port: options.port,
      socket: {
        open(socket) {
          if (timedOut) socket.end();
        },
        data(_socket, data) {
          wrapper.deliver(data);
        },
        drain() {
          wrapper.flushQueue();
        },
        end(socket) {
          // The peer closed its side: we have nothing more to say either.
          socket.end();
          wrapper.finish(undefined);
        },
        close(_socket, error) {
          wrapper.finish(error ?? undefined);
        },
        error(_socket, error) {
          wrapper.finish(error);
        },
      },
    });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(new Error(`connect to ${options.host}:${options.port} timed out after ${options.connectTimeoutMs} ms`));
      }, options.connectTimeoutMs);
    });
    try {
      const socket = await Promise.race([connecting, timeout]);
      socket.setNoDelay(true);
      wrapper.socket = socket;
      wrapper.flushQueue();
      return wrapper;
    } finally {
      clearTimeout(timer);
    }
  },
};
