// A consumer that is a member of a group: it subscribes to topics, the group
// coordinator gives it some of their partitions, and it reads them from the
// group's committed offsets.
//
//   const c = new GroupConsumer({ broker: "127.0.0.1:9900", groupId: "billing" });
//   c.subscribe(["orders"]);
//   await c.run({ eachMessage: async (m) => { ... } });   // or: for await (const m of c) { ... }
//
// Delivery: at least once. A message counts as processed when eachMessage
// resolved (or, iterating, when the loop asks for the next message; the one in
// hand when the loop is left does not count). Only
// processed offsets are committed — by auto-commit every autoCommitIntervalMs,
// by commitSync()/commitAsync(), and always before partitions are given up in a
// rebalance and at close(). So a consumer killed at any moment loses nothing;
// the member that takes its partitions over sees again only what came after its
// last commit.
//
// Rebalance (eager): when the heartbeat reports REBALANCE_IN_PROGRESS, the
// consumer stops delivering after the message in hand, commits what it
// processed, calls onRevoked, rejoins, and on its new assignment fetches the
// committed offsets, calls onAssigned and goes on. When it was fenced instead
// (ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID: the group moved on without it) its
// partitions may already be someone else's: it calls onRevoked with
// `lost: true` without committing, and rejoins.
//
// The heartbeat runs on its own timer (client/group_membership.ts): a handler
// that awaits for long does not cost the session. The rebalance timeout still
// bounds how long the handler in hand may take once a rebalance started.

import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { type TopicPartitions } from "../protocol/messages/groups.ts";
import { GroupMembership, type GroupRpc, isFencing, type OffsetToCommit, type RejoinReason } from "./group_membership.ts";
import { InvalidArgumentError } from "./errors.ts";
import type { GroupTransportOptions } from "./group_transport.ts";
import { type ClientOptions, DEFAULT_BROKER, parseBrokerList } from "./options.ts";

/** One record as the group consumer hands it out. */
export interface GroupMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers: ReadonlyArray<readonly [string, Uint8Array | null]>;
}

