// BrokerConnection against a small scripted broker on 127.0.0.1 (port 0):
// responses matched by correlation id whatever their order, one socket write
// per turn for many requests, the in-flight bound, timeouts, and lost
// connections failing every waiting request with a retriable typed error.

import { afterEach, describe, expect, test } from "bun:test";
import net from "node:net";
import { ApiKey } from "../protocol/api_keys.ts";
import { Writer } from "../protocol/codec.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { FrameParser, encodeResponseFrame, readRequestHeader, requestBody } from "../protocol/frame.ts";
import { encodeControlResponse } from "../protocol/messages/control.ts";
import { apiVersionsTable } from "../protocol/api_keys.ts";
import { defaultTransport, type Transport, type TransportSocket } from "../runtime/mod.ts";
import { BrokerConnection, type RequestHandler } from "./connection.ts";
import { ConnectionError, RequestTimeoutError } from "./errors.ts";
import { clientConfig } from "./options.ts";
import { waitFor } from "../test/support/wait_for.ts";

interface Held {
  correlationId: number;
  apiKey: number;
  body: Uint8Array;
  socket: net.Socket;
}

/** Answers ApiVersions itself; every other request is held for the test to answer (or not). */
async function scriptedBroker(): Promise<{ port: number; held: Held[]; sockets: net.Socket[]; chunks: number; close(): Promise<void> }> {
  const held: Held[] = [];
  const sockets: net.Socket[] = [];
  const state = { chunks: 0 };
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.on("error", () => {});
    const parser = new FrameParser({
      kind: "request",
      onFrame: (frame) => {
        const header = readRequestHeader(frame);
        if (header.apiKey === ApiKey.ApiVersions) {
          const body = encodeControlResponse(ApiKey.ApiVersions, { apis: apiVersionsTable(), broker: "sluice", version: "test" });
          socket.write(encodeResponseFrame(header.correlationId, body));
          return;
        }
        held.push({ correlationId: header.correlationId, apiKey: header.apiKey, body: requestBody(frame).slice(), socket });
      },
      onError: () => socket.destroy(),
    });
    socket.on("data", (chunk: Buffer) => {
      state.chunks++;
      parser.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    held,
    sockets,
    get chunks() {
      return state.chunks;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Counts socket writes of the real transport. */
function countingTransport(): { transport: Transport; writes: () => number } {
  let writes = 0;
  const inner = defaultTransport();
  return {
    writes: () => writes,
    transport: {
      name: `counting-${inner.name}`,
      async connect(options) {
        const socket = await inner.connect(options);
        const wrapped: TransportSocket = {
          write(bytes) {
            writes++;
            socket.write(bytes);
          },
          get queuedBytes() {
            return socket.queuedBytes;
          },
          get open() {
            return socket.open;
          },
          onData: (h) => socket.onData(h),
          onClose: (h) => socket.onClose(h),
          onDrain: (h) => socket.onDrain(h),
          close: () => socket.close(),
        };
        return wrapped;
      },
    },
  };
}

function answer(h: Held, payload: number): void {
  const w = new Writer();
  w.writeI16(ErrorCode.NONE).writeI32(payload);
  h.socket.write(encodeResponseFrame(h.correlationId, w.finish().slice()));
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe("BrokerConnection", () => {
  test("responses arriving in reverse order reach the right callers", async () => {
    const broker = await scriptedBroker();
    cleanups.push(() => broker.close());
    const connection = await BrokerConnection.open(clientConfig({ broker: `127.0.0.1:${broker.port}` }));
    cleanups.push(() => connection.close());
    const results = Array.from({ length: 20 }, (_, i) => connection.request(ApiKey.Metadata, (w) => w.writeI32(i)));
    await waitFor(() => broker.held.length === 20);
    for (const h of [...broker.held].reverse()) answer(h, new DataView(h.body.buffer, h.body.byteOffset).getInt32(0) * 10);
    const bodies = await Promise.all(results);
    expect(bodies.map((b) => new DataView(b.buffer, b.byteOffset).getInt32(2))).toEqual(Array.from({ length: 20 }, (_, i) => i * 10));
  });

  test("requests made in one turn leave in one socket write", async () => {
    const broker = await scriptedBroker();
    cleanups.push(() => broker.close());
    const counting = countingTransport();
    const connection = await BrokerConnection.open(clientConfig({ broker: `127.0.0.1:${broker.port}`, transport: counting.transport }));
    cleanups.push(() => connection.close());
    const before = counting.writes();
    for (let i = 0; i < 100; i++) connection.request(ApiKey.Metadata, (w) => w.writeI32(i)).catch(() => {});
    await waitFor(() => broker.held.length === 100);
    expect(counting.writes() - before).toBe(1);
  });

  test("at most inflightRequestsMax requests wait for a response; the rest wait their turn", async () => {
    const broker = await scriptedBroker();
    cleanups.push(() => broker.close());
    const connection = await BrokerConnection.open(clientConfig({ broker: `127.0.0.1:${broker.port}`, inflightRequestsMax: 4 }));
    cleanups.push(() => connection.close());
    const results = Array.from({ length: 10 }, (_, i) => connection.request(ApiKey.Metadata, (w) => w.writeI32(i)));
    await waitFor(() => broker.held.length === 4);
    await new Promise((r) => setTimeout(r, 20));
    expect(broker.held.length).toBe(4);
    expect(connection.inflight).toBe(4);
    let answered = 0;
    await waitFor(() => {
      while (answered < broker.held.length) answer(broker.held[answered++], 0);
      return answered === 10;
    });
    await Promise.all(results);
  });

  test("a request without an answer fails with RequestTimeoutError and the others with ConnectionError", async () => {
    const broker = await scriptedBroker();
    cleanups.push(() => broker.close());
    const connection = await BrokerConnection.open(clientConfig({ broker: `127.0.0.1:${broker.port}`, requestTimeoutMs: 100 }));
    const first = connection.request(ApiKey.Metadata, (w) => w.writeI32(1)).then(() => undefined, (e) => e);
    const second = connection.request(ApiKey.Metadata, (w) => w.writeI32(2), { extraTimeoutMs: 10_000 }).then(() => undefined, (e) => e);
    const e1 = await first;
    expect(e1).toBeInstanceOf(RequestTimeoutError);
    expect(e1.code).toBe(ErrorCode.REQUEST_TIMED_OUT);
    const e2 = await second;
    expect(e2).toBeInstanceOf(ConnectionError);
    expect(e2.code).toBe(ErrorCode.NETWORK_EXCEPTION);
    expect(e2.retriable).toBe(true);
    expect(connection.closed).toBe(true);
  });

  test("a lost connection fails waiting requests with a retriable ConnectionError", async () => {
    const broker = await scriptedBroker();
    cleanups.push(() => broker.close());
    const connection = await BrokerConnection.open(clientConfig({ broker: `127.0.0.1:${broker.port}` }));
    const pending = connection.request(ApiKey.Metadata, (w) => w.writeI32(1)).then(() => undefined, (e) => e);
    await waitFor(() => broker.held.length === 1);
    broker.sockets[0].destroy();
    const error = await pending;
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error.retriable).toBe(true);
    await expect(connection.request(ApiKey.Metadata, (w) => w.writeI32(2))).rejects.toBeInstanceOf(ConnectionError);
  });

  test("a request that fails to encode sends nothing and leaves the others intact", async () => {
    const broker = await scriptedBroker();
    cleanups.push(() => broker.close());
    const connection = await BrokerConnection.open(clientConfig({ broker: `127.0.0.1:${broker.port}` }));
    cleanups.push(() => connection.close());
    const ok1 = connection.request(ApiKey.Metadata, (w) => w.writeI32(1));
    const bad = connection.request(ApiKey.Metadata, (w) => {
      w.writeI32(99);
      throw new Error("cannot encode");
    });
    const ok2 = connection.request(ApiKey.Metadata, (w) => w.writeI32(2));
    await expect(bad).rejects.toThrow("cannot encode");
    await waitFor(() => broker.held.length === 2);
    expect(broker.held.map((h) => new DataView(h.body.buffer, h.body.byteOffset).getInt32(0))).toEqual([1, 2]);
    for (const h of broker.held) answer(h, 0);
    await Promise.all([ok1, ok2]);
  });

  test("send(): the handler encodes when a slot is free, in order, and hears each outcome once, never from inside send()", async () => {
    const broker = await scriptedBroker();
    cleanups.push(() => broker.close());
    const connection = await BrokerConnection.open(clientConfig({ broker: `127.0.0.1:${broker.port}`, inflightRequestsMax: 2 }));
    const events: string[] = [];
    const handler = (n: number): RequestHandler => ({
      encodeBody: (w) => {
        events.push(`encode ${n}`);
        w.writeI32(n);
      },
      onResponse: (bytes, start) => events.push(`response ${n}: ${new DataView(bytes.buffer, bytes.byteOffset).getInt32(start + 2)}`),
      onError: (e) => events.push(`error ${n}: ${e.constructor.name}`),
    });
    for (let n = 1; n <= 3; n++) connection.send(ApiKey.Metadata, handler(n), true, 0);
    expect(events).toEqual(["encode 1", "encode 2"]); // the third waits for a slot
    await waitFor(() => broker.held.length === 2);
    answer(broker.held[1], 20);
    await waitFor(() => broker.held.length === 3);
    expect(events).toEqual(["encode 1", "encode 2", "response 2: 20", "encode 3"]);
    connection.close();
    expect(events.slice(4).sort()).toEqual(["error 1: ConnectionError", "error 3: ConnectionError"]);
    connection.send(ApiKey.Metadata, handler(4), true, 0);
    expect(events.length).toBe(6);
    await waitFor(() => events.length === 7);
    expect(events[6]).toBe("error 4: ConnectionError");
  });

  test("connecting to a closed port fails with ConnectionError", async () => {
    const broker = await scriptedBroker();
    const port = broker.port;
    await broker.close();
    await expect(BrokerConnection.open(clientConfig({ broker: `127.0.0.1:${port}` }))).rejects.toBeInstanceOf(ConnectionError);
  });
});
