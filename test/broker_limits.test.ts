// Connection limits of a real broker, with small limits set by flags so the
// test is quick: connections over the maximum are closed at once, a frame
// that does not complete in time closes its connection, a client that does
// not read its responses is cut off, and auto-create can be switched off.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { OUTPUT_BYTES_MIN } from "../engine/engine_limits.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { decodeProduceResponse } from "../protocol/messages/produce.ts";
import { decodeResponseEnvelope } from "../protocol/messages/response.ts";
import { encodeBatch } from "../protocol/record_batch.ts";
import { type BrokerProcess, startBroker } from "./support/broker.ts";
import { RawClient, fetchBody, produceBody } from "./support/raw_client.ts";
import { waitFor } from "./support/wait_for.ts";

const CONNECTIONS_MAX = 6;
let broker: BrokerProcess;

beforeAll(async () => {
  broker = await startBroker({
    args: [
      "--workers", "1",
      "--auto-create-topics", "false",
      "--connections-max", String(CONNECTIONS_MAX),
      "--request-timeout-ms", "300",
      "--output-bytes-max", String(OUTPUT_BYTES_MIN),
    ],
  });
});

afterAll(async () => {
  if (broker !== undefined) expect(await broker.stop()).toBe(0);
});

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${broker.httpPort}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  return m === null ? Number.NaN : Number(m[1]);
}

describe("limits", () => {
  test("auto-create off: produce to a missing topic is UNKNOWN_TOPIC_OR_PARTITION", async () => {
    const c = await RawClient.connect(broker.port);
    const res = await c.request(0, produceBody({ topic: "missing", acks: -1, partitions: [{ index: 0, records: encodeBatch([{ value: "v" }]) }] }));
    expect(decodeProduceResponse(res.body).topics[0].partitions[0].errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const md = (await c.control(3, { topics: ["missing"], allowAutoCreate: true })) as { topics: { errorCode: number }[] };
    expect(md.topics[0].errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    c.close();
  });

  test("one connection over the maximum is closed at once; a slot freed is usable again", async () => {
    const open: RawClient[] = [];
    try {
      for (let i = 0; i < CONNECTIONS_MAX; i++) {
        const c = await RawClient.connect(broker.port);
        open.push(c);
        expect(((await c.control(18, {})) as { broker: string }).broker).toBe("sluice");
      }
      // Refused at once: the connect itself may already see the reset, or the close follows it.
      const extra = await RawClient.connect(broker.port).catch(() => null);
      if (extra !== null) {
        await extra.closed;
        expect(extra.isClosed).toBe(true);
      }
      expect(await metric("sluice_connections_refused_total")).toBeGreaterThanOrEqual(1);
      open.pop()!.close();
      await waitFor(async () => (await metric("sluice_connections")) < CONNECTIONS_MAX, { what: "a connection slot to free up" });
      const again = await RawClient.connect(broker.port);
      open.push(again);
      expect(((await again.control(18, {})) as { broker: string }).broker).toBe("sluice");
    } finally {
      for (const c of open) c.close();
    }
    await waitFor(async () => (await metric("sluice_connections")) === 0, { what: "connections to close" });
  });

  test("a frame that does not complete within the request timeout closes the connection", async () => {
    const c = await RawClient.connect(broker.port);
    const partial = new Uint8Array(4 + 10);
    new DataView(partial.buffer).setUint32(0, 100);
    c.send(partial);
    const started = Date.now();
    await c.closed;
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(3_000);
    expect(await metric("sluice_request_timeouts_total")).toBeGreaterThanOrEqual(1);
  });

  test("a client that does not read its responses is closed once its output passes the bound", async () => {
    const admin = await RawClient.connect(broker.port);
    await admin.control(19, { topics: [{ name: "big", partitions: 1 }] });
    const value = "z".repeat(256 * 1024);
    for (let i = 0; i < 4; i++) {
      const r = await admin.request(0, produceBody({ topic: "big", acks: -1, partitions: [{ index: 0, records: encodeBatch([{ value }]) }] }));
      expect(decodeProduceResponse(r.body).topics[0].partitions[0].errorCode).toBe(0);
    }
    const lazy = await RawClient.connect(broker.port);
    lazy.socket.pause(); // reads nothing from here on
    for (let i = 0; i < 64; i++) lazy.sendRequest(1, fetchBody({ topic: "big", maxBytes: 2 * 1024 * 1024, partitions: [{ index: 0, offset: 0 }] }));
    await waitFor(async () => (await metric("sluice_output_overflows_total")) >= 1, { what: "the output bound to cut the lazy client off", timeoutMs: 10_000 });
    // The broker is fine: the admin connection still works.
    expect(((await admin.control(18, {})) as { broker: string }).broker).toBe("sluice");
    const bad = await admin.request(0, new Uint8Array([0]));
    expect(decodeResponseEnvelope(bad.body).errorCode).toBe(ErrorCode.INVALID_REQUEST);
    lazy.close();
    admin.close();
  });
});
