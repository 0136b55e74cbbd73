// Every limit of the broker and its protocol, in one place.
//
// Why one file: a limit that lives next to the code that checks it is easy to
// change without noticing what else depends on it. Here the relations between
// limits are asserted at load time, so an inconsistent edit fails at start, not
// under load. Names carry their unit and end in a qualifier (`...BytesMax`).

import { AssertionError } from "./assert.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/** Largest frame (request or response, excluding the 4-byte size prefix) a peer may send. */
export const FRAME_BYTES_MAX = 16 * MiB;

/**
 * Memory a connection's frame parser keeps between frames. A frame split across
 * reads is gathered into a buffer that grows with it; after a frame larger than
 * this the buffer is dropped, so 1024 idle connections do not each pin 16 MiB.
 */
export const FRAME_PARSER_RETAINED_BYTES_MAX = 1 * MiB;

/** Smallest frame: a request header is api key (2) + api version (2) + correlation id (4). */
export const REQUEST_HEADER_BYTES = 8;

/** A response header is the correlation id (4). */
export const RESPONSE_HEADER_BYTES = 4;

/**
 * Largest single record batch accepted (the default and the cap of the topic
 * setting `max.message.bytes`). 1 MiB, as Kafka's default: clients batch in
 * 16–64 KiB, and the rings below must hold several maximal batches, so every
 * MiB here is resident memory per worker.
 */
export const BATCH_BYTES_MAX = 1 * MiB;

/** Largest total records payload one fetch response may carry (cap on the request's `maxBytes`). */
export const FETCH_BYTES_MAX = 8 * MiB;

/**
 * Largest records payload one partition of a fetch response may carry (cap on
 * `partitionMaxBytes`). Read by the worker straight into the completion ring,
 * which holds four of them. 4 MiB is also the most a client's
 * `partitionFetchBytesMax` may ask for (its default is 512 KiB: client/consumer.ts).
 */
export const FETCH_PARTITION_BYTES_MAX = 4 * MiB;

/** Longest a fetch may wait for data (cap on `maxWaitMs`). */
export const FETCH_WAIT_MS_MAX = 60_000;

/** Open client connections per broker; one more is accepted and closed at once. */
export const CONNECTIONS_MAX = 1024;

/** Requests in flight (read but not yet answered) per connection before the broker stops reading it. */
export const INFLIGHT_REQUESTS_MAX = 1024;

/** Request bytes in flight per connection before the broker stops reading it. */
export const INFLIGHT_BYTES_MAX = 64 * MiB;

/** Response bytes queued for a connection that is not reading them; past this it is closed. */
export const OUTPUT_BYTES_MAX = 64 * MiB;

/** A request whose frame has not fully arrived within this time closes the connection. */
export const REQUEST_TIMEOUT_MS = 30_000;

/** Parked long-poll fetches per broker; past this a fetch is answered at once, without waiting. */
export const WAITING_FETCHES_MAX = 100_000;

/**
 * Bytes of the shared ring from the router to one partition worker (produce
 * batches, fetch requests). Resident once it has wrapped, per worker. It holds
 * what arrives while the worker is busy (an fdatasync of a few MiB takes a few
 * ms), which at 100+ MB/s is well under this; 8 MiB (was 32) measured the same
 * produce throughput. One entry carries one partition's records of one request,
 * so those are limited to half of it (RECORD_LIST_TOO_LARGE past that).
 */
export const RING_BYTES = 8 * MiB;

/**
 * Bytes of the shared completion ring from one partition worker back to the
 * router (acks, fetched bytes). Resident once it has wrapped, per worker; sized
 * by the fetch results it must hold (four of FETCH_PARTITION_BYTES_MAX).
 */
export const COMPLETION_RING_BYTES = 16 * MiB;

/** Partitions one topic may have. */
export const PARTITIONS_PER_TOPIC_MAX = 10_000;

/** Partitions per broker (sizes the shared partition state table). */
export const PARTITIONS_MAX = 65_536;

