// Limits of the segment log and the worker journal, with the reason for each.
// They belong with the broker-wide limits in protocol/limits.ts in spirit; they
// live here because nothing outside workers/ depends on them (the worker's own
// are in ../worker_limits.ts). Relations are asserted at load time; those
// between a file format and these limits are asserted beside the format
// (worker_journal.ts), which stays with its file: header layouts and magic
// numbers are formats, not limits.

import { assert } from "../../protocol/assert.ts";
import { BATCH_BYTES_MAX, FRAME_BYTES_MAX } from "../../protocol/limits.ts";
import { BATCH_HEADER_BYTES } from "../../protocol/record_batch.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * Largest `segment.bytes`. Positions inside a segment are stored as u32 in the
 * sparse index, and Kafka's setting is an int: 2^31 - 1 keeps both true even
 * when one append (at most a frame) overshoots the setting.
 */
export const SEGMENT_BYTES_MAX = 2 ** 31 - 1;

/** Smallest `segment.bytes`: small enough for tests, large enough to hold a batch header. */
export const SEGMENT_BYTES_MIN = 1 * KiB;

/**
 * Largest spread of offsets inside one segment. Relative offsets are u32 in the
 * indexes; a segment is rolled before an append would pass this.
 */
export const SEGMENT_OFFSET_SPAN_MAX = 2 ** 31 - 1;

/** Offsets are plain numbers inside the broker; the log refuses to pass this. */
export const LOG_OFFSET_MAX = Number.MAX_SAFE_INTEGER;

/**
 * Bytes of sealed-segment indexes one partition keeps loaded. Sealed segments
 * load their index on first use; past this budget the least recently used
 * sealed index is dropped (it is reloaded from its file when needed again).
 */
export const INDEX_CACHE_BYTES_MAX = 16 * MiB;

/**
 * Bytes read at once when walking batch headers from an index entry. One
 * default index interval (4 KiB) plus a header fits, so a lookup is one pread.
 */
export const HEADER_SCAN_WINDOW_BYTES = 8 * KiB;

/**
 * Descriptors of sealed segments one partition keeps open. The active segment
 * is always open; a sealed one is opened when a read needs it and closed again
 * when it is the least recently used past this many. Without the bound a
 * long-lived partition holds one descriptor per segment (thousands), and a
 * broker with many partitions runs out of them. Consumers read near the end
 * (the last few segments) or walk forward one segment at a time, so a small
 * number covers them; a random read elsewhere costs one open().
 */
export const SEALED_SEGMENT_FDS_MAX = 16;

/**
 * Largest batch the recovery scan accepts in a segment: anything that ever came
 * in one frame. Not BATCH_BYTES_MAX (what an append accepts now): that limit may
 * be lowered, and a batch appended under a higher one must still open after a
 * restart instead of being taken for damage. Also how far the scan buffer grows.
 */
export const STORED_BATCH_BYTES_MAX = FRAME_BYTES_MAX;

/** Bytes read at once by the validating scan in recovery and index rebuilds. */
export const RECOVERY_READ_BYTES = 1 * MiB;

/** Largest `index.interval.bytes` (Kafka's own cap is an int; larger intervals make every lookup scan more). */
export const INDEX_INTERVAL_BYTES_MAX = 16 * MiB;

/** Largest `flush.bytes`: unsynced bytes a partition may hold before it must fdatasync. */
export const FLUSH_BYTES_MAX = 1024 * MiB;

/** Largest `flush.interval.ms`: a durable ack never waits longer than this for its fdatasync. */
export const FLUSH_INTERVAL_MS_MAX = 60_000;

/**
 * Buffers one vectored write (pwritev) takes: Linux's IOV_MAX. A writev with more
 * fails with EINVAL (Bun splits it into several syscalls instead, which would hide
 * where a short write stopped), so the log writes what it staged once it holds this many.
 */
export const WRITEV_BUFFERS_MAX = 1024;

/**
 * Bytes one write syscall carries when the log writes what it staged: small
 * batches are gathered into vectored writes up to this, larger ones split.
 * Measured on the reference VM (ext4, Linux 6.18): appending in 64 KiB writes
 * cost ~90 ms of CPU per 315 MB, 16 KiB writes ~145 ms, and writes of 128 KiB
 * and more were bimodal, at times 2-8x slower (the kernel's page-cache copy
 * into large folios); in bench/pool_bench.ts 1 MiB writes lost ~25% in such runs.
 */
export const WRITE_CHUNK_BYTES_MAX = 64 * KiB;

// One append (at most a frame) past a full segment must still fit u32 positions.
assert(SEGMENT_BYTES_MAX + FRAME_BYTES_MAX < 2 ** 32, "log limits: segment positions must fit in u32");
assert(SEGMENT_BYTES_MIN < SEGMENT_BYTES_MAX, "log limits: segment bounds");
// A batch appended now must pass the recovery scan later (its buffer grows to one stored batch).
assert(BATCH_BYTES_MAX <= STORED_BATCH_BYTES_MAX, "log limits: an appended batch is a storable batch");
assert(HEADER_SCAN_WINDOW_BYTES >= 4 * KiB + BATCH_HEADER_BYTES, "log limits: the scan window holds a default interval plus a header");
assert(RECOVERY_READ_BYTES >= HEADER_SCAN_WINDOW_BYTES, "log limits: recovery reads at least a scan window");
// A read touches one segment at a time: one open descriptor is enough for progress.
assert(SEALED_SEGMENT_FDS_MAX >= 1, "log limits: at least one sealed segment can be open");

