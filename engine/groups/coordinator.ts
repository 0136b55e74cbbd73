// The group coordinator: every consumer group of this broker, the group APIs
// on top of them, and committed offsets through an OffsetStore.
//
// It runs on the router thread and is plain state plus timers (injected), so
// the whole protocol is tested without a network in coordinator.test.ts. The
// handlers in handlers.ts decode requests and call the methods here; each
// method returns the response body or throws a SluiceError whose code becomes
// the response's ErrorCode.
//
// Commit durability: commit() resolves after the store made every accepted
// offset durable (see offset_store.ts). Fencing is checked when the request
// arrives; a commit fenced later (its generation moved on while its write was in
// flight) still lands, as it would have had it arrived a moment earlier.

import { randomUUID } from "node:crypto";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import {
  GROUP_MEMBERS_MAX,
  GROUP_SESSION_TIMEOUT_MS_MAX,
  GROUP_SESSION_TIMEOUT_MS_MIN,
  GROUPS_MAX,
  OFFSET_COMMIT_METADATA_BYTES_MAX,
  OFFSET_COMMIT_PARTITIONS_MAX,
} from "../../protocol/limits.ts";
import {
  type DescribeGroupsResponse,
  type GroupDescription,
  GroupState,
  type JoinGroupRequest,
  type JoinGroupResponse,
  type ListGroupsRequest,
  type ListGroupsResponse,
  NO_GENERATION,
  NO_MEMBER_ID,
  NO_OFFSET,
  type OffsetCommitRequest,
  type OffsetCommitResponse,
  type OffsetFetchRequest,
  type OffsetFetchResponse,
  type PartitionLag,
  type ResetGroupOffsetsRequest,
  type ResetGroupOffsetsResponse,
  type SyncGroupResponse,
  type TopicPartitions,
} from "../../protocol/messages/groups.ts";
import { utf8Length } from "../../protocol/utf8.ts";
import type { Assignor, MemberAssignment } from "./assignor.ts";
import { ASSIGNORS } from "./assignors.ts";
import { AssignmentPolicy, Group, type GroupJoinResult, type ProtocolOffer } from "./group.ts";
import type { OffsetEntry, OffsetStore } from "./offset_store.ts";
import type { Timers } from "./timers.ts";

/** What the coordinator needs to know about topics (the engine's topic view). */
export interface TopicInfo {
  /** 0 when the topic does not exist. */
  partitionCount(topic: string): number;
  /** The partition's high watermark (offset of the next record to become readable). */
  highWatermark(topic: string, partition: number): number;
  /** The first offset still kept. */
  logStartOffset(topic: string, partition: number): number;
}

export interface CoordinatorOptions {
  readonly timers: Timers;
  readonly topics: TopicInfo;
  readonly offsets: OffsetStore;
  readonly assignors?: ReadonlyMap<string, Assignor>;
  /** Member ids; a client id prefix helps operators read `groups describe`. */
  readonly newMemberId?: (clientId: string) => string;
  /** Called after each completed rebalance. */
  readonly onRebalanced?: (groupId: string, generationId: number, reason: string, members: number) => void;
  /**
   * Cluster mode: which groups this broker coordinates now (cluster_offset_store.ts).
   * Absent on a single node, where the broker coordinates every group.
   */
  readonly ownership?: CoordinatorOwnership;
}

/** Which groups this broker coordinates (in a cluster: those whose offsets partition it leads and has loaded). */
export interface CoordinatorOwnership {
  /** Throws NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS / COORDINATOR_NOT_AVAILABLE unless it coordinates `groupId` now. */
  checkCoordinator(groupId: string): void;
  serves(groupId: string): boolean;
}

/** A join to a group whose leader assigns (Kafka's classic protocol): opaque protocols, not assignor names. */
export interface LeaderAssignedJoinRequest {
  readonly groupId: string;
  /** NO_MEMBER_ID for a new member. */
  readonly memberId: string;
  readonly clientId: string;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  /** Kafka's protocol type ("consumer", "connect", …); a group's members all share one. */
  readonly protocolType: string;
  /** In the member's order of preference. */
  readonly protocols: readonly ProtocolOffer[];
  /** The topics the metadata subscribes to, as far as the caller can read it (for lag and partition changes). */
  readonly topics: readonly string[];
}

