// Starting a reassignment plan's moves, all or nothing (docs/SCALING.md,
// "Starting a plan"). A plan may name partitions of many topics, and each
// topic's moves live in its own key (topic_metadata.ts), so a start written
// topic by topic could be cut short by a controller killed or deposed midway:
// part of the plan moving, part not, and the request answered or not. Here:
//
// - the plan is checked against the cluster (view) and against etcd (each
//   topic read, every entry decided); any problem refuses the whole plan;
// - a plan whose topic rewrites and answer fit one transaction
//   (MOVE_START_TOPICS_PER_TXN_MAX topics, MOVE_START_TXN_BYTES_MAX bytes: under
//   etcd's --max-txn-ops and --max-request-bytes) starts in one fenced transaction that compares every
//   topic key's mod revision and that the request is still there unanswered
//   (its key not written since it was read unanswered), and puts every topic
//   record and the request's answer: all of it lands, or nothing;
// - a larger plan is first accepted: recorded under a controller-owned key,
//   `move-plans/<request id>/plan` (no lease: it outlives the controller and
//   the asker), by a fenced transaction with the same request compare. Its
//   topics are then rewritten in chunks, each chunk's transaction also putting
//   `move-plans/<id>/done/<topic>` for the topics it started and comparing the
//   plan key's create revision; the last transaction answers the request if
//   it still waits, and deletes `move-plans/<id>/`. A controller elected later
//   finishes every plan it finds there (TopicRequestServer, on election): a
//   topic marked done is not touched again (a move cancelled meanwhile stays
//   cancelled), the others are decided from what etcd holds then, with
//   partitions already moving to the same target (or already there) skipped.
//
// Either way every partition of an accepted plan starts moving (or was
// already where the plan puts it), and a plan not accepted starts nothing.

import { z } from "zod";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { MOVE_START_TOPICS_PER_TXN_MAX, MOVE_START_TXN_BYTES_MAX } from "./cluster_limits.ts";
import type { ClusterView } from "./cluster_view.ts";
import type { ControllerContext } from "./controller_topics.ts";
import { cmp, type Compare, type KeyValue, op, type TxnOp, type TxnOpResult } from "./etcd_wire.ts";
import type { PartitionAssignment } from "./reassignment_plan.ts";
import { moveOf, parseJson, type PartitionMove, type TopicRecord, TopicRecordSchema } from "./topic_metadata.ts";

/** A plan's id (its request's id: a UUID from submitTopicRequest), one segment of its keys. */
export const PLAN_ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;
/** Tries of a plan's write that lost its compare-and-swap to another change of a topic, before giving up for now. */
export const MOVE_START_TRIES = 5;

export interface MovePlan {
  readonly partitions: readonly PartitionAssignment[];
  readonly throttleBytesPerSec: number | null;
}

/** The request a plan came with: its id (the plan's id too), its key's create and mod revisions as read unanswered, the asker's lease. */
export interface PlanAsker {
  readonly id: string;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly lease: string;
}

/** The request key's whole value once answered, `moving` partitions started (topic_requests.ts knows the format). */
export type AnswerOf = (asker: PlanAsker, plan: MovePlan, moving: number) => string;

export interface PlanProgress {
  readonly plan: string;
  readonly topicsDone: number;
  readonly topics: number;
}

export interface StartOptions {
  /** After each chunk of a plan larger than one transaction (logs; tests act on it). */
  readonly onProgress?: (p: PlanProgress) => void | Promise<void>;
}

const EntrySchema = z.object({ topic: z.string().min(1), partition: z.number().int().min(0), replicas: z.array(z.number().int().min(0)).min(1) }).strict();

const PlanRecordSchema = z
  .object({
    asker: z.object({ id: z.string().min(1), createRevision: z.number().int().min(1), modRevision: z.number().int().min(1), lease: z.string().min(1) }).strict().nullable(),
    partitions: z.array(EntrySchema).min(1),
    throttleBytesPerSec: z.number().int().min(1).nullable(),
    /** Partitions the plan started moving, as decided when it was accepted (the answer's count). */
    moving: z.number().int().min(0),
  })
  .strict();

