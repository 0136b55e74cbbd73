// Engine behaviour over an in-memory pool: metadata durability and the
// partition→worker map, topic admin rules, auto-create, backpressure, and the
// long-poll fetch (wake on advance, deadline, minBytes, maxBytes).

import { afterEach, describe, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { encodeBatch } from "../protocol/record_batch.ts";
import { type BrokerConfig, parseBrokerConfig } from "./broker_config.ts";
import { Engine } from "./engine.ts";
import type { FetchRequest, FetchSink } from "./fetch_operation.ts";
import { MemoryPool } from "./memory_pool.ts";
import type { ProduceResult } from "./partition_pool.ts";
import { eventLoopTurn, waitFor } from "../test/support/wait_for.ts";

const dirs: string[] = [];
const engines: Engine[] = [];

afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-"));
  dirs.push(d);
  return d;
}

function config(dataDir: string, extra: Partial<BrokerConfig> = {}): BrokerConfig {
  return parseBrokerConfig({ dataDir, workers: 2, ...extra });
}

async function open(dataDir: string, opts: { workers?: number; extra?: Partial<BrokerConfig> } = {}): Promise<{ engine: Engine; pool: MemoryPool }> {
  const pool = new MemoryPool({ workers: opts.workers ?? 2 });
  const engine = await Engine.open({ config: config(dataDir, { workers: opts.workers ?? 2, ...opts.extra }), pool, log: () => {} });
  engines.push(engine);
  return { engine, pool };
}

function produce(engine: Engine, topic: string, partition: number, value: string): Promise<{ err: number; res: ProduceResult | null }> {
  const records = encodeBatch([{ value }]);
  return new Promise((resolve) => {
    const ok = engine.produce(topic, partition, records, -1, (err, res) => resolve({ err, res }));
    if (!ok) throw new Error("produce refused");
  });
}

interface FetchOutcome {
  parts: { err: number; bytes: number; hw: number }[];
  elapsedMs: number;
}

function fetch(engine: Engine, req: FetchRequest): Promise<FetchOutcome> {
  const started = Date.now();
  return new Promise((resolve) => {
    const parts: FetchOutcome["parts"] = req.partitions.map(() => ({ err: -99, bytes: 0, hw: -1 }));
    const sink: FetchSink = {
      partition: (i, err, bytes, hw) => {
        parts[i] = { err, bytes: bytes?.length ?? 0, hw };
      },
      reset: () => {
        for (const p of parts) p.bytes = 0;
      },
      done: () => resolve({ parts, elapsedMs: Date.now() - started }),
    };
    engine.fetch(req, sink);
  });
}

async function expectCode(p: Promise<unknown>, code: number): Promise<void> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(SluiceError);
    expect((e as SluiceError).code).toBe(code);
    return;
  }
  throw new Error(`expected error code ${code}, but it succeeded`);
}

