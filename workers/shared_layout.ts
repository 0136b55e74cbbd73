// The shared-memory layout between the router thread and its partition workers.
//
// This file is the only place these numbers live; `ring.ts`, `partition_state.ts`,
// `partition_host.ts` (worker side) and `engine/worker_pool.ts` (router side) all
// import them. Changing a number here changes both sides at once.
//
// Four kinds of SharedArrayBuffer exist per broker:
//
//   request ring     (one per worker)  router → worker: produce batches, fetch and
//                                      offset-for-timestamp requests.
//   completion ring  (one per worker)  worker → router: acks, fetched bytes, durable
//                                      offsets, partition failures.
//   state table      (one per broker)  one row per partition slot, written only by the
//                                      worker that owns the slot, read by the router.
//   worker stats     (one per broker)  one region per worker: counters (the fdatasync
//                                      latency histogram) the worker adds to with
//                                      Atomics.add and the router reads on a scrape.
//
// Ring buffer:
//
//   [header RING_HEADER_BYTES][data: capacity bytes, a power of two]
//
//   Header words are Int32 (Atomics). Words written by the consumer and words written
//   by the producer sit on different 64-byte cache lines, so the two threads do not
//   bounce one line between cores on every publish.
//
//   head and tail are byte positions that count up forever modulo 2^32 (stored as
//   Int32, read as `>>> 0`). Because the capacity is a power of two dividing 2^32,
//   `position & (capacity - 1)` is the byte index and `(tail - head) >>> 0` is the
//   number of bytes in use, without a separate full/empty flag.
//
//   Entry = [u32 payloadBytes][u32 kind][payload][pad to RING_ALIGN]
//   An entry never straddles the end of the data area: when it would, the producer
//   writes a WRAP marker (kind WRAP) at the current position and the entry starts at
//   index 0; the consumer skips from a WRAP marker to the start.
//   The producer may also wrap early, past RING_REWIND_AT_BYTES (worker_limits.ts) while the consumer
//   is nearly caught up (ring.ts, RingProducer.reserve): the consumer cannot tell
//   the two apart, and the bytes a ring touches follow its backlog, not its capacity.
//
// All payload field offsets below are byte offsets from the start of the payload
// (which is RING_ALIGN-aligned), so Float64 fields can be read through a
// Float64Array over the data area.
//
// Everything here is layout (sizes, offsets, alignment, magic numbers), not a
// limit: the limits on what flows through this memory (ring sizes, the early-wrap
// point, the length of an error message) are in protocol/limits.ts and worker_limits.ts.

import { assert } from "../protocol/assert.ts";

/** Bytes of a ring's header block (words below, three cache lines, rounded up). */
export const RING_HEADER_BYTES = 256;

/** Entry alignment: keeps every payload's Float64 fields naturally aligned. */
export const RING_ALIGN = 8;

/** `[u32 payloadBytes][u32 kind]` before each payload. */
export const RING_ENTRY_HEADER_BYTES = 8;

/** Written into the header at creation; both sides check it before trusting a buffer. */
export const RING_MAGIC = 0x534c_5249; // "SLRI"

/** Int32 word indices in the ring header. */
export const RingWord = {
  /** Consumer's read position (written by the consumer only). Cache line 0. */
  HEAD: 0,
  /** 1 while the consumer is (about to be) parked on TAIL; the producer notifies only then. */
  CONSUMER_WAITING: 1,
  /** Producer's write position (written by the producer only). Cache line 1. */
  TAIL: 16,
  /** 1 while the producer is (about to be) parked on HEAD waiting for space. */
  PRODUCER_WAITING: 17,
  /** Constants written once at creation. Cache line 2. */
  MAGIC: 32,
  CAPACITY: 33,
} as const;

/** Round `n` up to the ring alignment. */
export function alignEntry(n: number): number {
  return (n + (RING_ALIGN - 1)) & ~(RING_ALIGN - 1);
}

