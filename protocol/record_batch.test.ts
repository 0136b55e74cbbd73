import { describe, expect, test } from "bun:test";
import { createRequire } from "node:module";
import { gzipSync } from "node:zlib";
import { readI32, readU32, writeI32 } from "./big_endian.ts";
import { crc32c } from "./crc32c.ts";
import { ErrorCode } from "./errors.ts";
import { BATCH_BYTES_MAX } from "./limits.ts";
import {
  ATTRIBUTES_OFFSET,
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_OFFSET,
  BATCH_OVERHEAD_BYTES,
  BatchAttribute,
  BatchBuilder,
  BatchError,
  checkBatch,
  CRC_OFFSET,
  Compression,
  LAST_OFFSET_DELTA_OFFSET,
  MAGIC_OFFSET,
  NO_HEADERS,
  RECORD_COUNT_OFFSET,
  RECORDS_OFFSET,
  decodeBatch,
  decodeBatches,
  encodeBatch,
  forEachRecord,
  patchBaseOffset,
  patchLeaderEpoch,
  patchLogAppendTime,
  readBatchHeader,
  RecordReader,
  validateBatch,
  validateBatches,
  type RecordInput,
} from "./record_batch.ts";

const text = new TextEncoder();
const untext = new TextDecoder();
const str = (b: Uint8Array | null): string | null => (b === null ? null : untext.decode(b));

function batchError(fn: () => unknown): BatchError {
  try {
    fn();
  } catch (e) {
    if (e instanceof BatchError) return e;
    throw new Error(`expected a BatchError, got ${e}`);
  }
  throw new Error("expected a BatchError, nothing was thrown");
}

const T0 = 1_700_000_000_000;

