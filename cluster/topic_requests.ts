// Topic admin requests in cluster mode (docs/CLUSTER.md, "Topic admin
// requests"): any broker that gets a CreateTopics / DeleteTopics /
// CreatePartitions puts a request key under its own session lease,
// `requests/<uuid>`; the controller, which watches the cluster's root prefix
// anyway, applies it with its fenced writes (controller_topics.ts) and writes
// the outcome back into the same key; the asking broker sees the outcome in
// its view, answers its client and deletes the key.
//
// A request is answered once: the controller's answer compares the key's mod
// revision with the one it read unanswered (the answer is a write), so a request applied again (the controller's view had not
// yet shown its answer, or a successor found it unanswered) cannot overwrite
// the first answer. A reassignment's answer is written in the same
// transaction that starts its moves, or after the last chunk of a plan
// accepted first (move_start.ts); a successor finishes the accepted plans it
// finds on election. A cancel's answer goes with its rollback where that fits
// one transaction (reassignment_controller.ts).
//
// The same mechanism carries a partition leader's ISR change (op
// "alterPartition", Kafka's AlterPartition): the controller decides it
// (alter_partition.ts) and answers with the partition's new state.
//
// Why a request key and not a forwarded call: no broker needs a connection to
// the controller or to know its address; a controller change in the middle
// loses nothing (the successor finds the unanswered request in its first
// snapshot); a broker that dies while waiting takes its requests with its
// lease. The controller's answer is written under the asking broker's lease
// too, so nothing outlives the broker that asked.

import { z } from "zod";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { TOPIC_REQUEST_TIMEOUT_MS, TOPIC_REQUESTS_IN_FLIGHT_MAX } from "./cluster_limits.ts";
import type { ClusterKeys } from "./cluster_keys.ts";
import type { ClusterView } from "./cluster_view.ts";
import { alterPartition } from "./alter_partition.ts";
import { ELECT_LEADERS_RESULTS_MAX, REASSIGNMENT_PLAN_PARTITIONS_MAX, REPLICATION_FACTOR_MAX } from "./cluster_limits.ts";
import { electPreferredLeaders } from "./leader_elections.ts";
import { type AnswerOf, finishPlan, readPlans, startPlan } from "./move_start.ts";
import { cancelPlan } from "./reassignment_controller.ts";
import { type ControllerContext, addPartitions, createTopic, deleteTopic } from "./controller_topics.ts";
import { ControllerFencedError } from "./controller_election.ts";
import type { EtcdClient } from "./etcd_client.ts";
import { cmp, type KeyValue, op } from "./etcd_wire.ts";
import { parseJson, PartitionStateSchema } from "./topic_metadata.ts";

const MovePartitionSchema = z.object({ topic: z.string().min(1), partition: z.number().int().min(0) }).strict();

const RequestBodySchema = z.discriminatedUnion("op", [
  z.object({
    op: z.literal("create"),
    topic: z.string().min(1),
    partitions: z.number().int(),
    replicationFactor: z.number().int(),
    configs: z.record(z.string(), z.string()),
  }).strict(),
  z.object({ op: z.literal("delete"), topic: z.string().min(1) }).strict(),
  z.object({ op: z.literal("addPartitions"), topic: z.string().min(1), total: z.number().int() }).strict(),
  z.object({
    op: z.literal("alterPartition"),
    topic: z.string().min(1),
    partition: z.number().int().min(0),
    brokerId: z.number().int().min(0),
    leaderEpoch: z.number().int().min(0),
    partitionEpoch: z.number().int().min(0),
    isr: z.array(z.number().int().min(0)).min(1).max(REPLICATION_FACTOR_MAX),
  }).strict(),
  // Preferred leader elections (leader_elections.ts): every topic, one topic, or one partition of it.
  z.object({ op: z.literal("electLeaders"), topic: z.string().min(1).optional(), partition: z.number().int().min(0).optional() }).strict(),
  // Moves (reassignment_controller.ts, docs/SCALING.md): a checked plan's entries, and a cancel (null: every move).
  z.object({
    op: z.literal("reassign"),
    partitions: z.array(MovePartitionSchema.extend({ replicas: z.array(z.number().int().min(0)).min(1).max(REPLICATION_FACTOR_MAX) }).strict()).min(1).max(REASSIGNMENT_PLAN_PARTITIONS_MAX),
    throttleBytesPerSec: z.number().int().min(1).nullable(),
  }).strict(),
  z.object({ op: z.literal("cancelReassignment"), partitions: z.array(MovePartitionSchema).max(REASSIGNMENT_PLAN_PARTITIONS_MAX).nullable() }).strict(),
]);

/** What a request is about, for messages. */
function subjectOf(req: TopicRequest): string {
  if (req.op === "electLeaders") return `topic '${req.topic ?? "*"}'`;
  return "topic" in req ? `topic '${req.topic}'` : `${req.partitions === null ? "every moving" : req.partitions.length} partition(s)`;
}

export type TopicRequest = z.output<typeof RequestBodySchema>;

