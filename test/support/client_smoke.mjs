// A produce + consume round trip through the client library, written in plain
// JavaScript so the same file runs under Deno (`deno run -A`, importing
// client/mod.ts) and Node (importing the bundle from `bun build`).
//
//   <runtime> client_smoke.mjs <client module URL or path> <HOST:PORT> <topic> [<zstd topic>]
//
// Then, per codec, a compressed round trip on <topic>-<codec> (where the
// runtime cannot write zstd, the producer must refuse it with
// UNSUPPORTED_COMPRESSION_TYPE), and, when given, reads the 50 records of
// <zstd topic> that another runtime wrote with zstd.
//
// Prints one JSON line: { runtime, transport, produced, consumed, compressed, zstdRead, ok }.

import process from "node:process";

const [modulePath, broker, topic] = process.argv.slice(2);
const [, , , zstdTopic] = process.argv.slice(2);
const { Admin, Consumer, Producer, runtimeName, defaultTransport, zstdCompressionAvailable, ErrorCode } = await import(modulePath);

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

/** Values of partition 0 of `t` from the beginning, until `count` arrived (or the deadline). */
async function readValues(t, count) {
  const c = new Consumer({ broker });
  c.assign([{ topic: t, partition: 0, position: "beginning" }]);
  const values = [];
  const until = Date.now() + 20_000;
  while (values.length < count && Date.now() < until) {
    for (const r of await c.poll({ maxWaitMs: 500 })) values.push(new TextDecoder().decode(r.value));
  }
  await c.close();
  return values;
}

const line = (i) => `2026-12-06T15:20:${String(i % 60).padStart(2, "0")}.000Z INFO [orders] request ${i} completed in ${i % 17} ms`;
const compressed = {};
for (const compression of ["gzip", "snappy", "lz4", "zstd"]) {
  if (compression === "zstd" && !zstdCompressionAvailable) {
    try {
      new Producer({ broker, compression });
      compressed[compression] = "accepted";
    } catch (e) {
      compressed[compression] = e.code === ErrorCode.UNSUPPORTED_COMPRESSION_TYPE ? "unsupported" : `error ${e.code}`;
    }
    continue;
  }
  const p = new Producer({ broker, compression, lingerMs: 20 });
  await Promise.all(Array.from({ length: 50 }, (_, i) => p.send(`${topic}-${compression}`, { value: line(i), partition: 0 })));
  await p.close();
  const values = await readValues(`${topic}-${compression}`, 50);
  compressed[compression] = values.every((v, i) => v === line(i)) ? values.length : "mismatch";
}
const zstdRead = zstdTopic === undefined ? null : (await readValues(zstdTopic, 50)).filter((v, i) => v === line(i)).length;

const ok = acked.length === COUNT && seen.size === COUNT;
console.log(
  JSON.stringify({ runtime: runtimeName(), transport: defaultTransport().name, produced: acked.length, consumed: seen.size, compressed, zstdRead, ok }),
);
process.exit(ok ? 0 : 1);
