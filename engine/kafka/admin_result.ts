// The outcome of one admin operation on one topic as Kafka's (errorCode,
// errorMessage) pair: a SluiceError's code and message (the engine throws
// Kafka's codes: TOPIC_ALREADY_EXISTS, INVALID_PARTITIONS, INVALID_CONFIG, …),
// anything else UNKNOWN_SERVER_ERROR. Also the duplicate-name rule every admin
// api shares: a name twice in one request is refused for each (as Kafka does).

import { ErrorCode, SluiceError } from "../../protocol/errors.ts";

export interface AdminResult {
  errorCode: number;
  errorMessage: string | null;
}

export const ADMIN_OK: AdminResult = { errorCode: ErrorCode.NONE, errorMessage: null };

export async function adminResult(op: () => Promise<void>, log: (line: string) => void): Promise<AdminResult> {
  try {
    await op();
    return ADMIN_OK;
  } catch (e) {
    if (e instanceof SluiceError) return { errorCode: e.code, errorMessage: e.message };
    log(`sluice: kafka admin operation failed: ${(e as Error)?.stack ?? e}`);
    return { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: (e as Error)?.message ?? String(e) };
  }
}

export function refused(errorCode: number, errorMessage: string): AdminResult {
  return { errorCode, errorMessage };
}

/** Names that appear more than once. */
export function duplicates(names: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) dup.add(n);
    seen.add(n);
  }
  return dup;
}

export const DUPLICATE = (name: string): AdminResult => refused(ErrorCode.INVALID_REQUEST, `topic '${name}' appears more than once in the request`);
