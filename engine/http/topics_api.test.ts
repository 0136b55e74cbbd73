// A topic's partitions as the console shows them: each one's share of the
// topic's inflow, and "hot" for one taking more than HOT_PARTITION_FACTOR
// times the mean (the rule `sluice topics describe` marks).

import { expect, test } from "bun:test";
import type { PartitionDescription, TopicDescription } from "../engine.ts";
import { HOT_PARTITION_FACTOR, topicView } from "./topics_api.ts";

function partition(p: number, messagesInPerSec: number): PartitionDescription {
  return {
    partition: p,
    worker: 0,
    online: true,
    errorCode: 0,
    logStartOffset: 10,
    highWatermark: 110,
    durableOffset: 110,
    logEndOffset: 110,
    segments: 1,
    bytes: 1000,
    messagesIn: 0,
    bytesIn: 0,
    messagesOut: 0,
    bytesOut: 0,
    messagesInPerSec,
    bytesInPerSec: messagesInPerSec * 10,
  };
}

const topic = (rates: number[]): TopicDescription => ({ name: "t", errorCode: 0, configs: {}, partitions: rates.map((r, p) => partition(p, r)) });

test("shares add up; only a partition above the factor times the mean is hot", () => {
  expect(HOT_PARTITION_FACTOR).toBe(2);
  const v = topicView(topic([100, 100, 100, 700]));
  expect(v.partitions.map((p) => p.share)).toEqual([0.1, 0.1, 0.1, 0.7]);
  expect(v.partitions.map((p) => p.hot)).toEqual([false, false, false, true]);
  expect(v.messagesInPerSec).toBe(1000);
  expect(v.messages).toBe(400);
  expect(v.bytes).toBe(4000);
  // Exactly twice the mean (250 of 4 × 125) is not hot yet.
  expect(topicView(topic([250, 83, 83, 84])).partitions[0].hot).toBe(false);
});

test("an idle topic, or one of a single partition, has no hot partition", () => {
  expect(topicView(topic([0, 0, 0])).partitions.every((p) => !p.hot && p.share === 0)).toBe(true);
  expect(topicView(topic([500])).partitions[0].hot).toBe(false);
});
