// What the controller writes about topics: creation (replica placement over
// the live brokers, the first partition states), deletion, and the one
// compare-and-swap every later partition state change goes through. Every
// write is a fenced transaction (controller_election.ts): a broker that is no
// longer controller changes nothing.
//
// Creation, in order:
//   1. read the live brokers (their registration keys, with create revisions);
//   2. place replicas over them (replica_placement.ts; RF above the live count
//      is INVALID_REPLICATION_FACTOR);
//   3. write the partition states in chunks, each conditioned on the topic
//      key not existing yet: leader = the first replica, leader epoch 0,
//      ISR = all replicas (an empty log is in sync everywhere), partition epoch 0;
//   4. write the topic key, conditioned on it not existing and on every chosen
//      broker's registration still being the one read in step 1 (the same
//      create revision): a broker that left or restarted meanwhile makes the
//      write fail, and creation starts over with a fresh placement.
// Readers count a topic only once its key exists (topic_metadata.ts), so a
// creation cut short leaves states nobody reads, overwritten by the next try.

import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { PARTITIONS_PER_TOPIC_MAX } from "../protocol/limits.ts";
import { checkTopicName } from "../protocol/topic_name.ts";
import { parseBrokerInfo } from "./broker_registration.ts";
import { CONTROLLER_TXN_OPS_MAX, REPLICATION_FACTOR_MAX, TOPIC_CREATE_TRIES } from "./cluster_limits.ts";
import type { ClusterKeys } from "./cluster_keys.ts";
import type { ControllerElection } from "./controller_election.ts";
import type { EtcdClient } from "./etcd_client.ts";
import { cmp, type Compare, op, type TxnOp } from "./etcd_wire.ts";
import { placeReplicas } from "./replica_placement.ts";
import { NO_LEADER, type PartitionState, PartitionStateSchema, type TopicRecord, TopicRecordSchema, type VersionedPartitionState, versionedState } from "./topic_metadata.ts";

export interface CreateTopicRequest {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly configs?: Readonly<Record<string, string>>;
}

export interface ControllerContext {
  readonly client: EtcdClient;
  readonly keys: ClusterKeys;
  readonly election: ControllerElection;
  /** Random integers for the placement offsets (tests pass a fixed one). */
  readonly random?: (below: number) => number;
}

function checkRequest(req: CreateTopicRequest): void {
  checkTopicName(req.name);
  if (!Number.isInteger(req.partitions) || req.partitions < 1 || req.partitions > PARTITIONS_PER_TOPIC_MAX) {
    throw new SluiceError(ErrorCode.INVALID_PARTITIONS, `partitions must be in 1..${PARTITIONS_PER_TOPIC_MAX}, got ${req.partitions}`);
  }
  if (!Number.isInteger(req.replicationFactor) || req.replicationFactor < 1 || req.replicationFactor > REPLICATION_FACTOR_MAX) {
    throw new SluiceError(ErrorCode.INVALID_REPLICATION_FACTOR, `replication factor must be in 1..${REPLICATION_FACTOR_MAX}, got ${req.replicationFactor}`);
  }
}

/** Creates a topic as the controller; resolves with what was written. Throws SluiceError (bad request, exists, RF) or ControllerFencedError. */
export async function createTopic(ctx: ControllerContext, req: CreateTopicRequest): Promise<{ record: TopicRecord; states: PartitionState[]; revision: number }> {
  checkRequest(req);
  const { client, keys, election } = ctx;
  const random = ctx.random ?? ((below: number) => Math.floor(Math.random() * below));
  const topicKey = keys.topic(req.name);
  for (let attempt = 1; ; attempt++) {
    // 1. The live brokers, with the create revision of each registration.
    const live = await client.range(keys.brokersPrefix, { prefix: true });
    const brokers = new Map<number, number>();
    for (const kv of live.kvs) {
      const info = parseBrokerInfo(kv);
      if (info !== undefined && keys.brokerIdOf(kv.key) === info.id) brokers.set(info.id, kv.createRevision);
    }
    // 2. Placement.
    const n = Math.max(1, brokers.size);
    const replicas = placeReplicas({
      brokers: [...brokers.keys()],
      partitions: req.partitions,
      replicationFactor: req.replicationFactor,
      startIndex: random(n),
      shift: random(n),
    });
    const record: TopicRecord = TopicRecordSchema.parse({
      topicId: crypto.randomUUID(),
      partitions: req.partitions,
      replicationFactor: req.replicationFactor,
      configs: { ...(req.configs ?? {}) },
      replicas,
    });
    const states = replicas.map((r): PartitionState => ({ leader: r[0], leaderEpoch: 0, isr: [...r], partitionEpoch: 0 }));
    // 3. Partition states, in chunks, while the topic does not exist.
    const notYet = cmp.createRevisionIs(topicKey, 0);
    for (let from = 0; from < states.length; from += CONTROLLER_TXN_OPS_MAX) {
      const puts: TxnOp[] = [];
      for (let p = from; p < Math.min(states.length, from + CONTROLLER_TXN_OPS_MAX); p++) puts.push(op.put(keys.partition(req.name, p), JSON.stringify(states[p])));
      const r = await election.fencedTxn({ compare: [notYet], success: puts });
      if (!r.succeeded) throw new SluiceError(ErrorCode.TOPIC_ALREADY_EXISTS, `topic '${req.name}' already exists`);
    }
    // 4. The topic key, while every chosen broker is still the one placed on.
    const used = new Set(replicas.flat());
    const stillThere: Compare[] = [...used].map((id) => cmp.createRevisionIs(keys.broker(id), brokers.get(id)!));
    const r = await election.fencedTxn({ compare: [notYet, ...stillThere], success: [op.put(topicKey, JSON.stringify(record))], failure: [op.range(topicKey)] });
    if (r.succeeded) return { record, states, revision: r.revision };
    const existing = r.results[0];
    if (existing.op === "range" && existing.kvs.length > 0) throw new SluiceError(ErrorCode.TOPIC_ALREADY_EXISTS, `topic '${req.name}' already exists`);
    if (attempt >= TOPIC_CREATE_TRIES) {
      await election.fencedTxn({ compare: [notYet], success: [op.delete(keys.partitionsOf(req.name), true)] }).catch(() => {});
      throw new SluiceError(ErrorCode.LEADER_NOT_AVAILABLE, `topic '${req.name}': the live brokers kept changing during creation (${attempt} tries); try again`);
    }
  }
}

