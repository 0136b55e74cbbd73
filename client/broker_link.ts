// A lasting link to the broker over a BrokerConnection that is replaced when
// it breaks (with several bootstrap addresses, a failed connect moves on to
// the next one). Connecting is lazy (on the first request) and, after failures,
// backs off exponentially up to reconnectBackoffMsMax, so a broker that is
// restarting is not hammered, and callers learn within connectTimeoutMs that
// it is unreachable (ConnectionError, retriable).
//
// The link never repeats a request by itself: a request in flight when the
// connection breaks fails with ConnectionError, and the caller decides
// (the producer retries in partition order, the consumer refetches, the
// admin retries only reads).

import type { ControlApiKey, ControlRequest, ControlResponse } from "../protocol/messages/control.ts";
import { decodeControlResponse, encodeControlRequest } from "../protocol/messages/control.ts";
import { backoffMs } from "./backoff.ts";
import { BrokerConnection, type BodyEncoder, type RequestHandler, type RequestOptions } from "./connection.ts";
import { ClientClosedError, ConnectionError } from "./errors.ts";
import type { ClientConfig } from "./options.ts";

/** What the producer, consumer and admin need from a link (tests substitute a fake). */
export interface RequestLink {
  request(apiKey: number, encodeBody: BodyEncoder, options?: RequestOptions): Promise<Uint8Array>;
  /**
   * The same without a promise (BrokerConnection.send): `handler` is told the
   * outcome exactly once, never from inside this call. A link without it is
   * driven through request() (see sendThrough).
   */
  send?(apiKey: number, handler: RequestHandler, options?: RequestOptions): void;
  close(): void;
}

/** Sends `handler`'s request over `link`, through request() when the link has no send(). */
export function sendThrough(link: RequestLink, apiKey: number, handler: RequestHandler, options?: RequestOptions): void {
  if (link.send !== undefined) {
    link.send(apiKey, handler, options);
    return;
  }
  link.request(apiKey, (w) => handler.encodeBody(w), options).then(
    (body) => handler.onResponse(body, 0, body.length),
    (error) => handler.onError(error instanceof Error ? error : new Error(String(error))),
  );
}

export class BrokerLink implements RequestLink {
  private readonly config: ClientConfig;
  private readonly what: string;
  private connection: BrokerConnection | undefined;
  private connecting: Promise<BrokerConnection> | undefined;
  /** The connect attempts under way (see abandonConnect); undefined when none. */
  private attempt: ConnectAttempt | undefined;
  /** Consecutive failed connection attempts (reset by a success). */
  private failures = 0;
  private nextAttemptAt = 0;
  private closed = false;
  /** send() calls waiting for a connection (see send). */
  private sendsAwaitingConnection = 0;
  /** Connections opened over the link's life (1 + reconnects). */
  connectionsOpened = 0;
  /** Which bootstrap address the next connection tries (moves on after a failed connect). */
  private addressIndex = 0;

  /** Told of each failed connect attempt (the leader router looks the broker's partitions up again). */
  private readonly onConnectFailed: (() => void) | undefined;

  constructor(config: ClientConfig, what: string, onConnectFailed?: () => void) {
    this.config = config;
    this.what = what;
    this.onConnectFailed = onConnectFailed;
  }

  get connected(): boolean {
    return this.connection !== undefined && !this.connection.closed;
  }

  /**
   * Stops waiting for a connection that is being tried: every request waiting
   * for it fails now with a connect-phase ConnectionError (none of them was
   * written, so a caller may send them elsewhere), as the link would after
   * connectTimeoutMs. Used when Metadata names another broker as leader: a
   * dead broker's address refuses connects until the link gives up, and what
   * waits for it must not wait that long. The back-off between attempts is
   * kept, so the next request does not hammer the address. No-op when
   * connected or not connecting.
   */
  abandonConnect(why: string): void {
    const attempt = this.attempt;
    if (attempt === undefined || this.connected) return;
    this.attempt = undefined;
    this.connecting = undefined;
    attempt.abandon(new ConnectionError(`${this.what}: connecting abandoned: ${why}`, { phase: "connect" }));
  }

  async request(apiKey: number, encodeBody: BodyEncoder, options?: RequestOptions): Promise<Uint8Array> {
    const connection = await this.connect();
    return connection.request(apiKey, encodeBody, options);
  }

  send(apiKey: number, handler: RequestHandler, options?: RequestOptions): void {
    const expectResponse = options?.expectResponse ?? true;
    const extraTimeoutMs = options?.extraTimeoutMs ?? 0;
    const current = this.connection;
    // Not while earlier sends still wait for the connection: they go first, in order.
    if (this.sendsAwaitingConnection === 0 && !this.closed && current !== undefined && !current.closed) {
      current.send(apiKey, handler, expectResponse, extraTimeoutMs);
      return;
    }
    this.sendsAwaitingConnection++;
    this.connect().then(
      (connection) => {
        this.sendsAwaitingConnection--;
        connection.send(apiKey, handler, expectResponse, extraTimeoutMs);
      },
      (error) => {
        this.sendsAwaitingConnection--;
        handler.onError(error instanceof Error ? error : new Error(String(error)));
      },
    );
  }

