// Zigzag varint/varlong encode and decode, as record fields use them (lengths,
// deltas, timestamps). 1000 values per op of mixed sizes.

import type { Bench } from "tinybench";
import { readVarint, readVarlong, writeVarint, writeVarlong } from "../../protocol/varint.ts";
import type { MicroOptions } from "./run.ts";

export function register(bench: Bench, opts: MicroOptions): void {
  const n = opts.small ? 50 : 1000;
  const ints = Array.from({ length: n }, (_, i) => ((i * 7919) % 20000) - (i % 3 === 0 ? 10000 : 0));
  const longs = Array.from({ length: n }, (_, i) => (i % 10 === 0 ? 1_700_000_000_000 + i : i * 3));
  const buf = new Uint8Array(n * 10);
  const cur = { pos: 0 };

  let intBytes = 0;
  for (const v of ints) intBytes = writeVarint(buf, intBytes, v);
  const intEncoded = buf.slice(0, intBytes);
  let longBytes = 0;
  for (const v of longs) longBytes = writeVarlong(buf, longBytes, v);
  const longEncoded = buf.slice(0, longBytes);

  bench.add(`varint write x${n}`, () => {
    let p = 0;
    for (let i = 0; i < n; i++) p = writeVarint(buf, p, ints[i]);
    return p;
  });
  bench.add(`varint read x${n}`, () => {
    cur.pos = 0;
    let s = 0;
    for (let i = 0; i < n; i++) s += readVarint(intEncoded, cur, intEncoded.length);
    return s;
  });
  bench.add(`varlong write x${n}`, () => {
    let p = 0;
    for (let i = 0; i < n; i++) p = writeVarlong(buf, p, longs[i]);
    return p;
  });
  bench.add(`varlong read x${n}`, () => {
    cur.pos = 0;
    let s = 0;
    for (let i = 0; i < n; i++) s += readVarlong(longEncoded, cur, longEncoded.length);
    return s;
  });
}
