// The per-partition health gauges on /metrics, against a broker with real
// partition workers and files: a partition that met a damaged batch on a read
// keeps serving (online 1) and shows CORRUPT_MESSAGE as its error code; one
// that could not open is offline (online 0) with KAFKA_STORAGE_ERROR.

import { afterEach, describe, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ErrorCode } from "../protocol/errors.ts";
import { decodeFetchResponse } from "../protocol/messages/fetch.ts";
import { decodeProduceResponse } from "../protocol/messages/produce.ts";
import { encodeBatch } from "../protocol/record_batch.ts";
import { RawClient, fetchBody, produceBody } from "../test/support/raw_client.ts";
import { Broker } from "./broker.ts";
import { parseBrokerConfig } from "./broker_config.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function sample(text: string, name: string, topic: string, partition: number): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{topic="${topic}",partition="${partition}"} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

async function start(dataDir: string): Promise<Broker> {
  const broker = await Broker.start(parseBrokerConfig({ dataDir, port: 0, httpPort: 0, kafkaPort: 0, workers: 1 }), { log: () => {} });
  cleanups.push(() => broker.stop()); // idempotent
  return broker;
}

describe("partition health metrics", () => {
  test("corrupt batch on read: online 1, error code CORRUPT_MESSAGE; a partition that failed to open: online 0, KAFKA_STORAGE_ERROR", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-"));
    cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    let broker = await start(dataDir);
    let c = await RawClient.connect(broker.port);
    await c.control(19, { topics: [{ name: "h", partitions: 2 }] });
    const sizes: number[] = [];
    for (const v of ["one", "two", "three"]) {
      const records = encodeBatch([{ value: v.repeat(40) }]);
      sizes.push(records.length);
      const r = await c.request(0, produceBody({ topic: "h", acks: -1, partitions: [{ index: 0, records }] }));
      expect(decodeProduceResponse(r.body).topics[0].partitions[0].errorCode).toBe(0);
    }
    let text = broker.metrics.render();
    expect(sample(text, "sluice_partition_online", "h", 0)).toBe(1);
    expect(sample(text, "sluice_partition_error_code", "h", 0)).toBe(0);
    c.close();
    await broker.stop();

    // A flipped bit inside the second batch; partition 1's directory replaced by a file (it cannot open).
    const file = path.join(dataDir, "topics", "h", "0", "00000000000000000000.log");
    const bytes = fs.readFileSync(file);
    bytes[sizes[0] + sizes[1] - 5] ^= 0x01;
    fs.writeFileSync(file, bytes);
    const p1 = path.join(dataDir, "topics", "h", "1");
    fs.rmSync(p1, { recursive: true, force: true });
    fs.writeFileSync(p1, "not a directory");

    broker = await start(dataDir);
    c = await RawClient.connect(broker.port);
    cleanups.push(() => c.close());
    const f = await c.request(1, fetchBody({ topic: "h", maxBytes: 1 << 20, partitions: [{ index: 0, offset: 1, maxBytes: 1 << 20 }] }));
    expect(decodeFetchResponse(f.body).topics[0].partitions[0].errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);
    text = broker.metrics.render();
    expect(text).toContain("# TYPE sluice_partition_error_code gauge");
    expect(sample(text, "sluice_partition_online", "h", 0)).toBe(1);
    expect(sample(text, "sluice_partition_error_code", "h", 0)).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(sample(text, "sluice_partition_online", "h", 1)).toBe(0);
    expect(sample(text, "sluice_partition_error_code", "h", 1)).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
  }, 30_000);
});
