// Messages between the coordinator (bench/load/run.ts) and its load threads,
// and the shared counters the coordinator reads for progress and for knowing
// when consumers have caught up. Counters are one Float64 slot per thread
// and field, written only by that thread (no atomics needed for progress).

import type { LoadConsumerOptions, LoadProducerOptions } from "./load_client.ts";
import type { PayloadFiller } from "./payload.ts";
import type { LoadClientKind } from "./sluice_load_client.ts";

export const Counter = { sent: 0, acked: 1, errors: 2, consumed: 3, corrupt: 4 } as const;
export const COUNTERS_PER_THREAD = 5;

export function counterIndex(thread: number, counter: number): number {
  return thread * COUNTERS_PER_THREAD + counter;
}

export interface ProducerStart {
  type: "start";
  clientKind: LoadClientKind;
  client: LoadProducerOptions;
  producerId: number;
  /** Messages this producer sends, or undefined to stop at `stopAtMs`. */
  messages?: number;
  stopAtMs?: number;
  /** Every producer starts at the same moment (epoch ms). */
  startAtMs: number;
  /** --warmup: latency is recorded only for messages meant to be sent this long after startAtMs. */
  warmupMs: number;
  sizeBytes: number;
  /** Message filler (payload.ts): "pattern" or "log". */
  payload: PayloadFiller;
  partitions: number;
  /** This producer's share of --rate, msgs/s; undefined = closed loop. */
  ratePerSec?: number;
  /** Record the worst ack latency per 100 ms (--timeline). */
  timeline: boolean;
  /** Messages per send call: 1 = send() per message, N > 1 = sendBatch() of N. */
  sendBatch: number;
  /** Consecutive messages sent to one partition before moving to the next (fills batches). */
  stickyMessages: number;
  counters: SharedArrayBuffer;
  thread: number;
}

export interface ProducerDone {
  type: "done";
  producerId: number;
  sent: number;
  acked: number;
  errors: number;
  firstError: string | null;
  /** Seqs whose send failed (up to FAILED_SEQS_MAX), to subtract from what must come back. */
  failedSeqs: number[];
  failedSeqsOverflow: boolean;
  firstSendMs: number;
  lastAckMs: number;
  /** Encoded LatencyRecorder of ack latencies. */
  ackLatency: string;
  /** With --timeline: worst ack latency per 100 ms of intended send time. */
  ackTimeline: number[] | null;
}

export const FAILED_SEQS_MAX = 100_000;

export interface ConsumerStart {
  type: "start";
  clientKind: LoadClientKind;
  client: LoadConsumerOptions;
  /** Upper bound on any producer's seq (bitmap limit). */
  seqLimit: number;
  counters: SharedArrayBuffer;
  thread: number;
}

export interface ConsumerStop {
  type: "stop";
}

export interface ConsumerDone {
  type: "done";
  unique: number;
  duplicates: number;
  corrupt: number;
  unexpected: number;
  firstMessageMs: number;
  lastMessageMs: number;
  /** Encoded LatencyRecorder of end-to-end latencies (consume time - intended send time). */
  e2eLatency: string;
  /** Seen-bitmaps per producer id. */
  seen: [number, Uint8Array][];
}

export interface WorkerReady {
  type: "ready";
}

export interface WorkerFailed {
  type: "failed";
  error: string;
}
