// The roles of this broker's partitions in replication, given explicitly:
// becomeLeader / becomeFollower (the cluster's partition state in etcd decides
// them; whoever reads it calls these). Holds the leaders' commit policies
// (leader_partition.ts) and the follower fetchers (replica_fetcher.ts, one per
// leader broker), and serves the leader's side of a replica fetch.
//
// A partition with no role here is a single-node partition: the engine reads
// it below its durable offset and answers acks=all at its fdatasync, exactly
// as without replication (the maps are empty; each hook is one size check).
//
// Runs on: the router (main) thread.

import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import { NO_BROKER_EPOCH } from "../../protocol/messages/replica_fetch.ts";
import type { PartitionPool, ProduceCallback, ProduceResult } from "../partition_pool.ts";
import { LeaderPartition, type LeaderRole } from "./leader_partition.ts";
import { MoveThrottle } from "./move_throttle.ts";
import { type FollowerPartition, ReplicaFetcher, lastEpochIn, type FollowerHost } from "./replica_fetcher.ts";

export interface FollowerRole {
  epoch: number;
  leader: { host: string; port: number };
}

/** A partition's state as the controller answers an ISR change. */
export interface ProposedIsrState {
  leader: number;
  leaderEpoch: number;
  isr: readonly number[];
  partitionEpoch: number;
}

/**
 * Sends a leader's ISR change to the controller (in a cluster: a request key,
 * cluster/alter_partition.ts); resolves with the partition's new state, or
 * rejects with the refusal (a SluiceError: FENCED_LEADER_EPOCH,
 * INVALID_UPDATE_VERSION, …, or REQUEST_TIMED_OUT).
 */
export type IsrProposer = (topic: string, partition: number, proposal: { leaderEpoch: number; partitionEpoch: number; isr: number[] }) => Promise<ProposedIsrState>;

/** What the manager needs from the engine. */
export interface ReplicationHost {
  readonly pool: PartitionPool;
  resolve(topic: string, partition: number): number;
  /** A partition's visible end moved: wake parked fetches of it. */
  wake(slot: number): void;
  log(line: string): void;
}

/** The leader's answer to one partition of a replica fetch before any read. */
export type ReplicaFetchCheck =
  | { kind: "read"; slot: number; leader: LeaderPartition }
  | { kind: "error"; errorCode: number; highWatermark: number; logStartOffset: number; logEndOffset: number }
  | { kind: "diverging"; epoch: number; endOffset: number; highWatermark: number; logStartOffset: number; logEndOffset: number };

export class ReplicaManager {
  readonly brokerId: number;
  readonly #host: ReplicationHost;
  readonly #leaders = new Map<number, LeaderPartition>();
  /** slot → the fetcher following it. */
  readonly #following = new Map<number, { fetcher: ReplicaFetcher; topic: string; partition: number }>();
  /** Fetchers by leader address, and by leader address + COPY_FETCHER_SUFFIX for the partitions moves add here. */
  readonly #fetchers = new Map<string, ReplicaFetcher>();
  /** Slots this broker is an adding replica of a move of (setCopying): followed by the leader's copy fetcher. */
  readonly #copying = new Set<number>();
  readonly #durableWaiters = new Map<number, { offset: number; resolve: () => void }[]>();
  readonly #followerHost: FollowerHost;
  /** Per slot, a count of role calls: a becomeLeader that awaited its epoch write applies only if no call came since. */
  readonly #changes = new Map<number, number>();
  /** The HW a replica knew when its role was dropped while it stayed (forget with keepHighWatermark). */
  readonly #keptHighWatermarks = new Map<number, number>();
  /** Topic and partition of each led slot (for proposals). */
  readonly #ledNames = new Map<number, { topic: string; partition: number }>();
  #proposer: IsrProposer | undefined;
  #isrTimer: ReturnType<typeof setInterval> | undefined;
  #isrCheckMs = 0;
  /** The cap on replica fetch answers to the replicas moves are adding (move_throttle.ts; set from etcd by cluster_replicas.ts). */
  readonly moveThrottle = new MoveThrottle();
  /** ISR changes the controller accepted and refused (for tests and metrics). */
  /** ISR changes this broker proposed as leader: written by the controller (and of those, the ones that removed or added a member), refused. */
  readonly isrProposals = { accepted: 0, refused: 0, shrinks: 0, expands: 0 };

