// Every limit of the router (engine/, engine/native/, engine/groups/), in one
// place. Wire-visible limits live in protocol/limits.ts and the log's in
// workers/log/log_limits.ts; these bound the router's own queues, pools,
// buffers and timers. The relations between them, and with the protocol's,
// are asserted at load (below each group), so an inconsistent edit fails at
// start, not under load. The relations between these and the configurable
// settings are checked when the configuration is parsed (broker_config.ts).

import {
  ARRAY_LENGTH_MAX,
  INFLIGHT_BYTES_MAX,
  BATCH_BYTES_MAX,
  BATCH_RECORDS_MAX,
  COMPLETION_RING_BYTES,
  FETCH_BYTES_MAX,
  FETCH_RESPONSE_BYTES_MAX,
  FRAME_BYTES_MAX,
  INFLIGHT_REQUESTS_MAX,
  OUTPUT_BYTES_MAX,
  RING_BYTES,
  STRING_BYTES_MAX,
} from "../protocol/limits.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

function assert(condition: boolean, why: string): void {
  if (!condition) throw new Error(`engine limits: ${why}`);
}

// ---- Admin operations and topics (engine.ts, topic_lifecycle.ts) ----

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

// ---- Fetch (fetch_read_budget.ts, native/fetch_in_flight.ts, connection/scratch_pool.ts) ----

/**
 * Bytes of fetch reads (each counted by the most it may return) one client may
 * have in the partition workers' rings at once; further reads wait on the
 * router, where closing the connection drops them (engine/fetch_read_budget.ts).
 * Two maximal fetches: a consumer that pipelines one fetch behind another, or
 * reads 8 partitions at 1 MiB each, never waits for it; one that pipelines
 * hundreds of large fetches queues all but a couple of them here instead of
 * in front of every other client's fetch on the same worker.
 */
export const FETCH_READ_BYTES_IN_FLIGHT_PER_CLIENT_MAX = 16 * MiB;

/**
 * Records up to this many bytes are copied into the connection's output writer
 * (and leave with the other responses of the turn in one socket write); larger
 * ones are written from the scratch buffer as pieces, one socket write each,
 * which beats copying them through the writer (and growing it) past this size.
 */
export const FETCH_RECORDS_COPIED_BYTES_MAX = 64 * KiB;

/** Scratch buffers for assembling fetch responses kept between uses, in bytes; the rest is left to the collector. */
export const SCRATCH_RETAINED_BYTES_MAX = 32 * MiB;

/** A scratch buffer's first size; it doubles from there as a response needs. */
export const SCRATCH_INITIAL_BYTES = 64 * KiB;

// One maximal fetch's reads must be admitted at once, or such a fetch could never complete.
assert(FETCH_READ_BYTES_IN_FLIGHT_PER_CLIENT_MAX >= FETCH_BYTES_MAX, "a client's fetch read budget must admit the reads of one maximal fetch at once");
// The scratch a maximal fetch grew must be one the pool keeps, or every large fetch allocates anew.
assert(SCRATCH_RETAINED_BYTES_MAX >= FETCH_BYTES_MAX, "the scratch pool must keep the buffer of one maximal fetch");
assert(SCRATCH_INITIAL_BYTES <= SCRATCH_RETAINED_BYTES_MAX, "a new scratch buffer must be one the pool keeps");

// ---- Connections and their output (connection/: both front ends) ----

/** Queued response bytes past which a connection stops reading until the client catches up. */
export const OUTPUT_PAUSE_BYTES = 4 * MiB;

/**
 * The smallest `outputBytesMax` (broker_config.ts) that works: past
 * OUTPUT_PAUSE_BYTES the connection stops reading, but requests already read
 * are still answered, so the queue must then still hold one maximal fetch
 * response, or a consumer that reads is cut off for asking for the most a
 * fetch may return.
 */
export const OUTPUT_BYTES_MIN = OUTPUT_PAUSE_BYTES + FETCH_RESPONSE_BYTES_MAX;

/** Responses queued in one turn past this are written at once instead of at the end of the turn. */
export const OUTPUT_FLUSH_EARLY_BYTES = 1 * MiB;

/** An output Writer or unsent buffer that grew past this is dropped once empty, so one large response does not pin memory forever. */
export const OUTPUT_RETAINED_BYTES_MAX = 1 * MiB;

/** An output Writer's first buffer. */
export const OUTPUT_WRITER_INITIAL_BYTES = 16 * KiB;

