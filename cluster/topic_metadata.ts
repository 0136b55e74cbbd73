// Topics, replica assignments and partition states as etcd holds them
// (docs/CLUSTER.md, "The etcd key layout" and "Partition state"), and reading
// them at one revision. Written only by the controller (controller_topics.ts).
//
// A topic exists once its `topics/<name>` key exists: partition states are
// written before it (a topic of many partitions takes several transactions),
// so a reader that finds states without a topic key ignores them.

import { z } from "zod";
import type { ClusterKeys } from "./cluster_keys.ts";
import type { EtcdClient } from "./etcd_client.ts";
import type { KeyValue } from "./etcd_wire.ts";

const brokerId = z.number().int().min(0);

/**
 * A partition being moved (docs/SCALING.md, "Executing a move"; Kafka's
 * KIP-455): while it lasts the partition's `replicas` are the old list with
 * the adding brokers last, and `target` is where it ends (first = preferred
 * leader). Written and cleared only by the controller (reassignment_controller.ts).
 */
export const PartitionMoveSchema = z
  .object({
    target: z.array(brokerId).min(1),
    /** target − old: brokers copying the partition. */
    adding: z.array(brokerId),
    /** old − target: brokers that drop it at the cut-over. */
    removing: z.array(brokerId),
    /** What a leader may send to the adding replicas, bytes per second and broker (absent: unthrottled). */
    throttleBytesPerSec: z.number().int().min(1).optional(),
  })
  .strict();

export type PartitionMove = z.output<typeof PartitionMoveSchema>;

export const TopicRecordSchema = z
  .object({
    topicId: z.string().min(1),
    partitions: z.number().int().min(1),
    replicationFactor: z.number().int().min(1),
    configs: z.record(z.string(), z.string()),
    /** Index = partition; each list's first broker is the preferred leader. During a move: old ∪ target, the adding ones last. */
    replicas: z.array(z.array(brokerId).min(1)),
    /** Partitions being moved, by partition number (absent in records written before moves existed, and when none is). */
    moves: z.record(z.string().regex(/^(0|[1-9]\d{0,8})$/), PartitionMoveSchema).optional(),
  })
  .strict()
  .refine((t) => t.replicas.length === t.partitions, "replicas must have one list per partition")
  .refine(
    (t) => t.replicas.every((r, p) => moveConsistent(r, t.replicationFactor, t.moves?.[String(p)])),
    "each replica list must hold replicationFactor brokers, or during a move the old ones and the adding ones",
  );

/** A replica list agrees with its move (or with the replication factor when none). */
function moveConsistent(replicas: readonly number[], rf: number, move: PartitionMove | undefined): boolean {
  if (move === undefined) return replicas.length === rf;
  const { target, adding, removing } = move;
  return (
    target.length === rf &&
    replicas.length === rf + adding.length &&
    new Set(replicas).size === replicas.length &&
    target.every((b) => replicas.includes(b)) &&
    adding.every((b) => target.includes(b)) &&
    replicas.slice(rf).every((b, i) => adding[i] === b) &&
    removing.every((b) => replicas.includes(b) && !target.includes(b)) &&
    removing.length === adding.length
  );
}

/** The move of partition `p` of a topic, if one is in progress. */
export function moveOf(record: TopicRecord, p: number): PartitionMove | undefined {
  return record.moves?.[String(p)];
}

export type TopicRecord = z.output<typeof TopicRecordSchema>;

/** No leader: every ISR member is gone (the partition waits for one to return). */
export const NO_LEADER = -1;

export const PartitionStateSchema = z
  .object({
    leader: z.number().int().min(NO_LEADER),
    leaderEpoch: z.number().int().min(0),
    isr: z.array(brokerId),
    partitionEpoch: z.number().int().min(0),
  })
  .strict();

export type PartitionState = z.output<typeof PartitionStateSchema>;

/** A partition state with the etcd revision of its last write (what a compare-and-swap compares). */
export interface VersionedPartitionState extends PartitionState {
  readonly modRevision: number;
}

/**
 * Whether `state` lets broker `brokerId`, registered at `registrationRevision`
 * (its broker epoch: the registration key's create revision), lead: it names
 * the broker leader and was written after that registration, so for this
 * incarnation and not an earlier one (docs/CLUSTER.md, "Broker epochs").
 * States of every version carry their etcd mod revision, so a state written
 * before broker epochs existed is judged the same way.
 */
export function leadsAsThisIncarnation(state: VersionedPartitionState, brokerId: number, registrationRevision: number): boolean {
  return state.leader === brokerId && state.modRevision > registrationRevision;
}

export interface TopicView {
  readonly name: string;
  readonly record: TopicRecord;
  /** Index = partition; undefined where the state key is missing. */
  readonly partitions: (VersionedPartitionState | undefined)[];
}

export function parseJson<T>(schema: z.ZodType<T>, kv: KeyValue): T | undefined {
  try {
    const r = schema.safeParse(JSON.parse(kv.value));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

export function versionedState(kv: KeyValue): VersionedPartitionState | undefined {
  const s = parseJson(PartitionStateSchema, kv);
  return s === undefined ? undefined : { ...s, modRevision: kv.modRevision };
}

/** Every topic with its partition states, read at one revision. */
export async function readTopics(client: EtcdClient, keys: ClusterKeys): Promise<{ revision: number; topics: TopicView[] }> {
  const t = await client.range(keys.topicsPrefix, { prefix: true });
  const p = await client.range(keys.partitionsPrefix, { prefix: true, revision: t.revision });
  const states = new Map<string, KeyValue>();
  for (const kv of p.kvs) states.set(kv.key, kv);
  const topics: TopicView[] = [];
  for (const kv of t.kvs) {
    const name = kv.key.slice(keys.topicsPrefix.length);
    const record = parseJson(TopicRecordSchema, kv);
    if (record === undefined || name.includes("/")) continue;
    const partitions: (VersionedPartitionState | undefined)[] = [];
    for (let i = 0; i < record.partitions; i++) {
      const skv = states.get(keys.partition(name, i));
      partitions.push(skv === undefined ? undefined : versionedState(skv));
    }
    topics.push({ name, record, partitions });
  }
  return { revision: t.revision, topics };
}
