// A load producer thread: sends checked payloads (payload.ts) as fast as the
// client's backpressure allows, or at a fixed rate with each message's
// intended send time fixed in advance (rate_schedule.ts), and records the
// acknowledgement latency of every message.

import { parentPort } from "node:worker_threads";
import { nowMs, sleepMs } from "./clock.ts";
import { LatencyRecorder } from "./latency.ts";
import type { LoadProducer } from "./load_client.ts";
import { PayloadWriter, SEQ_MAX } from "./payload.ts";
import { RateSchedule } from "./rate_schedule.ts";
import { openLoadProducer } from "./sluice_load_client.ts";
import { Counter, counterIndex, FAILED_SEQS_MAX, type ProducerDone, type ProducerStart } from "./worker_messages.ts";

/** Messages sent between two looks at the clock and the event loop in closed-loop mode. */
const CHUNK_MESSAGES = 256;

async function run(start: ProducerStart): Promise<ProducerDone> {
  const producer: LoadProducer = await openLoadProducer(start.clientKind, start.client);
  const writer = new PayloadWriter({ size: start.sizeBytes, producerId: start.producerId });
  const latency = new LatencyRecorder();
  const counters = new Float64Array(start.counters);
  const sentSlot = counterIndex(start.thread, Counter.sent);
  const ackedSlot = counterIndex(start.thread, Counter.acked);
  const errorsSlot = counterIndex(start.thread, Counter.errors);
  const limit = Math.min(start.messages ?? SEQ_MAX + 1, SEQ_MAX + 1);
  const stopAtMs = start.stopAtMs ?? Infinity;

  let sent = 0;
  let acked = 0;
  let errors = 0;
  let firstError: string | null = null;
  const failedSeqs: number[] = [];
  let failedSeqsOverflow = false;
  let lastAckMs = 0;
  let allAcked: (() => void) | undefined;

  // One callback object per message would cost an allocation each; the closure
  // captures only the seq and the intended time, which the ack needs.
  const send = (seq: number, sentAtMs: number): Promise<void> | undefined => {
    const partition = (start.producerId + Math.floor(seq / start.stickyMessages)) % start.partitions;
    const value = writer.build(seq, sentAtMs);
    sent++;
    return producer.send(partition, value, (error) => {
      const now = nowMs();
      if (error === undefined || error === null) {
        acked++;
        latency.recordMs(now - sentAtMs);
      } else {
        errors++;
        firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        if (failedSeqs.length < FAILED_SEQS_MAX) failedSeqs.push(seq);
        else failedSeqsOverflow = true;
      }
      lastAckMs = now;
      if (acked + errors === sent && allAcked !== undefined) allAcked();
    });
  };

  await sleepMs(start.startAtMs - nowMs());
  const firstSendMs = nowMs();
  if (start.ratePerSec === undefined) {
    // Closed loop: the client's buffer is the only brake.
    while (sent < limit) {
      const now = nowMs();
      if (now >= stopAtMs) break;
      const end = Math.min(limit, sent + CHUNK_MESSAGES);
      while (sent < end) {
        const wait = send(sent, now);
        if (wait !== undefined) await wait;
      }
      counters[sentSlot] = sent;
      counters[ackedSlot] = acked;
      counters[errorsSlot] = errors;
      // Let acks and socket events run even when the client never pushes back.
      await new Promise<void>((r) => setImmediate(r));
    }
  } else {
    // Open loop: message i is due at start + i / rate whatever happened before it.
    const schedule = new RateSchedule({ ratePerSec: start.ratePerSec, startMs: firstSendMs });
    while (sent < limit) {
      const now = nowMs();
      if (now >= stopAtMs) break;
      const due = Math.min(limit, schedule.dueBy(now));
      while (sent < due) {
        const wait = send(sent, schedule.intendedMs(sent));
        if (wait !== undefined) await wait;
      }
      counters[sentSlot] = sent;
      counters[ackedSlot] = acked;
      counters[errorsSlot] = errors;
      if (sent < limit) await sleepMs(schedule.waitMs(sent, nowMs()));
    }
  }
  await producer.flush();
  if (acked + errors < sent) await new Promise<void>((r) => (allAcked = r));
  counters[sentSlot] = sent;
  counters[ackedSlot] = acked;
  counters[errorsSlot] = errors;
  await producer.close();
  return {
    type: "done",
    producerId: start.producerId,
    sent,
    acked,
    errors,
    firstError,
    failedSeqs,
    failedSeqsOverflow,
    firstSendMs,
    lastAckMs,
    ackLatency: latency.encode(),
  };
}

const port = parentPort;
if (port === null) throw new Error("producer_worker.ts runs as a worker thread");
port.once("message", (start: ProducerStart) => {
  run(start).then(
    (done) => port.postMessage(done),
    (error: unknown) => port.postMessage({ type: "failed", error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
  );
});