/** The buffer for a writer's bytes the socket did not take, when first needed. */
export const OUTPUT_UNSENT_INITIAL_BYTES = 64 * KiB;

/** Connections are checked this often at most for a frame that has not completed in time (a quarter of requestTimeoutMs when shorter). */
export const TIMEOUT_SWEEP_MS_MAX = 1000;

/** How often a graceful shutdown checks whether every connection is idle. */
export const DRAIN_POLL_MS = 5;

/** Distinct produce timeouts with a deadline list at once (an empty list is reused for a new timeout): timeout_lists.ts. */
export const TIMEOUT_LISTS_MAX = 16;

/**
 * A response given as encoded segments (respondSegments) whose spliced views
 * (stored records) add up to at most this many bytes is copied whole into the
 * output writer, to leave with the turn's other responses in one socket
 * write; larger ones go out as pieces. The same trade as the native fetch's
 * FETCH_RECORDS_COPIED_BYTES_MAX.
 */
export const SEGMENT_VIEWS_COPIED_BYTES_MAX = 64 * KiB;

// ---- The Kafka front end (kafka/) ----

/**
 * Largest Kafka request frame read (the size prefix is checked against it
 * before a byte of the frame is buffered); a larger one closes the
 * connection. Kafka's own socket.request.max.bytes is 100 MiB, but clients
 * send at most max.request.size (1 MiB by default) per request, and this
 * broker bounds a produce batch by BATCH_BYTES_MAX anyway: one native frame's
 * worth is room enough.
 */
export const KAFKA_FRAME_BYTES_MAX = FRAME_BYTES_MAX;

/** The writer a Kafka connection encodes responses into is dropped once it grew past this (one large answer does not pin memory). */
export const KAFKA_WRITER_RETAINED_BYTES_MAX = 1 * MiB;

/** Answered slots at the head of a Kafka connection's response order past which the array is compacted (a connection that never drains fully). */
export const KAFKA_RESPONSE_SLOTS_COMPACT_AT = 1024;

// A Kafka frame is read whole before it is answered, so the connection's in-flight bytes must admit one.
assert(INFLIGHT_BYTES_MAX >= KAFKA_FRAME_BYTES_MAX, "in-flight bytes must admit one maximal Kafka frame");
// Segment views copied into the writer must fit a writer the connection keeps.
assert(SEGMENT_VIEWS_COPIED_BYTES_MAX <= KAFKA_WRITER_RETAINED_BYTES_MAX, "copied segment views must fit a retained writer");

/**
 * Finished one-partition produce requests kept for reuse, at most this many
 * (native/produce_in_flight.ts). Why a pool: a request lives for its round
 * trip (milliseconds), so at a few hundred thousand one-message requests a
 * second its objects outlive the young generation and pile up as old garbage,
 * which is what grew the broker's RSS under that load (docs/perf-log.md). Reused
 * objects stay live instead; the pool is bounded (a few hundred bytes each),
 * and a request goes back into it only once it was answered AND the engine's
 * callback has returned, so a late callback (after a timeout) can never reach
 * a request that was reused.
 */
export const PRODUCE_POOL_MAX = 4096;

/**
 * MessagePack decode limits for control request bodies (native/dispatch.ts): no
 * container or string larger than the protocol's limits, whatever its declared
 * length. Binary values may be as large as a frame (a request's own payload).
 */
export const CONTROL_REQUEST_MSGPACK_LIMITS = {
  maxStrLength: STRING_BYTES_MAX,
  maxBinLength: FRAME_BYTES_MAX,
  maxArrayLength: ARRAY_LENGTH_MAX,
  maxMapLength: ARRAY_LENGTH_MAX,
  maxExtLength: FRAME_BYTES_MAX,
} as const;

// Reading must pause before the queue reaches the size that closes the connection, with room for the answers still due.
assert(OUTPUT_BYTES_MIN <= OUTPUT_BYTES_MAX, "the default output bound must leave room for a maximal fetch response past the pause");
// An early flush is a write, not a pause: it must come before reading stops, or a burst would pause where one write would do.
assert(OUTPUT_FLUSH_EARLY_BYTES <= OUTPUT_PAUSE_BYTES, "responses must be flushed early before reading pauses");
// Records copied into the writer must not grow it past what it keeps, or every such fetch would drop and regrow it.
assert(FETCH_RECORDS_COPIED_BYTES_MAX <= OUTPUT_RETAINED_BYTES_MAX, "copied fetch records must fit a writer the queue keeps");
assert(OUTPUT_WRITER_INITIAL_BYTES <= OUTPUT_RETAINED_BYTES_MAX, "a new output writer must be one the queue keeps");
assert(OUTPUT_UNSENT_INITIAL_BYTES <= OUTPUT_RETAINED_BYTES_MAX, "a new unsent buffer must be one the queue keeps");
assert(DRAIN_POLL_MS < TIMEOUT_SWEEP_MS_MAX, "a drain must notice idleness sooner than the timeout sweep runs");

