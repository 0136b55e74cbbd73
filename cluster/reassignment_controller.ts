// Executing a reassignment plan (docs/SCALING.md, "Executing a move"; Kafka's
// KIP-455), the controller the only writer:
//
// - start (request op "reassign", topic_requests.ts; move_start.ts): the plan
//   is checked against the cluster and started all or nothing (one fenced
//   transaction over every topic key and the request's answer, or a plan
//   accepted first under a controller-owned key and finished by whichever
//   controller comes next); each partition is recorded in the topic's key:
//   the partition's `replicas` become old ∪ target (the adding brokers last)
//   and `moves[p]` = {target, adding, removing, throttle}. The adding brokers
//   host the partition (they are in `replicas`) and fetch from its leader; the
//   leader's ordinary expand rule proposes them into the ISR once caught up.
// - complete (MoveController, after every view change while controller): a
//   partition whose target replicas are all in the ISR is cut over in one
//   fenced transaction comparing the topic key's and the partition state's
//   mod revisions: leadership moves if the leader is leaving (the first target
//   replica in the ISR that is live and not shutting down, leader epoch + 1),
//   `replicas` = target, ISR = ISR ∩ target, the move cleared. Brokers no
//   longer in `replicas` close the partition and delete its files
//   (engine/cluster_replicas.ts).
// - cancel (request op "cancelReassignment"): `replicas` back to the old list,
//   the adding brokers out of the ISR, leadership back on an old replica if an
//   adding one leads; all or nothing with the request's answer in one fenced
//   transaction over every topic key and partition state where it fits
//   (CANCEL_TXN_OPS_MAX), topic by topic beyond.
//
// Why a partition is never left short by a move: the old replicas stay in
// `replicas` (and in the ISR, unless they fail on their own) until every
// target replica is in the ISR, so the cut-over only removes replicas from an
// ISR that holds the whole target; a cancel is refused where the old replicas
// in the ISR would be fewer than min.insync.replicas while the ISR has them.
// A controller killed midway leaves the moves in etcd; its successor's first
// pass continues them.

import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import type { ClusterView } from "./cluster_view.ts";
import { CONTROLLER_FENCED, ControllerFencedError } from "./controller_election.ts";
import { type ControllerContext, sameIncarnations } from "./controller_topics.ts";
import { cmp, type Compare, op, type TxnOp } from "./etcd_wire.ts";
import type { PartitionAssignment } from "./reassignment_plan.ts";
import { ETCD_TXN_OPS_MAX, MOVE_START_TXN_BYTES_MAX } from "./cluster_limits.ts";
import { askerGone, byTopic, type PlanAsker, startPlan, unanswered } from "./move_start.ts";
import { SerialPasses } from "./serial_passes.ts";
import { moveOf, NO_LEADER, parseJson, type PartitionMove, type PartitionState, PartitionStateSchema, type TopicRecord, TopicRecordSchema, type VersionedPartitionState, versionedState } from "./topic_metadata.ts";

/** Partitions one cut-over or cancel transaction changes at most (each adds a compare and a put; etcd allows 128 of each). */
export const MOVES_PER_TXN_MAX = 50;
/** Topics plus partitions one all-or-nothing cancel covers at most (each a compare and a put, beside the fence, the request's compare and the answer). */
export const CANCEL_TXN_OPS_MAX = ETCD_TXN_OPS_MAX - 2;
/** Tries of a topic rewrite that lost its compare-and-swap to another change. */
const MOVE_WRITE_TRIES = 5;

const NOBODY: ReadonlySet<number> = new Set();

