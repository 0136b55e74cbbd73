// An etcd v3 client over the JSON gateway (HTTP/1.1 POSTs to /v3/… with JSON
// bodies) using the runtime's `fetch`: no gRPC, no HTTP/2, no npm package.
// docs/CLUSTER.md says why.
//
// Calls and failures
// - Every call has a deadline (ETCD_CALL_TIMEOUT_MS unless given) and every
//   HTTP request to one member a shorter one (ETCD_ATTEMPT_TIMEOUT_MS). A
//   member that refuses the connection, times out, answers 5xx or "no leader /
//   unavailable" is skipped and the call goes to the next endpoint; after a
//   round over all of them it pauses (doubling backoff) and tries again, until
//   the deadline: then EtcdUnreachableError, naming what each member said.
// - A call that timed out may have been applied. So a put or transaction can
//   be applied twice when it is retried on another member; callers write
//   transactions whose second application fails harmlessly and read the key
//   back in the failure branch (broker_registration.ts, controller_election.ts).
// - etcd's own refusals are typed: EtcdLeaseExpiredError (lease not found),
//   EtcdCompactedError (revision compacted), EtcdRejectedError (anything else
//   etcd says no to; retrying will not help). A failed transaction is not an
//   error here: `succeeded` is false and the failure branch's results are given.
// - The client sticks to the member that answered last, so a healthy cluster
//   sees one connection per client.

import {
  ETCD_ATTEMPT_TIMEOUT_MS,
  ETCD_CALL_TIMEOUT_MS,
  ETCD_ENDPOINTS_MAX,
  ETCD_RESPONSE_BYTES_MAX,
  ETCD_RETRY_BACKOFF_MS_MAX,
  ETCD_RETRY_BACKOFF_MS_MIN,
} from "./cluster_limits.ts";
import {
  EtcdBadResponseError,
  EtcdCompactedError,
  EtcdLeaseExpiredError,
  EtcdRejectedError,
  EtcdUnreachableError,
} from "./etcd_errors.ts";
import {
  asObject,
  type Compare,
  decodeKeyValues,
  decodeTxnOpResult,
  encodeCompare,
  encodePutRequest,
  encodeRangeRequest,
  encodeTxnOp,
  headerRevision,
  int64Field,
  type KeyValue,
  leaseIdField,
  type TxnOp,
  type TxnOpResult,
} from "./etcd_wire.ts";

/** gRPC status codes the gateway passes through (google.golang.org/grpc/codes). */
const GRPC_CANCELLED = 1;
const GRPC_UNKNOWN = 2;
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_NOT_FOUND = 5;
const GRPC_OUT_OF_RANGE = 11;
const GRPC_UNAVAILABLE = 14;

export interface EtcdClientOptions {
  /** Client URLs of the members, e.g. ["http://127.0.0.1:2379"]. */
  readonly endpoints: readonly string[];
  /** Default deadline of a whole call. */
  readonly callTimeoutMs?: number;
  /** Deadline of one HTTP request to one member. */
  readonly attemptTimeoutMs?: number;
}

export interface CallOptions {
  /** This call's deadline instead of the client's default. */
  readonly timeoutMs?: number;
  /** This call's deadline per member instead of the client's default (a keepalive must reach a second member within its TTL). */
  readonly attemptTimeoutMs?: number;
  /** Ends the call early (its owner is closing): it rejects with the signal's reason, without trying another member. */
  readonly signal?: AbortSignal;
}

export interface RangeResult {
  readonly revision: number;
  readonly kvs: KeyValue[];
  readonly count: number;
}

export interface TxnRequest {
  readonly compare: readonly Compare[];
  readonly success: readonly TxnOp[];
  readonly failure?: readonly TxnOp[];
}

export interface TxnResult {
  readonly revision: number;
  readonly succeeded: boolean;
  /** The results of the branch that ran, in the order of its operations. */
  readonly results: TxnOpResult[];
}

/** The member answered with something that says "try another member". */
class TryElsewhere extends Error {}

