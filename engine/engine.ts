// The broker engine: produce, fetch and list offsets over the worker pool,
// for the topics the topic lifecycle (topic_lifecycle.ts) keeps. It knows
// nothing of frames or codecs: the native protocol (and later the Kafka
// protocol) are adapters that call these methods. Admin operations (create,
// delete, alter, describe, metadata) are the lifecycle's; the engine passes
// them through, so its callers have one object to hold.
//
// Threading: everything here runs on the router (main) thread. Partition data
// lives in worker threads (engine/worker_pool.ts); the engine hands them work
// through the pool and reads their shared state table.
//
// Produce contract: see `produce` below; the per-partition append order is the
// order of accepted `produce` calls (the pool's rings are FIFO per worker).
// Durability contract of the admin operations: topic_lifecycle.ts.

import fs from "node:fs";
import path from "node:path";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { isInternalTopic, topicNameProblem } from "../protocol/topic_name.ts";
import type { BrokerConfig } from "./broker_config.ts";
import { type FetchHandle, type FetchHost, FetchOperation, type FetchRequest, type FetchSink } from "./fetch_operation.ts";
import { LongPoll } from "./long_poll.ts";
import { replayWorkerJournals } from "./journal_startup.ts";
import { MetadataStore } from "./metadata_store.ts";
import type { PartitionPool, PartitionState, ProduceCallback } from "./partition_pool.ts";
import { type InitProducerIdRequest, type ProducerIdAndEpoch, ProducerIds } from "./producer_ids.ts";
import { type LogConfig, parseLogConfig } from "./topic_config.ts";
import type { ClusterMember, ElectLeadersResult, ElectLeadersScope } from "../cluster/mod.ts";
import { ClusterReplicas } from "./cluster_replicas.ts";
import { NOT_HOSTED, type Topic, type TopicDescription, TopicLifecycle, type TopicMetadata } from "./topic_lifecycle.ts";
import { WorkerPool } from "./worker_pool.ts";
import type { LeaderRole } from "./replication/leader_partition.ts";
import { type FollowerRole, ReplicaManager } from "./replication/replica_manager.ts";

export type { PartitionDescription, TopicDescription, TopicMetadata } from "./topic_lifecycle.ts";
export type { InitProducerIdRequest, ProducerIdAndEpoch } from "./producer_ids.ts";

export type Acks = 0 | 1 | -1;
export type { FollowerRole } from "./replication/replica_manager.ts";
export type { LeaderRole } from "./replication/leader_partition.ts";

export interface EngineOptions {
  config: BrokerConfig;
  /** The worker pool; started from `config.workers` when absent (tests pass their own). */
  pool?: PartitionPool<LogConfig>;
  /** Starts the pool (default: WorkerPool.start with config.workers threads). */
  startPool?: (workers: number, journalDataDir: string | undefined) => Promise<PartitionPool<LogConfig>>;
  /** Where warnings go (recovery problems, partitions that failed to open). */
  log?: (line: string) => void;
}

/** What the group coordinator may see of topics. */
export interface TopicView {
  /** Partitions of `topic`; 0 when it does not exist. */
  partitionCount(topic: string): number;
  /** High watermark of a partition; -1 when it does not exist. */
  highWatermark(topic: string, partition: number): number;
  /** Log start offset of a partition; -1 when it does not exist. */
  logStartOffset(topic: string, partition: number): number;
  topics(): string[];
  /** `cb(topic)` after a topic is created, deleted or gains partitions. Returns an unsubscribe function. */
  onPartitionsChanged(cb: (topic: string) => void): () => void;
}

export interface ListOffsetsResult {
  errorCode: number;
  offset: number;
  /** By timestamp: the timestamp of the record found (-1 when none). Earliest/latest: -1. */
  timestampMs: number;
}

