// Backpressure in the native server, in process over real TCP with an
// in-memory pool whose rings can be made "full": while a worker refuses, the
// connection stops reading (requests after the first blocked one are parsed
// only if they came in the same read, and then only queued), nothing is answered, and once the ring has room every request is
// appended in the order it was sent — including partitions of other workers
// that were queued behind the blocked one.

import { afterEach, describe, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { decodeProduceResponse } from "../../protocol/messages/produce.ts";
import { encodeBatch } from "../../protocol/record_batch.ts";
import { RawClient, produceBody } from "../../test/support/raw_client.ts";
import { eventLoopTurn, waitFor } from "../../test/support/wait_for.ts";
import { Broker } from "../broker.ts";
import { parseBrokerConfig } from "../broker_config.ts";
import { MemoryPool } from "../memory_pool.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startInProcess(): Promise<{ broker: Broker; pool: MemoryPool }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-"));
  cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const pool = new MemoryPool({ workers: 2 });
  const broker = await Broker.start(parseBrokerConfig({ dataDir, port: 0, httpPort: 0, kafkaPort: 0, workers: 2 }), { pool, log: () => {} });
  cleanups.push(() => broker.stop());
  return { broker, pool };
}

describe("backpressure", () => {
  test("a full ring pauses the connection; on room, every partition is appended in send order", async () => {
    const { broker, pool } = await startInProcess();
    const c = await RawClient.connect(broker.port);
    cleanups.push(() => c.close());
    await c.control(19, { topics: [{ name: "bp", partitions: 2 }] });
    // Partition 0 is on worker 0, partition 1 on worker 1 (balanced by count).
    const described = (await c.control(1000, { topics: ["bp"] })) as { topics: { partitions: { worker: number }[] }[] };
    expect(described.topics[0].partitions.map((p) => p.worker)).toEqual([0, 1]);

    pool.setFull(0, true);
    const answeredBefore = c.arrivalOrder.length;
    const callsBefore = pool.produceCalls;
    // One socket write (200 requests, ~20 KiB: one read on loopback), so the broker parses
    // all of them in the pass that meets the blocked first one.
    const ids: number[] = [];
    c.socket.cork();
    for (let i = 0; i < 200; i++) {
      ids.push(c.sendRequest(0, produceBody({ topic: "bp", acks: 1, partitions: [{ index: i % 2, records: encodeBatch([{ value: `v${i}` }]) }] })));
    }
    c.socket.uncork();
    // The broker read them: the first was tried on the pool and refused (positive first) ...
    await waitFor(() => pool.produceCalls > callsBefore, { what: "the broker to read the first request" });
    await eventLoopTurn();
    // ... and none after it was: worker 1 has room, but its partitions queue behind the blocked
    // one, so nothing reached the pool and nothing is answered.
    expect(pool.produceCalls).toBe(callsBefore + 1);
    expect(c.arrivalOrder.length).toBe(answeredBefore);

    pool.setFull(0, false);
    const responses = await Promise.all(ids.map((id) => c.response(id)));
    const offsets: [number[], number[]] = [[], []];
    responses.forEach((r, i) => {
      const p = decodeProduceResponse(r.body).topics[0].partitions[0];
      expect(p.errorCode).toBe(0);
      offsets[i % 2].push(Number(p.baseOffset));
    });
    for (const list of offsets) expect(list).toEqual(list.map((_, k) => k));
  });

  test("auto-create: produces to a new topic wait for it, then land in order", async () => {
    const { broker } = await startInProcess();
    const c = await RawClient.connect(broker.port);
    cleanups.push(() => c.close());
    const ids: number[] = [];
    for (let i = 0; i < 50; i++) {
      ids.push(c.sendRequest(0, produceBody({ topic: "fresh", acks: -1, partitions: [{ index: 0, records: encodeBatch([{ value: `v${i}` }]) }] })));
    }
    const offsets = (await Promise.all(ids.map((id) => c.response(id)))).map((r) => Number(decodeProduceResponse(r.body).topics[0].partitions[0].baseOffset));
    expect(offsets).toEqual(offsets.map((_, k) => k));
  });
});
