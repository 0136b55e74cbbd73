// The commit policy of one partition this broker leads, on the router thread.
//
// The decision (docs/CLUSTER.md, "Offsets the router sees"): workers publish
// log end and durable offsets; the router derives the high watermark. One
// node: the durable offset (the engine does not create this object then, so
// single-node reads and acks cost nothing more). A leader: the minimum of the
// durable offsets over the ISR — its own (the state row) and each follower's
// last reported one (in its replica fetch). Consumers read below it; an
// acks=all produce is answered once it passes the batch's last offset.
//
// ISR membership is not decided here: the ISR is what becomeLeader gave (the
// controller's, in etcd). This object tracks, per follower, when it last
// reached the leader's log end, and says which followers should leave
// (lagging longer than replica.lag.time.max.ms) or join (caught up to the HW in
// this epoch); the caller proposes the change and applies the ISR it gets back.
// While a proposal is out (`pendingIsr`) the HW is taken over the maximal ISR,
// the current one and the proposed one together (Kafka's rule): members being
// added count already, members being removed still count, so the HW never
// moves on the strength of an ISR etcd has not accepted.
//
// Durability contract of acks=all on a leader: the answer NONE means the batch
// was covered by an fdatasync on every ISR member, and the ISR had at least
// min.insync.replicas members when it was appended and when it was answered.

import { ErrorCode } from "../../protocol/errors.ts";
import { NO_BROKER_EPOCH } from "../../protocol/messages/replica_fetch.ts";
import type { ProduceCallback, ProduceResult } from "../partition_pool.ts";
import { ACKS_ALL_WAITING_PER_PARTITION_MAX } from "./replication_limits.ts";

export interface LeaderRole {
  /** The leader epoch this broker leads in. */
  epoch: number;
  /** Broker ids of the in-sync replicas, this broker included. */
  isr: readonly number[];
  /** Broker ids of every replica, this broker included. */
  replicas: readonly number[];
  /** min.insync.replicas: acks=all is refused below it (default 1). */
  minInsyncReplicas?: number;
  /** replica.lag.time.max.ms (default 10 s). */
  replicaLagTimeMaxMs?: number;
  /** The partition epoch of the state this role comes from (etcd); an older one never replaces a newer one. */
  partitionEpoch?: number;
}

/** What the leader knows of one follower, from its replica fetches. */
export interface FollowerProgress {
  brokerId: number;
  /**
   * The broker epoch (registration) of the process these numbers come from;
   * NO_BROKER_EPOCH until one is known. A different one is another process:
   * its offsets start afresh (resetFollower).
   */
  brokerEpoch: number;
  /** The offset of its last fetch: everything below it it has written. */
  fetchOffset: number;
  /** The durable offset it reported: everything below it is fdatasync'ed on it. */
  durableOffset: number;
  lastFetchMs: number;
  /** The last time a fetch of it reached the leader's log end (as it was at its previous fetch). */
  lastCaughtUpMs: number;
  /** Leader log end at its previous fetch (Kafka's rule: reaching it counts as caught up). */
  logEndAtPreviousFetch: number;
}

/** A follower known from the role only: no fetch yet, counted as caught up now (it was when the controller wrote the ISR). */
function newProgress(brokerId: number, nowMs: number): FollowerProgress {
  return { brokerId, brokerEpoch: NO_BROKER_EPOCH, fetchOffset: 0, durableOffset: 0, lastFetchMs: 0, lastCaughtUpMs: nowMs, logEndAtPreviousFetch: 0 };
}

interface AcksAllWaiter {
  lastOffset: number;
  result: ProduceResult;
  cb: ProduceCallback;
}

export class LeaderPartition {
  readonly brokerId: number;
  epoch: number;
  isr: readonly number[];
  replicas: readonly number[];
  minInsyncReplicas: number;
  replicaLagTimeMaxMs: number;
  /** The partition epoch of the ISR held (-1: given without one, by hand). */
  partitionEpoch: number;
  /** The ISR proposed to the controller and not answered yet (one proposal at a time). */
  pendingIsr: readonly number[] | undefined;
  /** No new proposal before this time (after a refused one: the view brings the state it was refused for). */
  nextProposalMs = 0;
  /** The high watermark consumers read below; only grows within a leadership. */
  highWatermark: number;
  readonly followers = new Map<number, FollowerProgress>();
  /** acks=all produces durable here, waiting for the HW to pass them, oldest first (their offsets grow). */
  readonly #waiting: AcksAllWaiter[] = [];
  #waitingHead = 0;
  /** Set by failAll: the leadership is over, later waiters are answered with this at once. */
  #ended: { code: number; message: string } | undefined;
  /** Answers for divergence checks: the leader's own OffsetForLeaderEpoch per epoch below its current one (they cannot change while it leads). */
  readonly epochEnds = new Map<number, { epoch: number; endOffset: number }>();

