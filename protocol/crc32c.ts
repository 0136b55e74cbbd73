// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of Kafka
// RecordBatch v2. Table-driven, slicing-by-16: sixteen 256-entry tables let
// the loop consume sixteen bytes per iteration with independent lookups
// instead of one dependent lookup per byte. On inputs of 256 bytes or more on
// a little-endian host the bytes are loaded four at a time through an
// Int32Array view (after aligning), which measured ~35% faster than slicing-
// by-8 with byte loads (bench/micro/crc32c_bench.ts).
//
// `crc32c(bytes)` and `crc32cUpdate(0, bytes, 0, n)` give the same value, and
// `crc32cUpdate(crc32c(a), b, 0, b.length)` equals the CRC of a followed by b.

const POLYNOMIAL_REFLECTED = 0x82f63b78;
const SLICES = 16;

/** Sixteen tables of 256 entries, back to back: table k at [k*256, k*256+256). */
const T: Int32Array = buildTables();

function buildTables(): Int32Array {
  const t = new Int32Array(SLICES * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLYNOMIAL_REFLECTED : c >>> 1;
    t[i] = c;
  }
  // Table k advances a byte that sits k positions before the end of the block.
  for (let k = 1; k < SLICES; k++) {
    for (let i = 0; i < 256; i++) {
      const prev = t[(k - 1) * 256 + i];
      t[k * 256 + i] = (prev >>> 8) ^ t[prev & 0xff];
    }
  }
  return t;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Below this, creating the word view costs more than it saves. */
const WORD_PATH_BYTES_MIN = 256;

/** CRC-32C of `bytes[start, end)` as an unsigned 32-bit number. */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return crc32cUpdate(0, bytes, start, end);
}

/**
 * Continues a CRC-32C: `crc` is a finished CRC (of the bytes before), or 0 to
 * start. Returns the finished unsigned CRC of the bytes so far.
 */
export function crc32cUpdate(crc: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  if (start < 0 || end > bytes.length || start > end) {
    throw new RangeError(`crc32c: range [${start}, ${end}) outside 0..${bytes.length}`);
  }
  const t = T;
  let c = ~crc;
  let i = start;
  if (LITTLE_ENDIAN && end - start >= WORD_PATH_BYTES_MIN) {
    while (((bytes.byteOffset + i) & 3) !== 0) {
      c = (c >>> 8) ^ t[(c ^ bytes[i]) & 0xff];
      i++;
    }
    const blocks = (end - i) >>> 4;
    const w = new Int32Array(bytes.buffer, bytes.byteOffset + i, blocks * 4);
    for (let j = 0; j < w.length; j += 4) {
      const a = c ^ w[j];
      const b = w[j + 1];
      const d = w[j + 2];
      const e = w[j + 3];
      c =
        t[3840 + (a & 0xff)] ^
        t[3584 + ((a >>> 8) & 0xff)] ^
        t[3328 + ((a >>> 16) & 0xff)] ^
        t[3072 + (a >>> 24)] ^
        t[2816 + (b & 0xff)] ^
        t[2560 + ((b >>> 8) & 0xff)] ^
        t[2304 + ((b >>> 16) & 0xff)] ^
        t[2048 + (b >>> 24)] ^
        t[1792 + (d & 0xff)] ^
        t[1536 + ((d >>> 8) & 0xff)] ^
        t[1280 + ((d >>> 16) & 0xff)] ^
        t[1024 + (d >>> 24)] ^
        t[768 + (e & 0xff)] ^
        t[512 + ((e >>> 8) & 0xff)] ^
        t[256 + ((e >>> 16) & 0xff)] ^
        t[e >>> 24];
    }
    i += blocks * 16;
  } else {
    const end16 = i + ((end - i) & ~15);
    while (i < end16) {
      const a = c ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
      c =
        t[3840 + (a & 0xff)] ^
        t[3584 + ((a >>> 8) & 0xff)] ^
        t[3328 + ((a >>> 16) & 0xff)] ^
        t[3072 + (a >>> 24)] ^
        t[2816 + bytes[i + 4]] ^
        t[2560 + bytes[i + 5]] ^
        t[2304 + bytes[i + 6]] ^
        t[2048 + bytes[i + 7]] ^
        t[1792 + bytes[i + 8]] ^
        t[1536 + bytes[i + 9]] ^
        t[1280 + bytes[i + 10]] ^
        t[1024 + bytes[i + 11]] ^
        t[768 + bytes[i + 12]] ^
        t[512 + bytes[i + 13]] ^
        t[256 + bytes[i + 14]] ^
        t[bytes[i + 15]];
      i += 16;
    }
  }
  while (i < end) {
    c = (c >>> 8) ^ t[(c ^ bytes[i]) & 0xff];
    i++;
  }
  return ~c >>> 0;
}
