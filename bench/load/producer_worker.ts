// The producer thread's entry: receives its ProducerStart, runs producer_load.ts,
// posts its ProducerDone (or the failure).

import { parentPort } from "node:worker_threads";
import { runProducer } from "./producer_load.ts";
import type { ProducerStart } from "./worker_messages.ts";

const port = parentPort;
if (port === null) throw new Error("producer_worker.ts runs as a worker thread");
port.once("message", (start: ProducerStart) => {
  runProducer(start).then(
    (done) => port.postMessage(done),
    (error: unknown) => port.postMessage({ type: "failed", error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
  );
});
