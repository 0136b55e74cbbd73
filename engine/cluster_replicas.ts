// A broker in cluster mode acting on etcd (docs/CLUSTER.md, "Brokers act on
// the partition state"): topic admin asked of this broker goes to the
// controller as a request (cluster/topic_requests.ts); this broker's own
// partitions follow etcd, never the request — after every change of its view
// of the cluster it opens the replicas assigned to it, drops the topics etcd
// no longer has, and sets each partition's role (leader or not, leader epoch),
// which the data path checks (engine.ts #slotOf: NOT_LEADER_OR_FOLLOWER).
// Metadata answers from the same view: every partition of the cluster with its
// leader, replicas, ISR and leader epoch.
//
// The same pass drives replication (engine/replication/): for every hosted
// partition, from its state in etcd, this broker leads it (becomeLeader with
// the leader epoch, partition epoch, ISR, replicas and the topic's
// min.insync.replicas), follows its leader at the address the leader's
// registration gives (becomeFollower), or, when the leader is offline or not
// registered, has no role. A role is given again only when something in it
// changed, and never for an older leader epoch than the one applied. A
// partition is served as leader (the routing role) only once becomeLeader has
// returned. The leaders' ISR changes go to the controller as AlterPartition
// requests.
//
// Leading needs a live session (docs/CLUSTER.md, "What acks=all promises"):
// the session whose lease the broker re-read etcd under. When it is suspended
// (its local deadline passed) or lost, the broker leads nothing: the engine's
// ack path checks `leaseAlive` (the deadline, read from the clock) on every
// answer, and the next pass drops every leadership. It leads again only once
// a session is alive and the view has caught up with etcd as read after that
// (a linearizable read's revision), so a leadership taken is one etcd still
// gives it.
//
// Leading also needs the state to be written for this incarnation of the
// broker (docs/CLUSTER.md, "Broker epochs"): a state naming this broker leader
// but last written before its registration (a restart quicker than the
// controller's handling of the old registration) is its previous process's
// leadership, at a leader epoch whose records this process may have lost the
// unfsynced tail of; it takes no role for it (neither leads nor follows) and
// waits for the controller's new state (`leadsAsThisIncarnation`).
//
// Replica fetches carry this broker's epoch (its registration's create
// revision); as a leader it takes the other brokers' epochs from the view, so
// a re-registered follower's previous process's offsets stop counting for the
// high watermark and the ISR, and that process's fetches are refused
// (replica_manager.ts staleBrokerEpoch).
//
// Threading: the router (main) thread. One reconcile pass at a time; a change
// during a pass runs one more pass after it.
//
// The data directory belongs to the cluster: a local topic etcd does not have
// (a topic deleted while this broker was away, or one made on a single node
// before it joined) is deleted, with a log line.

import {
  type ClusterMember,
  DEFAULT_MIN_INSYNC_REPLICAS,
  DEFAULT_REPLICATION_FACTOR,
  ETCD_CALL_TIMEOUT_MS,
  type LeaseKeeper,
  leadsAsThisIncarnation,
  moveOf,
  NO_LEADER,
  type TopicRecord,
  type VersionedPartitionState,
} from "../cluster/mod.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { NO_BROKER_EPOCH } from "../protocol/messages/replica_fetch.ts";
import { topicNameProblem } from "../protocol/topic_name.ts";
import { moveProgressMetrics } from "./move_progress.ts";
import { checkClusterTopicConfigs, logConfigsOf } from "./topic_config.ts";
import type { ClusterPartitionInfo, ClusterTopicAdmin, PartitionMetadata, Topic, TopicLifecycle, TopicMetadata } from "./topic_lifecycle.ts";
import { NOT_HOSTED } from "./topic_lifecycle.ts";
import type { LeaderRole } from "./replication/leader_partition.ts";
import type { ReplicaManager } from "./replication/replica_manager.ts";
import { ISR_CHECKS_PER_LAG_TIME, REPLICA_LAG_TIME_MAX_MS_DEFAULT } from "./replication/replication_limits.ts";

