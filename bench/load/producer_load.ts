// A load producer: sends checked payloads (payload.ts) as fast as the
// client's backpressure allows, or at a fixed rate with each message's
// intended send time fixed in advance (rate_schedule.ts), and records the
// acknowledgement latency of every message.

import { nowMs, sleepMs } from "./clock.ts";
import { LatencyRecorder, LatencyTimeline } from "./latency.ts";
import type { LoadMessage, LoadProducer } from "./load_client.ts";
import { PayloadWriter, SEQ_MAX } from "./payload.ts";
import { RateSchedule } from "./rate_schedule.ts";
import { openLoadProducer } from "./sluice_load_client.ts";
import { Counter, counterIndex, FAILED_SEQS_MAX, type ProducerDone, type ProducerStart } from "./worker_messages.ts";

/** Messages sent between two looks at the clock and the event loop in closed-loop mode. */
const CHUNK_MESSAGES = 256;

/** Runs one producer to completion (in a worker thread, or on the main thread for profiling). */
export async function runProducer(start: ProducerStart): Promise<ProducerDone> {
  const producer: LoadProducer = await openLoadProducer(start.clientKind, start.client);
  const writer = new PayloadWriter({ size: start.sizeBytes, producerId: start.producerId, filler: start.payload });
  const latency = new LatencyRecorder();
  const counters = new Float64Array(start.counters);
  const sentSlot = counterIndex(start.thread, Counter.sent);
  const ackedSlot = counterIndex(start.thread, Counter.acked);
  const errorsSlot = counterIndex(start.thread, Counter.errors);
  const limit = Math.min(start.messages ?? SEQ_MAX + 1, SEQ_MAX + 1);
  const stopAtMs = start.stopAtMs ?? Infinity;
  // --warmup: messages meant to go before this are sent and checked but not in the latency histogram.
  const latencyFromMs = start.warmupMs > 0 ? start.startAtMs + start.warmupMs : -Infinity;

  let sent = 0;
  let acked = 0;
  let errors = 0;
  let firstError: string | null = null;
  const failedSeqs: number[] = [];
  let failedSeqsOverflow = false;
  let lastAckMs = 0;
  let allAcked: (() => void) | undefined;

  const partitionOf = (seq: number) => (start.producerId + Math.floor(seq / start.stickyMessages)) % start.partitions;
  const onFailure = (error: unknown, firstSeq: number, count: number) => {
    errors += count;
    firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    for (let seq = firstSeq; seq < firstSeq + count; seq++) {
      if (failedSeqs.length < FAILED_SEQS_MAX) failedSeqs.push(seq);
      else failedSeqsOverflow = true;
    }
  };

  // One message, one send() and one ack callback (the closure keeps only what the ack needs).
  const sendOne = (seq: number, sentAtMs: number): Promise<void> | undefined => {
    const value = writer.build(seq, sentAtMs);
    sent++;
    return producer.send(partitionOf(seq), value, (error) => {
      const now = nowMs();
      if (error === undefined || error === null) {
        acked++;
        if (sentAtMs >= latencyFromMs) latency.recordMs(now - sentAtMs);
        timeline?.record(sentAtMs, now - sentAtMs);
      } else {
        onFailure(error, seq, 1);
      }
      lastAckMs = now;
      if (acked + errors === sent && allAcked !== undefined) allAcked();
    });
  };

  // `count` consecutive messages in one sendBatch() call, acknowledged together:
  // each message's latency runs to the moment the whole group is acknowledged,
  // which can only overstate it.
  const sendGroup = (firstSeq: number, count: number, intendedMs: (seq: number) => number): Promise<void> | undefined => {
    const messages: LoadMessage[] = new Array(count);
    const sentAt = new Float64Array(count);
    // A fresh array per value (a small typed-array allocation is cheaper here than
    // a view into a shared group buffer); the client may hold values until it appends them.
    for (let i = 0; i < count; i++) {
      const seq = firstSeq + i;
      sentAt[i] = intendedMs(seq);
      messages[i] = { partition: partitionOf(seq), value: writer.build(seq, sentAt[i]) };
    }
    sent += count;
    return producer.sendMany(messages, (error) => {
      const now = nowMs();
      if (error === undefined || error === null) {
        acked += count;
        if (sentAt[0] === sentAt[count - 1]) {
          if (sentAt[0] >= latencyFromMs) latency.recordMsWithCount(now - sentAt[0], count);
        } else {
          for (let i = 0; i < count; i++) if (sentAt[i] >= latencyFromMs) latency.recordMs(now - sentAt[i]);
        }
        timeline?.record(sentAt[0], now - sentAt[0]);
      } else {
        onFailure(error, firstSeq, count);
      }
      lastAckMs = now;
      if (acked + errors === sent && allAcked !== undefined) allAcked();
    });
  };

  /** Sends seqs [sent, end), all meant to go at `intendedMs(seq)`, in sends of `start.sendBatch`. */
  const sendUpTo = async (end: number, intendedMs: (seq: number) => number) => {
    while (sent < end) {
      const wait = start.sendBatch <= 1
        ? sendOne(sent, intendedMs(sent))
        : sendGroup(sent, Math.min(start.sendBatch, end - sent), intendedMs);
      if (wait !== undefined) await wait;
    }
  };

  // A timer may fire a little early: wait until the start has really come.
  while (nowMs() < start.startAtMs) await sleepMs(start.startAtMs - nowMs());
  const firstSendMs = nowMs();
  const timeline = start.timeline ? new LatencyTimeline(firstSendMs) : undefined;
  if (start.ratePerSec === undefined) {
    // Closed loop: the client's buffer is the only brake.
    const chunk = Math.max(CHUNK_MESSAGES, start.sendBatch);
    while (sent < limit) {
      const now = nowMs();
      if (now >= stopAtMs) break;
      await sendUpTo(Math.min(limit, sent + chunk), () => now);
      counters[sentSlot] = sent;
      counters[ackedSlot] = acked;
      counters[errorsSlot] = errors;
      // Let acks and socket events run even when the client never pushes back.
      await new Promise<void>((r) => setImmediate(r));
    }
  } else {
    // Open loop: message i is due at start + i / rate whatever happened before it.
    const schedule = new RateSchedule({ ratePerSec: start.ratePerSec, startMs: firstSendMs });
    const intended = (seq: number) => schedule.intendedMs(seq);
    while (sent < limit) {
      const now = nowMs();
      if (now >= stopAtMs) break;
      await sendUpTo(Math.min(limit, schedule.dueBy(now)), intended);
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
    ackTimeline: timeline?.maxMs() ?? null,
  };
}

