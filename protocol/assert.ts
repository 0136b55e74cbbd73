// Runtime assertions for the invariants of storage and protocol code.
//
// An assertion states something only a bug can make false: an offset the log
// handed out itself, a length it computed, a relation between two limits. A
// broken one throws AssertionError and must not be turned into an answer: the
// worker's error funnels (workers/control.ts errorFields, PartitionLog's fail)
// let it through, so the thread dies loudly instead of serving from a state
// nobody reasoned about. Bad input from outside (a frame, a batch, a config
// value, a file damaged on disk) is never asserted: it gets its typed error
// (SluiceError, BatchError, LogError) and the caller stays consistent.
//
// Cheap on the hot path: one branch when the condition holds. The message is a
// constant string and `value` a primitive, so a passing assert formats and
// allocates nothing; the two are joined only when it fails. One condition per
// assert, so the message names the one that broke.

/** Code of every AssertionError (a string, as Node's ERR_ASSERTION; wire errors have numeric codes). */
export const ASSERTION_FAILED = "ASSERTION_FAILED";

/** A broken invariant: a bug, never bad input. */
export class AssertionError extends Error {
  readonly code = ASSERTION_FAILED;
  override readonly name = "AssertionError";
}

/**
 * Throws AssertionError(message) unless `condition` holds. `value`, if given,
 * is appended to the message on failure (the offending number or name).
 */
export function assert(condition: boolean, message: string, value?: number | bigint | string): asserts condition {
  if (!condition) fail(message, value);
}

/** True for an AssertionError: catch blocks that turn errors into answers rethrow these. */
export function isAssertionError(e: unknown): e is AssertionError {
  return e instanceof AssertionError;
}

/** For a catch block that turns errors into answers or skips them: a broken invariant goes on up. */
export function rethrowIfAssertion(e: unknown): void {
  if (e instanceof AssertionError) throw e;
}

// Out of line so that assert() stays small enough to inline at every call site.
function fail(message: string, value: number | bigint | string | undefined): never {
  throw new AssertionError(value === undefined ? message : `${message} (${String(value)})`);
}
