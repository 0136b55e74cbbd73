// The benchmark's message payload: every message says who sent it, its
// sequence number, when it was meant to be sent, and a checksum over all of
// its bytes, so a consumer can count what was lost, duplicated or corrupted
// instead of assuming nothing was.
//
// Layout (little-endian; these are the record's value bytes, not a wire format):
//   0   u32  producerId   which load producer wrote it (0..PRODUCERS_MAX-1)
//   4   u32  seq          0, 1, 2, ... per producer
//   8   f64  sentAtMs     intended send time, epoch ms with sub-ms precision (clock.ts)
//   16  u32  crc          CRC-32C of bytes [20, size) then bytes [0, 16)
//   20  ...  filler       a fixed pattern up to `size`
//
// Why the checksum covers the filler first: the filler is the same in every
// message, so a producer computes the CRC of the filler once and only
// continues it over the 16 header bytes per message. A consumer checks the
// whole message from scratch.
//
// Fillers: "pattern" (default) is one fixed byte pattern; "log" is log-line
// text (bench/log_lines.ts), one of LOG_FILLERS lines per message in turn,
// so a compression run sees data that compresses as real logs do rather than
// a repeated pattern (each line's CRC is computed once, as for the pattern).

import { crc32c, crc32cUpdate } from "../../protocol/crc32c.ts";
import { logLines } from "../log_lines.ts";

export const PAYLOAD_HEADER_BYTES = 20;
/** Smallest payload that carries the header. */
export const PAYLOAD_BYTES_MIN = PAYLOAD_HEADER_BYTES;
/** Largest payload the load generator builds (a record must fit in a batch with room to spare). */
export const PAYLOAD_BYTES_MAX = 1024 * 1024;
/** Producers one run may have; producer ids index per-producer bitmaps on the consumer side. */
export const PRODUCERS_MAX = 1024;
/** Sequence numbers are u32. */
export const SEQ_MAX = 0xffff_ffff;
/** Distinct log lines a "log" filler cycles through. */
export const LOG_FILLERS = 256;

export type PayloadFiller = "pattern" | "log";

const OFFSET_PRODUCER = 0;
const OFFSET_SEQ = 4;
const OFFSET_SENT_AT = 8;
const OFFSET_CRC = 16;

// One scratch float shared by reader and writer (single-threaded per isolate), so
// neither allocates a DataView per message. Typed arrays use the platform's byte
// order; every platform Bun, Deno and Node run on here is little-endian.
const f64Scratch = new Float64Array(1);
const f64Bytes = new Uint8Array(f64Scratch.buffer);
if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) throw new Error("payload: a little-endian platform is required");

function writeU32(out: Uint8Array, at: number, value: number): void {
  out[at] = value & 0xff;
  out[at + 1] = (value >>> 8) & 0xff;
  out[at + 2] = (value >>> 16) & 0xff;
  out[at + 3] = value >>> 24;
}

function readU32(bytes: Uint8Array, at: number): number {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
}

function fillerByte(i: number): number {
  return (i * 131 + 17) & 0xff;
}

/** Log-line text of exactly `size` bytes (lines joined by newlines, as many as it takes). */
function logFiller(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  const encoder = new TextEncoder();
  let at = 0;
  for (let n = 8; at < size; n *= 2) {
    at = 0;
    for (const line of logLines(n, seed)) {
      const bytes = encoder.encode(`${line}\n`);
      out.set(bytes.subarray(0, Math.min(bytes.length, size - at)), at);
      at += bytes.length;
      if (at >= size) break;
    }
  }
  return out;
}

/** Builds payloads for one producer; reuses nothing between calls (each payload is handed to a client). */
export class PayloadWriter {
  readonly size: number;
  readonly producerId: number;
  /** One template per filler (one for "pattern", LOG_FILLERS for "log"); message seq uses templates[seq % length]. */
  private readonly templates: Uint8Array[];
  private readonly fillerCrcs: number[];