/** The protocol type of native groups (the coordinator assigns). */
export const NATIVE_PROTOCOL_TYPE = "sluice";

export interface GroupMetricsRow {
  readonly groupId: string;
  readonly state: GroupState;
  readonly generationId: number;
  readonly members: number;
  readonly rebalances: number;
  readonly offsets: readonly PartitionLag[];
}

/**
 * A committed offset past the partition's high watermark is refused. In a
 * cluster the coordinator knows the high watermark only of partitions it
 * leads (-1 otherwise): then the offset is taken as given, as Kafka does.
 */
function beyondHighWatermark(highWatermark: number, offset: number, cluster: boolean): boolean {
  return cluster && highWatermark < 0 ? false : offset > highWatermark;
}

function toTopicPartitions(a: MemberAssignment): TopicPartitions[] {
  return [...a].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)).map(([topic, partitions]) => ({ topic, partitions: [...partitions] }));
}

export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();
  private readonly assignors: ReadonlyMap<string, Assignor>;
  private readonly newMemberId: (clientId: string) => string;
  private closed = false;

  constructor(private readonly opts: CoordinatorOptions) {
    this.assignors = opts.assignors ?? ASSIGNORS;
    this.newMemberId = opts.newMemberId ?? ((clientId) => `${clientId || "member"}-${randomUUID()}`);
  }

  // ---- membership ----

  /**
   * Joins (or rejoins) a member; resolves when the rebalance completes. When the
   * join is parked, `onParked` receives a function that abandons it (call it when
   * the answer can no longer be delivered: the member is removed).
   */
  join(req: JoinGroupRequest, onParked?: (abandon: () => void) => void): Promise<JoinGroupResponse> {
    this.checkOpen(req.groupId);
    const known = req.assignors.filter((a) => this.assignors.has(a));
    if (known.length === 0) {
      throw new SluiceError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, `none of the assignors [${req.assignors.join(", ")}] is known to the broker`);
    }
    const group = this.admit(req.groupId, req.memberId, req.sessionTimeoutMs, AssignmentPolicy.Coordinator, NATIVE_PROTOCOL_TYPE, known);
    const isNew = req.memberId === NO_MEMBER_ID;
    const memberId = isNew ? this.newMemberId(req.clientId ?? "") : req.memberId;
    return group.join(
      memberId,
      {
        clientId: req.clientId ?? "",
        topics: [...new Set(req.topics)].sort(),
        assignors: req.assignors,
        sessionTimeoutMs: req.sessionTimeoutMs,
        rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      },
      isNew,
      onParked,
    );
  }

  /**
   * Joins a member of a group whose leader assigns (Kafka's JoinGroup). The
   * leader's answer carries every member's metadata for the chosen protocol.
   */
  joinLeaderAssigned(req: LeaderAssignedJoinRequest, onParked?: (abandon: () => void) => void): Promise<GroupJoinResult> {
    this.checkOpen(req.groupId);
    if (req.protocols.length === 0) throw new SluiceError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, "a member must offer at least one protocol");
    const names = req.protocols.map((p) => p.name);
    const group = this.admit(req.groupId, req.memberId, req.sessionTimeoutMs, AssignmentPolicy.Leader, req.protocolType, names);
    const isNew = req.memberId === NO_MEMBER_ID;
    const memberId = isNew ? this.newMemberId(req.clientId) : req.memberId;
    return group.join(
      memberId,
      {
        clientId: req.clientId,
        topics: [...new Set(req.topics)].sort(),
        assignors: names,
        protocols: req.protocols,
        sessionTimeoutMs: req.sessionTimeoutMs,
        rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      },
      isNew,
      onParked,
    );
  }

  /** Kafka's SyncGroup: see Group.syncFromLeader. */
  syncLeaderAssigned(
    groupId: string,
    memberId: string,
    generationId: number,
    assignments: ReadonlyMap<string, Uint8Array> | null,
    decode: (bytes: Uint8Array) => MemberAssignment | null,
  ): Promise<Uint8Array> {
    this.checkOpen(groupId);
    return this.memberGroup(groupId).syncFromLeader(memberId, generationId, assignments, decode);
  }

  /** The group's protocol type and policy, for describing it; undefined when it has no members. */
  membership(groupId: string): Group | undefined {
    return this.groups.get(groupId);
  }

  /**
   * The checks every join passes, then the group (created when new): the
   * session timeout's range, the member known (unless new), room for one more
   * member, one policy and protocol type per group, and a protocol (assignor)
   * the new offer shares with every other member.
   */
  private admit(groupId: string, memberId: string, sessionTimeoutMs: number, policy: AssignmentPolicy, protocolType: string, offered: readonly string[]): Group {
    if (sessionTimeoutMs < GROUP_SESSION_TIMEOUT_MS_MIN || sessionTimeoutMs > GROUP_SESSION_TIMEOUT_MS_MAX) {
      throw new SluiceError(
        ErrorCode.INVALID_SESSION_TIMEOUT,
        `sessionTimeoutMs ${sessionTimeoutMs} is outside ${GROUP_SESSION_TIMEOUT_MS_MIN}..${GROUP_SESSION_TIMEOUT_MS_MAX}`,
      );
    }
    const isNew = memberId === NO_MEMBER_ID;
    const group = this.groups.get(groupId);
    if (!isNew && (group === undefined || !group.members.has(memberId))) throw new SluiceError(ErrorCode.UNKNOWN_MEMBER_ID);
    if (isNew && group !== undefined && group.members.size >= GROUP_MEMBERS_MAX) {
      throw new SluiceError(ErrorCode.THROTTLING_QUOTA_EXCEEDED, `group ${groupId} has ${GROUP_MEMBERS_MAX} members already`);
    }
    if (group !== undefined && (group.policy !== policy || group.protocolType !== protocolType)) {
      throw new SluiceError(
        ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
        `group ${groupId} is a ${group.protocolType} group (${group.policy} assigns); this member speaks ${protocolType}`,
      );
    }
    if (group !== undefined) {
      const common = group.commonAssignors(isNew ? undefined : memberId);
      if (group.members.size > (isNew ? 0 : 1) && !offered.some((a) => common.has(a))) {
        throw new SluiceError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, `[${offered.join(", ")}] share none of the group's [${[...common].join(", ")}]`);
      }
    }
    return group ?? this.createGroup(groupId, policy, protocolType);
  }

  sync(groupId: string, memberId: string, generationId: number): SyncGroupResponse {
    this.checkOpen(groupId);
    const group = this.memberGroup(groupId);
    return { assignment: toTopicPartitions(group.sync(memberId, generationId)) };
  }

  heartbeat(groupId: string, memberId: string, generationId: number): Record<string, never> {
    this.checkOpen(groupId);
    this.memberGroup(groupId).heartbeat(memberId, generationId);
    return {};
  }

  leave(groupId: string, memberId: string): Record<string, never> {
    this.checkOpen(groupId);
    this.memberGroup(groupId).leave(memberId);
    return {};
  }

  /** A subscribed topic's partition count may have changed. */
  partitionsChanged(topic: string): void {
    for (const g of this.groups.values()) g.partitionsChanged(topic);
  }

  // ---- offsets ----

  async commit(req: OffsetCommitRequest): Promise<OffsetCommitResponse> {
    this.checkOpen(req.groupId);
    const group = this.groups.get(req.groupId);
    if (req.generationId === NO_GENERATION && req.memberId === NO_MEMBER_ID) {
      // A commit from outside any generation: only for a group nobody consumes in.
      if (group !== undefined && group.members.size > 0) {
        throw new SluiceError(ErrorCode.UNKNOWN_MEMBER_ID, `group ${req.groupId} has members; commit as one of them`);
      }
    } else {
      if (group === undefined) throw new SluiceError(ErrorCode.UNKNOWN_MEMBER_ID);
      group.checkCommit(req.memberId, req.generationId);
    }
    let count = 0;
    for (const t of req.topics) count += t.partitions.length;
    if (count > OFFSET_COMMIT_PARTITIONS_MAX) {
      throw new SluiceError(ErrorCode.INVALID_REQUEST, `a commit carries at most ${OFFSET_COMMIT_PARTITIONS_MAX} offsets`);
    }
    if (group === undefined) this.checkGroupRoom(req.groupId);

    const now = this.opts.timers.now();
    const accepted: OffsetEntry[] = [];
    const response: OffsetCommitResponse = { topics: [] };
    for (const t of req.topics) {
      const partitions: Array<{ partition: number; errorCode: number }> = [];
      response.topics.push({ name: t.name, partitions });
      const count = this.opts.topics.partitionCount(t.name);
      for (const p of t.partitions) {
        const metadata = p.metadata ?? "";
        let errorCode: number = ErrorCode.NONE;
        if (p.partition >= count) errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        else if (p.offset < 0 || utf8Length(metadata) > OFFSET_COMMIT_METADATA_BYTES_MAX) errorCode = ErrorCode.INVALID_COMMIT_OFFSET_SIZE;
        else if (beyondHighWatermark(this.opts.topics.highWatermark(t.name, p.partition), p.offset, this.opts.ownership !== undefined)) errorCode = ErrorCode.OFFSET_OUT_OF_RANGE;
        else accepted.push({ topic: t.name, partition: p.partition, offset: p.offset, metadata, timestampMs: now });
        partitions.push({ partition: p.partition, errorCode });
      }
    }
    if (accepted.length > 0) await this.opts.offsets.commit(req.groupId, accepted);
    return response;
  }

  fetchOffsets(req: OffsetFetchRequest): OffsetFetchResponse {
    this.checkOpen(req.groupId);
    const store = this.opts.offsets;
    const committed = store.entries(req.groupId);
    const wanted = new Map<string, Set<number>>();
    if (req.topics === null) {
      for (const e of committed) {
        let s = wanted.get(e.topic);
        if (s === undefined) wanted.set(e.topic, (s = new Set()));
        s.add(e.partition);
      }
    } else {
      for (const t of req.topics) {
        const s = wanted.get(t.name) ?? new Set<number>();
        wanted.set(t.name, s);
        if (t.partitions !== undefined) for (const p of t.partitions) s.add(p);
        else {
          const n = this.opts.topics.partitionCount(t.name);
          for (let p = 0; p < n; p++) s.add(p);
          for (const e of committed) if (e.topic === t.name) s.add(e.partition);
        }
      }
    }
    return {
      topics: [...wanted].map(([name, ps]) => ({
        name,
        partitions: [...ps].sort((a, b) => a - b).map((partition) => {
          const c = store.get(req.groupId, name, partition);
          return { partition, offset: c?.offset ?? NO_OFFSET, metadata: c?.metadata ?? "", errorCode: ErrorCode.NONE };
        }),
      })),
    };
  }

  /** Admin: move an empty group's offsets for one topic. */
  async resetOffsets(req: ResetGroupOffsetsRequest): Promise<ResetGroupOffsetsResponse> {
    this.checkOpen(req.groupId);
    const group = this.groups.get(req.groupId);
    if (group !== undefined && group.members.size > 0) {
      throw new SluiceError(ErrorCode.NON_EMPTY_GROUP, `group ${req.groupId} has ${group.members.size} members; stop them first`);
    }
    const topics = this.opts.topics;
    const count = topics.partitionCount(req.topic);
    if (count === 0) throw new SluiceError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${req.topic} does not exist`);
    if (group === undefined) this.checkGroupRoom(req.groupId);
    const partitions = req.partitions ?? Array.from({ length: count }, (_, i) => i);
    const now = this.opts.timers.now();
    const accepted: OffsetEntry[] = [];
    const out: ResetGroupOffsetsResponse = { topic: req.topic, partitions: [] };
    for (const partition of [...new Set(partitions)].sort((a, b) => a - b)) {
      if (partition >= count) {
        out.partitions.push({ partition, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, offset: NO_OFFSET });
        continue;
      }
      const start = topics.logStartOffset(req.topic, partition);
      const end = topics.highWatermark(req.topic, partition);
      if (this.opts.ownership !== undefined && (start < 0 || end < 0) && typeof req.to !== "number") {
        // A cluster's coordinator that does not lead the partition does not know its ends.
        out.partitions.push({ partition, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, offset: NO_OFFSET });
        continue;
      }
      const offset = req.to === "earliest" ? start : req.to === "latest" ? end : req.to;
      if ((start >= 0 && offset < start) || beyondHighWatermark(end, offset, this.opts.ownership !== undefined)) {
        out.partitions.push({ partition, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, offset: NO_OFFSET });
        continue;
      }
      accepted.push({ topic: req.topic, partition, offset, metadata: "reset", timestampMs: now });
      out.partitions.push({ partition, errorCode: ErrorCode.NONE, offset });
    }
    if (accepted.length > 0) await this.opts.offsets.commit(req.groupId, accepted);
    return out;
  }

  // ---- introspection ----

  listGroups(req: ListGroupsRequest = {}): ListGroupsResponse {
    const groups: ListGroupsResponse["groups"] = [];
    for (const id of this.groupIds()) {
      const g = this.groups.get(id);
      const state = g?.state ?? GroupState.Empty;
      if (req.states !== undefined && !req.states.includes(state)) continue;
      groups.push({ groupId: id, state, members: g?.members.size ?? 0 });
    }
    return { groups };
  }

  describeGroups(groupIds: readonly string[]): DescribeGroupsResponse {
    return { groups: groupIds.map((id) => this.describe(id)) };
  }

  /** Every group with its lag rows: the metrics provider's input. */
  metricsRows(): GroupMetricsRow[] {
    return this.groupIds().map((id) => {
      const d = this.describe(id);
      const g = this.groups.get(id);
      return { groupId: id, state: d.state, generationId: d.generationId, members: d.members.length, rebalances: g?.rebalances ?? 0, offsets: d.offsets };
    });
  }

  /**
   * Forgets the membership of every group `which` selects (cluster mode: its
   * offsets partition moved to another broker). Parked joins and syncs get
   * NOT_COORDINATOR; the members find the new coordinator and rejoin there.
   */
  dropGroups(which: (groupId: string) => boolean): void {
    for (const [id, g] of [...this.groups]) {
      if (!which(id)) continue;
      this.groups.delete(id);
      g.shutdown(new SluiceError(ErrorCode.NOT_COORDINATOR, `this broker no longer coordinates group ${id}`));
    }
  }

  /** Answers every parked join and stops every timer (broker shutdown). */
  close(): void {
    this.closed = true;
    for (const g of this.groups.values()) g.shutdown();
  }

  // ---- internals ----

  private describe(groupId: string): GroupDescription {
    try {
      this.opts.ownership?.checkCoordinator(groupId);
    } catch (e) {
      const code = e instanceof SluiceError ? e.code : ErrorCode.COORDINATOR_NOT_AVAILABLE;
      return { groupId, errorCode: code, state: GroupState.Empty, generationId: 0, assignor: "", leaderId: "", members: [], offsets: [] };
    }
    const g = this.groups.get(groupId);
    const committed = this.opts.offsets.entries(groupId);
    if (g === undefined && committed.length === 0) {
      return { groupId, errorCode: ErrorCode.GROUP_ID_NOT_FOUND, state: GroupState.Empty, generationId: 0, assignor: "", leaderId: "", members: [], offsets: [] };
    }
    const now = this.opts.timers.now();
    const owners = new Map<string, string>();
    const members = [...(g?.members.values() ?? [])].map((m) => {
      for (const [t, ps] of m.assignment) for (const p of ps) owners.set(`${t}\u0000${p}`, m.memberId);
      return {
        memberId: m.memberId,
        clientId: m.clientId,
        topics: [...m.topics],
        assignment: toTopicPartitions(m.assignment),
        sessionTimeoutMs: m.sessionTimeoutMs,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        lastSeenAgoMs: Math.max(0, now - m.lastSeenMs),
      };
    });
    // Rows: every partition of every subscribed topic, plus every partition with a committed offset.
    const rows = new Map<string, { topic: string; partition: number }>();
    for (const t of g?.subscribedTopics() ?? []) {
      const n = this.opts.topics.partitionCount(t);
      for (let p = 0; p < n; p++) rows.set(`${t}\u0000${p}`, { topic: t, partition: p });
    }
    for (const e of committed) rows.set(`${e.topic}\u0000${e.partition}`, e);
    const offsets = [...rows.values()]
      .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))
      .map(({ topic, partition }) => this.lagRow(groupId, topic, partition, owners.get(`${topic}\u0000${partition}`) ?? ""));
    return {
      groupId,
      errorCode: ErrorCode.NONE,
      state: g?.state ?? GroupState.Empty,
      generationId: g?.generationId ?? 0,
      assignor: g?.assignor ?? "",
      leaderId: g?.leaderId ?? "",
      members,
      offsets,
    };
  }

  private lagRow(groupId: string, topic: string, partition: number, memberId: string): PartitionLag {
    const c = this.opts.offsets.get(groupId, topic, partition);
    const exists = partition < this.opts.topics.partitionCount(topic);
    const hw = exists ? this.opts.topics.highWatermark(topic, partition) : -1;
    let lag = -1;
    if (exists) {
      // Nothing committed: the group would start from the log start, so all of it is behind.
      const from = c?.offset ?? this.opts.topics.logStartOffset(topic, partition);
      lag = Math.max(0, hw - from);
    }
    return { topic, partition, committedOffset: c?.offset ?? NO_OFFSET, highWatermark: hw, lag, metadata: c?.metadata ?? "", memberId };
  }

  private groupIds(): string[] {
    const ids = new Set<string>(this.groups.keys());
    for (const id of this.opts.offsets.groups()) ids.add(id);
    const own = this.opts.ownership;
    return [...ids].filter((id) => own === undefined || own.serves(id)).sort();
  }

  private memberGroup(groupId: string): Group {
    const g = this.groups.get(groupId);
    if (g === undefined) throw new SluiceError(ErrorCode.UNKNOWN_MEMBER_ID, `group ${groupId} has no members`);
    return g;
  }

  private checkGroupRoom(groupId: string): void {
    if (this.groups.has(groupId)) return;
    let n = this.groups.size;
    for (const id of this.opts.offsets.groups()) if (!this.groups.has(id) && id !== groupId) n++;
    if (n >= GROUPS_MAX) throw new SluiceError(ErrorCode.COORDINATOR_NOT_AVAILABLE, `the broker keeps at most ${GROUPS_MAX} groups`);
  }

  private createGroup(groupId: string, policy: AssignmentPolicy, protocolType: string): Group {
    this.checkGroupRoom(groupId);
    const g = new Group(groupId, {
      timers: this.opts.timers,
      assignors: this.assignors,
      partitionCount: (t) => this.opts.topics.partitionCount(t),
      // A group without members keeps only its offsets (in the store); the membership object goes.
      onEmpty: (group) => {
        if (this.groups.get(group.groupId) === group) this.groups.delete(group.groupId);
      },
      onRebalanced: (group, reason) => this.opts.onRebalanced?.(group.groupId, group.generationId, reason, group.members.size),
    }, policy, protocolType);
    this.groups.set(groupId, g);
    return g;
  }

  /** Open, and (cluster mode) the coordinator of `groupId` now. */
  private checkOpen(groupId: string): void {
    if (this.closed) throw new SluiceError(ErrorCode.COORDINATOR_NOT_AVAILABLE, "the broker is shutting down");
    this.opts.ownership?.checkCoordinator(groupId);
  }
}
