import { describe, expect, test } from "bun:test";
import { crc32c, crc32cUpdate } from "./crc32c.ts";

// Bit-at-a-time reference: slow but obviously the definition.
function crc32cReference(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

describe("crc32c", () => {
  test("known vectors (RFC 3720 B.4 and the check value)", () => {
    expect(crc32c(new TextEncoder().encode("123456789"))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  test("matches the bit-at-a-time definition for every length 0..100 and random content", () => {
    const data = new Uint8Array(100);
    for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
    for (let n = 0; n <= data.length; n++) {
      expect(crc32c(data.subarray(0, n))).toBe(crc32cReference(data.subarray(0, n)));
    }
  });

  test("every alignment and length around the word path (0..600 bytes, offsets 0..7) matches the definition", () => {
    const backing = new Uint8Array(700);
    for (let i = 0; i < backing.length; i++) backing[i] = (i * 2246822519) >>> 25;
    for (let offset = 0; offset < 8; offset++) {
      for (const n of [0, 1, 15, 16, 17, 255, 256, 257, 271, 272, 300, 511, 512, 600]) {
        const view = backing.subarray(offset, offset + n);
        expect(crc32c(view)).toBe(crc32cReference(view));
        expect(crc32c(backing, offset, offset + n)).toBe(crc32cReference(view));
      }
    }
  });

  test("works on a view over a SharedArrayBuffer", () => {
    const shared = new Uint8Array(new SharedArrayBuffer(1030));
    for (let i = 0; i < shared.length; i++) shared[i] = i & 0xff;
    expect(crc32c(shared, 3, 1027)).toBe(crc32cReference(shared.slice(3, 1027)));
  });

  test("start/end select a range, at unaligned offsets too", () => {
    const data = new Uint8Array(64).map((_, i) => (i * 31 + 7) & 0xff);
    for (const [s, e] of [[0, 64], [1, 63], [3, 40], [7, 8], [10, 10]]) {
      expect(crc32c(data, s, e)).toBe(crc32cReference(data.subarray(s, e)));
    }
  });

  test("incremental update equals one pass over the concatenation", () => {
    const data = new TextEncoder().encode("The quick brown fox jumps over the lazy dog, twice over.");
    const whole = crc32c(data);
    for (let split = 0; split <= data.length; split++) {
      const first = crc32cUpdate(0, data, 0, split);
      expect(crc32cUpdate(first, data, split, data.length)).toBe(whole);
    }
  });

  test("result is unsigned when the top bit is set", () => {
    const v = crc32c(new TextEncoder().encode("123456789"));
    expect(v).toBeGreaterThan(0x7fffffff);
  });

  test("rejects a range outside the array", () => {
    expect(() => crc32c(new Uint8Array(4), 0, 5)).toThrow(RangeError);
    expect(() => crc32c(new Uint8Array(4), 3, 2)).toThrow(RangeError);
  });
});