  constructor(options: { size: number; producerId: number; filler?: PayloadFiller }) {
    const { size, producerId } = options;
    if (!Number.isInteger(size) || size < PAYLOAD_BYTES_MIN || size > PAYLOAD_BYTES_MAX) {
      throw new RangeError(`payload size must be ${PAYLOAD_BYTES_MIN}..${PAYLOAD_BYTES_MAX} bytes, got ${size}`);
    }
    if (!Number.isInteger(producerId) || producerId < 0 || producerId >= PRODUCERS_MAX) {
      throw new RangeError(`producer id must be 0..${PRODUCERS_MAX - 1}, got ${producerId}`);
    }
    this.size = size;
    this.producerId = producerId;
    if (options.filler === "log") {
      this.templates = Array.from({ length: LOG_FILLERS }, (_, i) => {
        const t = new Uint8Array(size);
        t.set(logFiller(size - PAYLOAD_HEADER_BYTES, producerId * LOG_FILLERS + i + 1), PAYLOAD_HEADER_BYTES);
        return t;
      });
    } else {
      const template = new Uint8Array(size);
      for (let i = PAYLOAD_HEADER_BYTES; i < size; i++) template[i] = fillerByte(i);
      this.templates = [template];
    }
    this.fillerCrcs = this.templates.map((t) => crc32c(t, PAYLOAD_HEADER_BYTES, size));
  }

  /** Writes message `seq` into `out` at `offset` (out must have `size` bytes there). */
  writeInto(out: Uint8Array, offset: number, seq: number, sentAtMs: number): void {
    out.set(this.templates[seq % this.templates.length], offset);
    this.writeHeader(out, offset, seq, sentAtMs);
  }

  /** A new payload for message `seq`. */
  build(seq: number, sentAtMs: number): Uint8Array {
    const out = new Uint8Array(this.size);
    out.set(this.templates[seq % this.templates.length]);
    this.writeHeader(out, 0, seq, sentAtMs);
    return out;
  }

  private writeHeader(out: Uint8Array, offset: number, seq: number, sentAtMs: number): void {
    if (!(seq >= 0 && seq <= SEQ_MAX)) throw new RangeError(`seq ${seq} outside u32`);
    writeU32(out, offset + OFFSET_PRODUCER, this.producerId);
    writeU32(out, offset + OFFSET_SEQ, seq);
    f64Scratch[0] = sentAtMs;
    const at = offset + OFFSET_SENT_AT;
    for (let i = 0; i < 8; i++) out[at + i] = f64Bytes[i];
    const fillerCrc = this.fillerCrcs[seq % this.fillerCrcs.length];
    writeU32(out, offset + OFFSET_CRC, crc32cUpdate(fillerCrc, out, offset + OFFSET_PRODUCER, offset + OFFSET_CRC));
  }
}

/** What a consumer learns from one payload. `ok` is false when the checksum or length is wrong. */
export interface PayloadFields {
  ok: boolean;
  producerId: number;
  seq: number;
  sentAtMs: number;
}

/**
 * Checks one payload (bytes [start, end) of `bytes`) and fills `into`.
 * Allocates nothing, so a consumer can call it millions of times a second.
 */
export function readPayload(bytes: Uint8Array, start: number, end: number, into: PayloadFields): PayloadFields {
  const length = end - start;
  if (length < PAYLOAD_HEADER_BYTES || start < 0 || end > bytes.length) {
    into.ok = false;
    into.producerId = -1;
    into.seq = -1;
    into.sentAtMs = 0;
    return into;
  }
  into.producerId = readU32(bytes, start + OFFSET_PRODUCER);
  into.seq = readU32(bytes, start + OFFSET_SEQ);
  for (let i = 0; i < 8; i++) f64Bytes[i] = bytes[start + OFFSET_SENT_AT + i];
  into.sentAtMs = f64Scratch[0];
  const filler = crc32c(bytes, start + PAYLOAD_HEADER_BYTES, end);
  const crc = crc32cUpdate(filler, bytes, start + OFFSET_PRODUCER, start + OFFSET_CRC);
  into.ok = crc === readU32(bytes, start + OFFSET_CRC) && into.producerId < PRODUCERS_MAX;
  return into;
}

export function emptyPayloadFields(): PayloadFields {
  return { ok: false, producerId: -1, seq: -1, sentAtMs: 0 };
}
