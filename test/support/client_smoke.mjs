// A produce + consume round trip through the client library, written in plain
// JavaScript so the same file runs under Deno (`deno run -A`, importing
// client/mod.ts) and Node (importing the bundle from `bun build`).
//
//   <runtime> client_smoke.mjs <client module URL or path> <HOST:PORT> <topic>
//
// Prints one JSON line: { runtime, transport, produced, consumed, ok }.

import process from "node:process";

const [modulePath, broker, topic] = process.argv.slice(2);
const { Admin, Consumer, Producer, runtimeName, defaultTransport } = await import(modulePath);

const COUNT = 200;
const admin = new Admin({ broker });
await admin.createTopic(topic, { partitions: 2 });
await admin.close();

const producer = new Producer({ broker });
const sends = [];
for (let i = 0; i < COUNT; i++) {
  sends.push(producer.send(topic, { key: `k${i % 7}`, value: `value-${i}`, headers: { n: String(i) } }));
}
const acked = await Promise.all(sends);
await producer.close();

const consumer = new Consumer({ broker });
consumer.assign([0, 1].map((partition) => ({ topic, partition, position: "beginning" })));
const seen = new Map();
const deadline = Date.now() + 20_000;
while (seen.size < COUNT && Date.now() < deadline) {
  for (const r of await consumer.poll({ maxWaitMs: 500 })) {
    const text = new TextDecoder().decode(r.value);
    const header = new TextDecoder().decode(r.headers[0][1]);
    if (text !== `value-${header}`) throw new Error(`record ${r.partition}/${r.offset} has value ${text} but header n=${header}`);
    seen.set(text, r);
  }
}
await consumer.close();

const ok = acked.length === COUNT && seen.size === COUNT;
console.log(JSON.stringify({ runtime: runtimeName(), transport: defaultTransport().name, produced: acked.length, consumed: seen.size, ok }));
process.exit(ok ? 0 : 1);
