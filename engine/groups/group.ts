// One consumer group's membership state machine, for either assignment policy:
//
//   coordinator  (the native protocol) the coordinator computes the assignment:
//                a rebalance is every member rejoining (a long JoinGroup), the
//                coordinator bumping the generation and running the assignor,
//                each member fetching its share with SyncGroup.
//   leader       (Kafka's classic protocol) the members offer protocols with
//                opaque metadata; the coordinator picks one every member offers,
//                hands the leader every member's metadata in its JoinGroup
//                answer, and the leader sends everyone's assignment (opaque
//                bytes) in its SyncGroup. A member's SyncGroup waits for the
//                leader's; the group is Stable once the leader synced.
//
// A group has one policy and one protocol type for its life as a membership
// (until it is Empty again); committed offsets are the coordinator's either way.
//
//   Empty ──join──▶ PreparingRebalance ──all members rejoined, or the rebalance
//     ▲                 ▲      │            timeout passed (laggards removed)──▶ CompletingRebalance
//     │                 │      └──last member gone──▶ Empty                            │
//     │                 │                                                              │ every member synced
//     │                 └──join of a new member / changed subscription, leave,         ▼
//     │                    session expiry, partition count change ◀────────────────  Stable
//     └──────────────── last member leaves or expires (from any state)
//
// Fencing: a member's heartbeat, sync and commit carry the generation it
// joined. The generation moves on only when a rebalance completes; a request
// from an older generation gets ILLEGAL_GENERATION, from a member the group no
// longer has UNKNOWN_MEMBER_ID, and a heartbeat or sync while the group waits
// for rejoins REBALANCE_IN_PROGRESS. Each tells the member to rejoin.
//
// Commits are accepted in PreparingRebalance (from the current generation: a
// member commits what it processed before it gives its partitions up) and in
// CompletingRebalance (the assignment is already fixed by the coordinator).
//
// Sessions: every request from a member restarts its session timer. A member
// parked in a pending join has no timer (its request is its heartbeat); the
// rebalance timeout bounds that wait instead.

import { GroupState, type JoinGroupResponse } from "../../protocol/messages/groups.ts";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import { type Assignor, type MemberAssignment, assertAssignment } from "./assignor.ts";
import type { TimerHandle, Timers } from "./timers.ts";

/** Who computes a group's assignment (see the header). */
export const AssignmentPolicy = { Coordinator: "coordinator", Leader: "leader" } as const;
export type AssignmentPolicy = (typeof AssignmentPolicy)[keyof typeof AssignmentPolicy];

/** A protocol a member of a leader-assigned group offers, with its opaque metadata. */
export interface ProtocolOffer {
  readonly name: string;
  readonly metadata: Uint8Array;
}

export interface MemberMetadata {
  clientId: string;
  /** Subscribed topics (for a leader-assigned group: as far as its metadata says; for lag and partition changes). */
  topics: readonly string[];
  /** Coordinator policy: assignor names; leader policy: the offered protocols' names, in preference order. */
  assignors: readonly string[];
  /** Leader policy only: the offered protocols with their metadata. */
  protocols?: readonly ProtocolOffer[];
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
}

/** The JoinGroup answer; for a leader-assigned group the leader also gets every member's metadata for the chosen protocol. */
export interface GroupJoinResult extends JoinGroupResponse {
  memberMetadata?: { memberId: string; metadata: Uint8Array }[];
}

interface PendingJoin {
  resolve(response: GroupJoinResult): void;
  reject(error: SluiceError): void;
}

interface PendingSync {
  resolve(assignment: Uint8Array): void;
  reject(error: SluiceError): void;
}

const EMPTY_BYTES = new Uint8Array(0);

export interface Member extends MemberMetadata {
  readonly memberId: string;
  lastSeenMs: number;
  sessionTimer: TimerHandle | undefined;
  pendingJoin: PendingJoin | undefined;
  /** The member's share in the current generation (empty until the first rebalance completes). */
  assignment: MemberAssignment;
  synced: boolean;
  /** Leader policy: the assignment bytes the leader sent for this member. */
  assignmentBytes: Uint8Array;
  /** Leader policy: a SyncGroup waiting for the leader's. */
  pendingSync: PendingSync | undefined;
}