describe("encode / decode round trips", () => {
  test("null key, null value, empty value, string and byte fields", () => {
    const records: RecordInput[] = [
      { key: null, value: "v0" },
      { key: "k1", value: null },
      { key: new Uint8Array([1, 2, 3]), value: new Uint8Array(0) },
      { value: "" },
    ];
    const bytes = encodeBatch(records, { firstTimestamp: T0 });
    const { header, records: out, size } = decodeBatch(bytes);
    expect(size).toBe(bytes.length);
    expect(header.recordCount).toBe(4);
    expect(header.lastOffsetDelta).toBe(3);
    expect(header.magic).toBe(2);
    expect(out.map((r) => r.offset)).toEqual([0n, 1n, 2n, 3n]);
    expect(out[0].key).toBeNull();
    expect(str(out[0].value)).toBe("v0");
    expect(str(out[1].key)).toBe("k1");
    expect(out[1].value).toBeNull();
    expect([...out[2].key!]).toEqual([1, 2, 3]);
    expect(out[2].value!.length).toBe(0);
    expect(out[3].key).toBeNull();
    expect(out[3].value).not.toBeNull();
    expect(out[3].value!.length).toBe(0);
  });

  test("headers as an object and as pairs (repeated keys, null values) keep their order", () => {
    const bytes = encodeBatch([
      { value: "a", headers: { trace: "t-1", bin: new Uint8Array([0, 255]) } },
      { value: "b", headers: [["x", "1"], ["x", "2"], ["n", null]] },
      { value: "c", headers: [] },
    ]);
    const out = decodeBatch(bytes).records;
    expect(out[0].headers.map(([k, v]) => [k, v === null ? null : [...v]])).toEqual([
      ["trace", [...text.encode("t-1")]],
      ["bin", [0, 255]],
    ]);
    expect(out[1].headers.map(([k, v]) => [k, str(v)])).toEqual([["x", "1"], ["x", "2"], ["n", null]]);
    expect(out[2].headers).toEqual([]);
  });

  test("unicode strings in keys, values and header keys", () => {
    const key = "clé-ключ-鍵-🔑";
    const value = "value with emoji 🎉 and ünïcödé and a lone surrogate: \ud800";
    const out = decodeBatch(encodeBatch([{ key, value, headers: { "ヘッダー": "値" } }])).records[0];
    expect(str(out.key)).toBe(key);
    expect(str(out.value)).toBe(value.replace("\ud800", "\ufffd"));
    expect(out.headers[0][0]).toBe("ヘッダー");
    expect(str(out.headers[0][1])).toBe("値");
  });

  test("strings whose UTF-8 length sits on a varint size boundary (63/64, 8191/8192 bytes)", () => {
    // ASCII strings near the boundary make the 3-bytes-per-char bound over-reserve the length varint.
    for (const n of [21, 22, 63, 64, 65, 2730, 2731, 8191, 8192, 8193]) {
      const s = "x".repeat(n);
      const u = "é".repeat(n); // two bytes each
      const out = decodeBatch(encodeBatch([{ key: s, value: u, headers: [[s, u]] }])).records[0];
      expect(str(out.key)).toBe(s);
      expect(str(out.value)).toBe(u);
      expect(out.headers[0][0]).toBe(s);
      expect(str(out.headers[0][1])).toBe(u);
    }
  });

  test("many records and record lengths crossing varint sizes", () => {
    const records: RecordInput[] = [];
    for (let i = 0; i < 5000; i++) records.push({ key: `k${i}`, value: "v".repeat(i % 200), timestamp: T0 + i });
    const bytes = encodeBatch(records);
    expect(validateBatch(bytes, 0, bytes.length, BATCH_BYTES_MAX).recordCount).toBe(5000);
    const out = decodeBatch(bytes).records;
    expect(out.length).toBe(5000);
    for (let i = 0; i < 5000; i += 97) {
      expect(out[i].offset).toBe(BigInt(i));
      expect(out[i].timestamp).toBe(BigInt(T0 + i));
      expect(str(out[i].key)).toBe(`k${i}`);
      expect(out[i].value!.length).toBe(i % 200);
    }
  });

  test("large values (1 MiB bytes, 300 KiB string)", () => {
    const big = new Uint8Array(1 << 20).map((_, i) => i * 7);
    const bigString = "ab€".repeat(100_000);
    const bytes = encodeBatch([{ value: big }, { value: bigString }]);
    const out = decodeBatch(bytes).records;
    expect(out[0].value!.length).toBe(big.length);
    expect(out[0].value!.every((b, i) => b === big[i])).toBe(true);
    expect(str(out[1].value)).toBe(bigString);
  });

  test("timestamps: first, deltas (negative too) and max; header fields from finish options", () => {
    const b = new BatchBuilder();
    b.reset();
    b.append({ value: "a", timestamp: T0 + 100 });
    b.append({ value: "b", timestamp: T0 });
    b.append({ value: "c", timestamp: T0 + 5000 });
    b.append({ value: "d" }); // no timestamp: the batch's first timestamp
    const bytes = b.finish({ baseOffset: 42n, producerId: 7n, producerEpoch: 3, baseSequence: 11, partitionLeaderEpoch: 5 });
    const { header, records } = decodeBatch(bytes);
    expect(header.firstTimestamp).toBe(BigInt(T0 + 100));
    expect(header.maxTimestamp).toBe(BigInt(T0 + 5000));
    expect(records.map((r) => r.timestamp)).toEqual([T0 + 100, T0, T0 + 5000, T0 + 100].map(BigInt));
    expect(records.map((r) => r.offset)).toEqual([42n, 43n, 44n, 45n]);
    expect(header.producerId).toBe(7n);
    expect(header.producerEpoch).toBe(3);
    expect(header.baseSequence).toBe(11);
    expect(header.partitionLeaderEpoch).toBe(5);
    expect(header.batchLength).toBe(bytes.length - BATCH_OVERHEAD_BYTES);
    expect(header.crc).toBe(crc32c(bytes, ATTRIBUTES_OFFSET));
  });

  test("defaults for a plain producer: no producer id, epoch or sequence (-1)", () => {
    const h = readBatchHeader(encodeBatch([{ value: "x" }]), 0);
    expect(h.producerId).toBe(-1n);
    expect(h.producerEpoch).toBe(-1);
    expect(h.baseSequence).toBe(-1);
    expect(h.attributes).toBe(0);
  });

  test("the builder is reusable and sizeBytes is exact; finish returns an independent copy", () => {
    const b = new BatchBuilder({ initialBytes: 64 }); // forces growth
    b.reset(T0);
    expect(b.sizeBytes).toBe(BATCH_HEADER_BYTES);
    for (let i = 0; i < 100; i++) b.append({ key: `key-${i}`, value: "x".repeat(100) });
    const first = b.finish();
    expect(first.length).toBe(b.sizeBytes);
    expect(b.recordCount).toBe(100);
    b.reset(T0);
    expect(b.recordCount).toBe(0);
    b.append({ value: "second" });
    const second = b.finish();
    expect(decodeBatch(first).records.length).toBe(100); // not overwritten by the second batch
    expect(str(decodeBatch(second).records[0].value)).toBe("second");
    const view = b.finishView();
    expect(view.buffer).not.toBe(second.buffer);
    expect([...view]).toEqual([...second]);
  });

  test("a timestamp that is not an integer is refused and leaves the builder usable", () => {
    const b = new BatchBuilder();
    b.reset(T0);
    b.append({ value: "ok" });
    for (const timestamp of [Number.NaN, 1.5, 2 ** 60]) {
      expect(() => b.append({ value: "bad", timestamp })).toThrow("not an integer");
    }
    expect(b.recordCount).toBe(1);
    expect(decodeBatch(b.finish()).records.length).toBe(1);
  });

  test("finishing an empty batch is refused", () => {
    const b = new BatchBuilder();
    b.reset();
    expect(() => b.finish()).toThrow("no records");
  });

  test("decoded keys and values are views of the batch bytes, not copies", () => {
    const bytes = encodeBatch([{ key: "k", value: "value" }]);
    const r = decodeBatch(bytes).records[0];
    expect(r.value!.buffer).toBe(bytes.buffer);
    expect(r.key!.buffer).toBe(bytes.buffer);
  });

  test("decodeBatches and forEachRecord walk several batches back to back", () => {
    const a = encodeBatch([{ value: "a0" }, { value: "a1" }], { baseOffset: 0 });
    const b = encodeBatch([{ value: "b0" }], { baseOffset: 2 });
    const blob = new Uint8Array(a.length + b.length);
    blob.set(a, 0);
    blob.set(b, a.length);
    const batches = decodeBatches(blob);
    expect(batches.map((x) => x.records.map((r) => [r.offset, str(r.value)]))).toEqual([
      [[0n, "a0"], [1n, "a1"]],
      [[2n, "b0"]],
    ]);
    const seen: string[] = [];
    const { size } = forEachRecord(blob, a.length, (r) => seen.push(str(r.value)!));
    expect(size).toBe(b.length);
    expect(seen).toEqual(["b0"]);
    // A partial trailing batch is an error, not silently dropped.
    expect(batchError(() => decodeBatches(blob.subarray(0, blob.length - 1))).code).toBe(ErrorCode.CORRUPT_MESSAGE);
  });

  test("an error thrown by the caller's callback is not turned into a BatchError", () => {
    const bytes = encodeBatch([{ value: "a" }]);
    expect(() =>
      forEachRecord(bytes, 0, () => {
        throw new TypeError("mine");
      }),
    ).toThrow(TypeError);
  });

  test("LogAppendTime batches report the max timestamp for every record", () => {
    const bytes = encodeBatch([{ value: "a", timestamp: T0 }, { value: "b", timestamp: T0 + 1 }]);
    patchLogAppendTime(bytes, 0, T0 + 999);
    expect(decodeBatch(bytes).records.map((r) => r.timestamp)).toEqual([BigInt(T0 + 999), BigInt(T0 + 999)]);
  });
});

