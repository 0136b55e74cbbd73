// The pure decisions of a move (reassignment_controller.ts) and the topic
// record's move fields (topic_metadata.ts). The moves themselves, with etcd
// and brokers, are in test/cluster_moves.test.ts.

import { describe, expect, test } from "bun:test";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { decideMoveCancel, decideMoveCompletion } from "./reassignment_controller.ts";
import { NO_LEADER, type PartitionMove, TopicRecordSchema } from "./topic_metadata.ts";

const live = new Set([1, 2, 3, 4]);
// [1,2,3] → [4,2,3]: replicas during the move [1,2,3,4].
const move: PartitionMove = { target: [4, 2, 3], adding: [4], removing: [1] };
const replicas = [1, 2, 3, 4];

describe("the cut-over of a move", () => {
  test("waits until every target replica is in the ISR", () => {
    expect(decideMoveCompletion(move, { leader: 2, leaderEpoch: 3, isr: [1, 2, 3], partitionEpoch: 7 }, live)).toBeUndefined();
    expect(decideMoveCompletion(move, { leader: 2, leaderEpoch: 3, isr: [1, 2, 4], partitionEpoch: 7 }, live)).toBeUndefined();
  });

  test("keeps a leader that stays, drops the removed replicas from the ISR", () => {
    expect(decideMoveCompletion(move, { leader: 2, leaderEpoch: 3, isr: [1, 2, 3, 4], partitionEpoch: 7 }, live)).toEqual({
      replicas: [4, 2, 3],
      state: { leader: 2, leaderEpoch: 3, isr: [2, 3, 4] },
    });
  });

  test("moves leadership off a leaving leader to the first target replica in the ISR, live and staying (epoch + 1)", () => {
    const s = { leader: 1, leaderEpoch: 3, isr: [1, 2, 3, 4], partitionEpoch: 7 };
    expect(decideMoveCompletion(move, s, live)).toEqual({ replicas: [4, 2, 3], state: { leader: 4, leaderEpoch: 4, isr: [2, 3, 4] } });
    expect(decideMoveCompletion(move, s, live, new Set([4]))?.state.leader).toBe(2);
    expect(decideMoveCompletion(move, s, new Set([1]))).toBeUndefined();
  });

  test("never cuts over an offline partition", () => {
    expect(decideMoveCompletion(move, { leader: NO_LEADER, leaderEpoch: 3, isr: [1, 2, 3, 4], partitionEpoch: 7 }, live)).toBeUndefined();
  });
});

describe("cancelling a move", () => {
  test("back to the old replicas, the adding ones out of the ISR; an adding leader hands leadership to an old replica", () => {
    expect(decideMoveCancel("t-0", replicas, move, { leader: 2, leaderEpoch: 3, isr: [1, 2, 3, 4], partitionEpoch: 7 }, 2, live)).toEqual({
      replicas: [1, 2, 3],
      state: { leader: 2, leaderEpoch: 3, isr: [1, 2, 3] },
    });
    expect(decideMoveCancel("t-0", replicas, move, { leader: 4, leaderEpoch: 3, isr: [4, 2, 3], partitionEpoch: 7 }, 2, live)).toEqual({
      replicas: [1, 2, 3],
      state: { leader: 2, leaderEpoch: 4, isr: [2, 3] },
    });
  });

  test("refused where the old replicas in the ISR are fewer than min.insync.replicas (the move must finish)", () => {
    const refuse = (isr: number[]) => {
      try {
        decideMoveCancel("t-0", replicas, move, { leader: 4, leaderEpoch: 3, isr, partitionEpoch: 7 }, 2, live);
        return undefined;
      } catch (e) {
        return (e as SluiceError).code;
      }
    };
    expect(refuse([4])).toBe(ErrorCode.NOT_ENOUGH_REPLICAS);
    expect(refuse([4, 2])).toBe(ErrorCode.NOT_ENOUGH_REPLICAS);
    expect(refuse([4, 2, 3])).toBeUndefined();
  });
});

describe("the topic record's moves", () => {
  const base = { topicId: "id", partitions: 2, replicationFactor: 3, configs: {}, replicas: [[1, 2, 3], [2, 3, 1]] };

  test("a record without moves (as written before moves existed) parses", () => {
    expect(TopicRecordSchema.safeParse(base).success).toBe(true);
  });

  test("a move's replica list is the old one with the adding brokers last", () => {
    const moving = { ...base, replicas: [[1, 2, 3, 4], [2, 3, 1]], moves: { "0": move } };
    expect(TopicRecordSchema.safeParse(moving).success).toBe(true);
    expect(TopicRecordSchema.safeParse({ ...moving, replicas: [[4, 1, 2, 3], [2, 3, 1]] }).success).toBe(false);
    expect(TopicRecordSchema.safeParse({ ...moving, moves: undefined }).success).toBe(false);
    expect(TopicRecordSchema.safeParse({ ...moving, moves: { "0": { ...move, removing: [] } } }).success).toBe(false);
    expect(TopicRecordSchema.safeParse({ ...moving, moves: { "0": { ...move, target: [4, 2] } } }).success).toBe(false);
    expect(TopicRecordSchema.safeParse({ ...moving, moves: { x: move } }).success).toBe(false);
  });
});
