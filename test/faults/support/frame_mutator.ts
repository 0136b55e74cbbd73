// Hostile request frames for the protocol fuzzer: valid requests of every api,
// mutated at the byte level (bit flips, truncation, overwritten runs, injected
// huge lengths and counts, duplicated and deleted runs, junk appended), at the
// structure level for MessagePack bodies (a field replaced by a value of the
// wrong type, a huge number, a deep nesting, a long string or array, a missing
// field, an unknown one), at the header (api key, version) — and frames of
// pure random bytes. Every frame keeps a true size prefix, so the stream stays
// parseable and each frame can be held to an answer.
//
// The corpus targets one topic the test creates, plus group ids and topics
// drawn from small pools, so mutations hit existing state (a real partition, a
// live group) as well as missing state.

import { decode, encode } from "@msgpack/msgpack";
import { encodeBatch } from "../../../protocol/record_batch.ts";
import { fetchBody, produceBody } from "../../support/raw_client.ts";
import type { Rng } from "./rng.ts";

export interface FuzzFrame {
  /** The whole frame, size prefix included; the correlation id is set by the sender. */
  bytes: Uint8Array;
  /** What it was made from, for the figures. */
  origin: string;
}

interface Seed {
  name: string;
  apiKey: number;
  body: (rng: Rng) => Uint8Array;
  msgpack: boolean;
}

function groupId(rng: Rng): string {
  return `fz-group-${rng.below(8)}`;
}

/** Valid request bodies of every api, varied by the generator. */
export function seeds(topic: string, partitions: number): Seed[] {
  const records = (rng: Rng) =>
    encodeBatch(Array.from({ length: rng.between(1, 5) }, (_, i) => ({ key: `k${i}`, value: `fuzz-${rng.next()}` })));
  const part = (rng: Rng) => rng.below(partitions);
  const mp = (name: string, apiKey: number, value: (rng: Rng) => unknown): Seed => ({
    name,
    apiKey,
    msgpack: true,
    body: (rng) => encode(value(rng), { ignoreUndefined: true }),
  });
  return [
    {
      name: "Produce",
      apiKey: 0,
      msgpack: false,
      body: (rng) =>
        produceBody({
          topic,
          acks: rng.pick([1, -1, 1, -1, 0]),
          timeoutMs: 1_000,
          partitions: [{ index: part(rng), records: records(rng) }],
        }),
    },
    {
      name: "Fetch",
      apiKey: 1,
      msgpack: false,
      body: (rng) =>
        fetchBody({
          topic,
          maxWaitMs: rng.pick([0, 0, 10, 100]),
          minBytes: rng.pick([0, 1, 1_000_000]),
          maxBytes: rng.pick([1, 1024, 65536]),
          partitions: [{ index: part(rng), offset: rng.below(50), maxBytes: rng.pick([1, 4096]) }],
        }),
    },
    mp("ListOffsets", 2, (rng) => ({ topics: [{ name: topic, partitions: [{ partition: part(rng), timestamp: rng.pick([-2, -1, 0, Date.now()]) }] }] })),
    mp("Metadata", 3, (rng) => ({ topics: rng.chance(0.5) ? null : [topic], allowAutoCreate: false })),
    mp("OffsetCommit", 8, (rng) => ({
      groupId: groupId(rng),
      generationId: -1,
      memberId: "",
      topics: [{ name: topic, partitions: [{ partition: part(rng), offset: rng.below(10), metadata: "m" }] }],
    })),
    mp("OffsetFetch", 9, (rng) => ({ groupId: groupId(rng), topics: rng.chance(0.5) ? null : [{ name: topic, partitions: [part(rng)] }] })),
    mp("JoinGroup", 11, (rng) => ({
      groupId: groupId(rng),
      memberId: "",
      clientId: "fuzz",
      topics: [topic],
      sessionTimeoutMs: 1_000,
      rebalanceTimeoutMs: rng.pick([0, 100, 500]),
      assignors: ["range"],
    })),
    mp("Heartbeat", 12, (rng) => ({ groupId: groupId(rng), generationId: rng.below(3), memberId: `m-${rng.below(4)}` })),
    mp("LeaveGroup", 13, (rng) => ({ groupId: groupId(rng), memberId: `m-${rng.below(4)}` })),
    mp("SyncGroup", 14, (rng) => ({ groupId: groupId(rng), generationId: rng.below(3), memberId: `m-${rng.below(4)}` })),
    mp("DescribeGroups", 15, (rng) => ({ groupIds: [groupId(rng), groupId(rng)] })),
    mp("ListGroups", 16, () => ({})),
    mp("ApiVersions", 18, () => ({ clientId: "fuzz" })),
    mp("CreateTopics", 19, (rng) => ({ topics: [{ name: `fz-new-${rng.below(4)}`, partitions: rng.between(1, 2) }], validateOnly: rng.chance(0.8) })),
    mp("DeleteTopics", 20, (rng) => ({ topics: [`fz-new-${rng.below(4)}`] })),
    mp("AlterConfigs", 33, (rng) => ({ topics: [{ name: topic, set: { "retention.ms": String(rng.pick([-1, 86_400_000])) } }] })),
    mp("CreatePartitions", 37, (rng) => ({ topics: [{ name: `fz-new-${rng.below(4)}`, count: rng.between(1, 3) }] })),
    mp("DescribeTopics", 1000, (rng) => ({ topics: rng.chance(0.5) ? null : [topic] })),
    mp("ResetGroupOffsets", 1001, (rng) => ({ groupId: groupId(rng), topic, to: rng.pick(["earliest", "latest", 0]) })),
  ];
}

