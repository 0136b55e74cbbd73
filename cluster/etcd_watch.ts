// A watch on one key or one prefix that never skips a change: it hands its
// owner the state at one revision (a snapshot), then every change after it,
// in revision order, across member failures and compactions.
//
// - Start: range the key/prefix (revision R), onSnapshot(kvs, R), then stream
//   POST /v3/watch from R + 1. The gateway answers with one JSON object per
//   line ({"result": {...}}) for as long as the watch lives.
// - After each delivered batch the watch remembers the revision after its
//   last event. When the stream ends or fails (member killed, connection
//   reset, member lost its Raft leader: the request carries `hasleader`, so
//   etcd cancels such a watch instead of leaving it silently stale), it
//   reconnects to the next member from that revision, with a doubling pause.
// - If that revision was compacted away, etcd cancels the watch with a
//   compact revision: the watch re-reads the whole key/prefix (a new
//   snapshot, which replaces the old state entirely) and watches from there.
// - A stream that delivered nothing for WATCH_PROBE_INTERVAL_MS asks its
//   member for its status; if the member does not answer the stream is
//   dropped (a dead connection without a reset would otherwise look idle).
//
// Handlers run on the caller's thread, one at a time, in revision order; a
// handler that throws is reported through onTrouble and the watch goes on.

import {
  ETCD_ATTEMPT_TIMEOUT_MS,
  ETCD_RETRY_BACKOFF_MS_MAX,
  ETCD_RETRY_BACKOFF_MS_MIN,
  ETCD_WATCH_LINE_BYTES_MAX,
  WATCH_PROBE_INTERVAL_MS,
} from "./cluster_limits.ts";
import { type EtcdClient, gatewayError } from "./etcd_client.ts";
import { EtcdBadResponseError, EtcdCompactedError } from "./etcd_errors.ts";
import { asObject, decodeKeyValue, encodeRangeRequest, headerRevision, int64Field, type KeyValue } from "./etcd_wire.ts";

export interface WatchEvent {
  readonly type: "put" | "delete";
  /** For a delete: the key, with modRevision = the revision of the delete and no value. */
  readonly kv: KeyValue;
}

export interface WatchHandlers {
  /** The whole state under the key/prefix at `revision`: at start, and again after a compaction. */
  onSnapshot(kvs: KeyValue[], revision: number): void;
  /** Changes after the last snapshot or batch, in order; `revision` is the last one's. */
  onEvents(events: WatchEvent[], revision: number): void;
  /** A stream failed or a handler threw (for logs); the watch carries on. */
  onTrouble?(message: string): void;
}

export interface WatchStats {
  /** Streams etcd confirmed (1 + reconnects). */
  streams: number;
  /** Snapshots delivered (1 + compactions). */
  snapshots: number;
}

export class EtcdWatch {
  readonly #client: EtcdClient;
  readonly #key: string;
  readonly #prefix: boolean;
  readonly #handlers: WatchHandlers;
  readonly stats: WatchStats = { streams: 0, snapshots: 0 };
  #next = 0;
  #needSnapshot = true;
  #closed = false;
  /** Aborted by close(): ends a snapshot read in progress at once. */
  readonly #closing = new AbortController();
  /** Whether the latest stream was confirmed by etcd (a healthy stream resets the backoff). */
  #confirmed = false;
  #abort: AbortController | undefined;
  #wake: (() => void) | undefined;
  #endpoint: string | undefined;
  readonly #done: Promise<void>;

  private constructor(client: EtcdClient, key: string, prefix: boolean, handlers: WatchHandlers, fromRevision: number | undefined) {
    if (fromRevision !== undefined) {
      if (!Number.isSafeInteger(fromRevision) || fromRevision < 1) throw new Error(`watch fromRevision must be a revision >= 1, got ${fromRevision}`);
      this.#next = fromRevision;
      this.#needSnapshot = false;
    }
    this.#client = client;
    this.#key = key;
    this.#prefix = prefix;
    this.#handlers = handlers;
    this.#done = this.#run();
  }

