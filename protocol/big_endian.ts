// Big-endian integer access on a Uint8Array at an absolute position, without
// creating a DataView per call (the bytes are often a view into a larger frame
// or a SharedArrayBuffer ring). Callers check bounds; these do not.

const TWO_POW_32 = 4294967296;

export function readI8(b: Uint8Array, p: number): number {
  return (b[p] << 24) >> 24;
}

export function readI16(b: Uint8Array, p: number): number {
  return ((b[p] << 24) | (b[p + 1] << 16)) >> 16;
}

export function readU16(b: Uint8Array, p: number): number {
  return (b[p] << 8) | b[p + 1];
}

export function readI32(b: Uint8Array, p: number): number {
  return (b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3];
}

export function readU32(b: Uint8Array, p: number): number {
  return readI32(b, p) >>> 0;
}

export function readI64(b: Uint8Array, p: number): bigint {
  const hi = readI32(b, p);
  const lo = readU32(b, p + 4);
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/**
 * An i64 as a number. Exact when the value is a safe integer (|v| < 2^53),
 * which holds for timestamps in ms and for offsets inside the broker.
 */
export function readI64Number(b: Uint8Array, p: number): number {
  return readI32(b, p) * TWO_POW_32 + readU32(b, p + 4);
}

export function writeI8(b: Uint8Array, p: number, v: number): void {
  b[p] = v;
}

export function writeI16(b: Uint8Array, p: number, v: number): void {
  b[p] = v >>> 8;
  b[p + 1] = v;
}

export function writeI32(b: Uint8Array, p: number, v: number): void {
  b[p] = v >>> 24;
  b[p + 1] = v >>> 16;
  b[p + 2] = v >>> 8;
  b[p + 3] = v;
}

export function writeI64(b: Uint8Array, p: number, v: bigint): void {
  const u = BigInt.asUintN(64, v);
  writeI32(b, p, Number(u >> 32n));
  writeI32(b, p + 4, Number(u & 0xffffffffn));
}

/** Writes a safe integer as an i64 without going through bigint. */
export function writeI64Number(b: Uint8Array, p: number, v: number): void {
  if (!Number.isSafeInteger(v)) throw new RangeError(`i64: ${v} is not a safe integer`);
  const hi = Math.floor(v / TWO_POW_32);
  writeI32(b, p, hi);
  writeI32(b, p + 4, v - hi * TWO_POW_32);
}
