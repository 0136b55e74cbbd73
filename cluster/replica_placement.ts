// Where a new topic's replicas go: evenly over the live brokers, with leaders
// spread (docs/CLUSTER.md, next steps 1). Pure: the controller passes the live
// brokers and the two offsets; tests pass fixed ones.
//
// The scheme is Kafka's rack-unaware one, because its properties are known:
// - partition p's first replica (its preferred leader) is broker
//   (start + p) mod n, so leaders go round the brokers and no broker leads
//   more than one partition above any other;
// - the other replicas follow the first at a distance 1 + (shift + j) mod
//   (n - 1), j = 0, 1, …, so they are distinct and never the leader; the shift
//   grows by one each time the partitions have gone round all n brokers, so
//   one broker's partitions have their followers on different brokers, and
//   when it dies its leaderships spread over several brokers instead of all
//   landing on its neighbour;
// - within every full round of n partitions each broker holds exactly one
//   replica in each position, so the replica counts stay level.
// Racks are registered but not used yet (rack-aware placement is the plan).

import { ErrorCode, SluiceError } from "../protocol/errors.ts";

export interface PlacementInput {
  /** Live broker ids (any order; placed in ascending order). */
  readonly brokers: readonly number[];
  readonly partitions: number;
  readonly replicationFactor: number;
  /** Which broker leads partition 0 (index into the sorted brokers; the controller picks it at random). */
  readonly startIndex: number;
  /** The followers' first distance offset (likewise). */
  readonly shift: number;
}

/** Replica lists, index = partition, each list's first entry the preferred leader. */
export function placeReplicas(input: PlacementInput): number[][] {
  const brokers = [...new Set(input.brokers)].sort((a, b) => a - b);
  const n = brokers.length;
  const rf = input.replicationFactor;
  if (!Number.isInteger(rf) || rf < 1) throw new SluiceError(ErrorCode.INVALID_REPLICATION_FACTOR, `replication factor must be at least 1, got ${rf}`);
  if (rf > n) {
    throw new SluiceError(
      ErrorCode.INVALID_REPLICATION_FACTOR,
      `replication factor ${rf} is larger than the number of live brokers (${n}${n > 0 ? `: ${brokers.join(", ")}` : ""})`,
    );
  }
  if (!Number.isInteger(input.partitions) || input.partitions < 1) {
    throw new SluiceError(ErrorCode.INVALID_PARTITIONS, `a topic needs at least one partition, got ${input.partitions}`);
  }
  const start = ((input.startIndex % n) + n) % n;
  let shift = ((input.shift % n) + n) % n;
  const out: number[][] = [];
  for (let p = 0; p < input.partitions; p++) {
    if (p > 0 && p % n === 0) shift++;
    const first = (start + p) % n;
    const replicas = [brokers[first]];
    for (let j = 0; j < rf - 1; j++) {
      const distance = 1 + ((shift + j) % (n - 1));
      replicas.push(brokers[(first + distance) % n]);
    }
    out.push(replicas);
  }
  return out;
}
