// The one error a Kafka decoder throws on bad input. It is a SluiceError with
// the wire code INVALID_REQUEST (what Kafka answers a malformed request with),
// plus a `reason` saying which check failed and the `field` it failed on, so
// the listener can branch on `reason` (close the connection, or answer an
// error) and a log line names the field. Bad input never throws anything else.

import { ErrorCode, SluiceError } from "../errors.ts";

export const KafkaDecodeReason = {
  /** The field runs past the end of the frame. */
  TRUNCATED: "truncated",
  /** A length is negative where it may not be (or -1 where the field is not nullable). */
  LENGTH_INVALID: "length_invalid",
  /** A length or count is over its named limit (protocol/limits.ts). */
  OVER_LIMIT: "over_limit",
  /** A varint is longer than its type allows. */
  VARINT_TOO_LONG: "varint_too_long",
  /** The request's api key or version has no codec. */
  UNSUPPORTED_VERSION: "unsupported_version",
  /** Bytes were left over after the message. */
  TRAILING_BYTES: "trailing_bytes",
  /** A value is outside what its field allows (e.g. a 64-bit value beyond 2^53 where a number is required). */
  INVALID_VALUE: "invalid_value",
} as const;
export type KafkaDecodeReason = (typeof KafkaDecodeReason)[keyof typeof KafkaDecodeReason];

export class KafkaDecodeError extends SluiceError {
  readonly reason: KafkaDecodeReason;
  readonly field: string;
  constructor(reason: KafkaDecodeReason, field: string, detail: string, options?: { cause?: unknown }) {
    const code = reason === KafkaDecodeReason.UNSUPPORTED_VERSION ? ErrorCode.UNSUPPORTED_VERSION : ErrorCode.INVALID_REQUEST;
    super(code, `${field}: ${detail}`, options);
    this.reason = reason;
    this.field = field;
    this.name = `KafkaDecodeError(${reason})`;
  }
}
