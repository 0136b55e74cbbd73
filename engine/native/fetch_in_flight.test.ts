// Fetch responses through a real Connection and Engine (in-memory pool) onto a
// socket that records every write: small responses are coalesced with the
// turn's other responses into one write; large ones leave as pieces straight
// from the scratch buffer; either way the bytes on the wire decode to exactly
// the records produced, in request order, and the scratch buffer returns to
// the pool.

import { afterEach, describe, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writer } from "../../protocol/codec.ts";
import { FrameParser, beginRequestFrame, endFrame, readResponseCorrelationId, responseBody } from "../../protocol/frame.ts";
import { decodeFetchResponse, writeFetchRequest } from "../../protocol/messages/fetch.ts";
import type { ServerSocket } from "../../runtime/listener_bun.ts";
import { decodeBatches, encodeBatch } from "../../protocol/record_batch.ts";
import { parseBrokerConfig } from "../broker_config.ts";
import { TimeoutLists } from "../timeout_lists.ts";
import { Engine } from "../engine.ts";
import { MemoryPool } from "../memory_pool.ts";
import { Connection } from "./connection.ts";
import { Dispatcher } from "./dispatch.ts";
import { FETCH_RECORDS_COPIED_BYTES_MAX } from "../engine_limits.ts";
import { OutputQueue } from "../connection/output_queue.ts";
import { ScratchPool } from "../connection/scratch_pool.ts";
import type { NativeServerHost } from "./server_host.ts";
import { ServerStats } from "../connection/server_stats.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

class RecordingSocket implements ServerSocket {
  readonly remoteAddress = "127.0.0.1";
  readonly writes: Uint8Array[] = [];
  write(bytes: Uint8Array, offset: number, length: number): number {
    this.writes.push(bytes.slice(offset, offset + length));
    return length;
  }
  pause(): void {}
  resume(): void {}
  end(): void {}
  terminate(): void {}
}

async function setup() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-"));
  cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const engine = await Engine.open({ config: parseBrokerConfig({ dataDir, workers: 2 }), pool: new MemoryPool({ workers: 2 }), log: () => {} });
  cleanups.push(() => engine.close());
  await engine.createTopic("f", { partitions: 2 });
  const socket = new RecordingSocket();
  const dispatcher = new Dispatcher();
  const scratch = new ScratchPool();
  const host: NativeServerHost = {
    engine,
    dispatcher,
    stats: new ServerStats(() => null),
    produceDeadlines: new TimeoutLists(),
    scratch,
    shuttingDown: false,
    log: () => {},
    connectionClosed: () => {},
  };
  const conn = new Connection(socket, host, (c) => new OutputQueue({ socket, bytesMax: 64 << 20, onOverflow: () => c.close(), onFlushed: () => c.updatePause() }));
  return { engine, socket, conn, scratch };
}

function produce(engine: Engine, partition: number, value: string): Promise<void> {
  return new Promise((resolve, reject) => {
    engine.produce("f", partition, encodeBatch([{ value }]), -1, (err) => (err === 0 ? resolve() : reject(new Error(`produce failed: ${err}`))));
  });
}

function fetchFrame(correlationId: number, partitionMaxBytes: number): Uint8Array {
  const w = new Writer();
  const start = beginRequestFrame(w, { apiKey: 1, apiVersion: 0, correlationId });
  writeFetchRequest(w, {
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 8 << 20,
    topics: [{ name: "f", partitions: [0, 1].map((index) => ({ index, fetchOffset: 0n, partitionMaxBytes })) }],
  });
  endFrame(w, start);
  return w.finish().slice();
}

/** Every response frame the socket received, by correlation id. */
function responses(socket: RecordingSocket): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  const parser = new FrameParser({ kind: "response", onFrame: (f) => out.set(readResponseCorrelationId(f), responseBody(f).slice()), onError: (e) => { throw e; } });
  for (const w of socket.writes) parser.push(w);
  return out;
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

describe("fetch responses on the wire", () => {
  test("small responses of one turn leave in one socket write", async () => {
    const { engine, socket, conn } = await setup();
    await produce(engine, 0, "a");
    await produce(engine, 1, "b");
    const frames = Array.from({ length: 20 }, (_, i) => fetchFrame(i + 1, 1 << 20));
    const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    let at = 0;
    for (const f of frames) {
      all.set(f, at);
      at += f.length;
    }
    conn.onData(all);
    await settle();
    expect(socket.writes.length).toBe(1);
    const got = responses(socket);
    expect(got.size).toBe(20);
    for (const body of got.values()) {
      const parts = decodeFetchResponse(body).topics[0].partitions;
      expect(parts.map((p) => p.records.length > 0)).toEqual([true, true]);
    }
  });

  test("a large response is written as pieces from the scratch buffer: same records, request order, scratch back in the pool", async () => {
    const { engine, socket, conn, scratch } = await setup();
    const big = "x".repeat(FETCH_RECORDS_COPIED_BYTES_MAX);
    const expected: string[][] = [[], []];
    for (let i = 0; i < 3; i++) {
      for (const p of [0, 1]) {
        const v = `${p}:${i}:${big}`;
        expected[p].push(v);
        await produce(engine, p, v);
      }
    }
    conn.onData(fetchFrame(7, 8 << 20));
    await settle();
    // Headers and records of each partition went separately: more than one write for this one response.
    expect(socket.writes.length).toBeGreaterThan(1);
    const body = responses(socket).get(7)!;
    const parts = decodeFetchResponse(body).topics[0].partitions;
    expect(parts.map((p) => p.index)).toEqual([0, 1]);
    const text = new TextDecoder();
    for (const p of parts) {
      const seen: string[] = [];
      for (const b of decodeBatches(p.records)) for (const r of b.records) seen.push(text.decode(r.value!));
      expect(seen).toEqual(expected[p.index]);
    }
    expect(scratch.retainedBytes).toBeGreaterThan(FETCH_RECORDS_COPIED_BYTES_MAX);
  });
});
