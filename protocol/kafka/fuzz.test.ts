// Mutated real-client frames: whatever the bytes, a decoder returns a value or
// throws KafkaDecodeError, never anything else, and never reads outside the
// frame. Seeded, so a failure reproduces.

import { expect, test } from "bun:test";
import { KafkaDecodeError } from "./decode_error.ts";
import { decodeRequestHeader } from "./header.ts";
import { decodeAnyRequest } from "./messages/mod.ts";
import { KafkaReader } from "./reader.ts";
import { KAFKAJS_REQUESTS } from "./testing/fixtures/kafkajs.ts";
import { KCAT_REQUESTS } from "./testing/fixtures/kcat.ts";
import { PLATFORMATIC_REQUESTS } from "./testing/fixtures/platformatic.ts";
import { fromHex } from "./testing/helpers.ts";

const MUTATIONS_PER_FRAME = 400;

/** xorshift32: small, seedable, good enough to pick bytes. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];

function mutate(frame: Uint8Array, next: () => number): Uint8Array {
  const out = frame.slice();
  const kind = next() % 4;
  if (kind === 0) out[next() % out.length] ^= 1 << (next() % 8);
  else if (kind === 1) out[next() % out.length] = INTERESTING[next() % INTERESTING.length];
  else if (kind === 2) {
    // a run of 0xff or 0x7f: huge lengths and counts
    const at = next() % out.length;
    const v = next() % 2 === 0 ? 0xff : 0x7f;
    for (let i = at; i < Math.min(out.length, at + 1 + (next() % 4)); i++) out[i] = v;
  } else {
    // splice: bytes dropped from the middle
    const at = next() % out.length;
    const n = 1 + (next() % 8);
    return new Uint8Array([...out.subarray(0, at), ...out.subarray(Math.min(out.length, at + n))]);
  }
  return out;
}

test("mutated captured frames decode or throw KafkaDecodeError, nothing else", () => {
  const next = rng(0x5eed);
  let decoded = 0;
  let refused = 0;
  for (const c of [...KCAT_REQUESTS, ...KAFKAJS_REQUESTS, ...PLATFORMATIC_REQUESTS]) {
    const frame = fromHex(c.hex);
    for (let i = 0; i < MUTATIONS_PER_FRAME; i++) {
      const bytes = mutate(frame, next);
      const r = new KafkaReader(bytes);
      try {
        const h = decodeRequestHeader(r);
        decodeAnyRequest(h.apiKey, r, h.apiVersion);
        expect(r.pos).toBe(bytes.length);
        decoded++;
      } catch (e) {
        if (!(e instanceof KafkaDecodeError)) throw new Error(`${c.scenario} ${c.api} mutation ${i}: ${String(e)}`, { cause: e });
        refused++;
      }
    }
  }
  // Both outcomes happen: the mutations are neither all harmless nor all fatal.
  expect(decoded).toBeGreaterThan(0);
  expect(refused).toBeGreaterThan(0);
});
