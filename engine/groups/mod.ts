// The group coordinator's public face: attachGroups() loads committed offsets,
// creates the coordinator, registers the group APIs with the dispatcher and the
// lag metrics with the registry, and follows partition-count changes.
//
// Wiring (engine start): `const groups = attachGroups({ dataDir, topics: engine.topicView(),
// dispatcher, metrics })`; at shutdown `groups.close()` (answers parked joins, writes
// pending commits, closes the offsets log).

import path from "node:path";
import type { BrokerPlugin } from "../broker.ts";
import { GroupApiKey } from "../../protocol/messages/groups.ts";
import { registerKafkaGroupApis } from "../kafka/group_apis.ts";
import { GroupCoordinator, type TopicInfo } from "./coordinator.ts";
import { renderGroupMetrics } from "./group_metrics.ts";
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
  /** The broker's data directory; offsets live in `<dataDir>/__consumer_offsets/`. */
  readonly dataDir: string;
  readonly topics: GroupsTopicView;
  readonly dispatcher: GroupsDispatcher;
  readonly metrics?: GroupsMetrics;
  readonly log?: (line: string) => void;
  readonly timers?: Timers;
}

export interface AttachedGroups {
  readonly coordinator: GroupCoordinator;
  readonly offsets: OffsetsLog;
  readonly loadReport: OffsetsLoadReport;
  /**
   * Answers parked joins, stops timers, writes pending commits, closes the offsets log. Idempotent.
   * The handlers stay registered and answer COORDINATOR_NOT_AVAILABLE (retriable) from then on.
   */
  close(): void;
}

export const OFFSETS_DIR_NAME = "__consumer_offsets";

export function attachGroups(opts: AttachGroupsOptions): AttachedGroups {
  const log = opts.log ?? ((line: string) => console.error(line));
  const offsets = OffsetsLog.open({ dir: path.join(opts.dataDir, OFFSETS_DIR_NAME), openFile: openOffsetsLogFile, log });
  const coordinator = new GroupCoordinator({
    timers: opts.timers ?? systemTimers(),
    topics: opts.topics,
    offsets,
    onRebalanced: (groupId, generationId, reason, members) =>
      log(`groups: ${groupId} generation ${generationId} with ${members} member(s) (${reason})`),
  });
  const handlers: Map<number, GroupHandler> = groupHandlers(coordinator);
  for (const [key, handler] of handlers) {
    const name = Object.entries(GroupApiKey).find(([, k]) => k === key)?.[0];
    opts.dispatcher.register(key, handler, { name });
  }
  const removeProvider = opts.metrics?.addProvider(() => renderGroupMetrics(coordinator.metricsRows()));
  const unsubscribe = opts.topics.onPartitionsChanged((topic) => coordinator.partitionsChanged(topic));
  let closed = false;
  return {
    coordinator,
    offsets,
    loadReport: offsets.loadReport,
    close() {
      if (closed) return;
      closed = true;
      unsubscribe();
      removeProvider?.();
      coordinator.close();
      offsets.close();
    },
  };
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
        log: (line) => ctx.log(line),
      });
      // Kafka clients' groups: the same coordinator, the leader assigning.
      registerKafkaGroupApis(ctx.kafkaHandlers, groups.coordinator);
      const r = groups.loadReport;
      ctx.log(`groups: loaded ${r.liveKeys} committed offsets from ${r.records} records in ${r.loadMs.toFixed(1)} ms${r.compacted ? " (compacted)" : ""}`);
      return { close: () => groups.close() };
    },
  };
}
