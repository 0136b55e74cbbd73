// Admin: topics (create, delete, list, describe, add partitions, change
// configuration), offsets, and in a cluster the brokers, leaders and partition
// moves (reassignments.ts).
//
//   const admin = new Admin({ broker: "127.0.0.1:9900" });
//   await admin.createTopic("orders", { partitions: 6, configs: { "retention.ms": "86400000" } });
//   console.log(await admin.describeTopics(["orders"]));
//   await admin.close();
//
// Reads (list, describe, list offsets) are retried on a lost connection;
// changes are not (a retried create could report TOPIC_ALREADY_EXISTS for
// its own first attempt), so a change that failed with a ConnectionError may
// or may not have happened: describe to find out. A per-topic error is thrown
// as a SluiceError with that topic's code and the broker's message.

import { ApiKey } from "../protocol/api_keys.ts";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import type { ElectLeadersResponse, MetadataResponse, TopicDescription, TopicResult } from "../protocol/messages/control.ts";
import { backoffMs, delay } from "./backoff.ts";
import { BrokerLink, controlCall, type RequestLink } from "./broker_link.ts";
import { REASSIGNMENT_WAIT_MS_DEFAULT } from "./client_limits.ts";
import { ConnectionError, errorCodeName } from "./errors.ts";
import { listOffsets, type OffsetAnswer, type OffsetRequest } from "./list_offsets.ts";
import * as moves from "./reassignments.ts";
import type * as wire from "../protocol/messages/reassignments.ts";
import { clientConfig, type ClientOptions } from "./options.ts";

export interface AdminOptions extends ClientOptions {
  /** Attempts of a read after a lost connection (default 3). */
  readonly readAttempts?: number;
  /** Test seam: the request link. */
  readonly link?: RequestLink;
}

export interface NewTopic {
  readonly name: string;
  /** Default: the broker's num.partitions. */
  readonly partitions?: number;
  /** Kafka topic settings ("retention.ms", "segment.bytes", ...), validated by the broker. */
  readonly configs?: Record<string, string>;
  /** A cluster's brokers holding each partition (default: the cluster's default replication factor; a single node takes only 1). */
  readonly replicationFactor?: number;
}

export type { TopicDescription, PartitionDescription, MetadataResponse, ElectLeadersResponse } from "../protocol/messages/control.ts";
export type {
  BalanceByLoadResponse,
  ClusterBroker,
  DescribeClusterResponse,
  ListPartitionReassignmentsResponse,
  PartitionReassignment,
  ProposeReassignmentResponse,
  ReassignmentOutcome,
} from "../protocol/messages/reassignments.ts";
export type { DecommissionResult, PartitionReassignmentChange } from "./reassignments.ts";

export class Admin {
  private readonly link: RequestLink;
  private readonly readAttempts: number;

  constructor(options: AdminOptions = {}) {
    const config = clientConfig(options);
    this.link = options.link ?? new BrokerLink(config, "admin");
    this.readAttempts = options.readAttempts ?? 3;
  }

  async createTopics(topics: readonly NewTopic[], options?: { validateOnly?: boolean }): Promise<void> {
    const response = await controlCall(this.link, ApiKey.CreateTopics, {
      topics: topics.map((t) => ({
        name: t.name,
        partitions: t.partitions ?? -1,
        ...(t.configs ? { configs: t.configs } : {}),
        ...(t.replicationFactor !== undefined ? { replicationFactor: t.replicationFactor } : {}),
      })),
      ...(options?.validateOnly ? { validateOnly: true } : {}),
    });
    throwFirstError("create topic", response.topics);
  }

  createTopic(name: string, options: Omit<NewTopic, "name"> = {}): Promise<void> {
    return this.createTopics([{ name, ...options }]);
  }

  async deleteTopics(names: readonly string[]): Promise<void> {
    const response = await controlCall(this.link, ApiKey.DeleteTopics, { topics: [...names] });
    throwFirstError("delete topic", response.topics);
  }

  /** Raises a topic's partition count to `count` (partitions are never removed). */
  async createPartitions(name: string, count: number): Promise<void> {
    const response = await controlCall(this.link, ApiKey.CreatePartitions, { topics: [{ name, count }] });
    throwFirstError("add partitions to", response.topics);
  }