/** Total ring bytes an entry with this payload occupies (without a possible WRAP marker). */
export function entryBytes(payloadBytes: number): number {
  return alignEntry(RING_ENTRY_HEADER_BYTES + payloadBytes);
}

/**
 * Largest payload one entry of a ring of `capacity` bytes may carry.
 *
 * Why half the capacity: an entry that does not fit before the end costs a WRAP
 * marker plus the entry. With entries of at most capacity/2, an empty ring can take
 * any entry wherever its position happens to be (either the room before the end or
 * the room after the start is at least half), so a producer that waits for the
 * consumer to catch up always makes progress.
 */
export function payloadBytesMax(capacity: number): number {
  return capacity / 2 - RING_ENTRY_HEADER_BYTES;
}

/** Entry kinds. Requests (router → worker) and completions (worker → router) share one numbering. */
export const EntryKind = {
  /** Skip to the start of the data area. Its payloadBytes field is 0. */
  WRAP: 0,

  // ---- requests (request ring) ----
  /** Append `records` (one or more whole RecordBatch v2) to a partition. */
  PRODUCE: 1,
  /** Read up to maxBytes of whole batches from offset, below the high watermark. */
  FETCH: 2,
  /** First offset whose record timestamp is at least the given one. */
  OFFSET_FOR_TIMESTAMP: 3,
  /**
   * A follower's append: whole batches fetched from its leader, stored with the
   * leader's offsets and epochs (ProduceReq layout, ACKS 1). Answered with
   * PRODUCED (or REQUEST_FAILED: OFFSET_MISMATCH, a bad batch); made durable by
   * the group commit like a produce.
   */
  FOLLOWER_APPEND: 4,

  // ---- completions (completion ring) ----
  /** A produce was written (page cache). acks=all callers still wait for DURABLE. */
  PRODUCED: 16,
  /** Fetch result: error code, high watermark, log start, and the batch bytes inline. */
  FETCHED: 17,
  /** Offset-for-timestamp result. */
  OFFSET: 18,
  /** A flush returned: the partition's durable offset (= high watermark) advanced. */
  DURABLE: 19,
  /** A request failed before producing a result: error code and message. */
  REQUEST_FAILED: 20,
  /** The partition went offline (a failed fdatasync): fail its pending acks=all. */
  PARTITION_FAILED: 21,
} as const;
export type EntryKind = (typeof EntryKind)[keyof typeof EntryKind];

/** Fields every request and every per-request completion starts with. */
export const Common = {
  /** u32: partition slot (index into the state table). */
  SLOT: 0,
  /** u32: request id, counting up per worker; completions come back in request order. */
  REQUEST_ID: 4,
} as const;

/** PRODUCE and FOLLOWER_APPEND request payload. */
export const ProduceReq = {
  SLOT: 0,
  REQUEST_ID: 4,
  /** i32: 0, 1 or -1 (all). The worker flushes sooner when acks=all requests wait. */
  ACKS: 8,
  /** u32: bytes of records that follow. */
  RECORDS_BYTES: 12,
  /** The record batches, byte for byte as received. */
  RECORDS: 16,
} as const;

/** FETCH request payload. */
export const FetchReq = {
  SLOT: 0,
  REQUEST_ID: 4,
  /** u32 */
  MAX_BYTES: 8,
  /** f64 */
  OFFSET: 16,
  /**
   * f64: read below this offset. -1: below the durable offset (one node's high
   * watermark). Otherwise min(this, log end): a replica fetch reads to the log
   * end; a leader's consumer fetch to the high watermark its router computed.
   */
  UPPER_BOUND: 24,
  BYTES: 32,
} as const;

/** OFFSET_FOR_TIMESTAMP request payload. */
export const OffsetForTimestampReq = {
  SLOT: 0,
  REQUEST_ID: 4,
  /** f64 */
  TIMESTAMP_MS: 8,
  BYTES: 16,
} as const;

