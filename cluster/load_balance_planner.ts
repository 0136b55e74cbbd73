// `sluice cluster balance --by-load`: a reassignment plan that evens out the
// bytes per second each broker takes, from the brokers' load reports
// (load_reports.ts; docs/SCALING.md, "Hot partitions"). Pure: the CLI passes
// the assignment, the current leaders and the reports.
//
// The load model, per partition, from its leader's report (the leader sees
// the produce and every fetch): a leader replica takes its bytes in + bytes
// out per second (producers, consumers and its followers' fetches); a
// follower replica takes the bytes in (it fetches and writes what the leader
// took). Where the leader did not report the partition, a follower's bytes in
// stand for both roles. A broker's load is the sum over its replicas.
// `before` is that load with the current leaders; `after` with each
// partition led by its first replica, which elect-leaders --preferred or the
// automatic balancer bring about once the plan is executed.
//
// Why a greedy over single actions and not the chain search of
// reassignment_generator.ts: the chains even out counts in unit steps (each
// chain moves exactly one unit between its ends), but a partition's weight
// here is a real number that differs by orders of magnitude between a hot
// partition and the rest, so there is no unit to chain. The greedy takes, as
// long as it lowers the sum of squared broker loads (which falls exactly
// when a move of weight w from x to y has w < load(x) − load(y), so it never
// just moves a hot spot), the action off the most loaded broker that lowers
// it most: either making another replica of a partition it leads the first
// one (a leadership change: nothing copied, preferred when it does at least
// half as well) or moving one of its replicas to a broker that holds none of
// that partition (copies the replica's bytes). A partition heavier than the
// gap is left where it is: moving it would only move the hot spot, and the
// answer to that is more partitions, not a move. Bounded by
// LOAD_BALANCE_MOVES_MAX actions; rack spread is never lowered.

import { LOAD_BALANCE_MOVES_MAX } from "./cluster_limits.ts";
import type { LoadReport } from "./load_reports.ts";
import { type PartitionAssignment, REASSIGNMENT_PLAN_VERSION, type ReassignmentPlan } from "./reassignment_plan.ts";

export interface LoadPlanInput {
  /** Partitions with their current replicas (first = preferred leader) and current leader (-1: none). */
  readonly current: readonly (PartitionAssignment & { readonly leader: number })[];
  /** The brokers partitions may be on (the registered ones). */
  readonly brokers: readonly number[];
  readonly reports: ReadonlyMap<number, LoadReport>;
  readonly racks?: ReadonlyMap<number, string | null>;
  /** Actions at most (default LOAD_BALANCE_MOVES_MAX). */
  readonly movesMax?: number;
}

export interface BrokerByteLoad {
  readonly broker: number;
  readonly bytesPerSec: number;
}

export interface LoadPlan {
  readonly plan: ReassignmentPlan;
  /** Replicas that land on a broker that did not hold them. */
  readonly moves: number;
  /** Partitions whose first replica (preferred leader) changes. */
  readonly leaderChanges: number;
  /** Bytes the moves copy (the moved replicas' reported sizes; 0 where unknown). */
  readonly bytesToCopy: number;
  readonly before: BrokerByteLoad[];
  readonly after: BrokerByteLoad[];
}

interface Weights {
  leader: number;
  follower: number;
  sizeBytes: number;
}

/** A partition's weights per role from the reports (zero when nobody reported it). */
function weightsOf(topic: string, partition: number, leader: number, reports: ReadonlyMap<number, LoadReport>): Weights {
  let fromFollower: Weights | undefined;
  for (const [broker, r] of reports) {
    const l = r.partitions.find((x) => x.topic === topic && x.partition === partition);
    if (l === undefined) continue;
    if (l.leader && broker === leader) return { leader: l.bytesInPerSec + l.bytesOutPerSec, follower: l.bytesInPerSec, sizeBytes: l.sizeBytes };
    if (l.leader) fromFollower ??= { leader: l.bytesInPerSec + l.bytesOutPerSec, follower: l.bytesInPerSec, sizeBytes: l.sizeBytes };
    else fromFollower ??= { leader: l.bytesInPerSec, follower: l.bytesInPerSec, sizeBytes: l.sizeBytes };
  }
  return fromFollower ?? { leader: 0, follower: 0, sizeBytes: 0 };
}

