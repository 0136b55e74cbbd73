// Client throughput against a real broker: 100-byte messages, acks=all,
// default batching. Runs small inside the test suite (so it cannot rot);
// set SLUICE_CLIENT_BENCH_MESSAGES for a real measurement:
//
//   SLUICE_CLIENT_BENCH_MESSAGES=2000000 ./node_modules/.bin/bun test test/client_throughput.test.ts --timeout 600000
//
// Prints: producer msg/s through send() (one promise per message, many in
// flight), through sendBatch(), and consumer msg/s reading from the beginning.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { Admin, Consumer, Producer } from "../client/mod.ts";
import { startBroker, type BrokerProcess } from "./support/broker.ts";

const MESSAGES = Number(process.env.SLUICE_CLIENT_BENCH_MESSAGES ?? 100_000);
const VALUE_BYTES = 100;
/** send() calls awaited together; several chunks are in flight at once. */
const CHUNK = 10_000;
const CHUNKS_IN_FLIGHT = 8;

let broker: BrokerProcess;
let address: string;

beforeAll(async () => {
  broker = await startBroker();
  address = `127.0.0.1:${broker.port}`;
  const admin = new Admin({ broker: address });
  await admin.createTopic("bench-send", { partitions: 1 });
  await admin.createTopic("bench-batch", { partitions: 1 });
  await admin.close();
});

afterAll(async () => {
  await broker?.stop();
});

function report(what: string, count: number, ms: number): void {
  const rate = Math.round((count / ms) * 1000);
  const mib = ((count * VALUE_BYTES) / ms / 1024 / 1024) * 1000;
  console.log(`${what}: ${count} messages of ${VALUE_BYTES} B in ${ms.toFixed(0)} ms = ${rate.toLocaleString("en-US")} msg/s (${mib.toFixed(1)} MiB/s of values)`);
}

test(`producer send(): ${MESSAGES} x ${VALUE_BYTES} B, acks=all, default batching`, async () => {
  const producer = new Producer({ broker: address, acks: "all" });
  const value = new Uint8Array(VALUE_BYTES).fill(120);
  await producer.send("bench-send", { value }); // metadata and connection before the clock starts
  const inFlight: Array<Promise<unknown>> = [];
  const started = performance.now();
  for (let sent = 0; sent < MESSAGES; ) {
    const n = Math.min(CHUNK, MESSAGES - sent);
    const chunk = new Array<Promise<unknown>>(n);
    for (let i = 0; i < n; i++) chunk[i] = producer.send("bench-send", { value });
    sent += n;
    inFlight.push(Promise.all(chunk));
    if (inFlight.length >= CHUNKS_IN_FLIGHT) await inFlight.shift();
  }
  await Promise.all(inFlight);
  const ms = performance.now() - started;
  await producer.close();
  report("producer send()", MESSAGES, ms);
  expect(producer.bufferedBytes).toBe(0);
}, 600_000);

test(`producer sendBatch(): ${MESSAGES} x ${VALUE_BYTES} B, acks=all, default batching`, async () => {
  const producer = new Producer({ broker: address, acks: "all" });
  const value = new Uint8Array(VALUE_BYTES).fill(121);
  await producer.send("bench-batch", { value });
  const messages = Array.from({ length: CHUNK }, () => ({ value }));
  const inFlight: Array<Promise<unknown>> = [];
  const started = performance.now();
  for (let sent = 0; sent < MESSAGES; sent += CHUNK) {
    inFlight.push(producer.sendBatch("bench-batch", sent + CHUNK <= MESSAGES ? messages : messages.slice(0, MESSAGES - sent)));
    if (inFlight.length >= CHUNKS_IN_FLIGHT) await inFlight.shift();
  }
  await Promise.all(inFlight);
  const ms = performance.now() - started;
  await producer.close();
  report("producer sendBatch()", MESSAGES, ms);
}, 600_000);

test(`consumer from the beginning: ${MESSAGES} x ${VALUE_BYTES} B`, async () => {
  const consumer = new Consumer({ broker: address });
  consumer.assign([{ topic: "bench-send", partition: 0, position: "beginning" }]);
  const total = MESSAGES + 1;
  let n = 0;
  let bytes = 0;
  const started = performance.now();
  for await (const batch of consumer.batches()) {
    for (const r of batch.records) bytes += r.value!.length;
    n += batch.records.length;
    if (n >= total) break;
  }
  const ms = performance.now() - started;
  await consumer.close();
  report("consumer batches()", n, ms);
  expect(n).toBe(total);
  expect(bytes).toBe(total * VALUE_BYTES);
}, 600_000);
