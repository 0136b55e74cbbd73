// One-partition produce requests are pooled (produce_in_flight.ts). A request
// goes back into the pool only once it was answered AND the engine's callback
// returned: a request answered by its timeout whose callback comes later must
// not be reused before then, or that late callback would answer whichever new
// request took its place, with the old request's offsets.

import { afterEach, describe, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ErrorCode } from "../../protocol/errors.ts";
import { decodeProduceResponse } from "../../protocol/messages/produce.ts";
import { encodeBatch } from "../../protocol/record_batch.ts";
import { RawClient, produceBody } from "../../test/support/raw_client.ts";
import { waitFor } from "../../test/support/wait_for.ts";
import { Broker } from "../broker.ts";
import { parseBrokerConfig } from "../broker_config.ts";
import { MemoryPool } from "../memory_pool.ts";

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A broker on an in-memory pool of `workers` workers (its callbacks are the test's to release). */
async function startOnMemoryPool(workers: number): Promise<{ broker: Broker; pool: MemoryPool }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-"));
  cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const pool = new MemoryPool({ workers });
  const broker = await Broker.start(parseBrokerConfig({ dataDir, port: 0, httpPort: 0, kafkaPort: 0, workers }), { pool, log: () => {} });
  cleanups.push(() => broker.stop());
  return { broker, pool };
}

describe("pooled produce requests", () => {
  test("requests answered by their timeout are not reused until their late callbacks came: later requests get their own offsets", async () => {
    const { broker, pool } = await startOnMemoryPool(1);
    const c = await RawClient.connect(broker.port);
    cleanups.push(() => c.close());
    await c.control(19, { topics: [{ name: "late", partitions: 1 }] });

    // 1. Nothing becomes durable: 100 acks=all requests time out (their callbacks are still to come).
    pool.autoFlush = false;
    const timedOut: number[] = [];
    for (let i = 0; i < 100; i++) {
      timedOut.push(c.sendRequest(0, produceBody({ topic: "late", acks: -1, timeoutMs: 30, partitions: [{ index: 0, records: encodeBatch([{ value: `old-${i}` }]) }] })));
    }
    for (const r of await Promise.all(timedOut.map((id) => c.response(id)))) {
      expect(decodeProduceResponse(r.body).topics[0].partitions[0].errorCode).toBe(ErrorCode.REQUEST_TIMED_OUT);
    }

    // 2. New requests. The first flush runs the old callbacks (offsets 0-99) before theirs.
    pool.autoFlush = true;
    const fresh: number[] = [];
    for (let i = 0; i < 100; i++) {
      fresh.push(c.sendRequest(0, produceBody({ topic: "late", acks: -1, timeoutMs: 0, partitions: [{ index: 0, records: encodeBatch([{ value: `new-${i}` }]) }] })));
    }
    const results = (await Promise.all(fresh.map((id) => c.response(id)))).map((r) => decodeProduceResponse(r.body).topics[0].partitions[0]);
    expect(results.map((p) => p.errorCode)).toEqual(results.map(() => ErrorCode.NONE));
    expect(results.map((p) => Number(p.baseOffset))).toEqual(results.map((_, k) => 100 + k));

    // 3. Each request was answered once, and nothing more arrives: a request read after them is
    // answered after everything the connection queued before it, and nothing else came in between.
    const arrivedBefore = c.arrivalOrder.length;
    await c.control(3, { topics: ["late"] });
    expect(c.arrivalOrder.length).toBe(arrivedBefore + 1);
    const produceAnswers = c.arrivalOrder.filter((id) => timedOut.includes(id) || fresh.includes(id));
    expect(produceAnswers.length).toBe(200);
    expect(new Set(produceAnswers).size).toBe(200);
  });

  test("requests that timed out while queued behind a full ring are never reused: another connection's requests keep their own answers", async () => {
    const { broker, pool } = await startOnMemoryPool(2);
    const a = await RawClient.connect(broker.port);
    const b = await RawClient.connect(broker.port);
    cleanups.push(() => a.close(), () => b.close());
    await a.control(19, { topics: [{ name: "bp", partitions: 2 }] });
    // Partition 1 (worker 1) starts at offset 10, so its offsets differ from partition 0's.
    const warm: number[] = [];
    for (let i = 0; i < 10; i++) warm.push(b.sendRequest(0, produceBody({ topic: "bp", acks: 1, partitions: [{ index: 1, records: encodeBatch([{ value: `w${i}` }]) }] })));
    await Promise.all(warm.map((id) => b.response(id)));

    // A: 50 requests to partition 0, whose worker refuses; they queue in A's connection and time out there.
    pool.setFull(0, true);
    // In one socket write (5 KiB: one read on loopback), so the broker reads all 50 before
    // it pauses the connection at the first; they queue behind it and each times out there.
    const queued: number[] = [];
    a.socket.cork();
    for (let i = 0; i < 50; i++) {
      queued.push(a.sendRequest(0, produceBody({ topic: "bp", acks: -1, timeoutMs: 30, partitions: [{ index: 0, records: encodeBatch([{ value: `a${i}` }]) }] })));
    }
    a.socket.uncork();
    // Every one of them was answered (by its timeout) before B starts: all 50 request objects went through a timeout.
    await waitFor(() => queued.every((id) => a.arrivalOrder.includes(id)), { what: "every one of A's requests answered" });
    for (const r of await Promise.all(queued.map((id) => a.response(id)))) {
      expect(decodeProduceResponse(r.body).topics[0].partitions[0].errorCode).toBe(ErrorCode.REQUEST_TIMED_OUT);
    }
    // B: 50 requests to partition 1, whose worker refuses now too: B takes request objects
    // (A's, if they had been put back) and queues them in its own connection.
    pool.autoFlush = false;
    pool.setFull(1, true);
    const callsBefore = pool.produceCalls;
    const inFlight: number[] = [];
    for (let i = 0; i < 50; i++) {
      inFlight.push(b.sendRequest(0, produceBody({ topic: "bp", acks: -1, timeoutMs: 0, partitions: [{ index: 1, records: encodeBatch([{ value: `b${i}` }]) }] })));
    }
    await waitFor(() => pool.produceCalls > callsBefore, { what: "B's first request read" });
    // A's queue goes first.
    const slotOf = (worker: number) => pool.opened.find((o) => o.worker === worker)!.slot;
    pool.setFull(0, false);
    await waitFor(() => pool.state(slotOf(0)).logEndOffset === 50, { what: "A's queued batches in the pool" });
    pool.setFull(1, false);
    await waitFor(() => pool.state(slotOf(1)).logEndOffset === 60, { what: "B's batches in the pool" });
    // Partition 0 becomes durable first: A's callbacks run before B's own.
    pool.flush(slotOf(0));
    pool.flush(slotOf(1));
    const results = (await Promise.all(inFlight.map((id) => b.response(id)))).map((r) => decodeProduceResponse(r.body).topics[0].partitions[0]);
    expect(results.map((p) => p.errorCode)).toEqual(results.map(() => ErrorCode.NONE));
    expect(results.map((p) => Number(p.baseOffset))).toEqual(results.map((_, k) => 10 + k));
    // A's queued batches were still appended (a timeout does not withdraw them), in order.
    expect(pool.state(slotOf(0)).logEndOffset).toBe(50);
  });
});