  /**
   * `learntHighWatermark`: the HW this broker knew as the partition's follower
   * (0 when it was none). Kafka starts a new leader's HW there: everything
   * below it is committed (durable on every ISR member of the old leader, this
   * broker included), so consumers of the new leader do not wait for the
   * first follower reports. Never above its own durable offset.
   */
  constructor(brokerId: number, role: LeaderRole, ownDurableOffset: number, nowMs: number, learntHighWatermark = 0) {
    this.brokerId = brokerId;
    this.epoch = role.epoch;
    this.isr = role.isr;
    this.replicas = role.replicas;
    this.minInsyncReplicas = role.minInsyncReplicas ?? 1;
    this.replicaLagTimeMaxMs = role.replicaLagTimeMaxMs ?? 10_000;
    this.partitionEpoch = role.partitionEpoch ?? -1;
    this.highWatermark = Math.max(0, Math.min(learntHighWatermark, ownDurableOffset));
    for (const id of role.replicas) {
      if (id === brokerId) continue;
      // A member of the given ISR counts as caught up now (it was when the controller wrote the ISR).
      this.followers.set(id, newProgress(id, nowMs));
    }
    this.recompute(ownDurableOffset);
  }

  /** A new role in the same leadership (an ISR change, a config change); the epoch may move up. */
  update(role: LeaderRole, ownDurableOffset: number, nowMs: number): void {
    if (role.epoch !== this.epoch) this.epochEnds.clear();
    this.epoch = role.epoch;
    this.isr = role.isr;
    this.replicas = role.replicas;
    if (role.minInsyncReplicas !== undefined) this.minInsyncReplicas = role.minInsyncReplicas;
    if (role.replicaLagTimeMaxMs !== undefined) this.replicaLagTimeMaxMs = role.replicaLagTimeMaxMs;
    if (role.partitionEpoch !== undefined) this.partitionEpoch = role.partitionEpoch;
    for (const id of role.replicas) {
      if (id !== this.brokerId && !this.followers.has(id)) {
        this.followers.set(id, newProgress(id, nowMs));
      }
    }
    for (const id of [...this.followers.keys()]) if (!role.replicas.includes(id)) this.followers.delete(id);
    this.recompute(ownDurableOffset);
  }

  isReplica(brokerId: number): boolean {
    return brokerId !== this.brokerId && this.followers.has(brokerId);
  }

  /**
   * Records a follower's fetch, from the process of broker epoch
   * `brokerEpoch` (the caller refused older ones). The follower's offsets only
   * grow within a leadership and a process (a restarted follower starts lower:
   * taken as is, its old numbers dropped first).
   */
  onFollowerFetch(brokerId: number, brokerEpoch: number, fetchOffset: number, durableOffset: number, leaderLogEnd: number, nowMs: number): void {
    const f = this.followers.get(brokerId);
    if (f === undefined) return;
    if (f.brokerEpoch !== brokerEpoch) this.resetFollower(brokerId, brokerEpoch);
    // A follower reports durable only what it has; never count more than it fetched.
    const durable = Math.min(durableOffset, fetchOffset);
    // Kafka's rule (Replica.updateFetchState): caught up now when the fetch reached
    // the log end; caught up as of its previous fetch when it reached the log end as it was then.
    if (fetchOffset >= leaderLogEnd) f.lastCaughtUpMs = nowMs;
    else if (f.lastFetchMs > 0 && fetchOffset >= f.logEndAtPreviousFetch) f.lastCaughtUpMs = Math.max(f.lastCaughtUpMs, f.lastFetchMs);
    f.fetchOffset = fetchOffset;
    f.durableOffset = durable;
    f.lastFetchMs = nowMs;
    f.logEndAtPreviousFetch = leaderLogEnd;
  }

  /**
   * A follower's broker is another process now (broker epoch `brokerEpoch`):
   * what the previous one fetched and made durable says nothing of this one
   * (it may have lost an unfsynced tail), so its offsets start from 0 — the HW
   * waits for its reports, and an ISR expansion for its fetches. When it last
   * caught up is kept: it bounds how long an ISR member may take to report.
   */
  resetFollower(brokerId: number, brokerEpoch: number): void {
    const f = this.followers.get(brokerId);
    if (f === undefined) return;
    f.brokerEpoch = brokerEpoch;
    f.fetchOffset = 0;
    f.durableOffset = 0;
    f.lastFetchMs = 0;
    f.logEndAtPreviousFetch = 0;
  }