const ElectionsSchema = z.object({
  partitions: z.array(z.object({ topic: z.string(), partition: z.number().int(), errorCode: z.number().int(), reason: z.string(), leader: z.number().int() }).strict()).max(ELECT_LEADERS_RESULTS_MAX),
  moved: z.number().int(),
  notNeeded: z.number().int(),
  notAvailable: z.number().int(),
  omitted: z.number().int(),
}).strict();

/** The controller's answer; `state`: the partition's new state (alterPartition); `elections`: per partition outcomes (electLeaders). */
const ResultSchema = z.object({ errorCode: z.number().int(), message: z.string().nullable(), state: PartitionStateSchema.optional(), elections: ElectionsSchema.optional() }).strict();

export type TopicRequestResult = z.output<typeof ResultSchema>;

const RequestRecordSchema = z.object({ request: RequestBodySchema, lease: z.string().min(1), result: ResultSchema.optional() }).strict();

/** A request as the view holds it, with the key's create and mod revisions (what the controller's answer compares). */
export interface TopicRequestRecord extends z.output<typeof RequestRecordSchema> {
  readonly createRevision: number;
  readonly modRevision: number;
}

export function parseTopicRequest(kv: KeyValue): TopicRequestRecord | undefined {
  const r = parseJson(RequestRecordSchema, kv);
  return r === undefined ? undefined : { ...r, createRevision: kv.createRevision, modRevision: kv.modRevision };
}

/**
 * Puts `request` and resolves once the controller applied it (the topic
 * change is then in etcd, and in `view` before the answer, since the view
 * applies etcd's changes in order), with the controller's answer. Throws
 * SluiceError with the controller's error code, or REQUEST_TIMED_OUT after
 * `timeoutMs` (no controller, or etcd away).
 */
export async function submitTopicRequest(
  ctx: { client: EtcdClient; keys: ClusterKeys; view: ClusterView; leaseId: string },
  request: TopicRequest,
  timeoutMs: number = TOPIC_REQUEST_TIMEOUT_MS,
): Promise<TopicRequestResult> {
  const id = crypto.randomUUID();
  const key = ctx.keys.request(id);
  let settle: ((r: z.output<typeof ResultSchema> | undefined) => void) | undefined;
  const answered = new Promise<z.output<typeof ResultSchema> | undefined>((resolve) => (settle = resolve));
  const check = (view: ClusterView) => {
    const r = view.requests.get(id)?.result;
    if (r !== undefined) settle?.(r);
  };
  const unsubscribe = ctx.view.subscribe(check);
  const timer = setTimeout(() => settle?.(undefined), timeoutMs);
  try {
    await ctx.client.put(key, JSON.stringify({ request, lease: ctx.leaseId }), { lease: ctx.leaseId });
    check(ctx.view);
    const result = await answered;
    if (result === undefined) {
      throw new SluiceError(ErrorCode.REQUEST_TIMED_OUT, `the cluster's controller did not answer the ${request.op} of ${subjectOf(request)} within ${timeoutMs} ms`);
    }
    if (result.errorCode !== ErrorCode.NONE) throw new SluiceError(result.errorCode, result.message ?? `${request.op} of ${subjectOf(request)} failed`);
    return result;
  } finally {
    clearTimeout(timer);
    unsubscribe();
    await ctx.client.deleteRange(key).catch(() => {});
  }
}

/** A reassign request's answered value: the request as asked, and how many partitions started moving. */
export const answerOfReassign: AnswerOf = (asker, plan, moving) =>
  JSON.stringify({
    request: { op: "reassign", partitions: plan.partitions.map((e) => ({ topic: e.topic, partition: e.partition, replicas: [...e.replicas] })), throttleBytesPerSec: plan.throttleBytesPerSec },
    lease: asker.lease,
    result: { errorCode: ErrorCode.NONE, message: `${moving} partition(s) moving` },
  });

/**
 * The controller's side: applies every unanswered request in the view (at
 * most TOPIC_REQUESTS_IN_FLIGHT_MAX at once) and writes each outcome back,
 * fenced. A request whose apply was fenced is left unanswered: the next
 * controller answers it.
 */
export class TopicRequestServer {
  readonly #ctx: ControllerContext;
  readonly #view: ClusterView;
  readonly #isController: () => boolean;
  readonly #log: (line: string) => void;
  readonly #isrChanged: () => void;
  readonly #inFlight = new Set<string>();
  /** The controller epoch whose accepted plans were looked for (once per epoch, and again after a failed finish). */
  #plansScannedAt: number | undefined;
  #stopped = false;

  constructor(opts: { ctx: ControllerContext; view: ClusterView; isController: () => boolean; log: (line: string) => void; isrChanged?: () => void }) {
    this.#ctx = opts.ctx;
    this.#view = opts.view;
    this.#isController = opts.isController;
    this.#log = opts.log;
    this.#isrChanged = opts.isrChanged ?? (() => {});
  }

