// Runs every micro benchmark suite in small mode, so a suite that no longer
// compiles, throws, or measures nothing fails the test suite instead of rotting.

import { describe, expect, test } from "bun:test";
import { discoverSuites, runSuite } from "./run.ts";

const suites = discoverSuites();

describe("micro benchmarks (small mode)", () => {
  test("the suites of the protocol codecs are discovered", () => {
    const names = suites.map((s) => s.name);
    for (const n of ["batch", "crc32c", "frame", "varint"]) expect(names).toContain(n);
  });

  for (const suite of suites) {
    test(`${suite.name} runs and every task measures a positive rate`, async () => {
      const figures = await runSuite(suite, true);
      expect(figures.length).toBeGreaterThan(0);
      for (const f of figures) {
        expect(f.opsPerSecond).toBeGreaterThan(0);
        expect(Number.isFinite(f.opsPerSecond)).toBe(true);
        if (f.megabytesPerSecond !== undefined) expect(f.megabytesPerSecond).toBeGreaterThan(0);
      }
    });
  }
});