/** A pass that could not re-read etcd before leading asks for another after this long. */
const CATCH_UP_RETRY_MS = 500;

/** The replication role last given to a slot: `key` says everything it was given with, so a pass can tell a change. */
interface AppliedRole {
  /** "waiting": etcd names this broker leader, but for an earlier incarnation (no role until the controller's next state). */
  readonly kind: "leader" | "follower" | "none" | "waiting";
  readonly leaderEpoch: number;
  readonly key: string;
}

export interface ClusterReplicasOptions {
  readonly member: ClusterMember;
  readonly lifecycle: TopicLifecycle;
  /** Replication factor of a topic created without one (cluster default 3). */
  readonly defaultReplicationFactor?: number;
  /** min.insync.replicas of a topic created without one (cluster default 2). */
  readonly defaultMinInsyncReplicas?: number;
  /** The roles of this broker's replicas (the engine's). */
  readonly replication: ReplicaManager;
  /** replica.lag.time.max.ms of the partitions this broker leads (default 10 s). */
  readonly replicaLagTimeMaxMs?: number;
  readonly log: (line: string) => void;
}

export class ClusterReplicas implements ClusterTopicAdmin {
  readonly #member: ClusterMember;
  readonly #lifecycle: TopicLifecycle;
  readonly #rf: number;
  readonly #minIsr: number;
  readonly #log: (line: string) => void;
  readonly #replication: ReplicaManager;
  readonly #lagMs: number;
  /** Slot → the replication role last given to it. */
  readonly #roleOf = new Map<number, AppliedRole>();
  /** The session this broker may lead under: alive, and the view caught up with etcd after it began (or resumed). */
  #leadLease: LeaseKeeper | undefined;
  #catchUpRetry: ReturnType<typeof setTimeout> | undefined;
  readonly #unsubscribe: () => void;
  readonly #unsubscribeSession: () => void;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  /** Passes completed (tests wait on it). */
  passes = 0;

