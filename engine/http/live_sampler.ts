// The console's live figures, computed once a second from state the broker
// already keeps (the shared partition state table through the engine, and the
// group coordinator through its handlers), whatever the number of pages open:
// every overview request and every event stream reads the last snapshot.
//
// Work per tick is bounded: one pass over the partitions (as the engine's own
// rate sampling does), describeTopics for at most OVERVIEW_TOPICS_MAX topics,
// and one describe of at most GROUPS_SAMPLED_MAX groups. Memory is bounded:
// HISTORY_SAMPLES_MAX samples of throughput and of each sampled group's lag.

import type { GroupDescription } from "../../protocol/messages/groups.ts";
import type { Engine } from "../engine.ts";
import { EVENT_INTERVAL_MS, GROUPS_SAMPLED_MAX, HISTORY_SAMPLES_MAX, OVERVIEW_TOPICS_MAX } from "./console_limits.ts";
import { type GroupsSource, totalLag } from "./groups_source.ts";
import { TimeSeries } from "./time_series.ts";
import { topicView } from "./topics_api.ts";

export interface BrokerInfo {
  nodeId: number;
  host: string;
  port: number;
  httpPort: number;
  version: string;
  workers: number;
  connections: number;
  startedAtMs: number;
}

export interface TopicSummary {
  name: string;
  partitions: number;
  bytes: number;
  messages: number;
  messagesInPerSec: number;
  bytesInPerSec: number;
  offlinePartitions: number;
}

export interface GroupSummary {
  groupId: string;
  state: string;
  generationId: number;
  members: number;
  lag: number;
}

export interface Throughput {
  messagesInPerSec: number;
  bytesInPerSec: number;
  messagesOutPerSec: number;
  bytesOutPerSec: number;
}

/** Cluster mode only: the cluster as this broker's view of etcd holds it (no etcd call per sample). */
export interface ClusterSummary {
  brokers: { nodeId: number; host: string; port: number; kafkaPort: number | null; httpPort: number; rack: string | null }[];
  /** -1 (and epoch -1) while no broker is controller. */
  controllerId: number;
  controllerEpoch: number;
  partitions: { total: number; offline: number; underReplicated: number };
}

export interface Snapshot {
  atMs: number;
  broker: BrokerInfo & { uptimeMs: number; partitions: number; partitionsOffline: number; rssBytes: number };
  throughput: Throughput;
  topics: TopicSummary[];
  topicsTotal: number;
  groups: GroupSummary[];
  groupsTotal: number;
  groupsAvailable: boolean;
  /** Present in cluster mode only (a single node has no cluster view). */
  cluster?: ClusterSummary;
}

interface Totals {
  atMs: number;
  messagesIn: number;
  bytesIn: number;
  messagesOut: number;
  bytesOut: number;
}

export class LiveSampler {
  readonly #engine: Engine;
  readonly #groups: GroupsSource;
  readonly #brokerInfo: () => BrokerInfo;
  readonly #throughput = new TimeSeries(HISTORY_SAMPLES_MAX, 4);
  readonly #lag = new Map<string, TimeSeries>();
  readonly #listeners = new Set<(s: Snapshot) => void>();
  #last: Totals | null = null;
  #snapshot: Snapshot | null = null;
  #timer: ReturnType<typeof setInterval> | undefined;
  #ticking = false;

  constructor(options: { engine: Engine; groups: GroupsSource; brokerInfo: () => BrokerInfo }) {
    this.#engine = options.engine;
    this.#groups = options.groups;
    this.#brokerInfo = options.brokerInfo;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.tick(), EVENT_INTERVAL_MS);
    this.#timer.unref?.();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#listeners.clear();
  }

  /** `cb(snapshot)` after every tick; returns the unsubscribe function. */
  onSnapshot(cb: (s: Snapshot) => void): () => void {
    this.#listeners.add(cb);
    return () => this.#listeners.delete(cb);
  }

