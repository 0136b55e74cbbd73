import { describe, expect, test } from "bun:test";
import { Reader, StringCache, Writer } from "./codec.ts";
import { ErrorCode, SluiceError } from "./errors.ts";
import { ARRAY_LENGTH_MAX, STRING_FIELD_BYTES_MAX } from "./limits.ts";
import { sluiceError } from "./testing/sluice_error.ts";

describe("Writer", () => {
  test("writes big-endian primitives, String and Bytes as the grammar says (fixture bytes)", () => {
    const w = new Writer({ initialBytes: 16 });
    w.writeI8(-1).writeI16(-2).writeU16(0xfffe).writeI32(-3).writeU32(0xfffffffd).writeI64(-4n).writeI64Number(2 ** 40);
    w.writeString("hé").writeString(null).writeBytes(new Uint8Array([9, 8])).writeBytes(null).writeArrayCount(3);
    expect([...w.finish()]).toEqual([
      0xff,
      0xff, 0xfe,
      0xff, 0xfe,
      0xff, 0xff, 0xff, 0xfd,
      0xff, 0xff, 0xff, 0xfd,
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfc,
      0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x03, 0x68, 0xc3, 0xa9, // "hé" is 3 UTF-8 bytes
      0xff, 0xff,
      0x00, 0x00, 0x00, 0x02, 9, 8,
      0xff, 0xff, 0xff, 0xff,
      0x00, 0x00, 0x00, 0x03,
    ]);
  });

  test("grows past its initial size and reset() keeps the memory", () => {
    const w = new Writer({ initialBytes: 16 });
    const big = new Uint8Array(10_000).fill(5);
    w.writeRaw(big);
    expect(w.length).toBe(10_000);
    const cap = w.capacity;
    expect(cap).toBeGreaterThanOrEqual(10_000);
    w.reset();
    expect(w.length).toBe(0);
    w.writeI32(1);
    expect(w.capacity).toBe(cap);
    expect([...w.finish()]).toEqual([0, 0, 0, 1]);
  });

  test("reserveI32/patchI32 fill in a size later; patching outside the written bytes is refused", () => {
    const w = new Writer();
    const at = w.reserveI32();
    w.writeI16(7);
    w.patchI32(at, w.length - 4);
    expect([...w.finish()]).toEqual([0, 0, 0, 2, 0, 7]);
    expect(() => w.patchI32(4, 1)).toThrow(RangeError);
  });

  test("refuses strings over the i16 limit and array counts over ARRAY_LENGTH_MAX", () => {
    const w = new Writer();
    expect(sluiceError(() => w.writeString("x".repeat(STRING_FIELD_BYTES_MAX + 1))).code).toBe(ErrorCode.INVALID_REQUEST);
    w.reset();
    w.writeString("x".repeat(STRING_FIELD_BYTES_MAX)); // exactly at the limit is fine
    expect(new Reader(w.finish()).readString("s")!.length).toBe(STRING_FIELD_BYTES_MAX);
    expect(() => w.writeArrayCount(ARRAY_LENGTH_MAX + 1)).toThrow(SluiceError);
    expect(() => w.writeArrayCount(-1)).toThrow(SluiceError);
  });
});

