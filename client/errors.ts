// Errors of conditions only the client sees. Each is a SluiceError, so every
// failure a caller gets from the client has a numeric `code` to branch on:
// a wire code where one fits (a lost connection is NETWORK_EXCEPTION, a
// request nobody answered is REQUEST_TIMED_OUT; both retriable), otherwise a
// client code from ClientErrorCode below.

import { ErrorCode, SluiceError } from "../protocol/errors.ts";

/**
 * Codes of client-side conditions with no wire equivalent. Negative and below
 * Kafka's -1 (UNKNOWN_SERVER_ERROR), so they never collide with a wire code.
 */
export const ClientErrorCode = {
  /** send() waited `sendTimeoutMs` for room in the producer's buffer (bufferBytesMax) and gave up. */
  BUFFER_EXHAUSTED: -1001,
  /** The producer, consumer or admin was closed. */
  CLIENT_CLOSED: -1002,
  /** An argument is outside what the API accepts (a bad partition, an option out of range). */
  INVALID_ARGUMENT: -1003,
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

const CLIENT_CODE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(ClientErrorCode).map(([name, code]) => [code, name]),
);

/** The name of a wire or client code, for messages ("BUFFER_EXHAUSTED", "OFFSET_OUT_OF_RANGE"). */
export function errorCodeName(code: number): string {
  const client = CLIENT_CODE_NAMES[code];
  if (client !== undefined) return client;
  const wire = Object.entries(ErrorCode).find(([, c]) => c === code)?.[0];
  return wire ?? `ERROR_${code}`;
}

/** The connection to the broker closed, failed to open, or was lost with requests in flight. Retriable. */
export class ConnectionError extends SluiceError {
  /** "connect": no connection could be opened (the request was never sent); "request": lost while in use. */
  readonly phase: "connect" | "request";
  constructor(message: string, options?: { cause?: unknown; phase?: "connect" | "request" }) {
    super(ErrorCode.NETWORK_EXCEPTION, message, options);
    this.name = "ConnectionError";
    this.phase = options?.phase ?? "request";
  }
}

/** No response arrived within the request's timeout (the connection is then closed). Retriable. */
export class RequestTimeoutError extends SluiceError {
  constructor(message: string) {
    super(ErrorCode.REQUEST_TIMED_OUT, message);
    this.name = "RequestTimeoutError";
  }
}

/** send() could not get buffer space within sendTimeoutMs: the broker is not keeping up (or is gone). */
export class BufferExhaustedError extends SluiceError {
  constructor(message: string) {
    super(ClientErrorCode.BUFFER_EXHAUSTED, message);
    this.name = "BufferExhaustedError";
  }
}

export class ClientClosedError extends SluiceError {
  constructor(what: string) {
    super(ClientErrorCode.CLIENT_CLOSED, `the ${what} is closed`);
    this.name = "ClientClosedError";
  }
}

export class InvalidArgumentError extends SluiceError {
  constructor(message: string) {
    super(ClientErrorCode.INVALID_ARGUMENT, message);
    this.name = "InvalidArgumentError";
  }
}

/** A consumer's position is outside the partition's log and autoOffsetReset is "none". */
export class OffsetOutOfRangeError extends SluiceError {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  constructor(topic: string, partition: number, offset: bigint, range: { logStartOffset: bigint; highWatermark: bigint } | undefined) {
    const where = range === undefined ? "" : ` (log holds ${range.logStartOffset}..${range.highWatermark})`;
    super(ErrorCode.OFFSET_OUT_OF_RANGE, `offset ${offset} of ${topic}/${partition} is out of range${where}; autoOffsetReset is "none": seek to continue`);
    this.name = "OffsetOutOfRangeError";
    this.topic = topic;
    this.partition = partition;
    this.offset = offset;
  }
}

/** A wire error code as a SluiceError whose message says where it happened. */
export function wireError(code: number, where: string, message?: string): SluiceError {
  return new SluiceError(code, `${where}: ${message ?? errorCodeName(code)}`);
}
