// The public face of workers/ for the router side (engine/). The engine imports
// workers only through this file: the shared-memory layout and the ring ends it
// drives, the state table and worker stats it reads, the control message types, the log config it
// passes through, the partition log the groups' offsets log is kept in, and where the worker entry lives.

export * from "./shared_layout.ts";
export { RingConsumer, RingProducer, createRing, type WaitOutcome } from "./ring.ts";
export { PartitionStateTable, createStateTable, emptyStateView, type PartitionStateView } from "./partition_state.ts";
export { WorkerStats, createWorkerStats, type FsyncLatencySnapshot } from "./worker_stats.ts";
export type { ControlReply, ControlRequest, FaultOptions } from "./control.ts";
export { parseTopicConfig, topicConfigEntries, TOPIC_CONFIG_DEFAULTS, type LogConfig } from "./log/mod.ts";
// Replication: what the worker's replication control calls answer and throw (docs/CLUSTER.md).
export { NO_LEADER_EPOCH, UNDEFINED_EPOCH_OFFSET, ReplicaLogError, type ReplicaLogErrorReason, type EpochEndOffset, type TruncateResult } from "./log/mod.ts";
// The router opens one log of its own: the groups' committed-offsets log (engine/groups/offsets_log_file.ts).
export { PartitionLog } from "./log/mod.ts";
// The worker journals are replayed by the router's thread at start, before any worker opens a partition.
export { realFileOps, replayJournals, workerJournalPath, type JournalReplayReport } from "./log/mod.ts";

/**
 * Where the worker thread entry is, for `new Worker(url, { type: "module" })`.
 *
 * From source this is worker_main.ts beside this file. In a binary made with
 * `bun build --compile` every imported module is bundled into the one entry file
 * at the root of the embedded file system, so a URL relative to this module points
 * nowhere; extra entrypoints keep their path relative to the common root of all
 * entrypoints. The binary is therefore built with this file as an extra
 * entrypoint beside cli/main.ts (scripts/build_binary.ts, `npm run build:binary`):
 * the worker then lives at /$bunfs/root/workers/worker_main.ts (Bun 1.4.5;
 * test/binary.test.ts starts a broker from the binary).
 */
export const WORKER_ENTRY_URL = import.meta.url.includes("/$bunfs/")
  ? "/$bunfs/root/workers/worker_main.ts"
  : new URL("./worker_main.ts", import.meta.url).href;