describe("golden bytes", () => {
  test("a one-record batch laid out by hand from the grammar", () => {
    const ts = 0x010203040506;
    const afterCrc =
      "0000" + // attributes: no compression, CreateTime
      "00000000" + // lastOffsetDelta
      "0000010203040506" + // firstTimestamp
      "0000010203040506" + // maxTimestamp
      "ffffffffffffffff" + // producerId -1
      "ffff" + // producerEpoch -1
      "ffffffff" + // baseSequence -1
      "00000001" + // recordCount
      // record: length 7 (zigzag 0e) | attributes 0 | tsDelta 0 | offsetDelta 0 | key -1 (01) | value len 1 (02) "a" | 0 headers
      "0e" + "00" + "00" + "00" + "01" + "02" + "61" + "00";
    const crc = crc32c(Buffer.from(afterCrc, "hex")).toString(16).padStart(8, "0");
    const expected =
      "0000000000000005" + // baseOffset
      "00000039" + // batchLength 57 = 69 - 12
      "ffffffff" + // partitionLeaderEpoch -1
      "02" + // magic
      crc +
      afterCrc;
    const bytes = encodeBatch([{ key: null, value: "a", timestamp: ts }], { baseOffset: 5 });
    expect(Buffer.from(bytes).toString("hex")).toBe(expected);
  });
});

