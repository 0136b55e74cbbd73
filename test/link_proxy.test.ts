// The network-partition proxy (support/link_proxy.ts) against a real echo
// server on 127.0.0.1: bytes pass; cut() holds open connections (nothing
// arrives, nothing is closed) and refuses new ones; heal() delivers what was
// held; a cut by source holds only the connections a named process opened
// (a real child process, told apart through /proc: support/socket_owner.ts).

import { afterEach, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import net from "node:net";
import { LinkProxy } from "./support/link_proxy.ts";
import { connectionOwner } from "./support/socket_owner.ts";
import { letTimePass, waitFor } from "./support/wait_for.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function echoServer(): Promise<net.Server> {
  const server = net.createServer((s) => {
    s.on("error", () => {});
    s.on("data", (d) => s.write(d));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return server;
}

/** A client that collects what it receives and whether it closed. */
async function connect(port: number): Promise<{ socket: net.Socket; received: () => string; closed: () => boolean }> {
  const socket = net.connect(port, "127.0.0.1");
  let got = "";
  let closed = false;
  socket.on("data", (d) => (got += d.toString()));
  socket.on("close", () => (closed = true));
  socket.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("error", reject);
  });
  cleanups.push(() => void socket.destroy());
  return { socket, received: () => got, closed: () => closed };
}

describe("link proxy", () => {
  test("forwards both ways; a cut holds open connections and refuses new ones; heal delivers what was held", async () => {
    const server = await echoServer();
    const proxy = await LinkProxy.start({ targetPort: (server.address() as net.AddressInfo).port });
    cleanups.push(() => proxy.close());
    const a = await connect(proxy.port);
    a.socket.write("hello");
    await waitFor(() => a.received() === "hello", { what: "the echo through the proxy" });

    proxy.cut();
    a.socket.write("held");
    const b = await connect(proxy.port).catch(() => undefined);
    // The new connection is accepted by the kernel and closed by the proxy at once: refused.
    if (b !== undefined) await waitFor(() => b.closed(), { what: "the new connection refused" });
    expect(proxy.refused).toBe(1);
    // Time passing is the behaviour: bytes written during the cut must not arrive, and the connection must stay open.
    await letTimePass(200);
    expect(a.received()).toBe("hello");
    expect(a.closed()).toBe(false);
    expect(proxy.held).toBe(1);

    proxy.heal();
    await waitFor(() => a.received() === "helloheld", { what: "the held bytes delivered after heal" });
    const c = await connect(proxy.port);
    c.socket.write("again");
    await waitFor(() => c.received() === "again", { what: "a new connection passes after heal" });
  });

  test("a side that closes during a cut is told to the other side only at heal", async () => {
    const server = await echoServer();
    let serverSide: net.Socket | undefined;
    server.on("connection", (s) => (serverSide = s));
    const proxy = await LinkProxy.start({ targetPort: (server.address() as net.AddressInfo).port });
    cleanups.push(() => proxy.close());
    const a = await connect(proxy.port);
    a.socket.write("x");
    await waitFor(() => a.received() === "x", { what: "echo" });
    let serverSawClose = false;
    serverSide!.on("close", () => (serverSawClose = true));
    proxy.cut();
    a.socket.destroy();
    await waitFor(() => a.closed(), { what: "the client closed" });
    await letTimePass(200); // the close must not cross the cut meanwhile
    expect(serverSawClose).toBe(false);
    proxy.heal();
    await waitFor(() => serverSawClose, { what: "the close delivered at heal" });
  });

  test("a cut by source holds the named process's connections only; connections wait for a target set later", async () => {
    const server = await echoServer();
    const sources = new Map<string, number>();
    // No target yet: connections wait until setTarget.
    const proxy = await LinkProxy.start({ sources: () => sources });
    cleanups.push(() => proxy.close());
    // A real other process, relaying its stdin to the proxy and what comes back to its stdout.
    const child = spawn(process.execPath, ["-e", `
      const net = require("node:net");
      const s = net.connect(Number(process.argv[process.argv.length - 1]), "127.0.0.1");
      s.on("data", (d) => process.stdout.write(d));
      process.stdin.on("data", (d) => s.write(d));
      s.on("error", () => {});
    `, String(proxy.port)], { stdio: ["pipe", "pipe", "inherit"] });
    cleanups.push(() => void child.kill("SIGKILL"));
    sources.set("child", child.pid!);
    let childGot = "";
    child.stdout!.on("data", (d: Buffer) => (childGot += d.toString()));
    await waitFor(() => proxy.accepted === 1, { what: "the child connected" });
    proxy.setTarget((server.address() as net.AddressInfo).port);
    child.stdin!.write("from-child");
    await waitFor(() => childGot === "from-child", { what: "the child's echo" });

    const mine = await connect(proxy.port);
    proxy.cut({ from: (source) => source === "child" });
    expect(proxy.held).toBe(1);
    child.stdin!.write("+held");
    mine.socket.write("mine");
    await waitFor(() => mine.received() === "mine", { what: "the test's own connection still passes" });
    await letTimePass(200); // the child's bytes must not pass meanwhile
    expect(childGot).toBe("from-child");
    proxy.heal();
    await waitFor(() => childGot === "from-child+held", { what: "the child's held bytes after heal" });
  });

  test("connectionOwner names the process holding a loopback connection, and nobody for a foreign one", async () => {
    const server = await echoServer();
    const port = (server.address() as net.AddressInfo).port;
    const accepted = new Promise<net.Socket>((resolve) => server.once("connection", resolve));
    const mine = await connect(port);
    const s = await accepted;
    expect(connectionOwner(s.remotePort!, port, new Map([["me", process.pid]]))).toBe("me");
    expect(connectionOwner(s.remotePort!, port, new Map([["init", 1]]))).toBeUndefined();
    mine.socket.destroy();
  });
});
