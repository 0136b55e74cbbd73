import { describe, expect, test } from "bun:test";
import { gzipSync } from "node:zlib";
import { writeI16, writeI32 } from "../protocol/big_endian.ts";
import { crc32c } from "../protocol/crc32c.ts";
import { ErrorCode } from "../protocol/errors.ts";
import {
  ATTRIBUTES_OFFSET,
  BatchAttribute,
  BATCH_LENGTH_OFFSET,
  Compression,
  CRC_COVERED_FROM,
  CRC_OFFSET,
  decodeBatch,
  encodeBatch,
  RECORDS_OFFSET,
} from "../protocol/record_batch.ts";
import { decodeFetchedBatch, NO_HEADERS, type FetchedRecord } from "./record_decoder.ts";

const text = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));

function decodeAll(bytes: Uint8Array, position = 0n): FetchedRecord[] {
  const out: FetchedRecord[] = [];
  for (let pos = 0; pos < bytes.length; ) pos += decodeFetchedBatch(bytes, pos, "t", 3, position, out).size;
  return out;
}

describe("decodeFetchedBatch", () => {
  const batch = encodeBatch(
    [
      { key: "k0", value: "v0", timestamp: 1_700_000_000_000 },
      { key: null, value: null, timestamp: 1_700_000_000_005 },
      { value: "v2", headers: [["h", "x"], ["h", null]], timestamp: 1_699_999_999_990 },
      { key: new Uint8Array([1, 2]), value: "", timestamp: 1_700_000_000_001 },
    ],
    { baseOffset: 40n },
  );

  test("gives the records protocol/record_batch.ts decodes, as consumer records", () => {
    const records = decodeAll(batch);
    const reference = decodeBatch(batch).records;
    expect(records.length).toBe(reference.length);
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      const ref = reference[i];
      expect([r.topic, r.partition, r.offset, r.timestamp]).toEqual(["t", 3, ref.offset, Number(ref.timestamp)]);
      expect(r.key).toEqual(ref.key);
      expect(r.value).toEqual(ref.value);
      expect(r.headers).toEqual(ref.headers);
    }
    expect(records.map((r) => r.offset)).toEqual([40n, 41n, 42n, 43n]);
    expect(text(records[0].key)).toBe("k0");
    expect(records[1].value).toBeNull();
    expect(records[0].headers).toBe(NO_HEADERS); // shared, not one array per record
  });

  test("records below the position are skipped; the next offset covers the whole batch", () => {
    const out: FetchedRecord[] = [];
    const info = decodeFetchedBatch(batch, 0, "t", 3, 42n, out);
    expect(out.map((r) => r.offset)).toEqual([42n, 43n]);
    expect(info.nextOffset).toBe(44n);
    expect(info.size).toBe(batch.length);
    expect(decodeAll(batch, 100n)).toEqual([]);
  });

  test("log-append-time batches give every record the batch's max timestamp", () => {
    const copy = batch.slice();
    writeI16(copy, ATTRIBUTES_OFFSET, BatchAttribute.LOG_APPEND_TIME);
    writeI32(copy, CRC_OFFSET, crc32c(copy, CRC_COVERED_FROM, copy.length));
    const max = Number(decodeBatch(copy).header.maxTimestamp);
    expect(decodeAll(copy).map((r) => r.timestamp)).toEqual([max, max, max, max]);
  });

  test("gzip batches are inflated", () => {
    const plain = batch;
    const gz = gzipSync(plain.subarray(RECORDS_OFFSET));
    const out = new Uint8Array(RECORDS_OFFSET + gz.length);
    out.set(plain.subarray(0, RECORDS_OFFSET));
    out.set(gz, RECORDS_OFFSET);
    writeI32(out, BATCH_LENGTH_OFFSET, out.length - 12);
    writeI16(out, ATTRIBUTES_OFFSET, Compression.GZIP);
    writeI32(out, CRC_OFFSET, crc32c(out, CRC_COVERED_FROM, out.length));
    expect(decodeAll(out).map((r) => text(r.value))).toEqual(["v0", null, "v2", ""]);
  });

  test("damage is refused with the code and position forEachRecord reports", () => {
    const flipped = batch.slice();
    flipped[flipped.length - 1] ^= 1;
    expect(() => decodeAll(flipped)).toThrow(expect.objectContaining({ code: ErrorCode.CORRUPT_MESSAGE }));
    expect(() => decodeAll(batch.subarray(0, batch.length - 1))).toThrow(expect.objectContaining({ code: ErrorCode.CORRUPT_MESSAGE }));
    // A record length running past the batch, with a valid CRC: the structure is checked, not trusted.
    const lying = batch.slice();
    lying[RECORDS_OFFSET] = 0x7e; // zigzag 63
    writeI32(lying, CRC_OFFSET, crc32c(lying, CRC_COVERED_FROM, lying.length));
    expect(() => decodeAll(lying)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_RECORD, position: RECORDS_OFFSET }));
  });
});
