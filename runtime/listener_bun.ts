// TCP listener on Bun (Bun.listen): the only place the broker touches Bun's
// socket API. The engine sees a ServerSocket (write what fits, pause/resume
// reading, end) and a handler per event; nothing else of Bun leaks out.
//
// Facts this relies on (docs/RUNTIME.md, "Sockets"):
// - socket.write writes what it can and returns the count; the rest is NOT
//   kept. The caller keeps it and writes again on `drain`.
// - socket.pause() stops reading (the peer sees TCP backpressure); resume()
//   starts again.
// - Each `data` chunk is a fresh buffer: views into it stay valid after the
//   handler returns.

import type { Socket, TCPSocketListener } from "bun";

export interface ServerSocket {
  /** Writes bytes[offset, offset+length) as far as the kernel takes them; returns the count written. */
  write(bytes: Uint8Array, offset: number, length: number): number;
  pause(): void;
  resume(): void;
  /** Closes after what was written is sent. */
  end(): void;
  /** Closes now. */
  terminate(): void;
  readonly remoteAddress: string;
}

export interface ConnectionHandlers<C> {
  /** A connection arrived; return its context (handed to the other handlers). */
  open(socket: ServerSocket): C;
  data(context: C, chunk: Uint8Array): void;
  /** The socket can take more bytes. */
  drain(context: C): void;
  /** The connection is gone (either side closed it, or it failed). Called once. */
  close(context: C, error?: Error): void;
}

export interface TcpListener {
  readonly host: string;
  readonly port: number;
  /** Stops accepting. With `closeActive`, also closes every open connection. */
  stop(closeActive: boolean): void;
}

interface SocketData {
  context: unknown;
  closed: boolean;
}

class BunServerSocket implements ServerSocket {
  readonly #socket: Socket<SocketData>;
  constructor(socket: Socket<SocketData>) {
    this.#socket = socket;
  }
  write(bytes: Uint8Array, offset: number, length: number): number {
    const n = this.#socket.write(bytes, offset, length);
    return n < 0 ? 0 : n;
  }
  pause(): void {
    this.#socket.pause();
  }
  resume(): void {
    this.#socket.resume();
  }
  end(): void {
    this.#socket.end();
  }
  terminate(): void {
    this.#socket.terminate();
  }
  get remoteAddress(): string {
    return this.#socket.remoteAddress;
  }
}

export function listenTcp<C>(options: { host: string; port: number; handlers: ConnectionHandlers<C> }): TcpListener {
  const { handlers } = options;
  const finish = (socket: Socket<SocketData>, error?: Error): void => {
    const data = socket.data;
    if (data.closed) return;
    data.closed = true;
    handlers.close(data.context as C, error);
  };
  const listener: TCPSocketListener<SocketData> = Bun.listen<SocketData>({
    hostname: options.host,
    port: options.port,
    data: { context: undefined, closed: false },
    socket: {
      binaryType: "uint8array",
      open(socket) {
        socket.data = { context: undefined, closed: false };
        socket.setNoDelay(true);
        socket.data.context = handlers.open(new BunServerSocket(socket));
      },
      data(socket, chunk) {
        if (!socket.data.closed) handlers.data(socket.data.context as C, chunk);
      },
      drain(socket) {
        if (!socket.data.closed) handlers.drain(socket.data.context as C);
      },
      close(socket, error) {
        finish(socket, error);
      },
      error(socket, error) {
        finish(socket, error);
      },
      end(socket) {
        // The peer closed its side; we do not keep half-open connections.
        socket.end();
      },
    },
  });
  return {
    host: options.host,
    port: listener.port,
    stop: (closeActive) => listener.stop(closeActive),
  };
}
