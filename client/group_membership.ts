// A consumer's membership in a group: join, sync, heartbeat, commit, leave.
// It knows nothing of fetching; GroupConsumer drives it and reacts to what the
// heartbeat reports.
//
// The heartbeat runs on its own timer, independent of the consume loop, so a
// handler that awaits for a long time does not cost the member its session (a
// handler that blocks the event loop synchronously still does: no timer can run).
// It keeps running through a revoke (the member must stay alive while it
// commits) and stops while a join is in flight (a parked join is its own
// heartbeat, and its generation is about to change).

import { ErrorCode, SluiceError, isRetriable } from "../protocol/errors.ts";
import {
  GroupApiKey,
  JoinGroupResponseSchema,
  NO_GENERATION,
  NO_MEMBER_ID,
  OffsetCommitResponseSchema,
  OffsetFetchResponseSchema,
  parseGroupMessage,
  SyncGroupResponseSchema,
  type TopicPartitions,
} from "../protocol/messages/groups.ts";
import { JOIN_TIMEOUT_MARGIN_MS } from "./client_limits.ts";

/** Sends one group request; resolves with the decoded response body or throws SluiceError (NETWORK_EXCEPTION when the connection failed). */
export interface GroupRpc {
  call(apiKey: number, body: unknown, timeoutMs: number): Promise<unknown>;
}

export interface MembershipOptions {
  readonly rpc: GroupRpc;
  readonly groupId: string;
  readonly clientId: string;
  readonly assignors: readonly string[];
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  /** Wait between retries of a retriable failure (doubling up to 8×). */
  readonly retryBackoffMs: number;
  readonly log?: (line: string) => void;
}

/** Why the member must rejoin: the group is rebalancing (commit, then revoke), or it lost its partitions already (revoke without committing). */
export type RejoinReason = { kind: "rebalance" } | { kind: "fenced"; code: number };

export interface OffsetToCommit {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly metadata?: string;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function isFencing(code: number): boolean {
  return code === ErrorCode.ILLEGAL_GENERATION || code === ErrorCode.UNKNOWN_MEMBER_ID || code === ErrorCode.REBALANCE_IN_PROGRESS;
}

export class GroupMembership {
  memberId = NO_MEMBER_ID;
  generationId = NO_GENERATION;
  assignor = "";
  leaderId = "";
  topics: string[] = [];
  /** Called (once per episode) when a heartbeat says the member must rejoin. */
  onRejoinNeeded: (reason: RejoinReason) => void = () => {};
  private heartbeatTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeating = false;
  private closed = false;
  heartbeatsSent = 0;

  constructor(private readonly opts: MembershipOptions) {}

  /**
   * Joins (or rejoins) and syncs until the member holds an assignment for a
   * generation. Retries what is retriable or means "start over"; throws what
   * is not (INCONSISTENT_GROUP_PROTOCOL, INVALID_SESSION_TIMEOUT, …) or when closed.
   */
  async joinAndSync(shouldStop: () => boolean = () => false): Promise<TopicPartitions[]> {
    this.stopHeartbeats();
    let backoff = this.opts.retryBackoffMs;
    for (;;) {
      if (this.closed || shouldStop()) throw new SluiceError(ErrorCode.COORDINATOR_NOT_AVAILABLE, "the consumer is closing");
      try {
        const joined = parseGroupMessage(
          JoinGroupResponseSchema,
          await this.opts.rpc.call(
            GroupApiKey.JoinGroup,
            {
              groupId: this.opts.groupId,
              memberId: this.memberId,
              clientId: this.opts.clientId,
              topics: this.topics,
              sessionTimeoutMs: this.opts.sessionTimeoutMs,
              rebalanceTimeoutMs: this.opts.rebalanceTimeoutMs,
              assignors: this.opts.assignors,
            },
            this.opts.rebalanceTimeoutMs + JOIN_TIMEOUT_MARGIN_MS,
          ),
        );
        this.memberId = joined.memberId;
        this.generationId = joined.generationId;
        this.assignor = joined.assignor;
        this.leaderId = joined.leaderId;
        const synced = parseGroupMessage(
          SyncGroupResponseSchema,
          await this.opts.rpc.call(
            GroupApiKey.SyncGroup,
            { groupId: this.opts.groupId, generationId: this.generationId, memberId: this.memberId },
            this.opts.sessionTimeoutMs,
          ),
        );
        return synced.assignment;
      } catch (e) {
        if (!(e instanceof SluiceError)) throw e;
        if (e.code === ErrorCode.UNKNOWN_MEMBER_ID) {
          this.memberId = NO_MEMBER_ID; // the group forgot us (left, expired, broker restarted): join as new
          continue;
        }
        if (e.code === ErrorCode.REBALANCE_IN_PROGRESS || e.code === ErrorCode.ILLEGAL_GENERATION) continue; // another round began
        if (!isRetriable(e.code) && e.code !== ErrorCode.REQUEST_TIMED_OUT) throw e;
        this.opts.log?.(`group ${this.opts.groupId}: join failed (${e.message}); retrying in ${backoff} ms`);
        await sleep(backoff);
        backoff = Math.min(backoff * 2, this.opts.retryBackoffMs * 8);
      }
    }
  }

