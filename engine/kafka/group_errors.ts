// The Kafka error code a failed group operation answers with: a SluiceError's
// own code (the coordinator throws Kafka's codes: UNKNOWN_MEMBER_ID,
// ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS, …); anything else is a bug of
// ours, logged and answered UNKNOWN_SERVER_ERROR.

import { ErrorCode, SluiceError } from "../../protocol/errors.ts";

export function groupErrorCode(e: unknown, log: (line: string) => void, api: string): number {
  if (e instanceof SluiceError) return e.code;
  log(`sluice: kafka ${api} failed: ${(e as Error)?.stack ?? e}`);
  return ErrorCode.UNKNOWN_SERVER_ERROR;
}