  /** Sets (and optionally removes) topic settings; the broker validates them as at creation. */
  async alterTopicConfig(name: string, change: { set?: Record<string, string>; delete?: string[] }): Promise<void> {
    const response = await controlCall(this.link, ApiKey.AlterConfigs, {
      topics: [{ name, set: change.set ?? {}, ...(change.delete?.length ? { delete: change.delete } : {}) }],
    });
    throwFirstError("change the configuration of", response.topics);
  }

  /** Names of all topics, sorted. */
  async listTopics(): Promise<string[]> {
    const metadata = await this.metadata(null);
    return metadata.topics.filter((t) => !t.internal).map((t) => t.name).sort();
  }

  /** Metadata of some topics, or all (null). Does not create topics. */
  metadata(topics: readonly string[] | null): Promise<MetadataResponse> {
    return this.read(() => controlCall(this.link, ApiKey.Metadata, { topics: topics === null ? null : [...topics], allowAutoCreate: false }));
  }

  /**
   * Per-partition state and rates (DescribeTopics): offsets, bytes, segments,
   * messagesInPerSec and bytesInPerSec, the worker, online. A missing topic
   * throws UNKNOWN_TOPIC_OR_PARTITION.
   */
  async describeTopics(names: readonly string[] | null): Promise<TopicDescription[]> {
    const response = await this.read(() => controlCall(this.link, ApiKey.DescribeTopics, { topics: names === null ? null : [...names] }));
    throwFirstError("describe topic", response.topics);
    return response.topics;
  }

  /**
   * Preferred leader elections in a cluster (`sluice cluster elect-leaders`):
   * each partition in scope whose first replica is registered, not shutting
   * down and in the ISR gets it as leader. Per partition the answer's
   * errorCode is NONE (moved), ELECTION_NOT_NEEDED or
   * PREFERRED_LEADER_NOT_AVAILABLE (reason: not registered, shutting down,
   * not in ISR). A scope that names nothing throws
   * UNKNOWN_TOPIC_OR_PARTITION; a single node INVALID_REQUEST. Not retried
   * on a lost connection (it is a change): ask again, it is harmless.
   */
  electLeaders(scope: { topic?: string; partition?: number } = {}): Promise<ElectLeadersResponse> {
    return controlCall(this.link, ApiKey.ElectLeaders, { topic: scope.topic ?? null, partition: scope.partition ?? null });
  }

  /**
   * The cluster's registered brokers (id, host, native, Kafka and HTTP ports,
   * rack) and its controller; a single node describes itself (clusterName null).
   */
  describeCluster(): Promise<wire.DescribeClusterResponse> {
    return this.read(() => moves.describeCluster(this.link));
  }

  /**
   * Starts partition moves (a replica list per partition, first = preferred
   * leader; the replication factor stays) and cancels others (replicas null:
   * the partition goes back to its old replicas), as Kafka's
   * AlterPartitionReassignments (KIP-455). `throttleBytesPerSec` caps what
   * each leader sends to the replicas being added. Resolves with one outcome
   * per change, in order: NONE (started; a list equal to the current one is
   * a no-op), UNKNOWN_TOPIC_OR_PARTITION, INVALID_REPLICA_ASSIGNMENT (a
   * broker twice, an empty list), INVALID_REPLICATION_FACTOR,
   * BROKER_NOT_AVAILABLE, REASSIGNMENT_IN_PROGRESS (already moving: wait or
   * cancel first), NO_REASSIGNMENT_IN_PROGRESS (a cancel of a partition not
   * moving), NOT_ENOUGH_REPLICAS (a cancel that would leave too few in-sync
   * old replicas). Throws INVALID_REQUEST on a single node or past
   * REASSIGNMENT_REQUEST_PARTITIONS_MAX changes. Not retried (a change).
   */
  alterPartitionReassignments(changes: readonly moves.PartitionReassignmentChange[], options: { throttleBytesPerSec?: number } = {}): Promise<wire.ReassignmentOutcome[]> {
    return moves.alterPartitionReassignments(this.link, changes, options.throttleBytesPerSec ?? null);
  }