describe("validateBatch", () => {
  const batch = (): Uint8Array =>
    encodeBatch(
      [
        { key: "k", value: "hello", headers: { h: "v" }, timestamp: T0 },
        { key: null, value: "world", timestamp: T0 + 7 },
      ],
      { baseOffset: 0 },
    );

  test("accepts a good batch and summarises it", () => {
    const bytes = batch();
    expect(validateBatch(bytes, 0, bytes.length, BATCH_BYTES_MAX)).toEqual({
      size: bytes.length,
      lastOffsetDelta: 1,
      recordCount: 2,
      firstTimestamp: T0,
      maxTimestamp: T0 + 7,
      attributes: 0,
    });
  });

  test("a flipped bit anywhere in the CRC-covered range fails the CRC check", () => {
    const good = batch();
    for (let i = ATTRIBUTES_OFFSET; i < good.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const bytes = good.slice();
        bytes[i] ^= bit;
        const e = batchError(() => validateBatch(bytes, 0, bytes.length, BATCH_BYTES_MAX));
        expect(e.code).toBe(ErrorCode.CORRUPT_MESSAGE);
        expect(e.reason).toContain("CRC mismatch");
        expect(e.position).toBe(CRC_OFFSET);
      }
    }
  });

  test("a flipped bit in the stored CRC fails too", () => {
    const bytes = batch();
    bytes[CRC_OFFSET + 2] ^= 0x10;
    expect(batchError(() => validateBatch(bytes, 0, bytes.length, BATCH_BYTES_MAX)).reason).toContain("CRC");
  });

  test("truncated at every length fails with CORRUPT_MESSAGE", () => {
    const good = batch();
    for (let n = 0; n < good.length; n++) {
      const e = batchError(() => validateBatch(good.subarray(0, n), 0, n, BATCH_BYTES_MAX));
      expect(e.code).toBe(ErrorCode.CORRUPT_MESSAGE);
      expect(e.reason).toContain("truncated");
    }
    // and `end` bounds the batch even when the array continues
    expect(batchError(() => validateBatch(good, 0, good.length - 1, BATCH_BYTES_MAX)).reason).toContain("truncated");
  });

  test("a length field larger than the buffer, or smaller than the header", () => {
    const bytes = batch();
    writeI32(bytes, BATCH_LENGTH_OFFSET, 0x7fffffff);
    const e = batchError(() => validateBatch(bytes, 0, bytes.length, BATCH_BYTES_MAX));
    expect(e.code).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(e.position).toBe(BATCH_LENGTH_OFFSET);
    writeI32(bytes, BATCH_LENGTH_OFFSET, 10);
    expect(batchError(() => validateBatch(bytes, 0, bytes.length, BATCH_BYTES_MAX)).reason).toContain("smaller than the header");
    writeI32(bytes, BATCH_LENGTH_OFFSET, -5);
    expect(batchError(() => validateBatch(bytes, 0, bytes.length, BATCH_BYTES_MAX)).code).toBe(ErrorCode.CORRUPT_MESSAGE);
  });

  test("over the size limit: MESSAGE_TOO_LARGE", () => {
    const bytes = batch();
    const e = batchError(() => validateBatch(bytes, 0, bytes.length, bytes.length - 1));
    expect(e.code).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    expect(validateBatch(bytes, 0, bytes.length, bytes.length).size).toBe(bytes.length);
  });

  test("bad magic: INVALID_RECORD", () => {
    const bytes = batch();
    bytes[MAGIC_OFFSET] = 1;
    const e = batchError(() => validateBatch(bytes, 0, bytes.length, BATCH_BYTES_MAX));
    expect(e.code).toBe(ErrorCode.INVALID_RECORD);
    expect(e.position).toBe(MAGIC_OFFSET);
  });

  // Rewrites a header field and re-seals the CRC, so the structural checks behind the CRC are reached.
  function resealed(mutate: (b: Uint8Array) => void): Uint8Array {
    const bytes = batch();
    mutate(bytes);
    writeI32(bytes, CRC_OFFSET, crc32c(bytes, ATTRIBUTES_OFFSET));
    return bytes;
  }

  test("record count mismatches, zero and over the limit", () => {
    for (const [count, delta] of [[3, 2], [1, 0], [0, -1], [2, 5], [(1 << 20) + 1, 1 << 20]]) {
      const bytes = resealed((b) => {
        writeI32(b, RECORD_COUNT_OFFSET, count);
        writeI32(b, LAST_OFFSET_DELTA_OFFSET, delta);
      });
      const e = batchError(() => validateBatch(bytes, 0, bytes.length, BATCH_BYTES_MAX));
      expect(e.code).toBe(ErrorCode.INVALID_RECORD);
    }
    const mismatch = resealed((b) => writeI32(b, LAST_OFFSET_DELTA_OFFSET, 0));
    expect(batchError(() => validateBatch(mismatch, 0, mismatch.length, BATCH_BYTES_MAX)).position).toBe(LAST_OFFSET_DELTA_OFFSET);
  });

  test("record structure: a record length that overruns, and out-of-order offset deltas", () => {
    const overrun = resealed((b) => (b[RECORDS_OFFSET] += 2)); // first record's length grows by 1
    const e = batchError(() => validateBatch(overrun, 0, overrun.length, BATCH_BYTES_MAX));
    expect(e.code).toBe(ErrorCode.INVALID_RECORD);
    expect(e.position).toBeGreaterThanOrEqual(RECORDS_OFFSET);
    // offsetDelta of record 0 sits after length(1) + attributes(1) + timestampDelta(1)
    const reordered = resealed((b) => (b[RECORDS_OFFSET + 3] = 2));
    expect(batchError(() => validateBatch(reordered, 0, reordered.length, BATCH_BYTES_MAX)).reason).toContain("offsetDelta");
  });

  test("unknown compression codec is refused; compressed batches are accepted without opening them", () => {
    const unknown = resealed((b) => (b[ATTRIBUTES_OFFSET + 1] = 5));
    expect(batchError(() => validateBatch(unknown, 0, unknown.length, BATCH_BYTES_MAX)).reason).toContain("compression");
    const snappy = resealed((b) => (b[ATTRIBUTES_OFFSET + 1] = Compression.SNAPPY));
    expect(validateBatch(snappy, 0, snappy.length, BATCH_BYTES_MAX).attributes).toBe(Compression.SNAPPY);
    // Plain records marked snappy: the broker stores it unopened; a reader finds no valid snappy stream.
    const d = batchError(() => decodeBatch(snappy));
    expect(d.code).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(d.message).toContain("compressed batch (snappy)");
  });

  test("validates at an offset inside a larger array", () => {
    const inner = batch();
    const outer = new Uint8Array(inner.length + 20);
    outer.set(inner, 7);
    expect(validateBatch(outer, 7, 7 + inner.length, BATCH_BYTES_MAX).size).toBe(inner.length);
    outer[7 + 30] ^= 1;
    expect(batchError(() => validateBatch(outer, 7, 7 + inner.length, BATCH_BYTES_MAX)).position).toBe(7 + CRC_OFFSET);
  });
});

