// A steady produce load on a cluster topic and its read-back, shared by the
// cluster process tests (rolling restart, preferred leaders, moves): an
// idempotent acks=all producer sends unique values round the partitions,
// keeping at most `sendsInFlight` unanswered, and records every send, ack and
// failure in a History for the queue checker (test/checker); readBack() then
// reads every partition from the beginning to its end into the same history
// as consumer "reader", so the checker can tell acked-and-lost from
// duplicated. What differs between tests is an option, not a copy.

import { expect } from "bun:test";
import { Consumer, Producer } from "../../client/mod.ts";
import { History, partitionKey } from "../checker/history.ts";
import { waitFor } from "./wait_for.ts";

const decoder = new TextDecoder();
let loads = 0;

export interface AckedLoadOptions {
  /** Bootstrap brokers, "host:port,host:port". */
  readonly broker: string;
  readonly topic: string;
  readonly partitions: number;
  readonly sendsInFlight: number;
  /**
   * First about `bytes` of 16 KiB records into each of `partitions` (this
   * producer alone: a follower's fetch then holds one producer's batches),
   * then small records round the partitions; `preloaded` resolves once acked.
   */
  readonly preload?: { partitions: number[]; bytes: number };
  /** Called when waiting for acks times out, before the error is thrown (a test's diagnostics). */
  readonly onStall?: (what: string) => void;
}

export class AckedLoad {
  readonly history = new History();
  readonly producer: Producer;
  readonly errors: string[] = [];
  /** Each ack's time and latency (ms since the send). */
  readonly latencies: { at: number; ms: number }[] = [];
  acked = 0;
  sent = 0;
  /** Longest time without an ack while the load ran (ms). */
  longestAckGapMs = 0;
  /** This load's values start with it: a topic written by several loads is read back for one load's values only. */
  readonly tag = `L${++loads}-`;
  readonly preloaded: Promise<void>;
  readonly topic: string;
  readonly #o: AckedLoadOptions;
  #preloaded: () => void = () => {};
  #lastAckAt = performance.now();
  #stopped = false;
  readonly #running: Promise<void>;

  constructor(options: AckedLoadOptions) {
    this.#o = options;
    this.topic = options.topic;
    // The client's own ack and request timeouts; a short connect timeout so a stopped broker's link gives up quickly.
    this.producer = new Producer({ broker: options.broker, acks: "all", idempotent: true, connectTimeoutMs: 500, lingerMs: 2 });
    this.preloaded = new Promise<void>((resolve) => (this.#preloaded = resolve));
    if (options.preload === undefined) this.#preloaded();
    this.#running = this.#run();
  }

  async #run(): Promise<void> {
    const o = this.#o;
    const pending = new Set<Promise<void>>();
    const big = "y".repeat(16 * 1024);
    const preloadSends = o.preload === undefined ? 0 : Math.ceil(o.preload.bytes / big.length) * o.preload.partitions.length;
    while (!this.#stopped) {
      if (pending.size >= o.sendsInFlight) {
        await Promise.race(pending);
        continue;
      }
      const i = this.sent++;
      if (o.preload !== undefined && i === preloadSends) {
        await Promise.all(pending);
        this.#preloaded();
      }
      const partition = i < preloadSends ? o.preload!.partitions[i % o.preload!.partitions.length] : i % o.partitions;
      const value = `${this.tag}${i}`;
      const where = partitionKey(this.topic, partition);
      this.history.send("producer", where, value);
      const t0 = performance.now();
      const done = this.producer.send(this.topic, { partition, value: i < preloadSends ? `${value}|${big}` : value }).then(
        (r) => {
          const now = performance.now();
          this.latencies.push({ at: now, ms: now - t0 });
          this.longestAckGapMs = Math.max(this.longestAckGapMs, now - this.#lastAckAt);
          this.#lastAckAt = now;
          this.acked++;
          this.history.ack("producer", where, value, Number(r.offset));
        },
        (e) => {
          this.errors.push(`${value}: ${(e as Error)?.message ?? e}`);
          this.history.fail("producer", where, value, false);
        },
      );
      const tracked = done.finally(() => pending.delete(tracked));
      pending.add(tracked);
    }
    await Promise.all(pending);
  }

  /** Waits until `n` more sends are acknowledged (the load flows), and that none failed. */
  async flowing(n: number, what: string): Promise<void> {
    const target = this.acked + n;
    try {
      await waitFor(() => this.acked >= target || this.errors.length > 0, { timeoutMs: 30_000, everyMs: 10, what });
    } catch (e) {
      this.#o.onStall?.(`${what}: acked ${this.acked}, sent ${this.sent}`);
      throw e;
    }
    expect(this.errors).toEqual([]);
  }

  /** The p99 produce latency (ms) of the acks between two instants (performance.now()). */
  p99(from: number, to: number): { p99: number; n: number } {
    const l = this.latencies
      .filter((x) => x.at >= from && x.at <= to)
      .map((x) => x.ms)
      .sort((a, b) => a - b);
    return { p99: l.length === 0 ? NaN : l[Math.min(l.length - 1, Math.floor(l.length * 0.99))], n: l.length };
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running;
    await this.producer.close({ timeoutMs: 5_000 });
  }
}

/**
 * Reads every partition of `topic` from the beginning to its end (past its
 * high watermark and past every offset `history` saw acked: the load has
 * stopped) into `history` as consumer "reader". With `tag`, only values that
 * start with it are taken (a topic several loads wrote). The fetches go to
 * each partition's leader. Returns the records taken.
 */
export async function readBack(o: { broker: string; topic: string; partitions: number; history: History; tag?: string }): Promise<number> {
  const { topic, history } = o;
  const ackedEnd = new Map<number, number>();
  for (const e of history.events) {
    if (e.kind === "ack") {
      const p = Number(e.partition.slice(e.partition.lastIndexOf("/") + 1));
      ackedEnd.set(p, Math.max(ackedEnd.get(p) ?? 0, e.offset + 1));
    }
  }
  const consumer = new Consumer({ broker: o.broker, fetchMaxWaitMs: 100 });
  try {
    consumer.assign(Array.from({ length: o.partitions }, (_, partition) => ({ topic, partition, position: "beginning" as const })));
    for (let p = 0; p < o.partitions; p++) history.seek("reader", partitionKey(topic, p), 0);
    let read = 0;
    await waitFor(
      async () => {
        const byPartition = new Map<number, { offset: number; value: string }[]>();
        for (const r of await consumer.poll({ maxWaitMs: 200 })) {
          const value = r.value === null ? "" : decoder.decode(r.value).split("|")[0];
          if (o.tag !== undefined && !value.startsWith(o.tag)) continue;
          const list = byPartition.get(r.partition) ?? [];
          list.push({ offset: Number(r.offset), value });
          byPartition.set(r.partition, list);
          read++;
        }
        for (const [p, records] of byPartition) history.poll("reader", partitionKey(topic, p), records);
        for (let partition = 0; partition < o.partitions; partition++) {
          const at = consumer.position({ topic, partition });
          const hw = consumer.highWatermark({ topic, partition });
          if (at === undefined || hw < 0n || at < hw || at < BigInt(ackedEnd.get(partition) ?? 0)) return false;
        }
        return true;
      },
      { timeoutMs: 60_000, everyMs: 1, what: `${topic} read back to its end` },
    );
    for (let partition = 0; partition < o.partitions; partition++) history.watermark(partitionKey(topic, partition), Number(consumer.highWatermark({ topic, partition })));
    return read;
  } finally {
    await consumer.close();
  }
}
