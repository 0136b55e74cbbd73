// The controller's partition state machine: while this broker is controller,
// every partition whose leader or ISR names a broker that is gone is repaired
// in etcd (docs/CLUSTER.md, "Partition state"):
//
// - leader alive, some followers gone: the gone ones leave the ISR (the
//   leader epoch stays);
// - leader gone: the first replica (assignment order) that is in the ISR and
//   alive leads, leader epoch + 1, the gone ones leave the ISR;
// - a broker in controlled shutdown (controlled_shutdown.ts) counts as gone
//   for elections and ISRs, except where it is the only live ISR member: it
//   keeps leading until it stops;
// - leader gone and no ISR member alive: leader -1 (offline), leader epoch
//   + 1, the ISR kept as it was, because only its members hold every
//   acknowledged record; the first of them to come back leads again. A topic
//   with unclean.leader.election.enable=true takes any live replica instead,
//   and may lose acknowledged records (so it is off by default);
// - a broker registered again since the state was written (a restart quicker
//   than this machine's handling of its old registration's deletion: its
//   registration's create revision, its broker epoch, is newer than the
//   state's mod revision) is a new incarnation, which may miss what its old
//   one had not fsynced: it counts as the old one's loss (out of the ISR, a
//   new leader at the next epoch where it led) except where it is the only
//   live ISR member (it stays, alone, and leads at the next epoch). Being a
//   rule on the state and the registrations in etcd, a new controller applies
//   it as well as the one that saw the restart (docs/CLUSTER.md, "Broker
//   epochs").
//
// A pass reads the view (cluster_view.ts) and writes each decision with the
// fenced compare-and-swap (updatePartitionState): a stale view's decision
// fails and is taken again from the state etcd now has, a deposed
// controller's decision is refused and ends its passes. At most one pass runs
// at a time, with at most PARTITION_UPDATES_IN_FLIGHT_MAX writes in flight;
// changes that arrive during a pass make one more pass. A pass looks at every
// partition (O(partitions) per batch of changes): cheap for thousands; a
// per-broker index of partitions is the step after, if it shows up.
// Brokers act on these states (engine/cluster_replicas.ts: lead, follow);
// ISR changes a leader proposes come through alter_partition.ts.

import { CONTROLLER_FENCED, type ControllerElection, ControllerFencedError } from "./controller_election.ts";
import type { ClusterView } from "./cluster_view.ts";
import { SerialPasses } from "./serial_passes.ts";
import { type ControllerContext, updatePartitionState } from "./controller_topics.ts";
import type { EtcdClient } from "./etcd_client.ts";
import { NO_LEADER, type PartitionState, type VersionedPartitionState } from "./topic_metadata.ts";

/** Partition state writes one pass keeps in flight at most. */
export const PARTITION_UPDATES_IN_FLIGHT_MAX = 16;

const NOBODY: ReadonlySet<number> = new Set();

/**
 * The next state of a partition given the live brokers, the brokers in
 * controlled shutdown (controlled_shutdown.ts) and the restarted ones, or
 * undefined when it needs no change. Pure. A shutting-down broker is never
 * elected (also when a leader died), leaves every ISR that keeps another
 * member, and keeps leading only where no other in-sync replica is live and
 * staying. A restarted broker (`restarted`: its registration is newer than the
 * state, see restartedMembers) is its old incarnation's loss, as Kafka's
 * broker epochs make it (KIP-380, KIP-841): it leaves the ISR and, where it
 * led, another live ISR member leads at the next leader epoch; where it is
 * the only live ISR member left it stays in the ISR alone and leads at the
 * next leader epoch (never an empty ISR, never an unclean election).
 */
export function decidePartition(
  replicas: readonly number[],
  state: PartitionState,
  live: ReadonlySet<number>,
  uncleanElection: boolean,
  shuttingDown: ReadonlySet<number> = NOBODY,
  restarted: ReadonlySet<number> = NOBODY,
): Omit<PartitionState, "partitionEpoch"> | undefined {
  const eligible = (b: number) => live.has(b) && !shuttingDown.has(b);
  const fresh = (b: number) => !restarted.has(b);
  const liveIsr = state.isr.filter((b) => live.has(b));
  // Without the shutting-down members: acks=all stops waiting for a broker about to stop.
  const stayingIsr = liveIsr.filter((b) => !shuttingDown.has(b));
  // Without the restarted ones: a new incarnation rejoins by catching up.
  const freshIsr = stayingIsr.filter(fresh);
  if (state.leader !== NO_LEADER && eligible(state.leader) && fresh(state.leader)) {
    if (freshIsr.length === state.isr.length) return undefined;
    return { leader: state.leader, leaderEpoch: state.leaderEpoch, isr: freshIsr };
  }
  const candidates = replicas.filter((b) => eligible(b) && liveIsr.includes(b));
  const clean = candidates.find(fresh) ?? candidates[0];
  if (clean !== undefined) return { leader: clean, leaderEpoch: state.leaderEpoch + 1, isr: fresh(clean) ? freshIsr : [clean] };
  if (state.leader !== NO_LEADER && live.has(state.leader)) {
    // The leader is shutting down and nobody else can take over: it leads until it stops (then the partition is offline).
    if (!fresh(state.leader)) {
      // ... but a new incarnation of it leads at a new leader epoch, with the ISR members that did not restart.
      return { leader: state.leader, leaderEpoch: state.leaderEpoch + 1, isr: [state.leader, ...liveIsr.filter((b) => b !== state.leader && fresh(b))] };
    }
    const isr = liveIsr.filter((b) => b === state.leader || fresh(b));
    if (isr.length === state.isr.length) return undefined;
    return { leader: state.leader, leaderEpoch: state.leaderEpoch, isr };
  }
  if (uncleanElection) {
    const any = replicas.find(eligible);
    if (any !== undefined) return { leader: any, leaderEpoch: state.leaderEpoch + 1, isr: [any] };
  }
  if (state.leader === NO_LEADER) return undefined;
  return { leader: NO_LEADER, leaderEpoch: state.leaderEpoch + 1, isr: [...state.isr] };
}