const HUGE_U32 = [0x7fffffff, 0xffffffff, 0x80000000, 0x00ffffff, 0x0000ffff, 0x7ffffff0];

function frame(apiKey: number, apiVersion: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, 8 + body.length);
  v.setUint16(4, apiKey);
  v.setUint16(6, apiVersion);
  v.setUint32(8, 0);
  out.set(body, 12);
  return out;
}

/** A wrong-typed or extreme MessagePack value. */
function hostileValue(rng: Rng, depth = 0): unknown {
  switch (rng.below(14)) {
    case 0:
      return null;
    case 1:
      return rng.pick([-1, 0, 2 ** 31, -(2 ** 31) - 1, 2 ** 53, -(2 ** 53), 2 ** 63, Number.MAX_SAFE_INTEGER]);
    case 2:
      return rng.pick([0.5, -0.0, 1e308, Number.NaN, Number.POSITIVE_INFINITY]);
    case 3:
      return "x".repeat(rng.pick([0, 1, 250, 256, 40_000]));
    case 4:
      return rng.chance(0.5);
    case 5:
      return new Uint8Array(rng.below(64));
    case 6:
      return Array.from({ length: rng.pick([0, 1, 1000, 20_000]) }, () => rng.below(10));
    case 7: {
      // Deep nesting: recursion in a decoder or a schema walk.
      let v: unknown = 1;
      for (let i = 0, n = rng.pick([50, 500, 5000]); i < n; i++) v = [v];
      return v;
    }
    case 8:
      // Keys that poison a naive object merge.
      return JSON.parse('{"__proto__": {"polluted": true}, "constructor": "x", "toString": 1}');
    case 9:
      return "\u0000\uffff\ud800";
    case 10:
      return depth < 2 ? { nested: hostileValue(rng, depth + 1) } : {};
    case 11:
      return -0x8000_0000;
    case 12:
      return Array.from({ length: rng.between(1, 4) }, () => hostileValue(rng, depth + 1));
    default:
      return "fz-group-0";
  }
}

