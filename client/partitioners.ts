// Partitioners: which partition a record goes to when send() names none.
//
// - "round-robin": partitions in turn (the default for records without a key).
// - "hash": Kafka's default for keyed records, toPositive(murmur2(key)) % n,
//   so a key lands where a Kafka client would put it and all records of one
//   key stay in one partition (in order). Records without a key fall back to
//   round-robin.
// - "random": uniformly random.
// - a function: the application decides; its result is checked at the edge.

import { ROUND_ROBIN_WRAP } from "./client_limits.ts";
import { murmur2, toPositive } from "./murmur2.ts";
import { utf8Encode } from "../protocol/utf8.ts";

export interface PartitionerInput {
  readonly topic: string;
  /** The key as bytes (strings are UTF-8 encoded first), or null. */
  readonly key: Uint8Array | null;
  readonly partitionCount: number;
}

/** Returns a partition in [0, partitionCount). */
export type PartitionerFn = (input: PartitionerInput) => number;

export type PartitionerName = "round-robin" | "hash" | "random";

/** Key hash as Kafka's default partitioner computes it (no fallback: the key must be there). */
export function kafkaKeyPartition(key: Uint8Array | string, partitionCount: number): number {
  const bytes = typeof key === "string" ? utf8Encode(key) : key;
  return toPositive(murmur2(bytes)) % partitionCount;
}

/** A round-robin partitioner with its own counter per topic. */
export function roundRobinPartitioner(): PartitionerFn {
  // One mutable counter per topic: no Map write per record.
  const next = new Map<string, { n: number }>();
  return ({ topic, partitionCount }) => {
    let counter = next.get(topic);
    if (counter === undefined) next.set(topic, (counter = { n: 0 }));
    const n = counter.n;
    counter.n = (n + 1) % ROUND_ROBIN_WRAP;
    return n % partitionCount;
  };
}

/** Kafka's key hash; records without a key go round-robin. */
export function hashPartitioner(): PartitionerFn {
  const fallback = roundRobinPartitioner();
  return (input) => (input.key === null ? fallback(input) : toPositive(murmur2(input.key)) % input.partitionCount);
}

export function randomPartitioner(): PartitionerFn {
  return ({ partitionCount }) => Math.floor(Math.random() * partitionCount);
}

export function partitionerFor(choice: PartitionerName | PartitionerFn): PartitionerFn {
  if (typeof choice === "function") return choice;
  switch (choice) {
    case "round-robin":
      return roundRobinPartitioner();
    case "hash":
      return hashPartitioner();
    case "random":
      return randomPartitioner();
  }
}
