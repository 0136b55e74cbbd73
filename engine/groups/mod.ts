// The group coordinator's public face: attachGroups() loads committed offsets,
// creates the coordinator, registers the group APIs with the dispatcher and the
// lag metrics with the registry, and follows partition-count changes.
//
// Wiring (engine start): `const groups = attachGroups({ dataDir, topics: engine.topicView(),
// dispatcher, metrics })`; at shutdown `groups.close()` (answers parked joins, writes
// pending commits, closes the offsets log).
//
// Cluster mode (`cluster` given): no local offsets log; committed offsets live
// in the replicated `__consumer_offsets` topic (cluster_offset_store.ts), this
// broker coordinates the groups whose partition it leads, and FindCoordinator
// names each group's coordinator (coordinator_locator.ts). The store compares
// the roles it leads with what it loaded on every group request and every
// OFFSETS_ROLE_CHECK_INTERVAL_MS.

import path from "node:path";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import type { BrokerPlugin } from "../broker.ts";
import type { Engine } from "../engine.ts";
import { OFFSETS_ROLE_CHECK_INTERVAL_MS } from "../engine_limits.ts";
import { FindCoordinatorRequestSchema, type FindCoordinatorResponse, GroupApiKey, parseGroupMessage } from "../../protocol/messages/groups.ts";
import { registerKafkaGroupApis } from "../kafka/group_apis.ts";
import { ClusterOffsetStore } from "./cluster_offset_store.ts";
import { engineOffsetsHost } from "./cluster_offsets_host.ts";
import { locateCoordinator } from "./coordinator_locator.ts";
import { GroupCoordinator, type TopicInfo } from "./coordinator.ts";
import { offsetsPartitionFor } from "./offsets_topic.ts";
import { renderCoordinatorMetrics, renderGroupMetrics } from "./group_metrics.ts";
import { type GroupHandler, type GroupRequestContext, groupHandlers } from "./handlers.ts";
import { OffsetsLog, type OffsetsLoadReport } from "./offsets_log.ts";
import { openOffsetsLogFile } from "./offsets_log_file.ts";
import { systemTimers, type Timers } from "./timers.ts";

export { GroupCoordinator } from "./coordinator.ts";
export { OffsetsLog } from "./offsets_log.ts";

/** What the coordinator needs of the engine's topic view. */
export interface GroupsTopicView extends TopicInfo {
  /** `cb(topic)` after a topic is created, deleted or gains partitions; returns an unsubscribe function. */
  onPartitionsChanged(cb: (topic: string) => void): () => void;
}

export interface GroupsDispatcher {
  register(apiKey: number, handler: (body: unknown, ctx: GroupRequestContext) => unknown, options?: { name?: string }): void;
}

export interface GroupsMetrics {
  addProvider(provider: () => string): () => void;
}

export interface AttachGroupsOptions {
  /** The broker's data directory; offsets live in `<dataDir>/__consumer_offsets/` (single node). */
  readonly dataDir: string;
  /**
   * Cluster mode: the engine whose `__consumer_offsets` partitions hold the
   * offsets (its `cluster` is set once the broker joined), and this broker's
   * advertised native address (not used in cluster mode: etcd's is).
   */
  readonly cluster?: { readonly engine: Engine };
  /** The native listener's address, for a single node's FindCoordinator. */
  readonly advertised?: () => { host: string; port: number };
  readonly topics: GroupsTopicView;
  readonly dispatcher: GroupsDispatcher;
  readonly metrics?: GroupsMetrics;
  readonly log?: (line: string) => void;
  readonly timers?: Timers;
}

export interface AttachedGroups {
  readonly coordinator: GroupCoordinator;
  /** Single node: the local offsets log; undefined in a cluster. */
  readonly offsets: OffsetsLog | undefined;
  /** Cluster mode: the store over `__consumer_offsets`. */
  readonly clusterOffsets: ClusterOffsetStore | undefined;
  readonly loadReport: OffsetsLoadReport | undefined;
  /**
   * Answers parked joins, stops timers, writes pending commits, closes the offsets log. Idempotent.
   * The handlers stay registered and answer COORDINATOR_NOT_AVAILABLE (retriable) from then on.
   */
  close(): void;
}

export const OFFSETS_DIR_NAME = "__consumer_offsets";