/** Checks and normalises one endpoint URL (no trailing slash). Throws a plain Error naming it. */
export function parseEndpoint(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new Error(`etcd endpoint '${raw}' is not a URL (expected http://HOST:PORT)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`etcd endpoint '${raw}' must be http:// or https://`);
  if (url.pathname !== "/" || url.search !== "" || url.hash !== "") throw new Error(`etcd endpoint '${raw}' must have no path (the client adds /v3/…)`);
  return `${url.protocol}//${url.host}`;
}

/** Splits "http://a:2379,http://b:2379" into checked endpoints. */
export function parseEndpointList(raw: string): string[] {
  const list = raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (list.length === 0) throw new Error("no etcd endpoint given");
  if (list.length > ETCD_ENDPOINTS_MAX) throw new Error(`at most ${ETCD_ENDPOINTS_MAX} etcd endpoints, got ${list.length}`);
  return list.map(parseEndpoint);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

function abortedError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error("etcd call aborted");
}

/** Reads a body up to `max` bytes (a response over the limit is refused, not buffered). */
async function readBounded(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get("content-length") ?? "-1");
  if (declared > max) throw new EtcdBadResponseError(`response of ${declared} bytes is over ETCD_RESPONSE_BYTES_MAX (${max})`);
  if (res.body === null) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => {});
      throw new EtcdBadResponseError(`response over ETCD_RESPONSE_BYTES_MAX (${max} bytes)`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Turns a gateway error body ({error, message, code}) into the typed error, or
 * TryElsewhere when another member may answer. Exported for the watch.
 */
export function gatewayError(endpoint: string, body: Record<string, unknown>, status: number): Error {
  const code = typeof body.code === "number" ? body.code : -1;
  const message = String(body.message ?? body.error ?? `HTTP ${status}`);
  if (code === GRPC_UNAVAILABLE || code === GRPC_DEADLINE_EXCEEDED || code === GRPC_CANCELLED || (code === -1 && status >= 500)) {
    return new TryElsewhere(`${message} (code ${code}, HTTP ${status})`);
  }
  // "etcdserver: leader changed" and friends come as UNKNOWN on a member mid-election.
  if (code === GRPC_UNKNOWN && /leader|timed out|stopped|not capable/i.test(message)) return new TryElsewhere(message);
  if (code === GRPC_NOT_FOUND && /lease not found/.test(message)) return new EtcdLeaseExpiredError("?", `etcd ${endpoint}: ${message}`);
  if (code === GRPC_OUT_OF_RANGE && /compacted/.test(message)) return new EtcdCompactedError(0, `etcd ${endpoint}: ${message}`);
  return new EtcdRejectedError(code, `etcd ${endpoint} refused the request: ${message} (code ${code})`);
}

export function isTryElsewhere(e: unknown): boolean {
  return e instanceof TryElsewhere;
}

export class EtcdClient {
  readonly endpoints: readonly string[];
  readonly #callTimeoutMs: number;
  readonly #attemptTimeoutMs: number;
  /** Index of the member that answered last; calls start there. */
  #current = 0;

  constructor(options: EtcdClientOptions) {
    if (options.endpoints.length === 0) throw new Error("EtcdClient needs at least one endpoint");
    if (options.endpoints.length > ETCD_ENDPOINTS_MAX) throw new Error(`at most ${ETCD_ENDPOINTS_MAX} etcd endpoints`);
    this.endpoints = options.endpoints.map(parseEndpoint);
    this.#callTimeoutMs = options.callTimeoutMs ?? ETCD_CALL_TIMEOUT_MS;
    this.#attemptTimeoutMs = Math.min(options.attemptTimeoutMs ?? ETCD_ATTEMPT_TIMEOUT_MS, this.#callTimeoutMs);
  }

  /** The member calls go to first (for a watch stream). */
  get preferredEndpoint(): string {
    return this.endpoints[this.#current];
  }

  /** A stream to `endpoint` failed: start the next call at the next member. */
  endpointFailed(endpoint: string): void {
    if (this.endpoints[this.#current] === endpoint) this.#current = (this.#current + 1) % this.endpoints.length;
  }

  async range(key: string, opts: CallOptions & { prefix?: boolean; revision?: number; limit?: number } = {}): Promise<RangeResult> {
    const req = encodeRangeRequest(key, opts.prefix);
    if (opts.revision !== undefined) req.revision = String(opts.revision);
    if (opts.limit !== undefined) req.limit = String(opts.limit);
    const body = await this.#call("/v3/kv/range", req, opts);
    return { revision: headerRevision(body, "range"), kvs: decodeKeyValues(body.kvs), count: int64Field(body.count, "range.count") };
  }

  /** One key, or undefined when it does not exist. */
  async get(key: string, opts: CallOptions = {}): Promise<KeyValue | undefined> {
    return (await this.range(key, opts)).kvs[0];
  }

  async put(key: string, value: string, opts: CallOptions & { lease?: string } = {}): Promise<{ revision: number }> {
    const body = await this.#call("/v3/kv/put", encodePutRequest(key, value, opts.lease), opts);
    return { revision: headerRevision(body, "put") };
  }

  async deleteRange(key: string, opts: CallOptions & { prefix?: boolean } = {}): Promise<{ revision: number; deleted: number }> {
    const body = await this.#call("/v3/kv/deleterange", encodeRangeRequest(key, opts.prefix), opts);
    return { revision: headerRevision(body, "deleterange"), deleted: int64Field(body.deleted, "deleterange.deleted") };
  }

  async txn(request: TxnRequest, opts: CallOptions = {}): Promise<TxnResult> {
    const failure = request.failure ?? [];
    const body = await this.#call(
      "/v3/kv/txn",
      { compare: request.compare.map(encodeCompare), success: request.success.map(encodeTxnOp), failure: failure.map(encodeTxnOp) },
      opts,
    );
    const succeeded = body.succeeded === true;
    const branch = succeeded ? request.success : failure;
    const raw = body.responses === undefined ? [] : body.responses;
    if (!Array.isArray(raw) || raw.length !== branch.length) {
      throw new EtcdBadResponseError(`txn: expected ${branch.length} responses, got ${Array.isArray(raw) ? raw.length : typeof raw}`);
    }
    return { revision: headerRevision(body, "txn"), succeeded, results: raw.map((r, i) => decodeTxnOpResult(r, branch[i])) };
  }

  /** Compacts the history below `revision` (tests and operators; the brokers never compact). */
  async compact(revision: number, opts: CallOptions = {}): Promise<void> {
    await this.#call("/v3/kv/compaction", { revision: String(revision), physical: true }, opts);
  }

  async leaseGrant(ttlSeconds: number, opts: CallOptions = {}): Promise<{ id: string; ttlSeconds: number }> {
    const body = await this.#call("/v3/lease/grant", { TTL: String(ttlSeconds) }, opts);
    if (typeof body.error === "string" && body.error !== "") throw new EtcdRejectedError(-1, `lease grant refused: ${body.error}`);
    const id = leaseIdField(body.ID, "lease grant ID");
    if (id === "0") throw new EtcdBadResponseError("lease grant: no lease id in the answer");
    return { id, ttlSeconds: int64Field(body.TTL, "lease grant TTL") };
  }

  /**
   * One keepalive; resolves with the TTL etcd reset the lease to. A lease etcd
   * no longer has (TTL 0 in the answer) throws EtcdLeaseExpiredError.
   */
  async leaseKeepAlive(id: string, opts: CallOptions = {}): Promise<{ ttlSeconds: number }> {
    const body = await this.#call("/v3/lease/keepalive", { ID: id }, opts);
    // The gateway wraps a stream's messages in {"result": …}.
    const result = asObject(body.result ?? body, "keepalive result");
    const ttlSeconds = int64Field(result.TTL, "keepalive TTL");
    if (ttlSeconds <= 0) throw new EtcdLeaseExpiredError(id);
    return { ttlSeconds };
  }

  /** A lease's remaining and granted TTL in seconds; a lease etcd does not have answers ttlSeconds -1. */
  async leaseTimeToLive(id: string, opts: CallOptions = {}): Promise<{ ttlSeconds: number; grantedTtlSeconds: number }> {
    const body = await this.#call("/v3/lease/timetolive", { ID: id }, opts);
    const ttl = body.TTL === undefined ? 0 : Number(body.TTL);
    if (!Number.isSafeInteger(ttl)) throw new EtcdBadResponseError(`lease timetolive TTL: ${JSON.stringify(body.TTL)}`);
    return { ttlSeconds: ttl, grantedTtlSeconds: int64Field(body.grantedTTL, "lease timetolive grantedTTL") };
  }

  /** Revokes the lease, deleting every key attached to it. A lease already gone is not an error. */
  async leaseRevoke(id: string, opts: CallOptions = {}): Promise<void> {
    try {
      await this.#call("/v3/lease/revoke", { ID: id }, opts);
    } catch (e) {
      if (e instanceof EtcdLeaseExpiredError) return;
      throw e;
    }
  }

  /** The member's status, asked of that member only (a liveness probe; no fail-over). */
  async statusOf(endpoint: string, timeoutMs = this.#attemptTimeoutMs): Promise<{ revision: number; leader: string }> {
    const body = await this.#attempt(endpoint, "/v3/maintenance/status", {}, timeoutMs);
    return { revision: headerRevision(body, "status"), leader: leaseIdField(body.leader, "status.leader") };
  }

  /** One call with fail-over between members, bounded by its deadline (see the header). */
  async #call(path: string, request: unknown, opts: CallOptions = {}): Promise<Record<string, unknown>> {
    const timeoutMs = opts.timeoutMs ?? this.#callTimeoutMs;
    const attemptTimeoutMs = Math.min(opts.attemptTimeoutMs ?? this.#attemptTimeoutMs, timeoutMs);
    const startedAt = performance.now();
    const deadline = startedAt + timeoutMs;
    const attempts: string[] = [];
    let backoffMs = ETCD_RETRY_BACKOFF_MS_MIN;
    let lastError: unknown;
    const signal = opts.signal;
    for (;;) {
      for (let i = 0; i < this.endpoints.length; i++) {
        if (signal?.aborted) throw abortedError(signal);
        const remaining = deadline - performance.now();
        if (remaining <= 0) throw new EtcdUnreachableError(this.endpoints, attempts, timeoutMs, { cause: lastError });
        const endpoint = this.endpoints[this.#current];
        try {
          return await this.#attempt(endpoint, path, request, Math.min(attemptTimeoutMs, remaining), signal);
        } catch (e) {
          if (signal?.aborted) throw abortedError(signal);
          if (!(e instanceof TryElsewhere)) throw e;
          lastError = e;
          attempts.push(`${endpoint}: ${e.message}`);
          if (attempts.length > 2 * this.endpoints.length) attempts.shift();
          this.#current = (this.#current + 1) % this.endpoints.length;
        }
      }
      const remaining = deadline - performance.now();
      if (remaining <= 0) throw new EtcdUnreachableError(this.endpoints, attempts, timeoutMs, { cause: lastError });
      await sleep(Math.min(backoffMs, remaining), signal);
      backoffMs = Math.min(backoffMs * 2, ETCD_RETRY_BACKOFF_MS_MAX);
    }
  }

  /** One HTTP request to one member. Network failures, timeouts and "unavailable" become TryElsewhere. */
  async #attempt(endpoint: string, path: string, request: unknown, timeoutMs: number, signal?: AbortSignal): Promise<Record<string, unknown>> {
    let res: Response;
    let text: string;
    const timeout = AbortSignal.timeout(Math.max(1, Math.ceil(timeoutMs)));
    try {
      res = await fetch(endpoint + path, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(request),
        signal: signal === undefined ? timeout : AbortSignal.any([timeout, signal]),
      });
      text = await readBounded(res, ETCD_RESPONSE_BYTES_MAX);
    } catch (e) {
      if (e instanceof EtcdBadResponseError) throw e;
      const name = (e as Error)?.name;
      const why = name === "TimeoutError" || name === "AbortError" ? `no answer within ${Math.ceil(timeoutMs)} ms` : String((e as Error)?.message ?? e);
      throw new TryElsewhere(why);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      if (res.status >= 500 || res.status === 429) throw new TryElsewhere(`HTTP ${res.status}`);
      throw new EtcdBadResponseError(`etcd ${endpoint}${path}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
    }
    const obj = asObject(body, `${path} response`);
    // A streaming rpc (keepalive) reports its error inside the stream: {"error": {"grpc_code", "message", …}}.
    if (obj.error !== null && typeof obj.error === "object") {
      const inner = obj.error as Record<string, unknown>;
      throw gatewayError(endpoint, { code: inner.grpc_code, message: inner.message }, Number(inner.http_code ?? res.status));
    }
    if (res.status !== 200 || (obj.code !== undefined && obj.message !== undefined && obj.header === undefined)) {
      throw gatewayError(endpoint, obj, res.status);
    }
    return obj;
  }
}
