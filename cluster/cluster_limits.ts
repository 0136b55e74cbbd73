// Every limit of the cluster's coordination code, in one place, with the
// relations between them asserted at load (a broken relation is a bug here,
// not bad input).

/** One HTTP request to one etcd member; past it the member counts as failed for this call. */
export const ETCD_ATTEMPT_TIMEOUT_MS = 1_500;
/** A whole etcd call, over every member and retry; past it the call fails with EtcdUnreachableError. */
export const ETCD_CALL_TIMEOUT_MS = 5_000;
/** Pause after every member failed once in a call, doubled each round up to the max. */
export const ETCD_RETRY_BACKOFF_MS_MIN = 50;
export const ETCD_RETRY_BACKOFF_MS_MAX = 1_000;
/** A unary response body at most (etcd's own request limit is 1.5 MiB; a range of many keys is larger). */
export const ETCD_RESPONSE_BYTES_MAX = 16 * 1024 * 1024;
/** One line (one watch response) of a streaming watch at most. */
export const ETCD_WATCH_LINE_BYTES_MAX = 16 * 1024 * 1024;
/** Endpoints given to one client at most. */
export const ETCD_ENDPOINTS_MAX = 16;
/**
 * A watch that delivered nothing for this long asks its member for its status;
 * if that fails the stream is dropped and the watch reconnects elsewhere (a
 * connection can die without a reset, and a silent watch looks idle).
 */
export const WATCH_PROBE_INTERVAL_MS = 2_000;

/**
 * Lease TTL bounds. etcd 3.4 raises any TTL below ceil(1.5 × election timeout)
 * (2 s with its defaults) to that minimum, so a smaller value would not mean
 * what it says.
 */
export const LEASE_TTL_SECONDS_MIN = 2;
export const LEASE_TTL_SECONDS_MAX = 300;
/** Default session TTL: bounds failover time (docs/CLUSTER.md, decisions). */
export const LEASE_TTL_SECONDS_DEFAULT = 2;
/** Keepalives sent per TTL: three may fail before the lease is in danger. */
export const KEEPALIVES_PER_TTL = 4;

/**
 * Broker ids: 0..2^20-1. Below Kafka's int32 range on purpose: in a cluster
 * each broker hands out idempotent producer ids from its own range
 * (brokerId × 2^33, engine/producer_ids.ts), and 2^20 ranges of 2^33 ids fill
 * the 2^53 a double holds exactly. A million broker ids is room enough.
 */
export const BROKER_ID_MAX = 2 ** 20 - 1;
/** Cluster names: a path segment of the etcd keys. */
export const CLUSTER_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
export const CLUSTER_NAME_DEFAULT = "default";

function assert(condition: boolean, what: string): void {
  if (!condition) throw new Error(`cluster_limits: ${what}`);
}
assert(ETCD_ATTEMPT_TIMEOUT_MS < ETCD_CALL_TIMEOUT_MS, "one attempt must leave room for another member within a call");
assert(ETCD_RETRY_BACKOFF_MS_MIN <= ETCD_RETRY_BACKOFF_MS_MAX, "backoff min <= max");
assert(ETCD_RETRY_BACKOFF_MS_MAX < ETCD_CALL_TIMEOUT_MS, "a backoff must fit in a call");
assert(LEASE_TTL_SECONDS_MIN <= LEASE_TTL_SECONDS_DEFAULT && LEASE_TTL_SECONDS_DEFAULT <= LEASE_TTL_SECONDS_MAX, "default TTL in range");
// A keepalive interval must be longer than one attempt, or keepalives would pile up behind a slow member.
assert((LEASE_TTL_SECONDS_MIN * 1000) / KEEPALIVES_PER_TTL >= 250, "keepalive interval at the minimum TTL stays >= 250 ms");
assert(WATCH_PROBE_INTERVAL_MS > ETCD_ATTEMPT_TIMEOUT_MS, "a probe finishes before the next is due");

/** Replication factor at most (Kafka has no fixed cap; more replicas than this is a mistake here). */
export const REPLICATION_FACTOR_MAX = 16;
/**
 * Operations in one controller transaction at most. etcd refuses a txn with
 * more than --max-txn-ops (128 by default) operations in a branch; a topic's
 * partition states are written in chunks of this size.
 */
export const CONTROLLER_TXN_OPS_MAX = 100;
/** Tries of a topic creation whose chosen brokers changed under it. */
export const TOPIC_CREATE_TRIES = 3;
assert(CONTROLLER_TXN_OPS_MAX + 2 < 128, "a chunk plus its compares fits etcd's default --max-txn-ops");

/** How long a broker waits for the controller to answer a topic admin request (topic_requests.ts) before REQUEST_TIMED_OUT. */
export const TOPIC_REQUEST_TIMEOUT_MS = 30_000;
/** How long a leader waits for the controller's answer to an ISR change (AlterPartition) before it may propose again. */
export const ALTER_PARTITION_TIMEOUT_MS = 5_000;
/** Topic admin requests the controller applies at once; the rest wait for the next pass. */
export const TOPIC_REQUESTS_IN_FLIGHT_MAX = 16;
/** Replication factor of a topic created without one in cluster mode (Kafka's default.replication.factor). */
export const DEFAULT_REPLICATION_FACTOR = 3;
/** min.insync.replicas of a topic created without one in cluster mode. */
export const DEFAULT_MIN_INSYNC_REPLICAS = 2;

/**
 * How long a broker stopping on SIGTERM waits, at most, for the controller to
 * move its leaderships and take it out of the ISRs (controlled_shutdown.ts)
 * before it leaves anyway (what is left then fails over as after a crash, but
 * at once: its revoke deletes its registration). With a controller it takes
 * an etcd round trip or two; the bound is for a cluster without one.
 */
