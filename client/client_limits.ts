// Every fixed limit of the client, in one place: buffer sizes, bounds and
// timings that are not options. (Options and their defaults are in
// options.ts, producer.ts and consumer.ts; the protocol's limits, which the
// client obeys too, in protocol/limits.ts.) The relations between them and
// with the protocol's limits are asserted at load, with why.

import { BATCH_BYTES_MAX, FRAME_BYTES_MAX, REQUEST_HEADER_BYTES } from "../protocol/limits.ts";
import { BATCH_HEADER_BYTES } from "../protocol/record_batch.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

function assert(condition: boolean, why: string): void {
  if (!condition) throw new Error(`client limits: ${why}`);
}

// ---- Connection (connection.ts) ----

/** Past this many buffered request bytes the output buffer is written at once instead of at the end of the turn. */
export const OUTBOX_FLUSH_EARLY_BYTES = 1 * MiB;

/** An output buffer grown past this is dropped after a flush rather than kept for the next turn. */
export const OUTBOX_RETAINED_BYTES_MAX = 4 * MiB;

/** The output buffer's first size. */
export const OUTBOX_INITIAL_BYTES = 64 * KiB;

/** Correlation ids wrap here (u32 on the wire; staying below 2^31 keeps them plain small integers). */
export const CORRELATION_ID_WRAP = 0x7fffffff;

/** Requests are checked for their timeout this often at most (a quarter of requestTimeoutMs when shorter)... */
export const REQUEST_SWEEP_MS_MAX = 1_000;

/** ...and at least this far apart. */
export const REQUEST_SWEEP_MS_MIN = 10;

// An early flush must come before the buffer is too large to keep, or every burst would drop and regrow it.
assert(OUTBOX_FLUSH_EARLY_BYTES <= OUTBOX_RETAINED_BYTES_MAX, "the outbox must be flushed early below the size it keeps");
assert(OUTBOX_INITIAL_BYTES <= OUTBOX_RETAINED_BYTES_MAX, "a new outbox must be one the connection keeps");
assert(REQUEST_SWEEP_MS_MIN < REQUEST_SWEEP_MS_MAX, "the sweep interval range must not be empty");

// ---- Producer (producer.ts, partitioners.ts) ----

/**
 * The largest record the producer accepts (its estimated encoded size): a
 * batch of it alone must stay within BATCH_BYTES_MAX, with room for the
 * batch header.
 */
export const PRODUCER_RECORD_BYTES_MAX = BATCH_BYTES_MAX - 128;

/** Strings up to this many UTF-16 units are measured for the buffer; longer ones reserve 3 bytes a unit. */
export const STRING_EXACT_CHARS_MAX = 128;

/**
 * Spare batch builders kept for reuse: at least this many, and more when they
 * are small (SPARE_BUILDER_BYTES of initial buffers). With small batches many
 * complete at once (one socket read of responses), and a builder allocated
 * anew costs more than the record it carries.
 */
export const SPARE_BUILDERS_MIN = 64;
export const SPARE_BUILDER_BYTES = 1 * MiB;

/**
 * A new batch's buffer starts this small and grows to batchBytes as records
 * come: sending a few records to each of many partitions does not allocate
 * batchBytes per partition. Spare (grown) buffers are reused.
 */
export const BATCH_INITIAL_BYTES = 16 * KiB;

/** Room in a Produce frame for everything but the batches (header, topic names, counts). */
export const PRODUCE_REQUEST_OVERHEAD_BYTES = 64 * KiB;

/** A round-robin counter wraps here (stays a small integer). */
export const ROUND_ROBIN_WRAP = 0x40000000;

/** Longest the metadata cache waits between two tries for a topic's partition count, and its first wait. */
export const METADATA_BACKOFF_MS = 25;
export const METADATA_BACKOFF_MS_MAX = 500;

/**
 * How often the producer asks Metadata again while a partition it has batches
 * for has no leader it can reach (none named, or the named one's connection
 * failed): after a kill -9 the controller elects a new leader within its lease
 * TTL (2 s by default), and this is how late after that the producer may
 * learn of it. Kafka's client refreshes as often (retry.backoff.ms 100).
 */
export const LEADER_SEARCH_INTERVAL_MS = 100;

