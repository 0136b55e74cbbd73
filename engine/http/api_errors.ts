// Errors of the console API as HTTP answers: a status, the wire error's name
// (Kafka's, from protocol/errors.ts) and a message that names what is wrong.
//
//   { "error": { "status": 400, "code": "INVALID_CONFIG", "message": "retention.ms: ..." } }
//
// Thrown as ApiError inside a route; a SluiceError from the engine or the
// group coordinator is mapped by its code (callers branch on `code`, never on
// the message).

import { ErrorCode, errorInfo, SluiceError } from "../../protocol/errors.ts";

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** 400 naming the bad input. */
export function badRequest(message: string, code = "INVALID_REQUEST"): ApiError {
  return new ApiError(400, code, message);
}

/** The HTTP status of a wire error code. */
export function statusOfErrorCode(code: number): number {
  switch (code) {
    case ErrorCode.INVALID_TOPIC_EXCEPTION:
    case ErrorCode.INVALID_CONFIG:
    case ErrorCode.INVALID_PARTITIONS:
    case ErrorCode.INVALID_REQUEST:
    case ErrorCode.INVALID_GROUP_ID:
    case ErrorCode.INVALID_TIMESTAMP:
    case ErrorCode.INVALID_RECORD:
    case ErrorCode.CORRUPT_MESSAGE:
    case ErrorCode.MESSAGE_TOO_LARGE:
    case ErrorCode.RECORD_LIST_TOO_LARGE:
    case ErrorCode.OFFSET_OUT_OF_RANGE:
    case ErrorCode.POLICY_VIOLATION:
      return 400;
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode.GROUP_ID_NOT_FOUND:
      return 404;
    case ErrorCode.TOPIC_ALREADY_EXISTS:
    case ErrorCode.NON_EMPTY_GROUP:
      return 409;
    case ErrorCode.THROTTLING_QUOTA_EXCEEDED:
      return 429;
    case ErrorCode.REQUEST_TIMED_OUT:
      return 504;
    default:
      return errorInfo(code).retriable ? 503 : 500;
  }
}

/** An ApiError for a wire error code (with the engine's message when it gave one). */
export function fromErrorCode(code: number, message?: string): ApiError {
  const info = errorInfo(code);
  return new ApiError(statusOfErrorCode(code), info.name, message ?? info.message);
}

/** Any thrown value as an ApiError (unknown errors are 500 with their message). */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof SluiceError) return fromErrorCode(e.code, e.message);
  return new ApiError(500, "UNKNOWN_SERVER_ERROR", (e as Error)?.message ?? String(e));
}

export function errorResponse(e: ApiError): Response {
  const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" };
  if (e.status === 429 || e.status === 503) headers["retry-after"] = "1";
  return new Response(JSON.stringify({ error: { status: e.status, code: e.code, message: e.message } }) + "\n", { status: e.status, headers });
}
