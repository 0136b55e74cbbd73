import { describe, expect, test } from "bun:test";
import { INDEX_HEADER_BYTES, IndexKind, decodeIndexHeader, encodeIndexFile, indexEntriesIntact } from "./index_file.ts";
import { OFFSET_INDEX_ENTRY_BYTES, OffsetIndex } from "./segment_index.ts";
import { TIME_INDEX_ENTRY_BYTES, TimeIndex } from "./time_index.ts";

describe("OffsetIndex", () => {
  test("floor lookups by offset and by position, across growth", () => {
    const oi = new OffsetIndex(2);
    for (let i = 0; i < 1000; i++) oi.append(i * 10, i * 4096);
    expect(oi.count).toBe(1000);
    expect(oi.floorByOffset(0)).toBe(0);
    expect(oi.floorByOffset(9)).toBe(0);
    expect(oi.floorByOffset(10)).toBe(1);
    expect(oi.floorByOffset(99_999)).toBe(999);
    expect(oi.floorByPosition(4095)).toBe(0);
    expect(oi.floorByPosition(4096 * 500 + 1)).toBe(500);
    expect(new OffsetIndex().floorByOffset(5)).toBe(-1);
  });

  test("entries must increase in both columns", () => {
    const oi = new OffsetIndex();
    oi.append(0, 0);
    expect(() => oi.append(0, 10)).toThrow();
    expect(() => oi.append(5, 0)).toThrow();
    expect(() => oi.append(2 ** 32, 10)).toThrow();
  });

  test("file form round-trips; damaged entries are detected", () => {
    const oi = new OffsetIndex();
    for (let i = 0; i < 50; i++) oi.append(i * 3, i * 100);
    const summary = { baseOffset: 1000, nextOffset: 1150, logBytes: 5000, maxTimestamp: 1_700_000_000_000 };
    const file = encodeIndexFile(IndexKind.OFFSET, summary, OFFSET_INDEX_ENTRY_BYTES, oi.encodeEntries());
    const expect_ = { kind: IndexKind.OFFSET, entryBytes: OFFSET_INDEX_ENTRY_BYTES, baseOffset: 1000, fileBytes: file.length };
    const h = decodeIndexHeader(file, expect_);
    if (typeof h === "string") throw new Error(h);
    expect(h).toMatchObject({ ...summary, entryCount: 50 });
    expect(indexEntriesIntact(file, h)).toBe(true);
    const back = OffsetIndex.decodeEntries(file, INDEX_HEADER_BYTES, h.entryCount) as OffsetIndex;
    expect(back.positionAt(49)).toBe(4900);
    // one flipped bit anywhere is caught by a CRC or a check
    for (let at = 0; at < file.length; at += 7) {
      const bad = file.slice();
      bad[at] ^= 0x10;
      const hb = decodeIndexHeader(bad, expect_);
      expect(typeof hb === "string" || !indexEntriesIntact(bad, hb)).toBe(true);
    }
    expect(decodeIndexHeader(file, { ...expect_, baseOffset: 999 })).toContain("base offset");
    expect(decodeIndexHeader(file.subarray(0, file.length - 1), { ...expect_, fileBytes: file.length - 1 })).toContain("entries");
    expect(decodeIndexHeader(file, { ...expect_, kind: IndexKind.TIME })).toContain("kind");
  });
});

describe("TimeIndex", () => {
  test("lastBelow over a running maximum with repeats", () => {
    const ti = new TimeIndex(2);
    const ts = [100, 100, 200, 200, 200, 500];
    ts.forEach((t, i) => ti.append(t, i * 10));
    expect(ti.lastBelow(100)).toBe(-1);
    expect(ti.lastBelow(101)).toBe(1);
    expect(ti.lastBelow(200)).toBe(1);
    expect(ti.lastBelow(201)).toBe(4);
    expect(ti.lastBelow(10_000)).toBe(5);
    expect(() => ti.append(400, 100)).toThrow(); // the running max cannot go down
  });

  test("file form round-trips, negative timestamps included", () => {
    const ti = new TimeIndex();
    ti.append(-1, 0);
    ti.append(1_700_000_000_123, 7);
    const entries = ti.encodeEntries();
    expect(entries.length).toBe(2 * TIME_INDEX_ENTRY_BYTES);
    const back = TimeIndex.decodeEntries(entries, 0, 2) as TimeIndex;
    expect(back.timestampAt(0)).toBe(-1);
    expect(back.timestampAt(1)).toBe(1_700_000_000_123);
    expect(back.relOffsetAt(1)).toBe(7);
  });
});
