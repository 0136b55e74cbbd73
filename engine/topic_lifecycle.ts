// Topic lifecycle: which topics and partitions exist, and every change to
// them — loading them at start, create (and auto-create), delete, alter
// configs, add partitions — with the metadata file that makes each durable,
// the partition→worker map and the slots of the pool, and what describes them
// (DescribeTopics, Metadata, per-partition rates, metrics). The data path
// (produce, fetch, list offsets) is engine.ts; it reads the same topic and
// offline maps this class owns.
//
// Threading: the router (main) thread.
//
// Durability contract: a resolved createTopic, deleteTopic, alterTopicConfig
// or createPartitions means the metadata file (`<dataDir>/meta/topics.json`)
// already says so on disk (atomic rename + directory fsync). Admin operations
// run one at a time (a bounded queue), so metadata writes never interleave.
//
// Layout on disk:
//   <dataDir>/meta/topics.json           topics, configs, the worker of every partition
//   <dataDir>/topics/<topic>/<partition>/ one partition's segment files (owned by its worker)

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { PARTITIONS_MAX, PARTITIONS_PER_TOPIC_MAX } from "../protocol/limits.ts";
import { checkTopicName, isInternalTopic, topicNameProblem } from "../protocol/topic_name.ts";
import { emptyStateView } from "../workers/mod.ts";
import type { BrokerConfig } from "./broker_config.ts";
import { ADMIN_OPS_PENDING_MAX, CREATE_RETRY_MS, CREATE_WAITERS_MAX, RATE_SAMPLE_INTERVAL_MS } from "./engine_limits.ts";
import { faultsFromEnv } from "./fault_hooks.ts";
import type { LongPoll } from "./long_poll.ts";
import { fsyncDirectory, type MetadataStore, type TopicEntry, type TopicsFile } from "./metadata_store.ts";
import type { PartitionPool, PartitionState } from "./partition_pool.ts";
import { pickWorker, SlotTable } from "./slot_table.ts";
import { effectiveTopicConfig, type LogConfig, logConfigsOf, parseLogConfig } from "./topic_config.ts";
import { clearTopicDirMark, markTopicDir, settleUnownedTopicDir, topicDirMarks } from "./topic_dirs.ts";

type TopicStateName = "creating" | "online" | "deleting";

/** In cluster mode, the slot and worker of a partition this broker holds no replica of. */
export const NOT_HOSTED = -1;

/** A partition's role on this broker in cluster mode (cluster_replicas.ts keeps it from etcd). */
export interface PartitionRole {
  leader: boolean;
  /** The partition's leader epoch as this broker last saw it in etcd (-1: not known). */
  leaderEpoch: number;
}

/**
 * The cluster's side of topic admin in cluster mode (engine/cluster_replicas.ts):
 * changes go to the controller through etcd, and this broker's own partitions
 * follow etcd (hostTopic / growHosted / dropHosted), never the request.
 */
export interface ClusterTopicAdmin {
  createTopic(name: string, partitions: number, configs: Record<string, string>, replicationFactor: number | undefined): Promise<void>;
  deleteTopic(name: string): Promise<void>;
  createPartitions(name: string, total: number): Promise<void>;
  /** Metadata as etcd says (every partition, its leader, replicas, ISR, leader epoch). */
  metadata(names: readonly string[] | null): TopicMetadata[];
  /** Whether the topic exists in the cluster (etcd), as this broker's view says. */
  hasTopic(name: string): boolean;
  /** A partition's leader, leader epoch, replicas and ISR as etcd says. */
  partitionInfo(topic: string, partition: number): ClusterPartitionInfo | undefined;
}

export interface ClusterPartitionInfo {
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
}
export interface Topic {
  readonly name: string;
  id: string;
  createdAtMs: number;
  /** The configs set for this topic (Kafka names); defaults are not stored. */
  configs: Record<string, string>;
  logConfig: LogConfig;
  /** slots[p] is partition p's slot; its worker is in `workers[p]`. */
  slots: number[];
  workers: number[];
  state: TopicStateName;
  /** Callbacks waiting for this topic's auto-create to finish (bounded by CREATE_WAITERS_MAX). */
  createWaiters: (() => void)[];
  /** Cluster mode: each partition's role here (absent on a single node: this broker leads everything). */
  roles?: PartitionRole[];
}

export interface PartitionDescription {
  partition: number;
  worker: number;
  online: boolean;
  errorCode: number;
  logStartOffset: number;
  highWatermark: number;
  durableOffset: number;
  logEndOffset: number;
  segments: number;
  bytes: number;
  messagesIn: number;
  bytesIn: number;
  messagesOut: number;
  bytesOut: number;
  messagesInPerSec: number;
  bytesInPerSec: number;
  /** Cluster mode: the partition's leader, replicas and ISR as etcd says. */
  leader?: number;
  leaderEpoch?: number;
  replicas?: number[];
  isr?: number[];
}

export interface TopicDescription {
  name: string;
  errorCode: number;
  message?: string;
  configs: Record<string, string>;
  partitions: PartitionDescription[];
}

