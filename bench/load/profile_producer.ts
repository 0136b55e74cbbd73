// Runs one load producer on the main thread against a running broker, so
// `bun --cpu-prof` sees the client library's and the load generator's time
// (worker threads are not in a main-thread profile):
//
//   bun --cpu-prof --cpu-prof-dir=/tmp/prof bench/load/profile_producer.ts --embedded --duration 5 [--profile-broker /tmp/bprof]
//   bun bench/load/cpu_profile_summary.ts /tmp/prof/*.cpuprofile
//
// Same options as `sluice bench produce` where they apply (--client, --acks,
// --batch-bytes, --linger-ms, --size, --partitions, --rate, --messages/--duration).

import { nowMs } from "./clock.ts";
import { startEmbeddedBroker } from "./embedded_broker.ts";
import { LatencyRecorder } from "./latency.ts";
import { parseBenchArgs, UsageError } from "./options.ts";
import { runProducer } from "./producer_load.ts";
import { unbatchedInFlightPerProducer } from "./raw_load_client.ts";
import { batchBytesDefault, createLoadAdmin, RECORD_OVERHEAD_BYTES } from "./sluice_load_client.ts";
import { COUNTERS_PER_THREAD } from "./worker_messages.ts";

const options = (() => {
  try {
    return parseBenchArgs(["produce", ...process.argv.slice(2)]);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(e.message);
      process.exit(2);
    }
    throw e;
  }
})();
if (options === "help") {
  console.error("usage: bun [--cpu-prof] bench/load/profile_producer.ts --broker HOST:PORT | --embedded [--profile-broker DIR] [sluice bench produce options]");
  process.exit(2);
}
const embedded = options.embedded
  ? await startEmbeddedBroker({ serveArgs: options.serveArgs, cpuProfileDir: options.profileBrokerDir })
  : undefined;
const { host, port } = embedded ?? options.broker!;
const topic = options.topic ?? `sluice-profile-${Date.now().toString(36)}`;
const admin = await createLoadAdmin(options.client, { host, port });
await admin.createTopic(topic, options.partitions);
await admin.close();
const startAtMs = nowMs() + 100;
const batchBytes = options.batchBytes ?? batchBytesDefault(options.client);
const done = await runProducer({
  type: "start",
  clientKind: options.client,
  client: {
    host, port, clientId: "profile-producer", topic, acks: options.acks,
    batchBytes: options.batchBytes, lingerMs: options.lingerMs, valueBytes: options.sizeBytes,
        unbatchedInFlight: unbatchedInFlightPerProducer(options.producers),
    ...(options.compression === "none" ? {} : { compression: options.compression }),
  },
  producerId: 0,
  messages: options.messages,
  stopAtMs: options.durationSec === undefined ? undefined : startAtMs + options.durationSec * 1000,
  startAtMs,
  warmupMs: options.warmupSec * 1000,
  sizeBytes: options.sizeBytes,
  payload: options.payload,
  partitions: options.partitions,
  ratePerSec: options.ratePerSec,
  stickyMessages: Math.max(1, Math.floor(batchBytes / (options.sizeBytes + RECORD_OVERHEAD_BYTES))),
  sendBatch: options.sendBatch,
  timeline: options.timeline,
  counters: new SharedArrayBuffer(COUNTERS_PER_THREAD * 8),
  thread: 0,
});
const latency = new LatencyRecorder();
latency.addEncoded(done.ackLatency);
const sec = (done.lastAckMs - done.firstSendMs) / 1000;
console.log(JSON.stringify({ acked: done.acked, errors: done.errors, msgsPerSec: Math.round(done.acked / sec), ackLatency: latency.summary() }));
await embedded?.stop();
