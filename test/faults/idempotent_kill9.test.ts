// Idempotent producers across a kill -9 of a real broker: batches of three
// producers (ids from InitProducerId) are produced with acks=all, the broker
// is SIGKILLed, a new broker starts on the same data directory (worker
// journal replay, recovery, producer state from its snapshot and the batch
// headers), and each producer's last five batches are sent again: every one
// is answered with the offsets it was first given, the log holds every batch
// once, and the next batch of each producer is appended after them. Producer
// ids handed out after the restart are new.

import { afterEach, expect, test } from "bun:test";
import { decodeFetchResponse } from "../../protocol/messages/fetch.ts";
import { decodeProduceResponse } from "../../protocol/messages/produce.ts";
import { decodeBatches, encodeBatch } from "../../protocol/record_batch.ts";
import { type BrokerProcess, startBroker } from "../support/broker.ts";
import { RawClient, fetchBody, produceBody } from "../support/raw_client.ts";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const TOPIC = "idem";
const BATCHES_PER_PRODUCER = 40;
const RETRIED = 5;

const brokers: BrokerProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const b of brokers.splice(0)) await b.cleanup();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function batch(producerId: number, seq: number): Uint8Array {
  return encodeBatch(
    [{ value: `${producerId}/${seq}/a` }, { value: `${producerId}/${seq}/b` }],
    { producerId, producerEpoch: 0, baseSequence: seq },
  );
}

async function produce(c: RawClient, records: Uint8Array): Promise<{ errorCode: number; baseOffset: number }> {
  const r = await c.request(0, produceBody({ topic: TOPIC, acks: -1, partitions: [{ index: 0, records }] }));
  const p = decodeProduceResponse(r.body).topics[0].partitions[0];
  return { errorCode: p.errorCode, baseOffset: Number(p.baseOffset) };
}

for (const journal of [true, false]) {
  test(`after kill -9 (worker journal ${journal}), retried batches are answered with their original offsets and stored once`, async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-idem-"));
    dirs.push(dataDir);
    const args = ["--workers", "1", "--worker-journal", String(journal)];
    let broker = await startBroker({ dataDir, args });
    brokers.push(broker);
    let c = await RawClient.connect(broker.port);
    // Small segments: some snapshots are written at rolls, and the rest is rebuilt from headers.
    await c.control(19, { topics: [{ name: TOPIC, partitions: 1, configs: { "segment.bytes": "4096" } }] });
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) ids.push(((await c.control(22, {})) as { producerId: number }).producerId);
    expect(new Set(ids).size).toBe(3);
    const offsets = new Map<string, number>();
    for (let s = 0; s < BATCHES_PER_PRODUCER; s++) {
      for (const id of ids) {
        const r = await produce(c, batch(id, s * 2));
        expect(r.errorCode).toBe(0);
        offsets.set(`${id}/${s * 2}`, r.baseOffset);
      }
    }
    c.close();
    await broker.kill9();

    broker = await startBroker({ dataDir, args });
    brokers.push(broker);
    c = await RawClient.connect(broker.port);
    // The last five batches of every producer, sent again: their original offsets, nothing appended.
    for (const id of ids) {
      for (let s = BATCHES_PER_PRODUCER - RETRIED; s < BATCHES_PER_PRODUCER; s++) {
        const r = await produce(c, batch(id, s * 2));
        expect(r).toEqual({ errorCode: 0, baseOffset: offsets.get(`${id}/${s * 2}`) as number });
      }
      // An older one is behind what the partition remembers: refused, not stored.
      expect((await produce(c, batch(id, 0))).errorCode).toBe(45); // OUT_OF_ORDER_SEQUENCE_NUMBER
    }
    const end = ids.length * BATCHES_PER_PRODUCER * 2;
    for (const id of ids) {
      const r = await produce(c, batch(id, BATCHES_PER_PRODUCER * 2));
      expect(r.errorCode).toBe(0);
      expect(r.baseOffset).toBeGreaterThanOrEqual(end);
    }
    // The log: every (producer, sequence) once, at the offset it was acknowledged at.
    const seen = new Map<string, number>();
    let next = 0;
    while (next < end + ids.length * 2) {
      const f = decodeFetchResponse((await c.request(1, fetchBody({ topic: TOPIC, partitions: [{ index: 0, offset: next }] }))).body);
      const records = f.topics[0].partitions[0].records;
      expect(records.length).toBeGreaterThan(0);
      for (const b of decodeBatches(records)) {
        const key = `${Number(b.header.producerId)}/${b.header.baseSequence}`;
        expect(seen.has(key)).toBe(false);
        seen.set(key, Number(b.header.baseOffset));
        next = Number(b.header.baseOffset) + b.records.length;
      }
    }
    for (const [key, offset] of offsets) expect(seen.get(key)).toBe(offset);
    // Ids given out after the restart are new.
    const after = ((await c.control(22, {})) as { producerId: number }).producerId;
    expect(ids).not.toContain(after);
    expect(after).toBeGreaterThan(Math.max(...ids));
    c.close();
  }, 60_000);
}
