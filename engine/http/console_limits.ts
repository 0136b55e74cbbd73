// Limits of the web console's HTTP API (/api/v1/). Every request does bounded
// work on the router thread: these bound what one request may read, return or
// keep open, and what the console keeps in memory for its charts.

import { FETCH_PARTITION_BYTES_MAX, TOPIC_NAME_LENGTH_MAX } from "../../protocol/limits.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * Server-sent event streams open at once (`GET /api/v1/events`). One more is
 * answered 503 with Retry-After: a page that leaks streams, or a script that
 * opens many, cannot make the broker hold an unbounded set of connections.
 */
export const EVENT_STREAMS_MAX = 32;

/** How often the event stream sends the live figures (the bound: at most once a second). */
export const EVENT_INTERVAL_MS = 1000;

/**
 * Ticks in a row a stream may skip because its client reads too slowly (its
 * queue is full) before it is closed: a stuck client does not keep a slot.
 */
export const EVENT_STREAM_STALLED_TICKS_MAX = 30;

/** Samples kept of produce/consume throughput and of each group's lag: 10 minutes at one a second. */
export const HISTORY_SAMPLES_MAX = 600;

/**
 * Groups described every second for the overview and their lag history (the
 * first ones by id); the overview gives the total count, and a group past
 * this bound shows its lag on its own page, without a history.
 */
export const GROUPS_SAMPLED_MAX = 100;

/** Topics one overview (and each event) lists at most (by name); the total count is always given. */
export const OVERVIEW_TOPICS_MAX = 500;

/** Configs one create or config change may carry (topic configs have a dozen names). */
export const CONFIG_ENTRIES_MAX = 64;

/** Bytes one message-browser request reads from a partition at most (per read). */
export const BROWSE_READ_BYTES_MAX = 1 * MiB;
/** The default read size of a browse request. */
export const BROWSE_READ_BYTES_DEFAULT = 256 * KiB;
/** Reads one browse request makes at most while a filter finds too few records (each ≤ maxBytes). */
export const BROWSE_READS_MAX = 8;
/** Records one browse page returns at most, and by default. */
export const BROWSE_RECORDS_MAX = 500;
export const BROWSE_RECORDS_DEFAULT = 50;
/** Bytes of a key, value or header value shown per record; longer ones are cut (and marked). */
export const RECORD_FIELD_PREVIEW_BYTES_MAX = 16 * KiB;
/**
 * Characters of keys, values and headers one browse page shows at most; the
 * page ends early past it (at least one record is always shown). Hex triples
 * a binary value's size, so without it 8 reads of 1 MiB could make a 24 MiB answer.
 */
export const BROWSE_PAGE_TEXT_CHARS_MAX = 2 * MiB;
/** Headers shown per record at most. */
export const RECORD_HEADERS_SHOWN_MAX = 64;
/** A browse read waits at most this long for the worker (it never long-polls). */
export const BROWSE_TIMEOUT_MS = 10_000;

/** A request body (JSON) of the console API at most: a produced message and its headers fit. */
export const REQUEST_BODY_BYTES_MAX = 1 * MiB;
/** Any one query parameter's value at most (a filter, an offset, a timestamp). */
export const QUERY_VALUE_LENGTH_MAX = 256;
/** The whole request URL at most. */
export const URL_LENGTH_MAX = 2 * KiB + TOPIC_NAME_LENGTH_MAX;
/** Headers one produced message may carry. */
export const PRODUCE_HEADERS_MAX = 64;
/** A produce from the console waits at most this long for its acknowledgement. */
export const PRODUCE_TIMEOUT_MS = 10_000;

if (BROWSE_READ_BYTES_MAX > FETCH_PARTITION_BYTES_MAX) {
  throw new Error("console limits: a browse read must fit one partition's fetch bound");
}
if (BROWSE_READ_BYTES_DEFAULT > BROWSE_READ_BYTES_MAX || BROWSE_RECORDS_DEFAULT > BROWSE_RECORDS_MAX) {
  throw new Error("console limits: a default must be within its maximum");
}

/**
 * Message-browser and produce requests of the console running at once; one
 * more is answered 429. Each holds at most one partition read (or one batch)
 * in a worker's ring, so the console never queues more than this many reads
 * in front of the clients' own.
 */
export const DATA_REQUESTS_IN_FLIGHT_MAX = 8;