export interface TopicMetadata {
  name: string;
  errorCode: number;
  partitions: PartitionMetadata[];
}

export interface PartitionMetadata {
  partition: number;
  errorCode: number;
  logStartOffset: number;
  highWatermark: number;
  /** Cluster mode (absent on a single node, where this broker is the only replica). */
  leader?: number;
  leaderEpoch?: number;
  replicas?: number[];
  isr?: number[];
}

interface RateSample {
  messagesIn: number;
  bytesIn: number;
  messagesPerSec: number;
  bytesPerSec: number;
}

export interface TopicLifecycleOptions {
  config: BrokerConfig;
  pool: PartitionPool<LogConfig>;
  store: MetadataStore;
  /** Parked fetches of a deleted topic's partitions are woken through it (they answer UNKNOWN_TOPIC_OR_PARTITION). */
  longPoll: LongPoll;
  log: (line: string) => void;
}

export class TopicLifecycle {
  readonly config: BrokerConfig;
  readonly pool: PartitionPool<LogConfig>;
  readonly longPoll: LongPoll;
  /** Topics by name, in every state; the data path (engine.ts) reads this same map. */
  readonly topics = new Map<string, Topic>();
  /** Slots whose partition failed to open, with why; the data path reads this same map. */
  readonly offline = new Map<number, string>();
  readonly #store: MetadataStore;
  readonly #slots = new SlotTable();
  readonly #topicsDir: string;
  readonly #log: (line: string) => void;
  /** Tests only: storage faults per topic from SLUICE_FAULTS (engine/fault_hooks.ts); empty otherwise. */
  readonly #faults = faultsFromEnv();
  readonly #partitionListeners = new Set<(topic: string) => void>();
  readonly #rates = new Map<number, RateSample>();
  #rateTimer: ReturnType<typeof setInterval> | undefined;
  /** Set in cluster mode (attachCluster): topic admin goes to the controller through etcd. */
  cluster: ClusterTopicAdmin | undefined;
  /** Configured for a cluster (--cluster-etcd): before the broker joined (cluster unset), topics change nowhere. */
  get #clusterMode(): boolean {
    return this.config.clusterEtcd !== undefined;
  }
  #adminTail: Promise<unknown> = Promise.resolve();
  #adminPending = 0;
  #closing = false;

  constructor(options: TopicLifecycleOptions) {
    this.config = options.config;
    this.pool = options.pool;
    this.longPoll = options.longPoll;
    this.#store = options.store;
    this.#log = options.log;
    this.#topicsDir = path.join(options.config.dataDir, "topics");
    if (this.#faults.size > 0) this.#log(`sluice: SLUICE_FAULTS injects storage faults into topics: ${[...this.#faults.keys()].join(", ")}`);
  }

  /** Starts sampling per-partition rates every RATE_SAMPLE_INTERVAL_MS (for DescribeTopics). */
  startRateSampling(): void {
    this.#rateTimer = setInterval(() => this.#sampleRates(), RATE_SAMPLE_INTERVAL_MS);
    this.#rateTimer.unref?.();
  }

  /**
   * From now on admin operations are refused; resolves once the queued ones
   * have finished (whatever their outcome). Rate sampling stops.
   */
  close(): Promise<void> {
    this.#closing = true;
    if (this.#rateTimer !== undefined) clearInterval(this.#rateTimer);
    return this.#adminTail.then(
      () => {},
      () => {},
    );
  }

  /**
   * Calls `cb` once the auto-create of `topic` (in state "creating") finished,
   * either way; past CREATE_WAITERS_MAX waiters, after a pause instead.
   */
  whenCreated(topic: Topic, cb: () => void): void {
    if (topic.createWaiters.length >= CREATE_WAITERS_MAX) {
      // Overflow: retry after a pause (a microtask would spin: the retry is refused again at once).
      setTimeout(cb, CREATE_RETRY_MS);
      return;
    }
    topic.createWaiters.push(cb);
  }

  /** `cb(topic)` after a topic is created, deleted or gains partitions. Returns an unsubscribe function. */
  onPartitionsChanged(cb: (topic: string) => void): () => void {
    this.#partitionListeners.add(cb);
    return () => this.#partitionListeners.delete(cb);
  }

  // ------------------------------------------------------------------ startup

  /** Loads the stored topics and opens (recovers) every partition; a partition that fails to open stays offline. */
  async load(): Promise<void> {
    const stored = this.#store.current;
    const workerCount = this.pool.workerCount;
    let rewrite = false;
    const next: TopicsFile = { version: 1, topics: {} };
    // Keep stored workers; only partitions whose worker no longer exists (fewer
    // workers than last time) move, to the least loaded worker.
    const counts = new Array<number>(workerCount).fill(0);
    for (const entry of Object.values(stored.topics)) for (const w of entry.workers) if (w >= 0 && w < workerCount) counts[w]++;
    for (const [name, entry] of Object.entries(stored.topics)) {
      const workers = entry.workers.map((w) => {
        if (w < workerCount) return w;
        rewrite = true;
        return pickWorker(counts);
      });
      next.topics[name] = { ...entry, workers };
    }
    await this.#removeOrphans(new Set(Object.keys(next.topics)));
    const opens: Promise<void>[] = [];
    for (const [name, entry] of Object.entries(next.topics)) {
      let logConfig: LogConfig;
      try {
        logConfig = parseLogConfig(this.config.topicDefaults, entry.configs);
      } catch (e) {
        throw new Error(`topic '${name}': stored configs are invalid: ${(e as Error).message}`, { cause: e });
      }
      const topic: Topic = {
        name,
        id: entry.id,
        createdAtMs: entry.createdAtMs,
        configs: { ...entry.configs },
        logConfig,
        slots: [],
        workers: [...entry.workers],
        state: "online",
        createWaiters: [],
        // Cluster mode: nothing loaded from disk leads until etcd says so (cluster_replicas.ts), not even before the broker joined.
        roles: this.#clusterMode ? [] : undefined,
      };
      for (let p = 0; p < topic.workers.length; p++) {
        if (topic.workers[p] === NOT_HOSTED) {
          topic.slots.push(NOT_HOSTED);
          continue;
        }
        const slot = this.#slots.allocate({ topic: name, partition: p, worker: topic.workers[p] });
        topic.slots.push(slot);
        opens.push(this.#openSlot(topic, p, slot, false));
      }
      this.topics.set(name, topic);
    }
    await Promise.all(opens);
    if (rewrite) await this.#store.write(next);
  }

  /**
   * Directories under topics/ that the metadata does not name: a create or
   * delete cut short by a crash (marked: removed), or anything else (moved to
   * lost+found, never deleted). Marks left on known topics are cleared.
   */
  async #removeOrphans(known: Set<string>): Promise<void> {
    const names = await fs.promises.readdir(this.#topicsDir);
    for (const name of names) {
      const dir = path.join(this.#topicsDir, name);
      if (known.has(name)) {
        // A create that reached the metadata, or a delete that did not: the topic stands.
        for (const mark of topicDirMarks(dir)) await clearTopicDirMark(dir, mark);
        continue;
      }
      const outcome = await settleUnownedTopicDir(this.config.dataDir, name);
      if (outcome === "removed") this.#log(`sluice: removed '${name}' under ${this.#topicsDir}: a create or delete of it was cut short`);
      else this.#log(`sluice: WARNING: '${name}' under ${this.#topicsDir} belongs to no topic in the metadata; moved to ${path.join(this.config.dataDir, "lost+found")}`);
    }
  }

  /** Opens one partition; a failure leaves the slot offline (reported, not fatal). */
  async #openSlot(topic: Topic, partition: number, slot: number, mustSucceed: boolean): Promise<void> {
    const dir = this.#partitionDir(topic.name, partition);
    try {
      await fs.promises.mkdir(dir, { recursive: true });
      await this.pool.openPartition(slot, topic.workers[partition], dir, topic.logConfig, { faults: this.#faults.get(topic.name), incarnation: topic.id });
      this.offline.delete(slot);
    } catch (e) {
      const message = (e as Error)?.message ?? String(e);
      if (mustSucceed) throw e;
      this.offline.set(slot, message);
      this.#log(`sluice: partition ${topic.name}-${partition} is offline: ${message}`);
    }
  }

  #partitionDir(topic: string, partition: number): string {
    return path.join(this.#topicsDir, topic, String(partition));
  }

  // ------------------------------------------------------------------ admin

  /** Runs admin operations one at a time (bounded queue; see ADMIN_OPS_PENDING_MAX). */
  #admin<T>(op: () => Promise<T>): Promise<T> {
    if (this.#closing) return Promise.reject(new SluiceError(ErrorCode.LEADER_NOT_AVAILABLE, "the broker is shutting down"));
    if (this.#adminPending >= ADMIN_OPS_PENDING_MAX) {
      return Promise.reject(new SluiceError(ErrorCode.THROTTLING_QUOTA_EXCEEDED, "too many admin operations queued; retry later"));
    }
    this.#adminPending++;
    const run = this.#adminTail.then(op);
    this.#adminTail = run.then(
      () => this.#adminPending--,
      () => this.#adminPending--,
    );
    return run;
  }

  listTopics(): string[] {
    const names: string[] = [];
    for (const t of this.topics.values()) if (t.state === "online") names.push(t.name);
    return names.sort();
  }

  /** Creates a topic. `partitions` -1 (or absent) = the broker's numPartitions. */
  createTopic(
    name: string,
    options: { partitions?: number; configs?: Record<string, string>; validateOnly?: boolean; replicationFactor?: number } = {},
  ): Promise<void> {
    try {
      checkTopicName(name);
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.#clusterMode && isInternalTopic(name)) return Promise.reject(internalTopic(name, "created"));
    if (this.cluster !== undefined) return this.#createInCluster(name, options);
    if (this.#clusterMode) return Promise.reject(notJoined());
    if (options.replicationFactor !== undefined && options.replicationFactor !== -1 && options.replicationFactor !== 1) {
      return Promise.reject(new SluiceError(ErrorCode.INVALID_REPLICATION_FACTOR, `one node: the replication factor is 1, not ${options.replicationFactor}`));
    }
    return this.#admin(() => this.#createTopic(name, options, false));
  }

  /** Cluster mode: checked here, created by the controller; this broker's replicas open when etcd says so. */
  async #createInCluster(
    name: string,
    options: { partitions?: number; configs?: Record<string, string>; validateOnly?: boolean; replicationFactor?: number },
  ): Promise<void> {
    const count = options.partitions === undefined || options.partitions === -1 ? this.config.numPartitions : options.partitions;
    if (!Number.isInteger(count) || count < 1 || count > PARTITIONS_PER_TOPIC_MAX) {
      throw new SluiceError(ErrorCode.INVALID_PARTITIONS, `partitions must be an integer from 1 to ${PARTITIONS_PER_TOPIC_MAX} (or -1 for the default), got ${count}`);
    }
    const configs = { ...(options.configs ?? {}) };
    parseLogConfig(this.config.topicDefaults, logConfigsOf(configs)); // throws INVALID_CONFIG
    if (options.validateOnly) return;
    const rf = options.replicationFactor === undefined || options.replicationFactor === -1 ? undefined : options.replicationFactor;
    await this.cluster!.createTopic(name, count, configs, rf);
  }

  /**
   * Cluster mode: opens this broker's replicas of a topic etcd holds
   * (`hosted[p]`: whether this broker is among partition p's replicas); the
   * others get NOT_HOSTED slots. Called by cluster_replicas.ts only.
   */
  hostTopic(name: string, id: string, configs: Record<string, string>, hosted: readonly boolean[]): Promise<void> {
    return this.#admin(() => this.#createTopic(name, { configs, partitions: hosted.length, hosted, id }, false));
  }

  /** Cluster mode: a topic's partition count grew in etcd; opens this broker's new replicas. */
  growHosted(name: string, hosted: readonly boolean[]): Promise<void> {
    return this.#admin(() => this.#createPartitions(name, hosted.length, hosted));
  }

  /**
   * Cluster mode: a partition moved onto or off this broker (docs/SCALING.md):
   * `hosted[p]` is whether this broker is among partition p's replicas now.
   * A partition that arrives opens empty (a directory left by a move cut short
   * is removed first: the leader is the copy); one that leaves is stored as
   * not hosted first, then closed and its files deleted (a crash between
   * leaves a directory the next arrival removes). Called by cluster_replicas.ts only.
   */
  setHosted(name: string, hosted: readonly boolean[]): Promise<void> {
    return this.#admin(async () => {
      const topic = this.#onlineTopic(name);
      const arriving: number[] = [];
      const leaving: number[] = [];
      for (let p = 0; p < Math.min(hosted.length, topic.slots.length); p++) {
        if (hosted[p] && topic.slots[p] === NOT_HOSTED) arriving.push(p);
        else if (!hosted[p] && topic.slots[p] !== NOT_HOSTED) leaving.push(p);
      }
      if (arriving.length === 0 && leaving.length === 0) return;
      if (this.#slots.used + arriving.length > PARTITIONS_MAX) {
        throw new SluiceError(ErrorCode.POLICY_VIOLATION, `the broker would host more than ${PARTITIONS_MAX} partitions`);
      }
      const counts = this.#slots.countsByWorker(this.pool.workerCount);
      const workers = [...topic.workers];
      const opened: { partition: number; slot: number }[] = [];
      try {
        for (const p of arriving) {
          await fs.promises.rm(this.#partitionDir(name, p), { recursive: true, force: true });
          workers[p] = pickWorker(counts);
          const slot = this.#slots.allocate({ topic: name, partition: p, worker: workers[p] });
          opened.push({ partition: p, slot });
          await this.#openSlot({ ...topic, workers }, p, slot, true);
        }
        for (const p of leaving) workers[p] = NOT_HOSTED;
        await fsyncDirectory(path.join(this.#topicsDir, name));
        await this.#store.write(this.#withTopic(this.#store.current, { ...topic, workers }));
      } catch (e) {
        await Promise.all(opened.map((a) => this.pool.deletePartition(a.slot).catch(() => {})));
        for (const a of opened) this.#slots.release(a.slot);
        if (e instanceof SluiceError) throw e;
        throw new SluiceError(ErrorCode.KAFKA_STORAGE_ERROR, `changing the partitions '${name}' hosts failed: ${(e as Error)?.message ?? e}`, { cause: e });
      }
      const gone = leaving.map((p) => topic.slots[p]);
      topic.workers = workers;
      const slots = [...topic.slots];
      for (const a of opened) slots[a.partition] = a.slot;
      for (const p of leaving) slots[p] = NOT_HOSTED;
      topic.slots = slots;
      // Parked fetches of the leaving partitions wake and answer that the partition is not here.
      for (const slot of gone) this.longPoll.advance(slot);
      await Promise.all(gone.map((slot) => this.pool.deletePartition(slot).catch(() => {})));
      for (const slot of gone) {
        this.#slots.release(slot);
        this.offline.delete(slot);
        this.#rates.delete(slot);
      }
      for (const p of leaving) await fs.promises.rm(this.#partitionDir(name, p), { recursive: true, force: true });
      await fsyncDirectory(path.join(this.#topicsDir, name));
      this.#partitionsChanged(name);
    });
  }

  /** Cluster mode: the topic left etcd (or was re-created with another id): this broker's copy goes. */
  dropHosted(name: string): Promise<void> {
    return this.#admin(() => this.#deleteTopic(name));
  }

  async #createTopic(
    name: string,
    options: { partitions?: number; configs?: Record<string, string>; validateOnly?: boolean; hosted?: readonly boolean[]; id?: string },
    auto: boolean,
  ): Promise<void> {
    const existing = this.topics.get(name);
    if (existing !== undefined && existing.state !== "creating") {
      if (auto) return;
      throw new SluiceError(ErrorCode.TOPIC_ALREADY_EXISTS, `topic '${name}' already exists`);
    }
    const count = options.partitions === undefined || options.partitions === -1 ? this.config.numPartitions : options.partitions;
    if (!Number.isInteger(count) || count < 1 || count > PARTITIONS_PER_TOPIC_MAX) {
      throw new SluiceError(ErrorCode.INVALID_PARTITIONS, `partitions must be an integer from 1 to ${PARTITIONS_PER_TOPIC_MAX} (or -1 for the default), got ${count}`);
    }
    const hosted = options.hosted;
    const hostedCount = hosted === undefined ? count : hosted.filter((h) => h).length;
    if (this.#slots.used + hostedCount > PARTITIONS_MAX) {
      throw new SluiceError(ErrorCode.POLICY_VIOLATION, `the broker would host more than ${PARTITIONS_MAX} partitions`);
    }
    const configs = { ...(options.configs ?? {}) };
    const logConfig = parseLogConfig(this.config.topicDefaults, configs);
    if (options.validateOnly) return;

    const counts = this.#slots.countsByWorker(this.pool.workerCount);
    const workers = Array.from({ length: count }, (_, p) => (hosted === undefined || hosted[p] ? pickWorker(counts) : NOT_HOSTED));
    const topic: Topic = existing ?? {
      name,
      id: "",
      createdAtMs: 0,
      configs,
      logConfig,
      slots: [],
      workers,
      state: "creating",
      createWaiters: [],
    };
    // Cluster mode: a new replica leads nothing until cluster_replicas.ts sets its roles from etcd.
    Object.assign(topic, { id: options.id ?? crypto.randomUUID(), createdAtMs: Date.now(), configs, logConfig, workers, slots: [], roles: hosted === undefined ? undefined : [] });
    this.topics.set(name, topic);
    const topicDir = path.join(this.#topicsDir, name);
    try {
      // A leftover directory of that name belongs to no topic (the metadata does not name it).
      if (fs.existsSync(topicDir)) await settleUnownedTopicDir(this.config.dataDir, name);
      await fs.promises.mkdir(topicDir, { recursive: true });
      await fsyncDirectory(this.#topicsDir);
      await markTopicDir(topicDir, "creating");
      for (let p = 0; p < count; p++) topic.slots.push(workers[p] === NOT_HOSTED ? NOT_HOSTED : this.#slots.allocate({ topic: name, partition: p, worker: workers[p] }));
      await Promise.all(topic.slots.map((slot, p) => (slot === NOT_HOSTED ? undefined : this.#openSlot(topic, p, slot, true))));
      await fsyncDirectory(topicDir);
      await this.#store.write(this.#withTopic(this.#store.current, topic));
      await clearTopicDirMark(topicDir, "creating");
    } catch (e) {
      // Undo: the topic never became visible.
      const opened = topic.slots.filter((slot) => slot !== NOT_HOSTED);
      await Promise.all(opened.map((slot) => this.pool.deletePartition(slot).catch(() => {})));
      for (const slot of opened) this.#slots.release(slot);
      this.topics.delete(name);
      await fs.promises.rm(path.join(this.#topicsDir, name), { recursive: true, force: true }).catch(() => {});
      this.#finishCreate(topic);
      if (e instanceof SluiceError) throw e;
      throw new SluiceError(ErrorCode.KAFKA_STORAGE_ERROR, `creating topic '${name}' failed: ${(e as Error)?.message ?? e}`, { cause: e });
    }
    topic.state = "online";
    this.#finishCreate(topic);
    this.#partitionsChanged(name);
  }

  #finishCreate(topic: Topic): void {
    const waiters = topic.createWaiters.splice(0);
    for (const cb of waiters) cb();
  }

  #withTopic(file: TopicsFile, topic: Topic): TopicsFile {
    const entry: TopicEntry = { id: topic.id, createdAtMs: topic.createdAtMs, configs: { ...topic.configs }, workers: [...topic.workers] };
    return { version: 1, topics: { ...file.topics, [topic.name]: entry } };
  }

  /** Starts an auto-create of `name` (once); callers wait with onWritable. */
  autoCreate(name: string): void {
    if (this.topics.has(name)) return;
    if (this.cluster !== undefined) {
      this.#autoCreateInCluster(name);
      return;
    }
    if (this.#clusterMode) return;
    const placeholder: Topic = {
      name,
      id: "",
      createdAtMs: 0,
      configs: {},
      logConfig: undefined as unknown as LogConfig,
      slots: [],
      workers: [],
      state: "creating",
      createWaiters: [],
    };
    this.topics.set(name, placeholder);
    this.#admin(() => this.#createTopic(name, {}, true)).catch((e) => {
      if (this.topics.get(name) === placeholder) this.topics.delete(name);
      this.#finishCreate(placeholder);
      this.#log(`sluice: auto-create of topic '${name}' failed: ${(e as Error)?.message ?? e}`);
    });
  }

  readonly #clusterAutoCreates = new Set<string>();

  /** Cluster mode: one create request per missing topic at a time; its replicas open when etcd says so. */
  #autoCreateInCluster(name: string): void {
    if (this.#clusterAutoCreates.has(name) || this.cluster!.hasTopic(name) || isInternalTopic(name)) return;
    if (this.#clusterAutoCreates.size >= CREATE_WAITERS_MAX) return;
    this.#clusterAutoCreates.add(name);
    this.cluster!.createTopic(name, this.config.numPartitions, {}, undefined)
      .catch((e) => {
        if (!(e instanceof SluiceError && e.code === ErrorCode.TOPIC_ALREADY_EXISTS)) {
          this.#log(`sluice: auto-create of topic '${name}' failed: ${(e as Error)?.message ?? e}`);
        }
      })
      .finally(() => this.#clusterAutoCreates.delete(name));
  }

  deleteTopic(name: string): Promise<void> {
    if (this.#clusterMode && isInternalTopic(name)) return Promise.reject(internalTopic(name, "deleted"));
    if (this.cluster !== undefined) return this.cluster.deleteTopic(name);
    if (this.#clusterMode) return Promise.reject(notJoined());
    return this.#admin(() => this.#deleteTopic(name));
  }

  #deleteTopic(name: string): Promise<void> {
    return (async () => {
      const topic = this.topics.get(name);
      if (topic === undefined || topic.state !== "online") {
        throw new SluiceError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${name}' does not exist`);
      }
      // From here produce and fetch see no topic; the metadata drops it durably before any data goes.
      topic.state = "deleting";
      const topicDir = path.join(this.#topicsDir, name);
      const { [name]: _gone, ...rest } = this.#store.current.topics;
      try {
        await markTopicDir(topicDir, "deleting");
        await this.#store.write({ version: 1, topics: rest });
      } catch (e) {
        topic.state = "online";
        await clearTopicDirMark(topicDir, "deleting").catch(() => {});
        throw new SluiceError(ErrorCode.KAFKA_STORAGE_ERROR, `deleting topic '${name}' failed: ${(e as Error)?.message ?? e}`, { cause: e });
      }
      this.topics.delete(name);
      const opened = topic.slots.filter((slot) => slot !== NOT_HOSTED);
      // Wake parked fetches of these partitions: they answer UNKNOWN_TOPIC_OR_PARTITION.
      for (const slot of opened) this.longPoll.advance(slot);
      await Promise.all(opened.map((slot) => this.pool.deletePartition(slot).catch(() => {})));
      for (const slot of opened) {
        this.#slots.release(slot);
        this.offline.delete(slot);
        this.#rates.delete(slot);
      }
      // Whatever the workers left (and a crash before this line: startup removes orphans).
      await fs.promises.rm(path.join(this.#topicsDir, name), { recursive: true, force: true });
      await fsyncDirectory(this.#topicsDir);
      this.#partitionsChanged(name);
    })();
  }

  alterTopicConfig(name: string, set: Record<string, string>, remove: readonly string[] = []): Promise<void> {
    return this.#admin(async () => {
      const topic = this.#onlineTopic(name);
      const configs = { ...topic.configs, ...set };
      for (const key of remove) delete configs[key];
      const logConfig = parseLogConfig(this.config.topicDefaults, configs);
      const previous = { configs: topic.configs, logConfig: topic.logConfig };
      topic.configs = configs;
      topic.logConfig = logConfig;
      try {
        await this.#store.write(this.#withTopic(this.#store.current, topic));
      } catch (e) {
        Object.assign(topic, previous);
        throw new SluiceError(ErrorCode.KAFKA_STORAGE_ERROR, `altering topic '${name}' failed: ${(e as Error)?.message ?? e}`, { cause: e });
      }
      await Promise.all(topic.slots.filter((s) => s !== NOT_HOSTED && !this.offline.has(s)).map((slot) => this.pool.setConfig(slot, logConfig)));
    });
  }

  /** Grows a topic to `total` partitions (never shrinks). */
  createPartitions(name: string, total: number): Promise<void> {
    if (this.#clusterMode && isInternalTopic(name)) return Promise.reject(internalTopic(name, "given partitions"));
    if (this.cluster !== undefined) return this.cluster.createPartitions(name, total);
    if (this.#clusterMode) return Promise.reject(notJoined());
    return this.#admin(() => this.#createPartitions(name, total, undefined));
  }

  #createPartitions(name: string, total: number, hosted: readonly boolean[] | undefined): Promise<void> {
    return (async () => {
      const topic = this.#onlineTopic(name);
      const current = topic.slots.length;
      if (!Number.isInteger(total) || total <= current) {
        throw new SluiceError(ErrorCode.INVALID_PARTITIONS, `topic '${name}' has ${current} partitions; the new count must be larger, got ${total}`);
      }
      if (total > PARTITIONS_PER_TOPIC_MAX) {
        throw new SluiceError(ErrorCode.INVALID_PARTITIONS, `a topic may have at most ${PARTITIONS_PER_TOPIC_MAX} partitions`);
      }
      if (this.#slots.used + (hosted === undefined ? total - current : hosted.slice(current).filter((h) => h).length) > PARTITIONS_MAX) {
        throw new SluiceError(ErrorCode.POLICY_VIOLATION, `the broker would host more than ${PARTITIONS_MAX} partitions`);
      }
      const counts = this.#slots.countsByWorker(this.pool.workerCount);
      const added: { partition: number; slot: number; worker: number }[] = [];
      for (let p = current; p < total; p++) {
        if (hosted !== undefined && !hosted[p]) {
          added.push({ partition: p, worker: NOT_HOSTED, slot: NOT_HOSTED });
          continue;
        }
        const worker = pickWorker(counts);
        added.push({ partition: p, worker, slot: this.#slots.allocate({ topic: name, partition: p, worker }) });
      }
      const grown: Topic = { ...topic, workers: [...topic.workers, ...added.map((a) => a.worker)] };
      const opened = added.filter((a) => a.slot !== NOT_HOSTED);
      try {
        await Promise.all(opened.map((a) => this.#openSlot(grown, a.partition, a.slot, true)));
        await fsyncDirectory(path.join(this.#topicsDir, name));
        await this.#store.write(this.#withTopic(this.#store.current, grown));
      } catch (e) {
        await Promise.all(opened.map((a) => this.pool.deletePartition(a.slot).catch(() => {})));
        for (const a of opened) {
          this.#slots.release(a.slot);
          await fs.promises.rm(this.#partitionDir(name, a.partition), { recursive: true, force: true }).catch(() => {});
        }
        if (e instanceof SluiceError) throw e;
        throw new SluiceError(ErrorCode.KAFKA_STORAGE_ERROR, `adding partitions to '${name}' failed: ${(e as Error)?.message ?? e}`, { cause: e });
      }
      // Publish the new partitions only now that they are open and stored.
      topic.workers = grown.workers;
      topic.slots = [...topic.slots, ...added.map((a) => a.slot)];
      this.#partitionsChanged(name);
    })();
  }

  #onlineTopic(name: string): Topic {
    const topic = this.topics.get(name);
    if (topic === undefined || topic.state !== "online") {
      throw new SluiceError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${name}' does not exist`);
    }
    return topic;
  }

  #partitionsChanged(topic: string): void {
    for (const cb of this.#partitionListeners) {
      try {
        cb(topic);
      } catch (e) {
        this.#log(`sluice: a partitions-changed listener failed: ${(e as Error)?.message ?? e}`);
      }
    }
  }

  /** Per-partition state of the named topics (null = all). */
  describeTopics(names: readonly string[] | null): TopicDescription[] {
    const list = names ?? this.listTopics();
    return list.map((name) => {
      const topic = this.topics.get(name);
      if (topic === undefined || topic.state !== "online") {
        return { name, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, message: `topic '${name}' does not exist`, configs: {}, partitions: [] };
      }
      const partitions = topic.slots.map((slot, p) => this.#describePartition(topic, p, slot));
      return { name, errorCode: ErrorCode.NONE, configs: effectiveTopicConfig(topic.logConfig), partitions };
    });
  }

  #describePartition(topic: Topic, partition: number, slot: number): PartitionDescription {
    const st = slot === NOT_HOSTED ? NOT_HOSTED_STATE : this.stateOf(slot);
    const rate = this.#rates.get(slot);
    return {
      ...this.cluster?.partitionInfo(topic.name, partition),
      partition,
      worker: topic.workers[partition],
      online: st.online,
      errorCode: st.errorCode,
      logStartOffset: st.logStartOffset,
      highWatermark: st.highWatermark,
      durableOffset: st.durableOffset,
      logEndOffset: st.logEndOffset,
      segments: st.segments,
      bytes: st.sizeBytes,
      messagesIn: st.messagesIn,
      bytesIn: st.bytesIn,
      messagesOut: st.messagesOut,
      bytesOut: st.bytesOut,
      messagesInPerSec: rate?.messagesPerSec ?? 0,
      bytesInPerSec: rate?.bytesPerSec ?? 0,
    };
  }

  stateOf(slot: number): PartitionState {
    if (this.offline.has(slot)) return OFFLINE_STATE;
    return this.pool.state(slot);
  }

  /**
   * Metadata of the named topics (null = all). With `allowAutoCreate` and the
   * broker's autoCreateTopics on, missing topics are created first.
   */
  async metadata(names: readonly string[] | null, allowAutoCreate: boolean): Promise<TopicMetadata[]> {
    const cluster = this.cluster;
    if (cluster !== undefined) {
      if (names !== null && allowAutoCreate && this.config.autoCreateTopics) {
        // The internal topic is the group coordinator's to create (engine/groups/coordinator_locator.ts), never a client's.
        const missing = [...new Set(names)].filter((n) => !cluster.hasTopic(n) && topicNameProblem(n) === null && !isInternalTopic(n));
        await Promise.all(
          missing.map((n) =>
            cluster.createTopic(n, this.config.numPartitions, {}, undefined).catch((e) => {
              if (!(e instanceof SluiceError && e.code === ErrorCode.TOPIC_ALREADY_EXISTS)) this.#log(`sluice: auto-create of topic '${n}' failed: ${(e as Error)?.message ?? e}`);
            }),
          ),
        );
      }
      return cluster.metadata(names);
    }
    if (this.#clusterMode) return (names ?? []).map((name) => ({ name, errorCode: ErrorCode.LEADER_NOT_AVAILABLE, partitions: [] }));
    const list = names ?? this.listTopics();
    if (names !== null && allowAutoCreate && this.config.autoCreateTopics) {
      const missing = [...new Set(list)].filter((n) => this.topics.get(n)?.state !== "online" && topicNameProblem(n) === null);
      await Promise.all(
        missing.map((n) =>
          this.#admin(() => this.#createTopic(n, {}, true)).catch((e) => {
            this.#log(`sluice: auto-create of topic '${n}' failed: ${(e as Error)?.message ?? e}`);
          }),
        ),
      );
    }
    return list.map((name) => {
      const problem = topicNameProblem(name);
      if (problem !== null) return { name, errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, partitions: [] };
      const topic = this.topics.get(name);
      if (topic === undefined || topic.state !== "online") {
        return { name, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, partitions: [] };
      }
      return {
        name,
        errorCode: ErrorCode.NONE,
        partitions: topic.slots.map((slot, partition) => {
          const st = this.stateOf(slot);
          return {
            partition,
            errorCode: st.online ? ErrorCode.NONE : st.errorCode || ErrorCode.KAFKA_STORAGE_ERROR,
            logStartOffset: st.logStartOffset,
            highWatermark: st.highWatermark,
          };
        }),
      };
    });
  }

  /** The partition state of every slot, for metrics. */
  *partitionStates(): IterableIterator<{ topic: string; partition: number; worker: number; state: PartitionState }> {
    for (const [slot, owner] of this.#slots.entries()) {
      const topic = this.topics.get(owner.topic);
      if (topic === undefined || topic.state !== "online" || topic.slots[owner.partition] !== slot) continue;
      yield { topic: owner.topic, partition: owner.partition, worker: owner.worker, state: this.stateOf(slot) };
    }
  }

  #sampleRates(): void {
    const dtS = RATE_SAMPLE_INTERVAL_MS / 1000;
    for (const [slot] of this.#slots.entries()) {
      if (this.offline.has(slot)) continue;
      const st = this.pool.state(slot);
      const prev = this.#rates.get(slot);
      if (prev === undefined) {
        this.#rates.set(slot, { messagesIn: st.messagesIn, bytesIn: st.bytesIn, messagesPerSec: 0, bytesPerSec: 0 });
        continue;
      }
      prev.messagesPerSec = Math.max(0, (st.messagesIn - prev.messagesIn) / dtS);
      prev.bytesPerSec = Math.max(0, (st.bytesIn - prev.bytesIn) / dtS);
      prev.messagesIn = st.messagesIn;
      prev.bytesIn = st.bytesIn;
    }
  }
}

/** A client's change to an internal topic in a cluster (the broker manages those itself). */
function internalTopic(name: string, what: string): SluiceError {
  return new SluiceError(ErrorCode.POLICY_VIOLATION, `'${name}' is an internal topic: it is not ${what} by clients in a cluster`);
}

/** A topic change asked of a broker configured for a cluster before it joined (retriable). */
function notJoined(): SluiceError {
  return new SluiceError(ErrorCode.NOT_CONTROLLER, "this broker has not joined its cluster yet; try again");
}

/** What a partition this broker holds no replica of reports (cluster mode): its leader has the figures. */
const NOT_HOSTED_STATE: PartitionState = Object.freeze({
  ...emptyStateView(),
  logStartOffset: -1,
  logEndOffset: -1,
  highWatermark: -1,
  durableOffset: -1,
  errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
});

/** What a slot whose partition failed to open reports: nothing is known of it. */
const OFFLINE_STATE: PartitionState = Object.freeze({
  ...emptyStateView(),
  logStartOffset: -1,
  logEndOffset: -1,
  highWatermark: -1,
  durableOffset: -1,
  errorCode: ErrorCode.KAFKA_STORAGE_ERROR,
});