/** Deletes a topic and its partition states in one fenced transaction. */
export async function deleteTopic(ctx: ControllerContext, name: string): Promise<{ revision: number }> {
  const { keys, election } = ctx;
  const topicKey = keys.topic(name);
  const statesPrefix = keys.partitionsOf(name);
  const r = await election.fencedTxn({
    compare: [{ key: topicKey, target: "CREATE", result: "GREATER", createRevision: 0 }],
    success: [op.delete(topicKey), op.delete(statesPrefix, true)],
  });
  if (!r.succeeded) throw new SluiceError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${name}' does not exist`);
  return { revision: r.revision };
}

export type PartitionStateUpdate =
  | { readonly applied: true; readonly state: VersionedPartitionState }
  /** The state moved on since `expected` (another change landed first): `current` is what is there now. */
  | { readonly applied: false; readonly current: VersionedPartitionState | undefined };

/**
 * The compares that keep a partition state from blessing a broker's new
 * incarnation (docs/CLUSTER.md, "Broker epochs"): every broker the next state
 * keeps from `expected` — its leader if the same at the same leader epoch, and
 * the ISR members it keeps — must hold a registration created before
 * `expected` was written (`create_revision(brokers/<id>) < expected.modRevision`;
 * a missing key is 0 and passes: a gone broker is the deletion path's
 * business). A broker whose registration is newer restarted since: its place
 * in the state was its old incarnation's, and only the controller's partition
 * state machine (partition_controller.ts) decides what the new one gets. A
 * leader elected at a new leader epoch is not compared: a new epoch starts
 * from whatever its leader's log holds (followers truncate to it), and an
 * incarnation that registered before the write is the one it names. Nor is
 * an offline state (no leader). By induction every write that keeps a leader at its epoch keeps the
 * incarnation it was elected as, so a state naming a broker leader and written
 * after that broker's registration was written for that very registration
 * (what a broker checks before it leads: `leadsAsThisIncarnation`).
 */
export function sameIncarnations(keys: ClusterKeys, expected: VersionedPartitionState, next: Pick<PartitionState, "leader" | "leaderEpoch" | "isr">): Compare[] {
  // An offline state blesses nobody: it leads to an election, at a new leader epoch, before anyone leads again.
  if (next.leader === NO_LEADER) return [];
  const newEpoch = next.leaderEpoch > expected.leaderEpoch;
  const kept = new Set(next.isr.filter((b) => expected.isr.includes(b) && !(newEpoch && b === next.leader)));
  if (!newEpoch && next.leader !== NO_LEADER && next.leader === expected.leader) kept.add(next.leader);
  return [...kept].map((id): Compare => ({ key: keys.broker(id), target: "CREATE", result: "LESS", createRevision: expected.modRevision }));
}

/**
 * The one way a partition state changes after creation (leader elections,
 * ISR changes as Kafka's AlterPartition): compare-and-swap on the state's
 * mod revision, fenced on the controller epoch. `change` gets the state read
 * at `expected` and returns the next one; the partition epoch is bumped here,
 * so no caller can forget it. Two changes made from the same state cannot both
 * land: the second gets `applied: false` with the current state, and decides
 * again from it. `also`: further compares the write needs (an AlterPartition
 * compares the asking broker's registration lease); when one of them fails
 * the answer is `applied: false` with the state unchanged, as it is when a
 * broker the change keeps restarted since `expected` (sameIncarnations).
 */
