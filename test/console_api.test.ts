// The console's JSON API (/api/v1/) on a real broker process: bad input is a
// 4xx whose message names what is wrong, hostile sizes are bounded, event
// streams are limited and send at most one snapshot a second, admin changes
// reach the broker; and `--http-console false` serves none of it.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  BROWSE_PAGE_TEXT_CHARS_MAX,
  EVENT_STREAMS_MAX,
  QUERY_VALUE_LENGTH_MAX,
  REQUEST_BODY_BYTES_MAX,
} from "../engine/http/console_limits.ts";
import { type BrokerProcess, startBroker } from "./support/broker.ts";
import { sluiceOk } from "./support/cli.ts";
import { RawClient, produceBody } from "./support/raw_client.ts";
import { waitForValue } from "./support/wait_for.ts";
import { encodeBatch } from "../protocol/record_batch.ts";

let broker: BrokerProcess;
let base: string;

beforeAll(async () => {
  broker = await startBroker({ args: ["--workers", "1"] });
  base = `http://127.0.0.1:${broker.httpPort}/api/v1`;
  await sluiceOk(["topics", "create", "orders", "--partitions", "2"], { broker: `127.0.0.1:${broker.port}` });
  await sluiceOk(["produce", "orders", "--partition", "0"], { broker: `127.0.0.1:${broker.port}`, input: "a\nb\nc\n" });
});

afterAll(async () => {
  if (broker !== undefined) expect(await broker.stop()).toBe(0);
});

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)["content-type"] ??= "application/json";
  }
  const res = await fetch(`${base}/${path}`, init);
  const text = await res.text();
  return { status: res.status, json: text === "" ? null : JSON.parse(text) };
}

describe("console API: bad input", () => {
  test("a bad topic name, an unknown topic or partition, a bad offset: 4xx naming it", async () => {
    let r = await call("GET", "topics/no%20spaces");
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe("INVALID_TOPIC_EXCEPTION");
    expect(r.json.error.message).toContain("topic");
    r = await call("GET", "topics/missing");
    expect(r.status).toBe(404);
    expect(r.json.error.message).toContain("'missing' does not exist");
    r = await call("GET", "topics/orders/partitions/7/records");
    expect(r.status).toBe(404);
    expect(r.json.error.message).toContain("partition");
    r = await call("GET", "topics/orders/partitions/0/records?from=offset&offset=abc");
    expect(r.status).toBe(400);
    expect(r.json.error.message).toStartWith("offset:");
    r = await call("GET", "topics/orders/partitions/0/records?from=offset&offset=4");
    expect(r.status).toBe(400);
    expect(r.json.error.message).toBe("offset: 4 is outside the partition's offsets 0..3");
    r = await call("GET", "topics/orders/partitions/0/records?from=yesterday");
    expect(r.status).toBe(400);
    expect(r.json.error.message).toStartWith("from:");
  });

  test("huge or hostile query parameters are bounded", async () => {
    let r = await call("GET", `topics/orders/partitions/0/records?filter=${"x".repeat(QUERY_VALUE_LENGTH_MAX + 1)}`);
    expect(r.status).toBe(400);
    expect(r.json.error.message).toStartWith("filter:");
    r = await call("GET", "topics/orders/partitions/0/records?limit=100000");
    expect(r.status).toBe(400);
    expect(r.json.error.message).toStartWith("limit:");
    r = await call("GET", "topics/orders/partitions/0/records?limit=1&limit=2");
    expect(r.status).toBe(400);
    r = await call("GET", `topics/orders?pad=${"y".repeat(5000)}`);
    expect(r.status).toBe(414);
    r = await call("GET", "topics/orders/partitions/99999999999999999999/records");
    expect(r.status).toBe(400);
  });

  test("a bad config value: 400 naming the field, nothing changed; a good one is stored", async () => {
    let r = await call("PATCH", "topics/orders/config", { set: { "segment.bytes": "-5" } });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe("INVALID_CONFIG");
    expect(r.json.error.message).toStartWith("segment.bytes:");
    r = await call("PATCH", "topics/orders/config", { set: { "no.such.setting": "1" } });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toContain("no.such.setting");
    r = await call("PATCH", "topics/orders/config", { set: { "retention.ms": "60000" } });
    expect(r.status).toBe(200);
    const d = JSON.parse(await sluiceOk(["topics", "describe", "orders", "--json"], { broker: `127.0.0.1:${broker.port}` }));
    expect(d.configs["retention.ms"]).toBe("60000");
  });

  test("bodies: not JSON, not declared JSON, too large", async () => {
    let r = await call("POST", "topics", "{not json");
    expect(r.status).toBe(400);
    r = await call("POST", "topics", JSON.stringify({ name: "x" }), { "content-type": "text/plain" });
    expect(r.status).toBe(415);
    r = await call("POST", "topics/orders/records", { value: "z".repeat(REQUEST_BODY_BYTES_MAX + 10) });
    expect(r.status).toBe(413);
    r = await call("POST", "topics", { name: "orders" });
    expect(r.status).toBe(409);
    r = await call("POST", "topics", { name: "fresh", partitions: 0 });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toStartWith("partitions:");
  });
});

