// `sluice partitions reassign --generate`: a balanced plan for a set of
// brokers that moves as few replicas as it can (docs/CLUSTER.md, "Scaling
// out"). Pure: the CLI passes the current assignment and the brokers.
//
// What the plan guarantees, over the partitions it was given:
// - no partition names a broker twice, and each keeps its replication factor;
// - every replica sits on one of the target brokers (a broker left out of the
//   list is emptied: that is how decommissioning is planned);
// - replicas per broker differ by at most one, and so do preferred leaders
//   (each partition's first replica) — whenever the assignment allows it,
//   which it does unless the replication factor is close to the broker count
//   and racks constrain it;
// - with racks, no move lowers a partition's rack spread, and moves that
//   spread a partition over more racks are made where they keep the balance.
//
// How: (1) replicas on brokers outside the target list move to the eligible
// target with the fewest replicas; (2) while the most loaded broker holds two
// or more replicas above the least loaded one, a breadth-first search finds
// the shortest chain of single moves x→y (x's replica of partition P moves to
// y, which P does not hold) from a most loaded broker to one at least two
// below it: every broker inside the chain gives one and takes one, so only
// the ends change, by one each, and the chain is as short as can be, which
// keeps the moves few; (3) the same search over preferred leaders, where an
// edge x→y is a partition led by x that y also holds (a reorder, not a move:
// no data is copied); (4) a pass that swaps replicas between partitions to
// spread them over more racks without changing any broker's count.

import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import type { PartitionAssignment, ReassignmentPlan } from "./reassignment_plan.ts";
import { REASSIGNMENT_PLAN_VERSION } from "./reassignment_plan.ts";

export interface GenerateInput {
  /** The partitions to balance, with their current replicas. */
  readonly current: readonly PartitionAssignment[];
  /** The brokers the partitions should end on. */
  readonly brokers: readonly number[];
  /** Rack of each broker (missing or null: no rack). */
  readonly racks?: ReadonlyMap<number, string | null>;
}

export interface BrokerLoad {
  readonly broker: number;
  readonly replicas: number;
  readonly leaders: number;
}

export interface GeneratedPlan {
  /** Only the partitions whose replica list (or its order) changes. */
  readonly plan: ReassignmentPlan;
  /** Replicas that land on a broker that did not hold them (data to copy). */
  readonly moves: number;
  /** Partitions whose preferred leader changes. */
  readonly leaderChanges: number;
  readonly before: BrokerLoad[];
  readonly after: BrokerLoad[];
}