/** Replaces, removes or adds one field somewhere in a decoded MessagePack value. */
function mutateStructure(value: unknown, rng: Rng, depth = 0): unknown {
  if (Array.isArray(value)) {
    if (value.length === 0 || rng.chance(0.25)) return rng.chance(0.5) ? hostileValue(rng) : [...value, hostileValue(rng)];
    const copy = value.slice();
    const i = rng.below(copy.length);
    copy[i] = mutateStructure(copy[i], rng, depth + 1);
    return copy;
  }
  if (value !== null && typeof value === "object" && !(value instanceof Uint8Array)) {
    const obj = { ...(value as Record<string, unknown>) };
    const keys = Object.keys(obj);
    const r = rng.below(10);
    if (keys.length === 0 || r === 0) {
      obj[rng.pick(["extra", "topics", "groupId", "__proto__", ""])] = hostileValue(rng);
    } else if (r === 1) {
      delete obj[rng.pick(keys)];
    } else {
      const k = rng.pick(keys);
      obj[k] = rng.chance(0.4) ? hostileValue(rng) : mutateStructure(obj[k], rng, depth + 1);
    }
    return obj;
  }
  return hostileValue(rng);
}

/** Byte-level mutation of a body; may change its length. */
function mutateBytes(body: Uint8Array, rng: Rng): Uint8Array {
  let b: Uint8Array = body.slice();
  const rounds = rng.between(1, 3);
  for (let round = 0; round < rounds; round++) {
    const kind = rng.below(7);
    if (b.length === 0 && kind !== 6) {
      b = rng.bytes(rng.between(1, 16));
      continue;
    }
    if (kind === 0) {
      for (let i = 0, n = rng.between(1, 8); i < n; i++) b[rng.below(b.length)] ^= 1 << rng.below(8);
    } else if (kind === 1) {
      b = b.slice(0, rng.below(b.length));
    } else if (kind === 2) {
      const at = rng.below(b.length);
      for (let i = at; i < Math.min(b.length, at + rng.between(1, 16)); i++) b[i] = rng.below(256);
    } else if (kind === 3 && b.length >= 4) {
      const at = rng.below(b.length - 3);
      new DataView(b.buffer, b.byteOffset).setUint32(at, rng.pick(HUGE_U32));
    } else if (kind === 4) {
      // duplicate a run in place (counts and lengths no longer match)
      const at = rng.below(b.length);
      const run = b.slice(at, at + rng.between(1, 64));
      const grown = new Uint8Array(b.length + run.length);
      grown.set(b.subarray(0, at));
      grown.set(run, at);
      grown.set(b.subarray(at), at + run.length);
      b = grown;
    } else if (kind === 5) {
      const at = rng.below(b.length);
      const n = rng.between(1, 32);
      b = new Uint8Array([...b.subarray(0, at), ...b.subarray(Math.min(b.length, at + n))]);
    } else {
      const extra = rng.bytes(rng.between(1, 64));
      const grown = new Uint8Array(b.length + extra.length);
      grown.set(b);
      grown.set(extra, b.length);
      b = grown;
    }
  }
  return b;
}

/** Makes one hostile frame. */
export function makeFuzzFrame(corpus: readonly Seed[], rng: Rng): FuzzFrame {
  const r = rng.below(100);
  if (r < 6) {
    // Pure random bytes after a true size prefix (api key and version random too).
    const body = rng.bytes(rng.between(8, 512));
    const out = new Uint8Array(4 + body.length);
    new DataView(out.buffer).setUint32(0, body.length);
    out.set(body, 4);
    return { bytes: out, origin: "random" };
  }
  const seed = rng.pick(corpus);
  let body = seed.body(rng);
  let apiKey = seed.apiKey;
  let apiVersion = 0;
  let how: string;
  if (r < 10) {
    // A valid body under a wrong header.
    if (rng.chance(0.5)) apiKey = rng.chance(0.5) ? rng.pick(corpus).apiKey : rng.below(0x10000);
    else apiVersion = rng.pick([1, 2, 0xffff, rng.below(0x10000)]);
    how = "header";
  } else if (r < 16) {
    // Valid, unchanged: keeps real state moving (data, groups) under the fuzz.
    how = "valid";
  } else if (seed.msgpack && r < 55) {
    const value = decode(body);
    body = encode(mutateStructure(value, rng), { ignoreUndefined: true, maxDepth: 10_000 });
    how = "structure";
  } else {
    body = mutateBytes(body, rng);
    how = "bytes";
  }
  return { bytes: frame(apiKey, apiVersion, body), origin: `${seed.name}:${how}` };
}