// ---- Partition workers (worker_pool.ts) ----

/** Partition worker threads at most; each owns a ring pair of RING_BYTES + COMPLETION_RING_BYTES. */
export const WORKERS_MAX = 64;

/**
 * Requests one worker may have in flight: in its ring, being processed, or acks=all
 * waiting for their fdatasync. Past it produce/fetch return false (like a full
 * ring) and the caller waits for onWritable. Bounds the callback FIFOs.
 */
export const REQUESTS_IN_FLIGHT_PER_WORKER_MAX = 65_536;

/** Longest the completion drain parks without a wake (it re-checks writability then). */
export const COMPLETION_WAIT_MS = 1_000;

/** Park while callers wait for ring room, so room freed without a completion is noticed soon. */
export const COMPLETION_WAIT_WRITABLE_MS = 5;

/** How long shutdown waits for a worker thread to end after its last reply. */
export const WORKER_EXIT_WAIT_MS = 5_000;

// One connection's whole pipeline must fit a worker's bound, so the bound only ever bites across clients.
assert(REQUESTS_IN_FLIGHT_PER_WORKER_MAX >= INFLIGHT_REQUESTS_MAX, "a worker must admit one connection's requests in flight");
assert(COMPLETION_WAIT_WRITABLE_MS < COMPLETION_WAIT_MS, "waiting writers must be re-checked sooner than the idle park");

// ---- Memory (memory_governor.ts) ----

/**
 * Default resident-memory soft limit (memorySoftLimitBytes): a broker of two
 * workers starts at ~75 MiB, and its rings alone take 48 MiB once cycled
 * through; 160 MiB leaves room for a few hundred partitions before the
 * governor's collections back off.
 */
export const MEMORY_SOFT_LIMIT_BYTES = 160 * MiB;

/** Shortest time between two forced collections. */
export const GOVERNOR_INTERVAL_MS = 250;

/** Longest back-off after collections that freed little. */
export const GOVERNOR_INTERVAL_MS_MAX = 8_000;

/** Live heap after a collection, as a fraction of the limit, from which collections back off. */
export const GOVERNOR_LIVE_FRACTION = 0.75;

/** Resident bytes of one worker's ring pair once cycled through (they stay resident). */
export const WORKER_RINGS_BYTES = RING_BYTES + COMPLETION_RING_BYTES;

/**
 * Room the default soft limit leaves above the workers' rings: what
 * MEMORY_SOFT_LIMIT_BYTES leaves a broker of two workers. With more workers
 * the default grows by their rings (broker_config.ts): a limit the rings alone
 * pass would force a collection every GOVERNOR_INTERVAL_MS that frees nothing
 * (the rings are not heap, so the back-off never starts).
 */
export const MEMORY_SOFT_LIMIT_HEADROOM_BYTES = MEMORY_SOFT_LIMIT_BYTES - 2 * WORKER_RINGS_BYTES;

// The default must sit above what a two-core broker's rings pin once cycled, or it would collect for nothing.
assert(MEMORY_SOFT_LIMIT_HEADROOM_BYTES > 0, "the default soft limit must exceed two workers' rings");
assert(GOVERNOR_INTERVAL_MS < GOVERNOR_INTERVAL_MS_MAX, "the governor's back-off must have room to grow");
assert(GOVERNOR_LIVE_FRACTION > 0 && GOVERNOR_LIVE_FRACTION < 1, "the back-off threshold is a fraction of the limit");

// ---- Consumer groups' offsets log (groups/offsets_log.ts, groups/offsets_log_file.ts) ----

/** Records per batch of the offsets log: a batch stays far below max.message.bytes even with long metadata strings. */
export const OFFSETS_RECORDS_PER_BATCH_MAX = 1_000;

/** Bytes read from the offsets log at once while loading (a larger batch gets a buffer of its own). */
export const OFFSETS_LOAD_READ_BYTES = 4 * MiB;

