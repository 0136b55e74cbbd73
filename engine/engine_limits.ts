// Limits private to the router's engine. (Wire-visible limits live in
// protocol/limits.ts; these bound engine-internal queues.)

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
