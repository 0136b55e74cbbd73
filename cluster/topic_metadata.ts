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

export const TopicRecordSchema = z
  .object({
    topicId: z.string().min(1),
    partitions: z.number().int().min(1),
    replicationFactor: z.number().int().min(1),
    configs: z.record(z.string(), z.string()),
    /** Index = partition; each list's first broker is the preferred leader. */
    replicas: z.array(z.array(brokerId).min(1)),
  })
  .strict()
  .refine((t) => t.replicas.length === t.partitions && t.replicas.every((r) => r.length === t.replicationFactor), "replicas must match partitions × replicationFactor");

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
