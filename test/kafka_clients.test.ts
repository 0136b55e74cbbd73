// Real Kafka clients against a real broker process, unchanged: kcat
// (librdkafka; /usr/bin/kcat, .ci/run installs it) and kafkajs 2.2.4. And the
// two protocols mixed: what a Kafka client produced the native client reads
// back byte for byte (keys, values, headers, timestamps), and the other way
// round — both listeners serve the same stored batches.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { Kafka, logLevel, CompressionTypes } from "kafkajs";
import { Admin, Consumer, GroupAdmin, Producer } from "../client/mod.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { decodeFetchResponse, encodeFetchRequest } from "../protocol/kafka/messages/fetch.ts";
import { decodeInitProducerIdResponse, encodeInitProducerIdRequest } from "../protocol/kafka/messages/init_producer_id.ts";
import { decodeProduceResponse, encodeProduceRequest } from "../protocol/kafka/messages/produce.ts";
import { KafkaApiKey } from "../protocol/kafka/versions.ts";
import { compressionOf, encodeBatch, readBatchHeader } from "../protocol/record_batch.ts";
import { startBroker, type BrokerProcess } from "./support/broker.ts";
import { KafkaRawClient } from "./support/kafka_raw_client.ts";
import { takeRecords } from "./support/take_records.ts";
import { pollUntil, waitFor } from "./support/wait_for.ts";

const KCAT = "/usr/bin/kcat";
const KCAT_TIMEOUT_MS = 30_000;

let broker: BrokerProcess;
let kafkaAddress: string;
let nativeAddress: string;
let admin: Admin;

beforeAll(async () => {
  broker = await startBroker();
  kafkaAddress = `127.0.0.1:${broker.kafkaPort}`;
  nativeAddress = `127.0.0.1:${broker.port}`;
  admin = new Admin({ broker: nativeAddress });
});

afterAll(async () => {
  await admin?.close();
  // A graceful stop with Kafka connections served: exit 0.
  if (broker !== undefined) expect(await broker.stop()).toBe(0);
});

/** Runs kcat against the broker's Kafka listener; resolves with its stdout, fails on a non-zero exit. */
function kcat(args: string[], stdin = ""): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(KCAT, ["-b", kafkaAddress, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    const timer = setTimeout(() => proc.kill("SIGKILL"), KCAT_TIMEOUT_MS);
    proc.stdout.on("data", (c: Buffer) => (out += c.toString("utf8")));
    proc.stderr.on("data", (c: Buffer) => (err += c.toString("utf8")));
    proc.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`kcat ${args.join(" ")} exited ${code ?? signal}: ${err}`));
    });
    proc.stdin.end(stdin);
  });
}

const text = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));

describe("the ready line", () => {
  test("names the Kafka port; --kafka-port -1 leaves the Kafka listener (and its part of the line) out", async () => {
    expect(broker.kafkaPort).toBeGreaterThan(0);
    expect(broker.output()).toContain(`(kafka ${broker.kafkaPort}, http ${broker.httpPort})`);
    const off = await startBroker({ args: ["--kafka-port", "-1"] });
    try {
      expect(off.kafkaPort).toBeNull();
      expect(off.output()).toContain(`sluice listening on 127.0.0.1:${off.port} (http ${off.httpPort})`);
    } finally {
      expect(await off.stop()).toBe(0);
    }
  });
});

