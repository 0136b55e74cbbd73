// Partition moves as admin calls any broker serves (docs/SCALING.md, "The
// admin API"): the native AlterPartitionReassignments,
// ListPartitionReassignments, ProposeReassignment and BalanceByLoad, and
// Kafka's AlterPartitionReassignments / ListPartitionReassignments (KIP-455).
// The broker checks each partition against its view of the cluster and
// answers per partition, then hands what passed to the controller as the
// same requests `sluice partitions reassign` puts (topic_requests.ts: op
// "reassign" and "cancelReassignment"), under its own session lease, as
// ElectLeaders does. The controller checks again against etcd
// (reassignment_controller.ts): a refusal there (the view trailed etcd) is
// the answer of every partition of that submission.
//
// Plans are made here from the view with the same pure planners the CLI
// uses: generateReassignment (balanced over a set of brokers; decommission
// is that plan without the broker) and planByLoad (from the brokers' load
// reports, read from etcd).

import { assert } from "../protocol/assert.ts";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { REASSIGNMENT_REQUEST_PARTITIONS_MAX, REPLICA_LIST_LENGTH_MAX } from "../protocol/limits.ts";
import { ETCD_REQUEST_BYTES_MAX, REPLICATION_FACTOR_MAX } from "./cluster_limits.ts";
import type { ClusterView } from "./cluster_view.ts";
import { type LoadPlan, planByLoad } from "./load_balance_planner.ts";
import type { LoadReport } from "./load_reports.ts";
import { type MoveStatus, moveStatus } from "./move_status.ts";
import type { PartitionAssignment } from "./reassignment_plan.ts";
import { type GeneratedPlan, generateReassignment } from "./reassignment_generator.ts";
import { moveOf, type TopicRecord } from "./topic_metadata.ts";
import type { TopicRequest, TopicRequestResult } from "./topic_requests.ts";

// REASSIGNMENT_REQUEST_PARTITIONS_MAX (protocol/limits.ts) bounds one alter call: what passes goes to
// the controller as one etcd value (~300 bytes an entry with the longest topic name and 16 replicas).
assert(REASSIGNMENT_REQUEST_PARTITIONS_MAX * 300 + 4096 < ETCD_REQUEST_BYTES_MAX, "a full reassignment request fits one etcd put");
assert(REPLICATION_FACTOR_MAX <= REPLICA_LIST_LENGTH_MAX, "every replica list a cluster allows fits the protocol's");

/** One partition of an alter call: its new replicas, or null to cancel its move. */
export interface ReassignmentChange {
  readonly topic: string;
  readonly partition: number;
  readonly replicas: readonly number[] | null;
}

export interface ReassignmentOutcome {
  readonly topic: string;
  readonly partition: number;
  readonly errorCode: number;
  readonly message: string | null;
}

/** What the admin calls need of a broker's cluster membership (ClusterMember). */
export interface ReassignmentHost {
  readonly view: ClusterView;
  /** Puts a request for the controller under the broker's session lease; throws SluiceError with its refusal. */
  requestTopicChange(request: TopicRequest): Promise<TopicRequestResult>;
  /** The brokers' load reports (etcd). */
  readLoadReports(): Promise<Map<number, LoadReport>>;
}

