// Kafka's "consumer" embedded protocol, read (never written) by the broker:
// the subscription a member puts in its JoinGroup metadata and the assignment
// the leader puts in SyncGroup are opaque to the group protocol, but reading
// their topics lets `sluice groups describe`, lag metrics and partition-count
// rebalances work for Kafka clients' groups as for native ones.
//
//   ConsumerProtocolSubscription => version:INT16 topics:[STRING] userData:NULLABLE_BYTES …
//   ConsumerProtocolAssignment   => version:INT16 [topic:STRING partitions:[INT32]] userData:NULLABLE_BYTES …
//
// Every version starts with these fields, non-flexible. Bytes that do not
// read as such (another protocol type, or garbage) give null: the group still
// works, the broker just cannot show its topics.

import { PARTITIONS_PER_TOPIC_MAX } from "../../protocol/limits.ts";
import { KafkaReader } from "../../protocol/kafka/reader.ts";
import type { MemberAssignment } from "../groups/assignor.ts";

/** The subscribed topics of a consumer subscription, or null when `bytes` is not one. */
export function subscriptionTopics(bytes: Uint8Array): string[] | null {
  try {
    const r = new KafkaReader(bytes);
    if (r.int16("subscription.version") < 0) return null;
    const n = r.arrayLength("subscription.topics", false, 2);
    const topics: string[] = [];
    for (let i = 0; i < n; i++) topics.push(r.string("subscription.topics[]"));
    return topics;
  } catch {
    return null;
  }
}

/** The topics and partitions of a consumer assignment, or null when `bytes` is not one. */
export function assignmentPartitions(bytes: Uint8Array): MemberAssignment | null {
  if (bytes.length === 0) return new Map();
  try {
    const r = new KafkaReader(bytes);
    if (r.int16("assignment.version") < 0) return null;
    const n = r.arrayLength("assignment.topics", false, 6);
    const out: MemberAssignment = new Map();
    for (let i = 0; i < n; i++) {
      const topic = r.string("assignment.topics[].topic");
      const k = r.arrayLength("assignment.topics[].partitions", false, 4);
      const partitions: number[] = [];
      for (let j = 0; j < k; j++) {
        const p = r.int32("assignment.topics[].partitions[]");
        if (p < 0 || p >= PARTITIONS_PER_TOPIC_MAX) return null;
        partitions.push(p);
      }
      out.set(topic, [...(out.get(topic) ?? []), ...partitions]);
    }
    return out;
  } catch {
    return null;
  }
}