export class Engine implements FetchHost {
  readonly config: BrokerConfig;
  readonly pool: PartitionPool<LogConfig>;
  readonly longPoll: LongPoll;
  /** Leader and follower roles of partitions (docs/CLUSTER.md); empty on one node. */
  readonly replication: ReplicaManager;
  readonly #lifecycle: TopicLifecycle;
  readonly #log: (line: string) => void;
  #cluster: ClusterReplicas | undefined;
  /** Cluster mode: the membership attachCluster was given (requests to the controller go through it). */
  #member: ClusterMember | undefined;
  /** The lifecycle's maps, held here so the data path reaches them in one step. */
  readonly #topics: Map<string, Topic>;
  /** Slots whose partition failed to open, with why. */
  readonly #offline: Map<number, string>;
  readonly #writableWaiters: (() => void)[][];
  readonly #writableArmed: boolean[];
  readonly #producerIds: ProducerIds;
  #closing = false;
  #stopWaiting = false;
  #closed: Promise<void> | undefined;

  private constructor(options: {
    config: BrokerConfig;
    pool: PartitionPool<LogConfig>;
    longPoll: LongPoll;
    lifecycle: TopicLifecycle;
    producerIds: ProducerIds;
    log: (line: string) => void;
  }) {
    this.config = options.config;
    this.#producerIds = options.producerIds;
    this.#log = options.log;
    this.pool = options.pool;
    this.longPoll = options.longPoll;
    this.replication = new ReplicaManager(
      { pool: options.pool, resolve: (t, p) => this.resolveHosted(t, p), wake: (slot) => this.longPoll.advance(slot), log: options.log },
      options.config.brokerId ?? 0,
    );
    this.#lifecycle = options.lifecycle;
    this.#topics = options.lifecycle.topics;
    this.#offline = options.lifecycle.offline;
    this.#writableWaiters = Array.from({ length: options.pool.workerCount }, () => []);
    this.#writableArmed = new Array<boolean>(options.pool.workerCount).fill(false);
  }

  /** Loads the metadata, starts the worker pool and opens (recovers) every partition. */
  static async open(options: EngineOptions): Promise<Engine> {
    const { config } = options;
    const log = options.log ?? ((line: string) => console.error(line));
    // Broker-wide topic defaults must be valid on their own (a typo fails the start, naming the key).
    parseLogConfig(config.topicDefaults, {});
    const store = await MetadataStore.open(config.dataDir);
    // In a cluster the broker id picks this broker's range of producer ids (unique across the cluster).
    const producerIds = await ProducerIds.open(config.dataDir, config.brokerId ?? 0);
    await fs.promises.mkdir(path.join(config.dataDir, "topics"), { recursive: true });
    let pool = options.pool;
    if (pool === undefined) {
      // Before any worker opens a partition (or starts its journal empty): what a power loss took from segments comes back.
      replayWorkerJournals(config.dataDir, store.current, log);
      const journalDataDir = config.workerJournal ? config.dataDir : undefined;
      const start =
        options.startPool ??
        (async (workers: number, journalDir: string | undefined) => (await WorkerPool.start({ workers, journalDataDir: journalDir })) as unknown as PartitionPool<LogConfig>);
      pool = await start(config.workers, journalDataDir);
    }
    const longPoll = new LongPoll({ waitingMax: config.waitingFetchesMax });
    const lifecycle = new TopicLifecycle({ config, pool, store, longPoll, log });
    const engine = new Engine({ config, pool, longPoll, lifecycle, producerIds, log });
    try {
      await lifecycle.load();
    } catch (e) {
      await pool.shutdown().catch(() => {});
      throw e;
    }
    const replication = engine.replication;
    pool.onAdvance((slot) => {
      // One node: no roles, nothing to derive (the high watermark is the durable offset the worker published).
      if (replication.active) replication.onAdvance(slot);
      engine.longPoll.advance(slot);
    });
    lifecycle.startRateSampling();
    return engine;
  }

