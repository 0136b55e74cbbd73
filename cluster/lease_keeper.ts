// A broker's session: one etcd lease, granted once and kept alive until it is
// revoked or lost. Every key the broker owns (its registration, the controller
// key while it leads) is attached to it, so they all vanish together when the
// broker is gone.
//
// The local deadline (docs/CLUSTER.md, "Broker registration"): the monotonic
// time at which the last successful keepalive (or the grant) was SENT, plus
// the TTL etcd answered with. etcd starts its TTL when it processes the
// request, which is later, so before the local deadline the lease is certainly
// alive in etcd. `alive` reads the clock every time it is asked: a process
// paused past its deadline (SIGSTOP, a long stall) sees it passed on its first
// look after resuming, before any of its timers has fired.
//
// Suspended: the local deadline passed without a successful keepalive (etcd
// silent, or electing a new Raft leader). `alive` is false, so the owner acts
// as nothing (no leadership, no controllership), but keepalives go on: etcd
// keeps leases alive across its own leader changes, so when it answers again
// the lease may well be alive, and the session resumes (`onResumed`); its keys
// were never deleted, so nobody took over meanwhile.
//
// Lost: etcd said the lease is gone (a keepalive answered TTL 0). `onLost` is
// called once and nothing is renewed again; the owner starts a new session.

import { KEEPALIVES_PER_TTL, LEASE_TTL_SECONDS_MAX, LEASE_TTL_SECONDS_MIN } from "./cluster_limits.ts";
import type { EtcdClient } from "./etcd_client.ts";
import { EtcdLeaseExpiredError } from "./etcd_errors.ts";

export interface LeaseKeeperOptions {
  readonly ttlSeconds: number;
  /** Called once when etcd says the lease is gone (not after revoke()). */
  readonly onLost?: (reason: string) => void;
  /** The local deadline passed without a successful keepalive: act as nothing until resumed. */
  readonly onSuspended?: (reason: string) => void;
  /** A keepalive succeeded after a suspension: the lease lived on. */
  readonly onResumed?: () => void;
  /** A keepalive failed (for logs). */
  readonly onTrouble?: (message: string) => void;
}

export class LeaseKeeper {
  readonly id: string;
  readonly ttlSeconds: number;
  readonly #client: EtcdClient;
  readonly #options: LeaseKeeperOptions;
  #deadlineMs: number;
  #lostReason: string | undefined;
  #suspended = false;
  #revoked = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  #inFlight: Promise<void> | undefined;

  private constructor(client: EtcdClient, id: string, ttlSeconds: number, sentAtMs: number, options: LeaseKeeperOptions) {
    this.#client = client;
    this.id = id;
    this.ttlSeconds = ttlSeconds;
    this.#options = options;
    this.#deadlineMs = sentAtMs + ttlSeconds * 1000;
    this.#armDeadline();
    this.#schedule();
  }

  /** Grants a lease of `ttlSeconds` and starts keeping it alive. */
  static async grant(client: EtcdClient, options: LeaseKeeperOptions): Promise<LeaseKeeper> {
    const ttl = options.ttlSeconds;
    if (!Number.isInteger(ttl) || ttl < LEASE_TTL_SECONDS_MIN || ttl > LEASE_TTL_SECONDS_MAX) {
      throw new Error(`lease TTL must be an integer in ${LEASE_TTL_SECONDS_MIN}..${LEASE_TTL_SECONDS_MAX} seconds, got ${ttl}`);
    }
    const sentAt = performance.now();
    const granted = await client.leaseGrant(ttl);
    // etcd may raise a TTL below its minimum; trust what it answered, never more than asked.
    return new LeaseKeeper(client, granted.id, Math.min(granted.ttlSeconds, ttl), sentAt, options);
  }

  /** True while the local deadline is in the future and the session was not lost or revoked. Reads the clock. */
  get alive(): boolean {
    return this.#lostReason === undefined && !this.#revoked && performance.now() < this.#deadlineMs;
  }

  /** Whether the deadline passed and no keepalive has succeeded since (see the header). */
  get suspended(): boolean {
    return this.#suspended;
  }

