// Runs one load consumer on the main thread, so `bun --cpu-prof` sees the
// client library's and the load generator's consume path. The topic is filled
// first by a `sluice bench produce` child process (not in this profile):
//
//   bun --cpu-prof --cpu-prof-dir=/tmp/prof bench/load/profile_consumer.ts --embedded --messages 3000000 [--profile-broker /tmp/bprof]
//   bun bench/load/cpu_profile_summary.ts /tmp/prof/*.cpuprofile

import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { nowMs, sleepMs } from "./clock.ts";
import { bunBinary, startEmbeddedBroker } from "./embedded_broker.ts";
import { runConsumer, type ConsumerControl } from "./consumer_load.ts";
import { parseBenchArgs, UsageError } from "./options.ts";
import { SEQ_MAX } from "./payload.ts";
import { Counter, counterIndex, COUNTERS_PER_THREAD } from "./worker_messages.ts";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

const options = (() => {
  try {
    return parseBenchArgs(["consume", ...process.argv.slice(2)]);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(e.message);
      process.exit(2);
    }
    throw e;
  }
})();
if (options === "help" || options.messages === undefined) {
  console.error("usage: bun [--cpu-prof] bench/load/profile_consumer.ts --broker HOST:PORT | --embedded --messages N [--client raw] [--partitions P]");
  process.exit(2);
}
const embedded = options.embedded
  ? await startEmbeddedBroker({ serveArgs: options.serveArgs, cpuProfileDir: options.profileBrokerDir })
  : undefined;
const { host, port } = embedded ?? options.broker!;
const topic = options.topic ?? `sluice-profile-${Date.now().toString(36)}`;
const fill = spawnSync(
  bunBinary(),
  [path.join(REPO_ROOT, "cli", "main.ts"), "bench", "produce", "--broker", `${host}:${port}`, "--topic", topic,
    "--messages", String(options.messages), "--partitions", String(options.partitions), "--size", String(options.sizeBytes),
    "--send-batch", "256", "--client", options.client],
  { cwd: REPO_ROOT, encoding: "utf8" },
);
console.error(fill.stdout.split("\n").slice(0, 2).join("\n"));
const counters = new SharedArrayBuffer(COUNTERS_PER_THREAD * 8);
const view = new Float64Array(counters);
const control: ConsumerControl = { onReady: () => {}, stopRequested: false, latencyFromMs: 0 };
const started = nowMs();
const done = runConsumer(
  {
    type: "start",
    clientKind: options.client,
    client: { host, port, clientId: "profile-consumer", topic, partitions: Array.from({ length: options.partitions }, (_, p) => p) },
    seqLimit: SEQ_MAX + 1,
    counters,
    thread: 0,
  },
  control,
);
while (view[counterIndex(0, Counter.consumed)] < options.messages && nowMs() - started < 120_000) await sleepMs(20);
await control.stop?.();
const result = await done;
const sec = (result.lastMessageMs - started) / 1000;
console.log(JSON.stringify({ consumed: result.unique, corrupt: result.corrupt, msgsPerSec: Math.round(result.unique / sec) }));
await embedded?.stop();
