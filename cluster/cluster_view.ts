// A broker's view of the cluster's metadata in etcd: live brokers (and which
// of them are in controlled shutdown), the controller, topics and partition states, kept current by one watch on the
// cluster's root prefix (snapshot, then ordered changes; etcd_watch.ts).
//
// The view may be behind etcd, never ahead and never out of order. Decisions
// taken from it are written by compare-and-swap (controller_topics.ts), so a
// stale view makes a write fail and be decided again, never land wrongly.

import { type BrokerInfo, parseBrokerInfo } from "./broker_registration.ts";
import type { ClusterKeys } from "./cluster_keys.ts";
import { type ControllerInfo, parseControllerKey } from "./controller_election.ts";
import { parseShutdownKey, type ShutdownRecord } from "./controlled_shutdown.ts";
import type { EtcdClient } from "./etcd_client.ts";
import { EtcdWatch, type WatchEvent } from "./etcd_watch.ts";
import type { KeyValue } from "./etcd_wire.ts";
import { parseTopicRequest, type TopicRequestRecord } from "./topic_requests.ts";
import { parseJson, type TopicRecord, TopicRecordSchema, type VersionedPartitionState, versionedState } from "./topic_metadata.ts";

export interface LiveBroker {
  readonly info: BrokerInfo;
  /** The registration's create revision, the broker epoch: a restarted broker has a new one (docs/CLUSTER.md, "Broker epochs"). */
  readonly createRevision: number;
}

export class ClusterView {
  readonly keys: ClusterKeys;
  readonly brokers = new Map<number, LiveBroker>();
  readonly topics = new Map<string, TopicRecord>();
  /** topic → partition → state (states whose topic key is missing are kept but belong to no topic yet). */
  readonly partitions = new Map<string, Map<number, VersionedPartitionState>>();
  /** Topic admin requests waiting for (or holding) the controller's answer, by request id (topic_requests.ts). */
  readonly requests = new Map<string, TopicRequestRecord>();
  /** Brokers that announced a controlled shutdown, by id (controlled_shutdown.ts); see shuttingDownBrokerIds(). */
  readonly shutdowns = new Map<number, ShutdownRecord>();
  controller: ControllerInfo | undefined;
  /** The etcd revision the view reflects. */
  revision = 0;
  /** Snapshots applied (1 + compactions). */
  snapshots = 0;
  readonly #watch: EtcdWatch;
  readonly #onChange: (view: ClusterView) => void;
  readonly #listeners = new Set<(view: ClusterView) => void>();

