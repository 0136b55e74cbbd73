// Byte pattern shared by ring.test.ts and its worker peer: entry `seq`, byte `i`.
export function patternByte(seq: number, i: number): number {
  return (seq * 31 + i * 7) & 0xff;
}