export interface FetchPosition {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

/** What the group consumer needs of a fetching consumer (client/group_transport.ts's ConsumerFetcher adapts client/consumer.ts). */
export interface GroupFetcher {
  /** Replaces the partitions fetched and where each starts. */
  assign(positions: readonly FetchPosition[]): void;
  /** The next records (possibly none, after a bounded wait). */
  poll(): Promise<GroupMessage[]>;
  /** Makes a pending poll() return at once (with what it has, possibly nothing). */
  wake(): void;
  /** Earliest (log start) or latest (high watermark) offset of each partition. */
  listOffsets(partitions: readonly TopicPartitions[], which: "earliest" | "latest"): Promise<Map<string, number>>;
  close(): Promise<void>;
}

export interface RevokeInfo {
  /** The partitions were lost (fenced) rather than handed over: nothing was committed for them. */
  readonly lost: boolean;
}

/**
 * Takes the options every client takes (ClientOptions: `broker`, `clientId`,
 * `transport`, timeouts, backoff), used for both of its connections, and
 * the group's own.
 */
export interface GroupConsumerOptions extends ClientOptions {
  /**
   * @deprecated Use `broker` ("host:port"), as Producer, Consumer and Admin
   * do. Still accepted: its first entry is the broker.
   */
  readonly brokers?: readonly string[];
  readonly groupId: string;
  /** Sent in ApiVersions and shown in `sluice groups describe` (default "sluice-consumer"). */
  readonly clientId?: string;
  /** Assignors this member accepts, in preference order (default sticky, range, roundrobin). */
  readonly assignors?: readonly string[];
  readonly sessionTimeoutMs?: number;
  readonly rebalanceTimeoutMs?: number;
  readonly heartbeatIntervalMs?: number;
  readonly autoCommit?: boolean;
  readonly autoCommitIntervalMs?: number;
  /** Where to start a partition the group has no committed offset for (default earliest). */
  readonly autoOffsetReset?: "earliest" | "latest";
  readonly retryBackoffMs?: number;
  readonly onAssigned?: (partitions: TopicPartitions[]) => void | Promise<void>;
  readonly onRevoked?: (partitions: TopicPartitions[], info: RevokeInfo) => void | Promise<void>;
  /** After each commit the broker acknowledged (durably): the offsets it accepted. */
  readonly onCommitted?: (offsets: OffsetToCommit[]) => void;
  /** Failures of background commits (auto-commit, commitAsync). Default: log them. */
  readonly onCommitError?: (error: unknown) => void;
  readonly log?: (line: string) => void;
  /** Longest one fetch poll waits for records before the loop looks for a rebalance again (default 500). */
  readonly pollWaitMs?: number;
  /** Tuning of the fetching Consumer (prefetchBytesMax, fetchMaxWaitMs, …). */
  readonly consumer?: GroupTransportOptions["consumer"];
  /**
   * @deprecated Give connection options (transport, timeouts, backoff) at the
   * top level, as every client takes them; these are used where the top
   * level leaves one out.
   */
  readonly client?: Omit<ClientOptions, "broker" | "clientId">;
  /** Test seams: the request channel and the fetcher (default: client connections to `broker`). */
  readonly rpc?: GroupRpc;
  readonly fetcher?: GroupFetcher;
}

export interface RunOptions {
  eachMessage(message: GroupMessage): void | Promise<void>;
}

export const GROUP_CONSUMER_DEFAULTS = {
  assignors: ["sticky", "range", "roundrobin"] as readonly string[],
  sessionTimeoutMs: 10_000,
  rebalanceTimeoutMs: 30_000,
  autoCommit: true,
  autoCommitIntervalMs: 5_000,
  autoOffsetReset: "earliest" as const,
  retryBackoffMs: 100,
};

const key = (topic: string, partition: number) => `${topic}:${partition}`;

/** The broker address from `broker` or the deprecated `brokers`; checked here, at the edge. */
export function groupConsumerBroker(opts: Pick<GroupConsumerOptions, "broker" | "brokers">): string {
  const alias = opts.brokers?.[0];
  if (opts.broker !== undefined && alias !== undefined && alias !== opts.broker) {
    throw new InvalidArgumentError(`broker '${opts.broker}' and brokers[0] '${alias}' disagree: give only broker`);
  }
  const given = opts.broker ?? alias ?? DEFAULT_BROKER;
  const broker = typeof given === "string" ? given : given.join(",");
  parseBrokerList(broker);
  return broker;
}

/** How the iterator's hand-off tells the loop that the message in hand was not processed. */
const ABANDONED = Symbol("abandoned");

export class GroupConsumer {
  readonly groupId: string;
  /** The broker's "host:port". */
  readonly broker: string;
  private readonly opts: GroupConsumerOptions;
  private readonly membership: GroupMembership;
  private rpc: GroupRpc | undefined;
  private fetcher: GroupFetcher | undefined;
  private readonly ownsFetcher: boolean;
  private closeRpc: (() => Promise<void>) | undefined;
  private topics: string[] = [];
  private owned: TopicPartitions[] = [];
  /** Next offset to deliver, per owned partition. */
  private readonly positions = new Map<string, number>();
  /** Offset after the last processed message, per owned partition. */
  private readonly processed = new Map<string, number>();
  /** What the group has committed for us, as far as we know. */
  private readonly committed = new Map<string, number>();
  private rejoin: RejoinReason | undefined = { kind: "rebalance" };
  private running: Promise<void> | undefined;
  /** Settles when the consume loop ended, however it ended (close() waits on it). */
  private loopEnded: Promise<void> | undefined;
  private closing = false;
  private closed: Promise<void> | undefined;
  private commitChain: Promise<unknown> = Promise.resolve();
  private autoCommitTimer: ReturnType<typeof setInterval> | undefined;
  private readonly log: (line: string) => void;
  /** Rebalances this member went through (joins that completed). */
  rebalances = 0;

