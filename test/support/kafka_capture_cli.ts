// Records the request frames a real Kafka client sends and writes them as a
// fixture file of protocol/kafka/testing/fixtures/ (hex, first frame of each
// api/version per scenario). Run by hand when a client or a codec changes:
//
//   bun test/support/kafka_capture_cli.ts kcat|kafkajs|platformatic
//
// The client talks to the capture server (kafka_capture.ts), whose answers
// come from our encoders: a client that completes its scenario has also
// accepted every response it got.

import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { KAFKA_APIS, KafkaApiKey } from "../../protocol/kafka/versions.ts";
import { type CapturedFrame, startKafkaCapture } from "./kafka_capture.ts";
import { CAPTURE_TOPIC } from "./kafka_responder.ts";

const SCENARIO_TIMEOUT_MS = 30_000;
const DISTINCT_FRAMES_MAX = 3;
/** Values long and repetitive enough that librdkafka compresses them (it sends a batch plain when compressing does not shrink it). */
const COMPRESSIBLE = "sluice ".repeat(40);

type Scenario = { name: string; run: (port: number) => Promise<void> };

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

const CLIENTS: Record<string, { label: string; scenarios: Scenario[] }> = {
  kcat: { label: "kcat (Debian 1.7.1, librdkafka 2.0.2)", scenarios: kcat },
  kafkajs: { label: "kafkajs 2.2.4", scenarios: kafkajs },
  platformatic: { label: "@platformatic/kafka 2.12.1", scenarios: platformatic },
};

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} timed out`)), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

function apiName(key: number): string {
  return KAFKA_APIS.find((a) => a.key === key)?.name ?? `Api${key}`;
}

async function main(): Promise<void> {
  const which = process.argv[2] ?? "";
  const client = CLIENTS[which];
  if (client === undefined) {
    console.error(`usage: bun test/support/kafka_capture_cli.ts ${Object.keys(CLIENTS).join("|")}`);
    process.exit(2);
  }
  const kept: { scenario: string; f: CapturedFrame }[] = [];
  const errors: string[] = [];
  const bodies = new Set<string>();
  for (const s of client.scenarios) {
    const cap = await startKafkaCapture();
    try {
      await withTimeout(s.run(cap.port), SCENARIO_TIMEOUT_MS, s.name);
    } catch (e) {
      errors.push(`${s.name}: ${e instanceof Error ? e.message : String(e)}`);
    }
    await cap.close();
    // One frame per api/version and scenario (an api/version kept by an earlier scenario is not kept
    // again); Metadata and Produce keep each distinct frame, up to DISTINCT_FRAMES_MAX, since a
    // client's first and later ones differ (brokers only, then all topics; plain, then idempotent).
    const kinds = new Map<string, number>();
    for (const f of cap.frames) {
      if (f.error !== null) errors.push(`${s.name}: ${apiName(f.header.apiKey)} v${f.header.apiVersion}: ${f.error}`);
      const key = `${f.header.apiKey}/${f.header.apiVersion}`;
      const distinct = f.header.apiKey === KafkaApiKey.Metadata || f.header.apiKey === KafkaApiKey.Produce;
      const body = Buffer.from(f.frame.subarray(8)).toString("hex");
      const count = kinds.get(key) ?? 0;
      const earlier = kept.some((k) => k.scenario !== s.name && `${k.f.header.apiKey}/${k.f.header.apiVersion}` === key);
      if (distinct ? count >= DISTINCT_FRAMES_MAX || bodies.has(body) : count > 0 || earlier) continue;
      kinds.set(key, count + 1);
      bodies.add(body);
      kept.push({ scenario: s.name, f });
    }
  }
  const constName = `${which.toUpperCase()}_REQUESTS`;
  const lines = [
    `// Request frames ${client.label} sent, one per api/version and scenario (size`,
    "// prefix removed: request header + body). Recorded by",
    `// \`bun test/support/kafka_capture_cli.ts ${which}\` against the capture server;`,
    "// do not edit by hand.",
    "",
    'import type { CapturedRequest } from "./captured_request.ts";',
    "",
    `export const ${constName}: readonly CapturedRequest[] = [`,
  ];
  for (const { scenario, f } of kept) {
    const h = f.header;
    lines.push(
      `  { scenario: "${scenario}", api: "${apiName(h.apiKey)}", apiKey: ${h.apiKey}, apiVersion: ${h.apiVersion}, hex: "${Buffer.from(f.frame).toString("hex")}" },`,
    );
  }
  lines.push("];", "");
  const path = new URL(`../../protocol/kafka/testing/fixtures/${which}.ts`, import.meta.url).pathname;
  writeFileSync(path, lines.join("\n"));
  console.log(`wrote ${kept.length} frames to ${path}`);
  for (const { scenario, f } of kept) console.log(`  ${scenario}: ${apiName(f.header.apiKey)} v${f.header.apiVersion} (${f.frame.length} bytes)`);
  if (errors.length > 0) {
    console.log("errors:");
    for (const e of errors) console.log(`  ${e}`);
    process.exitCode = 1;
  }
}

await main();