/** A partition's replicas and state after its cut-over, or undefined while it is not ready. Pure. */
export function decideMoveCompletion(
  move: PartitionMove,
  state: PartitionState,
  live: ReadonlySet<number>,
  shuttingDown: ReadonlySet<number> = NOBODY,
): { replicas: number[]; state: Omit<PartitionState, "partitionEpoch"> } | undefined {
  if (state.leader === NO_LEADER || !move.target.every((b) => state.isr.includes(b))) return undefined;
  const isr = state.isr.filter((b) => move.target.includes(b));
  if (move.target.includes(state.leader)) return { replicas: [...move.target], state: { leader: state.leader, leaderEpoch: state.leaderEpoch, isr } };
  const next = move.target.find((b) => isr.includes(b) && live.has(b) && !shuttingDown.has(b));
  if (next === undefined) return undefined;
  return { replicas: [...move.target], state: { leader: next, leaderEpoch: state.leaderEpoch + 1, isr } };
}

/**
 * A partition's replicas and state after a cancel: the old list back, the
 * adding brokers out of the ISR, an old replica leading. Throws SluiceError
 * where that would lose the partition's in-sync copies (no old replica in the
 * ISR, or fewer than min.insync.replicas while the ISR has that many). Pure.
 */
export function decideMoveCancel(
  where: string,
  replicas: readonly number[],
  move: PartitionMove,
  state: PartitionState,
  minInsync: number,
  live: ReadonlySet<number>,
  shuttingDown: ReadonlySet<number> = NOBODY,
): { replicas: number[]; state: Omit<PartitionState, "partitionEpoch"> } {
  const old = replicas.slice(0, move.target.length);
  const isr = state.isr.filter((b) => old.includes(b));
  if (isr.length === 0) throw new SluiceError(ErrorCode.NOT_ENOUGH_REPLICAS, `${where}: no old replica is in the ISR [${state.isr}]; the move must finish`);
  if (isr.length < Math.min(minInsync, state.isr.length)) {
    throw new SluiceError(ErrorCode.NOT_ENOUGH_REPLICAS, `${where}: only ${isr.length} old replica(s) in the ISR [${state.isr}], below min.insync.replicas ${minInsync}; the move must finish`);
  }
  if (state.leader === NO_LEADER || old.includes(state.leader)) return { replicas: old, state: { leader: state.leader, leaderEpoch: state.leaderEpoch, isr } };
  const next = old.find((b) => isr.includes(b) && live.has(b) && !shuttingDown.has(b)) ?? old.find((b) => isr.includes(b) && live.has(b));
  if (next === undefined) throw new SluiceError(ErrorCode.NOT_ENOUGH_REPLICAS, `${where}: no old replica in the ISR is live to lead; the move must finish`);
  return { replicas: old, state: { leader: next, leaderEpoch: state.leaderEpoch + 1, isr } };
}

function minInsyncOf(record: TopicRecord): number {
  const m = Number(record.configs["min.insync.replicas"]);
  return Math.min(Number.isInteger(m) && m >= 1 ? m : 1, record.replicationFactor);
}

/** One partition's change inside a topic rewrite. */
interface PartitionChange {
  readonly partition: number;
  readonly replicas: number[];
  /** undefined: the move is cleared; a move: it is set. */
  readonly move: PartitionMove | undefined;
  /** The state read (compared) and the next one; absent: the state is not touched. */
  readonly state?: { readonly expected: VersionedPartitionState; readonly next: Omit<PartitionState, "partitionEpoch"> };
}

/**
 * Reads the topic key, asks `decide` for the changes from the record read, and
 * writes them in one fenced transaction comparing the topic key's mod
 * revision and every touched state's; tries again from a fresh read when
 * another change landed first. Resolves with the changes written.
 */
