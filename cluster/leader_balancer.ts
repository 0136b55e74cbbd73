// The automatic leader balancer (Kafka's auto.leader.rebalance.enable;
// docs/SCALING.md, "Preferred leaders"): while this broker is controller,
// every `intervalMs` it measures each broker's leader imbalance (of the
// partitions whose first replica it is, the share another broker leads;
// preferred_leaders.ts) and moves back, for each broker above
// `thresholdRatio`, every partition whose first replica is registered, not
// shutting down and in the ISR. Each move is the fenced partition state CAS,
// leader epoch + 1, as the on-request election makes it (leader_elections.ts).
//
// Why a timer and not every view change: right after a restart the broker is
// not in the ISRs yet; moving leaderships the moment it is back would add a
// leader change per partition during its catch-up. Checking every few minutes
// leaves failovers alone and restores the spread once things are quiet.

import { CONTROLLER_FENCED, ControllerFencedError } from "./controller_election.ts";
import type { ClusterView } from "./cluster_view.ts";
import { type ControllerContext, updatePartitionState } from "./controller_topics.ts";
import { type PartitionPlacement, preferredElections } from "./preferred_leaders.ts";

export interface LeaderBalancerOptions {
  readonly ctx: ControllerContext;
  readonly view: ClusterView;
  readonly isController: () => boolean;
  readonly intervalMs: number;
  /** A broker's imbalance (0..1) above which its preferred partitions move back (Kafka's percentage / 100). */
  readonly thresholdRatio: number;
  readonly log: (line: string) => void;
}

export interface LeaderBalancerStats {
  /** Checks made while controller. */
  checks: number;
  /** Leaderships moved back to the first replica. */
  moved: number;
}

export class LeaderBalancer {
  readonly stats: LeaderBalancerStats = { checks: 0, moved: 0 };
  readonly #o: LeaderBalancerOptions;
  readonly #timer: ReturnType<typeof setInterval>;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(options: LeaderBalancerOptions) {
    this.#o = options;
    this.#timer = setInterval(() => this.check(), options.intervalMs);
    this.#timer.unref?.();
  }

  /** One check now (the timer calls it; at most one runs at a time). */
  check(): void {
    if (this.#stopped || this.#running !== undefined || !this.#o.isController() || !this.#o.view.ready) return;
    this.#running = this.#check()
      .catch((e) => {
        if (!(e instanceof ControllerFencedError || (e as { fence?: string }).fence === CONTROLLER_FENCED)) {
          this.#o.log(`sluice: controller: leader balance check failed: ${(e as Error)?.message ?? e}`);
        }
      })
      .finally(() => {
        this.#running = undefined;
      });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#running;
  }

  async #check(): Promise<void> {
    const view = this.#o.view;
    this.stats.checks++;
    const placements: PartitionPlacement[] = [];
    for (const [topic, record] of view.topics) {
      for (let p = 0; p < record.partitions; p++) placements.push({ topic, partition: p, replicas: record.replicas[p], state: view.partitionState(topic, p) });
    }
    const live = view.liveBrokerIds();
    const shuttingDown = view.shuttingDownBrokerIds();
    const elections = preferredElections(placements, (b) => live.has(b) && !shuttingDown.has(b), this.#o.thresholdRatio);
    for (const e of elections) {
      if (this.#stopped || !this.#o.isController()) return;
      // The view's state is what the election was decided from: the CAS refuses it if anything changed since.
      const state = view.partitionState(e.topic, e.partition);
      if (state === undefined || state.partitionEpoch !== e.from.partitionEpoch) continue;
      const r = await updatePartitionState(this.#o.ctx, e.topic, e.partition, state, () => e.to);
      if (!r.applied) continue;
      this.stats.moved++;
      this.#o.log(`sluice: controller: ${e.topic}/${e.partition} leader ${e.from.leader} → ${e.to.leader} (preferred; leader epoch ${e.to.leaderEpoch})`);
    }
  }
}
