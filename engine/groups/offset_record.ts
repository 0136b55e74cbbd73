// One committed offset as a record of the offsets log:
//   key   = MessagePack [groupId, topic, partition]
//   value = MessagePack { offset, metadata, timestamp }   (timestamp: ms since the epoch)
// Later records for the same key replace earlier ones. The record's key makes
// the log compactable by key, and a reader needs nothing but this file.

import { decode, encode } from "@msgpack/msgpack";
import { z } from "zod";
import type { OffsetEntry } from "./offset_store.ts";

const KeySchema = z.tuple([z.string().min(1), z.string().min(1), z.number().int().min(0)]);
const ValueSchema = z.object({
  offset: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  metadata: z.string(),
  timestamp: z.number().int(),
});

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
  const kk = KeySchema.safeParse(k);
  const vv = ValueSchema.safeParse(v);
  if (!kk.success) return "key is not [group, topic, partition]";
  if (!vv.success) return "value is not {offset, metadata, timestamp}";
  const [groupId, topic, partition] = kk.data;
  return { groupId, entry: { topic, partition, offset: vv.data.offset, metadata: vv.data.metadata, timestampMs: vv.data.timestamp } };
}
