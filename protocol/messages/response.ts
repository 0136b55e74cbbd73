// The envelope every response body starts with (docs/PROTOCOL.md):
//
//   ResponseBody = ErrorCode:i16 ( Body            ; when ErrorCode = 0 (NONE)
//                                | Message:String ) ; otherwise, and nothing after it
//
// Request-level errors (unknown api, malformed body) use the error form; per-
// partition errors live inside a successful body.

import { Reader, Writer } from "../codec.ts";
import { ERROR_MESSAGE_CHARS_MAX, STRING_FIELD_BYTES_MAX } from "../limits.ts";
import { ErrorCode, SluiceError, errorInfo } from "../errors.ts";
import { utf8Length } from "../utf8.ts";

function clip(message: string): string {
  let m = message.length > ERROR_MESSAGE_CHARS_MAX ? `${message.slice(0, ERROR_MESSAGE_CHARS_MAX)}…` : message;
  // 4096 UTF-16 units are at most 12 KiB of UTF-8, below the String limit; keep the check in case that changes.
  while (utf8Length(m) > STRING_FIELD_BYTES_MAX) m = m.slice(0, Math.floor(m.length / 2));
  return m;
}

/** Writes an error body: ErrorCode then Message (the code's standard message when none is given). */
export function writeErrorBody(w: Writer, code: number, message?: string): void {
  if (code === ErrorCode.NONE) throw new RangeError("an error body needs a non-zero error code");
  w.writeI16(code).writeString(clip(message ?? errorInfo(code).message));
}

export function encodeErrorBody(code: number, message?: string): Uint8Array {
  const w = new Writer({ initialBytes: 64 });
  writeErrorBody(w, code, message);
  return w.finish().slice();
}

/** Writes ErrorCode NONE, to be followed by the body. */
export function writeOkPrefix(w: Writer): void {
  w.writeI16(ErrorCode.NONE);
}

/**
 * Reads the envelope's error code. When it is not NONE, reads the message and
 * throws SluiceError(code, message): the request failed as a whole. Otherwise
 * leaves the reader at the start of the body.
 */
export function readResponseEnvelope(r: Reader): void {
  const code = r.readI16("response error code");
  if (code === ErrorCode.NONE) return;
  const message = r.readString("response error message");
  throw new SluiceError(code, message ?? errorInfo(code).message);
}

/** The envelope without throwing: the error code and message, or the body as a view. */
export function decodeResponseEnvelope(
  body: Uint8Array,
): { errorCode: 0; body: Uint8Array } | { errorCode: number; message: string } {
  const r = new Reader(body);
  const code = r.readI16("response error code");
  if (code === ErrorCode.NONE) return { errorCode: 0, body: r.readRest() };
  const message = r.readString("response error message") ?? errorInfo(code).message;
  return { errorCode: code, message };
}