  constructor(opts: GroupConsumerOptions) {
    this.opts = opts;
    this.groupId = opts.groupId;
    this.broker = groupConsumerBroker(opts);
    this.log = opts.log ?? (() => {});
    const sessionTimeoutMs = opts.sessionTimeoutMs ?? GROUP_CONSUMER_DEFAULTS.sessionTimeoutMs;
    this.ownsFetcher = opts.fetcher === undefined;
    this.rpc = opts.rpc;
    this.fetcher = opts.fetcher;
    const self = this;
    this.membership = new GroupMembership({
      // Resolved lazily: the default transport connects on run().
      rpc: { call: (k, b, t) => self.requireRpc().call(k, b, t) },
      groupId: opts.groupId,
      clientId: opts.clientId ?? "sluice-consumer",
      assignors: opts.assignors ?? GROUP_CONSUMER_DEFAULTS.assignors,
      sessionTimeoutMs,
      rebalanceTimeoutMs: opts.rebalanceTimeoutMs ?? GROUP_CONSUMER_DEFAULTS.rebalanceTimeoutMs,
      heartbeatIntervalMs: opts.heartbeatIntervalMs ?? Math.max(50, Math.floor(sessionTimeoutMs / 3)),
      retryBackoffMs: opts.retryBackoffMs ?? GROUP_CONSUMER_DEFAULTS.retryBackoffMs,
      log: this.log,
    });
    this.membership.onRejoinNeeded = (reason) => this.requestRejoin(reason);
  }

  get memberId(): string {
    return this.membership.memberId;
  }

  get generationId(): number {
    return this.membership.generationId;
  }

  /** The partitions this member owns in the current generation. */
  assignment(): TopicPartitions[] {
    return this.owned.map((tp) => ({ topic: tp.topic, partitions: [...tp.partitions] }));
  }

  /** Sets the topics to read; while running, a change makes the member rejoin with it. */
  subscribe(topics: readonly string[]): void {
    const next = [...new Set(topics)].sort();
    if (next.length === 0) throw new SluiceError(ErrorCode.INVALID_REQUEST, "subscribe to at least one topic");
    const changed = next.join("\u0000") !== this.topics.join("\u0000");
    this.topics = next;
    this.membership.topics = next;
    if (changed && this.running !== undefined) this.requestRejoin({ kind: "rebalance" });
  }

  /** Consumes until close(); rejects when eachMessage throws (after leaving the group cleanly). */
  run(options: RunOptions): Promise<void> {
    if (this.running !== undefined) throw new Error("group consumer: already running");
    if (this.topics.length === 0) throw new SluiceError(ErrorCode.INVALID_REQUEST, "subscribe() before run()");
    const loop = this.loop(options);
    this.loopEnded = loop.catch(() => {});
    this.running = loop.catch(async (e) => {
      await this.close().catch(() => {});
      throw e;
    });
    return this.running;
  }