  /**
   * Cluster mode: from now on topic admin goes to the controller through etcd
   * and this broker's partitions follow the cluster's partition state
   * (cluster_replicas.ts). Called once, after the broker joined the cluster.
   */
  attachCluster(
    member: ClusterMember,
    options: { defaultReplicationFactor?: number; defaultMinInsyncReplicas?: number; replicaLagTimeMaxMs?: number } = {},
  ): ClusterReplicas {
    if (this.#cluster !== undefined) throw new Error("the engine is already in a cluster");
    const replicas = new ClusterReplicas({ member, lifecycle: this.#lifecycle, replication: this.replication, log: this.#log, ...options });
    this.#cluster = replicas;
    this.#member = member;
    this.#lifecycle.cluster = replicas;
    return replicas;
  }

  /**
   * Preferred leader elections (native ElectLeaders): in a cluster, asked of
   * the controller through etcd (cluster/leader_elections.ts); a single node
   * leads every partition it has, so there is nothing to elect.
   */
  electLeaders(scope: ElectLeadersScope): Promise<ElectLeadersResult> {
    const member = this.#member;
    if (member === undefined) {
      return Promise.reject(new SluiceError(ErrorCode.INVALID_REQUEST, "this broker is a single node (no --cluster-etcd): it leads every partition, there is no leader to elect"));
    }
    return member.electLeaders(scope);
  }

  /**
   * Cluster mode only: this broker's membership, for the admin calls that go
   * to the controller (partition moves: cluster/reassignment_admin.ts).
   */
  get clusterMember(): ClusterMember | undefined {
    return this.#member;
  }

  /** Cluster mode only: this broker's part in the cluster (metadata, node id). */
  get cluster(): ClusterReplicas | undefined {
    return this.#cluster;
  }

  /** True once fetches must no longer wait (shutdown began): FetchHost.closing. */
  get closing(): boolean {
    return this.#closing || this.#stopWaiting;
  }

  /**
   * Ends long-polling: parked fetches answer now and new ones answer at once.
   * Produce still works (graceful shutdown lets in-flight requests finish).
   */
  stopWaiting(): void {
    this.#stopWaiting = true;
    this.longPoll.expireAll();
  }

  // ------------------------------------------------------------------ replication (docs/CLUSTER.md)

  /** This broker leads the partition in `role.epoch` with the ISR given (replication/replica_manager.ts). */
  becomeLeader(topic: string, partition: number, role: LeaderRole): Promise<void> {
    return this.replication.becomeLeader(topic, partition, role);
  }

  /** This broker follows the partition, fetching from `role.leader`. */
  becomeFollower(topic: string, partition: number, role: FollowerRole): void {
    this.replication.becomeFollower(topic, partition, role);
  }

  /** The read bound of a consumer fetch (FetchHost): a leader's replicated HW, else -1 (the durable offset). */
  readBound(slot: number): number {
    return this.replication.active ? this.replication.readBound(slot) : -1;
  }

  get waitingFetches(): number {
    return this.longPoll.size;
  }

  /** Parked fetches woken (a partition they read advanced, or their deadline passed), and deadline-timer firings: counts of work. */
  get waitingFetchWork(): { wakeups: number; timerFirings: number } {
    return { wakeups: this.longPoll.wakeups, timerFirings: this.longPoll.timerFirings };
  }

  // ------------------------------------------------------------------ idempotent producers (producer_ids.ts)

  /**
   * InitProducerId for an idempotent producer: a producer id never given out
   * before (durably) at epoch 0, or, for a producer that sends its current id
   * and epoch, the next epoch. Transactional ids are refused
   * (TRANSACTIONAL_ID_NOT_FOUND). A produce of batches stamped with the id,
   * epoch and sequences is then checked per partition (workers/log/producer_state.ts):
   * a retry is answered NONE with its original offsets (Kafka's
   * DUPLICATE_SEQUENCE_NUMBER-as-success), a gap is OUT_OF_ORDER_SEQUENCE_NUMBER,
   * an old epoch INVALID_PRODUCER_EPOCH.
   */
  initProducerId(req: InitProducerIdRequest = {}): Promise<ProducerIdAndEpoch> {
    return this.#producerIds.init(req);
  }

  // ------------------------------------------------------------------ topics (topic_lifecycle.ts)

  listTopics(): string[] {
    return this.#lifecycle.listTopics();
  }

  /** Creates a topic. `partitions` -1 (or absent) = the broker's numPartitions. */
  createTopic(name: string, options: { partitions?: number; configs?: Record<string, string>; validateOnly?: boolean; replicationFactor?: number } = {}): Promise<void> {
    return this.#lifecycle.createTopic(name, options);
  }

  deleteTopic(name: string): Promise<void> {
    return this.#lifecycle.deleteTopic(name);
  }

  alterTopicConfig(name: string, set: Record<string, string>, remove: readonly string[] = []): Promise<void> {
    return this.#lifecycle.alterTopicConfig(name, set, remove);
  }

  /** Grows a topic to `total` partitions (never shrinks). */
  createPartitions(name: string, total: number): Promise<void> {
    return this.#lifecycle.createPartitions(name, total);
  }

  /** Per-partition state of the named topics (null = all). */
  describeTopics(names: readonly string[] | null): TopicDescription[] {
    return this.#lifecycle.describeTopics(names);
  }

  /**
   * Metadata of the named topics (null = all). With `allowAutoCreate` and the
   * broker's autoCreateTopics on, missing topics are created first.
   */
  metadata(names: readonly string[] | null, allowAutoCreate: boolean): Promise<TopicMetadata[]> {
    return this.#lifecycle.metadata(names, allowAutoCreate);
  }

  /** The partition state of every slot, for metrics. */
  partitionStates(): IterableIterator<{ topic: string; partition: number; worker: number; state: PartitionState }> {
    return this.#lifecycle.partitionStates();
  }

  topicView(): TopicView {
    return {
      partitionCount: (topic) => {
        const t = this.#topics.get(topic);
        return t !== undefined && t.state === "online" ? t.slots.length : 0;
      },
      highWatermark: (topic, partition) => {
        const slot = this.resolve(topic, partition);
        if (slot < 0) return -1;
        const bound = this.readBound(slot);
        return bound < 0 ? this.#lifecycle.stateOf(slot).highWatermark : bound;
      },
      logStartOffset: (topic, partition) => {
        const slot = this.resolve(topic, partition);
        return slot < 0 ? -1 : this.#lifecycle.stateOf(slot).logStartOffset;
      },
      topics: () => this.listTopics(),
      onPartitionsChanged: (cb) => this.#lifecycle.onPartitionsChanged(cb),
    };
  }

  // ------------------------------------------------------------------ data path

  /** The slot of an online partition, or a negative wire error code. */
  resolve(topicName: string, partition: number, leaderEpoch = -1): number {
    const topic = this.#topics.get(topicName);
    if (topic === undefined) return -ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    const slot = this.#slotOf(topic, partition);
    // Cluster mode, a request that carries the leader epoch it believes current (Kafka's KIP-320 check).
    if (slot >= 0 && leaderEpoch >= 0 && topic.roles !== undefined) {
      const known = topic.roles[partition].leaderEpoch;
      if (leaderEpoch < known) return -ErrorCode.FENCED_LEADER_EPOCH;
      if (leaderEpoch > known) return -ErrorCode.UNKNOWN_LEADER_EPOCH;
    }
    return slot;
  }

  /**
   * The slot of a partition this broker holds a replica of, whatever its role
   * (replication works on followers' replicas too), or a negative wire error code.
   */
  resolveHosted(topicName: string, partition: number): number {
    const topic = this.#topics.get(topicName);
    if (topic === undefined || topic.state !== "online") return -ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    if (!Number.isInteger(partition) || partition < 0 || partition >= topic.slots.length) return -ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    const slot = topic.slots[partition];
    if (slot === NOT_HOSTED) return -ErrorCode.NOT_LEADER_OR_FOLLOWER;
    if (this.#offline.size > 0 && this.#offline.has(slot)) return -ErrorCode.KAFKA_STORAGE_ERROR;
    return slot;
  }

  #slotOf(topic: Topic, partition: number): number {
    if (topic.state !== "online") return -ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    if (!Number.isInteger(partition) || partition < 0 || partition >= topic.slots.length) return -ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    const slot = topic.slots[partition];
    // Cluster mode: only the partition's leader serves produce, fetch and list offsets.
    if (topic.roles !== undefined && (slot === NOT_HOSTED || topic.roles[partition]?.leader !== true)) return -ErrorCode.NOT_LEADER_OR_FOLLOWER;
    // Most brokers have no offline partition: skip the lookup then.
    if (this.#offline.size > 0 && this.#offline.has(slot)) return -ErrorCode.KAFKA_STORAGE_ERROR;
    return slot;
  }

  /**
   * Appends `records` (whole RecordBatch v2, validated by the worker) to a
   * partition. `records` is copied into the worker's ring before this returns
   * true, so the caller may reuse its buffer.
   *
   * Returns false when the records were NOT taken: the partition's worker ring
   * is full, or its topic is being auto-created. The caller keeps the records
   * and calls `onWritable(topic, partition, cb)`, then tries again — and, to
   * keep per-partition order, sends nothing newer for that partition first.
   *
   * Otherwise `cb` is called exactly once, possibly synchronously (errors found
   * here: unknown topic or partition, shutdown): acks 1 once written, acks -1
   * once durable, acks 0 once written (the caller sends no response).
   * `internal`: the broker's own write to an internal topic (clients' are refused in a cluster).
   */
  produce(topicName: string, partition: number, records: Uint8Array, acks: Acks, cb: ProduceCallback, options?: { internal?: boolean }): boolean {
    if (this.#closing) {
      cb(ErrorCode.LEADER_NOT_AVAILABLE, null, "the broker is shutting down");
      return true;
    }
    // Cluster mode: only the broker itself writes its internal topics (the group coordinator: `__consumer_offsets`).
    if (this.config.clusterEtcd !== undefined && options?.internal !== true && isInternalTopic(topicName)) {
      cb(ErrorCode.INVALID_TOPIC_EXCEPTION, null, `'${topicName}' is an internal topic: clients cannot produce to it`);
      return true;
    }
    const topic = this.#topics.get(topicName);
    if (topic === undefined) {
      const problem = topicNameProblem(topicName);
      if (problem !== null) {
        cb(ErrorCode.INVALID_TOPIC_EXCEPTION, null, problem);
        return true;
      }
      if (this.config.clusterEtcd !== undefined) {
        // Cluster mode: the topic is the controller's to create, and its replicas open when etcd says so; the client retries.
        if (this.#cluster === undefined) {
          cb(ErrorCode.LEADER_NOT_AVAILABLE, null, "this broker has not joined its cluster yet");
          return true;
        }
        if (this.#cluster.hasTopic(topicName)) {
          cb(ErrorCode.NOT_LEADER_OR_FOLLOWER, null, `this broker does not host ${topicName}-${partition} (yet)`);
          return true;
        }
        if (!this.config.autoCreateTopics) {
          cb(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, null, `topic '${topicName}' does not exist`);
          return true;
        }
        this.#lifecycle.autoCreate(topicName);
        cb(ErrorCode.LEADER_NOT_AVAILABLE, null, `topic '${topicName}' is being created`);
        return true;
      }
      if (!this.config.autoCreateTopics) {
        cb(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, null, `topic '${topicName}' does not exist`);
        return true;
      }
      this.#lifecycle.autoCreate(topicName);
      return false;
    }
    if (topic.state === "creating") return false;
    const slot = this.#slotOf(topic, partition);
    if (slot < 0) {
      const why =
        slot === -ErrorCode.KAFKA_STORAGE_ERROR
          ? this.#offline.get(topic.slots[partition])
          : slot === -ErrorCode.NOT_LEADER_OR_FOLLOWER
            ? `this broker is not the leader of ${topicName}-${partition}`
            : `partition ${topicName}-${partition} does not exist`;
      cb(-slot, null, why);
      return true;
    }
    if (this.replication.active) return this.#produceReplicated(slot, topicName, partition, records, acks, cb);
    return this.pool.produce(slot, records, acks, cb);
  }

  /**
   * A produce to a partition that has a replication role: followers refuse it;
   * a leader's acks=all waits for its ISR. In a cluster a leader answers only
   * while its session's local deadline is ahead: checked when the produce
   * arrives and again when its answer is made (a broker paused past its lease
   * and resumed sees the deadline passed before any timer of its own runs).
   */
  #produceReplicated(slot: number, topicName: string, partition: number, records: Uint8Array, acks: Acks, cb: ProduceCallback): boolean {
    const replication = this.replication;
    if (replication.isFollowing(slot)) {
      cb(ErrorCode.NOT_LEADER_OR_FOLLOWER, null, `this broker follows ${topicName}-${partition}; produce to its leader`);
      return true;
    }
    const alive = replication.leaseAlive;
    if (alive !== undefined) {
      if (!alive()) {
        cb(ErrorCode.NOT_LEADER_OR_FOLLOWER, null, `this broker's cluster session is past its deadline: it leads ${topicName}-${partition} no longer`);
        return true;
      }
      cb = answeredWhileAlive(cb, alive);
    }
    const leader = acks === -1 ? replication.leaderOf(slot) : undefined;
    if (leader === undefined) return this.pool.produce(slot, records, acks, cb);
    const wrapped = replication.acksAllCallback(leader, cb);
    if (wrapped === null) return true;
    return this.pool.produce(slot, records, acks, wrapped);
  }

  /**
   * Calls `cb` once when a produce to this partition that returned false is
   * worth trying again: its worker's ring has room, or its topic's auto-create
   * finished (either way).
   */
  onWritable(topicName: string, partition: number, cb: () => void): void {
    const topic = this.#topics.get(topicName);
    if (topic !== undefined && topic.state === "creating") {
      this.#lifecycle.whenCreated(topic, cb);
      return;
    }
    const slot = this.resolve(topicName, partition);
    if (slot < 0) {
      queueMicrotask(cb);
      return;
    }
    this.waitWritable(this.pool.workerOf(slot), cb);
  }

  /** One pool.onWritable registration per worker, fanned out to every waiter. */
  waitWritable(worker: number, cb: () => void): void {
    this.#writableWaiters[worker].push(cb);
    if (this.#writableArmed[worker]) return;
    this.#writableArmed[worker] = true;
    this.pool.onWritable(worker, () => {
      this.#writableArmed[worker] = false;
      const waiters = this.#writableWaiters[worker].splice(0);
      for (const w of waiters) w();
    });
  }

  /** Reads partitions (long-polling when asked); see FetchOperation for the sink contract. */
  fetch(req: FetchRequest, sink: FetchSink): FetchHandle {
    const op = new FetchOperation(this, req, sink);
    op.start();
    return op;
  }

  /**
   * timestamp: -2 = earliest (log start), -1 = latest (high watermark), else the
   * first offset with a record timestamp ≥ it, with that record's timestamp.
   */
  listOffsets(topicName: string, partition: number, timestamp: number, cb: (r: ListOffsetsResult) => void): void {
    const slot = this.resolve(topicName, partition);
    if (slot < 0) return cb({ errorCode: -slot, offset: -1, timestampMs: -1 });
    if (timestamp === -2 || timestamp === -1) {
      const st = this.#lifecycle.stateOf(slot);
      const bound = this.readBound(slot);
      const hw = bound < 0 ? st.highWatermark : bound;
      return cb({ errorCode: ErrorCode.NONE, offset: timestamp === -2 ? st.logStartOffset : hw, timestampMs: -1 });
    }
    if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
      return cb({ errorCode: ErrorCode.INVALID_TIMESTAMP, offset: -1, timestampMs: -1 });
    }
    const ask = (): void => {
      const accepted = this.pool.offsetForTimestamp(slot, timestamp, (err, offset, timestampMs) =>
        cb(err === 0 ? { errorCode: err, offset, timestampMs } : { errorCode: err, offset: -1, timestampMs: -1 }),
      );
      if (!accepted) {
        this.waitWritable(this.pool.workerOf(slot), () =>
          this.resolve(topicName, partition) === slot ? ask() : cb({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, offset: -1, timestampMs: -1 }),
        );
      }
    };
    ask();
  }
  // ------------------------------------------------------------------ shutdown

  /**
   * Stops: parked fetches answer now with what there is, new produces and
   * admin operations are refused, queued admin operations finish, then the
   * pool flushes (fsync), checkpoints and stops its workers. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closed !== undefined) return this.#closed;
    this.#closing = true;
    const clusterDone = this.#cluster?.stop() ?? Promise.resolve();
    const adminDone = this.#lifecycle.close();
    this.#closed = (async () => {
      this.longPoll.expireAll();
      await clusterDone.catch(() => {});
      await this.replication.close();
      await adminDone;
      await this.pool.shutdown();
    })();
    return this.#closed;
  }
}

/** `cb`, but a success made once `alive()` is false is answered NOT_LEADER_OR_FOLLOWER instead (the lease check on the ack path). */
function answeredWhileAlive(cb: ProduceCallback, alive: () => boolean): ProduceCallback {
  return (err, res, message) => {
    if (err === ErrorCode.NONE && !alive()) cb(ErrorCode.NOT_LEADER_OR_FOLLOWER, null, "this broker's cluster session passed its deadline before the write was acknowledged");
    else cb(err, res, message);
  };
}