// A record the producer accepts must fit a batch with its header.
assert(PRODUCER_RECORD_BYTES_MAX + BATCH_HEADER_BYTES <= BATCH_BYTES_MAX, "a maximal record must fit a batch with its header");
// requestBytesMax ranges from batchBytes (at most BATCH_BYTES_MAX) to FRAME_BYTES_MAX minus the overhead: that range must not be empty.
assert(BATCH_BYTES_MAX + PRODUCE_REQUEST_OVERHEAD_BYTES <= FRAME_BYTES_MAX, "a request of one maximal batch must fit a frame");
assert(PRODUCE_REQUEST_OVERHEAD_BYTES > REQUEST_HEADER_BYTES, "the request overhead covers at least the request header");
assert(BATCH_INITIAL_BYTES <= SPARE_BUILDER_BYTES, "the spare builders' budget must hold at least one new builder");
assert(METADATA_BACKOFF_MS < METADATA_BACKOFF_MS_MAX, "the metadata back-off must have room to grow");
assert(LEADER_SEARCH_INTERVAL_MS <= METADATA_BACKOFF_MS_MAX, "a leader search asks no less often than a topic's count is asked for");

// ---- Option ranges: what an option is checked against (options.ts, producer.ts, consumer.ts) ----

/** The first wait of any back-off (retryBackoffMs, reconnectBackoffMs) at most. */
export const BACKOFF_MS_MAX = 60_000;

/** The ceiling of any back-off (retryBackoffMsMax, reconnectBackoffMsMax) at most. */
export const BACKOFF_CEILING_MS_MAX = 600_000;

/** connectTimeoutMs at most. */
export const CONNECT_TIMEOUT_MS_MAX = 600_000;

/** requestTimeoutMs and sendTimeoutMs at most: an hour. */
export const REQUEST_TIMEOUT_MS_MAX = 3_600_000;

/** The producer's ackTimeoutMs at most: the wire's TimeoutMs is an i32. */
export const ACK_TIMEOUT_MS_MAX = 0x7fffffff;

/** lingerMs at most. */
export const LINGER_MS_MAX = 60_000;

/** deliveryTimeoutMs and metadataMaxAgeMs at most: a day. */
export const DELIVERY_TIMEOUT_MS_MAX = 86_400_000;
export const METADATA_MAX_AGE_MS_MAX = 86_400_000;

/** The producer's retries at most. */
export const RETRIES_MAX = 1_000_000;

/** The producer's smallest batchBytes: a batch header and a small record. */
export const PRODUCER_BATCH_BYTES_MIN = 128;

/** bufferBytesMax and prefetchBytesMax at most (1 TiB: a sanity bound, not a recommendation). */
export const CLIENT_BUFFER_BYTES_MAX = 2 ** 40;

/** The consumer's smallest prefetchBytesMax. */
export const PREFETCH_BYTES_MIN = 1024;

assert(BACKOFF_MS_MAX <= BACKOFF_CEILING_MS_MAX, "a back-off's first wait must be allowed below its ceiling");
assert(PRODUCER_BATCH_BYTES_MIN >= BATCH_HEADER_BYTES, "the smallest batch must hold a batch header");
assert(PRODUCER_BATCH_BYTES_MIN <= BATCH_BYTES_MAX, "the batchBytes range must not be empty");
assert(ACK_TIMEOUT_MS_MAX <= 0x7fffffff, "TimeoutMs is an i32 on the wire");

// ---- Consumer groups and admin (group_membership.ts, group_admin.ts) ----

/** Extra time over the rebalance timeout a join may take before the client gives up on its answer. */
export const JOIN_TIMEOUT_MARGIN_MS = 5_000;

/**
 * Coordinator links one group client keeps open at most (one per broker that
 * coordinates one of its groups); past it they are all closed and found again.
 */
export const COORDINATOR_LINKS_MAX = 64;

/** Groups whose coordinator one group client remembers at most; past it they are all forgotten (and found again when used). */
export const COORDINATOR_GROUPS_KNOWN_MAX = 10_000;

/** How long a GroupAdmin call waits for the coordinator's answer. */
export const GROUP_ADMIN_TIMEOUT_MS = 30_000;

/** Bootstrap addresses one `broker` option may list (a cluster's brokers; more is a mistake). */
export const BOOTSTRAP_BROKERS_MAX = 64;

// ---- Admin: partition moves (reassignments.ts) ----

/** How often waitForReassignments asks whether the moves are done (a move takes seconds at least). */
export const REASSIGNMENT_POLL_MS = 250;

/** waitForReassignments' default patience: a move copies the whole partition, which can take minutes. */
export const REASSIGNMENT_WAIT_MS_DEFAULT = 600_000;