  /**
   * Iterates messages. A message counts as processed when the loop asks for the
   * next one. Leaving the loop (break, return, throw) closes the consumer; the
   * message in hand then does not count as processed — the loop cannot tell a
   * finished body from a failed one — so it is not committed and the next owner
   * of its partition sees it again (commitSync it first if the body finished).
   */
  [Symbol.asyncIterator](): AsyncIterator<GroupMessage> {
    // A one-slot hand-off: the consume loop waits in eachMessage until the iterator asks for the next message.
    let slot: { message: GroupMessage; done: () => void; abandon: () => void; delivered: boolean } | undefined;
    let waiting: ((r: IteratorResult<GroupMessage>) => void) | undefined;
    let failure: unknown;
    let ended = false;
    const finish = () => {
      ended = true;
      waiting?.({ done: true, value: undefined });
      waiting = undefined;
    };
    this.run({
      eachMessage: (message) =>
        new Promise<void>((done, abandon) => {
          slot = { message, done, abandon: () => abandon(ABANDONED), delivered: false };
          if (waiting !== undefined) {
            const w = waiting;
            waiting = undefined;
            slot.delivered = true;
            w({ done: false, value: message });
          }
        }),
    }).then(finish, (e) => {
      failure = e;
      finish();
    });
    return {
      next: () => {
        if (slot?.delivered) {
          const s = slot;
          slot = undefined;
          s.done(); // the message before this call is processed now
        }
        if (failure !== undefined) return Promise.reject(failure);
        if (ended) return Promise.resolve({ done: true, value: undefined });
        if (slot !== undefined && !slot.delivered) {
          slot.delivered = true;
          return Promise.resolve({ done: false, value: slot.message });
        }
        return new Promise((resolve) => (waiting = resolve));
      },
      return: async () => {
        const closing = this.close();
        const s = slot;
        slot = undefined;
        s?.abandon();
        await closing;
        return { done: true, value: undefined };
      },
    };
  }

  /**
   * Commits `offsets` (default: everything processed and not yet committed) and
   * waits for the broker's durable ack. Throws SluiceError: fencing codes
   * (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS) also make the
   * member rejoin; a partition-level failure names the partition.
   */
  commitSync(offsets?: readonly OffsetToCommit[]): Promise<void> {
    const run = this.commitChain.then(() => this.commitNow(offsets));
    this.commitChain = run.catch(() => {});
    return run;
  }

  /** commitSync without waiting; failures go to onCommitError. */
  commitAsync(offsets?: readonly OffsetToCommit[]): void {
    this.commitSync(offsets).catch((e) => this.commitFailed(e));
  }

  /** Stops consuming, commits what was processed, gives the partitions up and leaves the group. */
  close(): Promise<void> {
    this.closed ??= this.doClose();
    return this.closed;
  }

  // ---- the consume loop ----

  private async loop(options: RunOptions): Promise<void> {
    await this.connect();
    this.startAutoCommit();
    const fetcher = this.fetcher!;
    while (!this.closing) {
      if (this.rejoin !== undefined) {
        await this.rebalance();
        continue;
      }
      let records: GroupMessage[];
      try {
        records = await fetcher.poll();
      } catch (e) {
        // The fetcher retries what is retriable itself; what reaches here is for the application.
        if (this.closing) break;
        throw e;
      }
      for (const r of records) {
        if (this.rejoin !== undefined || this.closing) break;
        const k = key(r.topic, r.partition);
        const pos = this.positions.get(k);
        if (pos === undefined || r.offset < pos) continue; // not ours (any more), or delivered already
        this.positions.set(k, r.offset + 1);
        try {
          await options.eachMessage(r);
        } catch (e) {
          if (e === ABANDONED) break; // the iterator was left: the message in hand is not processed
          throw e;
        }
        this.processed.set(k, r.offset + 1);
      }
    }
  }

  private requestRejoin(reason: RejoinReason): void {
    // Being fenced outranks a plain rebalance: it decides whether we may commit.
    if (this.rejoin === undefined || reason.kind === "fenced") this.rejoin = reason;
    this.fetcher?.wake();
  }

  private async rebalance(): Promise<void> {
    const reason = this.rejoin ?? { kind: "rebalance" };
    this.rejoin = undefined;
    await this.giveUp(reason.kind === "fenced");
    if (this.closing) return;
    let assignment: TopicPartitions[];
    try {
      assignment = await this.membership.joinAndSync(() => this.closing);
    } catch (e) {
      if (this.closing) return;
      throw e;
    }
    this.membership.startHeartbeats();
    this.rebalances++;
    if (this.rejoin !== undefined) return; // the group moved on during the join: go round again
    const start = await this.withRetries("fetch the start offsets", () => this.startOffsets(assignment));
    if (start === undefined) return; // closing
    const positions: FetchPosition[] = [];
    for (const tp of assignment) {
      for (const p of tp.partitions) {
        const k = key(tp.topic, p);
        const offset = start.get(k)!;
        this.positions.set(k, offset);
        this.processed.set(k, offset);
        positions.push({ topic: tp.topic, partition: p, offset });
      }
    }
    this.owned = assignment;
    this.fetcher!.assign(positions);
    this.log(`group ${this.groupId}: generation ${this.generationId}, assigned ${JSON.stringify(assignment)}`);
    await this.opts.onAssigned?.(this.assignment());
  }