  /** The last snapshot (taken now when none was yet). */
  async snapshot(): Promise<Snapshot> {
    if (this.#snapshot === null) await this.tick();
    return this.#snapshot!;
  }

  /** Throughput history as columns: [seconds, msgs in/s, bytes in/s, msgs out/s, bytes out/s]. */
  throughputHistory(): number[][] {
    return this.#throughput.columns();
  }

  /**
   * A group's lag history as [seconds, total lag]; empty for a group not
   * sampled yet (the next tick samples it); null when the group is past
   * GROUPS_SAMPLED_MAX and never will be.
   */
  lagHistory(groupId: string): number[][] | null {
    const series = this.#lag.get(groupId);
    if (series !== undefined) return series.columns();
    return this.#lag.size < GROUPS_SAMPLED_MAX ? [[], []] : null;
  }

  /** Takes one sample. Ticks never overlap (a slow group describe skips the next tick). */
  async tick(): Promise<void> {
    if (this.#ticking) return;
    this.#ticking = true;
    try {
      const snapshot = await this.#take();
      this.#snapshot = snapshot;
      for (const cb of this.#listeners) cb(snapshot);
    } finally {
      this.#ticking = false;
    }
  }

  async #take(): Promise<Snapshot> {
    const engine = this.#engine;
    const now = Date.now();
    const totals: Totals = { atMs: now, messagesIn: 0, bytesIn: 0, messagesOut: 0, bytesOut: 0 };
    let partitions = 0;
    let offline = 0;
    for (const p of engine.partitionStates()) {
      partitions++;
      if (!p.state.online) offline++;
      totals.messagesIn += p.state.messagesIn;
      totals.bytesIn += p.state.bytesIn;
      totals.messagesOut += p.state.messagesOut;
      totals.bytesOut += p.state.bytesOut;
    }
    const throughput = this.#rates(totals);

    const names = engine.listTopics();
    const topics: TopicSummary[] = engine.describeTopics(names.slice(0, OVERVIEW_TOPICS_MAX)).map((d) => {
      const v = topicView(d);
      return {
        name: v.name,
        partitions: v.partitions.length,
        bytes: v.bytes,
        messages: v.messages,
        messagesInPerSec: v.messagesInPerSec,
        bytesInPerSec: v.bytesInPerSec,
        offlinePartitions: v.partitions.filter((p) => !p.online).length,
      };
    });

    let groups: GroupSummary[] = [];
    let groupsTotal = 0;
    const groupsAvailable = this.#groups.available;
    if (groupsAvailable) {
      try {
        const listed = await this.#groups.list();
        groupsTotal = listed.length;
        const described = await this.#groups.describe(listed.slice(0, GROUPS_SAMPLED_MAX).map((g) => g.groupId));
        groups = described.map((d: GroupDescription) => ({
          groupId: d.groupId,
          state: d.state,
          generationId: d.generationId,
          members: d.members.length,
          lag: totalLag(d),
        }));
        this.#sampleLag(now, groups);
      } catch {
        // The coordinator is closing (broker shutdown): no groups this tick.
      }
    }

    const info = this.#brokerInfo();
    const c = engine.cluster;
    const cluster: ClusterSummary | undefined =
      c === undefined ? undefined : { brokers: c.brokers(), controllerId: c.controllerId, controllerEpoch: c.controllerEpoch, partitions: c.partitionCounts() };
    return {
      atMs: now,
      broker: { ...info, uptimeMs: now - info.startedAtMs, partitions, partitionsOffline: offline, rssBytes: process.memoryUsage.rss() },
      throughput,
      topics,
      topicsTotal: names.length,
      groups,
      groupsTotal,
      groupsAvailable,
      ...(cluster === undefined ? {} : { cluster }),
    };
  }

  #rates(totals: Totals): Throughput {
    const prev = this.#last;
    this.#last = totals;
    if (prev === null) return { messagesInPerSec: 0, bytesInPerSec: 0, messagesOutPerSec: 0, bytesOutPerSec: 0 };
    const dtS = Math.max(0.001, (totals.atMs - prev.atMs) / 1000);
    // Counters restart with a deleted topic's partitions: a negative delta is no traffic.
    const rate = (a: number, b: number) => Math.max(0, (a - b) / dtS);
    const t: Throughput = {
      messagesInPerSec: rate(totals.messagesIn, prev.messagesIn),
      bytesInPerSec: rate(totals.bytesIn, prev.bytesIn),
      messagesOutPerSec: rate(totals.messagesOut, prev.messagesOut),
      bytesOutPerSec: rate(totals.bytesOut, prev.bytesOut),
    };
    this.#throughput.push(totals.atMs, [t.messagesInPerSec, t.bytesInPerSec, t.messagesOutPerSec, t.bytesOutPerSec]);
    return t;
  }

  #sampleLag(now: number, groups: GroupSummary[]): void {
    const seen = new Set<string>();
    for (const g of groups) {
      seen.add(g.groupId);
      let series = this.#lag.get(g.groupId);
      if (series === undefined) this.#lag.set(g.groupId, (series = new TimeSeries(HISTORY_SAMPLES_MAX, 1)));
      series.push(now, [g.lag]);
    }
    // A group no longer sampled (gone, or past the bound) drops its history: memory stays bounded.
    for (const id of this.#lag.keys()) if (!seen.has(id)) this.#lag.delete(id);
  }
}