type PlanRecord = z.output<typeof PlanRecordSchema>;

/** Checks every entry against the view (topic, partition, RF, brokers registered, not moving). Throws SluiceError. */
export function checkPlanAgainstView(view: ClusterView, plan: readonly PartitionAssignment[]): void {
  for (const e of plan) {
    const where = `${e.topic}-${e.partition}`;
    const record = view.topics.get(e.topic);
    if (record === undefined || e.partition >= record.partitions) throw new SluiceError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `${where} does not exist`);
    if (new Set(e.replicas).size !== e.replicas.length) throw new SluiceError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `${where} names a broker twice: [${e.replicas}]`);
    if (e.replicas.length !== record.replicationFactor) {
      throw new SluiceError(ErrorCode.INVALID_REPLICATION_FACTOR, `${where}: a move keeps the replication factor ${record.replicationFactor}, the plan names ${e.replicas.length} replicas`);
    }
    const missing = e.replicas.filter((b) => !view.brokers.has(b));
    if (missing.length > 0) throw new SluiceError(ErrorCode.BROKER_NOT_AVAILABLE, `${where}: broker(s) ${missing.join(", ")} not registered`);
    if (moveOf(record, e.partition) !== undefined) throw new SluiceError(ErrorCode.REASSIGNMENT_IN_PROGRESS, `${where} is already moving; wait for it or cancel it`);
  }
}

/**
 * A topic's record with the plan's entries for it started, and how many
 * partitions started moving; undefined when nothing changes. "fresh" (a plan
 * being accepted) refuses a partition that is moving or missing; "resume" (an
 * accepted plan being finished) skips it, and skips a partition moving to the
 * same target or already on it. Pure.
 */
export function startTopicMoves(
  topic: string,
  record: TopicRecord,
  entries: readonly PartitionAssignment[],
  throttleBytesPerSec: number | null,
  mode: "fresh" | "resume",
): { record: TopicRecord; moving: number } | undefined {
  const replicas = record.replicas.map((r) => [...r]);
  const moves: Record<string, PartitionMove> = { ...(record.moves ?? {}) };
  let changed = false;
  let moving = 0;
  for (const e of entries) {
    if (e.partition >= record.partitions) {
      if (mode === "resume") continue;
      throw new SluiceError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `${topic}-${e.partition} does not exist`);
    }
    if (moves[String(e.partition)] !== undefined) {
      if (mode === "resume") continue;
      throw new SluiceError(ErrorCode.REASSIGNMENT_IN_PROGRESS, `${topic}-${e.partition} is already moving; wait for it or cancel it`);
    }
    const old = replicas[e.partition];
    if (old.length === e.replicas.length && old.every((b, i) => b === e.replicas[i])) continue;
    const adding = e.replicas.filter((b) => !old.includes(b));
    const removing = old.filter((b) => !e.replicas.includes(b));
    changed = true;
    if (adding.length === 0) {
      // Only the order changes (a new preferred leader): nothing to copy, the list is rewritten at once.
      replicas[e.partition] = [...e.replicas];
      continue;
    }
    moves[String(e.partition)] = { target: [...e.replicas], adding, removing, ...(throttleBytesPerSec === null ? {} : { throttleBytesPerSec }) };
    replicas[e.partition] = [...old, ...adding];
    moving++;
  }
  if (!changed) return undefined;
  const { moves: _, ...rest } = record;
  return { record: TopicRecordSchema.parse(Object.keys(moves).length === 0 ? { ...rest, replicas } : { ...rest, replicas, moves }), moving };
}

/** One topic's rewrite: its key's mod revision read, and the value to put. */
interface TopicWrite {
  readonly topic: string;
  readonly key: string;
  readonly modRevision: number;
  readonly value: string;
  readonly moving: number;
}