  /** Commits (unless lost) and revokes everything owned. */
  private async giveUp(lost: boolean): Promise<void> {
    this.fetcher?.assign([]);
    if (this.owned.length === 0) return;
    if (!lost) {
      try {
        await this.commitSync();
      } catch (e) {
        // Fenced meanwhile, or the broker is gone: the partitions are handed over uncommitted (at least once still holds).
        this.commitFailed(e);
        if (e instanceof SluiceError && isFencing(e.code) && e.code !== ErrorCode.REBALANCE_IN_PROGRESS) lost = true;
      }
    }
    const owned = this.owned;
    this.owned = [];
    this.positions.clear();
    this.processed.clear();
    this.committed.clear();
    await this.opts.onRevoked?.(owned, { lost });
  }

  /** Runs `fn` again after a backoff while it fails with a retriable error; undefined once closing. */
  private async withRetries<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
    const base = this.opts.retryBackoffMs ?? GROUP_CONSUMER_DEFAULTS.retryBackoffMs;
    for (let attempt = 0; ; attempt++) {
      if (this.closing) return undefined;
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof SluiceError) || !(e.retriable || e.code === ErrorCode.REQUEST_TIMED_OUT) || this.closing) throw e;
        this.log(`group ${this.groupId}: cannot ${what} (${e.message}); retrying`);
        await new Promise((r) => setTimeout(r, Math.min(base * 2 ** attempt, base * 16)));
      }
    }
  }

  /** Committed offsets, and the reset policy where there are none. */
  private async startOffsets(assignment: TopicPartitions[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (assignment.length === 0) return out;
    const committed = await this.membership.fetchCommitted(assignment);
    const missing: TopicPartitions[] = [];
    for (const tp of assignment) {
      const none = tp.partitions.filter((p) => (committed.get(key(tp.topic, p)) ?? -1) < 0);
      if (none.length > 0) missing.push({ topic: tp.topic, partitions: none });
      for (const p of tp.partitions) {
        const c = committed.get(key(tp.topic, p)) ?? -1;
        if (c >= 0) {
          out.set(key(tp.topic, p), c);
          this.committed.set(key(tp.topic, p), c);
        }
      }
    }
    if (missing.length > 0) {
      const reset = await this.fetcher!.listOffsets(missing, this.opts.autoOffsetReset ?? GROUP_CONSUMER_DEFAULTS.autoOffsetReset);
      for (const tp of missing) for (const p of tp.partitions) out.set(key(tp.topic, p), reset.get(key(tp.topic, p)) ?? 0);
    }
    return out;
  }

  // ---- commits ----

  private async commitNow(offsets?: readonly OffsetToCommit[]): Promise<void> {
    const list = offsets ?? this.uncommitted();
    if (list.length === 0) return;
    let codes: Map<string, number>;
    try {
      codes = await this.membership.commit(list);
    } catch (e) {
      if (e instanceof SluiceError && isFencing(e.code)) {
        this.requestRejoin(e.code === ErrorCode.REBALANCE_IN_PROGRESS ? { kind: "rebalance" } : { kind: "fenced", code: e.code });
      }
      throw e;
    }
    let failed: SluiceError | undefined;
    const accepted: OffsetToCommit[] = [];
    for (const o of list) {
      const code = codes.get(key(o.topic, o.partition)) ?? ErrorCode.UNKNOWN_SERVER_ERROR;
      if (code === ErrorCode.NONE) {
        accepted.push(o);
        if (this.positions.has(key(o.topic, o.partition))) this.committed.set(key(o.topic, o.partition), o.offset);
      } else failed ??= new SluiceError(code, `commit of ${o.topic}[${o.partition}] at ${o.offset} failed`);
    }
    if (accepted.length > 0) this.opts.onCommitted?.(accepted);
    if (failed !== undefined) throw failed;
  }

  private uncommitted(): OffsetToCommit[] {
    const out: OffsetToCommit[] = [];
    for (const tp of this.owned) {
      for (const p of tp.partitions) {
        const k = key(tp.topic, p);
        const done = this.processed.get(k);
        if (done !== undefined && done !== this.committed.get(k)) out.push({ topic: tp.topic, partition: p, offset: done });
      }
    }
    return out;
  }

  private commitFailed(e: unknown): void {
    if (this.opts.onCommitError) this.opts.onCommitError(e);
    else this.log(`group ${this.groupId}: commit failed: ${(e as Error)?.message ?? e}`);
  }

  private startAutoCommit(): void {
    if (!(this.opts.autoCommit ?? GROUP_CONSUMER_DEFAULTS.autoCommit)) return;
    const every = this.opts.autoCommitIntervalMs ?? GROUP_CONSUMER_DEFAULTS.autoCommitIntervalMs;
    this.autoCommitTimer = setInterval(() => {
      if (this.rejoin === undefined && !this.closing && this.owned.length > 0) this.commitAsync();
    }, every);
  }

  // ---- lifecycle ----

  private requireRpc(): GroupRpc {
    if (this.rpc === undefined) throw new SluiceError(ErrorCode.NETWORK_EXCEPTION, "the group consumer is not connected");
    return this.rpc;
  }

  private async connect(): Promise<void> {
    if (this.rpc !== undefined && this.fetcher !== undefined) return;
    const { connectGroupTransport } = await import("./group_transport.ts");
    const o = this.opts;
    const old = o.client ?? {}; // the deprecated nested form, where the top level leaves an option out
    const t = await connectGroupTransport({
      broker: this.broker,
      transport: o.transport ?? old.transport,
      connectTimeoutMs: o.connectTimeoutMs ?? old.connectTimeoutMs,
      requestTimeoutMs: o.requestTimeoutMs ?? old.requestTimeoutMs,
      reconnectBackoffMs: o.reconnectBackoffMs ?? old.reconnectBackoffMs,
      reconnectBackoffMsMax: o.reconnectBackoffMsMax ?? old.reconnectBackoffMsMax,
      inflightRequestsMax: o.inflightRequestsMax ?? old.inflightRequestsMax,
      clientId: this.opts.clientId ?? "sluice-consumer",
      pollWaitMs: this.opts.pollWaitMs,
      consumer: this.opts.consumer,
      autoOffsetReset: this.opts.autoOffsetReset ?? GROUP_CONSUMER_DEFAULTS.autoOffsetReset,
    });
    if (this.rpc === undefined) {
      this.rpc = t.rpc;
      this.closeRpc = () => t.rpc.close();
    } else await t.rpc.close();
    if (this.fetcher === undefined) this.fetcher = t.fetcher;
    else await t.fetcher.close();
  }

  private async doClose(): Promise<void> {
    this.closing = true;
    this.fetcher?.wake();
    if (this.autoCommitTimer !== undefined) clearInterval(this.autoCommitTimer);
    // Let the loop finish the message in hand (a failing loop ends too; its error is run()'s to report).
    if (this.loopEnded !== undefined) await this.loopEnded;
    if (this.rpc !== undefined) {
      await this.giveUp(this.rejoin?.kind === "fenced").catch((e) => this.commitFailed(e));
      await this.membership.leave();
    }
    this.membership.close();
    if (this.ownsFetcher) await this.fetcher?.close();
    await this.closeRpc?.();
  }
}
