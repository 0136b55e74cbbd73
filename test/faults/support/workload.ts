// Producers and consumers for the broker fault tests, written over raw frames
// so that what the history records is exactly what went over the wire: one
// send per value, one ack per value at base offset + its index, no retries
// (a retry would turn a lost ack into a duplicate the checker must then
// excuse). Every outcome goes into a History for the queue checker.

import { ErrorCode, isRetriable } from "../../../protocol/errors.ts";
import { decodeFetchResponse } from "../../../protocol/messages/fetch.ts";
import { decodeProduceResponse } from "../../../protocol/messages/produce.ts";
import { decodeBatches, encodeBatch } from "../../../protocol/record_batch.ts";
import { type History, partitionKey } from "../../checker/history.ts";
import { RawClient, fetchBody, produceBody } from "../../support/raw_client.ts";
import type { Rng } from "./rng.ts";

const decoder = new TextDecoder();

/** A producer error the broker answers only when it stored nothing of the partition's records. */
export function isDefiniteFailure(code: number): boolean {
  return (
    code === ErrorCode.CORRUPT_MESSAGE ||
    code === ErrorCode.INVALID_RECORD ||
    code === ErrorCode.MESSAGE_TOO_LARGE ||
    code === ErrorCode.RECORD_LIST_TOO_LARGE ||
    code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION ||
    code === ErrorCode.INVALID_REQUIRED_ACKS
  );
}

export interface ProducerOptions {
  port: number;
  topic: string;
  partitions: readonly number[];
  /** Name in the history; a value's producer is `${name}` and each partition is its own order. */
  name: string;
  history: History;
  rng: Rng;
  acks?: number;
  /** Produce requests in flight at once (pipelining depth). */
  inflightMax?: number;
  recordsPerBatchMax?: number;
  /** Padding per value, so batches have some size. */
  valueBytes?: number;
  /** Broker-side wait for acks=all (the request's TimeoutMs). */
  timeoutMs?: number;
  /** Client-side wait for any response before the request is counted as failed (indeterminate). */
  responseWaitMs?: number;
}

export interface ProducerStats {
  requests: number;
  acked: number;
  failedDefinite: number;
  failedIndeterminate: number;
  /** Error codes seen in partition results, with counts. */
  errors: Map<number, number>;
  /** Response latency of each acked request, ms. */
  latenciesMs: number[];
}

/**
 * Sends produce requests pipelined on one connection until stop() or the
 * connection closes. Each request carries one batch for one partition
 * (round robin), so order per partition per connection is the send order.
 */
export class PipelinedProducer {
  readonly stats: ProducerStats = { requests: 0, acked: 0, failedDefinite: 0, failedIndeterminate: 0, errors: new Map(), latenciesMs: [] };
  private client: RawClient | null = null;
  private stopping = false;
  private seq = 0;
  private readonly opts: Required<ProducerOptions>;
  private readonly pad: string;
  private done: Promise<void> = Promise.resolve();

  constructor(opts: ProducerOptions) {
    this.opts = {
      acks: -1,
      inflightMax: 16,
      recordsPerBatchMax: 20,
      valueBytes: 40,
      timeoutMs: 10_000,
      responseWaitMs: 15_000,
      ...opts,
    };
    this.pad = "p".repeat(this.opts.valueBytes);
  }

  async start(): Promise<void> {
    this.client = await RawClient.connect(this.opts.port);
    this.done = this.loop(this.client);
  }

  /** Stops sending; resolves when every request in flight has an outcome. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.done;
    this.client?.close();
  }

  /** Resolves when the loop ended (stop() or the connection closed). */
  get finished(): Promise<void> {
    return this.done;
  }

  private async loop(c: RawClient): Promise<void> {
    const o = this.opts;
    const inflight = new Set<Promise<void>>();
    let p = 0;
    while (!this.stopping && !c.isClosed) {
      if (inflight.size >= o.inflightMax) {
        await Promise.race(inflight);
        continue;
      }
      const partition = o.partitions[p++ % o.partitions.length];
      const key = partitionKey(o.topic, partition);
      const count = o.rng.between(1, o.recordsPerBatchMax);
      const values: string[] = [];
      for (let i = 0; i < count; i++) values.push(`${o.name}-${this.seq++}-${this.pad}`);
      const body = produceBody({
        topic: o.topic,
        acks: o.acks,
        timeoutMs: o.timeoutMs,
        partitions: [{ index: partition, records: encodeBatch(values.map((value) => ({ value }))) }],
      });
      for (const v of values) o.history.send(o.name, key, v);
      this.stats.requests++;
      const sentAt = performance.now();
      let id: number;
      try {
        id = c.sendRequest(0, body);
      } catch {
        for (const v of values) o.history.fail(o.name, key, v, false);
        this.stats.failedIndeterminate += values.length;
        break;
      }
      if (o.acks === 0) {
        for (const v of values) o.history.fail(o.name, key, v, false); // no answer by design: outcome unknown
        continue;
      }
      const settle = c.response(id, o.responseWaitMs).then(
        (res) => {
          let code: number;
          let base = -1;
          try {
            const r = decodeProduceResponse(res.body).topics[0].partitions[0];
            code = r.errorCode;
            base = Number(r.baseOffset);
          } catch (e) {
            code = (e as { code?: number }).code ?? ErrorCode.UNKNOWN_SERVER_ERROR;
          }
          if (code === ErrorCode.NONE) {
            for (let i = 0; i < values.length; i++) o.history.ack(o.name, key, values[i], base + i);
            this.stats.acked += values.length;
            this.stats.latenciesMs.push(performance.now() - sentAt);
          } else {
            this.stats.errors.set(code, (this.stats.errors.get(code) ?? 0) + 1);
            const definite = isDefiniteFailure(code);
            for (const v of values) o.history.fail(o.name, key, v, definite);
            if (definite) this.stats.failedDefinite += values.length;
            else this.stats.failedIndeterminate += values.length;
          }
        },
        () => {
          for (const v of values) o.history.fail(o.name, key, v, false);
          this.stats.failedIndeterminate += values.length;
        },
      );
      const tracked: Promise<void> = settle.finally(() => inflight.delete(tracked));
      inflight.add(tracked);
    }
    await Promise.all(inflight);
  }
}

