// The HTTP side of a real broker: /healthz and /metrics (Prometheus text)
// with per-partition counters, request latency histograms, ring occupancy,
// connections and waiting fetches; and 1000 idle long-poll fetches stay parked
// until data arrives, when only those of its partition are answered.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decodeFetchResponse } from "../protocol/messages/fetch.ts";
import { encodeBatch } from "../protocol/record_batch.ts";
import { type BrokerProcess, startBroker } from "./support/broker.ts";
import { RawClient, fetchBody, produceBody } from "./support/raw_client.ts";
import { waitFor } from "./support/wait_for.ts";

let broker: BrokerProcess;

beforeAll(async () => {
  broker = await startBroker({ args: ["--workers", "2"] });
});

afterAll(async () => {
  if (broker !== undefined) expect(await broker.stop()).toBe(0);
});

async function metrics(): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${broker.httpPort}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("text/plain");
  return res.text();
}

function sample(text: string, name: string, labels = ""): number {
  const escaped = `${name}${labels}`.replace(/[.*+?^${}()|[\]\\]/g, (c) => `\\${c}`);
  const m = new RegExp(`^${escaped} (\\S+)$`, "m").exec(text);
  return m === null ? Number.NaN : Number(m[1]);
}

describe("http", () => {
  test("/healthz answers 200 with a JSON status", async () => {
    const res = await fetch(`http://127.0.0.1:${broker.httpPort}/healthz`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; workers: number };
    expect(body.status).toBe("ok");
    expect(body.workers).toBe(2);
    expect((await fetch(`http://127.0.0.1:${broker.httpPort}/nope`)).status).toBe(404);
  });

  test("/metrics: partition counters, latency histograms, rings, connections", async () => {
    const c = await RawClient.connect(broker.port);
    await c.control(19, { topics: [{ name: "m", partitions: 2 }] });
    const records = encodeBatch([{ value: "a" }, { value: "b" }, { value: "c" }]);
    for (let i = 0; i < 3; i++) await c.request(0, produceBody({ topic: "m", acks: -1, partitions: [{ index: 1, records }] }));
    await c.request(1, fetchBody({ topic: "m", partitions: [{ index: 1, offset: 0 }] }));
    const text = await metrics();
    expect(sample(text, "sluice_partition_messages_in_total", '{topic="m",partition="1"}')).toBe(9);
    expect(sample(text, "sluice_partition_bytes_in_total", '{topic="m",partition="1"}')).toBe(3 * records.length);
    expect(sample(text, "sluice_partition_bytes_out_total", '{topic="m",partition="1"}')).toBe(3 * records.length);
    expect(sample(text, "sluice_partition_high_watermark", '{topic="m",partition="1"}')).toBe(9);
    expect(sample(text, "sluice_partition_log_end_offset", '{topic="m",partition="0"}')).toBe(0);
    expect(sample(text, "sluice_request_duration_seconds_count", '{api="Produce"}')).toBe(3);
    expect(sample(text, "sluice_request_duration_seconds_bucket", '{api="Produce",le="+Inf"}')).toBe(3);
    expect(sample(text, "sluice_request_duration_seconds_count", '{api="Fetch"}')).toBe(1);
    expect(sample(text, "sluice_connections", "")).toBe(1);
    expect(sample(text, "sluice_ring_capacity_bytes", '{worker="1",ring="request"}')).toBeGreaterThan(0);
    expect(sample(text, "sluice_ring_used_bytes", '{worker="0",ring="request"}')).toBeGreaterThanOrEqual(0);
    expect(sample(text, "sluice_waiting_fetches", "")).toBe(0);
    // Where the memory is: the router thread's heap and what its objects hold outside it.
    expect(sample(text, "sluice_js_heap_used_bytes", "")).toBeGreaterThan(1 << 20);
    expect(sample(text, "sluice_js_heap_total_bytes", "")).toBeGreaterThan(0);
    // The rings are shared buffers of the router: 2 workers x (request + completion ring).
    expect(sample(text, "sluice_js_array_buffers_bytes", "")).toBeGreaterThan(2 * 2 * 1024 * 1024);
    expect(sample(text, "sluice_js_external_bytes", "")).toBeGreaterThanOrEqual(sample(text, "sluice_js_array_buffers_bytes", ""));
    // The memory governor's counters are there (a test broker stays under the soft limit: none forced).
    expect(sample(text, "sluice_gc_forced_total", "")).toBeGreaterThanOrEqual(0);
    // Every sample line belongs to a family announced by # TYPE.
    const types = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    for (const line of text.split("\n")) {
      if (line === "" || line.startsWith("#")) continue;
      const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0];
      const family = name.replace(/_(bucket|sum|count)$/, "");
      expect(types.has(name) || types.has(family)).toBe(true);
    }
    c.close();
  });

  test("1000 idle waiting fetches: counted in /metrics, left unanswered while no data arrives, and a produce answers only those of its partition", async () => {
    const admin = await RawClient.connect(broker.port);
    await admin.control(19, { topics: [{ name: "idle", partitions: 4 }] });
    const fetchesAnswered = async () => sample(await metrics(), "sluice_request_duration_seconds_count", '{api="Fetch"}') || 0;
    const answeredBefore = await fetchesAnswered();
    const clients: RawClient[] = [];
    for (let i = 0; i < 10; i++) clients.push(await RawClient.connect(broker.port));
    const onPartition2: { client: RawClient; id: number }[] = [];
    for (let i = 0; i < 1000; i++) {
      const c = clients[i % 10];
      const id = c.sendRequest(1, fetchBody({ topic: "idle", maxWaitMs: 60_000, minBytes: 1, partitions: [{ index: i % 4, offset: 0 }] }));
      if (i % 4 === 2) onPartition2.push({ client: c, id });
    }
    // The broker read and parked every one (positive first), and answered none: no data, a minute left to wait.
    // (Parked fetches cost no polling: long_poll.ts; the idle CPU of 10,000 of them is reported by test/faults/waiting_fetches.test.ts.)
    await waitFor(async () => sample(await metrics(), "sluice_waiting_fetches", "") === 1000, { what: "1000 parked fetches" });
    expect(await fetchesAnswered()).toBe(answeredBefore);
    expect(clients.reduce((n, c) => n + c.unclaimed, 0)).toBe(0);
    // A produce wakes the 250 waiting on its partition, and only them.
    await admin.request(0, produceBody({ topic: "idle", acks: -1, partitions: [{ index: 2, records: encodeBatch([{ value: "x" }]) }] }));
    const woken = await Promise.all(onPartition2.map(({ client, id }) => client.response(id)));
    for (const r of woken) {
      const part = decodeFetchResponse(r.body).topics[0].partitions[0];
      expect(part.errorCode).toBe(0);
      expect(Number(part.highWatermark)).toBe(1);
    }
    expect(await fetchesAnswered()).toBe(answeredBefore + 250);
    expect(sample(await metrics(), "sluice_waiting_fetches", "")).toBe(750);
    expect(clients.reduce((n, c) => n + c.unclaimed, 0)).toBe(0);
    for (const c of clients) c.close();
    admin.close();
  });
});
