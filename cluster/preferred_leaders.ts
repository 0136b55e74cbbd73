// Preferred leaders (docs/SCALING.md, "Preferred leaders"): each partition's
// first replica is where its leadership belongs when all is well, because the
// placement and the reassignment generator spread first replicas evenly over
// the brokers. After a failover or a restart the leaderships pile up on the
// brokers that stayed up; moving each back to its first replica, once that
// replica is alive and in sync, restores the spread. Pure: the controller
// passes the states and who may lead.
//
// The imbalance measure is Kafka's (leader.imbalance.per.broker.percentage):
// for each broker, of the partitions whose preferred leader it is, the share
// led by another broker.

import { NO_LEADER, type PartitionState } from "./topic_metadata.ts";

/** Moving leadership back to the first replica: only when it is eligible (alive, not shutting down) and in the ISR. */
export function preferredLeaderChange(
  replicas: readonly number[],
  state: PartitionState,
  eligible: (broker: number) => boolean,
): Omit<PartitionState, "partitionEpoch"> | undefined {
  const preferred = replicas[0];
  if (preferred === undefined || state.leader === preferred) return undefined;
  if (!eligible(preferred) || !state.isr.includes(preferred)) return undefined;
  return { leader: preferred, leaderEpoch: state.leaderEpoch + 1, isr: [...state.isr] };
}

export interface PartitionPlacement {
  readonly topic: string;
  readonly partition: number;
  readonly replicas: readonly number[];
  readonly state: PartitionState | undefined;
}

export interface BrokerLeaderImbalance {
  readonly broker: number;
  /** Partitions whose first replica this broker is. */
  readonly preferred: number;
  /** Of those, the ones another broker (or nobody) leads. */
  readonly notLed: number;
  /** notLed / preferred, 0 when preferred is 0. */
  readonly ratio: number;
}

export function leaderImbalance(partitions: Iterable<PartitionPlacement>): BrokerLeaderImbalance[] {
  const m = new Map<number, { preferred: number; notLed: number }>();
  for (const p of partitions) {
    const b = p.replicas[0];
    if (b === undefined) continue;
    const e = m.get(b) ?? { preferred: 0, notLed: 0 };
    e.preferred++;
    if (p.state === undefined || p.state.leader === NO_LEADER || p.state.leader !== b) e.notLed++;
    m.set(b, e);
  }
  return [...m]
    .sort((a, b) => a[0] - b[0])
    .map(([broker, e]) => ({ broker, ...e, ratio: e.preferred === 0 ? 0 : e.notLed / e.preferred }));
}

/**
 * The partitions to move back to their preferred leader. With a threshold
 * (the automatic balancer), only those whose preferred broker's imbalance
 * ratio is above it; without (`sluice cluster elect-leaders --preferred`),
 * every one that can move.
 */
export function preferredElections(
  partitions: readonly PartitionPlacement[],
  eligible: (broker: number) => boolean,
  thresholdRatio?: number,
): { topic: string; partition: number; from: PartitionState; to: Omit<PartitionState, "partitionEpoch"> }[] {
  const over =
    thresholdRatio === undefined ? undefined : new Set(leaderImbalance(partitions).filter((b) => b.ratio > thresholdRatio).map((b) => b.broker));
  const out: { topic: string; partition: number; from: PartitionState; to: Omit<PartitionState, "partitionEpoch"> }[] = [];
  for (const p of partitions) {
    if (p.state === undefined) continue;
    if (over !== undefined && !over.has(p.replicas[0])) continue;
    const to = preferredLeaderChange(p.replicas, p.state, eligible);
    if (to !== undefined) out.push({ topic: p.topic, partition: p.partition, from: p.state, to });
  }
  return out;
}