  private constructor(client: EtcdClient, keys: ClusterKeys, onChange: (view: ClusterView) => void, onTrouble: (m: string) => void) {
    this.keys = keys;
    this.#onChange = onChange;
    this.#watch = EtcdWatch.start(client, keys.root, { prefix: true }, {
      onSnapshot: (kvs, revision) => {
        this.brokers.clear();
        this.topics.clear();
        this.partitions.clear();
        this.requests.clear();
        this.shutdowns.clear();
        this.controller = undefined;
        for (const kv of kvs) this.#put(kv);
        this.revision = revision;
        this.snapshots++;
        this.#changed();
      },
      onEvents: (events: WatchEvent[], revision) => {
        for (const e of events) {
          if (e.type === "put") this.#put(e.kv);
          else this.#delete(e.kv.key);
        }
        this.revision = revision;
        this.#changed();
      },
      onTrouble,
    });
  }

  /** Starts watching; `onChange` runs after the first snapshot and after every batch of changes. */
  static start(opts: { client: EtcdClient; keys: ClusterKeys; onChange?: (view: ClusterView) => void; onTrouble?: (m: string) => void }): ClusterView {
    return new ClusterView(opts.client, opts.keys, opts.onChange ?? (() => {}), opts.onTrouble ?? (() => {}));
  }

  /** Calls `cb` after every change the view applies (as `onChange`); returns the unsubscribe. */
  subscribe(cb: (view: ClusterView) => void): () => void {
    this.#listeners.add(cb);
    return () => this.#listeners.delete(cb);
  }

  #changed(): void {
    this.#onChange(this);
    for (const cb of this.#listeners) cb(this);
  }

  /** Whether the first snapshot has arrived. */
  get ready(): boolean {
    return this.snapshots > 0;
  }

  liveBrokerIds(): Set<number> {
    return new Set(this.brokers.keys());
  }

  /**
   * Live brokers in controlled shutdown: an announcement counts only for the
   * registration that made it (its create revision), never for a later one.
   */
  shuttingDownBrokerIds(): Set<number> {
    const ids = new Set<number>();
    for (const [id, s] of this.shutdowns) if (this.brokers.get(id)?.createRevision === s.registrationRevision) ids.add(id);
    return ids;
  }

  partitionState(topic: string, partition: number): VersionedPartitionState | undefined {
    return this.partitions.get(topic)?.get(partition);
  }

  async close(): Promise<void> {
    await this.#watch.close();
  }

  #put(kv: KeyValue): void {
    const k = this.keys;
    if (kv.key.startsWith(k.brokersPrefix)) {
      const id = k.brokerIdOf(kv.key);
      const info = parseBrokerInfo(kv);
      if (id !== undefined && info !== undefined && info.id === id) this.brokers.set(id, { info, createRevision: kv.createRevision });
    } else if (kv.key === k.controller) {
      this.controller = parseControllerKey(kv);
    } else if (kv.key.startsWith(k.topicsPrefix)) {
      const name = kv.key.slice(k.topicsPrefix.length);
      const record = parseJson(TopicRecordSchema, kv);
      if (record !== undefined && !name.includes("/")) this.topics.set(name, record);
    } else if (kv.key.startsWith(k.partitionsPrefix)) {
      const where = this.#partitionOf(kv.key);
      const state = versionedState(kv);
      if (where === undefined || state === undefined) return;
      let m = this.partitions.get(where.topic);
      if (m === undefined) this.partitions.set(where.topic, (m = new Map()));
      m.set(where.partition, state);
    } else if (kv.key.startsWith(k.requestsPrefix)) {
      const request = parseTopicRequest(kv);
      if (request !== undefined) this.requests.set(kv.key.slice(k.requestsPrefix.length), request);
    } else if (kv.key.startsWith(k.shutdownPrefix)) {
      const id = k.shutdownIdOf(kv.key);
      const record = parseShutdownKey(kv);
      if (id !== undefined && record !== undefined && record.brokerId === id) this.shutdowns.set(id, record);
    }
  }

  #delete(key: string): void {
    const k = this.keys;
    if (key.startsWith(k.brokersPrefix)) {
      const id = k.brokerIdOf(key);
      if (id !== undefined) this.brokers.delete(id);
    } else if (key === k.controller) {
      this.controller = undefined;
    } else if (key.startsWith(k.topicsPrefix)) {
      this.topics.delete(key.slice(k.topicsPrefix.length));
    } else if (key.startsWith(k.partitionsPrefix)) {
      const where = this.#partitionOf(key);
      if (where === undefined) return;
      const m = this.partitions.get(where.topic);
      m?.delete(where.partition);
      if (m !== undefined && m.size === 0) this.partitions.delete(where.topic);
    } else if (key.startsWith(k.requestsPrefix)) {
      this.requests.delete(key.slice(k.requestsPrefix.length));
    } else if (key.startsWith(k.shutdownPrefix)) {
      const id = k.shutdownIdOf(key);
      if (id !== undefined) this.shutdowns.delete(id);
    }
  }

  #partitionOf(key: string): { topic: string; partition: number } | undefined {
    const rest = key.slice(this.keys.partitionsPrefix.length);
    const slash = rest.lastIndexOf("/");
    if (slash <= 0) return undefined;
    const p = rest.slice(slash + 1);
    if (!/^(0|[1-9]\d{0,8})$/.test(p)) return undefined;
    return { topic: rest.slice(0, slash), partition: Number(p) };
  }
}