  /**
   * Starts watching `key` (or every key under it with `prefix`). The first
   * snapshot arrives asynchronously; with `fromRevision` there is none, and
   * changes from that revision on come as events (a snapshot follows only if
   * that revision was compacted away).
   */
  static start(client: EtcdClient, key: string, opts: { prefix?: boolean; fromRevision?: number }, handlers: WatchHandlers): EtcdWatch {
    return new EtcdWatch(client, key, opts.prefix === true, handlers, opts.fromRevision);
  }

  /** The revision the watch resumes from (the one after the last change delivered). */
  get nextRevision(): number {
    return this.#next;
  }

  /** The member the current stream is on, if one is open. */
  get endpoint(): string | undefined {
    return this.#endpoint;
  }

  /** Stops the watch; resolves once its stream is closed. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#closing.abort(new Error("watch closed"));
    this.#abort?.abort(new Error("watch closed"));
    this.#wake?.();
    await this.#done;
  }

  #trouble(message: string): void {
    try {
      this.#handlers.onTrouble?.(message);
    } catch {
      // a logging handler must not stop the watch
    }
  }

  async #run(): Promise<void> {
    let backoffMs = ETCD_RETRY_BACKOFF_MS_MIN;
    while (!this.#closed) {
      this.#confirmed = false;
      try {
        if (this.#needSnapshot) {
          const r = await this.#client.range(this.#key, { prefix: this.#prefix, signal: this.#closing.signal });
          if (this.#closed) break;
          this.#next = r.revision + 1;
          this.#needSnapshot = false;
          this.stats.snapshots++;
          this.#deliver(() => this.#handlers.onSnapshot(r.kvs, r.revision));
        }
        await this.#stream();
      } catch (e) {
        if (this.#closed) break;
        if (e instanceof EtcdCompactedError) {
          this.#trouble(`watch ${this.#key}: revision ${this.#next} compacted (${e.compactRevision}); re-reading`);
          this.#needSnapshot = true;
          continue;
        }
        this.#trouble(`watch ${this.#key}: ${(e as Error)?.message ?? e}; reconnecting from revision ${this.#next}`);
      }
      if (this.#closed) break;
      if (this.#confirmed) backoffMs = ETCD_RETRY_BACKOFF_MS_MIN;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, backoffMs);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
      backoffMs = Math.min(backoffMs * 2, ETCD_RETRY_BACKOFF_MS_MAX);
    }
  }

  #deliver(call: () => void): void {
    try {
      call();
    } catch (e) {
      this.#trouble(`watch ${this.#key}: handler failed: ${(e as Error)?.stack ?? e}`);
    }
  }

  /** One stream, until it ends or fails (it always ends by throwing, unless the watch is closed). */
  async #stream(): Promise<void> {
    const client = this.#client;
    const endpoint = client.preferredEndpoint;
    const abort = new AbortController();
    this.#abort = abort;
    let abortReason: Error | undefined;
    const stop = (why: Error) => {
      abortReason ??= why;
      abort.abort(why);
    };
    let created = false;
    let lastHeardAt = performance.now();
    const connectTimer = setTimeout(
      () => stop(new Error(`${endpoint} did not confirm the watch within ${ETCD_ATTEMPT_TIMEOUT_MS} ms`)),
      ETCD_ATTEMPT_TIMEOUT_MS,
    );
    let probing = false;
    const probeTimer = setInterval(() => {
      if (probing || performance.now() - lastHeardAt < WATCH_PROBE_INTERVAL_MS) return;
      probing = true;
      client.statusOf(endpoint).then(
        () => {
          probing = false;
          lastHeardAt = performance.now();
        },
        (e) => {
          probing = false;
          stop(new Error(`${endpoint} stopped answering: ${(e as Error)?.message ?? e}`));
        },
      );
    }, WATCH_PROBE_INTERVAL_MS / 2);
    this.#endpoint = endpoint;
    try {
      const request = encodeRangeRequest(this.#key, this.#prefix);
      const res = await fetch(`${endpoint}/v3/watch`, {
        method: "POST",
        // etcd cancels a watch whose member has no Raft leader, instead of letting it go silently stale.
        headers: { "content-type": "application/json", "grpc-metadata-hasleader": "true" },
        body: JSON.stringify({ create_request: { ...request, start_revision: String(this.#next) } }),
        signal: abort.signal,
      });
      if (res.status !== 200 || res.body === null) {
        const text = await res.text().catch(() => "");
        let body: Record<string, unknown> = {};
        try {
          body = asObject(JSON.parse(text), "watch error");
        } catch {
          // not JSON: the status says enough
        }
        throw gatewayError(endpoint, body, res.status);
      }
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let pending = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        lastHeardAt = performance.now();
        pending += decoder.decode(value, { stream: true });
        let nl = pending.indexOf("\n");
        while (nl >= 0) {
          const line = pending.slice(0, nl).trim();
          pending = pending.slice(nl + 1);
          if (line !== "" && this.#onMessage(endpoint, line)) {
            if (!created) {
              created = true;
              this.#confirmed = true;
              clearTimeout(connectTimer);
              this.stats.streams++;
            }
          }
          nl = pending.indexOf("\n");
        }
        if (pending.length > ETCD_WATCH_LINE_BYTES_MAX) {
          throw new EtcdBadResponseError(`watch message over ETCD_WATCH_LINE_BYTES_MAX (${ETCD_WATCH_LINE_BYTES_MAX})`);
        }
      }
      if (!this.#closed) throw new Error(`${endpoint} ended the watch stream`);
    } catch (e) {
      if (!(e instanceof EtcdCompactedError) && !this.#closed) client.endpointFailed(endpoint);
      throw abortReason !== undefined && !(e instanceof EtcdCompactedError) ? abortReason : e;
    } finally {
      clearTimeout(connectTimer);
      clearInterval(probeTimer);
      this.#endpoint = undefined;
      if (!abort.signal.aborted) abort.abort(new Error("stream finished"));
    }
  }

  /** Handles one line of the stream. Returns true once the watch is confirmed (created, or events flowing). */
  #onMessage(endpoint: string, line: string): boolean {
    let msg: Record<string, unknown>;
    try {
      msg = asObject(JSON.parse(line), "watch message");
    } catch (e) {
      throw new EtcdBadResponseError(`watch: a line that is not a JSON object: ${line.slice(0, 200)}`, { cause: e });
    }
    if (msg.error !== undefined) {
      const err = asObject(msg.error, "watch error");
      throw gatewayError(endpoint, { code: err.grpc_code, message: err.message }, Number(err.http_code ?? 500));
    }
    const result = asObject(msg.result ?? {}, "watch result");
    if (result.canceled === true) {
      const compactRevision = int64Field(result.compact_revision, "watch compact_revision");
      if (compactRevision > 0) throw new EtcdCompactedError(compactRevision);
      throw new Error(`${endpoint} cancelled the watch: ${String(result.cancel_reason ?? "no reason given")}`);
    }
    if (result.created === true) return true;
    const rawEvents = result.events;
    if (rawEvents === undefined) {
      // A progress notification: every change up to its header revision has been delivered.
      const revision = headerRevision(result, "watch progress");
      if (revision + 1 > this.#next) this.#next = revision + 1;
      return true;
    }
    if (!Array.isArray(rawEvents)) throw new EtcdBadResponseError("watch: events is not an array");
    const events: WatchEvent[] = [];
    let last = 0;
    for (const raw of rawEvents) {
      const ev = asObject(raw, "watch event");
      const kv = decodeKeyValue(ev.kv);
      events.push({ type: ev.type === "DELETE" ? "delete" : "put", kv });
      if (kv.modRevision > last) last = kv.modRevision;
    }
    if (events.length > 0 && last >= this.#next) {
      this.#next = last + 1;
      this.#deliver(() => this.#handlers.onEvents(events, last));
    }
    return true;
  }
}
