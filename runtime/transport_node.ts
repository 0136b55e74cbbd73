// Transport over node:net, used on Node and Deno. node:net buffers without a
// limit and only signals pressure by `write()` returning false; this adapter
// honours that: after a false it keeps further bytes in its own OutputQueue
// (counted in `queuedBytes`) until 'drain', so callers see the real backlog.

import net from "node:net";
import { OutputQueue, type Transport, type TransportConnectOptions, type TransportSocket } from "./transport.ts";

class NodeSocket implements TransportSocket {
  private readonly queue = new OutputQueue();
  private dataHandler: (chunk: Uint8Array) => void = () => {};
  private closeHandler: (error: Error | undefined) => void = () => {};
  private drainHandler: () => void = () => {};
  private closed = false;
  /** Bytes handed to node:net whose write callback has not run yet. */
  private inKernelQueue = 0;
  private blocked = false;

  constructor(private readonly socket: net.Socket) {
    socket.on("data", (chunk: Uint8Array) => {
      if (!this.closed) this.dataHandler(chunk);
    });
    socket.on("drain", () => {
      this.blocked = false;
      this.flushQueue();
    });
    socket.on("error", (error: Error) => this.finish(error));
    socket.on("close", () => this.finish(undefined));
    socket.on("end", () => {
      socket.end();
      this.finish(undefined);
    });
  }

  get queuedBytes(): number {
    return this.queue.bytes + this.inKernelQueue;
  }

  get open(): boolean {
    return !this.closed;
  }

  write(bytes: Uint8Array): void {
    if (this.closed || bytes.length === 0) return;
    if (this.blocked || !this.queue.empty) {
      this.queue.pushCopy(bytes);
      return;
    }
    this.send(bytes.slice());
  }

  /** `owned` is not used by anyone else: node:net may hold it until sent. */
  private send(owned: Uint8Array): void {
    const n = owned.length;
    this.inKernelQueue += n;
    const ok = this.socket.write(owned, () => {
      this.inKernelQueue -= n;
      if (this.queuedBytes === 0 && !this.closed) this.drainHandler();
    });
    if (!ok) this.blocked = true;
  }

  private flushQueue(): void {
    while (!this.blocked && !this.closed) {
      const next = this.queue.peek();
      if (next === undefined) return;
      this.queue.consume(next.length);
      this.send(next);
    }
  }

  finish(error: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.clear();
    this.inKernelQueue = 0;
    this.socket.destroy();
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
    this.socket.end();
    this.finish(undefined);
  }
}

export const nodeTransport: Transport = {
  name: "node",
  connect(options: TransportConnectOptions): Promise<TransportSocket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: options.host, port: options.port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${options.host}:${options.port} timed out after ${options.connectTimeoutMs} ms`));
      }, options.connectTimeoutMs);
      const onError = (error: Error) => {
        clearTimeout(timer);
        reject(error);
      };
      socket.once("error", onError);
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.off("error", onError);
        resolve(new NodeSocket(socket));
      });
    });
  },
};
