// UTF-8 helpers that write into and read from a position of a reused buffer.
// Short ASCII strings (topic names, header keys) take a plain loop: it avoids
// creating a subarray view for TextEncoder.encodeInto and is faster for them.

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

const SHORT_STRING_CHARS = 64;

/** Upper bound of the UTF-8 byte length of `s` (3 bytes per UTF-16 unit). */
export function utf8LengthMax(s: string): number {
  return s.length * 3;
}

/** Exact UTF-8 byte length of `s` (lone surrogates count as U+FFFD, 3 bytes, as the encoder writes them). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/**
 * Writes `s` as UTF-8 at `pos`; the caller guarantees `utf8LengthMax(s)` bytes
 * of room. Returns the number of bytes written.
 */
export function utf8Write(buf: Uint8Array, pos: number, s: string): number {
  const n = s.length;
  if (n <= SHORT_STRING_CHARS) {
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[pos + i] = c;
    }
    if (i === n) return n;
  }
  return encoder.encodeInto(s, buf.subarray(pos)).written;
}

export function utf8Encode(s: string): Uint8Array {
  return encoder.encode(s);
}

const SHARED_AVAILABLE = typeof SharedArrayBuffer !== "undefined";

/** TextDecoder refuses views of shared memory on some runtimes (Bun accepts them): copy those first. */
function decodeRange(buf: Uint8Array, start: number, end: number): string {
  if (SHARED_AVAILABLE && buf.buffer instanceof SharedArrayBuffer) return decoder.decode(buf.slice(start, end));
  return decoder.decode(buf.subarray(start, end));
}

/** Decodes `buf[start, end)`; invalid sequences become U+FFFD. */
export function utf8Read(buf: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= SHORT_STRING_CHARS) {
    let s = "";
    for (let i = start; i < end; i++) {
      const c = buf[i];
      if (c >= 0x80) return decodeRange(buf, start, end);
      s += String.fromCharCode(c);
    }
    return s;
  }
  return decodeRange(buf, start, end);
}