export function attachGroups(opts: AttachGroupsOptions): AttachedGroups {
  const log = opts.log ?? ((line: string) => console.error(line));
  const engine = opts.cluster?.engine;
  // Single node: the local log, exactly as before. Cluster: nothing local; the replicated topic.
  const offsets = engine === undefined ? OffsetsLog.open({ dir: path.join(opts.dataDir, OFFSETS_DIR_NAME), openFile: openOffsetsLogFile, log }) : undefined;
  let coordinator: GroupCoordinator | undefined;
  const clusterOffsets =
    engine === undefined
      ? undefined
      : new ClusterOffsetStore({
          host: engineOffsetsHost(engine),
          log,
          // The partition moved: its groups' members rejoin at the new coordinator.
          onUnloaded: (p) => coordinator?.dropGroups((id) => offsetsPartitionFor(id) === p),
        });
  coordinator = new GroupCoordinator({
    timers: opts.timers ?? systemTimers(),
    topics: opts.topics,
    offsets: (offsets ?? clusterOffsets)!,
    ownership: clusterOffsets,
    onRebalanced: (groupId, generationId, reason, members) =>
      log(`groups: ${groupId} generation ${generationId} with ${members} member(s) (${reason})`),
  });
  const handlers: Map<number, GroupHandler> = groupHandlers(coordinator);
  handlers.set(GroupApiKey.FindCoordinator, async (body) => {
    const { groupId } = parseGroupMessage(FindCoordinatorRequestSchema, body);
    return findCoordinator(groupId, engine, opts.advertised, log);
  });
  for (const [key, handler] of handlers) {
    const name = Object.entries(GroupApiKey).find(([, k]) => k === key)?.[0];
    opts.dispatcher.register(key, handler, { name });
  }
  const removeProvider = opts.metrics?.addProvider(
    () => renderGroupMetrics(coordinator.metricsRows()) + (clusterOffsets === undefined ? "" : renderCoordinatorMetrics(clusterOffsets.ledPartitions(), clusterOffsets.loadsTotal)),
  );
  const unsubscribe = opts.topics.onPartitionsChanged((topic) => coordinator.partitionsChanged(topic));
  // Cluster mode: notice leadership changes of the offsets partitions that no request asks about.
  const roleCheck = clusterOffsets === undefined ? undefined : setInterval(() => clusterOffsets.sync(), OFFSETS_ROLE_CHECK_INTERVAL_MS);
  roleCheck?.unref?.();
  let closed = false;
  return {
    coordinator,
    offsets,
    clusterOffsets,
    loadReport: offsets?.loadReport,
    close() {
      if (closed) return;
      closed = true;
      if (roleCheck !== undefined) clearInterval(roleCheck);
      unsubscribe();
      removeProvider?.();
      coordinator.close();
      offsets?.close();
      clusterOffsets?.close();
    },
  };
}

/** FindCoordinator (native): this broker on a single node; in a cluster, the leader of the group's offsets partition. */
async function findCoordinator(
  groupId: string,
  engine: Engine | undefined,
  advertised: (() => { host: string; port: number }) | undefined,
  log: (line: string) => void,
): Promise<FindCoordinatorResponse> {
  if (engine === undefined) {
    const a = advertised?.() ?? { host: "", port: 0 };
    return { nodeId: 0, host: a.host, port: a.port };
  }
  const cluster = engine.cluster;
  if (cluster === undefined) throw new SluiceError(ErrorCode.COORDINATOR_NOT_AVAILABLE, "this broker has not joined its cluster yet");
  const found = await locateCoordinator(cluster, groupId, log);
  if (found.errorCode !== ErrorCode.NONE) throw new SluiceError(found.errorCode, found.message ?? "no coordinator");
  return { nodeId: found.nodeId, host: found.host, port: found.port };
}

/** The coordinator as a broker plugin (engine/broker_plugins.ts lists it). */
export function groupsPlugin(): BrokerPlugin {
  return {
    name: "groups",
    start(ctx) {
      const groups = attachGroups({
        dataDir: ctx.config.dataDir,
        topics: ctx.engine.topicView(),
        dispatcher: ctx.dispatcher,
        metrics: ctx.metrics,
        // Configured for a cluster: offsets in the replicated topic (the engine joins the cluster after the plugins start).
        cluster: ctx.config.clusterEtcd !== undefined ? { engine: ctx.engine } : undefined,
        advertised: ctx.advertised,
        log: (line) => ctx.log(line),
      });
      // Kafka clients' groups: the same coordinator, the leader assigning.
      registerKafkaGroupApis(ctx.kafkaHandlers, groups.coordinator);
      const r = groups.loadReport;
      if (r !== undefined) {
        ctx.log(`groups: loaded ${r.liveKeys} committed offsets from ${r.records} records in ${r.loadMs.toFixed(1)} ms${r.compacted ? " (compacted)" : ""}`);
      } else {
        ctx.log("groups: cluster mode: committed offsets in the replicated __consumer_offsets topic");
      }
      return { close: () => groups.close() };
    },
  };
}