/** Topic names as Kafka allows them. */
export const TOPIC_NAME_LENGTH_MAX = 249;
export const TOPIC_NAME_PATTERN = /^[a-zA-Z0-9._-]+$/;

/** Records in one batch (a sanity bound on the batch header's record count). */
export const BATCH_RECORDS_MAX = 1 << 20;

/**
 * Bytes a compressed batch may inflate to when a client decodes it. A batch is
 * at most BATCH_BYTES_MAX compressed; this bounds what a hostile one (a "zip
 * bomb") can make a consumer allocate.
 */
export const BATCH_DECOMPRESSED_BYTES_MAX = 64 * MiB;

/** Header entries in one record. */
export const RECORD_HEADERS_MAX = 1 << 16;

/** Strings in protocol fields (topic names, group ids, member ids). */
export const STRING_BYTES_MAX = 32 * KiB;

/**
 * A String's length is an i16, so it cannot exceed 32767 whatever the limit
 * says (STRING_BYTES_MAX is 32 KiB = 32768: one more than an i16 holds).
 */
export const STRING_FIELD_BYTES_MAX = Math.min(STRING_BYTES_MAX, 0x7fff);

/** Longest string a StringCache keeps (topic names are at most 249 bytes): protocol/codec.ts. */
export const STRING_CACHE_BYTES_MAX = 255;

/**
 * Longest error message sent (in UTF-16 units); longer ones are cut, so a
 * message built from input always fits a String (protocol/messages/response.ts).
 */
export const ERROR_MESSAGE_CHARS_MAX = 4096;

/** Entries in any protocol array (topics, partitions). */
export const ARRAY_LENGTH_MAX = 100_000;

/**
 * The longest replica list (brokers of one partition) a message carries: far
 * above any replication factor a cluster allows (cluster/cluster_limits.ts
 * REPLICATION_FACTOR_MAX; cluster/reassignment_admin.ts asserts it), so a list is bounded by
 * something small instead of ARRAY_LENGTH_MAX.
 */
export const REPLICA_LIST_LENGTH_MAX = 64;

/**
 * Partitions one AlterPartitionReassignments request may name (native and
 * Kafka): a cluster hands what passes to its controller as one etcd value
 * (cluster/reassignment_admin.ts asserts it fits). A larger plan goes in
 * several requests; the client's decommission helper splits it.
 */
export const REASSIGNMENT_REQUEST_PARTITIONS_MAX = 2_000;

/**
 * The largest fetch response: a maximal records payload plus room for the
 * response's headers, topic names and partition results. What a connection's
 * output queue must be able to hold (OUTPUT_BYTES_MAX, and the configurable
 * outputBytesMax: engine/broker_config.ts).
 */
export const FETCH_RESPONSE_BYTES_MAX = FETCH_BYTES_MAX + 64 * KiB;

/**
 * Bounds the MessagePack decoder applies to control bodies while it reads
 * (protocol/messages/control.ts), before any schema sees them: a hostile body
 * cannot make it build a huge array, map or string.
 */
export const CONTROL_MSGPACK_LIMITS = {
  maxStrLength: STRING_BYTES_MAX,
  maxBinLength: STRING_BYTES_MAX,
  maxArrayLength: ARRAY_LENGTH_MAX,
  maxMapLength: ARRAY_LENGTH_MAX,
  maxExtLength: 0,
} as const;

// Initial sizes of reusable buffers: they grow on demand up to the limits above.

/** A codec Writer's first buffer (protocol/codec.ts). */
export const WRITER_INITIAL_BYTES = 4 * KiB;

/** A FrameParser's buffer for a frame split across reads, when it first needs one (protocol/frame.ts). */
export const PARSER_INITIAL_BYTES = 4 * KiB;

/** A BatchBuilder's first buffer (protocol/record_batch.ts); it grows to the batch's size. */
export const BUILDER_INITIAL_BYTES = 16 * KiB;

function assert(condition: boolean, why: string): void {
  if (!condition) throw new AssertionError(`limits: ${why}`);
}

