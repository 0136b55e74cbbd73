// FindCoordinator's answer, for both protocols: which broker coordinates a
// group. On a single node, the broker asked. In a cluster, the leader of the
// group's `__consumer_offsets` partition (offsets_topic.ts), as this broker's
// view of etcd says; COORDINATOR_NOT_AVAILABLE (retriable) while the
// partition has no leader, the leader is not registered, or the topic does
// not exist yet.
//
// The topic is created by the first FindCoordinator that needs it, through
// the controller's ordinary create path (a request key in etcd), with the
// cluster's default replication factor (3 unless `--default-replication-factor`
// says otherwise) and min.insync.replicas. As Kafka's
// offsets.topic.replication.factor, the factor is never lowered to fit: a
// cluster with fewer live brokers than that is refused
// (INVALID_REPLICATION_FACTOR, logged) and FindCoordinator keeps answering
// COORDINATOR_NOT_AVAILABLE, trying again at most every
// OFFSETS_TOPIC_CREATE_RETRY_MS, until enough brokers are live. Keeping fewer
// copies than the cluster promises for every other topic would make the
// committed offsets the first thing a broker loss takes.

import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import type { ClusterReplicas } from "../cluster_replicas.ts";
import { OFFSETS_SEGMENT_BYTES } from "../engine_limits.ts";
import { OFFSETS_TOPIC, OFFSETS_TOPIC_PARTITIONS, offsetsPartitionFor } from "./offsets_topic.ts";

export interface CoordinatorAddress {
  readonly errorCode: number;
  readonly message: string | null;
  readonly nodeId: number;
  readonly host: string;
  /** Native port. */
  readonly port: number;
  /** Kafka port; -1 when that broker has no Kafka listener. */
  readonly kafkaPort: number;
}

/** Longest FindCoordinator waits for the offsets topic's creation before answering COORDINATOR_NOT_AVAILABLE (the client retries). */
export const OFFSETS_TOPIC_CREATE_WAIT_MS = 3_000;
/** A failed creation (too few brokers) is tried again at most this often. */
export const OFFSETS_TOPIC_CREATE_RETRY_MS = 1_000;

/**
 * The offsets topic's configs: kept whole (no retention: an old commit is
 * still the group's position), large segments. Log compaction does not exist
 * yet, so the topic grows with every commit (docs/CLUSTER.md says so).
 */
export const OFFSETS_TOPIC_CONFIGS: Readonly<Record<string, string>> = {
  "retention.ms": "-1",
  "retention.bytes": "-1",
  "segment.bytes": String(OFFSETS_SEGMENT_BYTES),
};

const creating = new WeakMap<ClusterReplicas, { promise: Promise<void>; failedAtMs: number }>();

/** Starts (once) the creation of the offsets topic; resolves when this broker's view has it, rejects as the create did. */
export function ensureOffsetsTopic(cluster: ClusterReplicas, log: (line: string) => void): Promise<void> {
  if (cluster.hasTopic(OFFSETS_TOPIC)) return Promise.resolve();
  const running = creating.get(cluster);
  if (running !== undefined && (running.failedAtMs === 0 || Date.now() - running.failedAtMs < OFFSETS_TOPIC_CREATE_RETRY_MS)) return running.promise;
  const entry = { promise: Promise.resolve(), failedAtMs: 0 };
  entry.promise = cluster.createTopic(OFFSETS_TOPIC, OFFSETS_TOPIC_PARTITIONS, { ...OFFSETS_TOPIC_CONFIGS }, undefined).then(
    () => log(`groups: created ${OFFSETS_TOPIC} (${OFFSETS_TOPIC_PARTITIONS} partitions)`),
    (e) => {
      if (e instanceof SluiceError && e.code === ErrorCode.TOPIC_ALREADY_EXISTS) return;
      entry.failedAtMs = Date.now();
      log(`groups: could not create ${OFFSETS_TOPIC}: ${(e as Error)?.message ?? e}`);
      throw e;
    },
  );
  creating.set(cluster, entry);
  return entry.promise;
}

/** Which broker coordinates `groupId` in the cluster (see the file comment). */
export async function locateCoordinator(cluster: ClusterReplicas, groupId: string, log: (line: string) => void): Promise<CoordinatorAddress> {
  if (!cluster.hasTopic(OFFSETS_TOPIC)) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waited = await Promise.race([
      ensureOffsetsTopic(cluster, log).then(
        () => "created" as const,
        (e: unknown) => e,
      ),
      new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), OFFSETS_TOPIC_CREATE_WAIT_MS))),
    ]);
    clearTimeout(timer);
    if (waited !== "created") {
      const why = waited === "timeout" ? "is being created" : `cannot be created yet: ${(waited as Error)?.message ?? waited}`;
      return notAvailable(`the offsets topic ${why}`);
    }
  }
  const p = offsetsPartitionFor(groupId);
  const info = cluster.partitionInfo(OFFSETS_TOPIC, p);
  if (info === undefined || info.leader < 0) return notAvailable(`offsets partition ${p} has no leader`);
  const broker = cluster.brokers().find((b) => b.nodeId === info.leader);
  if (broker === undefined) return notAvailable(`the leader of offsets partition ${p}, broker ${info.leader}, is not registered`);
  return { errorCode: ErrorCode.NONE, message: null, nodeId: broker.nodeId, host: broker.host, port: broker.port, kafkaPort: broker.kafkaPort ?? -1 };
}

function notAvailable(message: string): CoordinatorAddress {
  return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, message, nodeId: -1, host: "", port: -1, kafkaPort: -1 };
}
