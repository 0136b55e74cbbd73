// The replicas a move adds copy on a connection of their own (the follower's
// copy fetcher, replica_manager.ts), and the leader's move throttle slows only
// adding replicas outside the ISR (move_throttle.ts; docs/SCALING.md, "The
// throttle"). Real brokers in process (worker threads, data dirs, the native
// listener on 127.0.0.1 port 0); roles through the engine API.

import { afterEach, describe, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ErrorCode } from "../../protocol/errors.ts";
import { encodeBatch } from "../../protocol/record_batch.ts";
import { waitFor } from "../../test/support/wait_for.ts";
import { Broker } from "../broker.ts";
import { parseBrokerConfig } from "../broker_config.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startBroker(brokerId: number): Promise<Broker> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-copy-"));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const broker = await Broker.start(parseBrokerConfig({ dataDir: dir, host: "127.0.0.1", port: 0, httpPort: 0, kafkaPort: -1, workers: 1, brokerId }), { log: () => {} });
  cleanups.push(() => broker.stop());
  return broker;
}

/** Appends `batches` batches of one `bytes`-byte record to `topic`-0 on `b` (acks=1). */
async function fill(b: Broker, topic: string, batches: number, bytes: number): Promise<void> {
  const value = "x".repeat(bytes);
  for (let i = 0; i < batches; i++) {
    const err = await new Promise<number>((resolve) => {
      const send = (): void => {
        if (!b.engine.produce(topic, 0, encodeBatch([{ value }]), 1, (e) => resolve(e))) b.engine.onWritable(topic, 0, send);
      };
      send();
    });
    expect(err).toBe(ErrorCode.NONE);
  }
}

function acksAll(b: Broker, topic: string, value: string): Promise<number> {
  return new Promise((resolve) => {
    const send = (): void => {
      if (!b.engine.produce(topic, 0, encodeBatch([{ value }]), -1, (e) => resolve(e))) b.engine.onWritable(topic, 0, send);
    };
    send();
  });
}

const logEnd = (b: Broker, topic: string) => b.engine.pool.state(b.engine.resolve(topic, 0)).logEndOffset;

describe("the copy fetcher", () => {
  test("an adding replica copies on its own connection, byte for byte, while the ordinary partition's acks=all go on; when the move ends it joins the ordinary fetcher", async () => {
    const [b1, b2] = [await startBroker(1), await startBroker(2)];
    for (const b of [b1, b2]) {
      await b.engine.createTopic("fg", { partitions: 1 });
      await b.engine.createTopic("big", { partitions: 1 });
    }
    await fill(b1, "big", 64, 60 * 1024);
    await b1.engine.becomeLeader("fg", 0, { epoch: 1, isr: [1, 2], replicas: [1, 2], minInsyncReplicas: 2 });
    await b1.engine.becomeLeader("big", 0, { epoch: 1, isr: [1], replicas: [1, 2] });
    const repl = b2.engine.replication;
    repl.setCopying(b2.engine.resolve("big", 0), true);
    b2.engine.becomeFollower("fg", 0, { epoch: 1, leader: { host: "127.0.0.1", port: b1.port } });
    b2.engine.becomeFollower("big", 0, { epoch: 1, leader: { host: "127.0.0.1", port: b1.port } });
    expect(repl.fetcherCounts()).toEqual({ ordinary: 1, copy: 1 });
    // acks=all on the ordinary partition needs broker 2's durable report: it goes on while the copy runs.
    for (let i = 0; i < 20; i++) expect(await acksAll(b1, "fg", `v${i}`)).toBe(ErrorCode.NONE);
    await waitFor(() => logEnd(b2, "big") === logEnd(b1, "big"), { timeoutMs: 20_000, what: "the copy done" });
    const segs = (b: Broker) => {
      const dir = path.join(b.config.dataDir, "topics", "big", "0");
      return fs.readdirSync(dir).filter((n) => n.endsWith(".log")).sort().map((n) => fs.readFileSync(path.join(dir, n)));
    };
    expect(segs(b1).length).toBeGreaterThan(0);
    expect(segs(b2)).toEqual(segs(b1));
    // The move ends: the partition goes back to the ordinary fetcher, whose connection carries it from there,
    // with the high watermark it knew (same leader, same epoch: still true; consumers of it see no step back).
    await waitFor(() => repl.followerState("big", 0)!.highWatermark === logEnd(b1, "big"), { timeoutMs: 10_000, what: "the follower's HW at the end" });
    repl.setCopying(b2.engine.resolve("big", 0), false);
    expect(repl.fetcherCounts()).toEqual({ ordinary: 1, copy: 0 });
    expect(repl.followerState("big", 0)!.highWatermark).toBe(logEnd(b1, "big"));
    await fill(b1, "big", 3, 1024);
    await waitFor(() => logEnd(b2, "big") === logEnd(b1, "big"), { timeoutMs: 10_000, what: "big followed on the ordinary fetcher" });
    expect(await acksAll(b1, "fg", "after")).toBe(ErrorCode.NONE);
  }, 60_000);

  test("the throttle slows an adding replica outside the ISR only: once in the ISR it copies at full speed", async () => {
    const [b1, b2] = [await startBroker(1), await startBroker(2)];
    for (const b of [b1, b2]) await b.engine.createTopic("big", { partitions: 1 });
    await fill(b1, "big", 32, 32 * 1024); // ~1 MiB
    const slot = b1.engine.resolve("big", 0);
    await b1.engine.becomeLeader("big", 0, { epoch: 1, isr: [1], replicas: [1, 2] });
    const rate = 64 * 1024;
    b1.engine.replication.moveThrottle.set(slot, [2], rate);
    b2.engine.replication.setCopying(b2.engine.resolve("big", 0), true);
    b2.engine.becomeFollower("big", 0, { epoch: 1, leader: { host: "127.0.0.1", port: b1.port } });
    const started = performance.now();
    await waitFor(() => b1.engine.replication.moveThrottle.sentBytes > 0, { timeoutMs: 10_000, what: "the throttled copy started" });
    await new Promise((r) => setTimeout(r, 1_000)); // a window of the throttled copy, not an ordering
    // At 64 KiB/s (whole 32 KiB batches, one read of debt at most) far less than the megabyte arrived.
    const seconds = (performance.now() - started) / 1000;
    expect(b1.engine.replication.moveThrottle.sentBytes).toBeLessThan(rate * (seconds + 1) + 2 * 33 * 1024);
    expect(logEnd(b2, "big")).toBeLessThan(logEnd(b1, "big") / 2);
    // In the ISR it holds up acks=all: no longer throttled, the rest arrives at once.
    b1.engine.replication.setIsr("big", 0, [1, 2]);
    await waitFor(() => logEnd(b2, "big") === logEnd(b1, "big"), { timeoutMs: 5_000, what: "the copy done once in the ISR" });
  }, 60_000);
});
