// The native protocol server: accepts connections (bounded by
// connectionsMax; one more is closed at once), owns the per-server shared
// pieces (dispatcher, stats, the produce deadline timer, scratch buffers), and
// runs one slow sweep for request timeouts.
//
// Graceful shutdown (`drain`): stop accepting, stop reading every connection,
// let parked fetches answer now, wait (bounded) until every request read is
// answered and every response written, then close the connections.

import { listenTcp, type ServerSocket, type TcpListener } from "../../runtime/listener_bun.ts";
import { TimeoutLists } from "../timeout_lists.ts";
import type { Engine } from "../engine.ts";
import { Connection } from "./connection.ts";
import type { Dispatcher } from "./dispatch.ts";
import { OutputQueue } from "./output_queue.ts";
import { ScratchPool } from "./scratch_pool.ts";
import type { NativeServerHost } from "./server_host.ts";
import { ServerStats } from "./server_stats.ts";
import { DRAIN_POLL_MS, TIMEOUT_SWEEP_MS_MAX } from "../engine_limits.ts";

export interface NativeServerOptions {
  engine: Engine;
  dispatcher: Dispatcher;
  host: string;
  port: number;
  connectionsMax: number;
  requestTimeoutMs: number;
  outputBytesMax: number;
  log: (line: string) => void;
}

export class NativeServer implements NativeServerHost {
  readonly engine: Engine;
  readonly dispatcher: Dispatcher;
  readonly stats: ServerStats;
  readonly produceDeadlines = new TimeoutLists();
  readonly scratch = new ScratchPool();
  readonly connections = new Set<Connection>();
  readonly #options: NativeServerOptions;
  readonly #listener: TcpListener;
  readonly #sweepTimer: ReturnType<typeof setInterval>;
  #shuttingDown = false;

  constructor(options: NativeServerOptions) {
    this.#options = options;
    this.engine = options.engine;
    this.dispatcher = options.dispatcher;
    this.stats = new ServerStats(options.dispatcher);
    this.#listener = listenTcp<Connection | null>({
      host: options.host,
      port: options.port,
      handlers: {
        open: (socket) => this.#accept(socket),
        data: (conn, chunk) => conn?.onData(chunk),
        drain: (conn) => conn?.out.drain(),
        close: (conn) => conn?.onSocketClosed(),
      },
    });
    const sweepMs = Math.max(10, Math.min(TIMEOUT_SWEEP_MS_MAX, Math.floor(options.requestTimeoutMs / 4)));
    this.#sweepTimer = setInterval(() => this.#sweepTimeouts(), sweepMs);
  }

  get port(): number {
    return this.#listener.port;
  }

  get host(): string {
    return this.#listener.host;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  log(line: string): void {
    this.#options.log(line);
  }

  #accept(socket: ServerSocket): Connection | null {
    if (this.#shuttingDown || this.connections.size >= this.#options.connectionsMax) {
      this.stats.connectionsRefused++;
      socket.terminate();
      return null;
    }
    this.stats.connectionsAccepted++;
    const conn = new Connection(socket, this, (c) =>
      new OutputQueue({
        socket,
        bytesMax: this.#options.outputBytesMax,
        onOverflow: () => {
          this.stats.outputOverflows++;
          c.close(false);
        },
        onFlushed: () => c.updatePause(),
      }),
    );
    this.connections.add(conn);
    return conn;
  }

  connectionClosed(conn: Connection): void {
    this.connections.delete(conn);
  }

  #sweepTimeouts(): void {
    const now = Date.now();
    const limit = this.#options.requestTimeoutMs;
    for (const conn of this.connections) {
      if (conn.partialSinceMs !== 0 && !conn.paused && now - conn.partialSinceMs > limit) {
        this.stats.requestTimeouts++;
        conn.close(false);
      }
    }
  }

  /**
   * Graceful stop of the protocol side. Resolves when every connection is idle
   * (or `timeoutMs` passed) and all are closed. The engine is still running
   * during the wait (in-flight produces need their acks); the caller closes it after.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.#shuttingDown = true;
    this.#listener.stop(false);
    for (const conn of this.connections) conn.updatePause();
    // Parked fetches answer now with what there is.
    this.engine.stopWaiting();
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      let busy = false;
      for (const conn of this.connections) {
        if (!conn.idle) {
          busy = true;
          break;
        }
      }
      if (!busy) break;
      await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
    }
    this.close();
  }

  /** Closes every connection and the listener now. */
  close(): void {
    this.#shuttingDown = true;
    clearInterval(this.#sweepTimer);
    this.produceDeadlines.expireAll();
    for (const conn of [...this.connections]) conn.close(true);
    this.#listener.stop(true);
  }
}