describe("validateBatches", () => {
  test("totals over batches back to back", () => {
    const a = encodeBatch([{ value: "1", timestamp: T0 + 5 }, { value: "2", timestamp: T0 + 9 }]);
    const b = encodeBatch([{ value: "3", timestamp: T0 + 3 }]);
    const blob = new Uint8Array(a.length + b.length);
    blob.set(a);
    blob.set(b, a.length);
    expect(validateBatches(blob, BATCH_BYTES_MAX)).toEqual({
      batches: 2,
      records: 3,
      offsetCount: 3,
      maxTimestamp: T0 + 9,
      largestBatchBytes: a.length,
    });
  });

  test("empty records, trailing bytes and a bad second batch are refused, naming where", () => {
    expect(batchError(() => validateBatches(new Uint8Array(0), BATCH_BYTES_MAX)).code).toBe(ErrorCode.INVALID_RECORD);
    const a = encodeBatch([{ value: "1" }]);
    const trailing = new Uint8Array(a.length + 5);
    trailing.set(a);
    const e = batchError(() => validateBatches(trailing, BATCH_BYTES_MAX));
    expect(e.code).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(e.position).toBe(a.length);
    const two = new Uint8Array(a.length * 2);
    two.set(a);
    two.set(a, a.length);
    two[a.length + MAGIC_OFFSET] = 0;
    expect(batchError(() => validateBatches(two, BATCH_BYTES_MAX)).position).toBe(a.length + MAGIC_OFFSET);
  });
});

describe("patching", () => {
  test("patchBaseOffset changes neither the CRC nor validity", () => {
    const bytes = encodeBatch([{ value: "a" }, { value: "b" }]);
    const crcBefore = readU32(bytes, CRC_OFFSET);
    patchBaseOffset(bytes, 0, 1_000_000_000_000);
    expect(readU32(bytes, CRC_OFFSET)).toBe(crcBefore);
    validateBatch(bytes, 0, bytes.length, BATCH_BYTES_MAX);
    expect(decodeBatch(bytes).records.map((r) => r.offset)).toEqual([1_000_000_000_000n, 1_000_000_000_001n]);
    patchBaseOffset(bytes, 0, 2n ** 62n);
    expect(readBatchHeader(bytes, 0).baseOffset).toBe(2n ** 62n);
  });

  test("patchLeaderEpoch keeps the CRC valid", () => {
    const bytes = encodeBatch([{ value: "a" }]);
    patchLeaderEpoch(bytes, 0, 17);
    validateBatch(bytes, 0, bytes.length, BATCH_BYTES_MAX);
    expect(readBatchHeader(bytes, 0).partitionLeaderEpoch).toBe(17);
  });

  test("patchLogAppendTime sets the bit and max timestamp and re-seals the CRC", () => {
    const bytes = encodeBatch([{ value: "a", timestamp: T0 }]);
    const crcBefore = readU32(bytes, CRC_OFFSET);
    patchLogAppendTime(bytes, 0, T0 + 12345);
    const s = validateBatch(bytes, 0, bytes.length, BATCH_BYTES_MAX);
    expect(s.maxTimestamp).toBe(T0 + 12345);
    expect(s.attributes & BatchAttribute.LOG_APPEND_TIME).toBe(BatchAttribute.LOG_APPEND_TIME);
    expect(readU32(bytes, CRC_OFFSET)).not.toBe(crcBefore);
  });

  test("patching the second batch of a blob leaves the first intact", () => {
    const a = encodeBatch([{ value: "a" }]);
    const blob = new Uint8Array(a.length * 2);
    blob.set(a);
    blob.set(a, a.length);
    patchLogAppendTime(blob, a.length, T0);
    patchBaseOffset(blob, a.length, 1);
    expect(validateBatches(blob, BATCH_BYTES_MAX).batches).toBe(2);
    expect(readBatchHeader(blob, 0).attributes).toBe(0);
    expect(readBatchHeader(blob, a.length).baseOffset).toBe(1n);
  });
});

