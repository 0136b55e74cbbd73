// The native client's idempotent producer against a real broker process,
// through a proxy that drops Produce responses and cuts the connection after
// the broker stored the batches (test/support/response_cutting_proxy.ts). The
// producer retries each cut request; the history of sends, acks and reads is
// judged by the queue checker: with idempotence every record is in the log
// exactly once (no duplicate, none lost); without it, the same cuts leave
// duplicates (which shows the cuts hit stored batches).

import { afterAll, beforeAll, expect, test } from "bun:test";
import { Admin } from "../client/admin.ts";
import { PRODUCER_BATCH_BYTES_MIN } from "../client/client_limits.ts";
import { Consumer } from "../client/consumer.ts";
import { Producer } from "../client/producer.ts";
import { History, partitionKey } from "./checker/history.ts";
import { checkQueueHistory, summarizeQueueReport } from "./checker/queue_checker.ts";
import { type BrokerProcess, startBroker } from "./support/broker.ts";
import { startCuttingProxy } from "./support/response_cutting_proxy.ts";

const RECORDS = 1_500;
const PARTITIONS = 3;
const WAVE = 10;
const CUTS = 12;

let broker: BrokerProcess;
let admin: Admin;
beforeAll(async () => {
  broker = await startBroker({ args: ["--workers", "2"] });
  admin = new Admin({ broker: `127.0.0.1:${broker.port}` });
});
afterAll(async () => {
  await admin?.close();
  await broker?.stop();
});

const text = (b: Uint8Array | null): string => (b === null ? "" : new TextDecoder().decode(b));

/** Produces RECORDS unique values through a cutting proxy, reads the topic back, and judges the history. */
async function run(topic: string, idempotent: boolean, shape: { wave?: number; batchBytes?: number } = {}) {
  const wave = shape.wave ?? WAVE;
  await admin.createTopic(topic, { partitions: PARTITIONS });
  const proxy = await startCuttingProxy({ brokerPort: broker.port, every: 4, cutsMax: CUTS });
  const history = new History();
  const producer = new Producer({
    broker: `127.0.0.1:${proxy.port}`,
    idempotent,
    acks: "all",
    lingerMs: 1,
    ...(shape.batchBytes === undefined ? {} : { batchBytes: shape.batchBytes }),
    retries: 50,
    retryBackoffMs: 5,
    retryBackoffMsMax: 20,
  });
  try {
    for (let i = 0; i < RECORDS; i += wave) {
      const sends = [];
      for (let j = i; j < Math.min(RECORDS, i + wave); j++) {
        const value = `${topic}-${j}`;
        const partition = j % PARTITIONS;
        const key = partitionKey(topic, partition);
        history.send("p", key, value);
        sends.push(
          producer.send(topic, { value, partition }).then(
            (r) => history.ack("p", key, value, Number(r.offset)),
            () => history.fail("p", key, value, false),
          ),
        );
      }
      await Promise.all(sends);
    }
  } finally {
    await producer.close();
    await proxy.close();
  }
  // Read every partition to its end, straight from the broker.
  const consumer = new Consumer({ broker: `127.0.0.1:${broker.port}` });
  try {
    const ends = await admin.listOffsets(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition, at: "latest" as const })));
    consumer.assign(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition, position: "beginning" as const })));
    const got = new Map<number, number>();
    const deadline = Date.now() + 20_000;
    for (;;) {
      const records = await consumer.poll({ maxWaitMs: 200 });
      for (const r of records) {
        history.poll("c", partitionKey(topic, r.partition), [{ offset: Number(r.offset), value: text(r.value) }]);
        got.set(r.partition, Number(r.offset) + 1);
      }
      if (ends.every((e) => (got.get(e.partition) ?? 0) >= Number(e.offset))) break;
      if (Date.now() > deadline) throw new Error("reading the topic back took too long");
    }
  } finally {
    await consumer.close();
  }
  return { report: checkQueueHistory(history.events, { drained: true }), cuts: proxy.cuts };
}

/** Every cut hit, every record acked, none lost, none stored twice. */
function expectEachOnce({ report, cuts }: Awaited<ReturnType<typeof run>>): void {
  expect(cuts).toBe(CUTS);
  if (!report.valid) console.log(summarizeQueueReport(report));
  expect(report.counts.acked).toBe(RECORDS);
  expect(report.duplicated.length).toBe(0);
  expect(report.counts.lost).toBe(0);
  expect(report.valid).toBe(true);
}

test("idempotent (the default): every Produce response cut after the broker stored it is retried, and each record is in the log once", async () => {
  expectEachOnce(await run("idem-on", true));
}, 60_000);

test("idempotent, many small batches queued per partition: a cut request is retried whole and recognised (at most the broker's remembered batches per partition in one request)", async () => {
  // Waves of 300 sends and the smallest batches (a record each): dozens of batches wait per partition while its one request is in
  // flight. A request carrying more than the broker remembers would be answered OUT_OF_ORDER_SEQUENCE_NUMBER on retry.
  expectEachOnce(await run("idem-many", true, { wave: 300, batchBytes: PRODUCER_BATCH_BYTES_MIN }));
}, 60_000);

test("idempotent: false under the same cuts stores retried records twice (what the default prevents)", async () => {
  const { report, cuts } = await run("idem-off", false);
  expect(cuts).toBe(CUTS);
  expect(report.counts.acked).toBe(RECORDS);
  expect(report.duplicated.length).toBeGreaterThan(0);
}, 60_000);