  /** Cancels the moves of these partitions (alterPartitionReassignments with null replicas). */
  cancelPartitionReassignments(partitions: readonly { topic: string; partition: number }[]): Promise<wire.ReassignmentOutcome[]> {
    return this.alterPartitionReassignments(partitions.map((p) => ({ topic: p.topic, partition: p.partition, replicas: null })));
  }

  /**
   * The moves in progress (`topics`: topic → partitions, [] meaning all of
   * it; absent: every move): replicas (old then adding), target, adding,
   * removing, leader, ISR, throttle. With `progress` the broker reads each
   * moving partition's leader's `/metrics` for bytesTotal, bytesCopied and
   * bytesRemaining (null where a leader did not answer); without it they are null.
   */
  listPartitionReassignments(options: { topics?: Record<string, readonly number[]>; progress?: boolean } = {}): Promise<wire.ListPartitionReassignmentsResponse> {
    return this.read(() => moves.listPartitionReassignments(this.link, options.topics, options.progress ?? false));
  }

  /**
   * A balanced plan that puts the partitions (of `topics`, or all) on
   * `brokers` only, moving as few replicas as it can (`sluice partitions
   * reassign --generate`), with replica and leader counts per broker before
   * and after. Start it with alterPartitionReassignments(plan.plan.partitions).
   */
  proposeReassignment(brokers: readonly number[], options: { topics?: readonly string[] } = {}): Promise<wire.ProposeReassignmentResponse> {
    return this.read(() => moves.proposeReassignment(this.link, brokers, options.topics ?? null));
  }

  /**
   * A plan that evens out the bytes per second each broker takes, from the
   * brokers' load reports (`sluice cluster balance --by-load`), with the
   * predicted per-broker loads before and after.
   */
  balanceByLoad(): Promise<wire.BalanceByLoadResponse> {
    return this.read(() => moves.balanceByLoad(this.link));
  }

  /**
   * Starts moving every replica off `brokerId` (the proposeReassignment plan
   * over every other registered broker, started with
   * alterPartitionReassignments). Wait with waitForReassignments(); the
   * broker may be stopped once they are done.
   */
  decommission(brokerId: number, options: { throttleBytesPerSec?: number } = {}): Promise<moves.DecommissionResult> {
    return moves.decommission(this.link, brokerId, options.throttleBytesPerSec ?? null);
  }

  /**
   * Resolves once none of `partitions` (absent: no partition at all) is
   * moving; throws REQUEST_TIMED_OUT after `timeoutMs` (default REASSIGNMENT_WAIT_MS_DEFAULT, 10 minutes).
   */
  waitForReassignments(
    partitions?: readonly { topic: string; partition: number }[],
    options: { timeoutMs?: number; progress?: boolean; onProgress?: (r: wire.ListPartitionReassignmentsResponse) => void } = {},
  ): Promise<void> {
    return moves.waitForReassignments((progress) => this.listPartitionReassignments({ progress }), partitions, {
      timeoutMs: options.timeoutMs ?? REASSIGNMENT_WAIT_MS_DEFAULT,
      progress: options.progress,
      onProgress: options.onProgress,
    });
  }

  /** Earliest, latest, or by-timestamp offsets. Per-partition errors are in the answers. */
  listOffsets(requests: readonly OffsetRequest[]): Promise<OffsetAnswer[]> {
    return this.read(() => listOffsets(this.link, requests));
  }

  close(): Promise<void> {
    this.link.close();
    return Promise.resolve();
  }

  private async read<T>(call: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (e) {
        // A connection that could not be opened was already retried (with backoff) by the link.
        if (!(e instanceof ConnectionError) || e.phase === "connect" || attempt >= this.readAttempts) throw e;
        await delay(backoffMs(attempt - 1, { initialMs: 50, maxMs: 500 }));
      }
    }
  }
}

function throwFirstError(what: string, results: ReadonlyArray<Pick<TopicResult, "name" | "errorCode"> & { message?: string | null }>): void {
  for (const r of results) {
    if (r.errorCode === ErrorCode.NONE) continue;
    const detail = r.message ? `: ${r.message}` : "";
    throw new SluiceError(r.errorCode, `${what} '${r.name}' failed with ${errorCodeName(r.errorCode)}${detail}`);
  }
}
