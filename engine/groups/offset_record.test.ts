import { describe, expect, test } from "bun:test";
import { encode } from "@msgpack/msgpack";
import { decodeOffsetRecord, encodeOffsetKey, encodeOffsetValue } from "./offset_record.ts";

describe("offset record", () => {
  test("round trip of key (group, topic, partition) and value {offset, metadata, timestamp}", () => {
    const key = encodeOffsetKey("g", "orders", 7);
    const value = encodeOffsetValue({ offset: 2 ** 40, metadata: "ü", timestampMs: 1_700_000_000_000 });
    expect(decodeOffsetRecord(key, value)).toEqual({
      groupId: "g",
      entry: { topic: "orders", partition: 7, offset: 2 ** 40, metadata: "ü", timestampMs: 1_700_000_000_000 },
    });
  });

  test("fixture bytes: the key is a MessagePack array of three", () => {
    expect([...encodeOffsetKey("g", "t", 1)]).toEqual([0x93, 0xa1, 0x67, 0xa1, 0x74, 0x01]);
  });

  test("records it cannot read are reported, not thrown", () => {
    expect(typeof decodeOffsetRecord(null, new Uint8Array(1))).toBe("string");
    expect(typeof decodeOffsetRecord(new Uint8Array([0xc1]), new Uint8Array([0xc0]))).toBe("string");
    expect(typeof decodeOffsetRecord(encode(["g", "t", -1]), encodeOffsetValue({ offset: 1, metadata: "", timestampMs: 0 }))).toBe("string");
    expect(typeof decodeOffsetRecord(encodeOffsetKey("g", "t", 0), encode({ offset: -5, metadata: "", timestamp: 0 }))).toBe("string");
  });
});
