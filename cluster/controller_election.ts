// The controller election and its fence (docs/CLUSTER.md, "The controller,
// and how it is fenced").
//
// Campaign: one transaction that puts the election key under this session's
// lease only if the key does not exist (create_revision == 0). The winner's
// epoch is the key's create revision. A loser watches the key and campaigns
// again when it is deleted (the holder's lease expired, or it resigned).
//
// Fence: every write the controller makes goes through fencedTxn(), which
// adds `create_revision(controller key) == epoch` to the caller's compares.
// A controller whose lease expired (key deleted) or that was replaced (key
// re-created at a later revision) has its writes refused by etcd, whatever it
// believes: ControllerFencedError, and it counts itself deposed. The local
// view (isController) is for deciding what to try; the fence is what makes
// trying safe.

import { ETCD_RETRY_BACKOFF_MS_MAX, ETCD_RETRY_BACKOFF_MS_MIN } from "./cluster_limits.ts";
import type { ClusterKeys } from "./cluster_keys.ts";
import type { EtcdClient, TxnRequest, TxnResult } from "./etcd_client.ts";
import { EtcdTxnFailedError } from "./etcd_errors.ts";
import { EtcdWatch } from "./etcd_watch.ts";
import { cmp, type KeyValue, op } from "./etcd_wire.ts";
import type { LeaseKeeper } from "./lease_keeper.ts";

export const CONTROLLER_FENCED = "CONTROLLER_FENCED";

/** A controller write refused because this broker no longer holds the election key at its epoch. */
export class ControllerFencedError extends EtcdTxnFailedError {
  readonly fence = CONTROLLER_FENCED;
  readonly epoch: number | undefined;
  constructor(brokerId: number, epoch: number | undefined, holder: ControllerInfo | undefined) {
    const now = holder === undefined ? "no controller holds the key" : `broker ${holder.brokerId} is controller at epoch ${holder.epoch}`;
    super(`broker ${brokerId} is not the controller${epoch === undefined ? "" : ` at epoch ${epoch}`} any more (${now}): write refused`);
    this.name = "ControllerFencedError";
    this.epoch = epoch;
  }
}

export interface ControllerInfo {
  readonly brokerId: number;
  /** The election key's create revision. */
  readonly epoch: number;
}

/** The controller a key names, or undefined for a key that does not hold a valid value. */
export function parseControllerKey(kv: KeyValue | undefined): ControllerInfo | undefined {
  if (kv === undefined || kv.createRevision === 0) return undefined;
  try {
    const v = JSON.parse(kv.value) as { brokerId?: unknown };
    if (typeof v.brokerId !== "number" || !Number.isInteger(v.brokerId) || v.brokerId < 0) return undefined;
    return { brokerId: v.brokerId, epoch: kv.createRevision };
  } catch {
    return undefined;
  }
}

export interface ControllerElectionOptions {
  readonly client: EtcdClient;
  readonly keys: ClusterKeys;
  /** The session this candidate campaigns with; the election key is put under it. */
  readonly lease: LeaseKeeper;
  readonly brokerId: number;
  /** This candidate won: it is controller at `epoch`. */
  readonly onElected?: (epoch: number) => void;
  /** This candidate was controller and is not any more (seen in the watch, or a fenced write). */
  readonly onDeposed?: (epoch: number, reason: string) => void;
  /** The controller as seen in etcd changed (undefined: none). */
  readonly onControllerChange?: (controller: ControllerInfo | undefined) => void;
  readonly onTrouble?: (message: string) => void;
}

export class ControllerElection {
  readonly #o: ControllerElectionOptions;
  #epoch: number | undefined;
  #seen: ControllerInfo | undefined;
  #seenKnown = false;
  #campaigning = false;
  #closed = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #retryMs = ETCD_RETRY_BACKOFF_MS_MIN;
  #watch: EtcdWatch | undefined;

  constructor(options: ControllerElectionOptions) {
    this.#o = options;
  }

