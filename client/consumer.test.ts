// Consumer logic against a scripted link that serves Fetch from prepared
// batches: raw batch access, lazy record decoding, skipping below the
// position, and a bad batch stopping its partition.

import { describe, expect, test } from "bun:test";
import { ApiKey } from "../protocol/api_keys.ts";
import { writeI32 } from "../protocol/big_endian.ts";
import { Writer } from "../protocol/codec.ts";
import { crc32c } from "../protocol/crc32c.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { decodeFetchRequest, writeFetchResponse } from "../protocol/messages/fetch.ts";
import { CRC_COVERED_FROM, CRC_OFFSET, encodeBatch, RECORDS_OFFSET } from "../protocol/record_batch.ts";
import type { RequestLink } from "./broker_link.ts";
import type { BodyEncoder } from "./connection.ts";
import { Consumer, type ConsumerBatch } from "./consumer.ts";

/** Serves one partition's log (batches back to back) to Fetch requests from the batch holding the fetch offset. */
class FetchLink implements RequestLink {
  fetches = 0;
  constructor(private readonly batches: { base: bigint; count: number; bytes: Uint8Array }[]) {}
  request(apiKey: number, encodeBody: BodyEncoder): Promise<Uint8Array> {
    if (apiKey !== ApiKey.Fetch) return Promise.reject(new Error(`api ${apiKey} not played`));
    const w = new Writer();
    encodeBody(w);
    const req = decodeFetchRequest(w.finish().slice());
    this.fetches++;
    const p = req.topics[0].partitions[0];
    const from = this.batches.findIndex((b) => p.fetchOffset < b.base + BigInt(b.count));
    const parts = from < 0 ? [] : this.batches.slice(from).map((b) => b.bytes);
    const records = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
    let at = 0;
    for (const x of parts) {
      records.set(x, at);
      at += x.length;
    }
    const end = this.batches.reduce((n, b) => n + BigInt(b.count), 0n);
    const out = new Writer();
    writeFetchResponse(out, {
      topics: [{ name: "t", partitions: [{ index: 0, errorCode: 0, highWatermark: end, logStartOffset: 0n, records }] }],
    });
    const body = out.finish().slice();
    // Nothing new: answer after a while, as a long-poll would.
    return new Promise((resolve) => setTimeout(() => resolve(body), records.length === 0 ? 20 : 0));
  }
  close(): void {}
}

const values = (base: number, n: number) => Array.from({ length: n }, (_, i) => ({ value: `v${base + i}` }));
const text = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));

function log(...counts: number[]) {
  let base = 0;
  return counts.map((count) => {
    const bytes = encodeBatch(values(base, count), { baseOffset: base });
    const b = { base: BigInt(base), count, bytes };
    base += count;
    return b;
  });
}

describe("Consumer batches", () => {
  test("assign refuses a topic name the broker's rule refuses, '.' and '..' included", async () => {
    const c = new Consumer({ link: new FetchLink([]), fetchMaxWaitMs: 10 });
    for (const bad of [".", "..", "a/b", ""]) {
      expect(() => c.assign([{ topic: bad, partition: 0, position: 0n }])).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_TOPIC_EXCEPTION }));
    }
    await c.close();
  });

  test("a batch carries its stored bytes; records start at the position inside it", async () => {
    const batches = log(5, 5);
    const c = new Consumer({ link: new FetchLink(batches), fetchMaxWaitMs: 10 });
    c.assign([{ topic: "t", partition: 0, position: 3n }]);
    const seen: ConsumerBatch[] = [];
    for await (const b of c.batches()) {
      seen.push(b);
      if (seen.length === 2) break;
    }
    expect(seen[0].bytes).toEqual(batches[0].bytes);
    expect(seen[1].bytes).toEqual(batches[1].bytes);
    expect(seen[0].records.map((r) => r.offset)).toEqual([3n, 4n]);
    expect(seen[1].records.map((r) => text(r.value))).toEqual(["v5", "v6", "v7", "v8", "v9"]);
    expect(seen[0].records).toBe(seen[0].records); // decoded once
    expect(c.position({ topic: "t", partition: 0 })).toBe(10n);
    await c.close();
  });

  test("a batch whose records do not decode fails its reader and stops the partition at it until a seek", async () => {
    const batches = log(3, 3, 3);
    // Damage a record length in the middle batch and fix up its CRC: framing and CRC pass, the records do not.
    const bad = batches[1].bytes;
    bad[RECORDS_OFFSET] = 0x7e;
    writeI32(bad, CRC_OFFSET, crc32c(bad, CRC_COVERED_FROM, bad.length));
    const link = new FetchLink(batches);
    const c = new Consumer({ link, fetchMaxWaitMs: 10 });
    c.assign([{ topic: "t", partition: 0, position: 0n }]);
    const got: bigint[] = [];
    const error = await (async () => {
      for await (const r of c.records()) got.push(r.offset);
    })().then(() => undefined, (e) => e);
    expect(got).toEqual([0n, 1n, 2n]);
    expect(error.code).toBe(ErrorCode.INVALID_RECORD);
    expect(c.position({ topic: "t", partition: 0 })).toBe(3n);
    // Nothing more comes from the partition until the application moves it.
    const fetchesBefore = link.fetches;
    expect(await c.poll({ maxWaitMs: 50 })).toEqual([]);
    expect(link.fetches).toBe(fetchesBefore);
    c.seek({ topic: "t", partition: 0 }, 6n);
    const after = await c.poll({ maxWaitMs: 2_000, maxRecords: 3 });
    expect(after.map((r) => text(r.value))).toEqual(["v6", "v7", "v8"]);
    await c.close();
  });

  test("a CRC mismatch fails the partition; with checkCrcs off the bytes are handed out as they are", async () => {
    const damaged = () => {
      const batches = log(3);
      batches[0].bytes[batches[0].bytes.length - 2] ^= 0x20; // inside the last value: structure intact, CRC wrong
      return batches;
    };
    const checking = new Consumer({ link: new FetchLink(damaged()), fetchMaxWaitMs: 10 });
    checking.assign([{ topic: "t", partition: 0, position: 0n }]);
    await expect(checking.poll({ maxWaitMs: 2_000 })).rejects.toMatchObject({ code: ErrorCode.CORRUPT_MESSAGE });
    await checking.close();

    const trusting = new Consumer({ link: new FetchLink(damaged()), fetchMaxWaitMs: 10, checkCrcs: false });
    trusting.assign([{ topic: "t", partition: 0, position: 0n }]);
    const records = await trusting.poll({ maxWaitMs: 2_000 });
    expect(records.map((r) => text(r.value))).toEqual(["v0", "v1", "v\u0012"]);
    await trusting.close();
  });
});
