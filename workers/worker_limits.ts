// Limits of the partition worker (its drain loop, rings and state table), with
// the reason for each. The broker-wide limits are in protocol/limits.ts and the
// log's in log/log_limits.ts; these live here because only workers/ uses them.
// Relations are asserted at load time.
//
// Not here: the layout of shared memory (header sizes, field offsets, magic
// numbers, alignment), which is a format and stays in shared_layout.ts.

import { assert } from "../protocol/assert.ts";
import { COMPLETION_RING_BYTES, RING_BYTES } from "../protocol/limits.ts";
import { FailedCompl, RING_ALIGN, RING_ENTRY_HEADER_BYTES } from "./shared_layout.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

// ---------------------------------------------------------------- rings

/** Smallest ring: room for a few entries; anything less is a configuration mistake. */
export const RING_CAPACITY_MIN = 64;

/** Largest ring: positions are u32 counting up modulo 2^32, and a capacity must divide that with room to tell full from empty. */
export const RING_CAPACITY_MAX = 1024 * MiB;

/**
 * A producer past this index wraps back to the start as soon as the consumer is
 * within half of it (and the room it promised allows: RingProducer.reserve).
 * Why: a ring's pages become resident once written and stay so; a ring that
 * always ran its whole lap kept every ring of the broker resident (48 MiB with
 * two workers) under a stream of small requests whose backlog is a few KiB.
 * Wrapping early keeps the touched part near this size unless a real backlog
 * needs more, and costs nothing the normal wrap does not (one marker per lap).
 */
export const RING_REWIND_AT_BYTES = 1 * MiB;

/** Error messages crossing the completion ring are cut to this many UTF-8 bytes (they are for humans). */
export const FAILED_MESSAGE_BYTES_MAX = 512;

// ---------------------------------------------------------------- drain passes

/**
 * Request bytes one drain pass takes before it publishes its completions and lets
 * the flush policy run. Bounds how long an acks=1 ack can sit unpublished behind a
 * burst, and how much one pass holds of the request ring.
 */
export const DRAIN_PASS_BYTES_MAX = 4 * MiB;

/** Requests one drain pass takes (the same bound, for floods of tiny requests); also the size of its pending-produce table. */
export const DRAIN_PASS_REQUESTS_MAX = 4096;

/**
 * Completion bytes held back unpublished (acks=all PRODUCED entries waiting for
 * their DURABLE), as a fraction of the completion ring, past which a pass
 * publishes them anyway: the router cannot free room it has not been shown.
 */
export const DEFERRED_COMPLETIONS_RING_FRACTION = 1 / 4;

/** How often each partition's retention is applied. */
export const RETENTION_CHECK_INTERVAL_MS = 30_000;

// ---------------------------------------------------------------- the worker loop

/** Longest idle park of the worker loop: bounds how stale a missed wake-up could leave it. */
export const IDLE_WAIT_MS_MAX = 1_000;

/** One park of the worker loop while the completion ring is full; the loop re-checks everything after it. */
export const COMPLETION_ROOM_WAIT_MS = 20;

// ---------------------------------------------------------------- partition state table

/**
 * How long a reader keeps retrying a row that stays mid-write. A write is a dozen
 * stores, but the writer's thread can be preempted between its two sequence
 * stores (2 shared cores), so the bound is in time, generous against a scheduler
 * time slice; past it the writer died mid-write: a broken invariant.
 */
export const SEQLOCK_READ_WAIT_MS_MAX = 2_000;

/** Retries between two looks at the clock while a row is mid-write. */
export const SEQLOCK_SPINS_PER_CLOCK_CHECK = 1_000;

// The configured rings must be rings createRing() accepts.
assert(RING_BYTES >= RING_CAPACITY_MIN, "worker limits: the request ring is at least the smallest ring");
assert(RING_BYTES <= RING_CAPACITY_MAX, "worker limits: the request ring is at most the largest ring");
assert(COMPLETION_RING_BYTES >= RING_CAPACITY_MIN, "worker limits: the completion ring is at least the smallest ring");
assert(COMPLETION_RING_BYTES <= RING_CAPACITY_MAX, "worker limits: the completion ring is at most the largest ring");
// RingProducer ignores an early-wrap point at half its capacity or more: past that the
// default rings would silently keep every page resident again.
assert(RING_REWIND_AT_BYTES < RING_BYTES / 2, "worker limits: the early wrap applies to the request ring");
assert(RING_REWIND_AT_BYTES < COMPLETION_RING_BYTES / 2, "worker limits: the early wrap applies to the completion ring");
// A pass keeps the request slots it read until it ends (the logs write staged batches
// from them), so its budget is at most half the request ring: the router keeps room to fill.
assert(DRAIN_PASS_BYTES_MAX <= RING_BYTES / 2, "worker limits: a drain pass may hold at most half the request ring");
assert(DRAIN_PASS_REQUESTS_MAX >= 1, "worker limits: a drain pass takes at least one request");
// Held-back completions must leave the ring room for the answers that would release them.
assert(DEFERRED_COMPLETIONS_RING_FRACTION > 0, "worker limits: held-back completions are bounded by a share of the completion ring");
assert(DEFERRED_COMPLETIONS_RING_FRACTION <= 1 / 2, "worker limits: held-back completions use at most half the completion ring");
// A pass reserves room for every produce it staged to fail (stageProduce); the answers of a
// whole pass of tiny produces that all fail fit in half the completion ring, so the request
// budget, not the completion ring, ends such a pass.
const FAILED_ENTRY_BYTES_MAX = RING_ENTRY_HEADER_BYTES + FailedCompl.MESSAGE + FAILED_MESSAGE_BYTES_MAX + RING_ALIGN;
assert(DRAIN_PASS_REQUESTS_MAX * FAILED_ENTRY_BYTES_MAX <= COMPLETION_RING_BYTES / 2, "worker limits: a pass's failure answers fit in half the completion ring");
// The full-ring park is one step of the idle loop, never longer than its longest park.
assert(COMPLETION_ROOM_WAIT_MS <= IDLE_WAIT_MS_MAX, "worker limits: a full-ring park is no longer than an idle park");
// A reader looks at the clock at all, so the wait bound can end its retries.
assert(SEQLOCK_SPINS_PER_CLOCK_CHECK >= 1, "worker limits: a mid-write reader looks at the clock");
