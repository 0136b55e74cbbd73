// How the message browser shows a key, value or header value: pretty-printed
// JSON when the bytes are UTF-8 that parses as a JSON object or array, plain
// text when they are valid UTF-8 without control characters, hex otherwise.
// At most RECORD_FIELD_PREVIEW_BYTES_MAX bytes are shown (a cut value says so,
// and is never taken for JSON). The page renders `text` as text, never as
// markup: a value holding `<script>` shows as those characters.

import { RECORD_FIELD_PREVIEW_BYTES_MAX } from "./console_limits.ts";

export type FieldView =
  | null
  | {
      kind: "json" | "text" | "binary";
      /** Bytes of the whole field. */
      size: number;
      /** The shown form: pretty JSON, the text, or hex pairs ("0a 1b ..."). */
      text: string;
      /** Only the first RECORD_FIELD_PREVIEW_BYTES_MAX bytes are shown. */
      truncated: boolean;
    };

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Control characters other than tab, newline and carriage return mark a value as binary. */
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

export function viewField(bytes: Uint8Array | null, previewMax = RECORD_FIELD_PREVIEW_BYTES_MAX): FieldView {
  if (bytes === null) return null;
  const size = bytes.length;
  const truncated = size > previewMax;
  const shown = truncated ? bytes.subarray(0, previewMax) : bytes;
  const text = decodeText(shown, truncated);
  if (text === null) return { kind: "binary", size, text: hex(shown), truncated };
  if (!truncated) {
    const first = text.trimStart()[0];
    if (first === "{" || first === "[") {
      try {
        return { kind: "json", size, text: JSON.stringify(JSON.parse(text), null, 2), truncated };
      } catch {
        // not JSON after all: text
      }
    }
  }
  return { kind: "text", size, text, truncated };
}

/** The UTF-8 text of `bytes`, or null when it is not text. A cut value may end inside a character: that tail is dropped. */
function decodeText(bytes: Uint8Array, truncated: boolean): string | null {
  let end = bytes.length;
  if (truncated) {
    // Back up over at most 3 continuation bytes to the start of the last character.
    let i = end - 1;
    while (i >= 0 && end - i <= 4 && (bytes[i] & 0xc0) === 0x80) i--;
    if (i >= 0 && bytes[i] >= 0xc0) end = i;
  }
  let text: string;
  try {
    text = utf8.decode(bytes.subarray(0, end));
  } catch {
    return null;
  }
  return CONTROL.test(text) ? null : text;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

export function hex(bytes: Uint8Array): string {
  const parts = new Array<string>(bytes.length);
  for (let i = 0; i < bytes.length; i++) parts[i] = HEX[bytes[i]];
  return parts.join(" ");
}

const lenient = new TextDecoder("utf-8");

/**
 * Whether a field holds `needle` (already lower-cased), matched against the
 * field's own text (not its pretty-printed form), case-insensitively; only
 * the first RECORD_FIELD_PREVIEW_BYTES_MAX bytes are searched.
 */
export function fieldMatches(bytes: Uint8Array | null, needle: string, previewMax = RECORD_FIELD_PREVIEW_BYTES_MAX): boolean {
  if (bytes === null) return false;
  const shown = bytes.length > previewMax ? bytes.subarray(0, previewMax) : bytes;
  return lenient.decode(shown).toLowerCase().includes(needle);
}