/** Splits writes into transactions of at most `maxTopics` topics and `maxBytes` bytes (a topic alone over it goes alone). Pure. */
export function chunkWrites<T extends { key: string; value: string }>(writes: readonly T[], maxTopics = MOVE_START_TOPICS_PER_TXN_MAX, maxBytes = MOVE_START_TXN_BYTES_MAX): T[][] {
  const chunks: T[][] = [];
  let chunk: T[] = [];
  let bytes = 0;
  for (const w of writes) {
    const size = w.key.length + w.value.length;
    if (chunk.length > 0 && (chunk.length >= maxTopics || bytes + size > maxBytes)) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(w);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** Plan entries (or any per-partition entries) grouped by topic, in plan order. */
export function byTopic<T extends { topic: string }>(list: readonly T[]): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const e of list) {
    const l = m.get(e.topic) ?? [];
    l.push(e);
    m.set(e.topic, l);
  }
  return m;
}

/** Reads each topic's key (one range each); a missing or unreadable one is undefined. */
async function readTopicKeys(ctx: ControllerContext, topics: readonly string[]): Promise<Map<string, { kv: KeyValue; record: TopicRecord } | undefined>> {
  const out = new Map<string, { kv: KeyValue; record: TopicRecord } | undefined>();
  for (const topic of topics) {
    const kv = (await ctx.client.range(ctx.keys.topic(topic))).kvs[0];
    const parsed = kv === undefined ? undefined : TopicRecordSchema.safeParse(JSON.parse(kv.value));
    out.set(topic, kv === undefined || parsed === undefined || !parsed.success ? undefined : { kv, record: parsed.data });
  }
  return out;
}

/** The request is still there and unanswered: its key was not written since it was read unanswered (an answer is a write). */
export function unanswered(ctx: ControllerContext, asker: PlanAsker): Compare {
  return cmp.modRevisionIs(ctx.keys.request(asker.id), asker.modRevision);
}

/** Whether a failed transaction's range of the request key shows it gone or answered. */
export function askerGone(results: readonly TxnOpResult[], index: number, asker: PlanAsker): boolean {
  const res = results[index];
  const kv = res?.op === "range" ? res.kvs[0] : undefined;
  return kv === undefined || kv.createRevision !== asker.createRevision || kv.modRevision !== asker.modRevision;
}

export interface StartResult {
  /** Partitions that started moving. */
  readonly moving: number;
  /** The request needs no other answer: answered with the start, or gone (nobody waits). False without an asker. */
  readonly answered: boolean;
}

/**
 * Starts a plan's moves all or nothing (see the top of this file). Throws
 * SluiceError for a plan refused whole (nothing written), and
 * ControllerFencedError when this broker is not controller (nothing written
 * since, and what was accepted is finished by the successor). With `asker`,
 * the answer is written by `answerOf` with the start (or after the last
 * chunk), never on its own.
 */
