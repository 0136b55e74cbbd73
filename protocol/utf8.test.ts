import { describe, expect, test } from "bun:test";
import { utf8Length, utf8LengthMax, utf8Read, utf8Write } from "./utf8.ts";

const samples = ["", "ascii", "é", "€uro", "🎉", "a🎉b", "\ud800", "\udc00x", "x\ud800\ud800", "ключ", "x".repeat(64), "é".repeat(65), "mixed 🎉 ünï ✓ ".repeat(10)];

describe("utf8", () => {
  test("utf8Length equals the encoder's byte count, lone surrogates included", () => {
    for (const s of samples) expect(utf8Length(s)).toBe(new TextEncoder().encode(s).length);
  });

  test("utf8Write writes what TextEncoder writes, within utf8LengthMax, at an offset", () => {
    for (const s of samples) {
      const buf = new Uint8Array(3 + utf8LengthMax(s));
      const n = utf8Write(buf, 3, s);
      expect([...buf.subarray(3, 3 + n)]).toEqual([...new TextEncoder().encode(s)]);
    }
  });

  test("utf8Read decodes ranges on the short ASCII path and the decoder path, shared memory too", () => {
    for (const s of samples) {
      const bytes = new TextEncoder().encode(s);
      const shared = new Uint8Array(new SharedArrayBuffer(bytes.length + 2));
      shared.set(bytes, 1);
      const expected = new TextDecoder().decode(bytes);
      expect(utf8Read(shared, 1, 1 + bytes.length)).toBe(expected);
      expect(utf8Read(bytes, 0, bytes.length)).toBe(expected);
    }
  });
});
