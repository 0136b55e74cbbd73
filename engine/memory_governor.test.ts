import { describe, expect, test } from "bun:test";
import { GOVERNOR_INTERVAL_MS, GOVERNOR_INTERVAL_MS_MAX } from "./engine_limits.ts";
import { MemoryGovernor } from "./memory_governor.ts";

const MiB = 1024 * 1024;

function governor(opts: { rss: number[]; live: number[]; limit?: number }) {
  let now = 0;
  const calls: number[] = [];
  const g = new MemoryGovernor({
    softLimitBytes: opts.limit ?? 100 * MiB,
    rssBytes: () => opts.rss[Math.min(calls.length, opts.rss.length - 1)],
    collect: () => {
      calls.push(now);
      return opts.live[Math.min(calls.length - 1, opts.live.length - 1)];
    },
    now: () => now,
  });
  return { g, calls, advance: (ms: number) => (now += ms) };
}

describe("MemoryGovernor", () => {
  test("collects only above the soft limit, at most once per interval", () => {
    const { g, calls, advance } = governor({ rss: [90 * MiB, 150 * MiB], live: [30 * MiB] });
    expect(g.check()).toBe(false); // 90 MiB: under the limit
    expect(calls.length).toBe(0);
    const { g: g2, calls: calls2, advance: advance2 } = governor({ rss: [150 * MiB], live: [30 * MiB] });
    expect(g2.check()).toBe(true);
    expect(g2.check()).toBe(false); // too soon
    advance2(GOVERNOR_INTERVAL_MS);
    expect(g2.check()).toBe(true);
    expect(calls2.length).toBe(2);
    expect(g2.collections).toBe(2);
    expect(g2.liveBytes).toBe(30 * MiB);
    advance(0);
    expect(g.collections).toBe(0);
  });

  test("when most of the limit is live memory, collections back off up to the maximum", () => {
    const { g, advance } = governor({ rss: [200 * MiB], live: [90 * MiB] });
    const intervals: number[] = [];
    for (let i = 0; i < 8; i++) {
      expect(g.check()).toBe(true);
      intervals.push(g.intervalMs);
      advance(g.intervalMs);
    }
    expect(intervals[0]).toBe(2 * GOVERNOR_INTERVAL_MS);
    expect(intervals[intervals.length - 1]).toBe(GOVERNOR_INTERVAL_MS_MAX);
    expect(intervals.every((v, i) => i === 0 || v >= intervals[i - 1])).toBe(true);
  });

  test("a soft limit of 0 turns it off", () => {
    const { g, calls } = governor({ rss: [10_000 * MiB], live: [1], limit: 0 });
    expect(g.check()).toBe(false);
    g.start();
    g.stop();
    expect(calls.length).toBe(0);
  });
});
