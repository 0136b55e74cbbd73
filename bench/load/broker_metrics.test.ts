import { describe, expect, test } from "bun:test";
import { diffHistogram, fsyncFigures, parseHistogram, quantileMs } from "./broker_metrics.ts";

const BEFORE = `# TYPE sluice_fsync_duration_seconds histogram
sluice_fsync_duration_seconds_bucket{le="0.001"} 10
sluice_fsync_duration_seconds_bucket{le="0.002"} 10
sluice_fsync_duration_seconds_bucket{le="0.004"} 10
sluice_fsync_duration_seconds_bucket{le="+Inf"} 10
sluice_fsync_duration_seconds_sum 0.005
sluice_fsync_duration_seconds_count 10
`;
const AFTER = `sluice_fsync_duration_seconds_bucket{le="0.001"} 60
sluice_fsync_duration_seconds_bucket{le="0.002"} 105
sluice_fsync_duration_seconds_bucket{le="0.004"} 110
sluice_fsync_duration_seconds_bucket{le="+Inf"} 110
sluice_fsync_duration_seconds_sum 0.105
sluice_fsync_duration_seconds_count 110
sluice_fsync_duration_seconds_other 3
`;

describe("broker metrics", () => {
  test("a histogram diff covers only the run, and quantiles are bucket upper bounds", () => {
    const h = diffHistogram(parseHistogram(AFTER, "sluice_fsync_duration_seconds")!, parseHistogram(BEFORE, "sluice_fsync_duration_seconds"));
    expect(h.count).toBe(100);
    expect(h.counts).toEqual([50, 95, 100, 100]);
    expect(quantileMs(h, 0.5)).toBe(1);
    expect(quantileMs(h, 0.99)).toBe(4);
    expect(fsyncFigures(BEFORE, AFTER)).toEqual({ count: 100, meanMs: 1, p50MsAtMost: 1, p99MsAtMost: 4 });
  });

  test("a missing metric or broker gives no figures rather than wrong ones", () => {
    expect(parseHistogram("nothing here", "sluice_fsync_duration_seconds")).toBeUndefined();
    expect(fsyncFigures(undefined, undefined)).toBeNull();
  });
});
