// The replication bench in its small mode, so it cannot rot: RF 2 and RF 3
// acks=all through a leader and its followers on 127.0.0.1, every batch acked.

import { expect, test } from "bun:test";
import { runReplicationBench } from "./replication_acks_all.ts";

test("replication bench, small mode: RF 2 and 3 ack every batch", async () => {
  for (const rf of [2, 3]) {
    const r = await runReplicationBench(rf, { batches: 40, records: 5, inflight: 8 });
    expect(r.msgsPerSec).toBeGreaterThan(0);
    expect(r.ackP50Ms).toBeGreaterThan(0);
  }
}, 60_000);