export async function startPlan(ctx: ControllerContext, view: ClusterView, plan: MovePlan, asker?: PlanAsker, answerOf?: AnswerOf, opts: StartOptions = {}): Promise<StartResult> {
  if (asker !== undefined && answerOf === undefined) throw new Error("startPlan: an asker needs answerOf");
  // The request id names the plan's keys (`move-plans/<id>/`): one path segment.
  if (asker !== undefined && !PLAN_ID_PATTERN.test(asker.id)) throw new SluiceError(ErrorCode.INVALID_REQUEST, `request id '${asker.id.slice(0, 80)}' is not a plan id (1-64 letters, digits, '-')`);
  const id = asker?.id ?? crypto.randomUUID();
  if (asker !== undefined) {
    // Accepted already (by this controller earlier, or a predecessor): finish it instead of deciding it again.
    const recorded = await readPlans(ctx, id);
    if (recorded.length > 0) return finishPlan(ctx, recorded[0], answerOf, opts);
  }
  checkPlanAgainstView(view, plan.partitions);
  const grouped = byTopic(plan.partitions);
  for (let attempt = 1; ; attempt++) {
    const read = await readTopicKeys(ctx, [...grouped.keys()]);
    const writes: TopicWrite[] = [];
    for (const [topic, entries] of grouped) {
      const t = read.get(topic);
      if (t === undefined) throw new SluiceError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${topic}' does not exist`);
      const next = startTopicMoves(topic, t.record, entries, plan.throttleBytesPerSec, "fresh");
      if (next !== undefined) writes.push({ topic, key: t.kv.key, modRevision: t.kv.modRevision, value: JSON.stringify(next.record), moving: next.moving });
    }
    const moving = writes.reduce((n, w) => n + w.moving, 0);
    // The answer repeats the request (the plan): it counts towards the one transaction's bytes too.
    const answer = asker === undefined ? undefined : answerOf!(asker, plan, moving);
    const bytes = writes.reduce((n, w) => n + w.key.length + w.value.length, answer?.length ?? 0);
    if (writes.length <= MOVE_START_TOPICS_PER_TXN_MAX && bytes <= MOVE_START_TXN_BYTES_MAX) {
      // One transaction: the topics and the answer together.
      const compare: Compare[] = writes.map((w) => cmp.modRevisionIs(w.key, w.modRevision));
      const success: TxnOp[] = writes.map((w) => op.put(w.key, w.value));
      const failure: TxnOp[] = [];
      if (asker !== undefined) {
        compare.push(unanswered(ctx, asker));
        success.push(op.put(ctx.keys.request(asker.id), answer!, asker.lease));
        failure.push(op.range(ctx.keys.request(asker.id)));
      }
      if (success.length === 0) return { moving: 0, answered: false };
      const r = await ctx.election.fencedTxn({ compare, success, failure });
      if (r.succeeded) return { moving, answered: asker !== undefined };
      if (asker !== undefined && askerGone(r.results, 0, asker)) return { moving: 0, answered: true };
    } else {
      // Accept it first, then start it chunk by chunk.
      const record: PlanRecord = {
        asker: asker === undefined ? null : { ...asker },
        partitions: plan.partitions.map((e) => ({ topic: e.topic, partition: e.partition, replicas: [...e.replicas] })),
        throttleBytesPerSec: plan.throttleBytesPerSec,
        moving,
      };
      const key = ctx.keys.movePlan(id);
      const compare: Compare[] = [cmp.createRevisionIs(key, 0)];
      if (asker !== undefined) compare.push(unanswered(ctx, asker));
      const r = await ctx.election.fencedTxn({ compare, success: [op.put(key, JSON.stringify(record))], failure: asker === undefined ? [] : [op.range(ctx.keys.request(asker.id))] });
      if (r.succeeded) return finishPlan(ctx, { id, createRevision: r.revision, record, done: new Set() }, answerOf, opts);
      const again = await readPlans(ctx, id);
      if (again.length > 0) return finishPlan(ctx, again[0], answerOf, opts);
      if (asker !== undefined && askerGone(r.results, 0, asker)) return { moving: 0, answered: true };
    }
    if (attempt >= MOVE_START_TRIES) throw new SluiceError(ErrorCode.INVALID_UPDATE_VERSION, `the plan's topics kept changing while its moves were written (${attempt} tries); try again`);
  }
}

/** An accepted plan as etcd holds it. */
export interface RecordedPlan {
  readonly id: string;
  /** The plan key's create revision (every chunk compares it). */
  readonly createRevision: number;
  readonly record: PlanRecord;
  /** Topics already started. */
  readonly done: ReadonlySet<string>;
}

/** Reads the accepted plans (all, or the one with `id`), in key order. */
export async function readPlans(ctx: ControllerContext, id?: string): Promise<RecordedPlan[]> {
  const prefix = id === undefined ? ctx.keys.movePlansPrefix : ctx.keys.movePlanKeys(id);
  const r = await ctx.client.range(prefix, { prefix: true });
  const plans = new Map<string, { createRevision: number; record: PlanRecord | undefined; done: Set<string> }>();
  for (const kv of r.kvs) {
    const rest = kv.key.slice(ctx.keys.movePlansPrefix.length);
    const slash = rest.indexOf("/");
    if (slash <= 0) continue;
    const planId = rest.slice(0, slash);
    const what = rest.slice(slash + 1);
    const p = plans.get(planId) ?? { createRevision: 0, record: undefined, done: new Set<string>() };
    plans.set(planId, p);
    if (what === "plan") {
      p.record = parseJson(PlanRecordSchema, kv);
      p.createRevision = kv.createRevision;
    } else if (what.startsWith("done/")) p.done.add(what.slice("done/".length));
  }
  const out: RecordedPlan[] = [];
  for (const [planId, p] of plans) if (p.record !== undefined) out.push({ id: planId, createRevision: p.createRevision, record: p.record, done: p.done });
  return out;
}