  /**
   * The HW from the ISR's durable offsets; returns true when it moved. Never
   * backwards (a follower that restarted lower holds it still until it is
   * shrunk out or catches up).
   */
  recompute(ownDurableOffset: number): boolean {
    let hw = ownDurableOffset;
    for (const id of this.isr) {
      if (id === this.brokerId) continue;
      const f = this.followers.get(id);
      hw = Math.min(hw, f === undefined ? 0 : f.durableOffset);
    }
    const pending = this.pendingIsr;
    if (pending !== undefined) {
      for (const id of pending) {
        if (id === this.brokerId || this.isr.includes(id)) continue;
        const f = this.followers.get(id);
        hw = Math.min(hw, f === undefined ? 0 : f.durableOffset);
      }
    }
    if (hw <= this.highWatermark) return false;
    this.highWatermark = hw;
    return true;
  }

  /** Whether an acks=all produce may be appended now. */
  enoughInsync(): boolean {
    return this.isr.length >= this.minInsyncReplicas;
  }

  /**
   * An acks=all produce that is durable here: answered now when the HW passed
   * it, else when it does (settle), or refused when the ISR shrank below the
   * minimum meanwhile. false: too many waiting (the caller refuses it).
   */
  waitForIsr(result: ProduceResult, cb: ProduceCallback): boolean {
    // The leadership ended while this produce's fdatasync ran: nothing would
    // ever settle a waiter registered now (the object is dropped), so answer.
    if (this.#ended !== undefined) {
      cb(this.#ended.code, null, this.#ended.message);
      return true;
    }
    if (result.lastOffset < this.highWatermark) {
      this.#answer({ lastOffset: result.lastOffset, result, cb });
      return true;
    }
    if (this.#waiting.length - this.#waitingHead >= ACKS_ALL_WAITING_PER_PARTITION_MAX) return false;
    this.#waiting.push({ lastOffset: result.lastOffset, result, cb });
    return true;
  }

  get waitingCount(): number {
    return this.#waiting.length - this.#waitingHead;
  }

  /** Answers every waiting acks=all the HW now covers (oldest first). */
  settle(): void {
    const w = this.#waiting;
    while (this.#waitingHead < w.length && w[this.#waitingHead].lastOffset < this.highWatermark) {
      const next = w[this.#waitingHead];
      w[this.#waitingHead++] = undefined as unknown as AcksAllWaiter;
      this.#answer(next);
    }
    if (this.#waitingHead === w.length) {
      w.length = 0;
      this.#waitingHead = 0;
    }
  }

  #answer(waiter: AcksAllWaiter): void {
    if (!this.enoughInsync()) {
      waiter.cb(ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND, null, `the ISR shrank to ${this.isr.length}, below min.insync.replicas ${this.minInsyncReplicas}, while the write waited`);
      return;
    }
    waiter.cb(ErrorCode.NONE, waiter.result);
  }

  /** Fails every waiting acks=all, and every later one (leadership lost, partition closed). */
  failAll(code: number, message: string): void {
    this.#ended = { code, message };
    const w = this.#waiting;
    for (let i = this.#waitingHead; i < w.length; i++) w[i].cb(code, null, message);
    w.length = 0;
    this.#waitingHead = 0;
  }

  /** Followers in the ISR that have not reached the log end for longer than replica.lag.time.max.ms: propose them out. */
  shouldShrink(nowMs: number): number[] {
    const out: number[] = [];
    for (const id of this.isr) {
      if (id === this.brokerId) continue;
      const f = this.followers.get(id);
      if (f === undefined || nowMs - f.lastCaughtUpMs > this.replicaLagTimeMaxMs) out.push(id);
    }
    return out;
  }

  /**
   * The ISR to propose now, or undefined when it should not change: the ISR
   * without the followers to shrink, with the ones to expand, in replica order.
   */
  proposal(nowMs: number): number[] | undefined {
    const out = this.shouldShrink(nowMs);
    const add = this.shouldExpand(nowMs);
    if (out.length === 0 && add.length === 0) return undefined;
    return this.replicas.filter((id) => id === this.brokerId || (this.isr.includes(id) && !out.includes(id)) || add.includes(id));
  }

  /**
   * Replicas outside the ISR whose durable offset reached the HW in this
   * epoch, and that are caught up as the shrink rule counts it (a stopped
   * follower whose old reports still match an idle HW must not flap back in):
   * propose them in.
   */
  shouldExpand(nowMs: number = Date.now()): number[] {
    const add: number[] = [];
    for (const f of this.followers.values()) {
      if (this.isr.includes(f.brokerId) || f.lastFetchMs === 0) continue;
      if (f.durableOffset >= this.highWatermark && nowMs - f.lastCaughtUpMs <= this.replicaLagTimeMaxMs) add.push(f.brokerId);
    }
    return add;
  }
}
