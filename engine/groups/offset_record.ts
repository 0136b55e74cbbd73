// One committed offset as a record of the offsets log:
//   key   = MessagePack [groupId, topic, partition]
//   value = MessagePack { offset, metadata, timestamp }   (timestamp: ms since the epoch)
// Later records for the same key replace earlier ones. The record's key makes
// the log compactable by key, and a reader needs nothing but this file.

import { Decoder, Encoder } from "@msgpack/msgpack";
import type { OffsetEntry } from "./offset_store.ts";

// One encoder and decoder for the process: loading replays every record of the
// log, and a fresh (de)coder per record costs more than the record itself.
const encoder = new Encoder();
const decoder = new Decoder();
const encode = (v: unknown) => encoder.encode(v);
const decode = (b: Uint8Array) => decoder.decode(b);

const isIndex = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= 0;

export function encodeOffsetKey(groupId: string, topic: string, partition: number): Uint8Array {
  return encode([groupId, topic, partition]);
}

export function encodeOffsetValue(e: { offset: number; metadata: string; timestampMs: number }): Uint8Array {
  return encode({ offset: e.offset, metadata: e.metadata, timestamp: e.timestampMs });
}

/** The entry a record holds, or a reason it holds none (a record this version cannot read). */
export function decodeOffsetRecord(key: Uint8Array | null, value: Uint8Array | null): { groupId: string; entry: OffsetEntry } | string {
  if (key === null || value === null) return "record without key or value";
  let k: unknown;
  let v: unknown;
  try {
    k = decode(key);
    v = decode(value);
  } catch (e) {
    return `not MessagePack: ${(e as Error).message}`;
  }
  // Checked by hand rather than with a schema: this runs once per record at every start.
  if (!Array.isArray(k) || k.length !== 3) return "key is not [group, topic, partition]";
  const [groupId, topic, partition] = k as unknown[];
  if (typeof groupId !== "string" || groupId === "" || typeof topic !== "string" || topic === "" || !isIndex(partition)) {
    return "key is not [group, topic, partition]";
  }
  if (typeof v !== "object" || v === null) return "value is not {offset, metadata, timestamp}";
  const { offset, metadata, timestamp } = v as Record<string, unknown>;
  if (!isIndex(offset) || typeof metadata !== "string" || typeof timestamp !== "number" || !Number.isSafeInteger(timestamp)) {
    return "value is not {offset, metadata, timestamp}";
  }
  return { groupId, entry: { topic, partition, offset, metadata, timestampMs: timestamp } };
}