  constructor(host: ReplicationHost, brokerId: number) {
    this.#host = host;
    this.brokerId = brokerId;
    const pool = host.pool;
    this.#followerHost = {
      brokerId,
      brokerEpoch: () => this.brokerEpoch(),
      resolve: (t, p) => {
        // A replica whose disk failed (its fdatasync is never retried) stops fetching: the leader then sees no
        // fetches from it and shrinks it out of the ISR after replica.lag.time.max.ms. Fetching on at its log end
        // would count as caught up while nothing new arrives, and hold the HW below what it never made durable.
        const slot = host.resolve(t, p);
        if (slot >= 0 && !pool.state(slot).online) return -ErrorCode.KAFKA_STORAGE_ERROR;
        return slot;
      },
      logEndOffset: (slot) => pool.state(slot).logEndOffset,
      durableOffset: (slot) => pool.state(slot).durableOffset,
      lastBatchEpoch: (slot) => this.#lastBatchEpoch(slot),
      endOffsetForEpoch: (slot, epoch) => replicaCalls(pool).endOffsetForEpoch(slot, epoch),
      truncate: async (slot, offset) => {
        const r = await replicaCalls(pool).truncate(slot, offset);
        host.wake(slot);
        return r;
      },
      appendAsFollower: (slot, records) => replicaCalls(pool).appendAsFollower(slot, records),
      whenDurable: (slot, offset, timeoutMs) => this.#whenDurable(slot, offset, timeoutMs),
      highWatermarkMoved: (slot) => host.wake(slot),
      log: (line) => host.log(line),
    };
  }

  /**
   * In a cluster: whether this broker may acknowledge writes as a leader now
   * (its session's local deadline is ahead; it reads the clock). The engine
   * checks it when a produce arrives and when its answer is made. Undefined
   * without a cluster (roles by hand): no check.
   */
  leaseAlive: (() => boolean) | undefined;

  /**
   * This broker's epoch as its fetches send it (in a cluster: its current
   * registration's create revision, set by cluster_replicas.ts); outside a
   * cluster NO_BROKER_EPOCH.
   */
  brokerEpoch: () => number = () => NO_BROKER_EPOCH;

  /**
   * The newest broker epoch known of each other broker: from this broker's
   * view of etcd (noteBrokerEpoch) or from a fetch that carried a newer one
   * than the view had yet. A fetch with an older one is a replaced process's.
   */
  readonly #brokerEpochs = new Map<number, number>();

  /**
   * `brokerId` is registered with `brokerEpoch` (the view of etcd says so, or
   * one of its fetches): when that is newer than the epoch known, the
   * follower state every leader here keeps of it is its previous process's and
   * starts afresh (LeaderPartition.resetFollower), before its new process's
   * first fetch. `viewRevision`: the etcd revision of the view that says so
   * (absent for a fetch's epoch).
   */
  noteBrokerEpoch(brokerId: number, brokerEpoch: number, viewRevision?: number): void {
    const known = this.#brokerEpochs.get(brokerId) ?? NO_BROKER_EPOCH;
    // An epoch newer than the view's came from a fetch, and is trusted only until the view has caught up
    // with it: a view at or past that revision that registers the broker otherwise shows it named no
    // registration (a fetch claiming the id with an invented epoch), and the view's epoch is taken back.
    const claimDisproved = viewRevision !== undefined && known > brokerEpoch && known <= viewRevision;
    if (brokerEpoch <= known && !claimDisproved) return;
    this.#brokerEpochs.set(brokerId, brokerEpoch);
    for (const [slot, leader] of this.#leaders) {
      const f = leader.followers.get(brokerId);
      if (f === undefined || f.brokerEpoch === brokerEpoch) continue;
      leader.resetFollower(brokerId, brokerEpoch);
      this.#afterHwChange(slot);
    }
  }

  /**
   * A replica fetch's broker epoch checked against the one known for its
   * broker: a refusal message when it is older (STALE_BROKER_EPOCH: a process
   * whose registration was replaced), else undefined. A newer one than known
   * is taken as the broker's (this view may trail etcd) by checkReplicaFetch,
   * once the id is known as a follower of a partition led here: the map stays
   * bounded by the cluster's brokers, whatever ids requests name.
   */
  staleBrokerEpoch(replicaId: number, brokerEpoch: number): string | undefined {
    const known = this.#brokerEpochs.get(replicaId) ?? NO_BROKER_EPOCH;
    return brokerEpoch < known ? `broker ${replicaId}'s fetch carries broker epoch ${brokerEpoch}, older than its registration ${known}` : undefined;
  }

  /** True when any partition has a role (the engine's hot paths check this first). */
  get active(): boolean {
    return this.#leaders.size > 0 || this.#following.size > 0;
  }

  isFollowing(slot: number): boolean {
    return this.#following.has(slot);
  }

  leaderOf(slot: number): LeaderPartition | undefined {
    return this.#leaders.get(slot);
  }

  followerState(topic: string, partition: number): FollowerPartition | undefined {
    const slot = this.#host.resolve(topic, partition);
    return slot < 0 ? undefined : this.#following.get(slot)?.fetcher.partitionState(topic, partition);
  }

  /**
   * This broker leads `topic`-`p` in `role.epoch` with the ISR and replicas
   * given. The epoch is stamped into the log (its epoch file starts it at the
   * log end) before the leader state exists, so no append of the new
   * leadership goes out without it. Called again with the same epoch: the ISR
   * (or config) changes in place; a role with an older partition epoch than
   * the one held (the view bringing a state the controller's answer already
   * gave) changes nothing. A follower becoming leader starts its HW at the HW
   * it learnt from the old leader (LeaderPartition's constructor).
   */
  async becomeLeader(topic: string, partition: number, role: LeaderRole): Promise<void> {
    const slot = this.#slot(topic, partition);
    if (!role.isr.includes(this.brokerId) || !role.replicas.includes(this.brokerId)) {
      throw new SluiceError(ErrorCode.INVALID_REQUEST, `broker ${this.brokerId} must be in the replicas and the ISR it leads`);
    }
    const existing = this.#leaders.get(slot);
    if (existing !== undefined && role.epoch < existing.epoch) {
      throw new SluiceError(ErrorCode.FENCED_LEADER_EPOCH, `leader epoch ${role.epoch} is older than ${existing.epoch}`);
    }
    const followed = this.#following.get(slot);
    const followedEpoch = followed?.fetcher.partitionState(followed.topic, followed.partition)?.leaderEpoch ?? -1;
    if (role.epoch < followedEpoch) {
      throw new SluiceError(ErrorCode.FENCED_LEADER_EPOCH, `leader epoch ${role.epoch} is older than ${followedEpoch}, which this broker follows`);
    }
    if (existing !== undefined && role.epoch === existing.epoch && role.partitionEpoch !== undefined && role.partitionEpoch < existing.partitionEpoch) return;
    const learnt = Math.max(followed?.fetcher.partitionState(followed.topic, followed.partition)?.highWatermark ?? 0, this.#keptHighWatermarks.get(slot) ?? 0);
    this.#stopFollowing(slot);
    const change = this.#bumpChange(slot);
    if (existing === undefined || role.epoch !== existing.epoch) await replicaCalls(this.#host.pool).setLeaderEpoch(slot, role.epoch);
    // Another role call came while the epoch was written: it is the newer decision.
    if (this.#changes.get(slot) !== change) return;
    const durable = this.#host.pool.state(slot).durableOffset;
    if (existing !== undefined) existing.update(role, durable, Date.now());
    else this.#leaders.set(slot, new LeaderPartition(this.brokerId, role, durable, Date.now(), learnt));
    this.#keptHighWatermarks.delete(slot);
    this.#ledNames.set(slot, { topic, partition });
    this.#afterHwChange(slot);
  }

  /**
   * This broker follows `topic`-`p`, led in `role.epoch` by the broker at
   * `role.leader`. Waiting acks=all of an earlier leadership fail with
   * NOT_LEADER_OR_FOLLOWER (they may or may not survive on the new leader).
   */
  becomeFollower(topic: string, partition: number, role: FollowerRole): void {
    const slot = this.#slot(topic, partition);
    const leader = this.#leaders.get(slot);
    if (leader !== undefined && role.epoch < leader.epoch) {
      throw new SluiceError(ErrorCode.FENCED_LEADER_EPOCH, `leader epoch ${role.epoch} is older than ${leader.epoch}, which this broker leads`);
    }
    const followed = this.#following.get(slot);
    const followedEpoch = followed?.fetcher.partitionState(followed.topic, followed.partition)?.leaderEpoch ?? -1;
    if (role.epoch < followedEpoch) throw new SluiceError(ErrorCode.FENCED_LEADER_EPOCH, `leader epoch ${role.epoch} is older than ${followedEpoch}`);
    this.#bumpChange(slot);
    // From here the HW is the leader's (a truncation may cut below a kept one).
    this.#keptHighWatermarks.delete(slot);
    if (leader !== undefined) {
      this.#leaders.delete(slot);
      leader.failAll(ErrorCode.NOT_LEADER_OR_FOLLOWER, `this broker no longer leads ${topic}-${partition}`);
    }
    this.#follow(slot, topic, partition, role.leader, role.epoch, false);
  }

  /**
   * Follows the partition with the fetcher for its leader: the ordinary one,
   * or, for a partition a move adds here, the leader's copy fetcher — a
   * connection of its own, so a copy's large answers and appends never hold up
   * the fetches that carry the other partitions' records (and with them
   * acks=all on their leader). `carryHighWatermark`: the partition only
   * changes fetcher (same leader, same epoch), so the high watermarks it knew
   * stay true; a new leader starts them afresh, as its answers (or a
   * truncation) decide.
   */
  #follow(slot: number, topic: string, partition: number, leader: { host: string; port: number }, epoch: number, carryHighWatermark: boolean): void {
    const copy = this.#copying.has(slot);
    const k = `${leader.host}:${leader.port}${copy ? COPY_FETCHER_SUFFIX : ""}`;
    const current = this.#following.get(slot);
    const was = current?.fetcher.partitionState(current.topic, current.partition);
    const carried = was === undefined || !carryHighWatermark ? undefined : { highWatermark: was.highWatermark, leaderHighWatermark: was.leaderHighWatermark };
    if (current !== undefined && current.fetcher !== this.#fetchers.get(k)) this.#stopFollowing(slot);
    let fetcher = this.#fetchers.get(k);
    if (fetcher === undefined) {
      const counters = this.fetchedBytes;
      const onRecords = copy ? (n: number) => (counters.copy += n) : (n: number) => (counters.ordinary += n);
      fetcher = new ReplicaFetcher({ host: leader.host, port: leader.port, follower: this.#followerHost, copy, onRecords });
      this.#fetchers.set(k, fetcher);
    }
    const p = fetcher.add(topic, partition, slot, epoch);
    if (carried !== undefined && p.highWatermark < carried.highWatermark) {
      p.highWatermark = carried.highWatermark;
      p.leaderHighWatermark = Math.max(p.leaderHighWatermark, carried.leaderHighWatermark);
    }
    this.#following.set(slot, { fetcher, topic, partition });
  }

  /**
   * Whether this broker is an adding replica of a move of the partition in
   * `slot` (the cluster's move records say; engine/cluster_replicas.ts). Its
   * copy then runs on the leader's copy fetcher (see #follow); when the move
   * ends it goes back to the ordinary one.
   */
  setCopying(slot: number, copying: boolean): void {
    if (copying === this.#copying.has(slot)) return;
    if (copying) this.#copying.add(slot);
    else this.#copying.delete(slot);
    const f = this.#following.get(slot);
    const st = f?.fetcher.partitionState(f.topic, f.partition);
    if (f !== undefined && st !== undefined) this.#follow(slot, f.topic, f.partition, { host: f.fetcher.host, port: f.fetcher.port }, st.leaderEpoch, true);
  }

  /** Bytes of records this broker's fetchers brought as follower: by its ordinary fetchers and by copy fetchers (tests and metrics). */
  readonly fetchedBytes = { ordinary: 0, copy: 0 };

  /** The fetchers this broker runs: ordinary ones and copy fetchers (tests and metrics). */
  fetcherCounts(): { ordinary: number; copy: number } {
    let copy = 0;
    for (const f of this.#fetchers.values()) if (f.copy) copy++;
    return { ordinary: this.#fetchers.size - copy, copy };
  }

  /**
   * Drops any role of the partition. `keepHighWatermark`: the replica stays
   * (its leader is offline, or this broker's session is suspended), so the HW
   * it knew is where it starts if it leads again; otherwise the partition is
   * closed or deleted and its slot may be reused.
   */
  forget(slot: number, keepHighWatermark = false): void {
    this.#bumpChange(slot);
    const leader = this.#leaders.get(slot);
    const followed = this.#following.get(slot);
    const hw = leader?.highWatermark ?? followed?.fetcher.partitionState(followed.topic, followed.partition)?.highWatermark;
    if (keepHighWatermark && hw !== undefined) this.#keptHighWatermarks.set(slot, Math.max(hw, this.#keptHighWatermarks.get(slot) ?? 0));
    else if (!keepHighWatermark) this.#keptHighWatermarks.delete(slot);
    if (leader !== undefined) {
      this.#leaders.delete(slot);
      leader.failAll(ErrorCode.NOT_LEADER_OR_FOLLOWER, "the partition is no longer led here");
    }
    this.#stopFollowing(slot);
    this.moveThrottle.set(slot, undefined, undefined);
    // A slot may be reused by another partition: what the cluster says of moves is given again for it.
    if (!keepHighWatermark) this.#copying.delete(slot);
  }

  #bumpChange(slot: number): number {
    const n = (this.#changes.get(slot) ?? 0) + 1;
    this.#changes.set(slot, n);
    return n;
  }

  #stopFollowing(slot: number): void {
    const f = this.#following.get(slot);
    if (f === undefined) return;
    this.#following.delete(slot);
    f.fetcher.remove(f.topic, f.partition);
    // A leader this broker follows nothing on any more (it moved, or restarted at another port): close its connection.
    const k = `${f.fetcher.host}:${f.fetcher.port}${f.fetcher.copy ? COPY_FETCHER_SUFFIX : ""}`;
    if (f.fetcher.size === 0 && this.#fetchers.get(k) === f.fetcher) {
      this.#fetchers.delete(k);
      void f.fetcher.close();
    }
  }

  #slot(topic: string, partition: number): number {
    const slot = this.#host.resolve(topic, partition);
    if (slot < 0) throw new SluiceError(-slot, `partition ${topic}-${partition} is not open here`);
    return slot;
  }

  // ---------------------------------------------------------------- engine hooks

  /** The worker moved a partition's offsets (pool.onAdvance). */
  onAdvance(slot: number): void {
    if (this.#leaders.size > 0) {
      const leader = this.#leaders.get(slot);
      if (leader !== undefined && leader.recompute(this.#host.pool.state(slot).durableOffset)) leader.settle();
    }
    if (this.#durableWaiters.size > 0) {
      const waiters = this.#durableWaiters.get(slot);
      if (waiters !== undefined) {
        const durable = this.#host.pool.state(slot).durableOffset;
        const left = waiters.filter((w) => w.offset > durable);
        for (const w of waiters) if (w.offset <= durable) w.resolve();
        if (left.length === 0) this.#durableWaiters.delete(slot);
        else this.#durableWaiters.set(slot, left);
      }
    }
  }

  /**
   * The read bound of a consumer fetch: a leader's replicated HW; a follower's
   * HW (the leader's, never above its own durable offset), so a consumer of a
   * follower never sees what the leader has not committed; -1 without a role
   * (one node: the durable offset).
   */
  readBound(slot: number): number {
    const leader = this.#leaders.get(slot);
    if (leader !== undefined) return leader.highWatermark;
    const f = this.#following.get(slot);
    if (f === undefined) return -1;
    return f.fetcher.partitionState(f.topic, f.partition)?.highWatermark ?? 0;
  }

  /**
   * An acks=all produce to a leader partition: refused with NOT_ENOUGH_REPLICAS
   * when the ISR is below min.insync.replicas, else appended and answered once
   * the HW passes it. Returns the callback to give the pool (acks -1: called at
   * the local fdatasync), or null after answering `cb` itself.
   */
  acksAllCallback(leader: LeaderPartition, cb: ProduceCallback): ProduceCallback | null {
    if (!leader.enoughInsync()) {
      cb(ErrorCode.NOT_ENOUGH_REPLICAS, null, `the ISR has ${leader.isr.length} members, below min.insync.replicas ${leader.minInsyncReplicas}`);
      return null;
    }
    return (err: number, res: ProduceResult | null, message?: string) => {
      if (err !== ErrorCode.NONE || res === null) return cb(err, res, message);
      // The leader may have changed while the fdatasync ran.
      if (!leader.waitForIsr(res, cb)) cb(ErrorCode.NOT_ENOUGH_REPLICAS, null, "too many acks=all produces wait for the ISR on this partition");
    };
  }

  /** Applies an ISR given from outside (the controller's answer) without changing the epoch. */
  setIsr(topic: string, partition: number, isr: readonly number[]): void {
    const slot = this.#slot(topic, partition);
    const leader = this.#leaders.get(slot);
    if (leader === undefined) throw new SluiceError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `this broker does not lead ${topic}-${partition}`);
    leader.update({ epoch: leader.epoch, isr, replicas: leader.replicas }, this.#host.pool.state(slot).durableOffset, Date.now());
    this.#afterHwChange(slot);
  }

  // ---------------------------------------------------------------- ISR changes (AlterPartition)

  /**
   * From now on each leader proposes ISR changes through `proposer`: every
   * `checkEveryMs` (a fraction of replica.lag.time.max.ms) for followers to
   * shrink or expand, and on a replica fetch for a follower to expand. One
   * proposal in flight per partition; its answer is applied as the ISR (the
   * view brings the same state to becomeLeader later, which then changes
   * nothing).
   */
  startIsrChanges(proposer: IsrProposer, checkEveryMs: number): void {
    this.#proposer = proposer;
    this.#isrCheckMs = checkEveryMs;
    clearInterval(this.#isrTimer);
    this.#isrTimer = setInterval(() => {
      if (this.#leaders.size === 0) return;
      const now = Date.now();
      for (const [slot, leader] of this.#leaders) this.#proposeIsr(slot, leader, now);
    }, checkEveryMs);
    this.#isrTimer.unref?.();
  }

  #proposeIsr(slot: number, leader: LeaderPartition, now: number): void {
    const proposer = this.#proposer;
    const names = this.#ledNames.get(slot);
    if (proposer === undefined || names === undefined || leader.pendingIsr !== undefined || now < leader.nextProposalMs || leader.partitionEpoch < 0) return;
    // A session past its deadline changes nothing (the controller would refuse it anyway).
    if (this.leaseAlive !== undefined && !this.leaseAlive()) return;
    const isr = leader.proposal(now);
    if (isr === undefined) return;
    leader.pendingIsr = isr;
    const { epoch, partitionEpoch } = leader;
    // The view may apply the written state before the answer arrives: compare with the ISR proposed from.
    const from = [...leader.isr];
    proposer(names.topic, names.partition, { leaderEpoch: epoch, partitionEpoch, isr }).then(
      (state) => {
        if (this.#leaders.get(slot) !== leader) return;
        leader.pendingIsr = undefined;
        this.isrProposals.accepted++;
        if (from.some((id) => !state.isr.includes(id))) this.isrProposals.shrinks++;
        if (state.isr.some((id) => !from.includes(id))) this.isrProposals.expands++;
        if (state.leader === this.brokerId && state.leaderEpoch === leader.epoch && state.partitionEpoch > leader.partitionEpoch) {
          leader.update({ epoch: leader.epoch, isr: state.isr, replicas: leader.replicas, partitionEpoch: state.partitionEpoch }, this.#host.pool.state(slot).durableOffset, Date.now());
        }
        this.#afterHwChange(slot);
      },
      (e) => {
        this.isrProposals.refused++;
        if (this.#leaders.get(slot) !== leader) return;
        leader.pendingIsr = undefined;
        // Refused as stale: the view brings the state it was refused for; propose again from that.
        leader.nextProposalMs = Date.now() + this.#isrCheckMs;
        this.#host.log(`sluice: ISR change of ${names.topic}-${names.partition} to [${isr}] not made: ${(e as Error)?.message ?? e}`);
        this.#afterHwChange(slot);
      },
    );
  }

  /**
   * How far this broker's followers are behind the partitions it leads, in
   * messages (the leader's log end minus the follower's fetch offset): the
   * largest and the sum over every (partition, follower). A follower that has
   * not fetched in this leadership counts from offset 0.
   */
  followerLag(): { max: number; total: number } {
    let max = 0;
    let total = 0;
    for (const [slot, leader] of this.#leaders) {
      const end = this.#host.pool.state(slot).logEndOffset;
      for (const f of leader.followers.values()) {
        const lag = Math.max(0, end - f.fetchOffset);
        total += lag;
        if (lag > max) max = lag;
      }
    }
    return { max, total };
  }

  #afterHwChange(slot: number): void {
    const leader = this.#leaders.get(slot);
    if (leader === undefined) return;
    leader.recompute(this.#host.pool.state(slot).durableOffset);
    // Answers what the HW covers, and fails what the ISR no longer allows (a shrink below the minimum).
    leader.settle();
    this.#host.wake(slot);
  }

  // ---------------------------------------------------------------- the leader's side of a replica fetch

  /**
   * Checks one partition of a replica fetch from `replicaId` and records what
   * it reports (its fetch and durable offsets), which may move the HW.
   */
  async checkReplicaFetch(
    replicaId: number,
    /** null: not sent (ReplicaFetch version 0), not checked. */
    brokerEpoch: number | null,
    topic: string,
    partition: number,
    p: { currentLeaderEpoch: number; fetchOffset: number; lastFetchedEpoch: number; durableOffset: number },
  ): Promise<ReplicaFetchCheck> {
    const slot = this.#host.resolve(topic, partition);
    if (slot < 0) return { kind: "error", errorCode: -slot, highWatermark: -1, logStartOffset: -1, logEndOffset: -1 };
    const st = this.#host.pool.state(slot);
    const leader = this.#leaders.get(slot);
    const offsets = { highWatermark: leader?.highWatermark ?? -1, logStartOffset: st.logStartOffset, logEndOffset: st.logEndOffset };
    if (leader === undefined) return { kind: "error", errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, ...offsets };
    // A follower's newer broker epoch is taken before the partition's own checks: even a fetch refused below is its new process's.
    if (brokerEpoch !== null && leader.isReplica(replicaId) && this.staleBrokerEpoch(replicaId, brokerEpoch) === undefined) this.noteBrokerEpoch(replicaId, brokerEpoch);
    if (p.currentLeaderEpoch < leader.epoch) return { kind: "error", errorCode: ErrorCode.FENCED_LEADER_EPOCH, ...offsets };
    if (p.currentLeaderEpoch > leader.epoch) return { kind: "error", errorCode: ErrorCode.UNKNOWN_LEADER_EPOCH, ...offsets };
    if (!leader.isReplica(replicaId)) return { kind: "error", errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, ...offsets };
    if (p.fetchOffset < 0 || p.fetchOffset > st.logEndOffset && p.lastFetchedEpoch === leader.epoch) {
      return { kind: "error", errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, ...offsets };
    }
    // KIP-320: the follower's last epoch must end on the leader at or after its fetch offset.
    if (p.lastFetchedEpoch >= 0 && p.lastFetchedEpoch !== leader.epoch) {
      let end = leader.epochEnds.get(p.lastFetchedEpoch);
      if (end === undefined) {
        end = await replicaCalls(this.#host.pool).endOffsetForEpoch(slot, p.lastFetchedEpoch);
        if (this.#leaders.get(slot) !== leader) return { kind: "error", errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, ...offsets };
        leader.epochEnds.set(p.lastFetchedEpoch, end);
      }
      if (end.endOffset < p.fetchOffset || end.epoch < p.lastFetchedEpoch) {
        return { kind: "diverging", epoch: end.epoch, endOffset: end.endOffset, ...offsets };
      }
    }
    if (p.fetchOffset > st.logEndOffset) return { kind: "error", errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, ...offsets };
    // Checked again here, next to the recording: a newer process's fetch may have been taken while this one awaited.
    if (brokerEpoch !== null) {
      if (this.staleBrokerEpoch(replicaId, brokerEpoch) !== undefined) return { kind: "error", errorCode: ErrorCode.STALE_BROKER_EPOCH, ...offsets };
      this.noteBrokerEpoch(replicaId, brokerEpoch);
    }
    const now = Date.now();
    leader.onFollowerFetch(replicaId, brokerEpoch ?? leader.followers.get(replicaId)?.brokerEpoch ?? NO_BROKER_EPOCH, p.fetchOffset, p.durableOffset, st.logEndOffset, now);
    if (leader.recompute(st.durableOffset)) {
      leader.settle();
      this.#host.wake(slot);
    }
    // A follower outside the ISR that caught up is proposed back in at once (Kafka expands on the fetch).
    if (this.#proposer !== undefined && leader.isr.length < leader.followers.size + 1 && !leader.isr.includes(replicaId)) this.#proposeIsr(slot, leader, now);
    return { kind: "read", slot, leader };
  }

  // ---------------------------------------------------------------- follower helpers

  #whenDurable(slot: number, offset: number, timeoutMs: number): Promise<void> {
    if (this.#host.pool.state(slot).durableOffset >= offset) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      let list = this.#durableWaiters.get(slot);
      if (list === undefined) {
        list = [];
        this.#durableWaiters.set(slot, list);
      }
      list.push({ offset, resolve: done });
    });
  }

  /** The epoch of the batch holding this replica's last offset, read back through the worker (the log end may be mid-epoch). */
  #lastBatchEpoch(slot: number): Promise<number> {
    const pool = this.#host.pool;
    const st = pool.state(slot);
    if (st.logEndOffset <= st.logStartOffset) return Promise.resolve(-1);
    return new Promise((resolve, reject) => {
      const ask = (): void => {
        const accepted = pool.fetch(
          slot,
          st.logEndOffset - 1,
          REPLICA_EPOCH_READ_BYTES,
          (err, bytes) => (err === ErrorCode.NONE ? resolve(lastEpochIn(bytes)) : reject(new SluiceError(err, `reading the last batch of slot ${slot} failed`))),
          Number.MAX_SAFE_INTEGER,
        );
        if (!accepted) setTimeout(ask, 1);
      };
      ask();
    });
  }

  async close(): Promise<void> {
    clearInterval(this.#isrTimer);
    this.#proposer = undefined;
    for (const leader of this.#leaders.values()) leader.failAll(ErrorCode.NOT_LEADER_OR_FOLLOWER, "the broker is shutting down");
    this.#leaders.clear();
    this.#following.clear();
    const fetchers = [...this.#fetchers.values()];
    this.#fetchers.clear();
    await Promise.all(fetchers.map((f) => f.close()));
    for (const list of this.#durableWaiters.values()) for (const w of list) w.resolve();
    this.#durableWaiters.clear();
  }
}

/** Appended to a leader's address to key its copy fetcher. */
const COPY_FETCHER_SUFFIX = " copy";

/** Enough for the one batch that holds the last offset (a batch is at most 1 MiB; planRead always returns one whole). */
const REPLICA_EPOCH_READ_BYTES = 1;

type ReplicaCalls = Required<Pick<PartitionPool, "setLeaderEpoch" | "endOffsetForEpoch" | "truncate" | "appendAsFollower">>;

/** The pool's replica log calls; a pool without them (in-memory tests) cannot replicate. */
function replicaCalls(pool: PartitionPool): ReplicaCalls {
  if (pool.appendAsFollower === undefined || pool.truncate === undefined || pool.endOffsetForEpoch === undefined || pool.setLeaderEpoch === undefined) {
    throw new SluiceError(ErrorCode.UNSUPPORTED_VERSION, "this partition pool has no replica log calls");
  }
  return pool as ReplicaCalls;
}
