// Why a compressed records section could not be made or read. One class, and
// callers branch on `code` (the wire code) as with every SluiceError:
//   CORRUPT_MESSAGE               the bytes are not a valid stream of the codec
//   MESSAGE_TOO_LARGE             they would inflate past the bound the caller set
//                                 (BATCH_DECOMPRESSED_BYTES_MAX for a batch: a "bomb")
//   UNSUPPORTED_COMPRESSION_TYPE  the codec is unknown, or this runtime lacks it

import { ErrorCode, SluiceError } from "../errors.ts";

export class CompressionError extends SluiceError {
  constructor(code: number, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export function corrupt(codec: string, why: string, cause?: unknown): CompressionError {
  return new CompressionError(ErrorCode.CORRUPT_MESSAGE, `${codec} records do not decompress: ${why}`, cause === undefined ? undefined : { cause });
}

export function tooLarge(codec: string, limitBytes: number): CompressionError {
  return new CompressionError(
    ErrorCode.MESSAGE_TOO_LARGE,
    `${codec} records inflate past the limit of ${limitBytes} bytes (BATCH_DECOMPRESSED_BYTES_MAX)`,
  );
}