/**
 * The leader and ISR members of a state whose registration is newer than the
 * state's last write (`registrationRevisionOf`: a live broker's registration
 * create revision, its broker epoch): each restarted since, so what the state
 * gives it was its previous incarnation's. The same rule holds for states
 * written before broker epochs existed: every state has its mod revision.
 */
export function restartedMembers(state: VersionedPartitionState, registrationRevisionOf: (id: number) => number | undefined): ReadonlySet<number> {
  let out: Set<number> | undefined;
  for (const b of state.leader === NO_LEADER ? state.isr : [state.leader, ...state.isr]) {
    const r = registrationRevisionOf(b);
    if (r !== undefined && r > state.modRevision) (out ??= new Set()).add(b);
  }
  return out ?? NOBODY;
}

export interface PartitionControllerStats {
  passes: number;
  /** Leader changes written (including going offline). */
  leaderChanges: number;
  /** ISR-only changes written. */
  isrChanges: number;
  /** Writes that lost their compare-and-swap (decided again from the new state). */
  staleWrites: number;
}

export class PartitionController {
  readonly stats: PartitionControllerStats = { passes: 0, leaderChanges: 0, isrChanges: 0, staleWrites: 0 };
  readonly #ctx: ControllerContext;
  readonly #view: ClusterView;
  readonly #log: (line: string) => void;
  readonly #passes = new SerialPasses(() => this.#pass());

  constructor(opts: { client: EtcdClient; election: ControllerElection; view: ClusterView; log: (line: string) => void }) {
    this.#ctx = { client: opts.client, keys: opts.view.keys, election: opts.election };
    this.#view = opts.view;
    this.#log = opts.log;
  }

  /** Asks for a pass (after a view change or an election); passes run one at a time. */
  schedule(): void {
    this.#passes.schedule();
  }

  /** Resolves when no pass is running (tests). */
  async idle(): Promise<void> {
    await this.#passes.idle();
  }

  async stop(): Promise<void> {
    await this.#passes.stop();
  }

  async #pass(): Promise<void> {
    const election = this.#ctx.election;
    if (!election.isController || !this.#view.ready) return;
    this.stats.passes++;
    const live = this.#view.liveBrokerIds();
    const shuttingDown = this.#view.shuttingDownBrokerIds();
    const work: (() => Promise<void>)[] = [];
    for (const [topic, record] of this.#view.topics) {
      const unclean = record.configs["unclean.leader.election.enable"] === "true";
      for (let p = 0; p < record.partitions; p++) {
        const state = this.#view.partitionState(topic, p);
        if (state === undefined) continue;
        const restarted = restartedMembers(state, (id) => this.#view.brokers.get(id)?.createRevision);
        const next = decidePartition(record.replicas[p], state, live, unclean, shuttingDown, restarted);
        if (next === undefined) continue;
        work.push(async () => {
          const r = await updatePartitionState(this.#ctx, topic, p, state, () => next);
          if (!r.applied) {
            // Someone wrote the state since the view saw it: the watch brings the newer state and, with it, another pass.
            this.stats.staleWrites++;
            return;
          }
          if (restarted.size > 0) this.#log(`sluice: controller: ${topic}/${p}: broker(s) ${[...restarted].join(",")} registered again since the state was written (a new incarnation): out of its ISR, not its leader at epoch ${state.leaderEpoch}`);
          if (next.leader !== state.leader || next.leaderEpoch !== state.leaderEpoch) {
            this.stats.leaderChanges++;
            this.#log(`sluice: controller: ${topic}/${p} leader ${state.leader} → ${next.leader} (leader epoch ${next.leaderEpoch}, isr [${next.isr.join(",")}])`);
          } else {
            this.stats.isrChanges++;
          }
        });
      }
    }
    let next = 0;
    let fenced: unknown;
    const worker = async () => {
      while (next < work.length && fenced === undefined && !this.#passes.stopped) {
        const job = work[next++];
        try {
          await job();
        } catch (e) {
          if (e instanceof ControllerFencedError || (e as { fence?: string }).fence === CONTROLLER_FENCED) fenced = e;
          else {
            this.#log(`sluice: controller: a partition state write failed: ${(e as Error)?.message ?? e}`);
            this.#passes.again();
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARTITION_UPDATES_IN_FLIGHT_MAX, work.length) }, worker));
    if (fenced !== undefined) {
      this.#passes.noMore();
      this.#log(`sluice: controller: stopped acting: ${(fenced as Error).message}`);
    }
  }
}