  /** Looks for requests to apply (after every view change and on election). */
  schedule(): void {
    if (this.#stopped || !this.#isController()) return;
    const epoch = this.#ctx.election.epoch;
    if (epoch !== undefined && this.#plansScannedAt !== epoch) {
      this.#plansScannedAt = epoch;
      void this.#finishAcceptedPlans(epoch);
    }
    for (const [id, rec] of this.#view.requests) {
      if (this.#inFlight.size >= TOPIC_REQUESTS_IN_FLIGHT_MAX) return;
      if (rec.result !== undefined || this.#inFlight.has(id)) continue;
      this.#inFlight.add(id);
      void this.#apply(id, rec).finally(() => {
        this.#inFlight.delete(id);
        this.schedule();
      });
    }
  }

  stop(): void {
    this.#stopped = true;
  }

  /** Finishes the plans a controller accepted and did not finish (killed or deposed midway; move_start.ts). */
  async #finishAcceptedPlans(epoch: number): Promise<void> {
    try {
      for (const plan of await readPlans(this.#ctx)) {
        if (this.#stopped || this.#ctx.election.epoch !== epoch) return;
        // A request being applied right now finishes its own plan.
        if (this.#inFlight.has(plan.id)) continue;
        this.#inFlight.add(plan.id);
        try {
          const r = await finishPlan(this.#ctx, plan, answerOfReassign);
          this.#log(`sluice: controller: finished the accepted reassignment plan ${plan.id} (${r.moving} partition(s) moving)`);
        } finally {
          this.#inFlight.delete(plan.id);
        }
      }
    } catch (e) {
      if (e instanceof ControllerFencedError) return;
      this.#log(`sluice: controller: could not finish the accepted reassignment plans: ${(e as Error)?.message ?? e}; trying again on the next change`);
      if (this.#plansScannedAt === epoch) this.#plansScannedAt = undefined;
    }
  }

  async #apply(id: string, rec: TopicRequestRecord): Promise<void> {
    const req = rec.request;
    let result: z.output<typeof ResultSchema>;
    try {
      if (req.op === "create") {
        await createTopic(this.#ctx, { name: req.topic, partitions: req.partitions, replicationFactor: req.replicationFactor, configs: req.configs });
      } else if (req.op === "delete") {
        await deleteTopic(this.#ctx, req.topic);
      } else if (req.op === "addPartitions") {
        await addPartitions(this.#ctx, req.topic, req.total);
      }
      if (req.op === "alterPartition") {
        result = await alterPartition(this.#ctx, this.#view, req, rec.lease);
        if (result.errorCode === ErrorCode.NONE) this.#isrChanged();
      } else if (req.op === "electLeaders") {
        const elections = await electPreferredLeaders(this.#ctx, this.#view, req);
        result = { errorCode: ErrorCode.NONE, message: null, elections };
      } else if (req.op === "reassign") {
        // Answered with the start, all or nothing (move_start.ts).
        const asker = { id, createRevision: rec.createRevision, modRevision: rec.modRevision, lease: rec.lease };
        const started = await startPlan(this.#ctx, this.#view, { partitions: req.partitions, throttleBytesPerSec: req.throttleBytesPerSec }, asker, answerOfReassign);
        if (started.answered) return;
        result = { errorCode: ErrorCode.NONE, message: `${started.moving} partition(s) moving` };
      } else if (req.op === "cancelReassignment") {
        // Answered with the rollback where it fits one transaction (reassignment_controller.ts).
        const asker = { id, createRevision: rec.createRevision, modRevision: rec.modRevision, lease: rec.lease };
        const answerOf = (n: number) => JSON.stringify({ request: req, lease: rec.lease, result: { errorCode: ErrorCode.NONE, message: `${n} move(s) rolled back` } });
        const rolledBack = await cancelPlan(this.#ctx, this.#view, req.partitions, asker, answerOf);
        if (rolledBack.answered) return;
        result = { errorCode: ErrorCode.NONE, message: `${rolledBack.cancelled} move(s) rolled back` };
      } else {
        result = { errorCode: ErrorCode.NONE, message: null };
      }
    } catch (e) {
      if (e instanceof ControllerFencedError) return;
      if (e instanceof SluiceError) result = { errorCode: e.code, message: e.message };
      else result = { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, message: `${req.op} of ${subjectOf(req)}: ${(e as Error)?.message ?? e}` };
    }
    const key = this.#ctx.keys.request(id);
    try {
      // Only into the request as it was asked (not a later one under the same id) and not answered yet, under the asker's lease.
      await this.#ctx.election.fencedTxn({
        compare: [cmp.createRevisionIs(key, rec.createRevision), cmp.modRevisionIs(key, rec.modRevision)],
        success: [op.put(key, JSON.stringify({ request: req, lease: rec.lease, result }), rec.lease)],
      });
    } catch (e) {
      // The asker is gone (its lease with it) or this broker is no longer controller: nobody waits for this answer.
      if (!(e instanceof ControllerFencedError)) this.#log(`sluice: cluster: could not answer the ${req.op} of ${subjectOf(req)}: ${(e as Error)?.message ?? e}`);
    }
  }
}
