// A load consumer: reads its partitions from the first offset, checks every
// message's checksum and sequence number (payload.ts), marks it seen
// (seq_tracker.ts) and records its end-to-end latency: the time it was
// consumed minus the time it was meant to be sent.

import { nowMs } from "./clock.ts";
import { LatencyRecorder } from "./latency.ts";
import { emptyPayloadFields, readPayload } from "./payload.ts";
import { SeqTracker } from "./seq_tracker.ts";
import { openLoadConsumer } from "./sluice_load_client.ts";
import { Counter, counterIndex, type ConsumerDone, type ConsumerStart } from "./worker_messages.ts";

export interface ConsumerControl {
  /** Called once the consumer is connected and assigned (the coordinator may start producers). */
  onReady(): void;
  /** Set by runConsumer: stops consuming; runConsumer then resolves. */
  stop?: () => Promise<void>;
  /** True when a stop was asked before the consumer existed. */
  stopRequested: boolean;
  /** Messages meant to be sent before this (epoch ms) are checked but not in the latency histogram (--warmup). */
  latencyFromMs: number;
}

/** Runs one consumer until `control.stop()` (in a worker thread, or on the main thread for profiling). */
export async function runConsumer(start: ConsumerStart, control: ConsumerControl): Promise<ConsumerDone> {
  const consumer = await openLoadConsumer(start.clientKind, start.client);
  control.stop = () => consumer.close();
  const tracker = new SeqTracker({ seqLimit: start.seqLimit });
  const latency = new LatencyRecorder();
  const counters = new Float64Array(start.counters);
  const consumedSlot = counterIndex(start.thread, Counter.consumed);
  const corruptSlot = counterIndex(start.thread, Counter.corrupt);
  const fields = emptyPayloadFields();
  let corrupt = 0;
  let unexpected = 0;
  let firstMessageMs = 0;
  let lastMessageMs = 0;

  control.onReady();
  if (control.stopRequested) await consumer.close();
  await consumer.run((records) => {
    // One clock read per delivery: every record in it was consumed at this moment.
    const now = nowMs();
    if (firstMessageMs === 0 && records.length > 0) firstMessageMs = now;
    for (let i = 0; i < records.length; i++) {
      const value = records[i].value;
      if (value === null) {
        corrupt++;
        continue;
      }
      readPayload(value, 0, value.length, fields);
      if (!fields.ok) {
        corrupt++;
        continue;
      }
      const before = tracker.unique;
      if (!tracker.record(fields.producerId, fields.seq)) {
        unexpected++;
        continue;
      }
      if (tracker.unique !== before && fields.sentAtMs >= control.latencyFromMs) latency.recordMs(now - fields.sentAtMs);
    }
    if (records.length > 0) lastMessageMs = now;
    counters[consumedSlot] = tracker.unique;
    counters[corruptSlot] = corrupt;
  });
  counters[consumedSlot] = tracker.unique;
  return {
    type: "done",
    unique: tracker.unique,
    duplicates: tracker.duplicates,
    corrupt,
    unexpected,
    firstMessageMs,
    lastMessageMs,
    e2eLatency: latency.encode(),
    seen: [...tracker.export()],
  };
}
