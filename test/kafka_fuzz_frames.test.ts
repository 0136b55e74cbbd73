// A frame fuzzer for the Kafka listener, against a real broker process: the
// frames real clients sent (captured through a recording proxy while kcat
// ran -L, -P, -C and an offset lookup) and the flexible versions of the same
// apis (built by the codecs; librdkafka 2.0 does not send them), mutated by bit flips, truncations,
// overwritten runs, huge lengths and appended junk, with each frame's size
// prefix kept true. Kafka's answer to a request it cannot read is to close
// the connection; so each mutated frame is followed by a good ApiVersions
// request, and either that is answered (the mutation was harmless or answered
// with an error) or the connection closes — never anything else. The broker
// must not crash, must keep its resident memory bounded (no allocation from a
// forged length), and must serve a good request afterwards. Seeded
// (SLUICE_FUZZ_SEED) so a failure can be replayed.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import { readU32 } from "../protocol/big_endian.ts";
import { decodeApiVersionsResponse, encodeApiVersionsRequest } from "../protocol/kafka/messages/api_versions.ts";
import { encodeFetchRequest } from "../protocol/kafka/messages/fetch.ts";
import { encodeFindCoordinatorRequest } from "../protocol/kafka/messages/find_coordinator.ts";
import { encodeListOffsetsRequest } from "../protocol/kafka/messages/list_offsets.ts";
import { encodeMetadataRequest } from "../protocol/kafka/messages/metadata.ts";
import { decodeProduceResponse, encodeProduceRequest } from "../protocol/kafka/messages/produce.ts";
import { KafkaReader } from "../protocol/kafka/reader.ts";
import { KafkaApiKey } from "../protocol/kafka/versions.ts";
import { encodeBatch } from "../protocol/record_batch.ts";
import { Admin } from "../client/mod.ts";
import { type BrokerProcess, startBroker } from "./support/broker.ts";
import { mutateKeepingBoundary, rng } from "./support/frame_mutation.ts";
import { KafkaRawClient } from "./support/kafka_raw_client.ts";

const SEED = Number(process.env.SLUICE_FUZZ_SEED ?? 0x5eed);
const MUTATIONS_PER_FRAME = 300;
/** Resident memory the broker may gain while fuzzed: a forged 2 GiB length that were allocated would blow it. */
const RSS_GROWTH_BYTES_MAX = 128 * 1024 * 1024;
/** The answer (or the close) for one mutated frame must come within this. */
const ANSWER_WAIT_MS = 3_000;
const PROBE_CORRELATION_ID_BASE = 0x7ead0000;

let broker: BrokerProcess;
/** Request frames (size prefix included) the clients sent, one per api key and version seen. */
const captured = new Map<string, Uint8Array>();

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return m === null ? 0 : Number(m[1]) * 1024;
}

/** A proxy to the broker's Kafka port that cuts what clients send into frames and keeps one of each api and version. */
function recordingProxy(target: () => number): Promise<{ port: number; close(): void }> {
  return new Promise((resolve) => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((client) => {
      const upstream = net.connect({ port: target(), host: "127.0.0.1" });
      sockets.add(client).add(upstream);
      let pending = Buffer.alloc(0);
      client.on("data", (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 4) {
          const size = readU32(pending, 0);
          if (pending.length < 4 + size) break;
          const frame = new Uint8Array(pending.subarray(0, 4 + size));
          captured.set(`${(frame[4] << 8) | frame[5]}v${(frame[6] << 8) | frame[7]}`, frame.slice());
          pending = pending.subarray(4 + size);
        }
        upstream.write(chunk);
      });
      upstream.on("data", (chunk) => client.write(chunk));
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
      client.on("error", () => {});
      upstream.on("error", () => {});
    });
    server.listen(0, "127.0.0.1", () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        close: () => {
          for (const s of sockets) s.destroy();
          server.close();
        },
      }),
    );
  });
}

function kcat(port: number, args: string[], stdin = ""): Promise<void> {
  return new Promise((resolve, reject) => {
    const proc = spawn("/usr/bin/kcat", ["-b", `127.0.0.1:${port}`, ...args], { stdio: ["pipe", "ignore", "pipe"] });
    let err = "";
    const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
    proc.stderr.on("data", (c: Buffer) => (err += c.toString("utf8")));
    proc.on("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`kcat ${args.join(" ")} exited ${code}: ${err}`));
    });
    proc.stdin.end(stdin);
  });
}

