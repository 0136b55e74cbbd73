// NATS JetStream as a peer: the same payloads published to a file-storage
// stream on a nats-server we start on 127.0.0.1 with a private store dir, many
// publishes in flight per connection, each acknowledged by JetStream. Spoken
// over a raw socket (the text protocol is small): CONNECT, SUB to an inbox,
// PUB with a reply subject per message, one MSG ack back per publish.
//
// Durability: nats-server 2.9 acknowledges a JetStream publish once the
// message is written to its file store, without an fsync (it syncs on an
// interval); the table says so next to the figure.

import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { nowMs } from "../load/clock.ts";
import { LatencyRecorder } from "../load/latency.ts";
import { PayloadWriter } from "../load/payload.ts";
import { ProcSampler } from "../load/proc_sampler.ts";
import { freePort, startServer, which, type ServerProcess } from "../load/server_process.ts";
import { ClientCpu, type PeerOutcome, type PeerResult } from "./peer_result.ts";

export interface NatsRunOptions {
  durationSec: number;
  sizeBytes: number;
  connections: number;
  /** Publishes awaiting their JetStream ack, per connection. */
  inFlight: number;
  subjects: number;
}

export const NATS_DEFAULTS: NatsRunOptions = { durationSec: 5, sizeBytes: 100, connections: 4, inFlight: 256, subjects: 8 };

const STREAM = "BENCH";
const CR = 13;

interface NatsMessage {
  subject: string;
  reply: string | undefined;
  payload: Buffer;
  /** HMSG: the status line of the headers, e.g. "NATS/1.0 503". */
  status?: string;
}

/** Incremental parser of server→client NATS protocol lines. */
export class NatsParser {
  private buffer: Buffer = Buffer.alloc(0);
  constructor(
    private readonly handlers: {
      onMessage: (message: NatsMessage) => void;
      onPing: () => void;
      onError: (text: string) => void;
      onInfo?: (json: string) => void;
      onPong?: () => void;
    },
  ) {}

  push(chunk: Uint8Array): void {
    this.buffer = this.buffer.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.concat([this.buffer, chunk]);
    const b = this.buffer;
    let pos = 0;
    for (;;) {
      const lineEnd = b.indexOf(CR, pos);
      if (lineEnd < 0 || lineEnd + 1 >= b.length) break;
      const line = b.toString("latin1", pos, lineEnd);
      const after = lineEnd + 2;
      if (line.startsWith("MSG ") || line.startsWith("HMSG ")) {
        const parts = line.split(" ");
        const isH = parts[0] === "HMSG";
        // MSG subject sid [reply] size | HMSG subject sid [reply] hdrSize totalSize
        const fixed = isH ? 5 : 4;
        const reply = parts.length > fixed ? parts[3] : undefined;
        const total = Number(parts[parts.length - 1]);
        const headerBytes = isH ? Number(parts[parts.length - 2]) : 0;
        if (after + total + 2 > b.length) break;
        const message: NatsMessage = {
          subject: parts[1],
          reply,
          payload: b.subarray(after + headerBytes, after + total),
        };
        if (isH) message.status = b.toString("latin1", after, after + headerBytes).split("\r\n")[0];
        this.handlers.onMessage(message);
        pos = after + total + 2;
        continue;
      }
      pos = after;
      if (line === "PING") this.handlers.onPing();
      else if (line === "PONG") this.handlers.onPong?.();
      else if (line.startsWith("INFO ")) this.handlers.onInfo?.(line.slice(5));
      else if (line.startsWith("-ERR")) this.handlers.onError(line);
      // "+OK" only in verbose mode, which we do not ask for.
    }
    this.buffer = pos === b.length ? Buffer.alloc(0) : Buffer.from(b.subarray(pos));
  }
}

class NatsConnection {
  private readonly socket: net.Socket;
  private readonly parser: NatsParser;
  private pongWaiters: (() => void)[] = [];
  private requestWaiters = new Map<string, (payload: string) => void>();
  private nextRequest = 0;
  onMessage: (message: NatsMessage) => void = () => {};
  errors: string[] = [];

  private constructor(socket: net.Socket, readonly inbox: string) {
    this.socket = socket;
    this.parser = new NatsParser({
      onMessage: (m) => {
        const waiter = this.requestWaiters.get(m.subject);
        if (waiter !== undefined) {
          this.requestWaiters.delete(m.subject);
          waiter(m.payload.toString("utf8"));
        } else {
          this.onMessage(m);
        }
      },
      onPing: () => this.socket.write("PONG\r\n"),
      onPong: () => this.pongWaiters.shift()?.(),
      onError: (text) => {
        if (this.errors.length < 10) this.errors.push(text);
      },
    });
    socket.on("data", (chunk: Buffer) => this.parser.push(chunk));
  }

