// What each real Kafka client is made to do against the capture server: the
// scenarios that record golden bytes (kafka_capture_cli.ts) and that check the
// clients accept our response encoders (test/kafka_codec_clients.test.ts).
// Each scenario resolves when the client finished it, and throws when the
// client failed (kcat exiting non-zero, a client call rejecting).

import { spawn } from "node:child_process";
import { CAPTURE_TOPIC } from "./kafka_responder.ts";

export const SCENARIO_TIMEOUT_MS = 30_000;
/** Values long and repetitive enough that librdkafka compresses them (it sends a batch plain when compressing does not shrink it). */
export const COMPRESSIBLE = "sluice ".repeat(40);

export type Scenario = { name: string; run: (port: number) => Promise<void> };

function runKcat(args: string[], input: string | null): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn("kcat", args, { stdio: ["pipe", "pipe", "pipe"] });
    let err = "";
    p.stderr.on("data", (d) => (err += d));
    p.stdout.resume();
    if (input !== null) p.stdin.write(input);
    p.stdin.end();
    const timer = setTimeout(() => p.kill("SIGKILL"), SCENARIO_TIMEOUT_MS);
    p.on("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`kcat ${args.join(" ")} exited ${code}: ${err.slice(0, 2000)}`));
    });
  });
}

const kcat: Scenario[] = [
  { name: "metadata", run: (port) => runKcat(["-b", `127.0.0.1:${port}`, "-L"], null) },
  {
    name: "produce-gzip",
    run: (port) => runKcat(["-b", `127.0.0.1:${port}`, "-P", "-t", CAPTURE_TOPIC, "-K:", "-z", "gzip"], `k1:${COMPRESSIBLE}\nk2:${COMPRESSIBLE}\n`),
  },
  {
    name: "produce-idempotent",
    run: (port) =>
      runKcat(["-b", `127.0.0.1:${port}`, "-P", "-t", CAPTURE_TOPIC, "-X", "enable.idempotence=true", "-z", "zstd"], `${COMPRESSIBLE}\n${COMPRESSIBLE}\n`),
  },
  { name: "consume", run: (port) => runKcat(["-b", `127.0.0.1:${port}`, "-C", "-t", CAPTURE_TOPIC, "-o", "beginning", "-e"], null) },
  { name: "group", run: (port) => runKcat(["-b", `127.0.0.1:${port}`, "-G", "kcat-group", "-e", CAPTURE_TOPIC], null) },
];

const kafkajs: Scenario[] = [
  {
    name: "admin",
    run: async (port) => {
      const { Kafka, logLevel } = await import("kafkajs");
      const kafka = new Kafka({ clientId: "kafkajs-capture", brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING });
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: CAPTURE_TOPIC, numPartitions: 1 }] });
      await admin.fetchTopicMetadata({ topics: [CAPTURE_TOPIC] });
      await admin.createPartitions({ topicPartitions: [{ topic: CAPTURE_TOPIC, count: 2 }] });
      await admin.describeConfigs({ resources: [{ type: 2, name: CAPTURE_TOPIC }], includeSynonyms: false });
      await admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: CAPTURE_TOPIC, configEntries: [{ name: "retention.ms", value: "1000" }] }] });
      await admin.fetchOffsets({ groupId: "kafkajs-group", topics: [CAPTURE_TOPIC] });
      await admin.fetchTopicOffsets(CAPTURE_TOPIC);
      await admin.deleteTopics({ topics: ["capture-deleted"] });
      await admin.disconnect();
    },
  },
  {
    name: "produce-consume",
    run: async (port) => {
      const { Kafka, logLevel, CompressionTypes } = await import("kafkajs");
      const kafka = new Kafka({ clientId: "kafkajs-capture", brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING });
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({
        topic: CAPTURE_TOPIC,
        acks: -1,
        compression: CompressionTypes.GZIP,
        messages: [{ key: "k1", value: "hello", headers: { h: "v" } }],
      });
      await producer.disconnect();
      const consumer = kafka.consumer({ groupId: "kafkajs-group", sessionTimeout: 6000, heartbeatInterval: 500 });
      await consumer.connect();
      await consumer.subscribe({ topic: CAPTURE_TOPIC, fromBeginning: true });
      let got!: () => void;
      const received = new Promise<void>((r) => (got = r));
      await consumer.run({ eachMessage: async () => got() });
      await received;
      await consumer.commitOffsets([{ topic: CAPTURE_TOPIC, partition: 0, offset: "1" }]);
      await consumer.disconnect();
      const admin = kafka.admin();
      await admin.connect();
      await admin.listGroups();
      await admin.describeGroups(["kafkajs-group"]);
      await admin.disconnect();
    },
  },
];

const platformatic: Scenario[] = [
  {
    name: "admin",
    run: async (port) => {
      const { Admin } = await import("@platformatic/kafka");
      const admin = new Admin({ clientId: "platformatic-capture", bootstrapBrokers: [`127.0.0.1:${port}`] });
      try {
        await admin.createTopics({ topics: [CAPTURE_TOPIC], partitions: 1, replicas: 1 });
        await admin.metadata({ topics: [CAPTURE_TOPIC] });
        await admin.createPartitions({ topics: [{ name: CAPTURE_TOPIC, count: 2, assignments: [] }] });
        await admin.describeConfigs({ resources: [{ resourceType: 2, resourceName: CAPTURE_TOPIC }] });
        await admin.listGroups();
        await admin.describeGroups({ groups: ["platformatic-group"] });
        await admin.deleteTopics({ topics: ["capture-deleted"] });
      } finally {
        await admin.close();
      }
    },
  },
  {
    name: "produce-consume",
    run: async (port) => {
      const { Producer, Consumer, stringSerializers, stringDeserializers } = await import("@platformatic/kafka");
      const producer = new Producer({ clientId: "platformatic-capture", bootstrapBrokers: [`127.0.0.1:${port}`], serializers: stringSerializers });
      try {
        await producer.send({ messages: [{ topic: CAPTURE_TOPIC, key: "k1", value: "hello", headers: { h: "v" } }] });
      } finally {
        await producer.close();
      }
      const consumer = new Consumer({
        groupId: "platformatic-group",
        clientId: "platformatic-capture",
        bootstrapBrokers: [`127.0.0.1:${port}`],
        deserializers: stringDeserializers,
      });
      try {
        const stream = await consumer.consume({ autocommit: false, topics: [CAPTURE_TOPIC], mode: "earliest", sessionTimeout: 10000, heartbeatInterval: 500 });
        for await (const message of stream) {
          await message.commit();
          break;
        }
        await stream.close();
      } finally {
        await consumer.close(true);
      }
    },
  },
];

export const CLIENTS: Record<string, { label: string; scenarios: Scenario[] }> = {
  kcat: { label: "kcat (Debian 1.7.1, librdkafka 2.0.2)", scenarios: kcat },
  kafkajs: { label: "kafkajs 2.2.4", scenarios: kafkajs },
  platformatic: { label: "@platformatic/kafka 2.12.1", scenarios: platformatic },
};

/** `p`, or a rejection naming `what` after `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} timed out`)), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
