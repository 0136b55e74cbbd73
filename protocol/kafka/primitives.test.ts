import { describe, expect, test } from "bun:test";
import { ErrorCode } from "../errors.ts";
import {
  KAFKA_ARRAY_LENGTH_MAX,
  KAFKA_REQUEST_ENTRIES_MAX,
  KAFKA_STRING_BYTES_MAX,
  KAFKA_TAGGED_FIELDS_MAX,
} from "../limits.ts";
import { KafkaDecodeReason } from "./decode_error.ts";
import { KafkaReader } from "./reader.ts";
import { decodeError, fromHex, toHex } from "./testing/helpers.ts";
import { KafkaWriter, VIEW_COPY_BYTES_MAX } from "./writer.ts";

const hex = toHex;
const bytes = fromHex;

/** Writes one of every primitive; the same sequence is read back by readAll. */
function writeAll(w: KafkaWriter): void {
  w.int8(-2).bool(true).int16(-300).uint16(65000).int32(-70000).uint32(0xfffffff0).int64(-(2n ** 62n)).int64Number(2 ** 52);
  w.float64(1.5).uuid(new Uint8Array(16).fill(7)).uvarint(300).varint(-65).varlong(-(2n ** 40n));
  w.string("topic").nullableString(null).nullableString("é").compactString("grüße").compactNullableString(null);
  w.bytesField(new Uint8Array([1, 2])).nullableBytes(null).compactBytes(new Uint8Array([3])).compactNullableBytes(null);
  w.arrayLength(2).int32(10).int32(11).compactArrayLength(-1).compactArrayLength(1).int8(5).arrayLength(-1);
  w.emptyTaggedFields();
}

function readAll(r: KafkaReader): unknown[] {
  return [
    r.int8("i8"),
    r.bool("b"),
    r.int16("i16"),
    r.uint16("u16"),
    r.int32("i32"),
    r.uint32("u32"),
    r.int64("i64"),
    r.int64Number("i64n"),
    r.float64("f64"),
    [...r.uuid("uuid")],
    r.uvarint("uv"),
    r.varint("v"),
    r.varlong("vl"),
    r.string("s"),
    r.nullableString("ns"),
    r.nullableString("ns2"),
    r.compactString("cs"),
    r.compactNullableString("cns"),
    [...r.bytesField("b")],
    r.nullableBytes("nb"),
    [...r.compactBytes("cb")],
    r.compactNullableBytes("cnb"),
    r.arrayLength("a"),
    r.int32("a0"),
    r.int32("a1"),
    r.compactArrayLength("ca", true),
    r.compactArrayLength("ca2"),
    r.int8("ca2.0"),
    r.arrayLength("na", true),
    r.taggedFields("tf"),
  ];
}

const EXPECTED = [
  -2,
  true,
  -300,
  65000,
  -70000,
  0xfffffff0,
  -(2n ** 62n),
  2 ** 52,
  1.5,
  new Array(16).fill(7),
  300,
  -65,
  -(2n ** 40n),
  "topic",
  null,
  "é",
  "grüße",
  null,
  [1, 2],
  null,
  [3],
  null,
  2,
  10,
  11,
  -1,
  1,
  5,
  -1,
  undefined,
];