export async function updatePartitionState(
  ctx: ControllerContext,
  topic: string,
  partition: number,
  expected: VersionedPartitionState,
  change: (state: PartitionState) => Omit<PartitionState, "partitionEpoch">,
  also: readonly Compare[] = [],
): Promise<PartitionStateUpdate> {
  const key = ctx.keys.partition(topic, partition);
  const { modRevision, ...base } = expected;
  const changed = change(base);
  if (changed.leaderEpoch < expected.leaderEpoch) {
    throw new Error(`partition ${topic}/${partition}: the leader epoch cannot go back (${expected.leaderEpoch} → ${changed.leaderEpoch})`);
  }
  const next: PartitionState = PartitionStateSchema.parse({ ...changed, partitionEpoch: expected.partitionEpoch + 1 });
  const compare = [cmp.modRevisionIs(key, modRevision), ...sameIncarnations(ctx.keys, expected, next), ...also];
  const r = await ctx.election.fencedTxn({ compare, success: [op.put(key, JSON.stringify(next))], failure: [op.range(key)] });
  if (r.succeeded) return { applied: true, state: { ...next, modRevision: r.revision } };
  const now = r.results[0];
  const kv = now.op === "range" ? now.kvs[0] : undefined;
  return { applied: false, current: kv === undefined ? undefined : versionedState(kv) };
}

/**
 * Grows a topic to `total` partitions as the controller: the new partitions'
 * replicas placed over the live brokers, their states written, then the topic
 * record (with the longer assignment) by a CAS on its mod revision, so a
 * concurrent change of the topic makes this one fail instead of being lost.
 */
export async function addPartitions(ctx: ControllerContext, name: string, total: number): Promise<{ revision: number }> {
  const { client, keys, election } = ctx;
  const random = ctx.random ?? ((below: number) => Math.floor(Math.random() * below));
  const topicKey = keys.topic(name);
  const t = await client.range(topicKey);
  const kv = t.kvs[0];
  const record = kv === undefined ? undefined : TopicRecordSchema.safeParse(JSON.parse(kv.value));
  if (kv === undefined || record === undefined || !record.success) throw new SluiceError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${name}' does not exist`);
  const current = record.data.partitions;
  if (!Number.isInteger(total) || total <= current || total > PARTITIONS_PER_TOPIC_MAX) {
    throw new SluiceError(ErrorCode.INVALID_PARTITIONS, `topic '${name}' has ${current} partitions; the new count must be larger (at most ${PARTITIONS_PER_TOPIC_MAX}), got ${total}`);
  }
  const live = await client.range(keys.brokersPrefix, { prefix: true });
  const brokers = new Map<number, number>();
  for (const b of live.kvs) {
    const info = parseBrokerInfo(b);
    if (info !== undefined && keys.brokerIdOf(b.key) === info.id) brokers.set(info.id, b.createRevision);
  }
  const n = Math.max(1, brokers.size);
  const added = placeReplicas({
    brokers: [...brokers.keys()],
    partitions: total - current,
    replicationFactor: record.data.replicationFactor,
    startIndex: random(n),
    shift: random(n),
  });
  const unchanged = cmp.modRevisionIs(topicKey, kv.modRevision);
  for (let from = 0; from < added.length; from += CONTROLLER_TXN_OPS_MAX) {
    const puts: TxnOp[] = [];
    for (let i = from; i < Math.min(added.length, from + CONTROLLER_TXN_OPS_MAX); i++) {
      const state: PartitionState = { leader: added[i][0], leaderEpoch: 0, isr: [...added[i]], partitionEpoch: 0 };
      puts.push(op.put(keys.partition(name, current + i), JSON.stringify(state)));
    }
    const r = await election.fencedTxn({ compare: [unchanged], success: puts });
    if (!r.succeeded) throw new SluiceError(ErrorCode.INVALID_PARTITIONS, `topic '${name}' changed while partitions were added; try again`);
  }
  const grown: TopicRecord = TopicRecordSchema.parse({ ...record.data, partitions: total, replicas: [...record.data.replicas, ...added] });
  const stillThere: Compare[] = [...new Set(added.flat())].map((id) => cmp.createRevisionIs(keys.broker(id), brokers.get(id)!));
  const r = await election.fencedTxn({ compare: [unchanged, ...stillThere], success: [op.put(topicKey, JSON.stringify(grown))] });
  if (!r.succeeded) throw new SluiceError(ErrorCode.INVALID_PARTITIONS, `topic '${name}' or its brokers changed while partitions were added; try again`);
  return { revision: r.revision };
}