export interface ConsumerOptions {
  port: number;
  topic: string;
  partition: number;
  name: string;
  history: History;
  /** Where to start; recorded as a seek. */
  position: number;
  maxWaitMs?: number;
  maxBytes?: number;
}

/** Long-polls one partition from a position until stop() or the connection closes. */
export class PollingConsumer {
  position: number;
  /** Fetch errors by code (OFFSET_OUT_OF_RANGE after a restart means read data vanished). */
  readonly errors = new Map<number, number>();
  records = 0;
  private client: RawClient | null = null;
  private stopping = false;
  private done: Promise<void> = Promise.resolve();
  private readonly opts: ConsumerOptions;

  constructor(opts: ConsumerOptions) {
    this.opts = opts;
    this.position = opts.position;
  }

  async start(): Promise<void> {
    this.client = await RawClient.connect(this.opts.port);
    this.opts.history.seek(this.opts.name, partitionKey(this.opts.topic, this.opts.partition), this.position);
    this.done = this.loop(this.client);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.done;
    this.client?.close();
  }

  private async loop(c: RawClient): Promise<void> {
    const o = this.opts;
    const key = partitionKey(o.topic, o.partition);
    while (!this.stopping && !c.isClosed) {
      let res;
      try {
        res = await c.request(
          1,
          fetchBody({
            topic: o.topic,
            maxWaitMs: o.maxWaitMs ?? 100,
            minBytes: 1,
            maxBytes: o.maxBytes ?? 1024 * 1024,
            partitions: [{ index: o.partition, offset: this.position, maxBytes: o.maxBytes ?? 1024 * 1024 }],
          }),
          { timeoutMs: 10_000 },
        );
      } catch {
        return; // connection closed (the broker was killed) or no answer
      }
      const r = decodeFetchResponse(res.body).topics[0].partitions[0];
      if (r.errorCode !== ErrorCode.NONE) {
        this.errors.set(r.errorCode, (this.errors.get(r.errorCode) ?? 0) + 1);
        if (!isRetriable(r.errorCode)) return;
        await Bun.sleep(20); // a retriable error (partition loading): back off, then ask again
        continue;
      }
      o.history.watermark(key, Number(r.highWatermark), Number(r.logStartOffset));
      const got = recordsFrom(r.records, this.position);
      if (got.length > 0) {
        o.history.poll(o.name, key, got);
        this.position = got[got.length - 1].offset + 1;
        this.records += got.length;
      }
    }
  }
}

/** The records of whole batches at or after `from`, as (offset, value). */
export function recordsFrom(bytes: Uint8Array, from: number): { offset: number; value: string }[] {
  const out: { offset: number; value: string }[] = [];
  for (const b of decodeBatches(bytes)) {
    for (const r of b.records) {
      const offset = Number(r.offset);
      if (offset >= from) out.push({ offset, value: r.value === null ? "<null>" : decoder.decode(r.value) });
    }
  }
  return out;
}

/**
 * Reads a partition from `from` up to its high watermark as one consumer,
 * recording seeks, polls and the watermark. Returns the high watermark.
 */
export async function drainPartition(opts: {
  client: RawClient;
  topic: string;
  partition: number;
  name: string;
  history: History;
  from?: number;
}): Promise<{ highWatermark: number; records: number }> {
  const key = partitionKey(opts.topic, opts.partition);
  let offset = opts.from ?? 0;
  let records = 0;
  opts.history.seek(opts.name, key, offset);
  for (;;) {
    const res = await opts.client.request(1, fetchBody({ topic: opts.topic, maxBytes: 4 * 1024 * 1024, partitions: [{ index: opts.partition, offset }] }));
    const r = decodeFetchResponse(res.body).topics[0].partitions[0];
    if (r.errorCode !== ErrorCode.NONE) throw new Error(`drain ${key} at ${offset}: error ${r.errorCode}`);
    const hw = Number(r.highWatermark);
    opts.history.watermark(key, hw, Number(r.logStartOffset));
    const got = recordsFrom(r.records, offset);
    if (got.length > 0) {
      opts.history.poll(opts.name, key, got);
      offset = got[got.length - 1].offset + 1;
      records += got.length;
    }
    if (offset >= hw) return { highWatermark: hw, records };
    if (got.length === 0) throw new Error(`drain ${key}: no records at ${offset} below the high watermark ${hw}`);
  }
}

/** p-quantile of a list of numbers (sorts a copy). */
export function quantile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = values.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}
