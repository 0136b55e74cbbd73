// The protocol fuzzer: hundreds of thousands of hostile frames against one real
// broker, from several connections at once, each frame held to an answer.
//
// Every frame has a true size prefix and a unique correlation id (set after
// mutation). A connection sends a burst, then waits until every frame that
// must be answered promptly has its answer, or the broker closed the
// connection; the deadline (`answerMs`, 15 s in the tests) is one only a
// hang would miss: how fast frames are answered is a printed figure (p50, p99,
// max), not a bar, since it swings with the machine's load. Frames exempt from
// the deadline: a Produce whose acks field reads 0 (never answered by design), and
// those that may legitimately park: Fetch (long-poll, up to its maxWaitMs),
// JoinGroup and SyncGroup (wait for the rebalance).
// Each response must carry a correlation id the connection sent and has not had
// answered yet, and a body that starts with an error code.
// Between bursts the broker's RSS is sampled (/proc), and at the end its output
// is searched for uncaught exceptions or unhandled rejections.
//
// A second part sends the frames no parser may allocate from: size prefixes of
// 2^31-1, 2^32-1, FRAME_BYTES_MAX+1 and below the header, each on its own
// connection: answered with an error and closed, or just closed, within the deadline.
//
// Throughout the fuzzing a well-behaved admin connection asks for the topic's
// metadata, one request after another: each must be answered, correctly, within
// the deadline, and there must be some (the count is printed).

import net from "node:net";
import { readI16, readU16 } from "../../../protocol/big_endian.ts";
import { FrameParser, readResponseCorrelationId, responseBody } from "../../../protocol/frame.ts";
import { FRAME_BYTES_MAX } from "../../../protocol/limits.ts";
import { type BrokerProcess, startBroker } from "../../support/broker.ts";
import { RawClient, produceBody } from "../../support/raw_client.ts";
import { encodeBatch } from "../../../protocol/record_batch.ts";
import { rssMiB } from "../support/broker_ops.ts";
import { makeFuzzFrame, seeds } from "../support/frame_mutator.ts";
import { Rng } from "../support/rng.ts";
import { quantile } from "../support/workload.ts";

export interface FuzzOptions {
  frames: number;
  seed: number;
  connections: number;
  burstMax: number;
  /** Answer deadline for a burst, ms. */
  answerMs: number;
  log?: (line: string) => void;
}

export interface FuzzFigures {
  frames: number;
  framesByKind: Record<string, number>;
  responses: number;
  errorResponses: number;
  /** Connections the broker closed (after a frame it would not answer, or on purpose). */
  brokerCloses: number;
  /** Frames that had to be answered within the deadline and were not (connection still open). */
  unanswered: { origin: string; hex: string }[];
  /** Responses with a correlation id never sent, or without an error code. */
  badResponses: string[];
  /** Frames answered more than once (a protocol violation: a client may pair the extra answer with a later request). */
  duplicateAnswers: number;
  duplicateAnswerExamples: string[];
  answerMs: { p50: number; p99: number; max: number };
  /** The frame that waited longest for its answer, and what it was made from. */
  slowestAnswer: { ms: number; origin: string };
  rssMiB: { start: number; max: number; end: number };
  sizePrefixAttacks: { size: number; outcome: string; ms: number }[];
  /** Groups, topics and partitions that exist at the end (created by valid or mutated-but-valid frames). */
  stateCreated: { groups: number; topics: number; partitions: number };
  /** Lines of /metrics at the end: label sets must not grow with hostile input. */
  metricsLines: number;
  /** The router's JS heap in use at the end, and full collections the memory governor forced (what RSS is made of). */
  jsHeapUsedMiB: number;
  gcForced: number;
  /** Broker RSS after the size-prefix attacks minus before them. */
  sizeAttackRssDeltaMiB: number;
  /** The well-behaved admin connection's Metadata requests while the fuzzing ran. */
  admin: { answered: number; failures: string[]; answerMs: { p50: number; p99: number; max: number } };
  brokerAlive: boolean;
  brokerComplaints: string[];
  framesPerSec: number;
  elapsedMs: number;
}

const TOPIC = "fz";
/** Pause between two of the admin client's requests. */
const ADMIN_PAUSE_MS = 20;
/** Unanswered frames kept as examples; reaching it ends the run (the test fails on the first). */
const UNANSWERED_EXAMPLES_MAX = 20;

