import { describe, expect, test } from "bun:test";
import { ErrorCode, SluiceError } from "./errors.ts";
import {
  readVarint,
  readVarlong,
  readVarlongBig,
  varintSize,
  varlongSize,
  writeVarint,
  writeVarlong,
  writeVarlongBig,
} from "./varint.ts";
import { sluiceError } from "./testing/sluice_error.ts";

function bytes(...b: number[]): Uint8Array {
  return Uint8Array.from(b);
}

function encodeVarint(v: number): Uint8Array {
  const buf = new Uint8Array(5);
  return buf.subarray(0, writeVarint(buf, 0, v));
}

function encodeVarlong(v: number): Uint8Array {
  const buf = new Uint8Array(10);
  return buf.subarray(0, writeVarlong(buf, 0, v));
}

describe("varint (zigzag int32)", () => {
  test("fixture encodings from the Kafka record format", () => {
    expect(encodeVarint(0)).toEqual(bytes(0x00));
    expect(encodeVarint(-1)).toEqual(bytes(0x01));
    expect(encodeVarint(1)).toEqual(bytes(0x02));
    expect(encodeVarint(63)).toEqual(bytes(0x7e));
    expect(encodeVarint(-64)).toEqual(bytes(0x7f));
    expect(encodeVarint(64)).toEqual(bytes(0x80, 0x01));
    expect(encodeVarint(300)).toEqual(bytes(0xd8, 0x04));
    expect(encodeVarint(2147483647)).toEqual(bytes(0xfe, 0xff, 0xff, 0xff, 0x0f));
    expect(encodeVarint(-2147483648)).toEqual(bytes(0xff, 0xff, 0xff, 0xff, 0x0f));
  });

  test("round trips and sizes agree at every size boundary", () => {
    const values = [0, 1, -1, 63, 64, -64, -65, 8191, 8192, -8193, 1048575, 1048576, 134217727, 134217728, 2147483647, -2147483648];
    for (const v of values) {
      const enc = encodeVarint(v);
      expect(enc.length).toBe(varintSize(v));
      const cur = { pos: 0 };
      expect(readVarint(enc, cur, enc.length)).toBe(v);
      expect(cur.pos).toBe(enc.length);
    }
  });

  test("reads at an offset and stops at the end of the value", () => {
    const buf = bytes(0xaa, 0xd8, 0x04, 0x02, 0xbb);
    const cur = { pos: 1 };
    expect(readVarint(buf, cur, buf.length)).toBe(300);
    expect(readVarint(buf, cur, buf.length)).toBe(1);
    expect(cur.pos).toBe(4);
  });

  test("truncated input throws CORRUPT_MESSAGE naming the start byte, at every cut", () => {
    const enc = encodeVarint(2147483647);
    for (let end = 0; end < enc.length; end++) {
      const e = sluiceError(() => readVarint(enc, { pos: 0 }, end));
      expect(e.code).toBe(ErrorCode.CORRUPT_MESSAGE);
      expect(e.message).toContain("truncated varint at byte 0");
    }
  });

  test("the end bound is honoured even when the array continues", () => {
    const buf = bytes(0x80, 0x01);
    expect(() => readVarint(buf, { pos: 0 }, 1)).toThrow(SluiceError);
  });

  test("a sixth byte or extra bits in the fifth byte are rejected", () => {
    expect(sluiceError(() => readVarint(bytes(0xff, 0xff, 0xff, 0xff, 0x10), { pos: 0 }, 5)).message).toContain("longer");
    expect(sluiceError(() => readVarint(bytes(0xff, 0xff, 0xff, 0xff, 0x8f, 0x01), { pos: 0 }, 6)).code).toBe(
      ErrorCode.CORRUPT_MESSAGE,
    );
  });

  test("writer refuses non-int32 values and a full buffer", () => {
    expect(() => writeVarint(new Uint8Array(5), 0, 2 ** 31)).toThrow(RangeError);
    expect(() => writeVarint(new Uint8Array(5), 0, 1.5)).toThrow(RangeError);
    expect(() => writeVarint(new Uint8Array(1), 0, 64)).toThrow(RangeError);
  });
});

describe("varlong (zigzag int64)", () => {
  test("fixture encodings", () => {
    expect(encodeVarlong(0)).toEqual(bytes(0x00));
    expect(encodeVarlong(-1)).toEqual(bytes(0x01));
    expect(encodeVarlong(2 ** 31)).toEqual(bytes(0x80, 0x80, 0x80, 0x80, 0x10));
    expect(encodeVarlong(-(2 ** 31) - 1)).toEqual(bytes(0x81, 0x80, 0x80, 0x80, 0x10));
    // 1_700_000_000_000 (a timestamp in ms): zigzag 3_400_000_000_000
    const ts = encodeVarlong(1_700_000_000_000);
    expect(ts.length).toBe(6);
    expect(readVarlong(ts, { pos: 0 }, ts.length)).toBe(1_700_000_000_000);
  });

  test("round trips across the safe range, sizes agree", () => {
    const values = [0, 1, -1, 63, 64, -65, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 32, -(2 ** 32),
      2 ** 35 - 1, 2 ** 35, 2 ** 42, 2 ** 49, 2 ** 52, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 1_700_000_000_123, -1_700_000_000_123];
    for (const v of values) {
      const enc = encodeVarlong(v);
      expect(enc.length).toBe(varlongSize(v));
      const cur = { pos: 0 };
      expect(readVarlong(enc, cur, enc.length)).toBe(v);
      expect(cur.pos).toBe(enc.length);
      expect(readVarlongBig(enc, { pos: 0 }, enc.length)).toBe(BigInt(v));
    }
  });

  test("bigint writer covers the full i64 range; the number reader refuses values beyond 2^53", () => {
    const buf = new Uint8Array(10);
    for (const v of [2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n, -(2n ** 53n) - 1n, 0n, -1n]) {
      const n = writeVarlongBig(buf, 0, v);
      expect(readVarlongBig(buf, { pos: 0 }, n)).toBe(v);
    }
    expect(writeVarlongBig(buf, 0, 2n ** 63n - 1n)).toBe(10);
    expect([...buf.subarray(0, 10)]).toEqual([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    const n = writeVarlongBig(buf, 0, 2n ** 53n);
    expect(sluiceError(() => readVarlong(buf, { pos: 0 }, n)).code).toBe(ErrorCode.CORRUPT_MESSAGE);
  });

  test("truncated at every cut and overlong encodings are rejected", () => {
    const enc = encodeVarlong(Number.MAX_SAFE_INTEGER);
    for (let end = 0; end < enc.length; end++) {
      expect(sluiceError(() => readVarlong(enc, { pos: 0 }, end)).message).toContain("truncated varlong at byte 0");
    }
    const eleven = bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x01);
    expect(sluiceError(() => readVarlongBig(eleven, { pos: 0 }, eleven.length)).message).toContain("longer");
    const tenthTooBig = bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02);
    expect(sluiceError(() => readVarlongBig(tenthTooBig, { pos: 0 }, 10)).code).toBe(ErrorCode.CORRUPT_MESSAGE);
  });

  test("writer refuses unsafe numbers", () => {
    expect(() => writeVarlong(new Uint8Array(10), 0, 2 ** 60)).toThrow(RangeError);
  });
});