async function rewriteTopic(
  ctx: ControllerContext,
  topic: string,
  decide: (record: TopicRecord) => PartitionChange[],
): Promise<PartitionChange[]> {
  const key = ctx.keys.topic(topic);
  for (let attempt = 1; ; attempt++) {
    const kv = (await ctx.client.range(key)).kvs[0];
    const parsed = kv === undefined ? undefined : TopicRecordSchema.safeParse(JSON.parse(kv.value));
    if (kv === undefined || parsed === undefined || !parsed.success) throw new SluiceError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${topic}' does not exist`);
    const record = parsed.data;
    const changes = decide(record);
    if (changes.length === 0) return [];
    const replicas = record.replicas.map((r) => [...r]);
    const moves: Record<string, PartitionMove> = { ...(record.moves ?? {}) };
    const compare: Compare[] = [cmp.modRevisionIs(key, kv.modRevision)];
    const puts: TxnOp[] = [];
    for (const c of changes) {
      replicas[c.partition] = c.replicas;
      if (c.move === undefined) delete moves[String(c.partition)];
      else moves[String(c.partition)] = c.move;
      if (c.state !== undefined) {
        const skey = ctx.keys.partition(topic, c.partition);
        const { modRevision, ...was } = c.state.expected;
        compare.push(cmp.modRevisionIs(skey, modRevision), ...sameIncarnations(ctx.keys, c.state.expected, c.state.next));
        puts.push(op.put(skey, JSON.stringify(PartitionStateSchema.parse({ ...c.state.next, partitionEpoch: was.partitionEpoch + 1 }))));
      }
    }
    const { moves: _, ...rest } = record;
    const next = TopicRecordSchema.parse(Object.keys(moves).length === 0 ? { ...rest, replicas } : { ...rest, replicas, moves });
    const r = await ctx.election.fencedTxn({ compare, success: [op.put(key, JSON.stringify(next)), ...puts] });
    if (r.succeeded) return changes;
    if (attempt >= MOVE_WRITE_TRIES) throw new SluiceError(ErrorCode.INVALID_UPDATE_VERSION, `topic '${topic}' kept changing while its moves were written; try again`);
  }
}

/**
 * Starts the moves of a plan (the controller's side of "reassign"), all or
 * nothing: move_start.ts (one fenced transaction, or a plan accepted first and
 * finished by any controller). Resolves with the partitions that started
 * moving. The request path (topic_requests.ts) calls startPlan with its asker,
 * so the answer is written with the start.
 */
export async function startMoves(ctx: ControllerContext, view: ClusterView, plan: readonly PartitionAssignment[], throttleBytesPerSec: number | null): Promise<number> {
  return (await startPlan(ctx, view, { partitions: plan, throttleBytesPerSec })).moving;
}

/** The partitions a cancel names (all moving ones for null), checked against the view. */
function cancelScope(view: ClusterView, partitions: readonly { topic: string; partition: number }[] | null): { topic: string; partition: number }[] {
  const wanted: { topic: string; partition: number }[] = [];
  if (partitions === null) {
    for (const [topic, record] of view.topics) for (const p of Object.keys(record.moves ?? {})) wanted.push({ topic, partition: Number(p) });
  } else {
    const seen = new Set<string>();
    for (const e of partitions) {
      const record = view.topics.get(e.topic);
      if (record === undefined || moveOf(record, e.partition) === undefined) throw new SluiceError(ErrorCode.NO_REASSIGNMENT_IN_PROGRESS, `${e.topic}-${e.partition} is not moving`);
      // Named twice: once (a transaction may not put one key twice).
      if (seen.has(`${e.topic}\0${e.partition}`)) continue;
      seen.add(`${e.topic}\0${e.partition}`);
      wanted.push(e);
    }
  }
  return wanted;
}

/**
 * Cancels moves (all of them, or the partitions named): each goes back to its
 * old replica list (decideMoveCancel). Resolves with the partitions rolled
 * back; NO_REASSIGNMENT_IN_PROGRESS when a named one is not moving. All or
 * nothing where it fits one transaction (cancelPlan).
 */
export async function cancelMoves(ctx: ControllerContext, view: ClusterView, partitions: readonly { topic: string; partition: number }[] | null): Promise<number> {
  return (await cancelPlan(ctx, view, partitions)).cancelled;
}

/**
 * A cancel, all or nothing where it fits one transaction (its topics and
 * partitions, each a compare and a put, within CANCEL_TXN_OPS_MAX, and
 * MOVE_START_TXN_BYTES_MAX bytes): every topic record, every partition state
 * (compared on the mod revisions read from etcd) and the request's answer
 * (with `asker`) in one fenced transaction; any partition whose cancel is
 * unsafe (decideMoveCancel) refuses the whole cancel. A larger cancel goes
 * topic by topic in chunks (`answered` false: the caller answers).
 */