  static async open(port: number, inbox: string): Promise<NatsConnection> {
    const socket = net.connect({ host: "127.0.0.1", port, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const connection = new NatsConnection(socket, inbox);
    socket.write(`CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true,"protocol":1,"name":"sluice-peer-bench"}\r\n`);
    socket.write(`SUB ${inbox}.* 1\r\n`);
    await connection.ping();
    return connection;
  }

  ping(): Promise<void> {
    return new Promise((resolve) => {
      this.pongWaiters.push(resolve);
      this.socket.write("PING\r\n");
    });
  }

  async request(subject: string, body: string): Promise<string> {
    const reply = `${this.inbox}.r${this.nextRequest++}`;
    const answer = new Promise<string>((resolve) => this.requestWaiters.set(reply, resolve));
    const bytes = Buffer.from(body, "utf8");
    this.socket.write(`PUB ${subject} ${reply} ${bytes.length}\r\n`);
    this.socket.write(Buffer.concat([bytes, Buffer.from("\r\n")]));
    return answer;
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  close(): void {
    this.socket.destroy();
  }
}

export async function startNats(): Promise<{ server: ServerProcess; port: number; dir: string }> {
  const binary = which("nats-server");
  if (binary === undefined) throw new Error("nats-server is not installed");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-peer-nats-"));
  const port = await freePort();
  try {
    const server = await startServer({
      command: binary,
      args: ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir],
      readyLine: /Server is ready/,
      readyTimeoutMs: 10_000,
    });
    return { server, port, dir };
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

export async function runNats(options: NatsRunOptions): Promise<PeerOutcome> {
  const setting = `JetStream file storage, ${options.inFlight} in flight x ${options.connections} connections`;
  if (which("nats-server") === undefined) {
    return { peer: "nats", setting, skipped: "nats-server is not installed (apt-get install nats-server)" };
  }
  const { server, port, dir } = await startNats();
  try {
    return await loadNats(port, server.pid, options, setting);
  } finally {
    await server.stop(5000);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function loadNats(port: number, serverPid: number, options: NatsRunOptions, setting: string): Promise<PeerResult> {
  const admin = await NatsConnection.open(port, "_INBOX.admin");
  const created = JSON.parse(
    await admin.request(
      `$JS.API.STREAM.CREATE.${STREAM}`,
      JSON.stringify({ name: STREAM, subjects: ["bench.>"], storage: "file", retention: "limits", num_replicas: 1, discard: "old" }),
    ),
  );
  if (created.error !== undefined) throw new Error(`nats: stream create failed: ${JSON.stringify(created.error)}`);

  const latency = new LatencyRecorder();
  const writer = new PayloadWriter({ size: options.sizeBytes, producerId: 0 });
  let seq = 0;
  let sent = 0;
  let acked = 0;
  let errors = 0;
  let firstError: string | undefined;
  let stopping = false;
  const sampler = new ProcSampler(serverPid);
  const cpu = new ClientCpu();
  const start = nowMs();
  const deadline = start + options.durationSec * 1000;
  sampler.start();

  const done: Promise<void>[] = [];
  const connections: NatsConnection[] = [];
  for (let c = 0; c < options.connections; c++) {
    const inbox = `_INBOX.b${c}`;
    const connection = await NatsConnection.open(port, inbox);
    connections.push(connection);
    // Acks usually come back in order, but nothing promises it: match them by token.
    const sentAt = new Map<number, number>();
    let token = 0;
    let finish: () => void = () => {};
    done.push(new Promise<void>((r) => (finish = r)));
    const headers = Array.from({ length: options.subjects }, (_, i) => `bench.${i}`);
    const refill = () => {
      if (stopping || nowMs() >= deadline) {
        stopping = true;
        if (sentAt.size === 0) finish();
        return;
      }
      const now = nowMs();
      const chunks: Buffer[] = [];
      while (sentAt.size < options.inFlight) {
        const t = token++;
        const line = Buffer.from(`PUB ${headers[seq % headers.length]} ${inbox}.${t} ${options.sizeBytes}\r\n`, "latin1");
        const body = Buffer.allocUnsafe(options.sizeBytes + 2);
        writer.writeInto(body, 0, seq, now);
        body[options.sizeBytes] = 13;
        body[options.sizeBytes + 1] = 10;
        chunks.push(line, body);
        sentAt.set(t, now);
        seq++;
        sent++;
      }
      if (chunks.length > 0) connection.write(Buffer.concat(chunks));
    };
    connection.onMessage = (m) => {
      const t = Number(m.subject.slice(inbox.length + 1));
      const at = sentAt.get(t);
      if (at === undefined) return;
      sentAt.delete(t);
      const text = m.payload.toString("latin1");
      if (m.status !== undefined || text.includes('"error"')) {
        errors++;
        firstError ??= m.status ?? text;
      } else {
        acked++;
        latency.recordMs(nowMs() - at);
      }
      if (sentAt.size <= options.inFlight >> 1) refill();
      else if (stopping && sentAt.size === 0) finish();
    };
    refill();
  }
  await Promise.all(done);
  const wallSec = (nowMs() - start) / 1000;
  const usage = sampler.stop();
  const clientCores = cpu.cores();
  const info = JSON.parse(await admin.request(`$JS.API.STREAM.INFO.${STREAM}`, ""));
  const stored = Number(info?.state?.messages ?? NaN);
  for (const c of connections) c.close();
  admin.close();
  if (firstError !== undefined) console.error(`nats: ${errors} errors, first: ${firstError}`);
  return {
    peer: "nats",
    setting,
    fsyncBeforeAck: false,
    command: `nats-server -js -sd <dir>; stream ${STREAM} storage=file; PUB bench.<i> with reply inbox, ${options.connections} connections x ${options.inFlight} in flight, ${options.durationSec} s`,
    msgsPerSec: acked / wallSec,
    mbPerSec: (acked * options.sizeBytes) / 1e6 / wallSec,
    latency: latency.summary(),
    sent,
    acked,
    stored: Number.isFinite(stored) ? stored : undefined,
    lost: Number.isFinite(stored) ? Math.max(0, acked - stored) : undefined,
    errors,
    serverCpuCores: usage.cores,
    serverRssMaxBytes: usage.rssMaxBytes,
    clientCpuCores: clientCores,
    machineBusyCores: usage.machineBusyCores ?? undefined,
    wallSec,
  };
}

if (import.meta.main) {
  console.log(JSON.stringify(await runNats({ ...NATS_DEFAULTS, durationSec: Number(process.argv[2] ?? 3) })));
}