/** One connection: sends frames, matches answers by correlation id. */
class FuzzConnection {
  readonly socket: net.Socket;
  closed = false;
  readonly pending = new Map<number, { origin: string; bytes: Uint8Array; sentAt: number; prompt: boolean }>();
  /** Frames already answered, kept to tell a second answer from a stray one. */
  private readonly answered = new Map<number, string>();
  private readonly parser: FrameParser;
  private wake: (() => void) | null = null;

  constructor(
    socket: net.Socket,
    private readonly figures: FuzzFigures,
    private readonly latencies: number[],
  ) {
    this.socket = socket;
    this.parser = new FrameParser({
      kind: "response",
      onFrame: (f) => this.answer(f),
      onError: (e) => {
        figures.badResponses.push(`unparseable response stream: ${e.message}`);
        socket.destroy();
      },
    });
    socket.on("data", (chunk: Buffer) => this.parser.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    socket.on("close", () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on("error", () => {});
  }

  static open(port: number, figures: FuzzFigures, latencies: number[]): Promise<FuzzConnection> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: "127.0.0.1" });
      s.setNoDelay(true);
      s.once("connect", () => resolve(new FuzzConnection(s, figures, latencies)));
      s.once("error", reject);
    });
  }

  private answer(frame: Uint8Array): void {
    const id = readResponseCorrelationId(frame);
    const p = this.pending.get(id);
    if (p === undefined) {
      const first = this.answered.get(id);
      if (first !== undefined) {
        this.figures.duplicateAnswers++;
        if (this.figures.duplicateAnswerExamples.length < 5) this.figures.duplicateAnswerExamples.push(`correlation id ${id}: ${first}`);
      } else if (this.figures.badResponses.length < 20) {
        this.figures.badResponses.push(`response to correlation id ${id}, which was never sent`);
      }
      return;
    }
    this.pending.delete(id);
    if (this.answered.size > 10_000) this.answered.clear();
    this.answered.set(id, `${p.origin} frame ${Buffer.from(p.bytes.subarray(0, 64)).toString("hex")}`);
    this.figures.responses++;
    const body = responseBody(frame);
    if (body.length < 2) {
      if (this.figures.badResponses.length < 20) this.figures.badResponses.push(`response ${id} without an error code (${body.length} bytes)`);
    } else if (readI16(body, 0) !== 0) {
      this.figures.errorResponses++;
    }
    if (p.prompt) {
      const ms = performance.now() - p.sentAt;
      this.latencies.push(ms);
      if (ms > this.figures.slowestAnswer.ms) this.figures.slowestAnswer = { ms: Math.round(ms), origin: p.origin };
    }
    this.wake?.();
  }

  /** Waits until no prompt frame is outstanding, the connection closed, or the deadline passed. */
  async settle(deadlineMs: number): Promise<void> {
    for (;;) {
      if (this.closed) return;
      let prompt = false;
      for (const p of this.pending.values()) if (p.prompt) prompt = true;
      if (!prompt) return;
      const left = deadlineMs - performance.now();
      if (left <= 0) return;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = null;
    }
  }
}

/** Must this frame be answered within the deadline? */
function mustAnswerPromptly(bytes: Uint8Array): boolean {
  const apiKey = readU16(bytes, 4);
  const apiVersion = readU16(bytes, 6);
  if (apiVersion !== 0) return true; // UNSUPPORTED_VERSION at once
  if (apiKey === 1 || apiKey === 11 || apiKey === 14) return false; // may park
  if (apiKey === 0 && bytes.length >= 14 && readI16(bytes, 12) === 0) return false; // acks=0: no answer by design
  return true;
}