  constructor(o: ClusterReplicasOptions) {
    this.#member = o.member;
    this.#lifecycle = o.lifecycle;
    this.#rf = o.defaultReplicationFactor ?? DEFAULT_REPLICATION_FACTOR;
    this.#minIsr = o.defaultMinInsyncReplicas ?? DEFAULT_MIN_INSYNC_REPLICAS;
    this.#log = o.log;
    this.#replication = o.replication;
    this.#lagMs = o.replicaLagTimeMaxMs ?? REPLICA_LAG_TIME_MAX_MS_DEFAULT;
    this.#replication.leaseAlive = () => {
      const lease = this.#leadLease;
      return lease !== undefined && lease.alive && lease === this.#member.lease;
    };
    this.#unsubscribeSession = this.#member.onSessionChange((change) => {
      // Suspended or lost: lead nothing (the ack path already refuses); resumed or new: catch up with etcd first.
      this.#leadLease = undefined;
      if (change !== "opened" && change !== "resumed") this.#log(`sluice: cluster: session ${change}: this broker leads nothing until it is alive and has re-read etcd`);
      this.schedule();
    });
    // ISR changes go to the controller as AlterPartition requests (cluster/alter_partition.ts).
    this.#replication.startIsrChanges(
      (topic, partition, proposal) => this.#member.alterPartition({ topic, partition, ...proposal }),
      Math.max(1, Math.floor(this.#lagMs / ISR_CHECKS_PER_LAG_TIME)),
    );
    // Until the first pass, no topic loaded from disk leads anything.
    for (const t of this.#lifecycle.topics.values()) t.roles = [];
    // Broker epochs in replica fetches (docs/CLUSTER.md, "Broker epochs"): this broker sends its current
    // registration's; as a leader it knows the others' from the view (newer ones also from their fetches).
    this.#replication.brokerEpoch = () => this.#member.registration?.createRevision ?? NO_BROKER_EPOCH;
    this.#noteBrokerEpochs();
    this.#unsubscribe = this.#member.view.subscribe(() => {
      this.#noteBrokerEpochs();
      this.schedule();
    });
    this.schedule();
  }

  /** Each registered broker's epoch as the view has it: a re-registered follower's old offsets are dropped at once, not at its first fetch. */
  #noteBrokerEpochs(): void {
    const view = this.#member.view;
    for (const [id, b] of view.brokers) if (id !== this.#member.brokerId) this.#replication.noteBrokerEpoch(id, b.createRevision, view.revision);
  }

  get brokerId(): number {
    return this.#member.brokerId;
  }

  /** The live brokers as etcd says (this one included once registered), by id. */
  brokers(): { nodeId: number; host: string; port: number; kafkaPort: number | null; httpPort: number; rack: string | null }[] {
    return [...this.#member.view.brokers.values()]
      .map((b) => ({ nodeId: b.info.id, host: b.info.host, port: b.info.port, kafkaPort: b.info.kafkaPort, httpPort: b.info.httpPort, rack: b.info.rack }))
      .sort((a, b) => a.nodeId - b.nodeId);
  }

  /** The controller's broker id, -1 while there is none. */
  get controllerId(): number {
    return this.#member.view.controller?.brokerId ?? -1;
  }

  /** The controller's epoch (its election key's create revision), -1 while there is none. */
  get controllerEpoch(): number {
    return this.#member.view.controller?.epoch ?? -1;
  }

  /**
   * Partition counts of the whole cluster from this broker's view, by the rule
   * `sluice cluster status` uses (cluster/cluster_status.ts): offline has no
   * leader, under-replicated has an ISR smaller than its replica list.
   */
  partitionCounts(): { total: number; offline: number; underReplicated: number } {
    const view = this.#member.view;
    const counts = { total: 0, offline: 0, underReplicated: 0 };
    for (const [name, record] of view.topics) {
      for (let p = 0; p < record.partitions; p++) {
        counts.total++;
        const s = view.partitionState(name, p);
        if (s === undefined || s.leader === NO_LEADER) counts.offline++;
        if (s === undefined || s.isr.length < record.replicas[p].length) counts.underReplicated++;
      }
    }
    return counts;
  }

  /** The `/metrics` families of the moves this broker leads and of the partitions it hosts (move_progress.ts). */
  moveMetrics(): string {
    return moveProgressMetrics(this.#member, this.#lifecycle, this.#replication);
  }

  // ------------------------------------------------------------------ admin (ClusterTopicAdmin)

  async createTopic(name: string, partitions: number, configs: Record<string, string>, replicationFactor: number | undefined): Promise<void> {
    // As Kafka's default.replication.factor: not lowered to fit, so a too-small cluster refuses rather than keeps fewer copies.
    const rf = replicationFactor ?? this.#rf;
    const all = { "min.insync.replicas": String(Math.min(this.#minIsr, rf)), ...configs };
    checkClusterTopicConfigs(all, rf);
    await this.#member.requestTopicChange({ op: "create", topic: name, partitions, replicationFactor: rf, configs: all });
    await this.#applied();
  }

  async deleteTopic(name: string): Promise<void> {
    await this.#member.requestTopicChange({ op: "delete", topic: name });
    await this.#applied();
  }

  async createPartitions(name: string, total: number): Promise<void> {
    await this.#member.requestTopicChange({ op: "addPartitions", topic: name, total });
    await this.#applied();
  }

  /**
   * Resolves once this broker applied what its view holds now: the answer to a
   * request arrives after the topic change itself (etcd's order), and the
   * change scheduled a pass, so a DescribeTopics right after a create sees it.
   */
  async #applied(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  hasTopic(name: string): boolean {
    return this.#member.view.topics.has(name);
  }

  partitionInfo(topic: string, partition: number): ClusterPartitionInfo | undefined {
    const record = this.#member.view.topics.get(topic);
    if (record === undefined || partition >= record.partitions) return undefined;
    const s = this.#member.view.partitionState(topic, partition);
    return { leader: s?.leader ?? NO_LEADER, leaderEpoch: s?.leaderEpoch ?? -1, replicas: [...record.replicas[partition]], isr: [...(s?.isr ?? [])] };
  }

  metadata(names: readonly string[] | null): TopicMetadata[] {
    const view = this.#member.view;
    const list = names ?? [...view.topics.keys()].sort();
    return list.map((name): TopicMetadata => {
      if (topicNameProblem(name) !== null) return { name, errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, partitions: [] };
      const record = view.topics.get(name);
      if (record === undefined) return { name, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, partitions: [] };
      const local = this.#lifecycle.topics.get(name);
      const partitions = record.replicas.map((_, p): PartitionMetadata => {
        const info = this.partitionInfo(name, p)!;
        const slot = local?.state === "online" && local.id === record.topicId ? (local.slots[p] ?? NOT_HOSTED) : NOT_HOSTED;
        const st = slot === NOT_HOSTED ? undefined : this.#lifecycle.stateOf(slot);
        const errorCode = info.leader === NO_LEADER ? ErrorCode.LEADER_NOT_AVAILABLE : ErrorCode.NONE;
        return { partition: p, errorCode, logStartOffset: st?.logStartOffset ?? -1, highWatermark: st?.highWatermark ?? -1, ...info };
      });
      return { name, errorCode: ErrorCode.NONE, partitions };
    });
  }

  // ------------------------------------------------------------------ acting on etcd

  /** Runs a reconcile pass (or one more after the running one). */
  schedule(): void {
    if (this.#stopped) return;
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        try {
          await this.#pass();
        } catch (e) {
          this.#log(`sluice: cluster: applying the partition state failed: ${(e as Error)?.message ?? e}`);
        }
        this.passes++;
      } while (this.#again && !this.#stopped);
    })().finally(() => {
      this.#running = undefined;
    });
  }

  /** Stops following etcd (before the engine closes). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unsubscribe();
    this.#unsubscribeSession();
    clearTimeout(this.#catchUpRetry);
    await this.#running;
  }

  async #pass(): Promise<void> {
    const view = this.#member.view;
    if (!view.ready) return;
    const canLead = await this.#mayLead();
    const me = this.#member.brokerId;
    const lifecycle = this.#lifecycle;
    for (const [name, record] of [...view.topics]) {
      if (this.#stopped) return;
      const hosted = record.replicas.map((r) => r.includes(me));
      let local = lifecycle.topics.get(name);
      try {
        if (local !== undefined && local.state === "online" && local.id !== record.topicId) {
          this.#log(`sluice: cluster: topic '${name}' was re-created in the cluster; dropping this broker's old copy`);
          this.#forgetRoles(local);
          await lifecycle.dropHosted(name);
          local = undefined;
        }
        if (local === undefined) await lifecycle.hostTopic(name, record.topicId, logConfigsOf(record.configs), hosted);
        else if (local.state === "online" && local.slots.length < record.partitions) await lifecycle.growHosted(name, hosted);
        if (local !== undefined && local.state === "online") await this.#moveHosted(local, hosted);
      } catch (e) {
        this.#log(`sluice: cluster: could not open this broker's replicas of '${name}': ${(e as Error)?.message ?? e}`);
        continue;
      }
      local = lifecycle.topics.get(name);
      if (local === undefined || local.state !== "online") continue;
      const roles = (local.roles ??= []);
      for (let p = 0; p < local.slots.length; p++) {
        if (this.#stopped) return;
        // Read the state now (the view may have moved while partitions opened or a role was given).
        const s = view.partitionState(name, p);
        const slot = local.slots[p];
        const move = p < record.partitions ? moveOf(record, p) : undefined;
        // A replica a move adds here copies on a connection of its own (replica_manager.ts), set before its role.
        if (slot !== NOT_HOSTED) this.#replication.setCopying(slot, move?.adding.includes(me) === true);
        const leads = slot !== NOT_HOSTED && s !== undefined && p < record.partitions ? await this.#applyRole(name, p, slot, record, s, canLead) : false;
        // The routing role says what the replication role was given from: the same state, the same epoch.
        roles[p] = { leader: leads, leaderEpoch: s?.leaderEpoch ?? -1 };
        // A move's throttle applies where this broker leads the moving partition (move_throttle.ts).
        if (slot !== NOT_HOSTED) this.#replication.moveThrottle.set(slot, leads ? move?.adding : undefined, move?.throttleBytesPerSec);
      }
      roles.length = local.slots.length;
    }
    for (const [name, t] of [...lifecycle.topics]) {
      if (this.#stopped) return;
      if (t.state !== "online" || view.topics.has(name)) continue;
      this.#log(`sluice: cluster: topic '${name}' is not in the cluster; deleting this broker's copy`);
      this.#forgetRoles(t);
      await lifecycle.dropHosted(name).catch((e) => this.#log(`sluice: cluster: could not delete '${name}': ${(e as Error)?.message ?? e}`));
    }
  }

  /**
   * Whether this pass may give leaderships: the session is alive and the view
   * holds every partition state etcd had when read since the session began or
   * resumed (once per session; if etcd does not answer, another pass is asked
   * for shortly).
   */
  async #mayLead(): Promise<boolean> {
    const lease = this.#member.lease;
    if (lease === undefined || !lease.alive) return false;
    if (this.#leadLease === lease) return true;
    try {
      const revision = await this.#member.latestPartitionStateRevision();
      const view = this.#member.view;
      if (view.revision < revision) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => {
            unsubscribe();
            reject(new Error(`the view did not reach etcd revision ${revision} within ${ETCD_CALL_TIMEOUT_MS} ms`));
          }, ETCD_CALL_TIMEOUT_MS);
          const unsubscribe = view.subscribe(() => {
            if (view.revision < revision) return;
            clearTimeout(timer);
            unsubscribe();
            resolve();
          });
        });
      }
    } catch (e) {
      this.#log(`sluice: cluster: could not re-read etcd before leading: ${(e as Error)?.message ?? e}`);
      clearTimeout(this.#catchUpRetry);
      this.#catchUpRetry = setTimeout(() => this.schedule(), CATCH_UP_RETRY_MS);
      return false;
    }
    if (!lease.alive || this.#member.lease !== lease) return false;
    this.#leadLease = lease;
    return true;
  }

  /**
   * Gives the partition's replica the role its state says, if that changed;
   * returns whether this broker leads it now. `canLead` false (no live,
   * caught-up session): where etcd says this broker leads, it has no role.
   */
  async #applyRole(topic: string, p: number, slot: number, record: TopicRecord, s: VersionedPartitionState, canLead: boolean): Promise<boolean> {
    const me = this.#member.brokerId;
    const view = this.#member.view;
    const replicas = record.replicas[p];
    const prev = this.#roleOf.get(slot);
    const epoch = this.#member.registration?.createRevision;
    let next: AppliedRole;
    let leaderRole: LeaderRole | undefined;
    let leaderAt: { host: string; port: number } | undefined;
    if (s.leader === me && canLead && epoch !== undefined && !leadsAsThisIncarnation(s, me, epoch)) {
      next = { kind: "waiting", leaderEpoch: s.leaderEpoch, key: `waiting ${s.leaderEpoch}` };
      if (prev?.key !== next.key) {
        this.#log(`sluice: cluster: ${topic}-${p}: etcd names this broker leader at epoch ${s.leaderEpoch}, written before its registration (broker epoch ${epoch}): an earlier process's leadership; waiting for the controller`);
      }
    } else if (s.leader === me && canLead) {
      leaderRole = {
        epoch: s.leaderEpoch,
        partitionEpoch: s.partitionEpoch,
        isr: [...s.isr],
        replicas: [...replicas],
        minInsyncReplicas: this.#minInsyncOf(record),
        replicaLagTimeMaxMs: this.#lagMs,
      };
      next = { kind: "leader", leaderEpoch: s.leaderEpoch, key: `leader ${s.leaderEpoch} ${s.partitionEpoch} [${s.isr}] [${replicas}] ${leaderRole.minInsyncReplicas}` };
    } else {
      const b = s.leader !== me && s.leader !== NO_LEADER ? view.brokers.get(s.leader) : undefined;
      if (b !== undefined) {
        leaderAt = { host: b.info.host, port: b.info.port };
        next = { kind: "follower", leaderEpoch: s.leaderEpoch, key: `follower ${s.leaderEpoch} ${b.info.host}:${b.info.port}` };
      } else {
        next = { kind: "none", leaderEpoch: s.leaderEpoch, key: "none" };
      }
    }
    if (prev !== undefined && prev.key === next.key) return prev.kind === "leader";
    if (prev !== undefined && prev.leaderEpoch > next.leaderEpoch) {
      // The view never goes back; a state older than the role held is a bug's symptom: keep the newer role.
      this.#log(`sluice: cluster: ${topic}-${p}: ignoring leader epoch ${next.leaderEpoch}, older than the ${prev.leaderEpoch} this broker acts on`);
      return prev.kind === "leader";
    }
    try {
      if (leaderRole !== undefined) await this.#replication.becomeLeader(topic, p, leaderRole);
      else if (leaderAt !== undefined) this.#replication.becomeFollower(topic, p, { epoch: s.leaderEpoch, leader: leaderAt });
      else if (prev !== undefined && prev.kind !== "none" && prev.kind !== "waiting") this.#replication.forget(slot, true);
    } catch (e) {
      this.#roleOf.delete(slot);
      this.#replication.forget(slot, true);
      this.#log(`sluice: cluster: could not act on ${topic}-${p}'s state (leader ${s.leader}, epoch ${s.leaderEpoch}): ${(e as Error)?.message ?? e}`);
      return false;
    }
    this.#roleOf.set(slot, next);
    return next.kind === "leader";
  }

  /** The topic's min.insync.replicas (etcd keeps it in the topic's configs), at most its replication factor. */
  #minInsyncOf(record: TopicRecord): number {
    const m = Number(record.configs["min.insync.replicas"]);
    return Math.min(Number.isInteger(m) && m >= 1 ? m : this.#minIsr, record.replicationFactor);
  }

  /**
   * Partitions moved onto or off this broker (docs/SCALING.md): a leaving
   * replica's role is dropped before its slot closes (and may be reused), then
   * the lifecycle opens the arriving ones and deletes the leaving ones' files.
   */
  async #moveHosted(local: Topic, hosted: readonly boolean[]): Promise<void> {
    let changed = false;
    for (let p = 0; p < Math.min(hosted.length, local.slots.length); p++) {
      const slot = local.slots[p];
      if (hosted[p] === (slot !== NOT_HOSTED)) continue;
      changed = true;
      if (slot === NOT_HOSTED) continue;
      this.#replication.forget(slot);
      this.#roleOf.delete(slot);
      if (local.roles?.[p] !== undefined) local.roles[p] = { leader: false, leaderEpoch: -1 };
    }
    if (!changed) return;
    await this.#lifecycle.setHosted(local.name, hosted);
    const arrived = hosted.filter((h, p) => h && p < local.slots.length).length;
    this.#log(`sluice: cluster: '${local.name}': this broker now hosts ${arrived} of its partitions (a move arrived or left)`);
  }

  /** Drops the replication roles of a topic's replicas (before the topic is dropped: its slots may be reused). */
  #forgetRoles(t: Topic): void {
    for (const slot of t.slots) {
      if (slot === NOT_HOSTED) continue;
      this.#replication.forget(slot);
      this.#roleOf.delete(slot);
    }
    t.roles = [];
  }
}
