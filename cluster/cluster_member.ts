// A broker's membership in the cluster: its session (lease), its
// registration, its candidacy for controller (renewed when a session is lost),
// its view of the cluster's metadata, and, while it is controller, the
// partition state machine (partition_controller.ts) and the automatic leader
// balancer (leader_balancer.ts); with `loadReport`, its partitions' rates
// published under the session lease (load_reports.ts).
//
// start(): grant a lease, register `brokers/<id>` (refused if a live broker
// holds the id), then campaign for controller and watch the election key.
// A suspended session (its local deadline passed without a keepalive answer)
// makes the member act as nothing until etcd answers again; a lost one (etcd
// said the lease is gone) ends the registration and any controllership with
// it: the member opens a new session, registers again and campaigns again,
// retrying with a capped backoff until etcd answers. controlledShutdown()
// hands its leaderships away first (controlled_shutdown.ts); close() resigns
// and revokes the lease, so the broker leaves the cluster at once instead of
// after a TTL.

import { ALTER_PARTITION_TIMEOUT_MS, ETCD_RETRY_BACKOFF_MS_MAX, ETCD_RETRY_BACKOFF_MS_MIN } from "./cluster_limits.ts";
import type { AlterPartitionRequest } from "./alter_partition.ts";
import { ClusterKeys } from "./cluster_keys.ts";
import { type BrokerInfoInput, registerBroker, type Registration } from "./broker_registration.ts";
import { ClusterView } from "./cluster_view.ts";
import { announceShutdown, handOffProgress } from "./controlled_shutdown.ts";
import { type ControllerInfo, ControllerElection, ControllerFencedError } from "./controller_election.ts";
import { PartitionController } from "./partition_controller.ts";
import { MoveController } from "./reassignment_controller.ts";
import { createTopic, type CreateTopicRequest, deleteTopic } from "./controller_topics.ts";
import type { PartitionState, TopicRecord } from "./topic_metadata.ts";
import type { EtcdClient } from "./etcd_client.ts";
import { LeaseKeeper } from "./lease_keeper.ts";
import { LeaderBalancer } from "./leader_balancer.ts";
import type { ElectLeadersResult, ElectLeadersScope } from "./leader_elections.ts";
import { type LoadReport, LoadReporter, type PartitionCounters, readLoadReports } from "./load_reports.ts";
import { LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS_DEFAULT, LEADER_IMBALANCE_PERCENT_DEFAULT } from "./cluster_limits.ts";
import { submitTopicRequest, type TopicRequest, type TopicRequestResult, TopicRequestServer } from "./topic_requests.ts";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";

export interface ClusterMemberOptions {
  readonly client: EtcdClient;
  readonly clusterName: string;
  readonly leaseTtlSeconds: number;
  /** What this broker registers (its listeners must already be open: the ports are real). */
  readonly broker: Omit<BrokerInfoInput, "startedAtMs">;
  readonly log: (line: string) => void;
  /** The automatic leader balancer while controller (leader_balancer.ts); absent: on, with Kafka's defaults. */
  readonly leaderBalance?: { readonly enabled: boolean; readonly imbalancePercent: number; readonly intervalMs: number };
  /** Publishes the hosted partitions' load under the session lease (load_reports.ts); absent: no reports. */
  readonly loadReport?: { readonly sample: () => Iterable<PartitionCounters>; readonly intervalMs?: number };
}

export interface ControlledShutdownResult {
  /** The shutdown key was written (false: no session, etcd away, or the wait was turned off). */
  readonly announced: boolean;
  /** The wait ended at its timeout with hand-offs still pending. */
  readonly timedOut: boolean;
  readonly waitedMs: number;
  /** Partitions (`topic/p`) the controller had not changed yet when the wait ended. */
  readonly pending: string[];
  /** Partitions this broker still leads because no other in-sync replica can: offline once it stops. */
  readonly stays: string[];
}

/** What happened to this broker's session: its deadline passed, etcd answered again, etcd said it is gone, a new one opened. */
export type SessionChange = "suspended" | "resumed" | "lost" | "opened";

interface Session {
  readonly lease: LeaseKeeper;
  readonly registration: Registration;
  readonly election: ControllerElection;
  readonly partitions: PartitionController;
  readonly requests: TopicRequestServer;
  readonly balancer: LeaderBalancer | undefined;
  /** The cut-over of partition moves (reassignment_controller.ts). */
  readonly moves: MoveController;
}

