// The public face of workers/ for the router side (engine/). The engine imports
// workers only through this file: the shared-memory layout and the ring ends it
// drives, the state table it reads, the control message types, the log config it
// passes through, and where the worker entry lives.

export * from "./shared_layout.ts";
export { RingConsumer, RingProducer, createRing, type WaitOutcome } from "./ring.ts";
export { PartitionStateTable, createStateTable, emptyStateView, type PartitionStateView } from "./partition_state.ts";
export type { ControlReply, ControlRequest, FaultOptions } from "./control.ts";
export { parseTopicConfig, topicConfigEntries, TOPIC_CONFIG_DEFAULTS, type LogConfig } from "./log/mod.ts";

/**
 * URL of the worker thread entry, for `new Worker(url, { type: "module" })`.
 * A compiled binary (`bun build --compile`) must list workers/worker_main.ts as an
 * extra entrypoint.
 */
export const WORKER_ENTRY_URL = new URL("./worker_main.ts", import.meta.url).href;