export async function runFuzz(opts: FuzzOptions): Promise<FuzzFigures> {
  const started = performance.now();
  const log = opts.log ?? (() => {});
  const figures: FuzzFigures = {
    frames: 0,
    framesByKind: {},
    responses: 0,
    errorResponses: 0,
    brokerCloses: 0,
    unanswered: [],
    badResponses: [],
    duplicateAnswers: 0,
    duplicateAnswerExamples: [],
    answerMs: { p50: 0, p99: 0, max: 0 },
    slowestAnswer: { ms: 0, origin: "" },
    rssMiB: { start: 0, max: 0, end: 0 },
    sizePrefixAttacks: [],
    sizeAttackRssDeltaMiB: 0,
    stateCreated: { groups: 0, topics: 0, partitions: 0 },
    metricsLines: 0,
    jsHeapUsedMiB: 0,
    gcForced: 0,
    admin: { answered: 0, failures: [], answerMs: { p50: 0, p99: 0, max: 0 } },
    brokerAlive: false,
    brokerComplaints: [],
    framesPerSec: 0,
    elapsedMs: 0,
  };
  const latencies: number[] = [];
  // Auto-create off (mutated names must not become topics); a short request
  // timeout so frames whose bytes never complete are cut quickly.
  const broker: BrokerProcess = await startBroker({
    args: ["--workers", "2", "--auto-create-topics", "false", "--request-timeout-ms", "2000"],
  });
  try {
    const admin = await RawClient.connect(broker.port);
    await admin.control(19, { topics: [{ name: TOPIC, partitions: 2 }] });
    for (let p = 0; p < 2; p++) {
      await admin.request(0, produceBody({ topic: TOPIC, acks: -1, partitions: [{ index: p, records: encodeBatch([{ value: "seed" }]) }] }));
    }
    admin.close();
    const corpus = seeds(TOPIC, 2);
    figures.rssMiB.start = rssMiB(broker.pid);
    figures.rssMiB.max = figures.rssMiB.start;
    let nextReport = 0;

    const worker = async (w: number): Promise<void> => {
      const rng = new Rng(opts.seed * 7919 + w);
      let correlationId = 1;
      let conn: FuzzConnection | null = null;
      // A hang stops the run after a few examples: each would cost a whole deadline.
      while (figures.frames < opts.frames && figures.unanswered.length < UNANSWERED_EXAMPLES_MAX) {
        if (conn === null || conn.closed) {
          if (conn !== null) figures.brokerCloses++;
          conn = await FuzzConnection.open(broker.port, figures, latencies);
        }
        const n = rng.between(1, opts.burstMax);
        const parts: Uint8Array[] = [];
        const sentAt = performance.now();
        for (let i = 0; i < n; i++) {
          const f = makeFuzzFrame(corpus, rng);
          const id = correlationId++ & 0x7fffffff;
          new DataView(f.bytes.buffer, f.bytes.byteOffset).setUint32(8, id);
          conn.pending.set(id, { origin: f.origin, bytes: f.bytes, sentAt, prompt: mustAnswerPromptly(f.bytes) });
          const kind = f.origin.split(":")[1] ?? f.origin;
          figures.framesByKind[kind] = (figures.framesByKind[kind] ?? 0) + 1;
          parts.push(f.bytes);
        }
        figures.frames += n;
        conn.socket.write(Buffer.concat(parts));
        await conn.settle(sentAt + opts.answerMs);
        if (!conn.closed) {
          for (const [id, p] of conn.pending) {
            if (!p.prompt) continue;
            if (figures.unanswered.length < UNANSWERED_EXAMPLES_MAX) {
              figures.unanswered.push({ origin: p.origin, hex: Buffer.from(p.bytes.subarray(0, 64)).toString("hex") });
            }
            conn.pending.delete(id);
          }
          // Parked frames are forgotten once the connection is replaced; keep a connection's backlog small.
          if (conn.pending.size > 200) {
            conn.socket.destroy();
            conn.closed = true;
            conn = null;
          }
        }
        if (w === 0 && figures.frames >= nextReport) {
          const rss = rssMiB(broker.pid);
          if (rss > figures.rssMiB.max) figures.rssMiB.max = rss;
          nextReport += 10_000;
          log(`fuzz: ${figures.frames} frames, ${figures.responses} answers, rss ${rss} MiB`);
        }
      }
      conn?.socket.destroy();
    };
    // A well-behaved admin client asks for metadata while the frames flow.
    let fuzzing = true;
    const adminMs: number[] = [];
    const adminLoop = async (): Promise<void> => {
      const c = await RawClient.connect(broker.port);
      try {
        while (fuzzing) {
          const t0 = performance.now();
          const reply = await c
            .control(3, { topics: [TOPIC] }, { timeoutMs: opts.answerMs })
            .catch((e: Error) => ({ errorCode: -1, message: e.message }));
          // The topic named, with or without an error: the fuzzed frames include valid
          // DeleteTopics and CreateTopics, so whether it exists right now is theirs to decide.
          const topics = (reply as { topics?: { name: string }[] }).topics;
          if (topics?.length === 1 && topics[0].name === TOPIC) {
            figures.admin.answered++;
            adminMs.push(performance.now() - t0);
          } else {
            if (figures.admin.failures.length < 5) figures.admin.failures.push(JSON.stringify(reply).slice(0, 200));
            if ("errorCode" in reply && reply.errorCode === -1) return; // the connection is no use any more
          }
          // Paced, so the admin client is a bystander and not a second load generator.
          await Bun.sleep(ADMIN_PAUSE_MS);
        }
      } finally {
        c.close();
      }
    };
    const admining = adminLoop();
    await Promise.all(Array.from({ length: opts.connections }, (_, w) => worker(w)));
    fuzzing = false;
    await admining;
    figures.admin.answerMs = {
      p50: Math.round(quantile(adminMs, 0.5) * 10) / 10,
      p99: Math.round(quantile(adminMs, 0.99) * 10) / 10,
      max: Math.round(adminMs.reduce((m, x) => (x > m ? x : m), 0)),
    };

    // Size prefixes nothing may be allocated from (RSS is read before and after: a
    // 2 GiB allocation, even untouched, would show in the broker's page tables and heap).
    const rssBeforeAttacks = rssMiB(broker.pid);
    for (const size of [0x7fffffff, 0xffffffff, FRAME_BYTES_MAX + 1, 0, 7]) {
      const c = await RawClient.connect(broker.port);
      const t0 = performance.now();
      const head = new Uint8Array(12);
      const v = new DataView(head.buffer);
      v.setUint32(0, size);
      v.setUint16(4, 18);
      v.setUint32(8, 4242);
      c.send(head);
      const answered = c.response(4242, opts.answerMs).then(
        (r) => `error ${readI16(r.body, 0)}`,
        () => "no answer",
      );
      const closed = await Promise.race([c.closed.then(() => true), Bun.sleep(opts.answerMs).then(() => false)]);
      const outcome = `${await answered}${closed ? ", closed" : ", still open"}`;
      figures.sizePrefixAttacks.push({ size, outcome, ms: Math.round(performance.now() - t0) });
      c.close();
    }

    figures.rssMiB.end = rssMiB(broker.pid);
    figures.sizeAttackRssDeltaMiB = figures.rssMiB.end - rssBeforeAttacks;
    figures.rssMiB.max = Math.max(figures.rssMiB.max, figures.rssMiB.end);
    // Still serving: a good request on a fresh connection.
    const good = await RawClient.connect(broker.port);
    const res = await good.request(0, produceBody({ topic: TOPIC, acks: -1, partitions: [{ index: 0, records: encodeBatch([{ value: "after" }]) }] }));
    figures.brokerAlive = readI16(res.body, 0) === 0 && broker.proc.exitCode === null;
    // State the frames legitimately created (groups, committed offsets, topics): what RSS growth is made of.
    const groups = (await good.control(16, {})) as { groups?: unknown[] };
    const topics = (await good.control(3, { topics: null })) as { topics?: { partitions: unknown[] }[] };
    const metricsText = await (await fetch(`http://127.0.0.1:${broker.httpPort}/metrics`)).text();
    figures.metricsLines = metricsText.split("\n").length;
    const gauge = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(metricsText)?.[1] ?? NaN);
    figures.jsHeapUsedMiB = Math.round(gauge("sluice_js_heap_used_bytes") / 2 ** 20);
    figures.gcForced = gauge("sluice_gc_forced_total");
    figures.stateCreated = {
      groups: groups.groups?.length ?? -1,
      topics: topics.topics?.length ?? -1,
      partitions: topics.topics?.reduce((n, t) => n + t.partitions.length, 0) ?? -1,
    };
    good.close();
    for (const line of broker.output().split("\n")) {
      if (/uncaught|unhandled|panic|assertion/i.test(line)) figures.brokerComplaints.push(line.slice(0, 300));
    }
  } finally {
    const code = await broker.stop();
    if (code !== 0) figures.brokerComplaints.push(`exit code ${code} on SIGTERM`);
  }
  figures.answerMs = {
    p50: Math.round(quantile(latencies, 0.5) * 10) / 10,
    p99: Math.round(quantile(latencies, 0.99) * 10) / 10,
    max: Math.round(latencies.reduce((m, x) => (x > m ? x : m), 0)),
  };
  figures.elapsedMs = Math.round(performance.now() - started);
  figures.framesPerSec = Math.round(figures.frames / (figures.elapsedMs / 1000));
  return figures;
}
