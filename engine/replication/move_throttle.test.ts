// The move throttle's bucket (move_throttle.ts) on a given clock; its effect
// on a real copy (within 20% of the rate) is in test/cluster_moves.test.ts.

import { describe, expect, test } from "bun:test";
import { MOVE_THROTTLE_READ_BYTES_MIN, MOVE_THROTTLE_READ_MS, MOVE_THROTTLE_READ_TARGET_MS, MoveThrottle } from "./move_throttle.ts";

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
    // 50 ms of 100 kB/s is below the least read: it waits for that.
    expect(t.msUntilReady(1 << 20, 0)).toBe(Math.ceil((MOVE_THROTTLE_READ_BYTES_MIN * 1000) / 100_000));
    t.set(2, undefined, undefined);
    expect(t.msUntilReady(1 << 20, 0)).toBe(MOVE_THROTTLE_READ_TARGET_MS);
  });

  test("a read waits for a useful piece (50 ms of the rate, or less if the fetch asks for less), then takes what the bucket holds up to 250 ms of the rate", () => {
    const rate = 10_000_000;
    const t = new MoveThrottle();
    t.set(1, [4], rate);
    t.reserve(1, 1); // starts the clock
    const target = (rate * MOVE_THROTTLE_READ_TARGET_MS) / 1000;
    // 20 ms in: 200 kB in the bucket, short of the 500 kB a 1 MiB read waits for; a 64 KiB read may go.
    expect(t.reserve(1 << 20, 21)).toBe(0);
    expect(t.msUntilReady(1 << 20, 21)).toBe(30);
    expect(t.reserve(64 * 1024, 21)).toBe(64 * 1024);
    // Much later the bucket is full (1 s of the rate): a read takes at most 250 ms of it, or what was asked.
    expect(t.reserve(8 << 20, 5_000)).toBe((rate * MOVE_THROTTLE_READ_MS) / 1000);
    expect(t.reserve(1 << 20, 5_000)).toBe(1 << 20);
    expect(target).toBe(500_000);
  });
});
