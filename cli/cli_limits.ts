// The command's fixed limits and timings, in one place (the broker's are in
// protocol/limits.ts and engine/engine_limits.ts, the client library's in
// client/client_limits.ts), with their relations asserted at load.

import { FETCH_WAIT_MS_MAX } from "../protocol/limits.ts";

function assert(condition: boolean, why: string): void {
  if (!condition) throw new Error(`cli limits: ${why}`);
}

/** A command line tool should say soon that the broker is not there (the library default is 10 s). */
export const CLI_CONNECT_TIMEOUT_MS = 3_000;

/** How long to wait before writing again to a full non-blocking stdout pipe. */
export const STDOUT_FULL_RETRY_MS = 5;

/** `sluice consume`: longest one poll waits for records, so --timeout-ms and Ctrl-C are noticed soon. */
export const POLL_WAIT_MS_MAX = 500;

/** `sluice consume --group`: how often consumed offsets are committed. */
export const AUTO_COMMIT_INTERVAL_MS = 1_000;

/** `sluice produce`: sends in flight before reading waits for one to finish (the producer's buffer bounds memory too). */
export const SENDS_INFLIGHT_MAX = 10_000;

/** `sluice produce`: how often the progress line is redrawn. */
export const PROGRESS_INTERVAL_MS = 250;

// A poll is a fetch that waits: the broker caps the wait, and a longer one would be cut anyway.
assert(POLL_WAIT_MS_MAX <= FETCH_WAIT_MS_MAX, "a poll may not wait longer than a fetch may");