  /** The open connection, connecting (with backoff between failures) if there is none. */
  connect(): Promise<BrokerConnection> {
    if (this.closed) return Promise.reject(new ClientClosedError(this.what));
    const current = this.connection;
    if (current !== undefined && !current.closed) return Promise.resolve(current);
    if (this.connecting === undefined) {
      const attempt = new ConnectAttempt();
      this.attempt = attempt;
      const connecting: Promise<BrokerConnection> = Promise.race([this.connectWithBackoff(attempt), attempt.abandoned]).finally(() => {
        if (this.attempt === attempt) this.attempt = undefined;
        if (this.connecting === connecting) this.connecting = undefined;
      });
      this.connecting = connecting;
    }
    return this.connecting;
  }

  private async connectWithBackoff(attempt: ConnectAttempt): Promise<BrokerConnection> {
    const started = Date.now();
    const deadline = started + this.config.connectTimeoutMs;
    let lastError: unknown;
    let attempts = 0;
    for (;;) {
      const wait = this.nextAttemptAt - Date.now();
      if (wait > 0) {
        if (Date.now() + wait > deadline) break;
        await attempt.delay(wait);
      }
      if (this.closed) throw new ClientClosedError(this.what);
      // Abandoned (abandonConnect): its waiters are gone; a later connect() starts afresh.
      if (attempt.isAbandoned) throw attempt.reason!;
      attempts++;
      const bootstrap = this.config.bootstrap;
      const address = bootstrap.length > 0 ? bootstrap[this.addressIndex % bootstrap.length] : this.config;
      try {
        const connection = await BrokerConnection.open({
          ...this.config,
          host: address.host,
          port: address.port,
          connectTimeoutMs: Math.max(1, Math.min(this.config.connectTimeoutMs, deadline - Date.now())),
        });
        if (this.closed) {
          connection.close();
          throw new ClientClosedError(this.what);
        }
        if (attempt.isAbandoned && this.connected) {
          // A newer attempt got there first: one connection per link.
          connection.close();
          throw attempt.reason!;
        }
        this.failures = 0;
        this.nextAttemptAt = 0;
        this.connection = connection;
        this.connectionsOpened++;
        return connection;
      } catch (e) {
        if (e instanceof ClientClosedError) throw e;
        if (attempt.isAbandoned) throw attempt.reason!; // a newer attempt keeps the back-off and the address
        lastError = e;
        // Several brokers given: the next attempt tries the next one.
        this.addressIndex++;
        this.nextAttemptAt =
          Date.now() + backoffMs(this.failures, { initialMs: this.config.reconnectBackoffMs, maxMs: this.config.reconnectBackoffMsMax });
        this.failures++;
        if (!(e instanceof ConnectionError)) throw e; // a broker that answers wrongly: no point retrying here
        this.onConnectFailed?.();
      }
      if (Date.now() >= deadline) break;
    }
    const message = lastError instanceof Error ? lastError.message : `cannot connect to ${this.config.host}:${this.config.port}`;
    throw new ConnectionError(`${message} (${attempts} attempt(s) in ${Date.now() - started} ms)`, { cause: lastError, phase: "connect" });
  }

  close(): void {
    this.closed = true;
    this.connection?.close(new ClientClosedError(this.what));
    this.connection = undefined;
  }
}

/** One run of connect attempts, which abandonConnect can cut short for the requests waiting on it. */
class ConnectAttempt {
  isAbandoned = false;
  reason: ConnectionError | undefined;
  /** Rejects when abandoned (never resolves). */
  readonly abandoned: Promise<never>;
  private reject!: (error: Error) => void;
  private wake: (() => void) | undefined;

  constructor() {
    this.abandoned = new Promise<never>((_, reject) => {
      this.reject = reject;
    });
    this.abandoned.catch(() => {}); // raced against the attempts; nobody else awaits it
  }

  abandon(error: ConnectionError): void {
    this.isAbandoned = true;
    this.reason = error;
    this.reject(error);
    this.wake?.();
  }

  /** A back-off wait that ends early when the attempt is abandoned. */
  delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(timer);
        self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
  }
}

/** One MessagePack control request over `link`, decoded and validated; request-level errors throw SluiceError. */
export async function controlCall<K extends ControlApiKey>(
  link: RequestLink,
  key: K,
  request: ControlRequest<K>,
  options?: RequestOptions,
): Promise<ControlResponse<K>> {
  const payload = encodeControlRequest(key, request);
  const body = await link.request(key, (w) => w.writeRaw(payload), options);
  return decodeControlResponse(key, body);
}