describe("kcat", () => {
  test("-L: this broker, at its advertised address, leads every partition", async () => {
    await admin.createTopic("kc-meta", { partitions: 3 });
    const out = await kcat(["-L", "-t", "kc-meta"]);
    expect(out).toContain(`broker 0 at ${kafkaAddress} (controller)`);
    expect(out).toContain(`topic "kc-meta" with 3 partitions:`);
    for (const p of [0, 1, 2]) expect(out).toContain(`partition ${p}, leader 0, replicas: 0, isrs: 0`);
  });

  test("-P with keys (auto-created topic), -C from the beginning, an offset, a timestamp and the end", async () => {
    const lines = Array.from({ length: 10 }, (_, i) => `key-${i}:value-${i}`);
    await kcat(["-P", "-t", "kc-keys", "-K:"], lines.join("\n") + "\n");
    const all = await kcat(["-C", "-t", "kc-keys", "-o", "beginning", "-e", "-f", "%k:%s@%o\\n"]);
    expect(all.trim().split("\n")).toEqual(lines.map((l, i) => `${l}@${i}`));
    const fromSeven = await kcat(["-C", "-t", "kc-keys", "-o", "7", "-e", "-f", "%k:%s@%o\\n"]);
    expect(fromSeven.trim().split("\n")).toEqual(lines.slice(7).map((l, i) => `${l}@${i + 7}`));
    const end = await kcat(["-C", "-t", "kc-keys", "-o", "end", "-e", "-f", "%k:%s@%o\\n"]);
    expect(end).toBe("");
    // By timestamp: every record was stamped at or after this start, so s@0 reads them all.
    const byTime = await kcat(["-C", "-t", "kc-keys", "-o", "s@0", "-e", "-f", "%o\\n"]);
    expect(byTime.trim().split("\n").length).toBe(10);
  });

  test("-z gzip|snappy|lz4|zstd: compressed batches are stored and served as they came", async () => {
    const codecs = { gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
    // librdkafka sends a batch uncompressed when compressing does not make it smaller: values that compress.
    const value = (name: string, i: number) => `${name}-${i}-`.padEnd(2000, name[0]);
    const c = await KafkaRawClient.connect(broker.kafkaPort!);
    try {
      for (const [name, codec] of Object.entries(codecs)) {
        const topic = `kc-z-${name}`;
        await kcat(["-P", "-t", topic, "-K:", "-z", name], `a:${value(name, 0)}\nb:${value(name, 1)}\n`);
        const out = await kcat(["-C", "-t", topic, "-o", "beginning", "-e", "-f", "%k=%s\\n"]);
        expect(out.trim().split("\n")).toEqual([`a=${value(name, 0)}`, `b=${value(name, 1)}`]);
        // The stored batches carry the producer's codec, and are smaller than their values: stored as they came.
        const r = await c.request(KafkaApiKey.Fetch, 12, (w) =>
          encodeFetchRequest(w, 12, { maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, topics: [{ topic, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] }] }),
        );
        const records = decodeFetchResponse(r, 12).responses[0].partitions[0].records!;
        expect(records.length).toBeLessThan(2000);
        for (let pos = 0; pos < records.length; ) {
          const h = readBatchHeader(records, pos);
          expect(compressionOf(h.attributes)).toBe(codec);
          pos += 12 + h.batchLength;
        }
      }
    } finally {
      c.close();
    }
  });
});