describe("topics and metadata", () => {
  test("a created topic, its configs and its partition→worker map survive a reopen", async () => {
    const dir = tempDir();
    const a = await open(dir);
    await a.engine.createTopic("orders", { partitions: 3, configs: { "retention.ms": "60000" } });
    await a.engine.createTopic("audit", { partitions: 2 });
    const before = a.engine.describeTopics(null).map((t) => ({ name: t.name, workers: t.partitions.map((p) => p.worker), retention: t.configs["retention.ms"] }));
    // Five partitions over two workers: balanced by count.
    const all = before.flatMap((t) => t.workers);
    expect(all.filter((w) => w === 0).length).toBe(3);
    expect(all.filter((w) => w === 1).length).toBe(2);
    await a.engine.close();

    const b = await open(dir);
    const after = b.engine.describeTopics(null).map((t) => ({ name: t.name, workers: t.partitions.map((p) => p.worker), retention: t.configs["retention.ms"] }));
    expect(after).toEqual(before);
    expect(after.find((t) => t.name === "orders")!.retention).toBe("60000");
    const file = JSON.parse(fs.readFileSync(path.join(dir, "meta", "topics.json"), "utf8"));
    expect(Object.keys(file.topics).sort()).toEqual(["audit", "orders"]);
  });

  test("fewer workers after a restart: only partitions of removed workers move, and the move is stored", async () => {
    const dir = tempDir();
    const a = await open(dir, { workers: 2 });
    await a.engine.createTopic("t", { partitions: 4 });
    await a.engine.close();
    const b = await open(dir, { workers: 1 });
    expect(b.engine.describeTopics(["t"])[0].partitions.map((p) => p.worker)).toEqual([0, 0, 0, 0]);
    const file = JSON.parse(fs.readFileSync(path.join(dir, "meta", "topics.json"), "utf8"));
    expect(file.topics.t.workers).toEqual([0, 0, 0, 0]);
  });

  test("topic names follow Kafka's rules", async () => {
    const { engine } = await open(tempDir());
    for (const bad of ["", ".", "..", "a/b", "a b", "x".repeat(250), "ü"]) {
      await expectCode(engine.createTopic(bad), ErrorCode.INVALID_TOPIC_EXCEPTION);
    }
    await engine.createTopic("a-b_c.D9");
    await engine.createTopic("x".repeat(249));
    await expectCode(engine.createTopic("a-b_c.D9"), ErrorCode.TOPIC_ALREADY_EXISTS);
  });

  test("bad partition counts and configs are refused with their codes", async () => {
    const { engine } = await open(tempDir());
    await expectCode(engine.createTopic("t", { partitions: 0 }), ErrorCode.INVALID_PARTITIONS);
    await expectCode(engine.createTopic("t", { configs: { "retention.ms": "soon" } }), ErrorCode.INVALID_CONFIG);
    await expectCode(engine.createTopic("t", { configs: { "no.such.key": "1" } }), ErrorCode.INVALID_CONFIG);
    expect(engine.listTopics()).toEqual([]);
    await engine.createTopic("t", { partitions: -1 });
    expect(engine.describeTopics(["t"])[0].partitions.length).toBe(1);
  });

  test("delete removes the data and the metadata entry", async () => {
    const dir = tempDir();
    const a = await open(dir);
    await a.engine.createTopic("gone", { partitions: 2 });
    expect(fs.existsSync(path.join(dir, "topics", "gone", "1"))).toBe(true);
    expect(fs.existsSync(path.join(dir, "topics", "gone", ".creating"))).toBe(false);
    await a.engine.deleteTopic("gone");
    expect(fs.existsSync(path.join(dir, "topics", "gone"))).toBe(false);
    expect(a.pool.deleted.length).toBe(2);
    await expectCode(a.engine.deleteTopic("gone"), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  test("at open, a directory no topic owns is removed only if a create or delete marked it; else moved to lost+found", async () => {
    const dir = tempDir();
    const a = await open(dir);
    await a.engine.createTopic("kept");
    await a.engine.close();
    fs.mkdirSync(path.join(dir, "topics", "cut-delete", "0"), { recursive: true });
    fs.writeFileSync(path.join(dir, "topics", "cut-delete", ".deleting"), "");
    fs.mkdirSync(path.join(dir, "topics", "cut-create", "0"), { recursive: true });
    fs.writeFileSync(path.join(dir, "topics", "cut-create", ".creating"), "");
    fs.mkdirSync(path.join(dir, "topics", "stranger", "0"), { recursive: true });
    fs.writeFileSync(path.join(dir, "topics", "stranger", "0", "00000000000000000000.log"), "data");
    // A delete that did not reach the metadata: the topic stands, the mark goes.
    fs.writeFileSync(path.join(dir, "topics", "kept", ".deleting"), "");
    const b = await open(dir);
    expect(fs.readdirSync(path.join(dir, "topics")).sort()).toEqual(["kept"]);
    expect(fs.existsSync(path.join(dir, "topics", "kept", ".deleting"))).toBe(false);
    expect(b.engine.listTopics()).toEqual(["kept"]);
    const lost = fs.readdirSync(path.join(dir, "lost+found"));
    expect(lost.length).toBe(1);
    expect(lost[0].startsWith("stranger.")).toBe(true);
    expect(fs.readFileSync(path.join(dir, "lost+found", lost[0], "0", "00000000000000000000.log"), "utf8")).toBe("data");
  });

  test("damaged metadata (a flipped bit in a topic name) stops the open, naming the file; no data is touched", async () => {
    const dir = tempDir();
    const a = await open(dir);
    await a.engine.createTopic("orders", { partitions: 2 });
    await a.engine.close();
    const file = path.join(dir, "meta", "topics.json");
    const text = fs.readFileSync(file, "utf8");
    fs.writeFileSync(file, text.replace('"orders"', '"ordess"'));
    const pool = new MemoryPool({ workers: 2 });
    await expect(Engine.open({ config: config(dir), pool, log: () => {} })).rejects.toThrow(/topics\.json is damaged/);
    expect(fs.existsSync(path.join(dir, "topics", "orders", "1"))).toBe(true);
  });

  test("add partitions grows a topic, never shrinks it", async () => {
    const { engine } = await open(tempDir());
    await engine.createTopic("t", { partitions: 2 });
    await expectCode(engine.createPartitions("t", 2), ErrorCode.INVALID_PARTITIONS);
    await expectCode(engine.createPartitions("t", 1), ErrorCode.INVALID_PARTITIONS);
    const changed: string[] = [];
    engine.topicView().onPartitionsChanged((t) => changed.push(t));
    await engine.createPartitions("t", 5);
    expect(engine.topicView().partitionCount("t")).toBe(5);
    expect(changed).toEqual(["t"]);
    expect((await produce(engine, "t", 4, "x")).err).toBe(0);
  });

  test("alter config is validated, stored and reaches the partitions", async () => {
    const dir = tempDir();
    const a = await open(dir);
    await a.engine.createTopic("t");
    await expectCode(a.engine.alterTopicConfig("t", { "retention.ms": "-5" }), ErrorCode.INVALID_CONFIG);
    await a.engine.alterTopicConfig("t", { "retention.ms": "1000" });
    expect(a.engine.describeTopics(["t"])[0].configs["retention.ms"]).toBe("1000");
    await a.engine.alterTopicConfig("t", {}, ["retention.ms"]);
    await a.engine.close();
    const b = await open(dir);
    expect(b.engine.describeTopics(["t"])[0].configs["retention.ms"]).toBe(String(7 * 24 * 3600 * 1000));
  });
});

describe("produce", () => {
  test("auto-create on first produce: refused once, taken after onWritable", async () => {
    const { engine } = await open(tempDir(), { extra: { numPartitions: 3 } });
    const records = encodeBatch([{ value: "v" }]);
    const first = engine.produce("fresh", 0, records, 1, () => {});
    expect(first).toBe(false);
    await new Promise<void>((resolve) => engine.onWritable("fresh", 0, resolve));
    expect(engine.topicView().partitionCount("fresh")).toBe(3);
    expect((await produce(engine, "fresh", 2, "v")).res!.baseOffset).toBe(0);
  });

  test("auto-create off: unknown topic is UNKNOWN_TOPIC_OR_PARTITION", async () => {
    const { engine } = await open(tempDir(), { extra: { autoCreateTopics: false } });
    expect((await produce(engine, "nope", 0, "v")).err).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    await engine.createTopic("yes");
    expect((await produce(engine, "yes", 1, "v")).err).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  test("a full ring refuses; onWritable fires once there is room", async () => {
    const { engine, pool } = await open(tempDir());
    await engine.createTopic("t", { partitions: 1 });
    pool.setFull(0, true);
    expect(engine.produce("t", 0, encodeBatch([{ value: "v" }]), 1, () => {})).toBe(false);
    let woke = false;
    engine.onWritable("t", 0, () => (woke = true));
    await eventLoopTurn();
    // Still full: refused again, and the waiter was not called.
    expect(engine.produce("t", 0, encodeBatch([{ value: "v" }]), 1, () => {})).toBe(false);
    expect(woke).toBe(false);
    pool.setFull(0, false);
    await waitFor(() => woke, { what: "onWritable once the ring has room", timeoutMs: 1_000 });
  });
});

describe("long-poll fetch", () => {
  test("a waiting fetch is woken promptly when its partition advances", async () => {
    const { engine } = await open(tempDir());
    await engine.createTopic("t", { partitions: 2 });
    const waiting = fetch(engine, { maxWaitMs: 10_000, minBytes: 1, maxBytes: 1 << 20, partitions: [{ topic: "t", partition: 1, offset: 0, maxBytes: 1 << 20 }] });
    await waitFor(() => engine.waitingFetches === 1, { what: "the fetch to park" });
    // Acknowledged with acks=all: partition 0 advanced (the pool calls onAdvance before the callback).
    expect((await produce(engine, "t", 0, "other partition: no wake-up")).err).toBe(0);
    await eventLoopTurn();
    expect(engine.waitingFetches).toBe(1);
    await produce(engine, "t", 1, "hello");
    const out = await waiting;
    expect(out.parts[0].err).toBe(0);
    expect(out.parts[0].bytes).toBeGreaterThan(0);
    expect(out.elapsedMs).toBeLessThan(2_000);
    expect(engine.waitingFetches).toBe(0);
  });

  test("with no data it answers empty at maxWaitMs", async () => {
    const { engine } = await open(tempDir());
    await engine.createTopic("t");
    const out = await fetch(engine, { maxWaitMs: 150, minBytes: 1, maxBytes: 1 << 20, partitions: [{ topic: "t", partition: 0, offset: 0, maxBytes: 1 << 20 }] });
    expect(out.parts[0]).toEqual({ err: 0, bytes: 0, hw: 0 });
    expect(out.elapsedMs).toBeGreaterThanOrEqual(140);
    expect(out.elapsedMs).toBeLessThan(1_000);
  });

  test("minBytes: waits until enough bytes are readable, not just any", async () => {
    const { engine, pool } = await open(tempDir());
    await engine.createTopic("t");
    const one = encodeBatch([{ value: "x".repeat(100) }]).length;
    const waiting = fetch(engine, { maxWaitMs: 10_000, minBytes: one * 3, maxBytes: 1 << 20, partitions: [{ topic: "t", partition: 0, offset: 0, maxBytes: 1 << 20 }] });
    let done = false;
    void waiting.then(() => (done = true));
    await waitFor(() => engine.waitingFetches === 1, { what: "the fetch to park" });
    await produce(engine, "t", 0, "x".repeat(100));
    await produce(engine, "t", 0, "x".repeat(100));
    // Both advances reached it (the pool calls onAdvance before an acks=all callback): two batches readable, too few bytes.
    expect(pool.state(pool.opened[0].slot).highWatermark).toBe(2);
    await eventLoopTurn();
    expect(engine.waitingFetches).toBe(1);
    expect(done).toBe(false);
    await produce(engine, "t", 0, "x".repeat(100));
    const out = await waiting;
    expect(out.parts[0].bytes).toBe(one * 3);
  });

  test("maxBytes bounds the whole response but the first batch always comes back", async () => {
    const { engine } = await open(tempDir());
    await engine.createTopic("t", { partitions: 2 });
    for (let i = 0; i < 4; i++) {
      await produce(engine, "t", 0, "y".repeat(1000));
      await produce(engine, "t", 1, "y".repeat(1000));
    }
    const batch = encodeBatch([{ value: "y".repeat(1000) }]).length;
    const small = await fetch(engine, {
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 10,
      partitions: [0, 1].map((p) => ({ topic: "t", partition: p, offset: 0, maxBytes: 1 << 20 })),
    });
    expect(small.parts.map((p) => p.bytes).sort()).toEqual([0, batch]);
    const three = await fetch(engine, {
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: batch * 3,
      partitions: [0, 1].map((p) => ({ topic: "t", partition: p, offset: 0, maxBytes: 1 << 20 })),
    });
    expect(three.parts[0].bytes + three.parts[1].bytes).toBe(batch * 3);
  });

  test("unknown partitions and bad offsets answer at once with their codes", async () => {
    const { engine } = await open(tempDir());
    await engine.createTopic("t");
    const out = await fetch(engine, {
      maxWaitMs: 10_000,
      minBytes: 1,
      maxBytes: 1 << 20,
      partitions: [
        { topic: "t", partition: 0, offset: 0, maxBytes: 1000 },
        { topic: "t", partition: 7, offset: 0, maxBytes: 1000 },
        { topic: "nope", partition: 0, offset: 0, maxBytes: 1000 },
        { topic: "t", partition: 0, offset: 5, maxBytes: 1000 },
      ],
    });
    expect(out.parts.map((p) => p.err)).toEqual([0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.OFFSET_OUT_OF_RANGE]);
    expect(out.elapsedMs).toBeLessThan(1_000);
  });

  test("deleting a topic answers its parked fetches", async () => {
    const { engine } = await open(tempDir());
    await engine.createTopic("t");
    const waiting = fetch(engine, { maxWaitMs: 10_000, minBytes: 1, maxBytes: 1000, partitions: [{ topic: "t", partition: 0, offset: 0, maxBytes: 1000 }] });
    await waitFor(() => engine.waitingFetches === 1, { what: "the fetch to park" });
    await engine.deleteTopic("t");
    const out = await waiting;
    expect(out.parts[0].err).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  test("ten thousand parked fetches: one advance wakes only its partition's; a full set answers at once", async () => {
    const { engine, pool } = await open(tempDir(), { extra: { waitingFetchesMax: 10_000 } });
    await engine.createTopic("t", { partitions: 2 });
    const pending: Promise<FetchOutcome>[] = [];
    for (let i = 0; i < 10_000; i++) {
      pending.push(fetch(engine, { maxWaitMs: 30_000, minBytes: 1, maxBytes: 1000, partitions: [{ topic: "t", partition: i % 2, offset: 0, maxBytes: 1000 }] }));
    }
    expect(engine.waitingFetches).toBe(10_000);
    const overflow = await fetch(engine, { maxWaitMs: 30_000, minBytes: 1, maxBytes: 1000, partitions: [{ topic: "t", partition: 0, offset: 0, maxBytes: 1000 }] });
    expect(overflow.parts[0].bytes).toBe(0);
    const fetchesBefore = pool.fetchCalls;
    await produce(engine, "t", 1, "wake");
    const woken = await Promise.all(pending.filter((_, i) => i % 2 === 1));
    expect(woken.every((o) => o.parts[0].bytes > 0)).toBe(true);
    expect(engine.waitingFetches).toBe(5_000);
    expect(pool.fetchCalls - fetchesBefore).toBe(5_000);
    engine.stopWaiting();
    await Promise.all(pending);
    expect(engine.waitingFetches).toBe(0);
  });
});

describe("fetch rounds", () => {
  test("a fetch whose results all come synchronously (bad offsets) is answered exactly once", async () => {
    const { engine } = await open(tempDir());
    await engine.createTopic("t", { partitions: 2 });
    for (const offsets of [[-1], [-1, -1], [Number.MAX_SAFE_INTEGER + 2]]) {
      let done = 0;
      let last: FetchOutcome | null = null;
      const parts = offsets.map((offset, i) => ({ topic: "t", partition: i % 2, offset, maxBytes: 1000 }));
      await new Promise<void>((resolve) => {
        const codes: number[] = [];
        engine.fetch(
          { maxWaitMs: 100, minBytes: 1, maxBytes: 1000, partitions: parts },
          {
            partition: (_i, err) => codes.push(err),
            reset: () => {},
            done: () => {
              done++;
              last = { parts: codes.map((err) => ({ err, bytes: 0, hw: 0 })), elapsedMs: 0 };
              resolve();
            },
          },
        );
      });
      // Nothing parked is left to answer it again at its deadline, and nothing queued did meanwhile.
      expect(engine.waitingFetches).toBe(0);
      await eventLoopTurn();
      expect(done).toBe(1);
      expect(last!.parts.every((p) => p.err === ErrorCode.OFFSET_OUT_OF_RANGE)).toBe(true);
    }
  });
});
