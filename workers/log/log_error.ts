// The error of a log that found damage it must not repair by itself: a batch
// that fails its checks inside data that was durable (below the recovery
// point, or in a sealed segment), or durable data that is missing. Nothing is
// cut; `segment`, `position` and `offset` say where to look. Found while
// opening, the partition stays offline; found by a read, that read fails (see
// log_reader.ts, at its top).

import { ErrorCode, SluiceError } from "../../protocol/errors.ts";

export class LogError extends SluiceError {
  /** File name of the segment's log, e.g. 00000000000000001000.log. */
  readonly segment: string;
  /** Byte position of the damaged batch in that file. */
  readonly position: number;
  /** Offset the damaged batch should start at (everything below it is intact). */
  readonly offset: number;
  readonly reason: string;

  constructor(opts: {
    segment: string;
    position: number;
    offset: number;
    reason: string;
    /** What the log does about it, for the message (default: the partition stays offline). */
    consequence?: string;
    cause?: unknown;
  }) {
    super(
      ErrorCode.CORRUPT_MESSAGE,
      `log damaged in ${opts.segment} at position ${opts.position} (offset ${opts.offset}): ${opts.reason}; ${opts.consequence ?? "the partition stays offline"}`,
      { cause: opts.cause },
    );
    this.segment = opts.segment;
    this.position = opts.position;
    this.offset = opts.offset;
    this.reason = opts.reason;
  }
}