describe("gzip batches", () => {
  // Built by hand: the records section compressed, header marked gzip.
  function gzipBatch(records: RecordInput[]): Uint8Array {
    const plain = encodeBatch(records, { firstTimestamp: T0 });
    const compressed = gzipSync(plain.subarray(RECORDS_OFFSET));
    const out = new Uint8Array(RECORDS_OFFSET + compressed.length);
    out.set(plain.subarray(0, RECORDS_OFFSET));
    out.set(compressed, RECORDS_OFFSET);
    writeI32(out, BATCH_LENGTH_OFFSET, out.length - BATCH_OVERHEAD_BYTES);
    out[ATTRIBUTES_OFFSET + 1] = Compression.GZIP;
    writeI32(out, CRC_OFFSET, crc32c(out, ATTRIBUTES_OFFSET));
    return out;
  }

  test("validateBatch accepts a gzip batch and decodeBatch inflates it", () => {
    const bytes = gzipBatch([{ key: "k", value: "compressed value ".repeat(20) }, { value: null }]);
    expect(validateBatch(bytes, 0, bytes.length, BATCH_BYTES_MAX).recordCount).toBe(2);
    const out = decodeBatch(bytes).records;
    expect(str(out[0].value)).toBe("compressed value ".repeat(20));
    expect(out[1].value).toBeNull();
  });

  test("garbage gzip payload is a CORRUPT_MESSAGE, not a crash", () => {
    const bytes = gzipBatch([{ value: "x" }]);
    bytes[RECORDS_OFFSET + 12] ^= 0xff;
    writeI32(bytes, CRC_OFFSET, crc32c(bytes, ATTRIBUTES_OFFSET));
    const e = batchError(() => decodeBatch(bytes));
    expect([ErrorCode.CORRUPT_MESSAGE, ErrorCode.INVALID_RECORD] as number[]).toContain(e.code);
  });
});

