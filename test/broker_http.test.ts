// The HTTP side of a real broker: /healthz and /metrics (Prometheus text)
// with per-partition counters, request latency histograms, ring occupancy,
// connections and waiting fetches; and 1000 idle long-poll fetches cost the
// broker next to no CPU.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fs from "node:fs";
import { encodeBatch } from "../protocol/record_batch.ts";
import { type BrokerProcess, startBroker } from "./support/broker.ts";
import { RawClient, fetchBody, produceBody } from "./support/raw_client.ts";

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

/** utime + stime of a process in seconds (/proc/<pid>/stat, all threads). */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100; // USER_HZ is 100 on Linux
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

  test("1000 idle waiting fetches: counted in /metrics, and the broker's CPU stays near idle", async () => {
    const admin = await RawClient.connect(broker.port);
    await admin.control(19, { topics: [{ name: "idle", partitions: 4 }] });
    const clients: RawClient[] = [];
    for (let i = 0; i < 10; i++) clients.push(await RawClient.connect(broker.port));
    for (let i = 0; i < 1000; i++) {
      clients[i % 10].sendRequest(1, fetchBody({ topic: "idle", maxWaitMs: 60_000, minBytes: 1, partitions: [{ index: i % 4, offset: 0 }] }));
    }
    const deadline = Date.now() + 10_000;
    while (sample(await metrics(), "sluice_waiting_fetches", "") !== 1000) {
      if (Date.now() > deadline) throw new Error("the fetches did not all park");
      await Bun.sleep(20);
    }
    await Bun.sleep(300); // let the parsing of the burst (and its garbage collection) settle
    const cpu0 = cpuSeconds(broker.pid);
    const t0 = performance.now();
    await Bun.sleep(1_000);
    const cpu = cpuSeconds(broker.pid) - cpu0;
    const wallS = (performance.now() - t0) / 1000;
    console.log(`1000 parked fetches: broker CPU ${(cpu * 1000).toFixed(0)} ms over ${wallS.toFixed(2)} s`);
    // A poll per fetch (or per partition) would cost far more; idle here measures 0–3%.
    expect(cpu / wallS).toBeLessThan(0.1);
    // A produce wakes the 250 waiting on its partition, and only them.
    await admin.request(0, produceBody({ topic: "idle", acks: -1, partitions: [{ index: 2, records: encodeBatch([{ value: "x" }]) }] }));
    const deadline2 = Date.now() + 10_000;
    while (sample(await metrics(), "sluice_waiting_fetches", "") !== 750) {
      if (Date.now() > deadline2) throw new Error("the fetches of partition 2 were not all answered");
      await Bun.sleep(20);
    }
    for (const c of clients) c.close();
    admin.close();
  });
});