/** PRODUCED completion payload. */
export const ProducedCompl = {
  SLOT: 0,
  REQUEST_ID: 4,
  /** f64 fields */
  BASE_OFFSET: 8,
  LAST_OFFSET: 16,
  LOG_APPEND_TIME_MS: 24,
  LOG_START_OFFSET: 32,
  BYTES: 40,
} as const;

/** FETCHED completion payload. */
export const FetchedCompl = {
  SLOT: 0,
  REQUEST_ID: 4,
  /** i32: 0 or a per-partition error (OFFSET_OUT_OF_RANGE, ...); no bytes then. */
  ERROR: 8,
  /** u32 */
  RECORDS_BYTES: 12,
  /** f64 */
  HIGH_WATERMARK: 16,
  LOG_START_OFFSET: 24,
  /** Batch bytes, read from the segment file straight into the ring. */
  RECORDS: 32,
} as const;

/** OFFSET completion payload. */
export const OffsetCompl = {
  SLOT: 0,
  REQUEST_ID: 4,
  /** f64: -1 when no record has such a timestamp. */
  OFFSET: 8,
  /** f64: the timestamp of the record at OFFSET (what ListOffsets answers); -1 with OFFSET -1. */
  TIMESTAMP_MS: 16,
  BYTES: 24,
} as const;

/** DURABLE completion payload. */
export const DurableCompl = {
  SLOT: 0,
  /** f64: offsets below this survive a crash; on a single node also the high watermark. */
  DURABLE_OFFSET: 8,
  BYTES: 16,
} as const;

/** REQUEST_FAILED and PARTITION_FAILED completion payload. */
export const FailedCompl = {
  SLOT: 0,
  /** u32; 0 for PARTITION_FAILED. */
  REQUEST_ID: 4,
  /** i32 wire error code */
  ERROR: 8,
  /** u32: UTF-8 bytes of the message that follows */
  MESSAGE_BYTES: 12,
  /** at most FAILED_MESSAGE_BYTES_MAX (worker_limits.ts) */
  MESSAGE: 16,
} as const;

// ---------------------------------------------------------------------------
// Partition state table
//
//   [header STATE_HEADER_BYTES][row 0][row 1]... one row per partition slot
//
//   Row = STATE_ROW_BYTES: word 0 (Int32) is a sequence number for a seqlock: the
//   owning worker makes it odd, writes the fields, makes it even again; a reader
//   retries while it is odd or changed under it, so a row is always read as one
//   consistent snapshot (log start <= high watermark <= log end). Fields are
//   Float64 (offsets stay below 2^53), at the Float64 indices below, relative to the
//   row start.

export const STATE_MAGIC = 0x534c_5354; // "SLST"
export const STATE_HEADER_BYTES = 64;
export const STATE_ROW_BYTES = 128;

/** Int32 word indices in the state table header. */
export const StateHeaderWord = {
  MAGIC: 0,
  ROWS: 1,
} as const;

/** Float64 indices within a row (index 0 holds the Int32 sequence word). */
export const StateField = {
  LOG_START_OFFSET: 1,
  LOG_END_OFFSET: 2,
  HIGH_WATERMARK: 3,
  DURABLE_OFFSET: 4,
  BYTES_IN: 5,
  MESSAGES_IN: 6,
  BYTES_OUT: 7,
  MESSAGES_OUT: 8,
  SIZE_BYTES: 9,
  SEGMENTS: 10,
  /** 1 while the partition is open and its storage healthy, else 0. */
  ONLINE: 11,
  /** 0, or the error that took the partition offline (KAFKA_STORAGE_ERROR). */
  ERROR_CODE: 12,
  /** Counts opens of this slot, so a reader can tell a reused slot from the old one. */
  GENERATION: 13,
} as const;

/** Float64 fields per row, including the sequence word's slot. */
export const STATE_ROW_F64 = STATE_ROW_BYTES / 8;