beforeAll(async () => {
  // The proxy first, so the broker can advertise it: every connection kcat makes then passes through it.
  let kafkaPort = 0;
  const proxy = await recordingProxy(() => kafkaPort);
  // Auto-create off: mutated topic names must not turn into thousands of topics.
  broker = await startBroker({
    args: ["--workers", "2", "--request-timeout-ms", "500", "--auto-create-topics", "false", "--kafka-advertised-port", String(proxy.port)],
  });
  kafkaPort = broker.kafkaPort!;
  const admin = new Admin({ broker: `127.0.0.1:${broker.port}` });
  try {
    await admin.createTopic("fz", { partitions: 2 });
    await kcat(proxy.port, ["-L"]);
    await kcat(proxy.port, ["-P", "-t", "fz", "-K:"], "k1:v1\nk2:v2\n");
    await kcat(proxy.port, ["-C", "-t", "fz", "-o", "beginning", "-e"]);
    await kcat(proxy.port, ["-C", "-t", "fz", "-o", "-1", "-e"]);
  } finally {
    await admin.close();
    proxy.close();
  }
});

afterAll(async () => {
  if (broker !== undefined) expect(await broker.stop()).toBe(0);
});

describe("fuzzed Kafka frames", () => {
  test("mutated frames real clients sent: each is answered or closes its connection; the broker stays up with bounded memory", async () => {
    // The captures cover the apis kcat uses without a group.
    const apis = new Set([...captured.keys()].map((k) => Number(k.split("v")[0])));
    for (const k of [KafkaApiKey.ApiVersions, KafkaApiKey.Metadata, KafkaApiKey.Produce, KafkaApiKey.Fetch, KafkaApiKey.ListOffsets]) expect(apis).toContain(k);

    let client = await KafkaRawClient.connect(broker.kafkaPort!);
    // librdkafka 2.0 sends flexible versions only of ApiVersions: add the flexible encodings of the others, built by the codecs.
    const records = encodeBatch([{ key: "k", value: "fuzz value" }, { value: "second" }]);
    const built: [string, Uint8Array][] = [
      ["0v9", client.frame(0, 9, (w) => encodeProduceRequest(w, 9, { acks: -1, timeoutMs: 1000, topicData: [{ name: "fz", partitionData: [{ index: 0, records }, { index: 1, records }] }] }), 1).bytes],
      ["1v12", client.frame(1, 12, (w) => encodeFetchRequest(w, 12, { maxWaitMs: 10, minBytes: 1, maxBytes: 65536, topics: [{ topic: "fz", partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 65536 }] }] }), 1).bytes],
      ["2v7", client.frame(2, 7, (w) => encodeListOffsetsRequest(w, 7, { replicaId: -1, topics: [{ name: "fz", partitions: [{ partitionIndex: 0, timestamp: -1n }, { partitionIndex: 1, timestamp: 0n }] }] }), 1).bytes],
      ["3v12", client.frame(3, 12, (w) => encodeMetadataRequest(w, 12, { topics: [{ name: "fz" }], allowAutoTopicCreation: false }), 1).bytes],
      ["10v4", client.frame(10, 4, (w) => encodeFindCoordinatorRequest(w, 4, { keyType: 0, coordinatorKeys: ["g1", "g2"] }), 1).bytes],
    ];
    for (const [k, f] of built) captured.set(k, f);
    const rssBefore = rssBytes(broker.pid);
    const r = rng(SEED);
    let answered = 0;
    let closed = 0;
    let parked = 0;
    for (const [name, frame] of captured) {
      for (let i = 0; i < MUTATIONS_PER_FRAME; i++) {
        if (client.isClosed) client = await KafkaRawClient.connect(broker.kafkaPort!);
        // A correlation id no mutated frame can carry (the clients' were small, and at most 4 bits flip).
        const probe = client.frame(
          KafkaApiKey.ApiVersions,
          3,
          (w) => encodeApiVersionsRequest(w, 3, { clientSoftwareName: "fuzz", clientSoftwareVersion: "1" }),
          PROBE_CORRELATION_ID_BASE + answered + closed + parked,
        );
        client.send(mutateKeepingBoundary(frame, r));
        client.send(probe.bytes);
        const outcome = await Promise.race([
          client.response(probe.correlationId).then(
            (r) => r.body,
            () => "closed" as const,
          ),
          client.closed.then(() => "closed" as const),
          // Not an ordering sleep: this time elapsing with neither answer nor close IS the outcome "hung".
          Bun.sleep(ANSWER_WAIT_MS).then(() => "hung" as const),
        ]);
        if (outcome === "hung") {
          // A Fetch whose max_wait_ms the mutation raised (up to FETCH_WAIT_MS_MAX) is a legal long poll, and
          // responses leave in request order: the probe waits behind it. Anything else must answer or close.
          if (!name.startsWith(`${KafkaApiKey.Fetch}v`)) {
            throw new Error(`a mutated ${name} frame left the connection neither answering nor closed\n${broker.output().slice(-2000)}`);
          }
          parked++;
          client.close();
          await client.closed;
        } else if (outcome === "closed") {
          closed++;
          client.close();
        } else {
          answered++;
          expect(decodeApiVersionsResponse(new KafkaReader(outcome), 3).errorCode).toBe(0);
        }
      }
    }
    client.close();
    if (process.env.SLUICE_FUZZ_VERBOSE) console.log(`captured ${[...captured.keys()].join(" ")}; answered ${answered}, closed ${closed}, parked ${parked}`);
    expect(answered + closed + parked).toBe(captured.size * MUTATIONS_PER_FRAME);
    expect(parked).toBeLessThan(MUTATIONS_PER_FRAME / 10);
    // Both outcomes happen: some mutations are harmless or answered with an error, the rest close.
    expect(answered).toBeGreaterThan(0);
    expect(closed).toBeGreaterThan(0);
    expect(broker.proc.exitCode).toBe(null);
    expect(rssBytes(broker.pid) - rssBefore).toBeLessThan(RSS_GROWTH_BYTES_MAX);

    // A good request is still served.
    const good = await KafkaRawClient.connect(broker.kafkaPort!);
    const res = decodeProduceResponse(
      await good.request(KafkaApiKey.Produce, 9, (w) =>
        encodeProduceRequest(w, 9, { acks: -1, timeoutMs: 5000, topicData: [{ name: "fz", partitionData: [{ index: 0, records: encodeBatch([{ value: "after" }]) }] }] }),
      ),
      9,
    );
    expect(res.responses[0].partitionResponses[0].errorCode).toBe(0);
    good.close();
    const health = await fetch(`http://127.0.0.1:${broker.httpPort}/healthz`);
    expect(health.status).toBe(200);
    // Long polls of closed connections were cancelled, not left parked.
    expect(((await health.json()) as { waitingFetches: number }).waitingFetches).toBe(0);
  }, 120_000);

  test("random size prefixes: refused or timed out, never a crash", async () => {
    const r = rng(SEED ^ 0xabcdef);
    const conns: KafkaRawClient[] = [];
    for (let i = 0; i < 60; i++) {
      const c = await KafkaRawClient.connect(broker.kafkaPort!);
      const size = i % 3 === 0 ? Math.floor(r() * 0x1_0000_0000) : i % 3 === 1 ? Math.floor(r() * 8) : 16 + Math.floor(r() * 64);
      const junk = new Uint8Array(4 + Math.floor(r() * 40)).map(() => Math.floor(r() * 256));
      new DataView(junk.buffer).setUint32(0, size >>> 0);
      c.send(junk);
      conns.push(c);
    }
    // Each is closed: at once (size out of range, or a header that does not decode) or by the request timeout.
    await Promise.all(conns.map((c) => c.closed));
    expect(conns.every((c) => c.isClosed)).toBe(true);
    expect(broker.proc.exitCode).toBe(null);
    const good = await KafkaRawClient.connect(broker.kafkaPort!);
    const v = decodeApiVersionsResponse(await good.request(KafkaApiKey.ApiVersions, 3, (w) => encodeApiVersionsRequest(w, 3, { clientSoftwareName: "t", clientSoftwareVersion: "1" })), 3);
    expect(v.errorCode).toBe(0);
    good.close();
  }, 60_000);
});
