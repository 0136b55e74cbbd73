// Redis Streams as a peer: XADD of the same 100-byte payloads, pipelined over
// several connections, against a redis-server we start on 127.0.0.1 with a
// private data dir and an append-only file (`appendfsync always` fsyncs the
// AOF before replying, once per event-loop pass, which makes it durable in the
// same sense as Sluice's acks=all; `everysec` does not).

import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { LatencyRecorder } from "../load/latency.ts";
import { nowMs } from "../load/clock.ts";
import { PayloadWriter } from "../load/payload.ts";
import { ProcSampler } from "../load/proc_sampler.ts";
import { freePort, startServer, which, type ServerProcess } from "../load/server_process.ts";
import { ClientCpu, type PeerOutcome, type PeerResult } from "./peer_result.ts";
import { encodeCommand, RespError, RespParser, type RespValue } from "./resp.ts";

export type AppendFsync = "always" | "everysec";

export interface RedisRunOptions {
  appendfsync: AppendFsync;
  durationSec: number;
  sizeBytes: number;
  connections: number;
  /** Commands in flight per connection. */
  pipeline: number;
  /** Stream keys, written round-robin (the analogue of partitions; Redis runs them on one thread anyway). */
  streams: number;
}

export const REDIS_DEFAULTS: Omit<RedisRunOptions, "appendfsync"> = {
  durationSec: 5,
  sizeBytes: 100,
  connections: 50,
  pipeline: 16,
  streams: 8,
};

