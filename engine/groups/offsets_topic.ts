// Which partition of the replicated `__consumer_offsets` topic holds a
// group's committed offsets, in a cluster: the group's coordinator is that
// partition's leader (docs/CLUSTER.md, "Consumer groups in a cluster").
//
// The hash is Kafka's own (GroupMetadataManager.partitionFor): Java's
// String.hashCode over the id's UTF-16 code units (h = 31·h + c, 32-bit
// wrap-around), made non-negative as Kafka's Utils.abs does (MIN_VALUE → 0),
// modulo the partition count. Stable across versions and processes: it
// depends on the id's characters only.

import { OFFSETS_TOPIC } from "../../protocol/topic_name.ts";
import { OFFSETS_TOPIC_PARTITIONS } from "../engine_limits.ts";

export { OFFSETS_TOPIC, OFFSETS_TOPIC_PARTITIONS };

/** Java's String.hashCode. */
export function javaStringHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

/** The offsets partition of `groupId` (0 ≤ result < partitions). */
export function offsetsPartitionFor(groupId: string, partitions: number = OFFSETS_TOPIC_PARTITIONS): number {
  const h = javaStringHash(groupId);
  const abs = h === -2147483648 ? 0 : Math.abs(h);
  return abs % partitions;
}
