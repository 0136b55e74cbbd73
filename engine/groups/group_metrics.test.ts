import { expect, test } from "bun:test";
import { renderGroupMetrics } from "./group_metrics.ts";

test("metrics: lag and committed offset per group and partition, escaped labels, a sum per group", () => {
  const text = renderGroupMetrics([
    {
      groupId: 'we"ird\\g',
      state: "Stable",
      generationId: 3,
      members: 2,
      rebalances: 3,
      offsets: [
        { topic: "t", partition: 0, committedOffset: 40, highWatermark: 100, lag: 60, metadata: "", memberId: "a" },
        { topic: "t", partition: 1, committedOffset: -1, highWatermark: 5, lag: 5, metadata: "", memberId: "b" },
        { topic: "gone", partition: 0, committedOffset: 9, highWatermark: -1, lag: -1, metadata: "", memberId: "" },
      ],
    },
  ]);
  const g = 'group="we\\"ird\\\\g"';
  expect(text).toContain(`sluice_group_lag{${g},topic="t",partition="0"} 60\n`);
  expect(text).toContain(`sluice_group_lag{${g},topic="t",partition="1"} 5\n`);
  expect(text).not.toContain(`sluice_group_lag{${g},topic="gone"`);
  expect(text).toContain(`sluice_group_committed_offset{${g},topic="gone",partition="0"} 9\n`);
  expect(text).toContain(`sluice_group_lag_sum{${g}} 65\n`);
  expect(text).toContain(`sluice_group_state{${g},state="Stable"} 1\n`);
  expect(text).toContain(`sluice_group_state{${g},state="Empty"} 0\n`);
  expect(text).toContain("# TYPE sluice_group_lag gauge\n");
  expect(text).toContain(`sluice_group_members{${g}} 2\n`);
});
