// A partition reassignment plan: which brokers should hold which partitions
// (docs/CLUSTER.md, "Scaling out"). The format is Kafka's
// kafka-reassign-partitions JSON, so plans written for Kafka read here and
// the other way round:
//
//   {"version": 1, "partitions": [{"topic": "t", "partition": 0, "replicas": [4, 1, 2]}, …]}
//
// Each entry's first replica is the partition's preferred leader. A plan
// names only the partitions it changes; a partition it does not name keeps
// its replicas. Checked here alone (shape, duplicates, each entry on its
// own); against the cluster (the topic and partition exist, every broker is
// registered) by checkPlanAgainst().

import { z } from "zod";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { topicNameProblem } from "../protocol/topic_name.ts";
import { REASSIGNMENT_PLAN_PARTITIONS_MAX } from "./cluster_limits.ts";

export const REASSIGNMENT_PLAN_VERSION = 1;

const BrokerIdSchema = z.number().int().min(0);

const PlanEntrySchema = z
  .object({
    topic: z.string().min(1),
    partition: z.number().int().min(0),
    replicas: z.array(BrokerIdSchema).min(1),
    // Kafka's tool writes log_dirs beside the replicas; one data dir per broker here, so only "any" is meaningful.
    log_dirs: z.array(z.literal("any")).optional(),
  })
  .strict();

export const ReassignmentPlanSchema = z
  .object({
    version: z.literal(REASSIGNMENT_PLAN_VERSION),
    partitions: z.array(PlanEntrySchema).max(REASSIGNMENT_PLAN_PARTITIONS_MAX),
  })
  .strict();

export interface PartitionAssignment {
  readonly topic: string;
  readonly partition: number;
  /** First = preferred leader. */
  readonly replicas: readonly number[];
}

export interface ReassignmentPlan {
  readonly version: typeof REASSIGNMENT_PLAN_VERSION;
  readonly partitions: readonly PartitionAssignment[];
}

/**
 * Parses and checks a plan on its own: Kafka's JSON shape, no partition named
 * twice, no broker twice in one replica list, valid topic names. Throws a
 * SluiceError (INVALID_REQUEST, INVALID_TOPIC_EXCEPTION,
 * INVALID_REPLICA_ASSIGNMENT) naming the first problem.
 */
export function parseReassignmentPlan(text: string): ReassignmentPlan {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new SluiceError(ErrorCode.INVALID_REQUEST, `the plan is not JSON: ${(e as Error).message}`);
  }
  const r = ReassignmentPlanSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue.path.length === 0 ? "the plan" : issue.path.join(".");
    throw new SluiceError(ErrorCode.INVALID_REQUEST, `${where}: ${issue.message}`);
  }
  const seen = new Set<string>();
  const partitions: PartitionAssignment[] = [];
  for (const [i, e] of r.data.partitions.entries()) {
    const problem = topicNameProblem(e.topic);
    if (problem !== null) throw new SluiceError(ErrorCode.INVALID_TOPIC_EXCEPTION, `partitions.${i}.topic: ${problem}`);
    const key = `${e.topic}\u0000${e.partition}`;
    if (seen.has(key)) throw new SluiceError(ErrorCode.INVALID_REQUEST, `partitions.${i}: ${e.topic}-${e.partition} is named twice`);
    seen.add(key);
    if (new Set(e.replicas).size !== e.replicas.length) {
      throw new SluiceError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `partitions.${i}: ${e.topic}-${e.partition} names a broker twice: [${e.replicas.join(", ")}]`);
    }
    if (e.log_dirs !== undefined && e.log_dirs.length !== e.replicas.length) {
      throw new SluiceError(ErrorCode.INVALID_REQUEST, `partitions.${i}.log_dirs: must have one entry per replica`);
    }
    partitions.push({ topic: e.topic, partition: e.partition, replicas: [...e.replicas] });
  }
  return { version: REASSIGNMENT_PLAN_VERSION, partitions };
}

/** What checkPlanAgainst() needs of the cluster. */
export interface ClusterAssignmentView {
  /** Partition count of a topic, undefined when it does not exist. */
  partitionsOf(topic: string): number | undefined;
  readonly brokers: ReadonlySet<number>;
}

/**
 * Checks a parsed plan against the cluster: every topic and partition exists
 * (UNKNOWN_TOPIC_OR_PARTITION) and every broker named is registered
 * (BROKER_NOT_AVAILABLE), so a plan never moves a replica to a broker that is
 * not there to take it.
 */
export function checkPlanAgainst(plan: ReassignmentPlan, cluster: ClusterAssignmentView): void {
  for (const e of plan.partitions) {
    const n = cluster.partitionsOf(e.topic);
    if (n === undefined || e.partition >= n) {
      throw new SluiceError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `${e.topic}-${e.partition} does not exist`);
    }
    const missing = e.replicas.filter((b) => !cluster.brokers.has(b));
    if (missing.length > 0) {
      throw new SluiceError(ErrorCode.BROKER_NOT_AVAILABLE, `${e.topic}-${e.partition}: broker${missing.length > 1 ? "s" : ""} ${missing.join(", ")} not registered`);
    }
  }
}

/** The plan as Kafka's tool prints it: one partition per line, so a diff of two plans reads well. */
export function formatReassignmentPlan(plan: ReassignmentPlan): string {
  const lines = plan.partitions.map((p) => `    ${JSON.stringify({ topic: p.topic, partition: p.partition, replicas: p.replicas })}`);
  return `{"version": ${plan.version}, "partitions": [\n${lines.join(",\n")}\n]}`;
}
