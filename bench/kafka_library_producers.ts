// What a Node user sees: the Kafka listener driven by the two Node Kafka
// libraries instead of a raw client, for bench/protocol_bench.ts. Each send
// carries `batch` messages of `size` bytes for one partition (round robin),
// acks=-1, no compression, `inFlight` sends outstanding at once on one
// producer, for `seconds`; the figure is messages acknowledged per second.
// The library's own costs (building records, CRCs, promises, its framing)
// count here, in the bench's process: that is the point of the row.

import { Kafka, logLevel } from "kafkajs";

export type KafkaLibrary = "kafkajs" | "platformatic";

export interface LibraryProduceOptions {
  seconds: number;
  partitions: number;
  batch: number;
  size: number;
  inFlight: number;
}

/** Keeps `inFlight` sends going until `seconds` passed, then waits for the last ones. */
async function drive(o: LibraryProduceOptions, send: (partition: number) => Promise<unknown>): Promise<{ msgsPerSec: number; messages: number }> {
  let acknowledged = 0;
  let next = 0;
  const started = performance.now();
  const stopAt = started + o.seconds * 1000;
  const lane = async (): Promise<void> => {
    while (performance.now() < stopAt) {
      await send(next++ % o.partitions);
      acknowledged += o.batch;
    }
  };
  await Promise.all(Array.from({ length: o.inFlight }, lane));
  const elapsedS = (performance.now() - started) / 1000;
  return { msgsPerSec: acknowledged / elapsedS, messages: acknowledged };
}

export async function produceWithLibrary(library: KafkaLibrary, kafkaPort: number, topic: string, o: LibraryProduceOptions): Promise<{ msgsPerSec: number; messages: number }> {
  const broker = `127.0.0.1:${kafkaPort}`;
  const value = Buffer.alloc(o.size, "x");
  if (library === "kafkajs") {
    const kafka = new Kafka({ brokers: [broker], clientId: "protocol-bench", logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      return await drive(o, (partition) =>
        producer.send({ topic, acks: -1, messages: Array.from({ length: o.batch }, () => ({ value, partition })) }),
      );
    } finally {
      await producer.disconnect();
    }
  }
  const { Producer, ProduceAcks } = await import("@platformatic/kafka");
  const producer = new Producer({ clientId: "protocol-bench", bootstrapBrokers: [broker], acks: ProduceAcks.ALL, idempotent: false, autocreateTopics: false });
  try {
    return await drive(o, (partition) => producer.send({ messages: Array.from({ length: o.batch }, () => ({ topic, value, partition })) }));
  } finally {
    await producer.close();
  }
}