function key(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/** The first problem of one change against the view, or null when it may go to the controller. */
function problemOf(view: ClusterView, c: ReassignmentChange): { code: number; message: string } | null {
  const where = `${c.topic}-${c.partition}`;
  const record = view.topics.get(c.topic);
  if (record === undefined || c.partition >= record.partitions) return { code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, message: `${where} does not exist` };
  const moving = moveOf(record, c.partition) !== undefined;
  if (c.replicas === null) return moving ? null : { code: ErrorCode.NO_REASSIGNMENT_IN_PROGRESS, message: `${where} is not moving` };
  if (c.replicas.length === 0) return { code: ErrorCode.INVALID_REPLICA_ASSIGNMENT, message: `${where}: an empty replica list (null cancels a move)` };
  if (new Set(c.replicas).size !== c.replicas.length) return { code: ErrorCode.INVALID_REPLICA_ASSIGNMENT, message: `${where} names a broker twice: [${c.replicas}]` };
  if (c.replicas.length !== record.replicationFactor) {
    return { code: ErrorCode.INVALID_REPLICATION_FACTOR, message: `${where}: a move keeps the replication factor ${record.replicationFactor}, the request names ${c.replicas.length} replicas` };
  }
  const missing = c.replicas.filter((b) => !view.brokers.has(b));
  if (missing.length > 0) return { code: ErrorCode.BROKER_NOT_AVAILABLE, message: `${where}: broker(s) ${missing.join(", ")} not registered` };
  if (moving) return { code: ErrorCode.REASSIGNMENT_IN_PROGRESS, message: `${where} is already moving; wait for it or cancel it` };
  return null;
}

/** The outcome of a submission for each of its partitions. */
async function submit(host: ReassignmentHost, request: TopicRequest, changes: readonly ReassignmentChange[]): Promise<Map<string, ReassignmentOutcome>> {
  let errorCode: number = ErrorCode.NONE;
  let message: string | null = null;
  try {
    await host.requestTopicChange(request);
  } catch (e) {
    errorCode = e instanceof SluiceError ? e.code : ErrorCode.UNKNOWN_SERVER_ERROR;
    message = (e as Error)?.message ?? String(e);
  }
  return new Map(changes.map((c) => [key(c.topic, c.partition), { topic: c.topic, partition: c.partition, errorCode, message }]));
}

/**
 * Starts and cancels moves (KIP-455 semantics, with Sluice's rules: a move
 * keeps the replication factor, and a moving partition must finish or be
 * cancelled before it can be moved again). Resolves with one outcome per
 * change, in request order; a partition named twice is refused for each.
 * Throws SluiceError INVALID_REQUEST over REASSIGNMENT_REQUEST_PARTITIONS_MAX
 * or for a bad throttle.
 */
export async function alterReassignments(host: ReassignmentHost, changes: readonly ReassignmentChange[], throttleBytesPerSec: number | null): Promise<ReassignmentOutcome[]> {
  if (changes.length > REASSIGNMENT_REQUEST_PARTITIONS_MAX) {
    throw new SluiceError(ErrorCode.INVALID_REQUEST, `${changes.length} partitions in one reassignment request; at most ${REASSIGNMENT_REQUEST_PARTITIONS_MAX} (send the rest in another)`);
  }
  if (throttleBytesPerSec !== null && (!Number.isSafeInteger(throttleBytesPerSec) || throttleBytesPerSec < 1)) {
    throw new SluiceError(ErrorCode.INVALID_REQUEST, `throttleBytesPerSec must be a positive integer or null, got ${throttleBytesPerSec}`);
  }
  const seen = new Map<string, number>();
  for (const c of changes) seen.set(key(c.topic, c.partition), (seen.get(key(c.topic, c.partition)) ?? 0) + 1);
  const outcomes = new Map<string, ReassignmentOutcome>();
  const starts: ReassignmentChange[] = [];
  const cancels: ReassignmentChange[] = [];
  for (const c of changes) {
    const k = key(c.topic, c.partition);
    if (seen.get(k)! > 1) {
      outcomes.set(k, { topic: c.topic, partition: c.partition, errorCode: ErrorCode.INVALID_REQUEST, message: `${c.topic}-${c.partition} appears more than once in the request` });
      continue;
    }
    const problem = problemOf(host.view, c);
    if (problem !== null) outcomes.set(k, { topic: c.topic, partition: c.partition, errorCode: problem.code, message: problem.message });
    else (c.replicas === null ? cancels : starts).push(c);
  }
  const submitted = await Promise.all([
    starts.length === 0
      ? new Map<string, ReassignmentOutcome>()
      : submit(host, { op: "reassign", partitions: starts.map((c) => ({ topic: c.topic, partition: c.partition, replicas: [...c.replicas!] })), throttleBytesPerSec }, starts),
    cancels.length === 0
      ? new Map<string, ReassignmentOutcome>()
      : submit(host, { op: "cancelReassignment", partitions: cancels.map((c) => ({ topic: c.topic, partition: c.partition })) }, cancels),
  ]);
  for (const m of submitted) for (const [k, o] of m) outcomes.set(k, o);
  return changes.map((c) => outcomes.get(key(c.topic, c.partition))!);
}

/**
 * The moves in progress as the broker's view has them (`only`: topic →
 * partitions, an empty list meaning all of the topic; null: every move).
 * `withProgress` reads each moving partition's leader's `/metrics` for
 * bytes copied and remaining (move_status.ts); without it those are null.
 */
export function listReassignments(view: ClusterView, only: ReadonlyMap<string, readonly number[]> | null, withProgress: boolean): Promise<MoveStatus[]> {
  return moveStatus({
    topics: [...view.topics].map(([name, record]) => ({ name, record, state: (p: number) => view.partitionState(name, p) })),
    brokers: new Map([...view.brokers].map(([id, b]) => [id, { host: b.info.host, httpPort: b.info.httpPort }])),
    only: only === null ? undefined : new Map([...only].map(([t, ps]) => [t, new Set(ps)])),
    withProgress,
  });
}

/** The current assignment (a moving partition counts where its move ends), of `topics` or every topic. */
function currentAssignment(topics: Iterable<readonly [string, TopicRecord]>, wanted: ReadonlySet<string> | null): PartitionAssignment[] {
  const current: PartitionAssignment[] = [];
  for (const [name, record] of topics) {
    if (wanted !== null && !wanted.has(name)) continue;
    record.replicas.forEach((replicas, partition) => current.push({ topic: name, partition, replicas: record.moves?.[String(partition)]?.target ?? replicas }));
  }
  return current;
}

/** What proposeReassignment() plans over: the topics and the registered brokers with their racks. */
export interface ProposalInput {
  readonly topics: Iterable<readonly [string, TopicRecord]>;
  readonly registered: ReadonlyMap<number, string | null>;
  /** The brokers the partitions should end on (a registered broker left out is emptied). */
  readonly brokers: readonly number[];
  /** Only these topics (null: every topic). */
  readonly onlyTopics: readonly string[] | null;
}

/**
 * A balanced plan over `brokers` (reassignment_generator.ts), as `sluice
 * partitions reassign --generate` prints it. Throws SluiceError
 * BROKER_NOT_AVAILABLE for a broker not registered, UNKNOWN_TOPIC_OR_PARTITION
 * for a topic that does not exist, INVALID_REQUEST for no brokers. Pure.
 */
export function proposeReassignment(input: ProposalInput): GeneratedPlan {
  const missing = input.brokers.filter((b) => !input.registered.has(b));
  if (missing.length > 0) throw new SluiceError(ErrorCode.BROKER_NOT_AVAILABLE, `broker${missing.length > 1 ? "s" : ""} ${missing.join(", ")} not registered (start it with this cluster's etcd first)`);
  const topics = [...input.topics];
  const wanted = input.onlyTopics === null ? null : new Set(input.onlyTopics);
  const unknown = wanted === null ? [] : [...wanted].filter((t) => !topics.some(([name]) => name === t));
  if (unknown.length > 0) throw new SluiceError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `unknown topic${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}`);
  return generateReassignment({ current: currentAssignment(topics, wanted), brokers: [...input.brokers], racks: input.registered });
}

/** proposeReassignment() over a broker's view. */
export function proposeFromView(view: ClusterView, brokers: readonly number[], onlyTopics: readonly string[] | null): GeneratedPlan {
  return proposeReassignment({ topics: view.topics, registered: new Map([...view.brokers].map(([id, b]) => [id, b.info.rack])), brokers, onlyTopics });
}

/**
 * The load-based plan (`sluice cluster balance --by-load`) from the view and
 * the brokers' load reports: moves that even out the bytes per second each
 * broker takes, with the predicted per-broker loads before and after.
 */
export async function balanceByLoad(host: ReassignmentHost): Promise<LoadPlan & { silentBrokers: number[] }> {
  const reports = await host.readLoadReports();
  const view = host.view;
  const brokers = [...view.brokers.keys()].sort((a, b) => a - b);
  const current = [...view.topics].flatMap(([name, record]) =>
    record.replicas.map((replicas, partition) => ({ topic: name, partition, replicas, leader: view.partitionState(name, partition)?.leader ?? -1 })),
  );
  const plan = planByLoad({ current, brokers, reports, racks: new Map([...view.brokers].map(([id, b]) => [id, b.info.rack])) });
  return { ...plan, silentBrokers: brokers.filter((b) => !reports.has(b)) };
}
