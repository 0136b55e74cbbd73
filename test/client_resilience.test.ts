// The client when the broker goes away: send() backpressure with a bounded
// buffer while the broker is down (waits, then a typed timeout), and
// producer and consumer carrying on across a broker restart without losing
// or repeating records.

import { describe, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { BufferExhaustedError, ClientErrorCode, Consumer, Producer } from "../client/mod.ts";
import type { RecordMetadata } from "../client/mod.ts";
import { startBroker } from "./support/broker.ts";
import { takeRecords } from "./support/take_records.ts";

describe("backpressure", () => {
  test("with the broker stopped, send() waits for buffer space and fails after sendTimeoutMs with BufferExhaustedError", async () => {
    const broker = await startBroker();
    const bufferBytesMax = 4096;
    const producer = new Producer({
      broker: `127.0.0.1:${broker.port}`,
      bufferBytesMax,
      sendTimeoutMs: 300,
      retries: 1_000,
      retryBackoffMs: 20,
      retryBackoffMsMax: 100,
      connectTimeoutMs: 500,
      lingerMs: 0,
    });
    try {
      await producer.send("bp", { value: "warm up" });
      expect(await broker.stop()).toBe(0);

      const value = "x".repeat(100);
      const outcomes: Array<Promise<{ ok: boolean; error?: unknown; ms: number }>> = [];
      const started = Date.now();
      for (let i = 0; i < 60; i++) {
        outcomes.push(
          producer.send("bp", { value }).then(
            () => ({ ok: true, ms: Date.now() - started }),
            (error) => ({ ok: false, error, ms: Date.now() - started }),
          ),
        );
      }
      // The buffer fills up to its bound and no further.
      expect(producer.bufferedBytes).toBeGreaterThan(bufferBytesMax / 2);
      expect(producer.bufferedBytes).toBeLessThanOrEqual(bufferBytesMax);

      const settled: Array<{ ok: boolean; error?: unknown; ms: number }> = [];
      // The first records are held (retrying against the dead broker); the rest time out.
      const timedOut = await Promise.race([
        Promise.all(outcomes.slice(40)),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error("sends did not time out")), 10_000)),
      ]);
      settled.push(...timedOut);
      for (const o of settled) {
        expect(o.ok).toBe(false);
        expect(o.error).toBeInstanceOf(BufferExhaustedError);
        expect((o.error as BufferExhaustedError).code).toBe(ClientErrorCode.BUFFER_EXHAUSTED);
        expect(o.ms).toBeGreaterThanOrEqual(290);
      }
      expect(producer.bufferedBytes).toBeLessThanOrEqual(bufferBytesMax);
    } finally {
      await producer.close({ timeoutMs: 100 });
      await broker.cleanup();
    }
  });
});

describe("broker restart", () => {
  test("producer and consumer reconnect and go on where they were, nothing lost or repeated", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-"));
    let broker = await startBroker({ dataDir });
    const port = broker.port;
    const address = `127.0.0.1:${port}`;
    const producer = new Producer({ broker: address, lingerMs: 1, retryBackoffMs: 50, retryBackoffMsMax: 300, reconnectBackoffMs: 20, reconnectBackoffMsMax: 200 });
    const consumer = new Consumer({ broker: address, fetchMaxWaitMs: 100, retryBackoffMs: 20, retryBackoffMsMax: 200, reconnectBackoffMs: 20, reconnectBackoffMsMax: 200 });
    try {
      const first = await Promise.all(Array.from({ length: 100 }, (_, i) => producer.send("restart", { value: `a${i}` })));
      expect(first[99].offset).toBe(99n);
      consumer.assign([{ topic: "restart", partition: 0, position: "beginning" }]);
      expect((await takeRecords(consumer, 100, 20_000)).map((r) => Number(r.offset))).toEqual(Array.from({ length: 100 }, (_, i) => i));

      expect(await broker.stop()).toBe(0);
      // Sent while the broker is down: retried until it is back.
      const during: Array<Promise<RecordMetadata>> = Array.from({ length: 50 }, (_, i) => producer.send("restart", { value: `b${i}` }));
      broker = await startBroker({ dataDir, args: ["--port", String(port)] });
      const after = await Promise.all(during);
      expect(after.map((r) => r.offset)).toEqual(Array.from({ length: 50 }, (_, i) => 100n + BigInt(i)));
      const more = await Promise.all(Array.from({ length: 50 }, (_, i) => producer.send("restart", { value: `c${i}` })));
      expect(more[49].offset).toBe(199n);

      const rest = await takeRecords(consumer, 100, 20_000);
      expect(rest.map((r) => Number(r.offset))).toEqual(Array.from({ length: 100 }, (_, i) => 100 + i));
      expect(new TextDecoder().decode(rest[0].value!)).toBe("b0");
      expect(new TextDecoder().decode(rest[99].value!)).toBe("c49");
    } finally {
      await producer.close({ timeoutMs: 1000 });
      await consumer.close();
      await broker.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
