// The limits of replication between brokers (docs/CLUSTER.md). One file, the
// relations asserted at load, as engine_limits.ts does for the router.

import { FETCH_BYTES_MAX, FETCH_PARTITION_BYTES_MAX, FETCH_WAIT_MS_MAX } from "../../protocol/limits.ts";

/** Bytes one replica fetch asks for: a follower fetcher's whole in-flight bound (one request in flight). */
export const REPLICA_FETCH_BYTES_MAX = 8 * 1024 * 1024;
/** Bytes one partition may contribute to a replica fetch. */
export const REPLICA_FETCH_PARTITION_BYTES_MAX = 4 * 1024 * 1024;
/** How long the leader holds a replica fetch that found nothing new (long-poll). */
export const REPLICA_FETCH_WAIT_MS = 500;
/** How long a follower waits for its own fdatasync before it fetches anyway (it reports what is durable then). */
export const REPLICA_DURABLE_WAIT_MS = 1_000;
/** Reconnect backoff of a follower fetcher: first wait, doubled per failure up to the max. */
export const REPLICA_RECONNECT_BACKOFF_MS_MIN = 50;
export const REPLICA_RECONNECT_BACKOFF_MS_MAX = 2_000;
/** Connect timeout and response timeout of one replica fetch round trip. */
export const REPLICA_CONNECT_TIMEOUT_MS = 5_000;
export const REPLICA_RESPONSE_TIMEOUT_MS = REPLICA_FETCH_WAIT_MS + 10_000;
/** Kafka's replica.lag.time.max.ms default: a follower not caught up for this long should leave the ISR. */
export const REPLICA_LAG_TIME_MAX_MS_DEFAULT = 10_000;
/**
 * Its bounds (--replica-lag-time-max-ms). An idle follower's fetch waits up to
 * REPLICA_FETCH_WAIT_MS at the leader, so a lag time below twice that would
 * shrink healthy followers out of the ISR.
 */
export const REPLICA_LAG_TIME_MAX_MS_MIN = 1_000;
export const REPLICA_LAG_TIME_MAX_MS_MAX = 3_600_000;
/** The leader looks for ISR changes (shrink, expand) this many times per lag time. */
export const ISR_CHECKS_PER_LAG_TIME = 4;
/** Kafka's min.insync.replicas default for a topic that names none. */
export const MIN_INSYNC_REPLICAS_DEFAULT = 1;
/** acks=all produces one leader partition may hold waiting for its ISR; past it a produce is refused with NOT_ENOUGH_REPLICAS (retriable). */
export const ACKS_ALL_WAITING_PER_PARTITION_MAX = 100_000;

function assert(condition: boolean, why: string): void {
  if (!condition) throw new Error(`replication limits: ${why}`);
}
assert(REPLICA_FETCH_BYTES_MAX <= FETCH_BYTES_MAX, "a replica fetch is a fetch: within the fetch byte limit");
assert(REPLICA_FETCH_PARTITION_BYTES_MAX <= FETCH_PARTITION_BYTES_MAX, "within the fetch's per-partition limit");
assert(REPLICA_FETCH_WAIT_MS <= FETCH_WAIT_MS_MAX, "within the fetch's wait limit");
assert(REPLICA_RESPONSE_TIMEOUT_MS > REPLICA_FETCH_WAIT_MS, "a parked replica fetch must answer before the follower gives up on it");
assert(REPLICA_RECONNECT_BACKOFF_MS_MIN <= REPLICA_RECONNECT_BACKOFF_MS_MAX, "backoff min ≤ max");
assert(REPLICA_LAG_TIME_MAX_MS_MIN >= 2 * REPLICA_FETCH_WAIT_MS, "an idle follower's parked fetch must not look like lag");
assert(REPLICA_LAG_TIME_MAX_MS_MIN <= REPLICA_LAG_TIME_MAX_MS_DEFAULT && REPLICA_LAG_TIME_MAX_MS_DEFAULT <= REPLICA_LAG_TIME_MAX_MS_MAX, "lag time default in range");