export async function cancelPlan(
  ctx: ControllerContext,
  view: ClusterView,
  partitions: readonly { topic: string; partition: number }[] | null,
  asker?: PlanAsker,
  answerOf?: (cancelled: number) => string,
): Promise<{ cancelled: number; answered: boolean }> {
  if (asker !== undefined && answerOf === undefined) throw new Error("cancelPlan: an asker needs answerOf");
  const wanted = cancelScope(view, partitions);
  const grouped = byTopic(wanted);
  const live = view.liveBrokerIds();
  const shuttingDown = view.shuttingDownBrokerIds();
  if (grouped.size + wanted.length <= CANCEL_TXN_OPS_MAX) {
    for (let attempt = 1; attempt <= MOVE_WRITE_TRIES; attempt++) {
      const compare: Compare[] = [];
      const success: TxnOp[] = [];
      let cancelled = 0;
      let bytes = 0;
      for (const [topic, entries] of grouped) {
        const key = ctx.keys.topic(topic);
        const kv = (await ctx.client.range(key)).kvs[0];
        const parsed = kv === undefined ? undefined : parseJson(TopicRecordSchema, kv);
        // Deleted since: its moves went with it.
        if (kv === undefined || parsed === undefined) continue;
        const replicas = parsed.replicas.map((r) => [...r]);
        const moves: Record<string, PartitionMove> = { ...(parsed.moves ?? {}) };
        let changed = false;
        for (const e of entries) {
          const move = moveOf(parsed, e.partition);
          const skey = ctx.keys.partition(topic, e.partition);
          const skv = (await ctx.client.range(skey)).kvs[0];
          const state = skv === undefined ? undefined : versionedState(skv);
          // Finished or cancelled meanwhile: nothing to roll back.
          if (move === undefined || state === undefined) continue;
          const d = decideMoveCancel(`${topic}-${e.partition}`, replicas[e.partition], move, state, minInsyncOf(parsed), live, shuttingDown);
          replicas[e.partition] = d.replicas;
          delete moves[String(e.partition)];
          const value = JSON.stringify(PartitionStateSchema.parse({ ...d.state, partitionEpoch: state.partitionEpoch + 1 }));
          compare.push(cmp.modRevisionIs(skey, state.modRevision), ...sameIncarnations(ctx.keys, state, d.state));
          success.push(op.put(skey, value));
          bytes += skey.length + value.length;
          changed = true;
          cancelled++;
        }
        if (!changed) continue;
        const { moves: _, ...rest } = parsed;
        const value = JSON.stringify(TopicRecordSchema.parse(Object.keys(moves).length === 0 ? { ...rest, replicas } : { ...rest, replicas, moves }));
        compare.push(cmp.modRevisionIs(key, kv.modRevision));
        success.push(op.put(key, value));
        bytes += key.length + value.length;
      }
      const failure: TxnOp[] = [];
      if (asker !== undefined) {
        const answer = answerOf!(cancelled);
        compare.push(unanswered(ctx, asker));
        success.push(op.put(ctx.keys.request(asker.id), answer, asker.lease));
        failure.push(op.range(ctx.keys.request(asker.id)));
        bytes += answer.length;
      }
      if (bytes > MOVE_START_TXN_BYTES_MAX) break;
      if (success.length === 0) return { cancelled: 0, answered: false };
      const r = await ctx.election.fencedTxn({ compare, success, failure });
      if (r.succeeded) return { cancelled, answered: asker !== undefined };
      if (asker !== undefined && askerGone(r.results, 0, asker)) return { cancelled: 0, answered: true };
      if (attempt === MOVE_WRITE_TRIES) throw new SluiceError(ErrorCode.INVALID_UPDATE_VERSION, `the moves kept changing while the cancel was written (${attempt} tries); try again`);
    }
  }
  // Larger than one transaction: topic by topic, in chunks.
  let cancelled = 0;
  for (const [topic, entries] of grouped) {
    for (let from = 0; from < entries.length; from += MOVES_PER_TXN_MAX) {
      const chunk = entries.slice(from, from + MOVES_PER_TXN_MAX);
      const written = await rewriteTopic(ctx, topic, (record) => {
        const out: PartitionChange[] = [];
        for (const e of chunk) {
          const move = moveOf(record, e.partition);
          const state = view.partitionState(topic, e.partition);
          if (move === undefined || state === undefined) continue;
          const d = decideMoveCancel(`${topic}-${e.partition}`, record.replicas[e.partition], move, state, minInsyncOf(record), live, shuttingDown);
          out.push({ partition: e.partition, replicas: d.replicas, move: undefined, state: { expected: state, next: d.state } });
        }
        return out;
      });
      cancelled += written.length;
    }
  }
  return { cancelled, answered: false };
}

