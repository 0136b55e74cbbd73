// The producer thread of bench:log's append phase: it stands where the router
// stands in the broker, copying ~16 KiB record batches into a shared request
// ring as fast as the ring has room, so the log's thread always finds what
// arrived while its last fdatasync ran (log_bench.ts says what is measured).
//
// Runs on: a worker thread of the `bun bench/log_bench.ts` process.
//
// Control word (one Int32 in a SharedArrayBuffer, ProducerState): the log's
// thread sets RUN for an append slice, PAUSE for a raw-disk slice (the
// producer parks on the word, so it takes no CPU or ring room meanwhile) and
// STOP at the end. It posts "ready" once it runs and "stopped" when it has
// left its loop.

import { isMainThread } from "node:worker_threads";
import { EntryKind, RingProducer } from "../workers/mod.ts";

declare const self: Worker;

export const ProducerState = { RUN: 0, PAUSE: 1, STOP: 2 } as const;

/** What the log's thread sends to start the producer. */
export interface ProducerInit {
  ring: SharedArrayBuffer;
  control: SharedArrayBuffer;
  /** The encoded batch, copied into every ring entry (the log patches its base offset in place). */
  batch: Uint8Array;
}

/** Longest park on a full ring or on PAUSE before the state word is read again. */
const PARK_MS = 10;

function produce(init: ProducerInit): void {
  const ring = new RingProducer(init.ring);
  const control = new Int32Array(init.control);
  const batch = init.batch;
  self.postMessage("ready");
  for (;;) {
    const state = Atomics.load(control, 0);
    if (state === ProducerState.STOP) return;
    if (state === ProducerState.PAUSE) {
      Atomics.wait(control, 0, ProducerState.PAUSE, PARK_MS);
      continue;
    }
    const at = ring.reserve(EntryKind.PRODUCE, batch.length);
    if (at < 0) {
      ring.waitForRoomSync(batch.length, PARK_MS);
      continue;
    }
    ring.bytes.set(batch, at);
    ring.commit();
    // One tail store per entry, and a wake only if the log's thread is parked.
    ring.publish();
  }
}

// log_bench.ts imports ProducerState from here too; only the worker thread listens.
if (!isMainThread) {
  self.onmessage = (event: MessageEvent) => {
    produce(event.data as ProducerInit);
    self.postMessage("stopped");
  };
}