/**
 * Finishes an accepted plan: the topics not marked done, decided in "resume"
 * mode from fresh reads, in chunks that each mark their topics done; then the
 * answer (if the asker still waits) and the plan's keys deleted, together.
 * Idempotent: a controller killed anywhere in it leaves what the next one
 * finishes. Resolves once the plan is finished (by this call or another).
 */
export async function finishPlan(ctx: ControllerContext, plan: RecordedPlan, answerOf: AnswerOf | undefined, opts: StartOptions = {}): Promise<StartResult> {
  const { id, record } = plan;
  const planKey = ctx.keys.movePlan(id);
  const grouped = byTopic(record.partitions);
  const done = new Set(plan.done);
  let failures = 0;
  for (;;) {
    const pending = [...grouped.keys()].filter((t) => !done.has(t));
    if (pending.length === 0) break;
    const read = await readTopicKeys(ctx, pending);
    const writes: TopicWrite[] = [];
    for (const topic of pending) {
      const t = read.get(topic);
      // Deleted since the plan was accepted: nothing left to move there.
      const next = t === undefined ? undefined : startTopicMoves(topic, t.record, grouped.get(topic)!, record.throttleBytesPerSec, "resume");
      if (next === undefined) {
        done.add(topic);
        continue;
      }
      writes.push({ topic, key: t!.kv.key, modRevision: t!.kv.modRevision, value: JSON.stringify(next.record), moving: next.moving });
    }
    let lost = false;
    for (const chunk of chunkWrites(writes)) {
      const r = await ctx.election.fencedTxn({
        compare: [cmp.createRevisionIs(planKey, plan.createRevision), ...chunk.map((w) => cmp.modRevisionIs(w.key, w.modRevision))],
        success: [...chunk.map((w) => op.put(w.key, w.value)), ...chunk.map((w) => op.put(ctx.keys.movePlanDone(id, w.topic), ""))],
        failure: [op.range(planKey)],
      });
      if (!r.succeeded) {
        const now = r.results[0];
        // Finished by another pass of this controller (or the plan key is not the one read): nothing left to do here.
        if (now.op === "range" && now.kvs[0]?.createRevision !== plan.createRevision) return { moving: record.moving, answered: true };
        lost = true;
        break;
      }
      for (const w of chunk) done.add(w.topic);
      await opts.onProgress?.({ plan: id, topicsDone: [...grouped.keys()].filter((t) => done.has(t)).length, topics: grouped.size });
    }
    if (lost && ++failures >= MOVE_START_TRIES) {
      throw new SluiceError(ErrorCode.INVALID_UPDATE_VERSION, `plan ${id}: its topics kept changing while its moves were written (${failures} tries); it stays accepted and is finished later`);
    }
  }
  const asker = record.asker;
  const keys = ctx.keys.movePlanKeys(id);
  if (asker === null || answerOf === undefined) {
    await ctx.election.fencedTxn({ compare: [cmp.createRevisionIs(planKey, plan.createRevision)], success: [op.delete(keys, true)] });
    return { moving: record.moving, answered: true };
  }
  const plainPlan: MovePlan = { partitions: record.partitions, throttleBytesPerSec: record.throttleBytesPerSec };
  // The answer only into the request as it was asked and unanswered; the plan's keys go either way.
  await ctx.election.fencedTxn({
    compare: [unanswered(ctx, asker)],
    success: [op.put(ctx.keys.request(asker.id), answerOf(asker, plainPlan, record.moving), asker.lease), op.delete(keys, true)],
    failure: [op.delete(keys, true)],
  });
  return { moving: record.moving, answered: true };
}
