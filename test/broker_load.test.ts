// Produce throughput through a real broker, and its memory under a producer
// that never waits: 100-byte records in 16 KiB batches, acks=all, many
// requests pipelined per connection. Small mode (a couple of seconds) in the
// suite, asserting only that it moves and that memory stays bounded;
// SLUICE_LOAD_SECONDS=10 for a longer run. Prints the figures:
//
//   SLUICE_LOAD_SECONDS=10 ./node_modules/.bin/bun test test/broker_load.test.ts --timeout 120000

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fs from "node:fs";
import { writeI32 } from "../protocol/big_endian.ts";
import { encodeRequestFrame } from "../protocol/frame.ts";
import { decodeProduceResponse } from "../protocol/messages/produce.ts";
import { BatchBuilder } from "../protocol/record_batch.ts";
import { type BrokerProcess, startBroker } from "./support/broker.ts";
import { RawClient, produceBody } from "./support/raw_client.ts";

const SECONDS = Number(process.env.SLUICE_LOAD_SECONDS ?? 2);
const RECORD_BYTES = 100;
const BATCH_BYTES = 16 * 1024;
const CONNECTIONS = 2;
const PARTITIONS = 4;
const IN_FLIGHT_PER_CONNECTION = 128;

let broker: BrokerProcess;

beforeAll(async () => {
  broker = await startBroker({ args: ["--workers", "2"] });
});

afterAll(async () => {
  if (broker !== undefined) expect(await broker.stop()).toBe(0);
});

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return m === null ? 0 : Number(m[1]) * 1024;
}

/** One batch of 100-byte records filling ~16 KiB. */
function makeBatch(): { bytes: Uint8Array; records: number } {
  const b = new BatchBuilder({ initialBytes: BATCH_BYTES + 1024 });
  b.reset(Date.now());
  const value = new Uint8Array(RECORD_BYTES).fill(0x61);
  let records = 0;
  while (b.sizeBytes + RECORD_BYTES + 16 <= BATCH_BYTES) {
    b.append({ value });
    records++;
  }
  return { bytes: b.finishView().slice(), records };
}

describe("load", () => {
  test(`acks=all produce, 100 B records in 16 KiB batches, ${CONNECTIONS}×${IN_FLIGHT_PER_CONNECTION} pipelined, ${SECONDS}s`, async () => {
    const admin = await RawClient.connect(broker.port);
    await admin.control(19, { topics: [{ name: "load", partitions: PARTITIONS }] });
    admin.close();
    const batch = makeBatch();
    // One frame per partition, built once; only the correlation id changes per send.
    const frames = Array.from({ length: PARTITIONS }, (_, p) =>
      encodeRequestFrame({ apiKey: 0, apiVersion: 0, correlationId: 0 }, produceBody({ topic: "load", acks: -1, partitions: [{ index: p, records: batch.bytes }] })),
    );
    let acked = 0;
    let errors = 0;
    let rssMax = 0;
    const sampler = setInterval(() => (rssMax = Math.max(rssMax, rssBytes(broker.pid))), 100);
    const started = performance.now();
    const endAt = started + SECONDS * 1000;
    const latencies: number[] = [];

    await Promise.all(
      Array.from({ length: CONNECTIONS }, async (_, ci) => {
        const c = await RawClient.connect(broker.port);
        let next = 1;
        const sendOne = (): Promise<void> => {
          const id = next++;
          const frame = frames[(id + ci) % PARTITIONS].slice();
          writeI32(frame, 8, id);
          const t0 = performance.now();
          c.send(frame);
          return c.response(id, 30_000).then((res) => {
            latencies.push(performance.now() - t0);
            const p = decodeProduceResponse(res.body).topics[0].partitions[0];
            if (p.errorCode === 0) acked += batch.records;
            else errors++;
          });
        };
        const lanes = Array.from({ length: IN_FLIGHT_PER_CONNECTION }, async () => {
          while (performance.now() < endAt) await sendOne();
        });
        await Promise.all(lanes);
        c.close();
      }),
    );
    clearInterval(sampler);
    const elapsedS = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const pct = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))].toFixed(2);
    const rate = acked / elapsedS;
    console.log(
      `produce acks=all: ${Math.round(rate).toLocaleString("en-US")} records/s (${((rate * RECORD_BYTES) / 1048576).toFixed(1)} MiB/s of values), ` +
        `${batch.records} records/batch, ack latency p50 ${pct(0.5)} ms p99 ${pct(0.99)} ms, broker RSS max ${(rssMax / 1048576).toFixed(0)} MiB, ${errors} errors`,
    );
    expect(errors).toBe(0);
    expect(acked).toBeGreaterThan(0);
    // Bounded: rings (2 × 64 MiB of shared memory, touched as used) plus in-flight bounds, far below a GiB.
    expect(rssMax).toBeLessThan(1024 * 1024 * 1024);
  }, 120_000);
});