describe("decoder robustness", () => {
  test("a decoder fed a re-sealed batch with every single byte of the records changed never crashes untyped", () => {
    const good = encodeBatch([
      { key: "k", value: "hello", headers: { a: "b" }, timestamp: T0 },
      { key: null, value: "w", timestamp: T0 + 1 },
    ]);
    for (let i = RECORDS_OFFSET; i < good.length; i++) {
      for (const v of [0x00, 0x7f, 0x80, 0xff]) {
        const bytes = good.slice();
        bytes[i] = v;
        writeI32(bytes, CRC_OFFSET, crc32c(bytes, ATTRIBUTES_OFFSET));
        try {
          decodeBatch(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(BatchError);
        }
      }
    }
  });
});

describe("RecordReader and the decoder's shared values", () => {
  const reseal = (bytes: Uint8Array) => writeI32(bytes, CRC_OFFSET, crc32c(bytes, ATTRIBUTES_OFFSET));

  test("reads each record into its fields: numbers, views, NO_HEADERS for a record without headers", () => {
    const bytes = encodeBatch(
      [
        { key: "k0", value: "v0", timestamp: T0 + 7 },
        { value: null, headers: [["h", "x"]], timestamp: T0 - 3 },
        { value: new Uint8Array([9]) },
      ],
      { baseOffset: 100n, firstTimestamp: T0 },
    );
    const reader = new RecordReader(bytes, 0, checkBatch(bytes, 0));
    expect(reader.recordCount).toBe(3);
    const seen: unknown[] = [];
    while (reader.next()) {
      seen.push([reader.index, reader.offsetDelta, reader.timestampMs, reader.timestampDelta, str(reader.key), reader.value?.length ?? null]);
      if (reader.index === 1) expect(reader.headers.map(([k, v]) => [k, str(v)])).toEqual([["h", "x"]]);
      else expect(reader.headers).toBe(NO_HEADERS);
      if (reader.value !== null) expect(reader.value.buffer).toBe(bytes.buffer);
    }
    expect(seen).toEqual([
      [0, 0, T0 + 7, 7, "k0", 2],
      [1, 1, T0 - 3, -3, null, null],
      [2, 2, T0, 0, null, 1],
    ]);
    expect(reader.next()).toBe(false); // and stays done
    expect(Object.isFrozen(NO_HEADERS)).toBe(true);
  });

  test("a record that does not fit is refused with INVALID_RECORD at the byte where it starts", () => {
    const bytes = encodeBatch([{ value: "a" }, { value: "b" }]);
    const lying = bytes.slice();
    lying[RECORDS_OFFSET] = 0x7e; // first record's length: zigzag 63, past the batch end
    reseal(lying);
    const reader = new RecordReader(lying, 0, checkBatch(lying, 0));
    const e = batchError(() => reader.next());
    expect(e.code).toBe(ErrorCode.INVALID_RECORD);
    expect(e.position).toBe(RECORDS_OFFSET);
    expect(e.message).toContain("record 0");
  });

  test("bytes left after the last record are refused when the reader reaches the end", () => {
    const bytes = encodeBatch([{ value: "a" }, { value: "b" }]);
    const short = bytes.slice();
    writeI32(short, RECORD_COUNT_OFFSET, 1); // claims one record, holds two
    reseal(short);
    const reader = new RecordReader(short, 0, checkBatch(short, 0));
    expect(reader.next()).toBe(true);
    expect(batchError(() => reader.next()).message).toContain("bytes after the last record");
  });

  test("checkBatch: framing, magic and record count always; the CRC unless told not to", () => {
    const bytes = encodeBatch([{ value: "abc" }]);
    expect(checkBatch(bytes, 0)).toBe(bytes.length);
    const flipped = bytes.slice();
    flipped[flipped.length - 1] ^= 1;
    expect(batchError(() => checkBatch(flipped, 0)).code).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(checkBatch(flipped, 0, false)).toBe(bytes.length); // a trusting reader takes it as it is
    const magic = flipped.slice();
    magic[MAGIC_OFFSET] = 1;
    expect(batchError(() => checkBatch(magic, 0, false)).code).toBe(ErrorCode.INVALID_RECORD);
    const count = flipped.slice();
    writeI32(count, RECORD_COUNT_OFFSET, -1);
    expect(batchError(() => checkBatch(count, 0, false)).position).toBe(RECORD_COUNT_OFFSET);
    expect(batchError(() => checkBatch(bytes.subarray(0, bytes.length - 1), 0, false)).code).toBe(ErrorCode.CORRUPT_MESSAGE);
  });

  test("forEachRecord: offsets stay right when deltas do not run one by one, timestamps when deltas repeat and change", () => {
    const stamps = [T0, T0, T0 + 5, T0 + 5, T0, T0 - 2, T0 - 2];
    const bytes = encodeBatch(stamps.map((timestamp, i) => ({ value: `v${i}`, timestamp })), { baseOffset: 1_000n });
    // Rewrite the third record's offset delta 2 -> 5 (same varint size; validateBatch would refuse it, decoding must not guess).
    let pos = RECORDS_OFFSET;
    for (let i = 0; i < 2; i++) pos += 1 + (bytes[pos] >>> 1); // one-byte lengths
    expect(bytes[pos + 3]).toBe(2 << 1); // length, attributes, timestamp delta, offset delta
    bytes[pos + 3] = 5 << 1;
    reseal(bytes);
    const records = decodeBatch(bytes).records;
    expect(records.map((r) => r.offset)).toEqual([1000n, 1001n, 1005n, 1003n, 1004n, 1005n, 1006n]);
    expect(records.map((r) => r.timestamp)).toEqual(stamps.map(BigInt));
    expect(records[0].headers).toBe(NO_HEADERS);
  });

  test("forEachRecord keeps timestamps beyond 2^53 exact (bigint arithmetic where numbers would round)", () => {
    const bytes = encodeBatch([{ value: "a" }, { value: "b" }], { firstTimestamp: 0 });
    // first timestamp 2^60 + 1, second record's delta +1 (the second record's timestamp delta byte is rewritten).
    const first = (1n << 60n) + 1n;
    for (let i = 0; i < 8; i++) bytes[27 + i] = Number((first >> BigInt(56 - 8 * i)) & 0xffn);
    const secondStart = RECORDS_OFFSET + 1 + (bytes[RECORDS_OFFSET] >>> 1);
    bytes[secondStart + 2] = 1 << 1;
    reseal(bytes);
    expect(decodeBatch(bytes).records.map((r) => r.timestamp)).toEqual([first, first + 1n]);
  });
});

// An independent implementation: kafkajs's RecordBatch v2 encoder and decoder.
describe("interoperability with kafkajs", () => {
  const require = createRequire(import.meta.url);
  // biome-ignore lint: untyped CommonJS modules of a dev dependency
  const { RecordBatch } = require("kafkajs/src/protocol/recordBatch/v0/index.js") as any;
  const Record = require("kafkajs/src/protocol/recordBatch/record/v0/index.js") as any;
  const Decoder = require("kafkajs/src/protocol/decoder.js") as any;
  const decodeKafkajsBatch = require("kafkajs/src/protocol/recordBatch/v0/decoder.js") as any;
  const Types = (require("kafkajs/src/protocol/message/compression/index.js") as any).Types;

  async function kafkajsBatch(compression: number): Promise<Uint8Array> {
    const records = [
      Record({ offsetDelta: 0, timestampDelta: 0, key: Buffer.from("key-0"), value: Buffer.from("value-0"), headers: { h1: Buffer.from("x") } }),
      Record({ offsetDelta: 1, timestampDelta: 250, key: null, value: Buffer.from("välue-1 ✓"), headers: {} }),
      Record({ offsetDelta: 2, timestampDelta: 1000, key: Buffer.from("key-2"), value: Buffer.alloc(3000, 7), headers: { a: Buffer.from("1"), b: Buffer.from("2") } }),
    ];
    const encoder = await RecordBatch({
      compression,
      firstOffset: 100,
      firstTimestamp: T0,
      maxTimestamp: T0 + 1000,
      lastOffsetDelta: 2,
      records,
    });
    const buf: Buffer = encoder.buffer;
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  test("our validator accepts kafkajs's CRC and our decoder reads its records", async () => {
    const bytes = await kafkajsBatch(Types.None);
    const s = validateBatch(bytes, 0, bytes.length, BATCH_BYTES_MAX);
    expect(s.recordCount).toBe(3);
    expect(s.maxTimestamp).toBe(T0 + 1000);
    const { header, records } = decodeBatch(bytes);
    expect(header.baseOffset).toBe(100n);
    expect(records.map((r) => r.offset)).toEqual([100n, 101n, 102n]);
    expect(records.map((r) => r.timestamp)).toEqual([T0, T0 + 250, T0 + 1000].map(BigInt));
    expect(str(records[0].key)).toBe("key-0");
    expect(records[1].key).toBeNull();
    expect(str(records[1].value)).toBe("välue-1 ✓");
    expect(records[2].value!.length).toBe(3000);
    expect(records[2].headers.map(([k, v]) => [k, str(v)])).toEqual([["a", "1"], ["b", "2"]]);
    expect(str(records[0].headers[0][1])).toBe("x");
  });

  test("a kafkajs gzip batch validates and decodes", async () => {
    const bytes = await kafkajsBatch(Types.GZIP);
    expect(bytes[ATTRIBUTES_OFFSET + 1] & 7).toBe(Compression.GZIP);
    expect(validateBatch(bytes, 0, bytes.length, BATCH_BYTES_MAX).recordCount).toBe(3);
    expect(decodeBatch(bytes).records.map((r) => str(r.key))).toEqual(["key-0", null, "key-2"]);
  });

  test("kafkajs's decoder reads our batches", async () => {
    const bytes = encodeBatch(
      [
        { key: "k0", value: "v0", headers: { trace: "abc" }, timestamp: T0 },
        { key: null, value: "ünï", timestamp: T0 + 42 },
        { key: "k2", value: null, timestamp: T0 + 43 },
      ],
      { baseOffset: 500 },
    );
    const batch = await decodeKafkajsBatch(new Decoder(Buffer.from(bytes)));
    expect(batch.firstOffset).toBe("500");
    expect(batch.lastOffsetDelta).toBe(2);
    expect(batch.maxTimestamp).toBe(String(T0 + 43));
    const recs = batch.records;
    expect(recs.map((r: any) => r.offset)).toEqual(["500", "501", "502"]);
    expect(recs.map((r: any) => r.timestamp)).toEqual([T0, T0 + 42, T0 + 43].map(String));
    expect(recs[0].key.toString()).toBe("k0");
    expect(recs[0].headers.trace.toString()).toBe("abc");
    expect(recs[1].key).toBeNull();
    expect(recs[1].value.toString()).toBe("ünï");
    expect(recs[2].value).toBeNull();
    // and the CRC we wrote is the one kafkajs computes
    const kafkajsCrc = require("kafkajs/src/protocol/recordBatch/crc32C/index.js") as any;
    expect(kafkajsCrc(Buffer.from(bytes.subarray(ATTRIBUTES_OFFSET))) >>> 0).toBe(readU32(bytes, CRC_OFFSET));
    expect(readI32(bytes, BATCH_LENGTH_OFFSET)).toBe(bytes.length - BATCH_OVERHEAD_BYTES);
  });
});