// ---------------------------------------------------------------------------
// Worker stats
//
//   [header WORKER_STATS_HEADER_BYTES][region of worker 0][region of worker 1]...
//
//   A region is WORKER_STATS_REGION_BYTES of BigInt64 counters (so they never wrap),
//   at the BigInt64 indices below relative to the region start, written only by
//   that worker with Atomics.add and read by the router with Atomics.load. Regions
//   are whole cache lines, so two workers never write the same line.

export const WORKER_STATS_MAGIC = 0x534c_5753; // "SLWS"
export const WORKER_STATS_HEADER_BYTES = 64;

/** Int32 word indices in the worker stats header. */
export const WorkerStatsHeaderWord = {
  MAGIC: 0,
  WORKERS: 1,
} as const;

/**
 * Upper bounds (µs, inclusive) of the fdatasync latency buckets: powers of two from
 * 16 µs (an fdatasync with nothing to write) to 2^23 µs (~8.4 s, a disk that has all
 * but stopped); one more bucket counts anything slower.
 */
export const FSYNC_BUCKET_BOUNDS_US: readonly number[] = Object.freeze(Array.from({ length: 20 }, (_, k) => 16 * 2 ** k));

/** BigInt64 indices within a worker's region. */
export const WorkerStatsField = {
  /** fdatasyncs timed. */
  FSYNC_COUNT: 0,
  /** Their total duration, nanoseconds. */
  FSYNC_SUM_NS: 1,
  /** FSYNC_BUCKET_BOUNDS_US.length + 1 counters: bucket i counts durations ≤ bound i (and above bound i-1); the last, the rest. */
  FSYNC_BUCKETS: 2,
} as const;

/** BigInt64 counters per region, rounded up to whole 64-byte cache lines. */
export const WORKER_STATS_REGION_BYTES = Math.ceil(((WorkerStatsField.FSYNC_BUCKETS + FSYNC_BUCKET_BOUNDS_US.length + 1) * 8) / 64) * 64;

// The layout's own relations, checked once at load (a broken one is a bug in this file).
assert(RING_HEADER_BYTES % RING_ALIGN === 0, "shared_layout: the data area must start aligned");
assert(RING_HEADER_BYTES >= (RingWord.CAPACITY + 1) * 4, "shared_layout: header words must fit in the header");
assert(RingWord.TAIL * 4 - RingWord.HEAD * 4 >= 64, "shared_layout: head and tail must sit on different cache lines");
assert(RingWord.MAGIC * 4 - RingWord.TAIL * 4 >= 64, "shared_layout: tail and constants must sit on different cache lines");
assert(ProduceReq.RECORDS % RING_ALIGN === 0, "shared_layout: records must start aligned");
assert(FetchedCompl.RECORDS % RING_ALIGN === 0, "shared_layout: fetched bytes must start aligned");
for (const at of [
  FetchReq.OFFSET,
  FetchReq.UPPER_BOUND,
  ProducedCompl.BASE_OFFSET,
  FetchedCompl.HIGH_WATERMARK,
  DurableCompl.DURABLE_OFFSET,
  OffsetForTimestampReq.TIMESTAMP_MS,
  OffsetCompl.OFFSET,
  OffsetCompl.TIMESTAMP_MS,
]) {
  assert(at % 8 === 0, "shared_layout: f64 fields must be 8-aligned", at);
}
assert(STATE_HEADER_BYTES % 8 === 0, "shared_layout: the state header keeps rows 8-aligned");
assert(STATE_ROW_BYTES % 8 === 0, "shared_layout: state rows must be 8-aligned");
assert(StateField.GENERATION < STATE_ROW_F64, "shared_layout: state fields must fit in a row");
assert(WORKER_STATS_HEADER_BYTES % 64 === 0, "shared_layout: the worker stats header is whole cache lines");
assert(WORKER_STATS_REGION_BYTES % 64 === 0, "shared_layout: worker stats regions must be whole cache lines");
assert(FSYNC_BUCKET_BOUNDS_US[FSYNC_BUCKET_BOUNDS_US.length - 1] >= 8_000_000, "shared_layout: fsync buckets must reach ~8 s");
