// The coordinator's families for GET /metrics (Prometheus text format 0.0.4):
// per group its state, generation, members and rebalances, and per group and
// partition the committed offset and the lag (high watermark − committed
// offset). Rendered only when scraped; cost is one pass over groups × partitions.

import type { GroupState } from "../../protocol/messages/groups.ts";
import { header as family, labelValue as label } from "../metrics.ts";
import type { GroupMetricsRow } from "./coordinator.ts";

const STATES: readonly GroupState[] = ["Empty", "PreparingRebalance", "CompletingRebalance", "Stable"];

export function renderGroupMetrics(rows: readonly GroupMetricsRow[]): string {
  let members = family("sluice_group_members", "gauge", "Members of a consumer group.");
  let generation = family("sluice_group_generation", "gauge", "A consumer group's generation id (moves on with each completed rebalance).");
  let rebalances = family("sluice_group_rebalances_total", "counter", "Rebalances a consumer group completed since the broker started.");
  let state = family("sluice_group_state", "gauge", "1 for the state a consumer group is in, 0 for the others.");
  let committed = family("sluice_group_committed_offset", "gauge", "A consumer group's committed offset of a partition (-1 when none).");
  let lag = family("sluice_group_lag", "gauge", "Records of a partition a consumer group has not committed: high watermark minus committed offset.");
  let totalLag = family("sluice_group_lag_sum", "gauge", "A consumer group's lag summed over its partitions.");
  for (const r of rows) {
    const g = `group="${label(r.groupId)}"`;
    members += `sluice_group_members{${g}} ${r.members}\n`;
    generation += `sluice_group_generation{${g}} ${r.generationId}\n`;
    rebalances += `sluice_group_rebalances_total{${g}} ${r.rebalances}\n`;
    for (const s of STATES) state += `sluice_group_state{${g},state="${s}"} ${s === r.state ? 1 : 0}\n`;
    let sum = 0;
    for (const o of r.offsets) {
      const l = `${g},topic="${label(o.topic)}",partition="${o.partition}"`;
      committed += `sluice_group_committed_offset{${l}} ${o.committedOffset}\n`;
      if (o.lag >= 0) {
        lag += `sluice_group_lag{${l}} ${o.lag}\n`;
        sum += o.lag;
      }
    }
    totalLag += `sluice_group_lag_sum{${g}} ${sum}\n`;
  }
  return members + generation + rebalances + state + committed + lag + totalLag;
}

/** Cluster mode: the `__consumer_offsets` partitions this broker coordinates (loaded) and is loading, and the loads it finished. */
export function renderCoordinatorMetrics(led: { loaded: number[]; loading: number[] }, loads: number): string {
  return (
    family("sluice_group_coordinator_partitions", "gauge", "Partitions of __consumer_offsets this broker leads, by whether their groups are served (loaded) or still loading.") +
    `sluice_group_coordinator_partitions{state="loaded"} ${led.loaded.length}\n` +
    `sluice_group_coordinator_partitions{state="loading"} ${led.loading.length}\n` +
    family("sluice_group_coordinator_loads_total", "counter", "Loads of a __consumer_offsets partition this broker finished on becoming its leader.") +
    `sluice_group_coordinator_loads_total ${loads}\n`
  );
}
