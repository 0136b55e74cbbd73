import { describe, expect, test } from "bun:test";
import { emptyPayloadFields, PayloadWriter, PAYLOAD_BYTES_MIN, readPayload } from "./payload.ts";
import { SeqTracker } from "./seq_tracker.ts";

describe("payload", () => {
  test("round-trips producer, seq and intended send time, and the checksum holds", () => {
    const writer = new PayloadWriter({ size: 100, producerId: 7 });
    const bytes = writer.build(123_456, 1_795_000_000_123.25);
    const fields = readPayload(bytes, 0, bytes.length, emptyPayloadFields());
    expect(fields).toEqual({ ok: true, producerId: 7, seq: 123_456, sentAtMs: 1_795_000_000_123.25 });
  });

  test("the log filler: text lines that differ from message to message, and the checksum holds for each", () => {
    const writer = new PayloadWriter({ size: 300, producerId: 3, filler: "log" });
    const texts = new Set<string>();
    for (let seq = 0; seq < 600; seq++) {
      const bytes = writer.build(seq, 1000 + seq);
      expect(readPayload(bytes, 0, bytes.length, emptyPayloadFields())).toEqual({ ok: true, producerId: 3, seq, sentAtMs: 1000 + seq });
      texts.add(new TextDecoder().decode(bytes.subarray(20)));
    }
    expect(texts.size).toBe(256);
    for (const t of texts) expect(t).toMatch(/^[\x20-\x7e\n]+$/);
  });

  test("a flipped bit anywhere in the message fails the checksum", () => {
    const writer = new PayloadWriter({ size: 64, producerId: 1 });
    const original = writer.build(5, 1000);
    for (let i = 0; i < original.length; i++) {
      const bytes = original.slice();
      bytes[i] ^= 0x10;
      expect(readPayload(bytes, 0, bytes.length, emptyPayloadFields()).ok).toBe(false);
    }
  });

  test("a truncated message is rejected, and reading at an offset inside a larger buffer works", () => {
    const writer = new PayloadWriter({ size: PAYLOAD_BYTES_MIN, producerId: 0 });
    const big = new Uint8Array(3 + PAYLOAD_BYTES_MIN + 5);
    writer.writeInto(big, 3, 42, 9.5);
    expect(readPayload(big, 3, 3 + PAYLOAD_BYTES_MIN, emptyPayloadFields())).toMatchObject({ ok: true, seq: 42 });
    expect(readPayload(big, 3, 3 + PAYLOAD_BYTES_MIN - 1, emptyPayloadFields()).ok).toBe(false);
    // One byte longer than written: the checksum covers the whole length, so it fails.
    expect(readPayload(big, 3, 3 + PAYLOAD_BYTES_MIN + 1, emptyPayloadFields()).ok).toBe(false);
  });

  test("sizes and producer ids outside their limits are refused", () => {
    expect(() => new PayloadWriter({ size: PAYLOAD_BYTES_MIN - 1, producerId: 0 })).toThrow(RangeError);
    expect(() => new PayloadWriter({ size: 100, producerId: 1024 })).toThrow(RangeError);
  });
});

describe("SeqTracker", () => {
  test("counts unique and duplicate messages and refuses out-of-range ones", () => {
    const t = new SeqTracker({ seqLimit: 1_000_000 });
    expect(t.record(0, 5)).toBe(true);
    expect(t.record(0, 5)).toBe(true);
    expect(t.record(3, 999_999)).toBe(true);
    expect(t.record(0, 1_000_000)).toBe(false);
    expect(t.record(5000, 1)).toBe(false);
    expect(t.unique).toBe(2);
    expect(t.duplicates).toBe(1);
    expect(t.countSeen(0, 6)).toBe(1);
    expect(t.countSeen(0, 5)).toBe(0);
    expect(t.countSeen(3, 1_000_000)).toBe(1);
  });

  test("merging trackers from several consumers counts each message once", () => {
    const a = new SeqTracker({ seqLimit: 100 });
    const b = new SeqTracker({ seqLimit: 100 });
    for (let s = 0; s < 60; s++) a.record(1, s);
    for (let s = 40; s < 100; s++) b.record(1, s);
    const total = new SeqTracker({ seqLimit: 100 });
    total.merge(a.export());
    total.merge(b.export());
    expect(total.unique).toBe(100);
    expect(total.countSeen(1, 100)).toBe(100);
    expect(total.countSeen(1, 99)).toBe(99);
  });
});