describe("Reader", () => {
  function sample(): Uint8Array {
    return new Writer()
      .writeI16(5)
      .writeString("topic")
      .writeBytes(new Uint8Array([1, 2, 3]))
      .writeI64(123456789012345n)
      .writeArrayCount(2)
      .writeI32(10)
      .writeI32(20)
      .finish()
      .slice();
  }

  test("round trip of every primitive", () => {
    const r = new Reader(sample());
    expect(r.readI16("acks")).toBe(5);
    expect(r.readString("name")).toBe("topic");
    const bytes = r.readBytes("records")!;
    expect([...bytes]).toEqual([1, 2, 3]);
    expect(r.readI64("offset")).toBe(123456789012345n);
    const n = r.readArrayCount("partitions", 4);
    expect(n).toBe(2);
    expect([r.readI32("p"), r.readI32("p")]).toEqual([10, 20]);
    r.expectEnd("request");
    expect(r.remaining).toBe(0);
  });

  test("bytes are views of the input, not copies", () => {
    const input = sample();
    const r = new Reader(input);
    r.readI16("a");
    r.readString("b");
    expect(r.readBytes("c")!.buffer).toBe(input.buffer);
  });

  test("truncated at every length throws INVALID_REQUEST naming the field", () => {
    const input = sample();
    const fields = ["acks", "name", "records", "offset", "partitions", "p", "p"];
    for (let n = 0; n < input.length; n++) {
      const r = new Reader(input, 0, n);
      const e = sluiceError(() => {
        r.readI16("acks");
        r.readString("name");
        r.readBytes("records");
        r.readI64("offset");
        r.readArrayCount("partitions", 4);
        r.readI32("p");
        r.readI32("p");
      });
      expect(e.code).toBe(ErrorCode.INVALID_REQUEST);
      expect(e.message).toMatch(/^truncated /);
      expect(fields.some((f) => e.message.includes(f))).toBe(true);
    }
  });

  test("reads a range inside a larger array and never past its end", () => {
    const input = new Uint8Array([0xaa, 0, 1, 0, 2, 0xbb]);
    const r = new Reader(input, 1, 5);
    expect(r.readI16("x")).toBe(1);
    expect(r.readI16("y")).toBe(2);
    expect(() => r.readI8("z")).toThrow("truncated z");
    expect(() => new Reader(input, 2, 7)).toThrow(RangeError);
  });

  test("a huge declared length is refused before anything is allocated", () => {
    const r = new Reader(new Uint8Array([0x7f, 0xff, 0xff, 0xff, 1, 2]));
    const e = sluiceError(() => r.readBytes("records"));
    expect(e.code).toBe(ErrorCode.INVALID_REQUEST);
    expect(e.message).toContain("records");
    const s = new Reader(new Uint8Array([0x7f, 0xff, 0x61]));
    expect(sluiceError(() => s.readString("topic")).message).toContain("truncated topic");
  });

  test("negative lengths other than -1 and null where not allowed", () => {
    expect(sluiceError(() => new Reader(new Uint8Array([0xff, 0xfe])).readString("name")).message).toContain("length -2");
    expect(sluiceError(() => new Reader(new Uint8Array([0xff, 0xff, 0xff, 0xfe])).readBytes("v")).message).toContain("length -2");
    expect(sluiceError(() => new Reader(new Uint8Array([0xff, 0xff])).readStringNotNull("name")).message).toContain("name is null");
  });

  test("array counts: negative, over the limit, or more entries than bytes left", () => {
    const count = (n: number, tail = 0) => {
      const w = new Writer().writeI32(n);
      for (let i = 0; i < tail; i++) w.writeI8(0);
      return new Reader(w.finish().slice());
    };
    expect(sluiceError(() => count(-1).readArrayCount("topics")).message).toContain("topics count -1");
    expect(sluiceError(() => count(ARRAY_LENGTH_MAX + 1).readArrayCount("topics")).code).toBe(ErrorCode.INVALID_REQUEST);
    expect(sluiceError(() => count(10, 9).readArrayCount("topics")).message).toContain("truncated topics");
    expect(sluiceError(() => count(3, 11).readArrayCount("partitions", 4)).message).toContain("partitions");
    expect(count(3, 12).readArrayCount("partitions", 4)).toBe(3);
    expect(sluiceError(() => count(5, 100).readArrayCount("ids", 1, 4)).message).toContain("outside 0..4");
  });

  test("i64 as a number refuses values beyond 2^53; expectEnd names trailing bytes", () => {
    const r = new Reader(new Writer().writeI64(2n ** 60n).writeI8(1).finish().slice());
    expect(() => r.readI64Number("offset")).toThrow("beyond 2^53");
    expect(() => r.expectEnd("fetch request")).toThrow("1 unexpected bytes after fetch request");
    const rest = new Reader(new Uint8Array([1, 2, 3]), 1);
    expect([...rest.readRest()]).toEqual([2, 3]);
    expect(rest.remaining).toBe(0);
  });
});

describe("StringCache", () => {
  test("the same bytes give the same string; different bytes of the same length do not collide", () => {
    const cache = new StringCache(2);
    const enc = new TextEncoder();
    const frame = new Uint8Array(64);
    frame.set(enc.encode("orders"), 3);
    const first = cache.read(frame, 3, 9);
    expect(first).toBe("orders");
    // The frame buffer is reused for the next request: the cache kept a copy of the bytes.
    frame.set(enc.encode("orderz"), 3);
    expect(cache.read(frame, 3, 9)).toBe("orderz");
    frame.set(enc.encode("orders"), 3);
    expect(cache.read(frame, 3, 9)).toBe("orders");
    // Evicted (size 2), then read again: still the right string.
    cache.read(enc.encode("a"), 0, 1);
    cache.read(enc.encode("b"), 0, 1);
    expect(cache.read(frame, 3, 9)).toBe("orders");
    expect(cache.read(enc.encode("héllo"), 0, 6)).toBe("héllo");
  });

  test("Reader.readStringNotNull with a cache refuses null and over-long strings like without", () => {
    const w = new Writer();
    w.writeString(null);
    expect(() => new Reader(w.finish()).readStringNotNull("name", new StringCache())).toThrow(/name is null/);
    const bad = new Uint8Array([0x7f, 0xff]);
    expect(() => new Reader(bad).readStringNotNull("name", new StringCache())).toThrow();
  });
});