export async function startRedis(appendfsync: AppendFsync): Promise<{ server: ServerProcess; port: number; dir: string }> {
  const binary = which("redis-server");
  if (binary === undefined) throw new Error("redis-server is not installed");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-peer-redis-"));
  const port = await freePort();
  try {
    const server = await startServer({
      command: binary,
      args: [
        "--bind", "127.0.0.1",
        "--port", String(port),
        "--dir", dir,
        "--appendonly", "yes",
        "--appendfsync", appendfsync,
        "--save", "",
        "--daemonize", "no",
        "--protected-mode", "yes",
        "--logfile", "",
      ],
      readyLine: /Ready to accept connections/,
      readyTimeoutMs: 10_000,
    });
    return { server, port, dir };
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** A connection that sends commands and hands each reply, in order, to `onReply`. */
function connect(port: number, onReply: (value: RespValue) => void): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const parser = new RespParser({ onReply, decodeBulk: false });
    const socket = net.connect({ host: "127.0.0.1", port, noDelay: true });
    socket.on("data", (chunk: Buffer) => parser.push(chunk));
    socket.once("connect", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** One command, one reply (setup and verification only). */
async function call(port: number, args: string[]): Promise<RespValue> {
  let resolveReply: (value: RespValue) => void = () => {};
  const reply = new Promise<RespValue>((r) => (resolveReply = r));
  const parser = new RespParser({ onReply: (v) => resolveReply(v) });
  const socket = net.connect({ host: "127.0.0.1", port });
  socket.on("data", (chunk: Buffer) => parser.push(chunk));
  socket.write(encodeCommand(args));
  const value = await reply;
  socket.destroy();
  if (value instanceof RespError) throw new Error(`redis ${args[0]}: ${value.message}`);
  return value;
}

export async function runRedis(options: RedisRunOptions): Promise<PeerOutcome> {
  const setting = `appendfsync ${options.appendfsync}, pipeline ${options.pipeline} x ${options.connections} connections`;
  if (which("redis-server") === undefined) {
    return { peer: "redis", setting, skipped: "redis-server is not installed (apt-get install redis-server)" };
  }
  const { server, port, dir } = await startRedis(options.appendfsync);
  try {
    return await loadRedis(port, server.pid, options, setting);
  } finally {
    await server.stop(5000);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The XADD load against a Redis already listening on `port`. */
export async function loadRedis(port: number, serverPid: number, options: RedisRunOptions, setting: string): Promise<PeerResult> {
  const latency = new LatencyRecorder();
  const writer = new PayloadWriter({ size: options.sizeBytes, producerId: 0 });
  const keys = Array.from({ length: options.streams }, (_, i) => `bench:${i}`);
  // `*5 $4 XADD $k key $1 * $1 d $size` — everything before the payload, per stream key.
  const prefixes = keys.map((key) =>
    Buffer.from(`*5\r\n$4\r\nXADD\r\n$${key.length}\r\n${key}\r\n$1\r\n*\r\n$1\r\nd\r\n$${options.sizeBytes}\r\n`),
  );
  const commandBytesMax = Math.max(...prefixes.map((p) => p.length)) + options.sizeBytes + 2;
  let seq = 0;
  let sent = 0;
  let acked = 0;
  let errors = 0;
  let stopping = false;
  let firstError: string | undefined;

  const sampler = new ProcSampler(serverPid);
  const cpu = new ClientCpu();
  const done: Promise<void>[] = [];
  const start = nowMs();
  const deadline = start + options.durationSec * 1000;
  sampler.start();

  for (let c = 0; c < options.connections; c++) {
    // Redis answers one connection's commands in order, so a FIFO of send times matches replies to sends.
    const sentAt = new Float64Array(options.pipeline);
    let head = 0;
    let inFlight = 0;
    const out = Buffer.alloc(commandBytesMax * options.pipeline);
    let finish: () => void = () => {};
    done.push(new Promise<void>((r) => (finish = r)));
    let socket: net.Socket;
    const refill = () => {
      if (stopping || nowMs() >= deadline) {
        stopping = true;
        if (inFlight === 0) {
          socket.end();
          finish();
        }
        return;
      }
      let used = 0;
      const now = nowMs();
      while (inFlight < options.pipeline) {
        const prefix = prefixes[seq % prefixes.length];
        prefix.copy(out, used);
        used += prefix.length;
        writer.writeInto(out, used, seq, now);
        used += options.sizeBytes;
        out[used++] = 13;
        out[used++] = 10;
        sentAt[(head + inFlight) % options.pipeline] = now;
        inFlight++;
        seq++;
        sent++;
      }
      // node:net keeps the bytes it could not write yet; the window bounds how much that can be.
      if (used > 0) socket.write(Buffer.from(out.subarray(0, used)));
    };
    socket = await connect(port, (value) => {
      const t = sentAt[head];
      head = (head + 1) % options.pipeline;
      inFlight--;
      if (value instanceof RespError) {
        errors++;
        firstError ??= value.message;
      } else {
        acked++;
        latency.recordMs(nowMs() - t);
      }
      // Like redis-benchmark -P: send a full window, refill when all of it is answered.
      if (inFlight === 0) refill();
      else if (stopping && inFlight === 0) {
        socket.end();
        finish();
      }
    });
    refill();
  }
  await Promise.all(done);
  const wallSec = (nowMs() - start) / 1000;
  const usage = sampler.stop();
  const clientCores = cpu.cores();
  let stored = 0;
  for (const key of keys) stored += Number(await call(port, ["XLEN", key]));
  if (firstError !== undefined) console.error(`redis: ${errors} errors, first: ${firstError}`);
  const appendonly = `redis-server --appendonly yes --appendfsync ${options.appendfsync} --save ''`;
  return {
    peer: "redis",
    setting,
    fsyncBeforeAck: options.appendfsync === "always",
    command: `${appendonly}; XADD bench:<i> * d <${options.sizeBytes} B>, ${options.connections} connections x ${options.pipeline} in flight, ${options.durationSec} s`,
    msgsPerSec: acked / wallSec,
    mbPerSec: (acked * options.sizeBytes) / 1e6 / wallSec,
    latency: latency.summary(),
    sent,
    acked,
    stored,
    lost: Math.max(0, acked - stored),
    errors,
    serverCpuCores: usage.cores,
    serverRssMaxBytes: usage.rssMaxBytes,
    clientCpuCores: clientCores,
    machineBusyCores: usage.machineBusyCores ?? undefined,
    wallSec,
  };
}

if (import.meta.main) {
  const fsync = (process.argv[2] ?? "always") as AppendFsync;
  const result = await runRedis({ ...REDIS_DEFAULTS, appendfsync: fsync, durationSec: Number(process.argv[3] ?? 3) });
  console.log(JSON.stringify(result));
}
