// The errors of the log's replication calls (a follower's append, truncateTo,
// a leader epoch change): a SluiceError with a Kafka code for the wire, and a
// `reason` the replica fetcher acts on (it truncates, refetches, or gives up).

import { ErrorCode, SluiceError } from "../../protocol/errors.ts";

export type ReplicaLogErrorReason =
  /** A follower append whose first batch does not start at the log end (Kafka's UnexpectedAppendOffset). */
  | "OFFSET_MISMATCH"
  /** Offsets inside a follower append that do not follow each other (Kafka's OffsetsOutOfOrder). */
  | "OFFSETS_OUT_OF_ORDER"
  /** A leader epoch older than the log's latest one (in a control call or a fetched batch). */
  | "EPOCH_REGRESSION"
  /** truncateTo() below the log start or with something that is not an offset. */
  | "TRUNCATE_OUT_OF_RANGE"
  /** A leader epoch outside [-1, 2^31 - 1]. */
  | "INVALID_EPOCH";

const CODES: Record<ReplicaLogErrorReason, number> = {
  OFFSET_MISMATCH: ErrorCode.OFFSET_OUT_OF_RANGE,
  OFFSETS_OUT_OF_ORDER: ErrorCode.CORRUPT_MESSAGE,
  EPOCH_REGRESSION: ErrorCode.INVALID_REQUEST,
  TRUNCATE_OUT_OF_RANGE: ErrorCode.OFFSET_OUT_OF_RANGE,
  INVALID_EPOCH: ErrorCode.INVALID_REQUEST,
};

export class ReplicaLogError extends SluiceError {
  readonly reason: ReplicaLogErrorReason;
  constructor(reason: ReplicaLogErrorReason, message: string) {
    super(CODES[reason], message);
    this.reason = reason;
    this.name = `ReplicaLogError(${reason})`;
  }
}
