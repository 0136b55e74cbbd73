// Limits private to the router's engine. (Wire-visible limits live in
// protocol/limits.ts; these bound engine-internal queues.)

import { FETCH_BYTES_MAX } from "../protocol/limits.ts";

/**
 * Admin operations (create/delete/alter topics, add partitions, auto-creates)
 * queued behind the one running. They run one at a time so metadata writes
 * never interleave; past this bound a request is refused with
 * THROTTLING_QUOTA_EXCEEDED (retriable) rather than queued without limit.
 */
export const ADMIN_OPS_PENDING_MAX = 1024;

/**
 * Produce calls parked while their topic is being auto-created, per topic.
 * Each is a connection waiting with its socket paused (one per connection at
 * most), so CONNECTIONS_MAX bounds it in practice; this bound makes it explicit.
 */
export const CREATE_WAITERS_MAX = 4096;

/** Past CREATE_WAITERS_MAX, a produce waiting for its topic's auto-create retries after this pause. */
export const CREATE_RETRY_MS = 10;

/** How often per-partition rates (messages/s, bytes/s) are sampled for DescribeTopics. */
export const RATE_SAMPLE_INTERVAL_MS = 1000;

/**
 * Bytes of fetch reads (each counted by the most it may return) one client may
 * have in the partition workers' rings at once; further reads wait on the
 * router, where closing the connection drops them (engine/fetch_read_budget.ts).
 * Two maximal fetches: a consumer that pipelines one fetch behind another, or
 * reads 8 partitions at 1 MiB each, never waits for it; one that pipelines
 * hundreds of large fetches queues all but a couple of them here instead of
 * in front of every other client's fetch on the same worker.
 */
export const FETCH_READ_BYTES_IN_FLIGHT_PER_CLIENT_MAX = 16 * 1024 * 1024;

if (FETCH_READ_BYTES_IN_FLIGHT_PER_CLIENT_MAX < FETCH_BYTES_MAX) {
  throw new Error("engine limits: a client's fetch read budget must admit the reads of one maximal fetch at once");
}
