// The router's end of one partition worker thread: its rings, its requests in
// flight and their bound, its pending control calls, and who waits for room
// in its ring. The WorkerPool (worker_pool.ts) drives it.
//
// Runs on: the router (main) thread.

import { RingConsumer, RingProducer } from "../workers/mod.ts";
import { InFlightQueue } from "./in_flight_queue.ts";

export class WorkerLink {
  readonly index: number;
  readonly worker: Worker;
  /** Shared buffers stay referenced here until the thread has ended (docs/RUNTIME.md, "Workers and shared memory"). */
  readonly requestsSab: SharedArrayBuffer;
  readonly completionsSab: SharedArrayBuffer;
  readonly requests: RingProducer;
  readonly completions: RingConsumer;
  readonly inflight: InFlightQueue;
  /** In-flight requests including acks=all results waiting for durability; at most `pendingMax`. */
  pending = 0;
  readonly pendingMax: number;
  nextRequestId = 1;
  readonly control = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  writableWaiters: Array<() => void> = [];
  /** Payload bytes of the largest request refused for lack of room since the last onWritable round. */
  blockedPayloadBytes = 0;
  publishScheduled = false;
  /** A setImmediate will wake the worker if it parked (worker_pool.ts publishTail). */
  wakeScheduled = false;
  stopped = false;
  dead: string | null = null;
  ended: Promise<void>;
  private markEnded!: () => void;

  constructor(index: number, worker: Worker, requestsSab: SharedArrayBuffer, completionsSab: SharedArrayBuffer, pendingMax: number) {
    this.index = index;
    this.pendingMax = pendingMax;
    this.inflight = new InFlightQueue(pendingMax);
    this.worker = worker;
    this.requestsSab = requestsSab;
    this.completionsSab = completionsSab;
    this.requests = new RingProducer(requestsSab);
    this.completions = new RingConsumer(completionsSab);
    this.ended = new Promise((resolve) => {
      this.markEnded = resolve;
    });
    worker.addEventListener("close", () => this.markEnded());
  }

  endedNow(): void {
    this.markEnded();
  }
}
