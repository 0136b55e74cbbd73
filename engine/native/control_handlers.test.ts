// The core control apis over real TCP against a broker with real partition
// workers and files: ListOffsets by timestamp answers the offset of the first
// record at or after the timestamp together with that record's own timestamp.

import { afterEach, describe, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ErrorCode } from "../../protocol/errors.ts";
import { decodeProduceResponse } from "../../protocol/messages/produce.ts";
import { encodeBatch } from "../../protocol/record_batch.ts";
import { RawClient, produceBody } from "../../test/support/raw_client.ts";
import { Broker } from "../broker.ts";
import { parseBrokerConfig } from "../broker_config.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface ListOffsetsReply {
  topics: { name: string; partitions: { partition: number; errorCode: number; timestamp: number; offset: number }[] }[];
}

describe("ListOffsets", () => {
  test("by timestamp: the first record at or after it, with that record's timestamp; earliest/latest and none: -1", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-"));
    cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const broker = await Broker.start(parseBrokerConfig({ dataDir, port: 0, httpPort: 0, kafkaPort: 0, workers: 1 }), { log: () => {} });
    cleanups.push(() => broker.stop());
    const c = await RawClient.connect(broker.port);
    cleanups.push(() => c.close());
    await c.control(19, { topics: [{ name: "ts", partitions: 1 }] });
    // Offsets 0..2 at 1000, 2000, 3000 in one batch; offset 3 at 7000 in another.
    for (const records of [
      encodeBatch([{ value: "a", timestamp: 1_000 }, { value: "b", timestamp: 2_000 }, { value: "c", timestamp: 3_000 }]),
      encodeBatch([{ value: "d", timestamp: 7_000 }]),
    ]) {
      const r = await c.request(0, produceBody({ topic: "ts", acks: -1, partitions: [{ index: 0, records }] }));
      expect(decodeProduceResponse(r.body).topics[0].partitions[0].errorCode).toBe(0);
    }
    const asked = [1_500, 3_000, 4_000, 8_000, -2, -1];
    const reply = (await c.control(2, { topics: [{ name: "ts", partitions: asked.map((timestamp) => ({ partition: 0, timestamp })) }] })) as ListOffsetsReply;
    const got = reply.topics[0].partitions.map((p) => [p.errorCode, p.offset, p.timestamp]);
    expect(got).toEqual([
      [ErrorCode.NONE, 1, 2_000],
      [ErrorCode.NONE, 2, 3_000],
      [ErrorCode.NONE, 3, 7_000],
      [ErrorCode.NONE, -1, -1],
      [ErrorCode.NONE, 0, -1],
      [ErrorCode.NONE, 4, -1],
    ]);
    const bad = (await c.control(2, { topics: [{ name: "ts", partitions: [{ partition: 0, timestamp: -3 }] }] })) as ListOffsetsReply;
    expect(bad.topics[0].partitions[0]).toEqual({ partition: 0, errorCode: ErrorCode.INVALID_TIMESTAMP, timestamp: -1, offset: -1 });
  }, 30_000);
});

describe("ElectLeaders", () => {
  test("a single node refuses it as a whole (it leads every partition), and a malformed scope is INVALID_REQUEST", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-"));
    cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const broker = await Broker.start(parseBrokerConfig({ dataDir, port: 0, httpPort: 0, kafkaPort: 0, workers: 1 }), { log: () => {} });
    cleanups.push(() => broker.stop());
    const c = await RawClient.connect(broker.port);
    cleanups.push(() => c.close());
    const single = (await c.control(43, { topic: null, partition: null })) as { errorCode: number; message: string };
    expect(single.errorCode).toBe(ErrorCode.INVALID_REQUEST);
    expect(single.message).toContain("single node");
    expect(((await c.control(43, { topic: "t", partition: -1 })) as { errorCode: number }).errorCode).toBe(ErrorCode.INVALID_REQUEST);
  }, 30_000);
});