// A batch must fit in a frame with room for the request's headers and names.
assert(BATCH_BYTES_MAX + 64 * KiB <= FRAME_BYTES_MAX, "a maximal batch must fit in a frame");
// A maximal batch must fit in a ring several times over, so one large producer cannot starve the others.
assert(BATCH_BYTES_MAX * 4 <= RING_BYTES, "the ring must hold at least four maximal batches");
// A ring entry is at most half the ring (workers/shared_layout.ts): one request may carry a partition
// several maximal batches, and the client's default request (1 MiB) must fit one entry with room to spare.
assert(RING_BYTES / 2 >= BATCH_BYTES_MAX + 64 * KiB, "one ring entry must hold a maximal batch with its request fields");
// A maximal fetch result must fit in the completion ring several times over.
assert(FETCH_PARTITION_BYTES_MAX * 4 <= COMPLETION_RING_BYTES, "the completion ring must hold four maximal fetch results");
assert(FETCH_PARTITION_BYTES_MAX <= FETCH_BYTES_MAX, "a partition's share cannot exceed the whole fetch");
// A connection's in-flight bytes must admit at least one maximal frame, or a large request could never be read.
assert(INFLIGHT_BYTES_MAX >= FRAME_BYTES_MAX, "in-flight bytes must admit one maximal frame");
// A consumer asking for the most a fetch may return must not be cut off for it.
assert(OUTPUT_BYTES_MAX >= FETCH_RESPONSE_BYTES_MAX, "the output queue must hold one maximal fetch response");
// A String's length field is an i16; the error text is cut to a size whose UTF-8 (3 bytes a unit at most) fits one.
assert(ERROR_MESSAGE_CHARS_MAX * 3 <= STRING_FIELD_BYTES_MAX, "a clipped error message must fit a String field");
// Every topic name must be cacheable, or the produce path decodes the name of every request again.
assert(STRING_CACHE_BYTES_MAX >= TOPIC_NAME_LENGTH_MAX, "the string cache must hold any topic name");
assert(STRING_CACHE_BYTES_MAX <= STRING_FIELD_BYTES_MAX, "the string cache keeps String fields only");
// The parser drops a buffer past its retained size: starting above it would drop every buffer it makes.
assert(PARSER_INITIAL_BYTES <= FRAME_PARSER_RETAINED_BYTES_MAX, "the parser's first buffer must be one it keeps");
assert(BUILDER_INITIAL_BYTES <= BATCH_BYTES_MAX, "a builder starts no larger than a batch may be");
assert(BATCH_DECOMPRESSED_BYTES_MAX >= BATCH_BYTES_MAX, "a batch must be able to inflate to at least its own size");
assert(PARTITIONS_PER_TOPIC_MAX <= PARTITIONS_MAX, "one topic cannot exceed the broker's partitions");

// ---- Consumer groups (engine/groups) ----

/** Bytes of a group id. Group ids name directories nowhere, but they are keys of the offsets log and of metric labels. */
export const GROUP_ID_BYTES_MAX = 255;

/** Groups one broker keeps (with members or with committed offsets); a join that would create one more gets COORDINATOR_NOT_AVAILABLE. */
export const GROUPS_MAX = 10_000;

/** Members of one group; a join past it gets THROTTLING_QUOTA_EXCEEDED. Bounds the pending joins of a rebalance. */
export const GROUP_MEMBERS_MAX = 1_000;

/** Topics one member may subscribe to. */
export const GROUP_SUBSCRIBED_TOPICS_MAX = 1_000;

/** Assignor names one member may offer. */
export const GROUP_ASSIGNORS_MAX = 8;

/**
 * Session timeout range. The floor is low (Kafka's is 6 s) because a single
 * node has no GC-pause-prone replicas to wait out and tests want quick failover;
 * the client heartbeats at a third of it.
 */
export const GROUP_SESSION_TIMEOUT_MS_MIN = 300;
export const GROUP_SESSION_TIMEOUT_MS_MAX = 300_000;

