// The move throttle's bucket (move_throttle.ts) on a given clock; its effect
// on a real copy (within 20% of the rate) is in test/cluster_moves.test.ts.

import { describe, expect, test } from "bun:test";
import { MOVE_THROTTLE_READ_BYTES_MIN, MoveThrottle } from "./move_throttle.ts";

describe("the move throttle", () => {
  test("applies only to the adding replicas of a led moving partition with a throttle", () => {
    const t = new MoveThrottle();
    expect(t.throttles(5, 4)).toBe(false);
    t.set(5, [4], 1_000_000);
    expect(t.throttles(5, 4)).toBe(true);
    expect(t.throttles(5, 2)).toBe(false);
    expect(t.throttles(6, 4)).toBe(false);
    t.set(5, undefined, undefined);
    expect(t.throttles(5, 4)).toBe(false);
    t.set(5, [4], undefined);
    expect(t.throttles(5, 4)).toBe(false);
  });

  test("lets through the rate over time: reads reserve, unused bytes come back, a batch over the reservation is debt", () => {
    const rate = 1_000_000;
    const t = new MoveThrottle();
    t.set(1, [4], rate);
    let now = 1_000;
    expect(t.reserve(1 << 20, now)).toBe(0); // empty at the start
    let sent = 0;
    // 10 s of reads every 10 ms asking for 1 MiB each.
    for (let i = 0; i < 1_000; i++) {
      now += 10;
      const r = t.reserve(1 << 20, now);
      if (r === 0) continue;
      const used = i % 7 === 0 ? r + 5_000 : Math.floor(r / 2); // sometimes a whole batch over, mostly less
      t.settle(r, used);
      sent += used;
    }
    expect(sent).toBeGreaterThan(rate * 10 * 0.95);
    expect(sent).toBeLessThan(rate * 10 * 1.05);
    expect(t.sentBytes).toBe(sent);
  });

  test("the smallest throttle of the moves led wins; msUntilReady says when a read may go", () => {
    const t = new MoveThrottle();
    t.set(1, [4], 10_000_000);
    t.set(2, [4], 100_000);
    expect(t.reserve(1, 0)).toBe(0);
    expect(t.msUntilReady(0)).toBe(Math.ceil((MOVE_THROTTLE_READ_BYTES_MIN * 1000) / 100_000));
    t.set(2, undefined, undefined);
    expect(t.msUntilReady(0)).toBe(Math.ceil((MOVE_THROTTLE_READ_BYTES_MIN * 1000) / 10_000_000));
  });
});
