// One contract suite, run against every Transport adapter that works on this
// runtime (both do on Bun). The peer is a plain node:net server in this file.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import net from "node:net";
import { bunTransport, nodeTransport, type Transport, type TransportSocket } from "../runtime/mod.ts";
import { waitFor } from "./support/wait_for.ts";

interface Peer {
  port: number;
  /** Sockets the server accepted, newest last. */
  accepted: net.Socket[];
  close(): Promise<void>;
}

/** An echo server; `paused` sockets do not read until resumed. */
async function startEchoServer(options: { paused: boolean }): Promise<Peer> {
  const accepted: net.Socket[] = [];
  const server = net.createServer((socket) => {
    accepted.push(socket);
    socket.on("error", () => {});
    if (options.paused) socket.pause();
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of accepted) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function pattern(length: number, seed: number): Uint8Array {
  const b = new Uint8Array(length);
  for (let i = 0; i < length; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

function collect(socket: TransportSocket): { bytes: () => Uint8Array; length: () => number } {
  const chunks: Uint8Array[] = [];
  let length = 0;
  socket.onData((chunk) => {
    chunks.push(chunk);
    length += chunk.length;
  });
  return {
    length: () => length,
    bytes: () => {
      const out = new Uint8Array(length);
      let p = 0;
      for (const c of chunks) {
        out.set(c, p);
        p += c.length;
      }
      return out;
    },
  };
}

for (const transport of [bunTransport, nodeTransport] as Transport[]) {
  describe(`transport ${transport.name}`, () => {
    let echo: Peer;
    let paused: Peer;
    beforeAll(async () => {
      echo = await startEchoServer({ paused: false });
      paused = await startEchoServer({ paused: true });
    });
    afterAll(async () => {
      await echo.close();
      await paused.close();
    });

    test("many writes arrive whole and in order, and the caller may reuse its buffer at once", async () => {
      const socket = await transport.connect({ host: "127.0.0.1", port: echo.port, connectTimeoutMs: 5000 });
      const received = collect(socket);
      const expected: Uint8Array[] = [];
      const scratch = new Uint8Array(70_000);
      let total = 0;
      for (let i = 0; i < 200; i++) {
        const length = 1 + ((i * 7919) % scratch.length);
        const chunk = pattern(length, i);
        expected.push(chunk);
        scratch.set(chunk);
        socket.write(scratch.subarray(0, length));
        scratch.fill(0xee); // overwriting right after write must not change what is sent
        total += length;
      }
      await waitFor(() => received.length() >= total);
      const all = received.bytes();
      let p = 0;
      for (const chunk of expected) {
        expect(all.subarray(p, p + chunk.length)).toEqual(chunk);
        p += chunk.length;
      }
      socket.close();
    });

    test("a peer that does not read makes bytes queue up (never dropped), and drain is reported", async () => {
      const acceptedBefore = paused.accepted.length;
      const socket = await transport.connect({ host: "127.0.0.1", port: paused.port, connectTimeoutMs: 5000 });
      const received = collect(socket);
      let drains = 0;
      socket.onDrain(() => drains++);
      const block = pattern(1 << 20, 3);
      const blocks = 48; // far beyond the kernel's socket buffers on loopback
      for (let i = 0; i < blocks; i++) socket.write(block);
      expect(socket.queuedBytes).toBeGreaterThan(0);
      await waitFor(() => paused.accepted.length > acceptedBefore);
      paused.accepted[acceptedBefore].resume();
      await waitFor(() => received.length() >= blocks * block.length, { timeoutMs: 20_000 });
      expect(received.length()).toBe(blocks * block.length);
      await waitFor(() => socket.queuedBytes === 0);
      expect(drains).toBeGreaterThan(0);
      const all = received.bytes();
      expect(all.subarray((blocks - 1) * block.length)).toEqual(block);
      socket.close();
    });

    test("onClose fires once when the peer closes, and write afterwards is a no-op", async () => {
      const acceptedBefore = echo.accepted.length;
      const socket = await transport.connect({ host: "127.0.0.1", port: echo.port, connectTimeoutMs: 5000 });
      let closes = 0;
      socket.onClose(() => closes++);
      await waitFor(() => echo.accepted.length > acceptedBefore);
      echo.accepted[acceptedBefore].destroy();
      await waitFor(() => closes > 0);
      expect(socket.open).toBe(false);
      socket.write(new Uint8Array(10));
      socket.close();
      await new Promise((r) => setTimeout(r, 20));
      expect(closes).toBe(1);
    });

    test("close() reports onClose once", async () => {
      const socket = await transport.connect({ host: "127.0.0.1", port: echo.port, connectTimeoutMs: 5000 });
      let closes = 0;
      socket.onClose(() => closes++);
      socket.close();
      socket.close();
      expect(closes).toBe(1);
      expect(socket.open).toBe(false);
    });

    test("connecting to a port nobody listens on rejects", async () => {
      const server = net.createServer();
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const port = (server.address() as net.AddressInfo).port;
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await expect(transport.connect({ host: "127.0.0.1", port, connectTimeoutMs: 5000 })).rejects.toBeDefined();
    });
  });
}