describe("console API: what it does", () => {
  test("produce with headers, then browse it back; a filter skips what does not match", async () => {
    const r = await call("POST", "topics/orders/records", { partition: 1, key: "k", value: '{"n":1}', headers: [{ key: "h", value: "<b>v</b>" }] });
    expect(r.status).toBe(201);
    expect(r.json).toEqual({ topic: "orders", partition: 1, offset: 0 });
    const page = await call("GET", "topics/orders/partitions/1/records?from=end");
    expect(page.json.records).toHaveLength(1);
    const rec = page.json.records[0];
    expect(rec.value).toEqual({ kind: "json", size: 7, text: '{\n  "n": 1\n}', truncated: false });
    expect(rec.headers).toEqual([{ key: "h", value: { kind: "text", size: 8, text: "<b>v</b>", truncated: false } }]);
    const filtered = await call("GET", "topics/orders/partitions/0/records?filter=B");
    expect(filtered.json.records.map((x: { offset: number }) => x.offset)).toEqual([1]);
    expect(filtered.json.nextOffset).toBe(3);
  });

  test("browse from a timestamp: the first record at or after it; none that late is an empty page at the end", async () => {
    expect((await call("POST", "topics", { name: "timed", partitions: 1 })).status).toBe(201);
    const c = await RawClient.connect(broker.port);
    try {
      const records = encodeBatch([
        { value: "t1000", timestamp: 1000 },
        { value: "t2000", timestamp: 2000 },
        { value: "t3000", timestamp: 3000 },
      ]);
      await c.request(0, produceBody({ topic: "timed", acks: -1, partitions: [{ index: 0, records }] }));
    } finally {
      c.close();
    }
    const page = await call("GET", "topics/timed/partitions/0/records?from=timestamp&timestamp=1500");
    expect(page.status).toBe(200);
    expect(page.json.records.map((r: { offset: number; timestamp: number }) => [r.offset, r.timestamp])).toEqual([
      [1, 2000],
      [2, 3000],
    ]);
    const late = await call("GET", "topics/timed/partitions/0/records?from=timestamp&timestamp=9999999");
    expect(late.json.records).toEqual([]);
    expect(late.json.startOffset).toBe(3);
    const bad = await call("GET", "topics/timed/partitions/0/records?from=timestamp&timestamp=-5");
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toStartWith("timestamp:");
  });

  test("a page of binary values ends at its bound of shown text, and the next page goes on from there", async () => {
    expect((await call("POST", "topics", { name: "blobs", partitions: 1 })).status).toBe(201);
    const value = new Uint8Array(12 * 1024).map((_, i) => (i * 7 + 1) % 256 || 1); // not UTF-8: shown as hex, 3 characters a byte
    const c = await RawClient.connect(broker.port);
    try {
      for (let b = 0; b < 8; b++) {
        const records = encodeBatch(Array.from({ length: 25 }, () => ({ value })));
        await c.request(0, produceBody({ topic: "blobs", acks: -1, partitions: [{ index: 0, records }] }));
      }
    } finally {
      c.close();
    }
    const page = await call("GET", "topics/blobs/partitions/0/records?limit=500&maxBytes=1048576");
    const records = page.json.records as { offset: number; value: { kind: string; text: string } }[];
    expect(records[0].value.kind).toBe("binary");
    const shown = records.reduce((n, r) => n + r.value.text.length, 0);
    // One 1 MiB read holds 75 of these (three batches); the text bound stops the page first, just past it.
    expect(shown).toBeGreaterThanOrEqual(BROWSE_PAGE_TEXT_CHARS_MAX);
    expect(shown - records[records.length - 1].value.text.length).toBeLessThan(BROWSE_PAGE_TEXT_CHARS_MAX);
    expect(page.json.nextOffset).toBe(records[records.length - 1].offset + 1);
    const next = await call("GET", `topics/blobs/partitions/0/records?from=offset&offset=${page.json.nextOffset}&limit=1`);
    expect(next.json.records[0].offset).toBe(page.json.nextOffset);
  });

  test("create, add partitions, and delete only with the name repeated", async () => {
    expect((await call("POST", "topics", { name: "temp", partitions: 1, configs: { "retention.ms": "1000" } })).status).toBe(201);
    const grown = await call("POST", "topics/temp/partitions", { count: 3 });
    expect(grown.json.partitions).toHaveLength(3);
    let r = await call("DELETE", "topics/temp");
    expect(r.status).toBe(400);
    expect(r.json.error.message).toStartWith("confirm:");
    r = await call("DELETE", "topics/temp?confirm=temp");
    expect(r.status).toBe(200);
    const names = await sluiceOk(["topics", "list"], { broker: `127.0.0.1:${broker.port}` });
    expect(names.split("\n")).not.toContain("temp");
  });

  test("event streams: a snapshot at most once a second, and at most EVENT_STREAMS_MAX open", async () => {
    const controllers: AbortController[] = [];
    try {
      const readers: ReadableStreamDefaultReader<Uint8Array>[] = [];
      for (let i = 0; i < EVENT_STREAMS_MAX; i++) {
        const c = new AbortController();
        controllers.push(c);
        const res = await fetch(`${base}/events`, { signal: c.signal });
        expect(res.status).toBe(200);
        expect(res.headers.get("content-type")).toContain("text/event-stream");
        readers.push(res.body!.getReader() as ReadableStreamDefaultReader<Uint8Array>);
      }
      const over = await fetch(`${base}/events`);
      expect(over.status).toBe(503);
      expect(over.headers.get("retry-after")).toBe("1");
      expect(((await over.json()) as { error: { message: string } }).error.message).toContain(`${EVENT_STREAMS_MAX} event streams`);

      // The first event is the snapshot at hand when the stream opened; the ticks after it come about a second apart, never closer.
      const decoder = new TextDecoder();
      let buffered = "";
      const times: number[] = [];
      const deadline = Date.now() + 10_000;
      while (times.length < 4 && Date.now() < deadline) {
        const { value, done } = await readers[0].read();
        if (done) break;
        buffered += decoder.decode(value);
        for (const m of buffered.matchAll(/data: (.*)\n\n/g)) times.push(JSON.parse(m[1]).atMs);
        buffered = buffered.slice(buffered.lastIndexOf("\n\n") + 2);
      }
      expect(times.length).toBeGreaterThanOrEqual(4);
      for (let i = 2; i < times.length; i++) expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(900);

      controllers.pop()!.abort();
      // The aborted stream's slot comes back.
      const again = await waitForValue(
        async () => {
          const c = new AbortController();
          const res = await fetch(`${base}/events`, { signal: c.signal });
          if (res.status !== 200) {
            await res.arrayBuffer();
            return undefined;
          }
          controllers.push(c);
          return res;
        },
        { what: "a free event stream slot", timeoutMs: 10_000, everyMs: 50 },
      );
      expect(again.headers.get("content-type")).toContain("text/event-stream");
    } finally {
      for (const c of controllers) c.abort();
    }
  });

  test("groups: an unknown group is 404; reset of an empty group goes through as the CLI's", async () => {
    expect((await call("GET", "groups/nobody")).status).toBe(404);
    const r = await call("POST", "groups/fresh/reset-offsets", { topic: "orders", to: "earliest" });
    expect(r.status).toBe(200);
    expect(r.json.partitions).toEqual([
      { partition: 0, errorCode: 0, offset: 0 },
      { partition: 1, errorCode: 0, offset: 0 },
    ]);
    const g = await call("GET", "groups/fresh");
    expect(g.json.lag).toBe(4);
    const bad = await call("POST", "groups/fresh/reset-offsets", { topic: "orders", to: "sideways" });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toStartWith("to:");
  });
});

describe("--http-console false", () => {
  test("serves no page and no API, and /healthz and /metrics as before", async () => {
    const off = await startBroker({ args: ["--workers", "1", "--http-console", "false"] });
    try {
      const at = (p: string) => fetch(`http://127.0.0.1:${off.httpPort}${p}`);
      expect((await at("/")).status).toBe(404);
      expect((await at("/api/v1/overview")).status).toBe(404);
      expect((await at("/assets/main.js")).status).toBe(404);
      expect((await at("/healthz")).status).toBe(200);
      expect((await at("/metrics")).status).toBe(200);
    } finally {
      expect(await off.stop()).toBe(0);
    }
  });
});