export const CONTROLLED_SHUTDOWN_TIMEOUT_MS = 10_000;
/** The configurable bound (`--controlled-shutdown-timeout-ms`; 0 turns controlled shutdown off). */
export const CONTROLLED_SHUTDOWN_TIMEOUT_MS_MAX = 300_000;

/** Partitions one reassignment plan may name (a plan is read whole, so its size is bounded at the edge). */
export const REASSIGNMENT_PLAN_PARTITIONS_MAX = 100_000;

/**
 * etcd's default --max-txn-ops: the compares, and the operations of each
 * branch, of one transaction at most (etcd refuses more with "too many
 * operations in txn request"; cluster/move_start.test.ts checks it against
 * the etcd in use). Sluice's launcher keeps the default; an etcd run with a
 * lower value would refuse the larger controller transactions.
 */
export const ETCD_TXN_OPS_MAX = 128;
/**
 * Topics one transaction starting a plan's moves rewrites at most
 * (cluster/move_start.ts): each adds a compare (its mod revision) and up to
 * two puts (its record, its done marker), beside the fence and the plan's or
 * request's compare and the answer's put.
 */
export const MOVE_START_TOPICS_PER_TXN_MAX = 60;
assert(2 * MOVE_START_TOPICS_PER_TXN_MAX + 2 <= ETCD_TXN_OPS_MAX && MOVE_START_TOPICS_PER_TXN_MAX + 2 <= ETCD_TXN_OPS_MAX, "a move-start chunk fits etcd's --max-txn-ops");
assert(CONTROLLER_TXN_OPS_MAX + 2 <= ETCD_TXN_OPS_MAX, "a partition-state chunk fits etcd's --max-txn-ops");

/**
 * Per-partition outcomes one elect-leaders answer lists at most: the answer
 * is one etcd value, below etcd's 1.5 MiB request limit at ~100 bytes an
 * entry, ~350 with the longest topic name (249 characters); the rest are
 * counted.
 */
export const ELECT_LEADERS_RESULTS_MAX = 3_000;
/** etcd's default --max-request-bytes. */
export const ETCD_REQUEST_BYTES_MAX = 1.5 * 1024 * 1024;
/**
 * Bytes of keys and values one move-start transaction carries at most: the
 * topic records rewritten (a 10,000-partition topic's record is ~200 KiB),
 * under etcd's request limit with room for the compares and the answer.
 */
export const MOVE_START_TXN_BYTES_MAX = 1024 * 1024;
assert(MOVE_START_TXN_BYTES_MAX + 64 * 1024 < ETCD_REQUEST_BYTES_MAX, "a move-start chunk fits etcd's --max-request-bytes");
assert(ELECT_LEADERS_RESULTS_MAX * 350 + 4096 < ETCD_REQUEST_BYTES_MAX, "a full elect-leaders answer with the longest topic names fits one etcd put");

/**
 * The automatic leader balancer (Kafka's auto.leader.rebalance.enable,
 * leader.imbalance.per.broker.percentage, leader.imbalance.check.interval.seconds):
 * on by default, a broker whose preferred partitions are led elsewhere above
 * this share gets them back, checked this often while controller.
 */
export const LEADER_IMBALANCE_PERCENT_DEFAULT = 10;
export const LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS_DEFAULT = 300;
export const LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS_MIN = 1;
export const LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS_MAX = 86_400;
assert(
  LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS_MIN <= LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS_DEFAULT &&
    LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS_DEFAULT <= LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS_MAX,
  "default leader imbalance interval in range",
);

/**
 * How often a broker publishes its partitions' load (cluster/load_reports.ts).
 * Every put is a Raft write on every etcd member and a new revision kept until
 * compaction: once per 10 s per broker is noise beside the partition state
 * writes, and a one-minute rate loses little by being up to 10 s old.
 */
export const LOAD_REPORT_INTERVAL_MS = 10_000;
/** The configurable bounds (`--load-report-interval-ms`): below 1 s etcd would carry a write per broker per second for little. */
export const LOAD_REPORT_INTERVAL_MS_MIN = 1_000;
export const LOAD_REPORT_INTERVAL_MS_MAX = 60_000;
/** The window the published rates cover (a sliding one, of LOAD_REPORT_INTERVAL_MS steps). */
export const LOAD_WINDOW_MS = 60_000;
/** Partitions one broker's report lists at most: the busiest ones (the rest are summed into its totals). */
export const LOAD_REPORT_PARTITIONS_MAX = 2_000;
/**
 * One report's JSON at most (checked before the put), below etcd's 1.5 MiB
 * request limit. An entry is ~200 bytes with a short topic name and ~450 with
 * the longest one (249 characters), so a full report always fits.
 */
export const LOAD_REPORT_BYTES_MAX = 1024 * 1024;
assert(LOAD_WINDOW_MS % LOAD_REPORT_INTERVAL_MS === 0 && LOAD_WINDOW_MS >= LOAD_REPORT_INTERVAL_MS, "the load window is whole report intervals");
assert(LOAD_REPORT_BYTES_MAX + 4096 < ETCD_REQUEST_BYTES_MAX, "a full load report fits one etcd put");
assert(LOAD_REPORT_PARTITIONS_MAX * 450 + 1024 <= LOAD_REPORT_BYTES_MAX, "a full report of entries with the longest topic names fits its byte bound");
/** Moves one `cluster balance --by-load` plan proposes at most (replica moves and preferred-leader changes together). */
export const LOAD_BALANCE_MOVES_MAX = 1_000;