export function generateReassignment(input: GenerateInput): GeneratedPlan {
  const targets = [...new Set(input.brokers)].sort((a, b) => a - b);
  if (targets.length === 0) throw new SluiceError(ErrorCode.INVALID_REQUEST, "at least one target broker is needed");
  for (const b of targets) {
    if (!Number.isInteger(b) || b < 0) throw new SluiceError(ErrorCode.INVALID_REQUEST, `broker ids are non-negative integers, got ${b}`);
  }
  const rackOf = (b: number): string | null => input.racks?.get(b) ?? null;
  const parts = input.current.map((p) => ({ topic: p.topic, partition: p.partition, old: [...p.replicas], replicas: [...p.replicas] }));
  for (const p of parts) {
    if (p.replicas.length > targets.length) {
      throw new SluiceError(
        ErrorCode.INVALID_REPLICATION_FACTOR,
        `${p.topic}-${p.partition} has ${p.replicas.length} replicas but only ${targets.length} target broker${targets.length === 1 ? "" : "s"}`,
      );
    }
  }
  const before = loads(parts, new Set([...targets, ...parts.flatMap((p) => p.replicas)]));

  const targetSet = new Set(targets);
  const count = new Map<number, number>(targets.map((b) => [b, 0]));
  for (const p of parts) for (const b of p.replicas) if (targetSet.has(b)) count.set(b, count.get(b)! + 1);

  // Rack spread of a replica list: distinct racks (brokers without a rack each count as their own).
  const spread = (replicas: readonly number[]): number => new Set(replicas.map((b) => rackOf(b) ?? `#${b}`)).size;
  // Replacing x by y in p keeps (or raises) its rack spread.
  const spreadKept = (p: { replicas: number[] }, x: number, y: number): boolean => spread(p.replicas.map((b) => (b === x ? y : b))) >= spread(p.replicas);

  // (1) Off the brokers that are not targets.
  for (const p of parts) {
    for (let i = 0; i < p.replicas.length; i++) {
      const x = p.replicas[i];
      if (targetSet.has(x)) continue;
      const rest = p.replicas.filter((_, j) => j !== i);
      const restRacks = new Set(rest.map((b) => rackOf(b) ?? `#${b}`));
      const candidates = targets.filter((y) => !p.replicas.includes(y));
      candidates.sort((a, b) => {
        const ra = restRacks.has(rackOf(a) ?? `#${a}`) ? 1 : 0;
        const rb = restRacks.has(rackOf(b) ?? `#${b}`) ? 1 : 0;
        return ra - rb || count.get(a)! - count.get(b)! || a - b;
      });
      const y = candidates[0];
      p.replicas[i] = y;
      count.set(y, count.get(y)! + 1);
    }
  }

  // (2) Even the replica counts with shortest chains of moves.
  balanceByChains(
    targets,
    (b) => count.get(b)!,
    (x) => {
      // Edges out of x: partitions holding x, to each target they do not hold.
      // A moved replica takes its leadership along, so the order of the edges
      // (the search takes the first chain it finds) steers leaderships too:
      // a broker leading more than its share gives a partition it leads, the
      // others a follower; a leadership goes to the broker leading least.
      const leads = leaderCounts(parts, targets);
      const fairLeaders = parts.length / targets.length;
      const givesLeader = (leads.get(x) ?? 0) > fairLeaders;
      const out: { to: number; apply: () => void; rank: number }[] = [];
      for (const p of parts) {
        const i = p.replicas.indexOf(x);
        if (i < 0) continue;
        for (const y of targets) {
          if (p.replicas.includes(y) || !spreadKept(p, x, y)) continue;
          const isLeader = i === 0;
          out.push({
            to: y,
            rank: (isLeader === givesLeader ? 0 : 1_000_000) + (isLeader ? (leads.get(y) ?? 0) : 0),
            apply: () => {
              p.replicas[p.replicas.indexOf(x)] = y;
            },
          });
        }
      }
      return out.sort((a, b) => a.rank - b.rank);
    },
    (from, to) => {
      count.set(from, count.get(from)! - 1);
      count.set(to, count.get(to)! + 1);
    },
  );

  // (4) Spread over more racks where a swap between two partitions keeps every count.
  if (input.racks !== undefined && new Set(targets.map(rackOf).filter((r) => r !== null)).size > 1) spreadRacks(parts, spread);

  // (3) Even the preferred leaders: reorder within a partition, no data moves.
  // Where no reorder chain exists (each partition's replicas fixed by step 2
  // lock the leaders in), one swap of replicas between two partitions — the
  // over-led broker's leadership of P for a low broker's follower place in Q
  // — makes one, at the cost of two copies; replica counts stay as they are.
  for (;;) {
    balanceLeaders(parts, targets);
    if (!swapForLeader(parts, targets, spreadKept)) break;
  }
  let moves = 0;
  let leaderChanges = 0;
  const changed: PartitionAssignment[] = [];
  for (const p of parts) {
    moves += p.replicas.filter((b) => !p.old.includes(b)).length;
    if (p.replicas[0] !== p.old[0]) leaderChanges++;
    if (p.replicas.length !== p.old.length || p.replicas.some((b, i) => b !== p.old[i])) {
      changed.push({ topic: p.topic, partition: p.partition, replicas: [...p.replicas] });
    }
  }
  return {
    plan: { version: REASSIGNMENT_PLAN_VERSION, partitions: changed },
    moves,
    leaderChanges,
    before,
    after: loads(parts, new Set(targets)),
  };
}

function balanceLeaders(parts: { replicas: number[] }[], targets: readonly number[]): void {
  const leaders = leaderCounts(parts, targets);
  balanceByChains(
    targets,
    (b) => leaders.get(b)!,
    (x) => {
      const out: ChainEdge[] = [];
      for (const p of parts) {
        if (p.replicas[0] !== x) continue;
        for (const y of p.replicas.slice(1)) {
          out.push({
            to: y,
            apply: () => {
              // y leads; x becomes the first follower, so the old preferred leader is the next choice.
              const rest = p.replicas.filter((b) => b !== x && b !== y);
              p.replicas.splice(0, p.replicas.length, y, x, ...rest);
            },
          });
        }
      }
      return out;
    },
    (from, to) => {
      leaders.set(from, leaders.get(from)! - 1);
      leaders.set(to, leaders.get(to)! + 1);
    },
  );
}

