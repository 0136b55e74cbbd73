// The consumer thread's entry: receives its ConsumerStart, runs consumer_load.ts
// until the coordinator sends "stop", posts its ConsumerDone (or the failure).

import { parentPort } from "node:worker_threads";
import { runConsumer, type ConsumerControl } from "./consumer_load.ts";
import type { ConsumerStart } from "./worker_messages.ts";

const port = parentPort;
if (port === null) throw new Error("consumer_worker.ts runs as a worker thread");

const control: ConsumerControl = { onReady: () => port.postMessage({ type: "ready" }), stopRequested: false, latencyFromMs: 0 };

port.on("message", (message: ConsumerStart | { type: "stop" } | { type: "latencyFrom"; ms: number }) => {
  if (message.type === "latencyFrom") {
    control.latencyFromMs = message.ms;
    return;
  }
  if (message.type === "stop") {
    control.stopRequested = true;
    void control.stop?.();
    return;
  }
  runConsumer(message, control).then(
    (done) => port.postMessage(done, done.seen.map(([, bitmap]) => bitmap.buffer as ArrayBuffer)),
    (error: unknown) => port.postMessage({ type: "failed", error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
  );
});
