// Byte-level mutation of request frames for the frame fuzzers of both
// protocols (fuzz_frames.test.ts: native; kafka_fuzz_frames.test.ts: Kafka).
// Both headers start with the same 8 bytes after the size prefix (api key,
// version, correlation id), and a mutated frame keeps its size prefix true,
// so the stream stays parseable and each frame can be held to an answer.
// Seeded, so a failure can be replayed.

/** xorshift32: small, seeded, good enough to pick mutations. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

/** Mutates a whole frame but keeps its size prefix true, so the stream stays parseable. */
export function mutateKeepingBoundary(frame: Uint8Array, r: () => number): Uint8Array {
  let body = frame.subarray(4).slice();
  const kind = Math.floor(r() * 5);
  if (kind === 0) {
    // Bit flips (header included: api key, version, correlation id may change).
    const flips = 1 + Math.floor(r() * 4);
    for (let i = 0; i < flips; i++) body[Math.floor(r() * body.length)] ^= 1 << Math.floor(r() * 8);
  } else if (kind === 1) {
    // Truncation, keeping at least the 8-byte header.
    body = body.slice(0, 8 + Math.floor(r() * (body.length - 8)));
  } else if (kind === 2) {
    // Overwrite a run with random bytes (lengths and counts become garbage).
    const at = 8 + Math.floor(r() * (body.length - 8));
    const n = 1 + Math.floor(r() * 8);
    for (let i = at; i < Math.min(body.length, at + n); i++) body[i] = Math.floor(r() * 256);
  } else if (kind === 3) {
    // Big-value injection at a random place: 0x7fffffff / 0xffffffff style lengths.
    const at = 8 + Math.floor(r() * Math.max(1, body.length - 12));
    const v = [0x7fffffff, 0xffffffff, 0x80000000, 0x00ffffff][Math.floor(r() * 4)];
    new DataView(body.buffer).setUint32(Math.min(at, body.length - 4), v);
  } else {
    // Junk appended after a valid body.
    const extra = new Uint8Array(1 + Math.floor(r() * 16)).map(() => Math.floor(r() * 256));
    const grown = new Uint8Array(body.length + extra.length);
    grown.set(body);
    grown.set(extra, body.length);
    body = grown;
  }
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}
