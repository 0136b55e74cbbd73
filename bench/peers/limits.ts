// This machine's own limits, measured in the same run as the brokers, so each
// broker figure can be given as a fraction of the ceiling it is bound by:
//   - sequential write with an fdatasync after every 1 MiB (MiB/s): the disk's
//     durable bandwidth, the ceiling for acks=all bytes;
//   - 4 KiB append + fdatasync, one after the other (fdatasyncs/s): the ceiling
//     for how many group commits per second a partition can make;
//   - sequential buffered write into a new file, no fsync (MiB/s on one core):
//     the kernel copying into fresh page-cache pages, which every appended byte
//     costs the broker before any fsync (on this VM, the largest single cost
//     of produce by `perf`);
//   - loopback TCP, one sender thread and one receiver thread (MiB/s): the
//     ceiling for bytes between clients and broker;
//   - CRC-32C in TypeScript on one core (MiB/s): every produced byte is
//     checksummed once by the broker, so this is a CPU ceiling per core.
// Files go to the same temp dir the embedded broker uses.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { crc32c } from "../../protocol/crc32c.ts";
import { LatencyRecorder } from "../load/latency.ts";

const MiB = 1024 * 1024;

export interface MachineLimits {
  cores: number;
  memoryBytes: number;
  cpuModel: string;
  /** Sequential 1 MiB writes, fdatasync after each. */
  diskSeqWriteFdatasyncMiBps: number;
  /** Sequential 1 MiB writes into a new file, no fsync (page-cache copy, one core). */
  diskBufferedWriteMiBps: number;
  /** 4 KiB append + fdatasync each. */
  fdatasyncPerSec: number;
  fdatasyncP50Us: number;
  fdatasyncP99Us: number;
  /** Loopback TCP, 1 MiB writes, sender and receiver on separate threads. */
  loopbackTcpMiBps: number;
  /** CRC-32C over 1 MiB buffers on one core. */
  crc32cMiBps: number;
}

export interface LimitsOptions {
  /** Seconds per probe (each stops early at its byte cap). */
  probeSec: number;
  /** Byte cap for the sequential-write probe. */
  diskBytesMax: number;
  dir?: string;
}

export const LIMITS_FULL: LimitsOptions = { probeSec: 2, diskBytesMax: 1024 * MiB };
export const LIMITS_SMALL: LimitsOptions = { probeSec: 0.15, diskBytesMax: 16 * MiB };

/** Sequential 1 MiB writes at explicit positions for probeSec, each followed by an fdatasync: MiB/s. */
export function probeDiskSeqWrite(options: LimitsOptions): number {
  return probeSequentialWrite(options, "seq.bin", true);
}

/** The same writes into the page cache, with no fdatasync: MiB/s. */
export function probeBufferedWrite(options: LimitsOptions): number {
  return probeSequentialWrite(options, "buffered.bin", false);
}

