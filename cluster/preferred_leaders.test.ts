import { expect, test } from "bun:test";
import { leaderImbalance, preferredElections, preferredLeaderChange } from "./preferred_leaders.ts";
import { NO_LEADER } from "./topic_metadata.ts";

const state = (leader: number, isr: number[], leaderEpoch = 3) => ({ leader, leaderEpoch, isr, partitionEpoch: 7 });
const all = () => true;

test("leadership returns to the first replica only when it is eligible and in the ISR, with the next leader epoch", () => {
  expect(preferredLeaderChange([1, 2, 3], state(2, [1, 2, 3]), all)).toEqual({ leader: 1, leaderEpoch: 4, isr: [1, 2, 3] });
  expect(preferredLeaderChange([1, 2, 3], state(1, [1, 2, 3]), all)).toBeUndefined();
  // Out of sync: it would lose acknowledged records.
  expect(preferredLeaderChange([1, 2, 3], state(2, [2, 3]), all)).toBeUndefined();
  // Dead or shutting down.
  expect(preferredLeaderChange([1, 2, 3], state(2, [1, 2, 3]), (b) => b !== 1)).toBeUndefined();
  // An offline partition whose first replica is in the ISR and back: it leads again.
  expect(preferredLeaderChange([1, 2], state(NO_LEADER, [1]), all)).toEqual({ leader: 1, leaderEpoch: 4, isr: [1] });
});

test("after broker 1 came back, it leads none of its preferred partitions: imbalance 1.0, and the balancer moves exactly those", () => {
  const parts = [
    { topic: "t", partition: 0, replicas: [1, 2, 3], state: state(2, [1, 2, 3]) },
    { topic: "t", partition: 1, replicas: [2, 3, 1], state: state(2, [1, 2, 3]) },
    { topic: "t", partition: 2, replicas: [3, 1, 2], state: state(3, [1, 2, 3]) },
    { topic: "t", partition: 3, replicas: [1, 3, 2], state: state(3, [1, 2, 3]) },
    { topic: "t", partition: 4, replicas: [2, 1, 3], state: state(3, [1, 2, 3]) },
  ];
  expect(leaderImbalance(parts)).toEqual([
    { broker: 1, preferred: 2, notLed: 2, ratio: 1 },
    { broker: 2, preferred: 2, notLed: 1, ratio: 0.5 },
    { broker: 3, preferred: 1, notLed: 0, ratio: 0 },
  ]);
  // Above 60 %: broker 1 only.
  expect(preferredElections(parts, all, 0.6).map((e) => e.partition)).toEqual([0, 3]);
  // No threshold (elect-leaders --preferred): every partition that can move.
  expect(preferredElections(parts, all).map((e) => [e.partition, e.to.leader])).toEqual([
    [0, 1],
    [3, 1],
    [4, 2],
  ]);
});