  startHeartbeats(): void {
    if (this.closed || this.heartbeating) return;
    this.heartbeating = true;
    this.scheduleHeartbeat();
  }

  stopHeartbeats(): void {
    this.heartbeating = false;
    if (this.heartbeatTimer !== undefined) clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  private scheduleHeartbeat(): void {
    if (!this.heartbeating) return;
    this.heartbeatTimer = setTimeout(() => void this.heartbeatOnce(), this.opts.heartbeatIntervalMs);
  }

  private async heartbeatOnce(): Promise<void> {
    this.heartbeatTimer = undefined;
    if (!this.heartbeating) return;
    const generation = this.generationId;
    try {
      this.heartbeatsSent++;
      await this.opts.rpc.call(
        GroupApiKey.Heartbeat,
        { groupId: this.opts.groupId, generationId: generation, memberId: this.memberId },
        this.opts.sessionTimeoutMs,
      );
    } catch (e) {
      // An answer about a generation we already left behind says nothing about the current one.
      if (generation === this.generationId && this.heartbeating && e instanceof SluiceError) {
        if (e.code === ErrorCode.REBALANCE_IN_PROGRESS) this.onRejoinNeeded({ kind: "rebalance" });
        else if (e.code === ErrorCode.ILLEGAL_GENERATION || e.code === ErrorCode.UNKNOWN_MEMBER_ID) {
          if (e.code === ErrorCode.UNKNOWN_MEMBER_ID) this.memberId = NO_MEMBER_ID;
          this.stopHeartbeats();
          this.onRejoinNeeded({ kind: "fenced", code: e.code });
          return;
        }
        // Anything else (network, timeouts): keep beating; the session outlives a few lost heartbeats.
      }
    }
    this.scheduleHeartbeat();
  }

  /**
   * Commits offsets as this member (or standalone when not in a generation).
   * Resolves with the per-partition error codes; throws SluiceError for the
   * request as a whole (fencing, network).
   */
  async commit(offsets: readonly OffsetToCommit[], timeoutMs = this.opts.sessionTimeoutMs): Promise<Map<string, number>> {
    const byTopic = new Map<string, Array<{ partition: number; offset: number; metadata?: string }>>();
    for (const o of offsets) {
      let list = byTopic.get(o.topic);
      if (list === undefined) byTopic.set(o.topic, (list = []));
      list.push({ partition: o.partition, offset: o.offset, metadata: o.metadata });
    }
    const res = parseGroupMessage(
      OffsetCommitResponseSchema,
      await this.opts.rpc.call(
        GroupApiKey.OffsetCommit,
        {
          groupId: this.opts.groupId,
          generationId: this.generationId,
          memberId: this.memberId,
          topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
        },
        timeoutMs,
      ),
    );
    const codes = new Map<string, number>();
    for (const t of res.topics) for (const p of t.partitions) codes.set(`${t.name}:${p.partition}`, p.errorCode);
    return codes;
  }

  /** Committed offsets of the given partitions; −1 where none. Retries what is retriable. */
  async fetchCommitted(partitions: readonly TopicPartitions[]): Promise<Map<string, number>> {
    let backoff = this.opts.retryBackoffMs;
    for (;;) {
      try {
        const res = parseGroupMessage(
          OffsetFetchResponseSchema,
          await this.opts.rpc.call(
            GroupApiKey.OffsetFetch,
            { groupId: this.opts.groupId, topics: partitions.map((tp) => ({ name: tp.topic, partitions: tp.partitions })) },
            this.opts.sessionTimeoutMs,
          ),
        );
        const out = new Map<string, number>();
        for (const t of res.topics) for (const p of t.partitions) out.set(`${t.name}:${p.partition}`, p.offset);
        return out;
      } catch (e) {
        if (!(e instanceof SluiceError) || !(isRetriable(e.code) || e.code === ErrorCode.REQUEST_TIMED_OUT) || this.closed) throw e;
        await sleep(backoff);
        backoff = Math.min(backoff * 2, this.opts.retryBackoffMs * 8);
      }
    }
  }

  /** Leaves the group (best effort: a broker that is gone forgets the member by its session timeout anyway). */
  async leave(): Promise<void> {
    this.stopHeartbeats();
    if (this.memberId === NO_MEMBER_ID) return;
    const memberId = this.memberId;
    this.memberId = NO_MEMBER_ID;
    this.generationId = NO_GENERATION;
    try {
      await this.opts.rpc.call(GroupApiKey.LeaveGroup, { groupId: this.opts.groupId, memberId }, this.opts.sessionTimeoutMs);
    } catch (e) {
      this.opts.log?.(`group ${this.opts.groupId}: leave failed (${(e as Error).message}); the session timeout will remove the member`);
    }
  }

  close(): void {
    this.closed = true;
    this.stopHeartbeats();
  }
}