function probeSequentialWrite(options: LimitsOptions, name: string, syncEach: boolean): number {
  const dir = fs.mkdtempSync(path.join(options.dir ?? os.tmpdir(), "sluice-limits-"));
  const file = path.join(dir, name);
  const chunk = new Uint8Array(MiB);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 2654435761) >>> 24;
  const fd = fs.openSync(file, "w+");
  try {
    let written = 0;
    const start = performance.now();
    const deadline = start + options.probeSec * 1000;
    while (written < options.diskBytesMax && performance.now() < deadline) {
      let done = 0;
      while (done < chunk.length) done += fs.writeSync(fd, chunk, done, chunk.length - done, written + done);
      if (syncEach) fs.fdatasyncSync(fd);
      written += chunk.length;
    }
    return written / MiB / ((performance.now() - start) / 1000);
  } finally {
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function probeFdatasync(options: LimitsOptions): { perSec: number; p50Us: number; p99Us: number } {
  const dir = fs.mkdtempSync(path.join(options.dir ?? os.tmpdir(), "sluice-limits-"));
  const file = path.join(dir, "sync.bin");
  const block = new Uint8Array(4096).fill(7);
  const fd = fs.openSync(file, "w+");
  const latency = new LatencyRecorder();
  try {
    let position = 0;
    let syncs = 0;
    const start = performance.now();
    const deadline = start + options.probeSec * 1000;
    while (performance.now() < deadline) {
      const t0 = performance.now();
      let done = 0;
      while (done < block.length) done += fs.writeSync(fd, block, done, block.length - done, position + done);
      fs.fdatasyncSync(fd);
      latency.recordMs(performance.now() - t0);
      position += block.length;
      syncs++;
    }
    const sec = (performance.now() - start) / 1000;
    const s = latency.summary();
    return { perSec: syncs / sec, p50Us: s.p50Ms * 1000, p99Us: s.p99Ms * 1000 };
  } finally {
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// The receiver runs in its own thread so sender and receiver use both cores,
// as a client and a broker would.
const RECEIVER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const net = require("node:net");
let received = 0;
const server = net.createServer((socket) => {
  socket.on("data", (chunk) => { received += chunk.length; });
  socket.on("end", () => { parentPort.postMessage({ received }); server.close(); });
  socket.on("error", () => {});
});
server.listen(0, "127.0.0.1", () => parentPort.postMessage({ port: server.address().port }));
`;

export async function probeLoopbackTcp(options: LimitsOptions): Promise<number> {
  const net = await import("node:net");
  const worker = new Worker(RECEIVER_SOURCE, { eval: true });
  try {
    const messages: { port?: number; received?: number }[] = [];
    let notify: (() => void) | undefined;
    worker.on("message", (m) => {
      messages.push(m);
      notify?.();
    });
    const next = async (): Promise<{ port?: number; received?: number }> => {
      while (messages.length === 0) await new Promise<void>((r) => (notify = r));
      return messages.shift()!;
    };
    const { port } = await next();
    const chunk = Buffer.alloc(MiB, 0x5a);
    const socket = net.connect({ host: "127.0.0.1", port: port! });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const start = performance.now();
    const deadline = start + options.probeSec * 1000;
    // Keep at most a few MiB queued: write until the kernel pushes back, wait for drain.
    while (performance.now() < deadline) {
      if (!socket.write(chunk)) await new Promise<void>((r) => socket.once("drain", r));
    }
    socket.end();
    const { received } = await next();
    const sec = (performance.now() - start) / 1000;
    return received! / MiB / sec;
  } finally {
    await worker.terminate();
  }
}

export function probeCrc32c(options: LimitsOptions): number {
  const buffer = new Uint8Array(MiB);
  for (let i = 0; i < buffer.length; i++) buffer[i] = i & 0xff;
  let bytes = 0;
  let sink = 0;
  const start = performance.now();
  const deadline = start + options.probeSec * 1000;
  while (performance.now() < deadline) {
    sink ^= crc32c(buffer);
    bytes += buffer.length;
  }
  if (sink === 0.5) console.log(sink); // keep the loop from being optimised away
  return bytes / MiB / ((performance.now() - start) / 1000);
}

export async function measureLimits(options: LimitsOptions): Promise<MachineLimits> {
  const disk = probeDiskSeqWrite(options);
  const buffered = probeBufferedWrite(options);
  const sync = probeFdatasync(options);
  const tcp = await probeLoopbackTcp(options);
  const crc = probeCrc32c(options);
  return {
    cores: os.cpus().length,
    memoryBytes: os.totalmem(),
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    diskSeqWriteFdatasyncMiBps: round(disk),
    diskBufferedWriteMiBps: round(buffered),
    fdatasyncPerSec: Math.round(sync.perSec),
    fdatasyncP50Us: Math.round(sync.p50Us),
    fdatasyncP99Us: Math.round(sync.p99Us),
    loopbackTcpMiBps: round(tcp),
    crc32cMiBps: round(crc),
  };
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

if (import.meta.main) {
  const small = process.argv.includes("--small");
  console.log(JSON.stringify(await measureLimits(small ? LIMITS_SMALL : LIMITS_FULL)));
}