// ---------------------------------------------------------------- worker journal (worker_journal.ts)

/** Longest partition directory name a journal record holds (relative to the data dir). */
export const JOURNAL_DIR_BYTES_MAX = 4 * KiB;

/**
 * Size of a worker's journal file. A checkpoint (an fdatasync of every
 * journaled segment) comes once per this many journaled bytes; larger means
 * rarer, longer checkpoints and a longer replay after a power loss.
 */
export const JOURNAL_FILE_BYTES = 64 * MiB;

/** Journaled bytes of one round at most (the round's buffer, and the largest record a replay accepts). */
export const JOURNAL_ROUND_BYTES_MAX = 1 * MiB;

/**
 * Unsynced bytes of one partition past which its round syncs its segment
 * directly: a large round is cheap per byte on its own, and the journal would
 * only write it twice.
 */
export const JOURNAL_PARTITION_ROUND_BYTES_MAX = 128 * KiB;

/**
 * Journaled bytes a partition's segment may hold unsynced; past them its next
 * flush syncs the segment itself. Why: those bytes must reach the segment's
 * disk blocks some day, and a checkpoint that found a whole journal's worth
 * (64 MiB) dirty stalled its worker for 80-150 ms (e2e at 100k msgs/s,
 * docs/perf-log.md). Bounded per partition, the writing is spread over time in
 * small syncs, and a checkpoint finds at most this much per partition.
 */
export const JOURNAL_PARTITION_UNSYNCED_BYTES_MAX = 1 * MiB;

/** Zeros written at once while preallocating a journal file. */
export const JOURNAL_PREALLOCATE_CHUNK_BYTES = 1 * MiB;

// A partition joins a round with at most JOURNAL_PARTITION_ROUND_BYTES_MAX, so a round
// carries several partitions' tails: that is what one fdatasync for all of them buys.
assert(JOURNAL_PARTITION_ROUND_BYTES_MAX * 4 <= JOURNAL_ROUND_BYTES_MAX, "log limits: a journal round holds several partitions' tails");
// A partition may go through the journal at least once before its segment must be synced.
assert(JOURNAL_PARTITION_ROUND_BYTES_MAX <= JOURNAL_PARTITION_UNSYNCED_BYTES_MAX, "log limits: a partition journals at least one round before it syncs");
// The per-partition bound is what keeps a checkpoint short: it must be far below what a
// whole journal holds, or a checkpoint could again find a journal's worth to sync.
assert(JOURNAL_PARTITION_UNSYNCED_BYTES_MAX * 16 <= JOURNAL_FILE_BYTES, "log limits: a partition's unsynced journaled bytes are a small part of the journal");
// Checkpoints (a sync of every journaled segment) are rare next to rounds.
assert(JOURNAL_ROUND_BYTES_MAX * 16 <= JOURNAL_FILE_BYTES, "log limits: a journal holds many rounds between checkpoints");

/**
 * After a write the disk refused for lack of space (ENOSPC, EDQUOT), appends to
 * that partition are refused at once for this long, without touching the disk.
 * Each attempt writes what fits and cuts it off again, so retrying on every
 * request would keep a full disk busy for nothing; a tenth of a second is below
 * a producer's usual retry backoff (100 ms), so writing resumes promptly once
 * space is freed.
 */
export const DISK_FULL_RETRY_AFTER_MS = 100;

// ---------------------------------------------------------------- idempotent producers (producer_state.ts)

/** Batches remembered per producer and partition: one number for the broker and the native producer (protocol/limits.ts). */
export { PRODUCER_BATCHES_CACHED } from "../../protocol/limits.ts";

/**
 * Producers whose state one partition keeps. Past it a new producer evicts the
 * least recently appended one (Kafka expires them after
 * producer.id.expiration.ms instead); a retry of an evicted producer's batch
 * is appended again (producer_state.ts). About 300 bytes each in memory and
 * 131 in the snapshot: ~300 KiB and ~130 KiB per partition at the bound.
 */
export const PRODUCERS_PER_PARTITION_MAX = 1024;

/**
 * Without a usable producer-state snapshot (none yet, as after an upgrade;
 * damaged; or past the log end after a power loss) the state is rebuilt from
 * the batch headers of the partition's newest segments holding at least this
 * many bytes, not of the whole log: a partition of hundreds of GiB would
 * otherwise be read whole at start. A producer that wrote nothing in them is
 * forgotten (as if evicted: producer_state.ts), which for an active producer
 * means nothing: its last five batches are in them.
 */
export const PRODUCER_STATE_REBUILD_BYTES = 256 * MiB;
