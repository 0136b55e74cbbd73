// A finished uncompressed RecordBatch v2 turned into a compressed one: the
// 61-byte header as it was (base offset, timestamps, record count and
// lastOffsetDelta stay in the clear, so the broker validates and assigns
// offsets without opening it), the records section replaced by its
// compressed form, batchLength and the codec bits set, and the CRC-32C
// computed over the compressed bytes, as Kafka defines it.

import { readI16, writeI16, writeI32 } from "./big_endian.ts";
import type { Codec } from "./compression/mod.ts";
import { crc32c } from "./crc32c.ts";
import {
  ATTRIBUTES_OFFSET,
  BATCH_LENGTH_OFFSET,
  BATCH_OVERHEAD_BYTES,
  BatchAttribute,
  compressionOf,
  Compression,
  CRC_COVERED_FROM,
  CRC_OFFSET,
  RECORDS_OFFSET,
} from "./record_batch.ts";

/**
 * The batch with its records compressed by `codec` (a fresh array), or the
 * batch itself when compression would not make it smaller (incompressible
 * values: librdkafka does the same; the batch then says codec none).
 */
export function compressBatch(batch: Uint8Array, codec: Codec): Uint8Array {
  const attributes = readI16(batch, ATTRIBUTES_OFFSET);
  if (compressionOf(attributes) !== Compression.NONE) throw new Error("compressBatch: the batch is already compressed");
  const compressed = codec.compress(batch.subarray(RECORDS_OFFSET));
  if (compressed.length >= batch.length - RECORDS_OFFSET) return batch;
  const out = new Uint8Array(RECORDS_OFFSET + compressed.length);
  out.set(batch.subarray(0, RECORDS_OFFSET));
  out.set(compressed, RECORDS_OFFSET);
  writeI32(out, BATCH_LENGTH_OFFSET, out.length - BATCH_OVERHEAD_BYTES);
  writeI16(out, ATTRIBUTES_OFFSET, (attributes & ~BatchAttribute.COMPRESSION_MASK) | codec.id);
  writeI32(out, CRC_OFFSET, crc32c(out, CRC_COVERED_FROM, out.length));
  return out;
}