/** One swap that moves a leadership from a most-led broker to one two or more below it; false when none exists or none is needed. */
function swapForLeader(
  parts: { replicas: number[] }[],
  targets: readonly number[],
  spreadKept: (p: { replicas: number[] }, x: number, y: number) => boolean,
): boolean {
  const leaders = leaderCounts(parts, targets);
  const max = Math.max(...leaders.values());
  for (const x of targets.filter((b) => leaders.get(b) === max)) {
    for (const z of targets.filter((b) => leaders.get(b)! <= max - 2)) {
      for (const p of parts) {
        if (p.replicas[0] !== x || p.replicas.includes(z) || !spreadKept(p, x, z)) continue;
        for (const q of parts) {
          const i = q.replicas.indexOf(z);
          if (q === p || i <= 0 || q.replicas.includes(x) || !spreadKept(q, z, x)) continue;
          p.replicas[0] = z;
          q.replicas[i] = x;
          return true;
        }
      }
    }
  }
  return false;
}

interface ChainEdge {
  readonly to: number;
  apply(): void;
}

/**
 * Moves one unit at a time from a most loaded node to a node at least two
 * below it along the shortest chain of edges, until the spread is at most one
 * or no chain exists. Each chain changes only its two ends' counts. Edges are
 * recomputed after every chain (applying one changes the graph).
 */
function balanceByChains(
  nodes: readonly number[],
  load: (n: number) => number,
  edgesOf: (n: number) => ChainEdge[],
  moved: (from: number, to: number) => void,
): void {
  // Each chain lowers the sum of squared loads, so this bound is never reached; it guards a bug from looping forever.
  let guard = nodes.reduce((s, n) => s + load(n) * load(n), 0) + 1;
  while (guard-- > 0) {
    const max = Math.max(...nodes.map(load));
    const min = Math.min(...nodes.map(load));
    if (max - min <= 1) return;
    let done = false;
    for (const source of nodes.filter((n) => load(n) === max)) {
      const chain = shortestChain(source, (n) => load(n) <= max - 2, edgesOf);
      if (chain === undefined) continue;
      for (const e of chain) e.apply();
      moved(source, chain[chain.length - 1].to);
      done = true;
      break;
    }
    if (!done) return;
  }
}

function shortestChain(source: number, isSink: (n: number) => boolean, edgesOf: (n: number) => ChainEdge[]): ChainEdge[] | undefined {
  const via = new Map<number, { prev: number; edge: ChainEdge } | null>([[source, null]]);
  const queue = [source];
  for (let head = 0; head < queue.length; head++) {
    const x = queue[head];
    for (const e of edgesOf(x)) {
      if (via.has(e.to)) continue;
      via.set(e.to, { prev: x, edge: e });
      if (isSink(e.to)) {
        const chain: ChainEdge[] = [];
        for (let n = e.to; n !== source; ) {
          const step = via.get(n)!;
          chain.push(step.edge);
          n = step.prev;
        }
        // Applied from the sink back: each step's broker still holds what the next step takes from it.
        return chain;
      }
      queue.push(e.to);
    }
  }
  return undefined;
}

/** Swaps x (in P) with y (in Q) when that raises P's rack spread and lowers neither's. Counts are unchanged. */
function spreadRacks(parts: { replicas: number[] }[], spread: (r: readonly number[]) => number): void {
  const swapped = (r: number[], from: number, to: number) => r.map((b) => (b === from ? to : b));
  for (const p of parts) {
    let improved = true;
    while (improved) {
      improved = false;
      const sp = spread(p.replicas);
      if (sp === p.replicas.length) break;
      search: for (const x of p.replicas) {
        for (const q of parts) {
          if (q === p) continue;
          for (const y of q.replicas) {
            if (p.replicas.includes(y) || q.replicas.includes(x)) continue;
            const np = swapped(p.replicas, x, y);
            const nq = swapped(q.replicas, y, x);
            if (spread(np) > sp && spread(nq) >= spread(q.replicas)) {
              p.replicas.splice(0, p.replicas.length, ...np);
              q.replicas.splice(0, q.replicas.length, ...nq);
              improved = true;
              break search;
            }
          }
        }
      }
    }
  }
}

function leaderCounts(parts: readonly { replicas: readonly number[] }[], brokers: readonly number[]): Map<number, number> {
  const m = new Map<number, number>(brokers.map((b) => [b, 0]));
  for (const p of parts) m.set(p.replicas[0], (m.get(p.replicas[0]) ?? 0) + 1);
  return m;
}

function loads(parts: readonly { replicas: readonly number[] }[], brokers: ReadonlySet<number>): BrokerLoad[] {
  const m = new Map<number, { replicas: number; leaders: number }>([...brokers].map((b) => [b, { replicas: 0, leaders: 0 }]));
  for (const p of parts) {
    p.replicas.forEach((b, i) => {
      const l = m.get(b) ?? { replicas: 0, leaders: 0 };
      l.replicas++;
      if (i === 0) l.leaders++;
      m.set(b, l);
    });
  }
  return [...m].sort((a, b) => a[0] - b[0]).map(([broker, l]) => ({ broker, ...l }));
}