export interface MoveControllerStats {
  /** Partitions cut over to their target. */
  completed: number;
  /** Cut-overs that lost their compare-and-swap (decided again on the next change). */
  staleWrites: number;
}

/**
 * The controller's cut-over of moves whose target replicas are all in the
 * ISR. One pass at a time; a change during a pass makes one more.
 */
export class MoveController {
  readonly stats: MoveControllerStats = { completed: 0, staleWrites: 0 };
  readonly #ctx: ControllerContext;
  readonly #view: ClusterView;
  readonly #log: (line: string) => void;
  readonly #passes = new SerialPasses(() => this.#pass());

  constructor(opts: { ctx: ControllerContext; view: ClusterView; log: (line: string) => void }) {
    this.#ctx = opts.ctx;
    this.#view = opts.view;
    this.#log = opts.log;
  }

  schedule(): void {
    this.#passes.schedule();
  }

  async stop(): Promise<void> {
    await this.#passes.stop();
  }

  async #pass(): Promise<void> {
    if (!this.#ctx.election.isController || !this.#view.ready) return;
    const live = this.#view.liveBrokerIds();
    const shuttingDown = this.#view.shuttingDownBrokerIds();
    for (const [topic, record] of [...this.#view.topics]) {
      if (this.#passes.stopped) return;
      const ready: number[] = [];
      for (const p of Object.keys(record.moves ?? {}).map(Number)) {
        const state = this.#view.partitionState(topic, p);
        if (state !== undefined && decideMoveCompletion(moveOf(record, p)!, state, live, shuttingDown) !== undefined) ready.push(p);
      }
      if (ready.length === 0) continue;
      try {
        const written = await rewriteTopic(this.#ctx, topic, (now) => {
          const out: PartitionChange[] = [];
          for (const p of ready.slice(0, MOVES_PER_TXN_MAX)) {
            const move = moveOf(now, p);
            const state = this.#view.partitionState(topic, p);
            if (move === undefined || state === undefined) continue;
            const d = decideMoveCompletion(move, state, live, shuttingDown);
            if (d !== undefined) out.push({ partition: p, replicas: d.replicas, move: undefined, state: { expected: state, next: d.state } });
          }
          return out;
        });
        for (const c of written) {
          this.stats.completed++;
          this.#log(`sluice: controller: ${topic}/${c.partition} moved to [${c.replicas.join(",")}] (leader ${c.state!.next.leader}, isr [${c.state!.next.isr.join(",")}])`);
        }
        if (ready.length > MOVES_PER_TXN_MAX) this.#passes.again();
      } catch (e) {
        if (e instanceof ControllerFencedError || (e as { fence?: string }).fence === CONTROLLER_FENCED) return;
        // A state compared moved on (an ISR change, an election): the watch brings it, and with it another pass.
        this.stats.staleWrites++;
        this.#log(`sluice: controller: the cut-over of moves of '${topic}' was not written: ${(e as Error)?.message ?? e}`);
      }
    }
  }
}