describe("kafkajs 2.2.4", () => {
  test("producer acks -1, 1 and 0 with keys and headers; gzip; read back by the native consumer byte for byte", async () => {
    const kafka = new Kafka({ brokers: [kafkaAddress], clientId: "sluice-test", logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    const sent: { key: string; value: string; headers: Record<string, string>; timestamp: string }[] = [];
    const offsets: string[] = [];
    try {
      for (const acks of [-1, 1, 0]) {
        const m = { key: `key${acks}`, value: `value${acks}`, headers: { trace: `t${acks}` }, timestamp: String(1_700_000_000_000 + sent.length) };
        sent.push(m);
        const r = await producer.send({ topic: "kj", acks, messages: [m] });
        // acks 0: no response, so kafkajs reports no offsets.
        if (acks !== 0) offsets.push(r[0].baseOffset!);
        else expect(r).toEqual([]);
      }
      const gz = { key: "gz", value: "gzipped value", headers: { c: "gzip" }, timestamp: "1700000000100" };
      sent.push(gz);
      const r = await producer.send({ topic: "kj", compression: CompressionTypes.GZIP, messages: [gz] });
      expect(r[0].baseOffset).toBe("3");
    } finally {
      await producer.disconnect();
    }
    expect(offsets).toEqual(["0", "1"]);
    const consumer = new Consumer({ broker: nativeAddress });
    consumer.assign([{ topic: "kj", partition: 0, position: "beginning" }]);
    // The native client reads uncompressed batches; the gzip one is checked by kcat below.
    const got = await takeRecords(consumer, 3);
    await consumer.close();
    expect(got.map((g) => [g.offset, text(g.key), text(g.value), g.headers.map(([k, v]) => [k, text(v)]), g.timestamp])).toEqual(
      sent.slice(0, 3).map((m, i) => [BigInt(i), m.key, m.value, Object.entries(m.headers), Number(m.timestamp)]),
    );
    const viaKcat = await kcat(["-C", "-t", "kj", "-o", "3", "-e", "-f", "%k=%s %h %T\\n"]);
    expect(viaKcat.trim()).toBe("gz=gzipped value c=gzip 1700000000100");
  });
});

describe("idempotent producers (InitProducerId, stamped batches)", () => {
  test("kcat -X enable.idempotence=true produces (librdkafka asks InitProducerId first) and reads back each record once", async () => {
    await admin.createTopic("idem-kcat", { partitions: 1 });
    const lines = Array.from({ length: 20 }, (_, i) => `k${i}:v${i}`);
    await kcat(["-P", "-t", "idem-kcat", "-K:", "-X", "enable.idempotence=true"], lines.join("\n") + "\n");
    const out = await kcat(["-C", "-t", "idem-kcat", "-o", "beginning", "-e", "-f", "%k:%s@%o\\n"]);
    expect(out.trim().split("\n")).toEqual(lines.map((l, i) => `${l}@${i}`));
    // The stored batches carry the producer id the broker gave and sequences from 0.
    const c = await KafkaRawClient.connect(broker.kafkaPort!);
    try {
      const fetched = await c.call(
        KafkaApiKey.Fetch,
        12,
        (w) =>
          encodeFetchRequest(w, 12, {
            maxWaitMs: 0,
            minBytes: 0,
            maxBytes: 1 << 20,
            topics: [{ topic: "idem-kcat", partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] }],
          }),
        decodeFetchResponse,
      );
      const records = fetched.responses[0].partitions[0].records!;
      const header = readBatchHeader(records, 0);
      expect(header.producerId).toBeGreaterThanOrEqual(0n);
      expect(header.producerEpoch).toBe(0);
      expect(header.baseSequence).toBe(0);
    } finally {
      c.close();
    }
  });

  test("kafkajs idempotent: true (maxInFlightRequests 1) produces; the records are read back once, in order", async () => {
    await admin.createTopic("idem-kj", { partitions: 2 });
    const kafka = new Kafka({ brokers: [kafkaAddress], clientId: "idem-js", logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      for (let i = 0; i < 10; i++) {
        const r = await producer.send({ topic: "idem-kj", acks: -1, messages: [{ key: `k${i}`, value: `v${i}`, partition: i % 2 }] });
        expect(r[0].errorCode).toBe(0);
        expect(r[0].baseOffset).toBe(String(Math.floor(i / 2)));
      }
    } finally {
      await producer.disconnect();
    }
    for (const p of [0, 1]) {
      const out = await kcat(["-C", "-t", "idem-kj", "-p", String(p), "-o", "beginning", "-e", "-f", "%k=%s\\n"]);
      expect(out.trim().split("\n")).toEqual([0, 1, 2, 3, 4].map((j) => `k${2 * j + p}=v${2 * j + p}`));
    }
  });

  test("raw: the same idempotent batch twice gets the same base offset and is stored once; a gap is OUT_OF_ORDER_SEQUENCE_NUMBER; an epoch bump fences the old epoch", async () => {
    await admin.createTopic("idem-raw", { partitions: 1 });
    const c = await KafkaRawClient.connect(broker.kafkaPort!);
    try {
      const init = (version: number, body: { transactionalId?: string | null; producerId?: bigint; producerEpoch?: number }) =>
        c.call(
          KafkaApiKey.InitProducerId,
          version,
          (w) => encodeInitProducerIdRequest(w, version, { transactionalId: body.transactionalId ?? null, transactionTimeoutMs: 60_000, producerId: body.producerId ?? -1n, producerEpoch: body.producerEpoch ?? -1 }),
          decodeInitProducerIdResponse,
        );
      const produce = async (batch: Uint8Array) => {
        const r = await c.call(
          KafkaApiKey.Produce,
          9,
          (w) => encodeProduceRequest(w, 9, { acks: -1, timeoutMs: 5000, topicData: [{ name: "idem-raw", partitionData: [{ index: 0, records: batch }] }] }),
          decodeProduceResponse,
        );
        return r.responses[0].partitionResponses[0];
      };
      const first = await init(0, {});
      expect(first.errorCode).toBe(ErrorCode.NONE);
      expect(first.producerEpoch).toBe(0);
      const pid = first.producerId;
      // Every version answers; each call without an id gives a new one.
      const again = await init(4, {});
      expect(again.errorCode).toBe(ErrorCode.NONE);
      expect(again.producerId).not.toBe(pid);

      const stamped = (seq: number, n: number, epoch = 0) =>
        encodeBatch(Array.from({ length: n }, (_, i) => ({ value: `s${seq + i}` })), { producerId: pid, producerEpoch: epoch, baseSequence: seq });
      // A filler batch from no producer first, so the idempotent batch's offset is not 0.
      expect((await produce(encodeBatch([{ value: "plain" }]))).baseOffset).toBe(0n);
      const a = await produce(stamped(0, 3));
      expect([a.errorCode, a.baseOffset]).toEqual([ErrorCode.NONE, 1n]);
      const retry = await produce(stamped(0, 3));
      expect([retry.errorCode, retry.baseOffset]).toEqual([ErrorCode.NONE, 1n]);
      const b = await produce(stamped(3, 2));
      expect([b.errorCode, b.baseOffset]).toEqual([ErrorCode.NONE, 4n]);
      const gap = await produce(stamped(7, 1));
      expect(gap.errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
      const out = await kcat(["-C", "-t", "idem-raw", "-o", "beginning", "-e", "-f", "%s@%o\\n"]);
      expect(out.trim().split("\n")).toEqual(["plain@0", "s0@1", "s1@2", "s2@3", "s3@4", "s4@5"]);

      // KIP-360: the same id with the next epoch; the partition then refuses the old epoch.
      const bumped = await init(4, { producerId: pid, producerEpoch: 0 });
      expect([bumped.errorCode, bumped.producerId, bumped.producerEpoch]).toEqual([ErrorCode.NONE, pid, 1]);
      expect((await produce(stamped(0, 1, 1))).errorCode).toBe(ErrorCode.NONE);
      expect((await produce(stamped(5, 1, 0))).errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
      // An id this broker never issued; a transactional id (no transactions here).
      expect((await init(3, { producerId: 1n << 40n, producerEpoch: 0 })).errorCode).toBe(ErrorCode.UNKNOWN_PRODUCER_ID);
      const txn = await init(4, { transactionalId: "txn-1" });
      expect([txn.errorCode, txn.producerId]).toEqual([ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, -1n]);
    } finally {
      c.close();
    }
  });
});

describe("mixed protocols", () => {
  test("records from kcat read by the native consumer; records from the native producer read by kcat", async () => {
    await kcat(["-P", "-t", "mix-in", "-K:", "-H", "h1=v1"], "alpha:one\nbeta:two\n");
    const consumer = new Consumer({ broker: nativeAddress });
    consumer.assign([{ topic: "mix-in", partition: 0, position: "beginning" }]);
    const got = await takeRecords(consumer, 2);
    await consumer.close();
    expect(got.map((g) => [text(g.key), text(g.value), g.headers.map(([k, v]) => [k, text(v)])])).toEqual([
      ["alpha", "one", [["h1", "v1"]]],
      ["beta", "two", [["h1", "v1"]]],
    ]);

    await admin.createTopic("mix-out", { partitions: 1 });
    const producer = new Producer({ broker: nativeAddress, lingerMs: 0 });
    await producer.send("mix-out", { key: "n1", value: "native one", headers: { h: "x" }, timestamp: 1_700_000_000_000 });
    await producer.send("mix-out", { key: "n2", value: "native two", timestamp: 1_700_000_000_001 });
    await producer.close();
    const out = await kcat(["-C", "-t", "mix-out", "-o", "beginning", "-e", "-f", "%k=%s|%h|%T\\n"]);
    expect(out.trim().split("\n")).toEqual(["n1=native one|h=x|1700000000000", "n2=native two||1700000000001"]);
  });
});

describe("consumer groups (Kafka's classic protocol: the client leader assigns)", () => {
  test("kcat -G: two members together read every partition; a restart resumes from the commits; the group and its lag show in `groups describe`", async () => {
    await admin.createTopic("kg-kcat", { partitions: 4 });
    const first = Array.from({ length: 20 }, (_, i) => `a${i}:first-${i}`);
    await kcat(["-P", "-t", "kg-kcat", "-K:"], first.join("\n") + "\n");
    const member = () => kcat(["-G", "kcat-group", "kg-kcat", "-X", "auto.offset.reset=earliest", "-e", "-f", "%p %k=%s\n", "-X", "auto.commit.interval.ms=100"]);
    const [m1, m2] = await Promise.all([member(), member()]);
    const lines = (out: string) => out.split("\n").filter((l) => l !== "");
    const seen = new Set([...lines(m1), ...lines(m2)].map((l) => l.slice(l.indexOf(" ") + 1)));
    expect([...seen].sort()).toEqual(first.map((l) => l.replace(":", "=")).sort());
    // The members together read every partition (each record at least once; a rebalance may repeat some).
    const partitions = new Set([...lines(m1), ...lines(m2)].map((l) => l.split(" ")[0]));
    expect([...partitions].sort()).toEqual(["0", "1", "2", "3"]);

    const groups = new GroupAdmin({ broker: nativeAddress });
    try {
      const d = await groups.describeGroup("kcat-group");
      expect(d.offsets.map((o) => [o.partition, o.lag])).toEqual([
        [0, 0],
        [1, 0],
        [2, 0],
        [3, 0],
      ]);
    } finally {
      await groups.close();
    }
    // A restarted member starts from the commits: only what came after.
    await kcat(["-P", "-t", "kg-kcat", "-K:"], "later:one\nlater:two\n");
    const again = await member();
    expect(lines(again).map((l) => l.slice(l.indexOf(" ") + 1)).sort()).toEqual(["later=one", "later=two"]);
  });

  test("kafkajs: a group of two splits the partitions, commits, and the one left takes over when the other leaves", async () => {
    await admin.createTopic("kg-js", { partitions: 4 });
    const kafka = new Kafka({ brokers: [kafkaAddress], clientId: "kg-js", logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    const send = (from: number, n: number) =>
      producer.send({ topic: "kg-js", messages: Array.from({ length: n }, (_, i) => ({ key: `k${from + i}`, value: `v${from + i}`, partition: (from + i) % 4 })) });
    const got = new Map<string, string>();
    const member = async (name: string) => {
      // kafkajs heartbeats (and so learns of a rebalance) between fetches: a fetch that waits 100 ms, not its default 5 s,
      // lets each join and leave below settle in well under a second.
      const c = kafka.consumer({ groupId: "js-group", sessionTimeout: 10_000, heartbeatInterval: 200, rebalanceTimeout: 10_000, maxWaitTimeInMs: 100 });
      await c.connect();
      await c.subscribe({ topic: "kg-js", fromBeginning: true });
      await c.run({ eachMessage: async ({ message }) => void got.set(message.value!.toString(), name) });
      return c;
    };
    const a = await member("a");
    const b = await member("b");
    const groupAdmin = kafka.admin();
    await groupAdmin.connect();
    try {
      // Both members in one generation, each with a share of the four partitions.
      let g = (await groupAdmin.describeGroups(["js-group"])).groups[0];
      await pollUntil(
        async () => {
          g = (await groupAdmin.describeGroups(["js-group"])).groups[0];
          return g.state === "Stable" && g.members.length === 2;
        },
        { timeoutMs: 20_000, everyMs: 50 },
      );
      expect([g.state, g.protocolType, g.members.length]).toEqual(["Stable", "consumer", 2]);
      expect(g.members.every((m) => m.memberAssignment.length > 0)).toBe(true);

      await send(0, 20);
      await waitFor(() => got.size === 20, { what: "20 records", timeoutMs: 20_000, everyMs: 20 });
      expect(new Set(got.values())).toEqual(new Set(["a", "b"]));
      // Commits land in the one offsets store: lag 0 over the native protocol too.
      const groups = new GroupAdmin({ broker: nativeAddress });
      try {
        let lags: number[] = [];
        await pollUntil(
          async () => {
            lags = (await groups.describeGroup("js-group")).offsets.map((o) => o.lag);
            return lags.length === 4 && lags.every((l) => l === 0);
          },
          { timeoutMs: 20_000, everyMs: 100 },
        );
        expect(lags).toEqual([0, 0, 0, 0]);
      } finally {
        await groups.close();
      }

      // b leaves: a rebalance gives a every partition.
      await b.disconnect();
      await send(20, 8);
      await waitFor(() => got.size === 28, { what: "8 more records", timeoutMs: 20_000, everyMs: 20 });
      for (let i = 20; i < 28; i++) expect(got.get(`v${i}`)).toBe("a");
    } finally {
      await groupAdmin.disconnect();
      await a.disconnect();
      await b.disconnect();
      await producer.disconnect();
    }
  }, 60_000);
});

describe("admin over the Kafka protocol", () => {
  test("kafkajs admin: create, grow, configure, describe and delete a topic; describe the cluster", async () => {
    const { ConfigResourceTypes } = await import("kafkajs");
    const kafka = new Kafka({ brokers: [kafkaAddress], clientId: "admin-test", logLevel: logLevel.NOTHING });
    const a = kafka.admin();
    await a.connect();
    try {
      expect(await a.createTopics({ topics: [{ topic: "adm", numPartitions: 2, configEntries: [{ name: "retention.ms", value: "3600000" }] }] })).toBe(true);
      // Already there: kafkajs reports false (TOPIC_ALREADY_EXISTS).
      expect(await a.createTopics({ topics: [{ topic: "adm", numPartitions: 2 }] })).toBe(false);
      await a.createPartitions({ topicPartitions: [{ topic: "adm", count: 3 }] });
      const md = await a.fetchTopicMetadata({ topics: ["adm"] });
      expect(md.topics[0].partitions.map((p) => [p.partitionId, p.leader]).sort()).toEqual([
        [0, 0],
        [1, 0],
        [2, 0],
      ]);
      const retention = async () =>
        (await a.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: "adm", configNames: ["retention.ms"] }], includeSynonyms: false })).resources[0]
          .configEntries.map((c) => [c.configName, c.configValue]);
      expect(await retention()).toEqual([["retention.ms", "3600000"]]);
      await a.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: "adm", configEntries: [{ name: "retention.ms", value: "7200000" }] }] });
      expect(await retention()).toEqual([["retention.ms", "7200000"]]);
      // The native protocol sees the same topic.
      const native = (await admin.describeTopics(["adm"]))[0];
      expect([native.partitions.length, native.configs["retention.ms"]]).toEqual([3, "7200000"]);
      const cluster = await a.describeCluster();
      expect(cluster).toEqual({ brokers: [{ nodeId: 0, host: "127.0.0.1", port: broker.kafkaPort! }], controller: 0, clusterId: "sluice-single-node" });
      await a.deleteTopics({ topics: ["adm"] });
      expect(await a.listTopics()).not.toContain("adm");
    } finally {
      await a.disconnect();
    }
  });
});