export function planByLoad(input: LoadPlanInput): LoadPlan {
  const movesMax = input.movesMax ?? LOAD_BALANCE_MOVES_MAX;
  const targets = [...new Set(input.brokers)].sort((a, b) => a - b);
  const targetSet = new Set(targets);
  const rackOf = (b: number) => input.racks?.get(b) ?? `#${b}`;
  const spread = (replicas: readonly number[]) => new Set(replicas.map(rackOf)).size;
  const parts = input.current.map((p) => ({
    topic: p.topic,
    partition: p.partition,
    old: [...p.replicas],
    replicas: [...p.replicas],
    w: weightsOf(p.topic, p.partition, p.leader, input.reports),
    leader: p.leader,
  }));

  const load = new Map<number, number>(targets.map((b) => [b, 0]));
  const add = (b: number, x: number) => load.set(b, (load.get(b) ?? 0) + x);
  const before = new Map<number, number>(targets.map((b) => [b, 0]));
  for (const p of parts) {
    // Before: as led now (a partition without a leader counts for its first replica, where it goes back).
    const leaderNow = p.replicas.includes(p.leader) ? p.leader : p.replicas[0];
    for (const b of p.replicas) before.set(b, (before.get(b) ?? 0) + (b === leaderNow ? p.w.leader : p.w.follower));
    p.replicas.forEach((b, i) => add(b, i === 0 ? p.w.leader : p.w.follower));
  }

  for (let step = 0; step < movesMax; step++) {
    let h = targets[0];
    for (const b of targets) if (load.get(b)! > load.get(h)!) h = b;
    const lh = load.get(h)!;
    // Σ load² falls by 2w(lh − ly − w) when w moves from h to y.
    const gain = (w: number, y: number) => 2 * w * (lh - load.get(y)! - w);
    let bestLead: { gain: number; apply: () => void } | undefined;
    let bestMove: { gain: number; apply: () => void } | undefined;
    for (const p of parts) {
      const i = p.replicas.indexOf(h);
      if (i < 0) continue;
      if (i === 0) {
        const w = p.w.leader - p.w.follower;
        for (const y of p.replicas.slice(1)) {
          if (!targetSet.has(y)) continue;
          const g = gain(w, y);
          if (g > 0 && (bestLead === undefined || g > bestLead.gain)) {
            bestLead = {
              gain: g,
              apply: () => {
                p.replicas.splice(0, p.replicas.length, y, ...p.replicas.filter((b) => b !== y));
                add(h, -w);
                add(y, w);
              },
            };
          }
        }
      }
      const w = i === 0 ? p.w.leader : p.w.follower;
      for (const y of targets) {
        if (p.replicas.includes(y)) continue;
        if (spread(p.replicas.map((b) => (b === h ? y : b))) < spread(p.replicas)) continue;
        const g = gain(w, y);
        if (g > 0 && (bestMove === undefined || g > bestMove.gain)) {
          bestMove = {
            gain: g,
            apply: () => {
              p.replicas[p.replicas.indexOf(h)] = y;
              add(h, -w);
              add(y, w);
            },
          };
        }
      }
    }
    const pick = bestLead !== undefined && (bestMove === undefined || bestLead.gain * 2 >= bestMove.gain) ? bestLead : bestMove;
    // Below a thousandth of a byte per second squared the moves are noise in the rates.
    if (pick === undefined || pick.gain < 1e-3) break;
    pick.apply();
  }

  let moves = 0;
  let leaderChanges = 0;
  let bytesToCopy = 0;
  const changed: PartitionAssignment[] = [];
  for (const p of parts) {
    const added = p.replicas.filter((b) => !p.old.includes(b)).length;
    moves += added;
    bytesToCopy += added * p.w.sizeBytes;
    if (p.replicas[0] !== p.old[0]) leaderChanges++;
    if (p.replicas.some((b, i) => b !== p.old[i])) changed.push({ topic: p.topic, partition: p.partition, replicas: [...p.replicas] });
  }
  const list = (m: Map<number, number>) => [...m].sort((a, b) => a[0] - b[0]).map(([broker, bytesPerSec]) => ({ broker, bytesPerSec: Math.round(bytesPerSec) }));
  return { plan: { version: REASSIGNMENT_PLAN_VERSION, partitions: changed }, moves, leaderChanges, bytesToCopy, before: list(before), after: list(load) };
}