describe("KafkaWriter and KafkaReader", () => {
  test("every primitive reads back what was written, and the reader ends exactly at the end", () => {
    const w = new KafkaWriter({ initialBytes: 16 });
    writeAll(w);
    const r = new KafkaReader(w.finish());
    expect(readAll(r)).toEqual(EXPECTED);
    r.expectEnd("all");
  });

  test("encodings are Kafka's: compact lengths are n+1, null is 0 or -1, client strings are i16-prefixed", () => {
    const w = new KafkaWriter();
    w.compactString("ab").compactNullableString(null).nullableString(null).string("ab").compactArrayLength(2).compactArrayLength(-1);
    expect(hex(w.finish())).toBe("03" + "6162" + "00" + "ffff" + "0002" + "6162" + "03" + "00");
  });

  test("uvarint is 7 bits per byte, least significant first, up to 32 bits", () => {
    const cases: [number, string][] = [
      [0, "00"],
      [127, "7f"],
      [128, "8001"],
      [300, "ac02"],
      [16383, "ff7f"],
      [16384, "808001"],
      [0xffffffff, "ffffffff0f"],
    ];
    for (const [v, h] of cases) {
      const w = new KafkaWriter();
      w.uvarint(v);
      expect(hex(w.finish())).toBe(h);
      expect(new KafkaReader(bytes(h)).uvarint("x")).toBe(v);
    }
  });

  test("a uvarint over 32 bits is refused with VARINT_TOO_LONG", () => {
    const e = decodeError(() => new KafkaReader(bytes("ffffffff1f")).uvarint("len"));
    expect(e.reason).toBe(KafkaDecodeReason.VARINT_TOO_LONG);
    expect(e.code).toBe(ErrorCode.INVALID_REQUEST);
    expect(e.field).toBe("len");
  });

  test("compact strings whose length+1 crosses 127 and 16383 keep their bytes in place", () => {
    for (const n of [125, 126, 127, 128, 16382, 16383, 16384]) {
      const s = "x".repeat(n);
      const w = new KafkaWriter({ initialBytes: 16 });
      w.int8(9).compactString(s).int8(8);
      const r = new KafkaReader(w.finish());
      expect(r.int8("a")).toBe(9);
      expect(r.compactString("s")).toBe(s);
      expect(r.int8("b")).toBe(8);
      r.expectEnd("s");
    }
  });

  test("a string longer than KAFKA_STRING_BYTES_MAX is refused on both sides", () => {
    const w = new KafkaWriter();
    expect(() => w.compactString("y".repeat(KAFKA_STRING_BYTES_MAX + 1))).toThrow(RangeError);
    // The claimed length is checked before the bytes are looked at: the frame holds only 3 more.
    const claim = new KafkaWriter().uvarint(KAFKA_STRING_BYTES_MAX + 2).raw(new Uint8Array(3)).finish();
    const e = decodeError(() => new KafkaReader(claim).compactString("name"));
    expect(e.reason).toBe(KafkaDecodeReason.OVER_LIMIT);
  });

  test("negative lengths are refused where the field is not nullable", () => {
    expect(decodeError(() => new KafkaReader(bytes("ffff")).string("s")).reason).toBe(KafkaDecodeReason.LENGTH_INVALID);
    expect(decodeError(() => new KafkaReader(bytes("fffe")).nullableString("s")).reason).toBe(KafkaDecodeReason.LENGTH_INVALID);
    expect(decodeError(() => new KafkaReader(bytes("00")).compactString("s")).reason).toBe(KafkaDecodeReason.LENGTH_INVALID);
    expect(decodeError(() => new KafkaReader(bytes("fffffffe")).nullableBytes("b")).reason).toBe(KafkaDecodeReason.LENGTH_INVALID);
    expect(decodeError(() => new KafkaReader(bytes("ffffffff")).arrayLength("a")).reason).toBe(KafkaDecodeReason.LENGTH_INVALID);
    expect(decodeError(() => new KafkaReader(bytes("00")).compactArrayLength("a")).reason).toBe(KafkaDecodeReason.LENGTH_INVALID);
  });

  test("an array count over the limit, or over the bytes left, is refused before any entry is read", () => {
    const over = new KafkaWriter().int32(KAFKA_ARRAY_LENGTH_MAX + 1).finish();
    expect(decodeError(() => new KafkaReader(over).arrayLength("topics")).reason).toBe(KafkaDecodeReason.OVER_LIMIT);
    // 1000 entries of at least 4 bytes cannot fit in 10 bytes.
    const short = new KafkaWriter().uvarint(1001).raw(new Uint8Array(10)).finish();
    const e = decodeError(() => new KafkaReader(short).compactArrayLength("partitions", false, 4));
    expect(e.reason).toBe(KafkaDecodeReason.TRUNCATED);
  });

  test("array entries are charged to one budget per request, which reset() restores", () => {
    const per = 50_000;
    const frame = new Uint8Array(4 + per);
    frame.set([0, 0, 0xc3, 0x50]); // 50_000
    const r = new KafkaReader(frame);
    const rounds = Math.floor(KAFKA_REQUEST_ENTRIES_MAX / per);
    for (let i = 0; i < rounds; i++) {
      r.pos = 0;
      expect(r.arrayLength("a")).toBe(per);
    }
    r.pos = 0;
    expect(decodeError(() => r.arrayLength("a")).reason).toBe(KafkaDecodeReason.OVER_LIMIT);
    r.reset(frame);
    expect(r.arrayLength("a")).toBe(per);
  });

  test("tagged fields: known tags are read within their size, unknown ones skipped, order and count checked", () => {
    // two fields: tag 0 (int32 7, 4 bytes) and tag 5 (3 unknown bytes)
    const w = new KafkaWriter().uvarint(2).uvarint(0).uvarint(4).int32(7).uvarint(5).uvarint(3).raw(bytes("aabbcc")).int8(1);
    const r = new KafkaReader(w.finish());
    const seen: [number, number][] = [];
    r.taggedFields("tf", (tag, sub) => {
      if (tag === 0) seen.push([tag, sub.int32("t0")]);
    });
    expect(seen).toEqual([[0, 7]]);
    expect(r.int8("after")).toBe(1);

    // a handler that reads past its field's size hits the field's end, not the frame's
    const over = new KafkaWriter().uvarint(1).uvarint(0).uvarint(2).int32(7).finish();
    const e = decodeError(() => new KafkaReader(over).taggedFields("tf", (_t, sub) => sub.int32("t0")));
    expect(e.reason).toBe(KafkaDecodeReason.TRUNCATED);

    const desc = new KafkaWriter().uvarint(2).uvarint(3).uvarint(0).uvarint(1).uvarint(0).finish();
    expect(decodeError(() => new KafkaReader(desc).taggedFields("tf")).reason).toBe(KafkaDecodeReason.INVALID_VALUE);
    const many = new KafkaWriter().uvarint(KAFKA_TAGGED_FIELDS_MAX + 1).finish();
    expect(decodeError(() => new KafkaReader(many).taggedFields("tf")).reason).toBe(KafkaDecodeReason.OVER_LIMIT);
  });

  test("truncation at every byte throws TRUNCATED (never another error, never a wrong value)", () => {
    const w = new KafkaWriter();
    writeAll(w);
    const whole = w.finish().slice();
    for (let n = 0; n < whole.length; n++) {
      const r = new KafkaReader(whole.subarray(0, n));
      const e = decodeError(() => readAll(r));
      expect(e.reason).toBe(KafkaDecodeReason.TRUNCATED);
    }
  });

  test("bytes come back as views of the frame, not copies", () => {
    const frame = new KafkaWriter().compactBytes(new Uint8Array([1, 2, 3])).finish().slice();
    const b = new KafkaReader(frame).compactBytes("records");
    expect(b.buffer).toBe(frame.buffer);
    frame[1] = 9;
    expect(b[0]).toBe(9);
  });

  test("appendView splices large views as their own segments and copies small ones", () => {
    const big = new Uint8Array(VIEW_COPY_BYTES_MAX + 1).fill(0xab);
    const small = new Uint8Array([1, 2, 3]);
    const w = new KafkaWriter();
    const at = w.reserveInt32();
    w.int16(7).compactBytes(big).int16(8).bytesField(small).int8(9);
    w.patchInt32(at, w.byteLength - 4);
    const segs = w.segments();
    expect(segs.length).toBe(3);
    expect(segs[1]).toBe(big);
    expect(w.byteLength).toBe(4 + 2 + 2 + big.length + 2 + 4 + 3 + 1);
    const whole = w.finish();
    const r = new KafkaReader(whole);
    expect(r.int32("size")).toBe(whole.length - 4);
    expect(r.int16("a")).toBe(7);
    expect(r.compactBytes("big")).toEqual(big);
    expect(r.int16("b")).toBe(8);
    expect([...r.bytesField("small")]).toEqual([1, 2, 3]);
    expect(r.int8("c")).toBe(9);
    r.expectEnd("frame");
  });

  test("reset() keeps the buffer unless it grew past the retained bound", () => {
    const w = new KafkaWriter({ initialBytes: 64 });
    w.raw(new Uint8Array(10_000));
    const grown = w.capacity;
    w.reset();
    expect(w.capacity).toBe(grown);
    expect(w.length).toBe(0);
    w.raw(new Uint8Array(10_000)).reset(1024);
    expect(w.capacity).toBeLessThanOrEqual(4096);
  });
});