  /** Monotonic ms (performance.now()) until which the lease is certainly alive in etcd. */
  get deadlineMs(): number {
    return this.#deadlineMs;
  }

  get lostReason(): string | undefined {
    return this.#lostReason;
  }

  /** Stops renewing and revokes the lease (its keys are deleted at once). Idempotent; an unreachable etcd is reported, not thrown. */
  async revoke(): Promise<void> {
    if (this.#revoked) return;
    this.#revoked = true;
    this.#stopTimers();
    await this.#inFlight?.catch(() => {});
    try {
      await this.#client.leaseRevoke(this.id, { timeoutMs: this.ttlSeconds * 1000 });
    } catch (e) {
      this.#options.onTrouble?.(`could not revoke lease ${this.id}: ${(e as Error)?.message ?? e} (it expires by itself)`);
    }
  }

  /** Stops renewing without revoking (the lease expires after its TTL): a crash, as far as etcd can tell. */
  abandon(): void {
    this.#revoked = true;
    this.#stopTimers();
  }

  #stopTimers(): void {
    clearTimeout(this.#timer);
    clearTimeout(this.#deadlineTimer);
  }

  #schedule(): void {
    const intervalMs = (this.ttlSeconds * 1000) / KEEPALIVES_PER_TTL;
    this.#timer = setTimeout(() => {
      this.#inFlight = this.#keepAlive().finally(() => {
        this.#inFlight = undefined;
      });
    }, intervalMs);
  }

  #armDeadline(): void {
    clearTimeout(this.#deadlineTimer);
    // +1 ms: the timer must see the deadline passed, not equal.
    this.#deadlineTimer = setTimeout(() => this.#checkDeadline(), Math.max(0, this.#deadlineMs - performance.now()) + 1);
  }

  #checkDeadline(): void {
    if (this.#revoked || this.#lostReason !== undefined || this.#suspended) return;
    if (performance.now() < this.#deadlineMs) {
      this.#armDeadline();
      return;
    }
    this.#suspended = true;
    this.#notify(this.#options.onSuspended, `no keepalive answered before the lease's local deadline (TTL ${this.ttlSeconds} s)`);
  }

  async #keepAlive(): Promise<void> {
    if (this.#revoked || this.#lostReason !== undefined) return;
    const sentAt = performance.now();
    const intervalMs = (this.ttlSeconds * 1000) / KEEPALIVES_PER_TTL;
    // Before the deadline a keepalive may take until it; after it (suspended), one TTL per try.
    const remaining = this.#deadlineMs - sentAt;
    const timeoutMs = remaining > 0 ? remaining : this.ttlSeconds * 1000;
    try {
      // One member gets at most a keepalive interval, so a paused or cut-off member leaves time to reach the others.
      const { ttlSeconds } = await this.#client.leaseKeepAlive(this.id, { timeoutMs: Math.max(1, timeoutMs), attemptTimeoutMs: intervalMs });
      if (this.#revoked || this.#lostReason !== undefined) return;
      this.#deadlineMs = Math.max(this.#deadlineMs, sentAt + Math.min(ttlSeconds, this.ttlSeconds) * 1000);
      this.#armDeadline();
      if (this.#suspended && performance.now() < this.#deadlineMs) {
        this.#suspended = false;
        this.#notify(this.#options.onResumed);
      }
    } catch (e) {
      if (this.#revoked || this.#lostReason !== undefined) return;
      if (e instanceof EtcdLeaseExpiredError) {
        this.#lostReason = `etcd says lease ${this.id} is gone (expired or revoked)`;
        this.#stopTimers();
        this.#notify(this.#options.onLost, this.#lostReason);
        return;
      }
      this.#options.onTrouble?.(`keepalive of lease ${this.id} failed: ${(e as Error)?.message ?? e}`);
      this.#checkDeadline();
    }
    this.#schedule();
  }

  #notify(callback: ((reason: string) => void) | (() => void) | undefined, reason = ""): void {
    try {
      callback?.(reason);
    } catch {
      // the owner's handler must not break the keeper
    }
  }
}
