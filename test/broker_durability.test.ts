// Crash and restart of a real broker: nothing acknowledged with acks=all is
// lost to kill -9, topic metadata survives restart and kill -9, and SIGTERM /
// SIGINT stop the broker cleanly and quickly.

import { afterEach, describe, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { readI32, readI64Number, writeI64 } from "../protocol/big_endian.ts";
import { decodeFetchResponse } from "../protocol/messages/fetch.ts";
import { decodeProduceResponse } from "../protocol/messages/produce.ts";
import { encodeBatch } from "../protocol/record_batch.ts";
import { type BrokerProcess, startBroker } from "./support/broker.ts";
import { RawClient, fetchBody, produceBody } from "./support/raw_client.ts";
import { pollUntil } from "./support/wait_for.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-"));
  cleanups.push(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

async function start(dataDir: string, args: string[] = []): Promise<BrokerProcess> {
  const b = await startBroker({ dataDir, args: ["--workers", "2", ...args] });
  cleanups.push(() => b.cleanup());
  return b;
}

type Reply = Record<string, any>;

/** Every batch of a partition from offset 0 to its high watermark, by base offset. */
async function readPartition(c: RawClient, topic: string, partition: number): Promise<{ batches: Map<number, Uint8Array>; hw: number }> {
  const batches = new Map<number, Uint8Array>();
  let offset = 0;
  let hw = 0;
  for (;;) {
    const res = await c.request(1, fetchBody({ topic, maxBytes: 4 * 1024 * 1024, partitions: [{ index: partition, offset }] }));
    const p = decodeFetchResponse(res.body).topics[0].partitions[0];
    expect(p.errorCode).toBe(0);
    hw = Number(p.highWatermark);
    let pos = 0;
    while (pos < p.records.length) {
      const size = 12 + readI32(p.records, pos + 8);
      const base = readI64Number(p.records, pos);
      const count = readI32(p.records, pos + 23) + 1;
      batches.set(base, p.records.slice(pos, pos + size));
      offset = base + count;
      pos += size;
    }
    if (p.records.length === 0 || offset >= hw) return { batches, hw };
  }
}

describe("kill -9", () => {
  test("every batch acknowledged with acks=all is readable after a restart, byte for byte", async () => {
    const dir = tempDir();
    const a = await start(dir);
    const c = await RawClient.connect(a.port);
    await c.control(19, { topics: [{ name: "d", partitions: 2 }] });
    // Pipelined acks=all produce, 64 requests in flight, until the kill.
    const acked: { partition: number; baseOffset: number; records: Uint8Array }[] = [];
    let stop = false;
    let sent = 0;
    const inFlight = new Set<Promise<void>>();
    const pump = async () => {
      // (Stops when the connection dies: a loop of already-rejected promises would never yield to the event loop.)
      while (!stop && !c.isClosed) {
        const partition = sent % 2;
        const records = encodeBatch(Array.from({ length: 50 }, (_, i) => ({ value: `p${partition}-${sent}-${i}-${"v".repeat(80)}` })));
        sent++;
        const id = c.sendRequest(0, produceBody({ topic: "d", acks: -1, partitions: [{ index: partition, records }] }));
        const done = c.response(id).then(
          (res) => {
            const r = decodeProduceResponse(res.body).topics[0].partitions[0];
            if (r.errorCode === 0) acked.push({ partition, baseOffset: Number(r.baseOffset), records });
          },
          () => {}, // the kill cut it off: not acknowledged
        );
        inFlight.add(done);
        void done.then(() => inFlight.delete(done));
        if (inFlight.size >= 64) await Promise.race(inFlight);
      }
    };
    const pumping = pump();
    if (!(await pollUntil(() => acked.length >= 300, { timeoutMs: 30_000 }))) {
      throw new Error(`only ${acked.length} acks within 30 s; broker output:\n${a.output()}`);
    }
    await a.kill9();
    stop = true;
    await pumping;
    await Promise.allSettled([...inFlight]);
    c.close();
    expect(acked.length).toBeGreaterThanOrEqual(300);

    const b = await start(dir);
    const c2 = await RawClient.connect(b.port);
    for (const partition of [0, 1]) {
      const { batches, hw } = await readPartition(c2, "d", partition);
      for (const ack of acked.filter((x) => x.partition === partition)) {
        const stored = batches.get(ack.baseOffset);
        expect(stored).toBeDefined();
        const expected = ack.records.slice();
        writeI64(expected, 0, BigInt(ack.baseOffset));
        expect(stored).toEqual(expected);
        expect(hw).toBeGreaterThanOrEqual(ack.baseOffset + 50);
      }
    }
    c2.close();
  });

  test("topic metadata survives kill -9 and a clean restart", async () => {
    const dir = tempDir();
    const a = await start(dir);
    const c = await RawClient.connect(a.port);
    await c.control(19, { topics: [{ name: "keep", partitions: 3, configs: { "retention.ms": "123456" } }, { name: "drop", partitions: 1 }] });
    await c.control(37, { topics: [{ name: "keep", count: 5 }] });
    await c.control(33, { topics: [{ name: "keep", set: { "segment.bytes": "1048576" } }] });
    await c.control(20, { topics: ["drop"] });
    const before = (await c.control(1000, { topics: null })) as Reply;
    c.close();
    await a.kill9();

    const b = await start(dir);
    const c2 = await RawClient.connect(b.port);
    const after = (await c2.control(1000, { topics: null })) as Reply;
    const shape = (r: Reply) => r.topics.map((t: Reply) => ({ name: t.name, configs: t.configs, workers: t.partitions.map((p: Reply) => p.worker) }));
    expect(shape(after)).toEqual(shape(before));
    expect(after.topics.map((t: Reply) => t.name)).toEqual(["keep"]);
    expect(after.topics[0].partitions.length).toBe(5);
    expect(after.topics[0].configs["retention.ms"]).toBe("123456");
    expect(fs.existsSync(path.join(dir, "topics", "drop"))).toBe(false);
    c2.close();
    expect(await b.stop()).toBe(0);

    const c3b = await start(dir);
    const c3 = await RawClient.connect(c3b.port);
    expect(shape((await c3.control(1000, { topics: null })) as Reply)).toEqual(shape(before));
    c3.close();
  });
});

describe("signals", () => {
  test("SIGTERM with a client connected and a fetch waiting: exit 0 within seconds, acked data kept", async () => {
    const dir = tempDir();
    const a = await start(dir);
    const c = await RawClient.connect(a.port);
    await c.control(19, { topics: [{ name: "s", partitions: 1 }] });
    const records = encodeBatch([{ value: "before the signal" }]);
    const ack = decodeProduceResponse((await c.request(0, produceBody({ topic: "s", acks: -1, partitions: [{ index: 0, records }] }))).body);
    expect(ack.topics[0].partitions[0].errorCode).toBe(0);
    const parked = c.request(1, fetchBody({ topic: "s", maxWaitMs: 30_000, minBytes: 1, partitions: [{ index: 0, offset: 1 }] }));
    await Bun.sleep(50);
    const started = Date.now();
    expect(await a.stop("SIGTERM")).toBe(0);
    expect(Date.now() - started).toBeLessThan(5_000);
    // The parked fetch was answered (empty) before the connection closed.
    const res = await parked;
    expect(decodeFetchResponse(res.body).topics[0].partitions[0].records.length).toBe(0);
    c.close();

    const b = await start(dir);
    const c2 = await RawClient.connect(b.port);
    const { batches } = await readPartition(c2, "s", 0);
    expect(batches.size).toBe(1);
    c2.close();
    const t = Date.now();
    expect(await b.stop("SIGINT")).toBe(0);
    expect(Date.now() - t).toBeLessThan(5_000);
  });
});
