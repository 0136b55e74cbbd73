// How the message browser shows a field: JSON pretty-printed, text as text
// (markup included, as characters), binary as hex, long values cut at the
// preview bound without splitting a character; the filter matches the
// field's own text.

import { describe, expect, test } from "bun:test";
import { fieldMatches, hex, viewField } from "./record_view.ts";

const enc = (s: string) => new TextEncoder().encode(s);

describe("viewField", () => {
  test("null stays null", () => {
    expect(viewField(null)).toBeNull();
  });

  test("a JSON object or array is pretty-printed; a JSON scalar is text", () => {
    expect(viewField(enc('{"a":[1,2]}'))).toEqual({ kind: "json", size: 11, text: '{\n  "a": [\n    1,\n    2\n  ]\n}', truncated: false });
    expect(viewField(enc("42"))!.kind).toBe("text");
    expect(viewField(enc("{not json"))!.kind).toBe("text");
  });

  test("markup is text, kept character for character", () => {
    const v = viewField(enc("<script>alert(1)</script>"))!;
    expect(v.kind).toBe("text");
    expect(v.text).toBe("<script>alert(1)</script>");
  });

  test("bytes that are not UTF-8, or hold control characters, are hex", () => {
    expect(viewField(new Uint8Array([0xff, 0x00, 0x10]))).toEqual({ kind: "binary", size: 3, text: "ff 00 10", truncated: false });
    expect(viewField(enc("a\u0001b"))!.kind).toBe("binary");
    expect(viewField(enc("tab\tand\nnewline"))!.kind).toBe("text");
  });

  test("a long value is cut at the bound, never inside a character, and never taken for JSON", () => {
    const v = viewField(enc("ééééé"), 5)!; // 10 bytes; 5 would split the third é
    expect(v).toEqual({ kind: "text", size: 10, text: "éé", truncated: true });
    const j = viewField(enc('{"a":1,"b":2}'), 6)!;
    expect(j.kind).toBe("text");
    expect(j.truncated).toBe(true);
  });

  test("hex of every byte value", () => {
    expect(hex(new Uint8Array([0, 9, 10, 255]))).toBe("00 09 0a ff");
  });
});

describe("fieldMatches", () => {
  test("case-insensitive on the field's own text, not its pretty form", () => {
    expect(fieldMatches(enc('{"user":"Ana"}'), '"user":"ana"')).toBe(true);
    expect(fieldMatches(enc("Hello"), "xyz")).toBe(false);
    expect(fieldMatches(null, "a")).toBe(false);
  });
});