export class ClusterMember {
  readonly keys: ClusterKeys;
  /** The cluster's metadata as this broker sees it (brokers, controller, topics, partition states). */
  readonly view: ClusterView;
  readonly #o: ClusterMemberOptions;
  readonly #startedAtMs = Date.now();
  #session: Session | undefined;
  #sessions = 0;
  #closed = false;
  #renewing: Promise<void> | undefined;
  #loadReporter: LoadReporter | undefined;
  readonly #sessionListeners = new Set<(change: SessionChange) => void>();

  private constructor(options: ClusterMemberOptions) {
    this.#o = options;
    this.keys = new ClusterKeys(options.clusterName);
    this.view = ClusterView.start({
      client: options.client,
      keys: this.keys,
      onChange: () => {
        this.#session?.partitions.schedule();
        this.#session?.requests.schedule();
        this.#session?.moves.schedule();
      },
      onTrouble: (m) => options.log(`sluice: cluster: ${m}`),
    });
  }

  /** Joins the cluster; throws (EtcdUnreachableError, DuplicateBrokerIdError) when it cannot. */
  static async start(options: ClusterMemberOptions): Promise<ClusterMember> {
    const member = new ClusterMember(options);
    try {
      member.#session = await member.#openSession();
    } catch (e) {
      await member.view.close();
      throw e;
    }
    const load = options.loadReport;
    if (load !== undefined) {
      member.#loadReporter = new LoadReporter({
        client: options.client,
        keys: member.keys,
        brokerId: options.broker.id,
        leaseId: () => (member.#session?.lease.alive === true ? member.#session.lease.id : undefined),
        sample: load.sample,
        intervalMs: load.intervalMs,
        log: options.log,
      });
    }
    return member;
  }

  get brokerId(): number {
    return this.#o.broker.id;
  }

  /** True while this broker is controller and its session's deadline is ahead. */
  get isController(): boolean {
    return this.#session?.election.isController ?? false;
  }

  /** The epoch this broker is controller at, if it is. */
  get controllerEpoch(): number | undefined {
    return this.isController ? this.#session?.election.epoch : undefined;
  }

  /** The controller as last seen in etcd. */
  get controller(): ControllerInfo | undefined {
    return this.#session?.election.controller;
  }

  /** Sessions opened so far (1 + renewals after a loss). */
  get sessions(): number {
    return this.#sessions;
  }

  /** The automatic leader balancer of the current session (acts only while this broker is controller; undefined when turned off). */
  get leaderBalancer(): LeaderBalancer | undefined {
    return this.#session?.balancer;
  }

  /** The partition state machine of the current session (acts only while this broker is controller). */
  get partitionController(): PartitionController | undefined {
    return this.#session?.partitions;
  }

  /**
   * Creates a topic in etcd as the controller (controller_topics.ts). Throws
   * ControllerFencedError when this broker is not the controller: the caller
   * (a CreateTopics handler) forwards the request to the one that is.
   */
  async createTopic(req: CreateTopicRequest): Promise<{ record: TopicRecord; states: PartitionState[]; revision: number }> {
    const s = this.#controllerSession();
    return await createTopic({ client: this.#o.client, keys: this.keys, election: s.election }, req);
  }

  /** Deletes a topic as the controller (see createTopic). */
  async deleteTopic(name: string): Promise<{ revision: number }> {
    const s = this.#controllerSession();
    return await deleteTopic({ client: this.#o.client, keys: this.keys, election: s.election }, name);
  }

  /**
   * A topic change asked of the cluster from any broker: put as a request the
   * controller applies (topic_requests.ts). Resolves once it is in etcd (and
   * in this broker's view); throws SluiceError with the controller's answer.
   */
  async requestTopicChange(request: TopicRequest): Promise<TopicRequestResult> {
    const s = this.#session;
    if (s === undefined || s.lease.lostReason !== undefined) {
      throw new SluiceError(ErrorCode.REQUEST_TIMED_OUT, `broker ${this.#o.broker.id} has no cluster session right now; try again`);
    }
    return await submitTopicRequest({ client: this.#o.client, keys: this.keys, view: this.view, leaseId: s.lease.id }, request);
  }

  /** Every broker's last load report (load_reports.ts), read from etcd: the admin call behind `balance --by-load`. */
  readLoadReports(): Promise<Map<number, LoadReport>> {
    return readLoadReports(this.#o.client, this.keys);
  }

  /**
   * Proposes a new ISR for a partition this broker leads (Kafka's
   * AlterPartition): a request the controller decides (alter_partition.ts).
   * Resolves with the partition's new state; throws SluiceError with the
   * controller's refusal (FENCED_LEADER_EPOCH, INVALID_UPDATE_VERSION, …) or
   * REQUEST_TIMED_OUT.
   */
  async alterPartition(req: Omit<AlterPartitionRequest, "brokerId">): Promise<PartitionState> {
    const s = this.#session;
    if (s === undefined || !s.lease.alive) {
      throw new SluiceError(ErrorCode.REQUEST_TIMED_OUT, `broker ${this.#o.broker.id} has no live cluster session right now; try again`);
    }
    const request = { op: "alterPartition" as const, ...req, isr: [...req.isr], brokerId: this.#o.broker.id };
    const r = await submitTopicRequest({ client: this.#o.client, keys: this.keys, view: this.view, leaseId: s.lease.id }, request, ALTER_PARTITION_TIMEOUT_MS);
    if (r.state === undefined) throw new SluiceError(ErrorCode.UNKNOWN_SERVER_ERROR, `the controller answered the ISR change of ${req.topic}-${req.partition} without a state`);
    return r.state;
  }

  /**
   * Preferred leader elections asked of the controller from this broker
   * (leader_elections.ts, as `sluice cluster elect-leaders` asks them): a
   * request under this broker's session lease. Throws SluiceError with the
   * controller's refusal or REQUEST_TIMED_OUT.
   */
  async electLeaders(scope: ElectLeadersScope): Promise<ElectLeadersResult> {
    const s = this.#session;
    if (s === undefined || s.lease.lostReason !== undefined) {
      throw new SluiceError(ErrorCode.REQUEST_TIMED_OUT, `broker ${this.#o.broker.id} has no cluster session right now; try again`);
    }
    const request = { op: "electLeaders" as const, ...(scope.topic === undefined ? {} : { topic: scope.topic }), ...(scope.partition === undefined ? {} : { partition: scope.partition }) };
    const r = await submitTopicRequest({ client: this.#o.client, keys: this.keys, view: this.view, leaseId: s.lease.id }, request);
    if (r.elections === undefined) throw new SluiceError(ErrorCode.UNKNOWN_SERVER_ERROR, "the controller answered the leader election without outcomes");
    return r.elections;
  }

  #controllerSession(): Session {
    const s = this.#session;
    if (s === undefined || !s.election.isController) throw new ControllerFencedError(this.#o.broker.id, undefined, this.view.controller);
    return s;
  }

  /**
   * `cb` after every change of this broker's session (see SessionChange).
   * Whoever acts as leader listens: a suspended or lost session leads nothing.
   * Returns the unsubscribe.
   */
  onSessionChange(cb: (change: SessionChange) => void): () => void {
    this.#sessionListeners.add(cb);
    return () => this.#sessionListeners.delete(cb);
  }

  #sessionChanged(change: SessionChange): void {
    for (const cb of this.#sessionListeners) {
      try {
        cb(change);
      } catch (e) {
        this.#o.log(`sluice: cluster: a session listener failed: ${(e as Error)?.message ?? e}`);
      }
    }
  }

  /**
   * The revision of the latest write of any partition state, by a
   * linearizable read: once the view's revision reaches it, the view holds
   * every leader and ISR change made before this call (a broker re-reads etcd
   * this way before it leads under a new or resumed session).
   */
  async latestPartitionStateRevision(): Promise<number> {
    const r = await this.#o.client.range(this.keys.partitionsPrefix, { prefix: true });
    let latest = 0;
    for (const kv of r.kvs) if (kv.modRevision > latest) latest = kv.modRevision;
    return latest;
  }

  /** The current session's lease, while there is one. */
  get lease(): LeaseKeeper | undefined {
    return this.#session?.lease;
  }

  /** The registration of the current session (its create revision is this broker's epoch), undefined between sessions. */
  get registration(): Registration | undefined {
    return this.#session?.registration;
  }

  async #openSession(): Promise<Session> {
    const { client, log } = this.#o;
    const brokerId = this.#o.broker.id;
    let session: Session | undefined;
    const lease = await LeaseKeeper.grant(client, {
      ttlSeconds: this.#o.leaseTtlSeconds,
      onLost: (reason) => {
        log(`sluice: cluster session of broker ${brokerId} lost: ${reason}`);
        this.#sessionChanged("lost");
        if (session !== undefined) void this.#renew(session);
      },
      onSuspended: (reason) => {
        log(`sluice: cluster session of broker ${brokerId} suspended (acting as nothing until etcd answers): ${reason}`);
        this.#sessionChanged("suspended");
      },
      onResumed: () => {
        log(`sluice: cluster session of broker ${brokerId} resumed: the lease lived on`);
        session?.partitions.schedule();
        this.#sessionChanged("resumed");
      },
      onTrouble: (m) => log(`sluice: cluster: ${m}`),
    });
    let registration: Registration;
    try {
      registration = await registerBroker(client, this.keys, lease, { ...this.#o.broker, startedAtMs: this.#startedAtMs });
    } catch (e) {
      await lease.revoke();
      throw e;
    }
    let partitions: PartitionController | undefined;
    let requests: TopicRequestServer | undefined;
    let moves: MoveController | undefined;
    const election = new ControllerElection({
      client,
      keys: this.keys,
      lease,
      brokerId,
      onElected: (epoch) => {
        log(`sluice: broker ${brokerId} is the controller (epoch ${epoch})`);
        partitions?.schedule();
        requests?.schedule();
        moves?.schedule();
      },
      onDeposed: (epoch, why) => log(`sluice: broker ${brokerId} is no longer the controller (epoch ${epoch}): ${why}`),
      onTrouble: (m) => log(`sluice: cluster: ${m}`),
    });
    partitions = new PartitionController({ client, election, view: this.view, log });
    requests = new TopicRequestServer({
      ctx: { client, keys: this.keys, election },
      view: this.view,
      isController: () => election.isController,
      log,
      isrChanged: () => partitions.stats.isrChanges++,
    });
    const balance = this.#o.leaderBalance ?? { enabled: true, imbalancePercent: LEADER_IMBALANCE_PERCENT_DEFAULT, intervalMs: LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS_DEFAULT * 1000 };
    const balancer = !balance.enabled
      ? undefined
      : new LeaderBalancer({
          ctx: { client, keys: this.keys, election },
          view: this.view,
          isController: () => election.isController,
          intervalMs: balance.intervalMs,
          thresholdRatio: balance.imbalancePercent / 100,
          log,
        });
    moves = new MoveController({ ctx: { client, keys: this.keys, election }, view: this.view, log });
    session = { lease, registration, election, partitions, requests, balancer, moves };
    this.#sessions++;
    election.start();
    if (lease.lostReason !== undefined) void this.#renew(session);
    return session;
  }

  /** Replaces a lost session, retrying until etcd answers or the member closes. */
  #renew(lost: Session): Promise<void> {
    this.#renewing ??= (async () => {
      lost.requests.stop();
      await lost.balancer?.stop();
      await lost.partitions.stop();
      await lost.moves.stop();
      await lost.election.close();
      if (this.#session === lost) this.#session = undefined;
      let backoffMs = ETCD_RETRY_BACKOFF_MS_MIN;
      while (!this.#closed) {
        try {
          const next = await this.#openSession();
          if (this.#closed) {
            await next.balancer?.stop();
            await next.partitions.stop();
            await next.moves.stop();
            await next.election.close();
            await next.lease.revoke();
            return;
          }
          this.#session = next;
          this.#o.log(`sluice: broker ${this.#o.broker.id} rejoined the cluster (session ${this.#sessions})`);
          this.#sessionChanged("opened");
          return;
        } catch (e) {
          this.#o.log(`sluice: cluster: could not rejoin: ${(e as Error)?.message ?? e}; retrying in ${backoffMs} ms`);
          await new Promise((resolve) => setTimeout(resolve, backoffMs));
          backoffMs = Math.min(backoffMs * 2, ETCD_RETRY_BACKOFF_MS_MAX);
        }
      }
    })().finally(() => {
      this.#renewing = undefined;
    });
    return this.#renewing;
  }

  /**
   * Controlled shutdown (controlled_shutdown.ts), before close(): announces
   * it, then waits until this broker's view shows the controller moved every
   * leadership it could and took this broker out of the ISRs, or `timeoutMs`.
   * Everything keeps running meanwhile (followers keep fetching from this
   * broker until the new leaders are in etcd). Never throws: a shutdown that
   * cannot be announced (no session, etcd away) is logged and ends the wait.
   */
  async controlledShutdown(timeoutMs: number): Promise<ControlledShutdownResult> {
    const me = this.#o.broker.id;
    const log = this.#o.log;
    const startedAt = performance.now();
    const result = (timedOut: boolean, announced: boolean): ControlledShutdownResult => {
      const left = handOffProgress(this.view, me);
      return { announced, timedOut, waitedMs: performance.now() - startedAt, pending: left.pending, stays: left.stays };
    };
    if (timeoutMs <= 0 || this.#closed) return result(false, false);
    let announcedIn: Session | undefined;
    const announce = async (): Promise<boolean> => {
      const s = this.#session;
      if (s === undefined || s === announcedIn || s.lease.lostReason !== undefined) return s !== undefined && s === announcedIn;
      const ok = await announceShutdown(this.#o.client, this.keys, { brokerId: me, registrationRevision: s.registration.createRevision, leaseId: s.lease.id }).catch((e) => {
        log(`sluice: cluster: could not announce the controlled shutdown: ${(e as Error)?.message ?? e}`);
        return false;
      });
      if (ok) announcedIn = s;
      return ok;
    };
    if (!(await announce())) return result(false, false);
    log(`sluice: broker ${me}: controlled shutdown: asked the controller to move this broker's leaderships`);
    const done = () => this.view.shuttingDownBrokerIds().has(me) && handOffProgress(this.view, me).pending.length === 0;
    let timedOut = false;
    await new Promise<void>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const check = () => {
        // A session renewed meanwhile lost the announcement with its lease: announce again under the new one.
        if (this.#session !== announcedIn) void announce();
        if (!done()) return;
        finish();
      };
      const unsubscribe = this.view.subscribe(check);
      const finish = () => {
        clearTimeout(timer);
        unsubscribe();
        resolve();
      };
      timer = setTimeout(() => {
        timedOut = true;
        finish();
      }, timeoutMs);
      check();
    });
    const r = result(timedOut, true);
    const ms = Math.round(r.waitedMs);
    if (timedOut) log(`sluice: broker ${me}: controlled shutdown: gave up after ${ms} ms with ${r.pending.length} partitions not moved (${r.pending.slice(0, 10).join(", ")})`);
    else log(`sluice: broker ${me}: controlled shutdown: leaderships and ISR places handed off in ${ms} ms`);
    if (r.stays.length > 0) {
      log(`sluice: broker ${me}: controlled shutdown: ${r.stays.length} partitions have no other in-sync replica and go offline when this broker stops: ${r.stays.slice(0, 10).join(", ")}`);
    }
    return r;
  }

  /** Leaves the cluster: resigns the controllership, revokes the lease. Errors are logged (the lease expires anyway). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#loadReporter?.stop();
    await this.#renewing?.catch(() => {});
    const s = this.#session;
    this.#session = undefined;
    await this.view.close();
    if (s === undefined) return;
    s.requests.stop();
    await s.balancer?.stop();
    await s.partitions.stop();
    await s.moves.stop();
    await s.election.close();
    try {
      // No longer than the lease would take to expire anyway: a stop must not hang on an unreachable etcd.
      await s.election.resign({ timeoutMs: this.#o.leaseTtlSeconds * 1000 });
    } catch (e) {
      this.#o.log(`sluice: cluster: could not resign the controllership: ${(e as Error)?.message ?? e}`);
    }
    await s.lease.revoke();
  }

  /** Stops renewing without revoking: etcd sees the broker vanish after its TTL, as after a crash (tests). */
  async abandon(): Promise<void> {
    this.#closed = true;
    this.#loadReporter?.stop();
    const s = this.#session;
    this.#session = undefined;
    await this.view.close();
    if (s === undefined) return;
    s.lease.abandon();
    await s.balancer?.stop();
    await s.partitions.stop();
    await s.moves.stop();
    await s.election.close();
  }
}