/** Longest a rebalance may wait for members to rejoin (a join is a long request up to this). */
export const GROUP_REBALANCE_TIMEOUT_MS_MAX = 300_000;

/** Bytes of the metadata string a commit may carry with an offset. */
export const OFFSET_COMMIT_METADATA_BYTES_MAX = 4 * KiB;

/** Offsets one commit request may carry. */
export const OFFSET_COMMIT_PARTITIONS_MAX = 10_000;

/**
 * Committed offsets waiting for the next append+fsync of the offsets log. Past
 * it a commit is refused with COORDINATOR_NOT_AVAILABLE (retriable) instead of queueing.
 */
export const OFFSET_COMMITS_PENDING_MAX = 100_000;

assert(GROUP_SESSION_TIMEOUT_MS_MIN < GROUP_SESSION_TIMEOUT_MS_MAX, "the session timeout range must not be empty");
assert(GROUP_ID_BYTES_MAX <= STRING_BYTES_MAX, "a group id is a protocol string");
assert(OFFSET_COMMIT_PARTITIONS_MAX <= ARRAY_LENGTH_MAX, "a commit's offsets are a protocol array");
assert(OFFSET_COMMIT_PARTITIONS_MAX <= OFFSET_COMMITS_PENDING_MAX, "one maximal commit must fit in the pending queue");

// ---- The Kafka wire protocol (protocol/kafka) ----

/**
 * Bytes of one string field of a Kafka request (topic names, group ids, member
 * ids, config values). A classic String's i16 length already caps it at 32767;
 * a compact string's uvarint length could claim up to 2^31, so both are held
 * to this one bound.
 */
export const KAFKA_STRING_BYTES_MAX = 32 * KiB - 1;

/**
 * Entries of one array field of a Kafka request (topics, partitions, members).
 * The reader also refuses a count larger than the bytes left (every entry takes
 * at least one byte), so no count allocates more than the frame could describe.
 */
export const KAFKA_ARRAY_LENGTH_MAX = ARRAY_LENGTH_MAX;

/**
 * Array entries one Kafka request may declare in total, across all its arrays:
 * a frame of nested arrays (topics × partitions) cannot make the decoder build
 * more objects than this.
 */
export const KAFKA_REQUEST_ENTRIES_MAX = 200_000;

/** Tagged fields in one tagged-field section; Kafka defines at most a handful per struct. */
export const KAFKA_TAGGED_FIELDS_MAX = 64;

/** Bytes of one tagged field's value (unknown ones are skipped, known ones are small structs). */
export const KAFKA_TAGGED_FIELD_BYTES_MAX = 64 * KiB;

/** Bytes of a Bytes / CompactBytes field (records, member metadata, assignments): at most a frame. */
export const KAFKA_BYTES_MAX = FRAME_BYTES_MAX;

assert(KAFKA_STRING_BYTES_MAX <= 0x7fff, "a classic Kafka String's length is an i16");
assert(TOPIC_NAME_LENGTH_MAX <= KAFKA_STRING_BYTES_MAX, "a topic name is a Kafka string");
assert(GROUP_ID_BYTES_MAX <= KAFKA_STRING_BYTES_MAX, "a group id is a Kafka string");
assert(KAFKA_ARRAY_LENGTH_MAX <= KAFKA_REQUEST_ENTRIES_MAX, "one maximal array must fit the request's entry budget");
assert(KAFKA_TAGGED_FIELD_BYTES_MAX <= FRAME_BYTES_MAX, "a tagged field lies inside a frame");

/**
 * Batches the broker remembers per producer and partition (the last ones), so
 * a retry of any of them is answered with its original offsets. Kafka's
 * number: its clients keep at most five requests in flight per partition with
 * idempotence on, one batch of a partition each. The native producer keeps one
 * request per partition in flight and so puts at most this many of a
 * partition's batches in one idempotent request: a retried request (after a
 * lost answer, or to a new leader that replicated it) is then found whole.
 */
export const PRODUCER_BATCHES_CACHED = 5;