export interface GroupContext {
  readonly timers: Timers;
  readonly assignors: ReadonlyMap<string, Assignor>;
  /** Current partition count of a topic (0 when it does not exist). */
  partitionCount(topic: string): number;
  /** Called after the group lost its last member. */
  onEmpty(group: Group): void;
  /** Called after each completed rebalance (for metrics and logs). */
  onRebalanced?(group: Group, reason: string): void;
}

export const RebalanceReason = {
  MemberJoined: "member joined",
  SubscriptionChanged: "subscription changed",
  MemberLeft: "member left",
  SessionExpired: "session expired",
  PartitionsChanged: "partition count changed",
  JoinAbandoned: "a joining member's connection closed",
} as const;

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameOffers(a: readonly ProtocolOffer[] | undefined, b: readonly ProtocolOffer[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((x, i) => x.name === b[i].name && sameBytes(x.metadata, b[i].metadata));
}

export class Group {
  readonly groupId: string;
  state: GroupState = GroupState.Empty;
  generationId = 0;
  leaderId = "";
  assignor = "";
  readonly members = new Map<string, Member>();
  /** Partition counts the current generation was assigned with; a change triggers a rebalance. */
  private assignedCounts = new Map<string, number>();
  private rebalanceTimer: TimerHandle | undefined;
  private rebalanceReason = "";
  rebalances = 0;

  constructor(
    groupId: string,
    private readonly ctx: GroupContext,
    /** Who computes the assignment. */
    readonly policy: AssignmentPolicy = AssignmentPolicy.Coordinator,
    /** The members' protocol type (Kafka's "consumer"; "sluice" for the native protocol). */
    readonly protocolType = "sluice",
  ) {
    this.groupId = groupId;
  }

  // ---- requests ----

  /**
   * Adds a new member (memberId chosen by the caller) or rejoins a known one.
   * Resolves when the rebalance completes; at once for a known member whose
   * metadata did not change while the group is not rebalancing (it lost the
   * previous response and asks again).
   */
  join(memberId: string, meta: MemberMetadata, isNew: boolean, onParked?: (abandon: () => void) => void): Promise<GroupJoinResult> {
    const now = this.ctx.timers.now();
    let member = this.members.get(memberId);
    if (isNew) {
      if (member !== undefined) throw new Error(`group ${this.groupId}: member id ${memberId} reused`);
      member = {
        memberId,
        ...meta,
        lastSeenMs: now,
        sessionTimer: undefined,
        pendingJoin: undefined,
        assignment: new Map(),
        synced: false,
        assignmentBytes: EMPTY_BYTES,
        pendingSync: undefined,
      };
      this.members.set(memberId, member);
      this.prepareRebalance(RebalanceReason.MemberJoined);
    } else {
      if (member === undefined) throw new SluiceError(ErrorCode.UNKNOWN_MEMBER_ID);
      const changed =
        !sameList(member.topics, meta.topics) || !sameList(member.assignors, meta.assignors) || !sameOffers(member.protocols, meta.protocols);
      Object.assign(member, meta);
      member.lastSeenMs = now;
      if (this.state !== GroupState.PreparingRebalance) {
        if (!changed) {
          this.touch(member);
          return Promise.resolve(this.joinResponse(memberId));
        }
        this.prepareRebalance(RebalanceReason.SubscriptionChanged);
      }
    }
    const m = member;
    // A second join from the same member replaces the first; the first is told to start over.
    m.pendingJoin?.reject(new SluiceError(ErrorCode.REBALANCE_IN_PROGRESS, "superseded by a newer join from the same member"));
    this.stopSession(m);
    let parked!: PendingJoin;
    const result = new Promise<GroupJoinResult>((resolve, reject) => {
      parked = { resolve, reject };
    });
    m.pendingJoin = parked;
    // Whoever cannot deliver the answer any more (its connection closed) abandons the join:
    // the member goes at once instead of holding the rebalance up until its timeout.
    onParked?.(() => {
      if (this.members.get(memberId) === m && m.pendingJoin === parked) this.removeMember(m, RebalanceReason.JoinAbandoned);
    });
    this.tryCompleteJoin();
    return result;
  }

  sync(memberId: string, generationId: number): MemberAssignment {
    const m = this.checkMember(memberId, generationId);
    this.touch(m);
    if (this.state === GroupState.PreparingRebalance) throw new SluiceError(ErrorCode.REBALANCE_IN_PROGRESS);
    m.synced = true;
    if (this.state === GroupState.CompletingRebalance && [...this.members.values()].every((x) => x.synced)) {
      this.state = GroupState.Stable;
    }
    return m.assignment;
  }

  /**
   * SyncGroup of a leader-assigned group. The leader brings every member's
   * assignment (`assignments`; members it leaves out get none); `decode` reads
   * one into topics and partitions (for lag and describe; null when the bytes
   * are not of a kind it knows). Resolves with the member's own assignment
   * bytes: at once for the leader and once Stable, else when the leader's
   * SyncGroup arrives (rejected if a rebalance starts first).
   */
  syncFromLeader(
    memberId: string,
    generationId: number,
    assignments: ReadonlyMap<string, Uint8Array> | null,
    decode: (bytes: Uint8Array) => MemberAssignment | null,
  ): Promise<Uint8Array> {
    if (this.policy !== AssignmentPolicy.Leader) throw new SluiceError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, "the coordinator assigns this group's partitions");
    const m = this.checkMember(memberId, generationId);
    this.touch(m);
    if (this.state === GroupState.PreparingRebalance) throw new SluiceError(ErrorCode.REBALANCE_IN_PROGRESS);
    if (this.state === GroupState.CompletingRebalance && memberId === this.leaderId && assignments !== null) {
      for (const x of this.members.values()) {
        x.assignmentBytes = assignments.get(x.memberId) ?? EMPTY_BYTES;
        x.assignment = decode(x.assignmentBytes) ?? new Map();
        x.synced = true;
      }
      this.state = GroupState.Stable;
      for (const x of this.members.values()) {
        const pending = x.pendingSync;
        x.pendingSync = undefined;
        pending?.resolve(x.assignmentBytes);
      }
      return Promise.resolve(m.assignmentBytes);
    }
    if (this.state === GroupState.Stable) return Promise.resolve(m.assignmentBytes);
    // CompletingRebalance, before the leader synced: wait for it.
    m.pendingSync?.reject(new SluiceError(ErrorCode.REBALANCE_IN_PROGRESS, "superseded by a newer sync from the same member"));
    return new Promise<Uint8Array>((resolve, reject) => {
      m.pendingSync = { resolve, reject };
    });
  }

  heartbeat(memberId: string, generationId: number): void {
    const m = this.checkMember(memberId, generationId);
    this.touch(m);
    if (this.state === GroupState.PreparingRebalance) throw new SluiceError(ErrorCode.REBALANCE_IN_PROGRESS);
  }

  /** Fencing for a commit from a member; a standalone commit (no member) is checked by the coordinator. */
  checkCommit(memberId: string, generationId: number): void {
    const m = this.checkMember(memberId, generationId);
    this.touch(m);
  }

  leave(memberId: string): void {
    const m = this.members.get(memberId);
    if (m === undefined) throw new SluiceError(ErrorCode.UNKNOWN_MEMBER_ID);
    this.removeMember(m, RebalanceReason.MemberLeft);
  }

  /** The topic's partition count changed (or the topic appeared or went away). */
  partitionsChanged(topic: string): void {
    if (this.state !== GroupState.Stable && this.state !== GroupState.CompletingRebalance) return;
    if (!this.subscribes(topic)) return;
    if ((this.assignedCounts.get(topic) ?? 0) === this.ctx.partitionCount(topic)) return;
    this.prepareRebalance(RebalanceReason.PartitionsChanged);
  }

  /** Answers every parked join with an error and forgets all members (broker shutting down). */
  shutdown(why: SluiceError = new SluiceError(ErrorCode.COORDINATOR_NOT_AVAILABLE, "the broker is shutting down")): void {
    if (this.rebalanceTimer !== undefined) this.ctx.timers.clear(this.rebalanceTimer);
    this.rebalanceTimer = undefined;
    for (const m of this.members.values()) {
      this.stopSession(m);
      m.pendingJoin?.reject(why);
      m.pendingJoin = undefined;
      m.pendingSync?.reject(why);
      m.pendingSync = undefined;
    }
  }

  // ---- queries ----

  subscribes(topic: string): boolean {
    for (const m of this.members.values()) if (m.topics.includes(topic)) return true;
    return false;
  }

  subscribedTopics(): string[] {
    const s = new Set<string>();
    for (const m of this.members.values()) for (const t of m.topics) s.add(t);
    return [...s].sort();
  }

  /** Assignor names every member offers and the broker knows (never empty while the group has members). */
  commonAssignors(except?: string): Set<string> {
    let common: Set<string> | undefined;
    for (const m of this.members.values()) {
      if (m.memberId === except) continue;
      // A leader-assigned group's protocols are the clients' business: any name both offer will do.
      const mine = new Set(this.policy === AssignmentPolicy.Leader ? m.assignors : m.assignors.filter((a) => this.ctx.assignors.has(a)));
      common = common === undefined ? mine : new Set([...common].filter((a) => mine.has(a)));
    }
    if (common !== undefined) return common;
    return this.policy === AssignmentPolicy.Leader ? new Set(except === undefined ? [] : (this.members.get(except)?.assignors ?? [])) : new Set([...this.ctx.assignors.keys()]);
  }

  // ---- transitions ----

  private checkMember(memberId: string, generationId: number): Member {
    const m = this.members.get(memberId);
    if (m === undefined) throw new SluiceError(ErrorCode.UNKNOWN_MEMBER_ID);
    if (generationId !== this.generationId) {
      throw new SluiceError(ErrorCode.ILLEGAL_GENERATION, `generation ${generationId} is not the group's ${this.generationId}`);
    }
    return m;
  }

  private prepareRebalance(reason: string): void {
    if (this.state === GroupState.PreparingRebalance) return;
    this.state = GroupState.PreparingRebalance;
    this.rebalanceReason = reason;
    let timeoutMs = 0;
    for (const m of this.members.values()) {
      m.synced = false;
      timeoutMs = Math.max(timeoutMs, m.rebalanceTimeoutMs);
      // A SyncGroup waiting for the leader's will not get it: the member rejoins.
      const pending = m.pendingSync;
      m.pendingSync = undefined;
      pending?.reject(new SluiceError(ErrorCode.REBALANCE_IN_PROGRESS));
    }
    this.rebalanceTimer = this.ctx.timers.set(() => this.onRebalanceTimeout(), timeoutMs);
  }

  private onRebalanceTimeout(): void {
    this.rebalanceTimer = undefined;
    if (this.state !== GroupState.PreparingRebalance) return;
    for (const m of [...this.members.values()]) {
      if (m.pendingJoin === undefined) this.forget(m);
    }
    this.completeJoin();
  }

  private tryCompleteJoin(): void {
    if (this.state !== GroupState.PreparingRebalance) return;
    for (const m of this.members.values()) if (m.pendingJoin === undefined) return;
    this.completeJoin();
  }

  private completeJoin(): void {
    if (this.rebalanceTimer !== undefined) this.ctx.timers.clear(this.rebalanceTimer);
    this.rebalanceTimer = undefined;
    this.generationId++;
    if (this.members.size === 0) {
      this.state = GroupState.Empty;
      this.leaderId = "";
      this.assignor = "";
      this.assignedCounts = new Map();
      this.ctx.onEmpty(this);
      return;
    }
    if (!this.members.has(this.leaderId)) this.leaderId = this.members.keys().next().value!;
    const leader = this.members.get(this.leaderId)!;
    const common = this.commonAssignors();
    const chosen = leader.assignors.find((a) => common.has(a));
    // Every join is checked against the others' common assignors, so the group always shares one.
    if (chosen === undefined) throw new Error(`group ${this.groupId}: members share no assignor`);
    this.assignor = chosen;

    if (this.policy === AssignmentPolicy.Leader) return this.completeJoinForLeader();
    const counts = new Map<string, number>();
    for (const t of this.subscribedTopics()) counts.set(t, this.ctx.partitionCount(t));
    const members = [...this.members.values()].map((m) => ({ memberId: m.memberId, topics: m.topics }));
    const previous = new Map([...this.members.values()].map((m) => [m.memberId, m.assignment]));
    const input = { members, partitionsPerTopic: counts, previous };
    const result = this.ctx.assignors.get(chosen)!.assign(input);
    assertAssignment(input, result);
    this.assignedCounts = counts;
    this.state = GroupState.CompletingRebalance;
    this.rebalances++;

    for (const m of this.members.values()) {
      m.assignment = result.get(m.memberId) ?? new Map();
      m.synced = false;
      const pending = m.pendingJoin;
      m.pendingJoin = undefined;
      this.touch(m);
      pending?.resolve(this.joinResponse(m.memberId));
    }
    this.ctx.onRebalanced?.(this, this.rebalanceReason);
  }

  /** Leader policy: the generation is formed; the leader computes the assignment and brings it in its SyncGroup. */
  private completeJoinForLeader(): void {
    const counts = new Map<string, number>();
    for (const t of this.subscribedTopics()) counts.set(t, this.ctx.partitionCount(t));
    this.assignedCounts = counts;
    this.state = GroupState.CompletingRebalance;
    this.rebalances++;
    for (const m of this.members.values()) {
      m.synced = false;
      const pending = m.pendingJoin;
      m.pendingJoin = undefined;
      this.touch(m);
      pending?.resolve(this.joinResponse(m.memberId));
    }
    this.ctx.onRebalanced?.(this, this.rebalanceReason);
  }

  private joinResponse(memberId: string): GroupJoinResult {
    const out: GroupJoinResult = {
      generationId: this.generationId,
      memberId,
      leaderId: this.leaderId,
      assignor: this.assignor,
      members: [...this.members.values()].map((m) => ({ memberId: m.memberId, topics: [...m.topics] })),
    };
    if (this.policy === AssignmentPolicy.Leader && memberId === this.leaderId) {
      out.memberMetadata = [...this.members.values()].map((m) => ({
        memberId: m.memberId,
        metadata: m.protocols?.find((p) => p.name === this.assignor)?.metadata ?? EMPTY_BYTES,
      }));
    }
    return out;
  }

  private touch(m: Member): void {
    m.lastSeenMs = this.ctx.timers.now();
    if (m.pendingJoin !== undefined) return; // parked in a join: the rebalance timeout bounds it
    this.stopSession(m);
    m.sessionTimer = this.ctx.timers.set(() => this.onSessionExpired(m.memberId), m.sessionTimeoutMs);
  }

  private stopSession(m: Member): void {
    if (m.sessionTimer !== undefined) this.ctx.timers.clear(m.sessionTimer);
    m.sessionTimer = undefined;
  }

  private onSessionExpired(memberId: string): void {
    const m = this.members.get(memberId);
    if (m === undefined || m.pendingJoin !== undefined) return;
    m.sessionTimer = undefined;
    this.removeMember(m, RebalanceReason.SessionExpired);
  }

  private forget(m: Member): void {
    this.stopSession(m);
    this.members.delete(m.memberId);
    const pending = m.pendingJoin;
    m.pendingJoin = undefined;
    pending?.reject(new SluiceError(ErrorCode.UNKNOWN_MEMBER_ID, "the member left the group"));
    const sync = m.pendingSync;
    m.pendingSync = undefined;
    sync?.reject(new SluiceError(ErrorCode.UNKNOWN_MEMBER_ID, "the member left the group"));
  }

  private removeMember(m: Member, reason: string): void {
    this.forget(m);
    this.prepareRebalance(reason);
    this.tryCompleteJoin();
  }
}