describe("@platformatic/kafka (flexible versions)", () => {
  test("admin, producer with headers, and a consumer group that commits", async () => {
    const { Admin: PAdmin, Producer: PProducer, Consumer: PConsumer, stringSerializers, stringDeserializers } = await import("@platformatic/kafka");
    const bootstrapBrokers = [kafkaAddress];
    const a = new PAdmin({ clientId: "pl-admin", bootstrapBrokers });
    try {
      const created = await a.createTopics({ topics: ["pl"], partitions: 2, replicas: 1 });
      expect(created[0].partitions).toBe(2);
    } finally {
      await a.close();
    }
    const producer = new PProducer({ clientId: "pl-producer", bootstrapBrokers, serializers: stringSerializers });
    try {
      for (let i = 0; i < 4; i++) await producer.send({ messages: [{ topic: "pl", key: `k${i}`, value: `v${i}`, headers: { h: `x${i}` }, partition: i % 2 }] });
    } finally {
      await producer.close();
    }
    const consumer = new PConsumer({ groupId: "pl-group", clientId: "pl-consumer", bootstrapBrokers, deserializers: stringDeserializers });
    const got: string[] = [];
    try {
      const stream = await consumer.consume({ autocommit: false, topics: ["pl"], mode: "earliest", sessionTimeout: 10_000, heartbeatInterval: 500 });
      for await (const m of stream) {
        got.push(`${m.key}=${m.value} ${[...m.headers].map(([k, v]) => `${k}:${v}`).join(",")}`);
        await m.commit();
        if (got.length === 4) break;
      }
      await stream.close();
    } finally {
      await consumer.close(true);
    }
    expect(got.sort()).toEqual(["k0=v0 h:x0", "k1=v1 h:x1", "k2=v2 h:x2", "k3=v3 h:x3"]);
    // Its commits are in the one offsets store.
    const groups = new GroupAdmin({ broker: nativeAddress });
    try {
      const d = await groups.describeGroup("pl-group");
      expect(d.offsets.map((o) => [o.partition, o.committedOffset])).toEqual([
        [0, 2],
        [1, 2],
      ]);
    } finally {
      await groups.close();
    }
  }, 60_000);
});
