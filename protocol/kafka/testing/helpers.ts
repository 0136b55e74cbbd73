// Small helpers shared by the Kafka codec tests.

import { KafkaDecodeError } from "../decode_error.ts";

/** Runs `fn` and returns the KafkaDecodeError it throws; anything else (or nothing) fails the test. */
export function decodeError(fn: () => unknown): KafkaDecodeError {
  try {
    fn();
  } catch (e) {
    if (e instanceof KafkaDecodeError) return e;
    throw e;
  }
  throw new Error("expected a KafkaDecodeError");
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

/** Bytes from hex; whitespace is ignored so fixtures can be laid out by field. */
export function fromHex(h: string): Uint8Array {
  return new Uint8Array(Buffer.from(h.replace(/\s+/g, ""), "hex"));
}
