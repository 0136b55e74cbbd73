// Reading a known number of records back through the client's Consumer, for
// the client tests against a real broker: polls until exactly `count` came,
// failing after the deadline with how many did.

import type { Consumer, ConsumerRecord } from "../../client/mod.ts";
import { pollUntil } from "./wait_for.ts";

/** Longest wait of one poll: short, so the deadline is checked often. */
const POLL_WAIT_MS = 200;

/** Reads exactly `count` records (or fails after `timeoutMs`). */
export async function takeRecords(consumer: Consumer, count: number, timeoutMs = 10_000): Promise<ConsumerRecord[]> {
  const out: ConsumerRecord[] = [];
  const got = await pollUntil(
    async () => {
      out.push(...(await consumer.poll({ maxWaitMs: POLL_WAIT_MS, maxRecords: count - out.length })));
      return out.length >= count;
    },
    { timeoutMs, everyMs: 0 },
  );
  if (!got) throw new Error(`got ${out.length} of ${count} records before the deadline`);
  return out;
}