/** The offsets log is compacted once it holds this many records per live key... */
export const OFFSETS_COMPACT_RATIO = 4;

/** ...and more records than this. */
export const OFFSETS_COMPACT_RECORDS_MIN = 100_000;

/** The offsets log's batch builder's first buffer. */
export const OFFSETS_BUILDER_INITIAL_BYTES = 64 * KiB;

/**
 * Segments of the offsets log: compaction rewrites the whole log, so small
 * segments buy nothing.
 */
export const OFFSETS_SEGMENT_BYTES = 64 * MiB;

// ---- Consumer groups in a cluster (groups/offsets_topic.ts, groups/cluster_offset_store.ts) ----

/**
 * Partitions of the replicated `__consumer_offsets` topic. Fixed for the life
 * of a cluster: a group's coordinator is the leader of partition
 * hash(groupId) mod this count, so changing it would move every group.
 * Kafka's default is 50; 16 spreads coordinators over a small cluster without
 * opening 50 logs on each of its brokers.
 */
export const OFFSETS_TOPIC_PARTITIONS = 16;

/**
 * How often a broker compares the offsets partitions it leads (the roles the
 * cluster pass applied) with the ones its coordinator has loaded: the bound on
 * how late a new coordinator starts loading, and an old one stops serving,
 * beyond the request that finds it out first.
 */
export const OFFSETS_ROLE_CHECK_INTERVAL_MS = 200;

/** Longest a cluster commit waits for its acks=all append (Kafka's offsets.commit.timeout.ms); then COORDINATOR_NOT_AVAILABLE. */
export const OFFSETS_COMMIT_TIMEOUT_MS = 5_000;

/** Longest one read of a load waits for the partition's high watermark to move (a loop bound, not a deadline for the load). */
export const OFFSETS_LOAD_FETCH_WAIT_MS = 500;

assert(OFFSETS_RECORDS_PER_BATCH_MAX <= BATCH_RECORDS_MAX, "an offsets batch is a record batch");
assert(OFFSETS_TOPIC_PARTITIONS >= 1 && OFFSETS_TOPIC_PARTITIONS <= 1_000, "the offsets topic has a sane fixed partition count");
assert(OFFSETS_ROLE_CHECK_INTERVAL_MS < OFFSETS_COMMIT_TIMEOUT_MS, "a coordinator change is noticed well within a commit's timeout");
// A maximal batch must fit the load window, so the common case reads whole batches without a buffer of its own.
assert(OFFSETS_LOAD_READ_BYTES >= BATCH_BYTES_MAX, "the offsets load window must hold a maximal batch");
assert(OFFSETS_BUILDER_INITIAL_BYTES <= BATCH_BYTES_MAX, "a builder starts no larger than a batch may be");
assert(OFFSETS_COMPACT_RATIO > 1, "compaction must be due only when the log holds more records than live keys");

// ---------------------------------------------------------------- producer ids (producer_ids.ts)

/**
 * Producer ids reserved per durable write of `meta/producer-ids`: one
 * fdatasync and directory fsync per this many InitProducerId calls, and at most
 * this many ids skipped after a crash (ids are 2^53 wide: nothing runs out).
 */
export const PRODUCER_ID_BLOCK_SIZE = 1_000;

/**
 * Producer ids each broker of a cluster hands out: broker N owns
 * [N × PRODUCER_IDS_PER_BROKER, (N + 1) × PRODUCER_IDS_PER_BROKER). Two brokers
 * must never give out the same id: a partition would take the second
 * producer's first batches for retries of the first's and drop them. 2^33
 * (8.6 billion InitProducerId calls per broker) times 2^20 broker ids is 2^53.
 */
export const PRODUCER_IDS_PER_BROKER = 2 ** 33;

// ---------------------------------------------------------------- Kafka ElectLeaders (kafka/elect_leaders.ts)

/**
 * Partitions one Kafka ElectLeaders request may name. A topic named with all
 * its partitions is one controller request; any other named partition is one
 * of its own (an etcd round trip each), so the count is bounded at the edge.
 */
export const KAFKA_ELECT_LEADERS_PARTITIONS_MAX = 1_000;

/** Controller requests one ElectLeaders call keeps open at once (the controller works on 16 in all: TOPIC_REQUESTS_IN_FLIGHT_MAX). */
export const KAFKA_ELECT_LEADERS_PARALLEL_MAX = 4;