  /** Starts watching the election key; campaigns whenever it is free. */
  start(): void {
    const { client, keys } = this.#o;
    this.#watch = EtcdWatch.start(client, keys.controller, {}, {
      onSnapshot: (kvs) => this.#observe(kvs[0]),
      onEvents: (events) => {
        const last = events[events.length - 1];
        this.#observe(last.type === "delete" ? undefined : last.kv);
      },
      onTrouble: (m) => this.#o.onTrouble?.(m),
    });
  }

  /** This broker's epoch while it believes it is controller and its session's deadline is ahead. */
  get isController(): boolean {
    return this.#epoch !== undefined && this.#o.lease.alive;
  }

  /** The epoch this broker won, while it has not seen itself deposed. */
  get epoch(): number | undefined {
    return this.#epoch;
  }

  /** The controller as last seen in etcd. */
  get controller(): ControllerInfo | undefined {
    return this.#seen;
  }

  /**
   * One campaign transaction. Resolves true if this candidate is controller
   * afterwards (won now, or had won in an attempt whose answer was lost).
   */
  async campaign(): Promise<boolean> {
    const { client, keys, lease, brokerId } = this.#o;
    if (this.#epoch !== undefined) return true;
    const r = await client.txn({
      compare: [cmp.createRevisionIs(keys.controller, 0)],
      success: [op.put(keys.controller, JSON.stringify({ brokerId }), lease.id)],
      failure: [op.range(keys.controller)],
    });
    let epoch: number | undefined;
    if (r.succeeded) epoch = r.revision;
    else {
      const res = r.results[0];
      const holder = res.op === "range" ? res.kvs[0] : undefined;
      if (holder !== undefined && holder.lease === lease.id) epoch = holder.createRevision;
    }
    if (epoch === undefined || this.#closed) return false;
    this.#won(epoch);
    return true;
  }

  /**
   * A controller write: the caller's transaction, with the fence added as its
   * first compare. Resolves with the transaction's result when the fence held
   * (the caller's own compares may still have failed: `succeeded` false).
   * Throws ControllerFencedError when this broker is not controller at its
   * epoch in etcd: whatever else the transaction said, nothing was written.
   */
  async fencedTxn(request: TxnRequest): Promise<TxnResult> {
    const { client, keys, brokerId } = this.#o;
    const epoch = this.#epoch;
    if (epoch === undefined) throw new ControllerFencedError(brokerId, undefined, this.#seen);
    const failure = [...(request.failure ?? []), op.range(keys.controller)];
    const r = await client.txn({ compare: [cmp.createRevisionIs(keys.controller, epoch), ...request.compare], success: request.success, failure });
    if (r.succeeded) return r;
    const fenceRead = r.results[r.results.length - 1];
    const holder = fenceRead.op === "range" ? fenceRead.kvs[0] : undefined;
    if (holder === undefined || holder.createRevision !== epoch) {
      const now = parseControllerKey(holder);
      this.#deposed(epoch, `a fenced write found ${now === undefined ? "no controller" : `broker ${now.brokerId} at epoch ${now.epoch}`}`);
      throw new ControllerFencedError(brokerId, epoch, now);
    }
    return { revision: r.revision, succeeded: false, results: r.results.slice(0, -1) };
  }

  /** Gives the controllership up (deletes the key if it is still ours at our epoch), so a successor is elected at once. */
  async resign(opts: { timeoutMs?: number } = {}): Promise<void> {
    const epoch = this.#epoch;
    if (epoch === undefined) return;
    const { client, keys } = this.#o;
    await client.txn({ compare: [cmp.createRevisionIs(keys.controller, epoch)], success: [op.delete(keys.controller)] }, opts);
    this.#deposed(epoch, "resigned");
  }

  /** Stops watching and campaigning (does not resign: see resign()). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    await this.#watch?.close();
  }

  #won(epoch: number): void {
    if (this.#epoch === epoch) return;
    this.#epoch = epoch;
    this.#retryMs = ETCD_RETRY_BACKOFF_MS_MIN;
    this.#o.onElected?.(epoch);
  }

  #deposed(epoch: number, reason: string): void {
    if (this.#epoch !== epoch) return;
    this.#epoch = undefined;
    this.#o.onDeposed?.(epoch, reason);
  }

  #observe(kv: KeyValue | undefined): void {
    const now = parseControllerKey(kv);
    const changed = !this.#seenKnown || now?.brokerId !== this.#seen?.brokerId || now?.epoch !== this.#seen?.epoch;
    this.#seen = now;
    this.#seenKnown = true;
    if (this.#epoch !== undefined && now?.epoch !== this.#epoch) this.#deposed(this.#epoch, `the election key is now ${now === undefined ? "free" : `broker ${now.brokerId}'s at epoch ${now.epoch}`}`);
    if (now !== undefined && kv !== undefined && kv.lease === this.#o.lease.id) this.#won(now.epoch);
    if (changed) this.#o.onControllerChange?.(now);
    if (kv === undefined) this.#campaignSoon();
  }

  #campaignSoon(): void {
    // No check of the session's local deadline here: a suspended session's lease may be alive in etcd, and
    // etcd judges (a put under a dead lease fails). A suspended winner acts only once resumed (isController).
    if (this.#closed || this.#campaigning || this.#epoch !== undefined) return;
    this.#campaigning = true;
    this.campaign().then(
      () => {
        this.#campaigning = false;
      },
      (e) => {
        this.#campaigning = false;
        if (this.#closed) return;
        this.#o.onTrouble?.(`controller campaign failed: ${(e as Error)?.message ?? e}; retrying in ${this.#retryMs} ms`);
        clearTimeout(this.#retryTimer);
        this.#retryTimer = setTimeout(() => {
          if (this.#seen === undefined) this.#campaignSoon();
        }, this.#retryMs);
        this.#retryMs = Math.min(this.#retryMs * 2, ETCD_RETRY_BACKOFF_MS_MAX);
      },
    );
  }
}
