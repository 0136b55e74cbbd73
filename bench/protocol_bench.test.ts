// Small mode of bench/protocol_bench.ts: one short round, so the bench cannot
// rot; it checks that both protocols moved every message they acknowledged
// through produce and back through consume (the figures are not judged here).

import { expect, test } from "bun:test";
import { runProtocolBench } from "./protocol_bench.ts";

test("protocol bench, small mode: native and Kafka produce and consume back what they acknowledged", async () => {
  const rows = await runProtocolBench({ rounds: 1, seconds: 0.3, partitions: 2, batch: 10, size: 50, inFlight: 4 }, () => {});
  expect(rows.map((r) => r.protocol)).toEqual(["native", "kafka"]);
  for (const r of rows) {
    expect(r.messages).toBeGreaterThan(0);
    expect(r.produceMsgsPerSec).toBeGreaterThan(0);
    expect(r.consumeMsgsPerSec).toBeGreaterThan(0);
  }
}, 60_000);
