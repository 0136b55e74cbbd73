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
// Lost: etcd said the lease is gone (a keepalive answered TTL 0), or the local
// deadline passed without a successful keepalive. Either way `onLost` is
// called once and nothing is renewed again; the owner starts a new session.

import { KEEPALIVES_PER_TTL, LEASE_TTL_SECONDS_MAX, LEASE_TTL_SECONDS_MIN } from "./cluster_limits.ts";
import type { EtcdClient } from "./etcd_client.ts";
import { EtcdLeaseExpiredError } from "./etcd_errors.ts";

export interface LeaseKeeperOptions {
  readonly ttlSeconds: number;
  /** Called once when the session is lost (not after revoke()). */
  readonly onLost?: (reason: string) => void;
  /** A keepalive failed but the lease is not lost yet (for logs). */
  readonly onTrouble?: (message: string) => void;
}

export class LeaseKeeper {
  readonly id: string;
  readonly ttlSeconds: number;
  readonly #client: EtcdClient;
  readonly #options: LeaseKeeperOptions;
  #deadlineMs: number;
  #lostReason: string | undefined;
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
    if (this.#revoked || this.#lostReason !== undefined) return;
    if (performance.now() >= this.#deadlineMs) this.#lose(`no successful keepalive before the lease's local deadline (TTL ${this.ttlSeconds} s)`);
    else this.#armDeadline();
  }

  async #keepAlive(): Promise<void> {
    if (this.#revoked || this.#lostReason !== undefined) return;
    const sentAt = performance.now();
    const remaining = this.#deadlineMs - sentAt;
    if (remaining <= 0) {
      this.#lose(`the lease's local deadline passed (TTL ${this.ttlSeconds} s)`);
      return;
    }
    try {
      // One member gets at most a keepalive interval, so a paused or cut-off member leaves time to reach the others before the deadline.
      const attemptTimeoutMs = (this.ttlSeconds * 1000) / KEEPALIVES_PER_TTL;
      const { ttlSeconds } = await this.#client.leaseKeepAlive(this.id, { timeoutMs: Math.max(1, remaining), attemptTimeoutMs });
      if (this.#revoked || this.#lostReason !== undefined) return;
      this.#deadlineMs = Math.max(this.#deadlineMs, sentAt + Math.min(ttlSeconds, this.ttlSeconds) * 1000);
      this.#armDeadline();
    } catch (e) {
      if (this.#revoked || this.#lostReason !== undefined) return;
      if (e instanceof EtcdLeaseExpiredError) {
        this.#lose(`etcd says lease ${this.id} is gone (expired or revoked)`);
        return;
      }
      this.#options.onTrouble?.(`keepalive of lease ${this.id} failed: ${(e as Error)?.message ?? e}`);
      this.#checkDeadline();
      if (this.#lostReason !== undefined) return;
    }
    this.#schedule();
  }

  #lose(reason: string): void {
    if (this.#lostReason !== undefined || this.#revoked) return;
    this.#lostReason = reason;
    this.#stopTimers();
    try {
      this.#options.onLost?.(reason);
    } catch {
      // the owner's handler must not break the keeper
    }
  }
}
