import { describe, expect, test } from "bun:test";
import { createRequire } from "node:module";
import { logLines } from "../bench/log_lines.ts";
import { readI32, readU32 } from "./big_endian.ts";
import { compressBatch } from "./compressed_batch.ts";
import { codecForWriting, COMPRESSION_NAMES } from "./compression/mod.ts";
import { crc32c } from "./crc32c.ts";
import { BATCH_BYTES_MAX } from "./limits.ts";
import {
  ATTRIBUTES_OFFSET,
  BATCH_LENGTH_OFFSET,
  BATCH_OVERHEAD_BYTES,
  BatchAttribute,
  compressionOf,
  CRC_COVERED_FROM,
  CRC_OFFSET,
  decodeBatch,
  encodeBatch,
  RECORDS_OFFSET,
  validateBatch,
} from "./record_batch.ts";

const T0 = 1_765_000_000_000;
const dec = new TextDecoder();
const records = logLines(300, 5).map((value, i) => ({ key: `k${i % 9}`, value, headers: i % 4 === 0 ? { n: String(i) } : undefined, timestamp: T0 + i }));

describe("compressBatch", () => {
  for (const name of COMPRESSION_NAMES.filter((n) => n !== "none")) {
    test(`${name}: header kept, length/codec/CRC over the compressed bytes, records the same`, () => {
      const plain = encodeBatch(records, { baseOffset: 77, attributes: BatchAttribute.TRANSACTIONAL, producerId: 5n, baseSequence: 0 });
      const codec = codecForWriting(name)!;
      const packed = compressBatch(plain, codec);
      expect(packed.length * 2).toBeLessThan(plain.length);
      // Bytes of the header outside length, CRC and attributes are untouched (base offset, epoch, magic, deltas, timestamps, ids, count).
      const untouched = (b: Uint8Array) => [...b.subarray(0, BATCH_LENGTH_OFFSET), ...b.subarray(12, CRC_OFFSET), ...b.subarray(ATTRIBUTES_OFFSET + 2, RECORDS_OFFSET)];
      expect(untouched(packed)).toEqual(untouched(plain));
      expect(readI32(packed, BATCH_LENGTH_OFFSET)).toBe(packed.length - BATCH_OVERHEAD_BYTES);
      expect(compressionOf(packed[ATTRIBUTES_OFFSET + 1])).toBe(codec.id);
      expect(packed[ATTRIBUTES_OFFSET + 1] & BatchAttribute.TRANSACTIONAL).toBe(BatchAttribute.TRANSACTIONAL);
      expect(readU32(packed, CRC_OFFSET)).toBe(crc32c(packed, CRC_COVERED_FROM, packed.length));
      expect(validateBatch(packed, 0, packed.length, BATCH_BYTES_MAX).recordCount).toBe(records.length);
      const back = decodeBatch(packed).records;
      const want = decodeBatch(plain).records;
      expect(back.map((r) => [r.offset, r.timestamp, dec.decode(r.key!), dec.decode(r.value!), r.headers.map(([k, v]) => [k, dec.decode(v!)])])).toEqual(
        want.map((r) => [r.offset, r.timestamp, dec.decode(r.key!), dec.decode(r.value!), r.headers.map(([k, v]) => [k, dec.decode(v!)])]),
      );
    });
  }

  test("a batch that would not shrink is returned as it is (codec none)", () => {
    let x = 3;
    const noise = Uint8Array.from({ length: 2000 }, () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24);
    const plain = encodeBatch([{ value: noise }]);
    for (const name of ["gzip", "snappy", "lz4", "zstd"]) expect(compressBatch(plain, codecForWriting(name)!)).toBe(plain);
  });

  test("kafkajs's RecordBatch decoder reads our gzip batch", async () => {
    const require = createRequire(import.meta.url);
    // biome-ignore lint: untyped CommonJS modules of a dev dependency
    const Decoder = require("kafkajs/src/protocol/decoder.js") as any;
    const decodeKafkajsBatch = require("kafkajs/src/protocol/recordBatch/v0/decoder.js") as any;
    const packed = compressBatch(encodeBatch(records, { baseOffset: 500 }), codecForWriting("gzip")!);
    const batch = await decodeKafkajsBatch(new Decoder(Buffer.from(packed)));
    expect(batch.firstOffset).toBe("500");
    expect(batch.records.length).toBe(records.length);
    // biome-ignore lint: kafkajs's record objects
    expect(batch.records.map((r: any) => [r.offset, r.key.toString(), r.value.toString(), r.timestamp])).toEqual(
      records.map((r, i) => [String(500 + i), r.key, r.value, String(r.timestamp)]),
    );
  });
});
