// A deliberately small native-protocol client for the load generator, built
// on the protocol codecs alone. It is the baseline that tells client cost from
// broker cost: `sluice bench --client raw` runs the same load without the
// client library, so a gap between the two runs is the library's, and what is
// left is the broker's.
//
// Producer: one connection; one open RecordBatch per partition; batches are
// sealed at `batchBytes` (0 = one message per batch and per request) and, once
// per event-loop turn (or after `lingerMs`), every sealed and open batch goes
// out in one Produce request per partition-set; frames written in a turn go
// out in one socket write. At most IN_FLIGHT_REQUESTS_MAX requests await
// their answer; past that, send() returns a promise to wait on.
// Consumer: one connection, one Fetch at a time for all its partitions.

import { decode, encode } from "@msgpack/msgpack";
import { ApiKey } from "../../protocol/api_keys.ts";
import { Writer } from "../../protocol/codec.ts";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import { beginRequestFrame, endFrame, FrameParser } from "../../protocol/frame.ts";
import { readI16, readU32 } from "../../protocol/big_endian.ts";
import { RESPONSE_HEADER_BYTES } from "../../protocol/limits.ts";
import { decodeFetchResponse, writeFetchRequest } from "../../protocol/messages/fetch.ts";
import { decodeProduceResponse, writeProduceRequest } from "../../protocol/messages/produce.ts";
import { decodeResponseEnvelope } from "../../protocol/messages/response.ts";
import { BatchBuilder, forEachRecord } from "../../protocol/record_batch.ts";
import { defaultTransport, type TransportSocket } from "../../runtime/mod.ts";
import type {
  AckCallback,
  LoadAdmin,
  LoadConsumer,
  LoadConsumerOptions,
  LoadMessage,
  LoadProducer,
  LoadProducerOptions,
  LoadRecord,
  LoadTarget,
  LoadTopicSpec,
} from "./load_client.ts";

/** Requests awaiting an answer on one producer connection before send() makes the caller wait. */
const IN_FLIGHT_REQUESTS_MAX = 64;
/**
 * Requests in flight with one message per request, over all of a run's
 * producers: 800, as Redis's 50 connections with pipeline 16 keep outstanding
 * (bench/peers/redis.ts), so the peers table compares the same concurrency.
 */
export const UNBATCHED_IN_FLIGHT_TOTAL = 800;

/** Each producer's share of UNBATCHED_IN_FLIGHT_TOTAL. */
export function unbatchedInFlightPerProducer(producers: number): number {
  return Math.max(1, Math.ceil(UNBATCHED_IN_FLIGHT_TOTAL / Math.max(1, producers)));
}
/** Bytes of sealed batches that trigger a request at once instead of at the end of the turn. */
const REQUEST_BYTES_TARGET = 1024 * 1024;
export const RAW_BATCH_BYTES_DEFAULT = 64 * 1024;
const PRODUCE_TIMEOUT_MS = 30_000;
const CONNECT_TIMEOUT_MS = 10_000;
const FETCH_WAIT_MS = 100;
const FETCH_PARTITION_BYTES = 1024 * 1024;
const FETCH_BYTES = 8 * 1024 * 1024;

type ResponseHandler = (body: Uint8Array | undefined, error?: Error) => void;

/**
 * Slots of the correlation-id table (a power of two, above every in-flight
 * bound here): the handler of request `id` lives at `id & (slots - 1)`, so
 * matching a response costs an array read, not a Map lookup.
 */
const HANDLER_SLOTS = 8192;
/** Handler kinds: a general response handler, or the ack of a one-partition produce. */
const KIND_FREE = 0;
const KIND_HANDLER = 1;
const KIND_PRODUCE_ONE = 2;

/** One socket, frames out (coalesced per turn), responses in, matched by correlation id. */
class RawConnection {
  private readonly socket: TransportSocket;
  private readonly kinds = new Uint8Array(HANDLER_SLOTS);
  private readonly ids = new Uint32Array(HANDLER_SLOTS);
  private readonly handlers: (ResponseHandler | AckCallback | undefined)[] = new Array(HANDLER_SLOTS).fill(undefined);
  /** Requests whose table slot was taken (a request older by HANDLER_SLOTS ids still waits): rare. */
  private readonly overflow = new Map<number, ResponseHandler>();
  private pending = 0;
  readonly out = new Writer({ initialBytes: 256 * 1024 });
  private flushScheduled = false;
  private nextCorrelationId = 1;
  private closedError: Error | undefined;
  /** Called after each chunk of responses (a producer wakes its waiters here). */
  onResponses: () => void = () => {};

  private constructor(socket: TransportSocket) {
    this.socket = socket;
    const parser = new FrameParser({
      kind: "response",
      onFrameAt: (buf, start, end) => this.onFrame(buf, start, end),
      onError: (error) => {
        this.fail(error);
        socket.close();
      },
    });
    socket.onData((chunk) => {
      parser.push(chunk);
      this.onResponses();
    });
    socket.onClose(() => this.fail(new SluiceError(ErrorCode.NETWORK_EXCEPTION, "connection closed")));
  }

  static async open(target: LoadTarget): Promise<RawConnection> {
    const socket = await defaultTransport().connect({ host: target.host, port: target.port, connectTimeoutMs: CONNECT_TIMEOUT_MS });
    return new RawConnection(socket);
  }

  get inFlight(): number {
    return this.pending;
  }

  /** One response frame, `buf[start, end)` (correlation id + body). */
  private onFrame(buf: Uint8Array, start: number, end: number): void {
    const id = readU32(buf, start);
    const at = id & (HANDLER_SLOTS - 1);
    const kind = this.kinds[at];
    const bodyStart = start + RESPONSE_HEADER_BYTES;
    if (kind === KIND_FREE || this.ids[at] !== id) {
      const handler = this.overflow.get(id);
      if (handler === undefined) return;
      this.overflow.delete(id);
      this.pending--;
      handler(buf.subarray(bodyStart, end));
      return;
    }
    const handler = this.handlers[at]!;
    this.kinds[at] = KIND_FREE;
    this.handlers[at] = undefined;
    this.pending--;
    if (kind === KIND_PRODUCE_ONE) (handler as AckCallback)(produceOneError(buf, bodyStart, end));
    else (handler as ResponseHandler)(buf.subarray(bodyStart, end));
  }

  private fail(error: Error): void {
    if (this.closedError !== undefined) return;
    this.closedError = error;
    for (let at = 0; at < HANDLER_SLOTS; at++) {
      const kind = this.kinds[at];
      if (kind === KIND_FREE) continue;
      const handler = this.handlers[at]!;
      this.kinds[at] = KIND_FREE;
      this.handlers[at] = undefined;
      if (kind === KIND_PRODUCE_ONE) (handler as AckCallback)(error);
      else (handler as ResponseHandler)(undefined, error);
    }
    for (const handler of this.overflow.values()) handler(undefined, error);
    this.overflow.clear();
    this.pending = 0;
    this.onResponses();
  }

  get closed(): Error | undefined {
    return this.closedError;
  }

  /** Begins a request frame in `out`; returns its start for endRequest. */
  beginRequest(apiKey: number): { start: number; correlationId: number } {
    const correlationId = this.nextCorrelationId;
    this.nextCorrelationId = (correlationId + 1) >>> 0 || 1;
    return { start: beginRequestFrame(this.out, { apiKey, apiVersion: 0, correlationId }), correlationId };
  }

  /** Ends the frame begun at `start`; `kind`/`handler` say what its response does (none: no response expected). */
  endRequest(start: number, correlationId: number, kind: number, handler: ResponseHandler | AckCallback | undefined): void {
    endFrame(this.out, start);
    if (handler !== undefined) {
      const at = correlationId & (HANDLER_SLOTS - 1);
      if (this.kinds[at] === KIND_FREE) {
        this.kinds[at] = kind;
        this.ids[at] = correlationId;
        this.handlers[at] = handler;
      } else {
        const general: ResponseHandler =
          kind === KIND_PRODUCE_ONE
            ? (body, error) => (handler as AckCallback)(error ?? (body === undefined ? undefined : produceOneErrorOfBody(body)))
            : (handler as ResponseHandler);
        this.overflow.set(correlationId, general);
      }
      this.pending++;
    }
    if (this.out.length >= REQUEST_BYTES_TARGET) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Appends one request frame; `onResponse` undefined = no response expected (acks=0). */
  request(apiKey: number, writeBody: (w: Writer) => void, onResponse: ResponseHandler | undefined): void {
    if (this.closedError !== undefined) {
      onResponse?.(undefined, this.closedError);
      return;
    }
    const { start, correlationId } = this.beginRequest(apiKey);
    writeBody(this.out);
    this.endRequest(start, correlationId, KIND_HANDLER, onResponse);
  }

  flush(): void {
    this.flushScheduled = false;
    if (this.out.length === 0) return;
    // The transport writes what the kernel takes now and copies only the rest; the in-flight bound limits how much that is.
    this.socket.write(this.out.finish());
    this.out.reset();
  }

  control(apiKey: number, value: unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const body = encode(value, { ignoreUndefined: true });
      this.request(apiKey, (w) => w.writeRaw(body), (response, error) => {
        if (error !== undefined || response === undefined) return reject(error);
        const envelope = decodeResponseEnvelope(response);
        if (envelope.errorCode !== 0) return reject(new SluiceError(envelope.errorCode, (envelope as { message: string }).message));
        resolve(decode((envelope as { body: Uint8Array }).body));
      });
    });
  }

  close(): void {
    this.flush();
    this.socket.close();
  }
}

/**
 * The outcome of a one-topic, one-partition Produce response body
 * `buf[start, end)`: undefined when it succeeded, else the error. Reads the two
 * error codes in place (the request's and the partition's) instead of decoding
 * the whole response.
 */
function produceOneError(buf: Uint8Array, start: number, end: number): SluiceError | undefined {
  if (end - start >= 8 && readI16(buf, start) === ErrorCode.NONE) {
    // ok prefix (2), topic count (4), topic name (2 + n), partition count (4), index (4), error code (2), three i64.
    const nameBytes = readI16(buf, start + 6);
    const at = start + 2 + 4 + 2 + nameBytes + 4 + 4;
    if (nameBytes >= 0 && end === at + 2 + 24) {
      const code = readI16(buf, at);
      return code === ErrorCode.NONE ? undefined : new SluiceError(code);
    }
  }
  return produceOneErrorOfBody(buf.subarray(start, end));
}

/** The same from a response body decoded in full (a request-level error, another shape, an overflow handler). */
function produceOneErrorOfBody(body: Uint8Array): SluiceError | undefined {
  try {
    const response = decodeProduceResponse(body);
    const p = response.topics[0]?.partitions[0];
    if (p === undefined) return new SluiceError(ErrorCode.UNKNOWN_SERVER_ERROR, "produce response without a partition");
    return p.errorCode === ErrorCode.NONE ? undefined : new SluiceError(p.errorCode);
  } catch (e) {
    return e instanceof SluiceError ? e : new SluiceError(ErrorCode.UNKNOWN_SERVER_ERROR, String(e));
  }
}

interface OpenBatch {
  builder: BatchBuilder;
  callbacks: AckCallback[];
}

interface SealedBatch {
  partition: number;
  bytes: Uint8Array;
  callbacks: AckCallback[];
}

class RawProducer implements LoadProducer {
  private readonly open = new Map<number, OpenBatch>();
  private sealed: SealedBatch[] = [];
  private sealedBytes = 0;
  private turnScheduled = false;
  private lingerTimer: ReturnType<typeof setTimeout> | undefined;
  private spaceWaiters: (() => void)[] = [];
  private readonly batchBytes: number;

  constructor(
    private readonly connection: RawConnection,
    private readonly options: LoadProducerOptions,
  ) {
    this.batchBytes = options.batchBytes ?? RAW_BATCH_BYTES_DEFAULT;
  }

  send(partition: number, value: Uint8Array, onAck: AckCallback): Promise<void> | undefined {
    let batch = this.open.get(partition);
    if (batch === undefined) {
      batch = { builder: new BatchBuilder({ initialBytes: Math.max(1024, this.batchBytes + 1024) }), callbacks: [] };
      batch.builder.reset();
      this.open.set(partition, batch);
    }
    batch.builder.append({ value });
    batch.callbacks.push(onAck);
    if (batch.builder.sizeBytes >= this.batchBytes) this.seal(partition, batch);
    if (this.sealedBytes >= REQUEST_BYTES_TARGET) this.sendSealed();
    else this.scheduleTurn();
    if (this.connection.inFlight >= IN_FLIGHT_REQUESTS_MAX) {
      return new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
    }
    return undefined;
  }

  sendMany(messages: readonly LoadMessage[], onAck: AckCallback): Promise<void> | undefined {
    return sendEach(this, messages, onAck);
  }

  private seal(partition: number, batch: OpenBatch): void {
    const bytes = batch.builder.finish();
    this.sealed.push({ partition, bytes, callbacks: batch.callbacks });
    this.sealedBytes += bytes.length;
    batch.callbacks = [];
    batch.builder.reset();
  }

  private scheduleTurn(): void {
    if (this.turnScheduled) return;
    this.turnScheduled = true;
    const lingerMs = this.options.lingerMs ?? 0;
    if (lingerMs > 0) this.lingerTimer = setTimeout(() => this.endTurn(), lingerMs);
    else setImmediate(() => this.endTurn());
  }

  private endTurn(): void {
    this.turnScheduled = false;
    for (const [partition, batch] of this.open) if (batch.builder.recordCount > 0) this.seal(partition, batch);
    this.sendSealed();
  }

  /** One Produce request for everything sealed (with batchBytes 0: one request per batch). */
  private sendSealed(): void {
    if (this.sealed.length === 0) return;
    const groups = this.batchBytes === 0 ? this.sealed.map((s) => [s]) : [this.sealed];
    this.sealed = [];
    this.sealedBytes = 0;
    for (const group of groups) this.sendRequest(group);
  }

  private sendRequest(batches: SealedBatch[]): void {
    const byPartition = new Map<number, SealedBatch[]>();
    for (const b of batches) {
      let list = byPartition.get(b.partition);
      if (list === undefined) byPartition.set(b.partition, (list = []));
      list.push(b);
    }
    const partitions = [...byPartition].map(([index, list]) => ({
      index,
      records: list.length === 1 ? list[0].bytes : concat(list.map((b) => b.bytes)),
    }));
    const acks = this.options.acks;
    const settle = (partition: number, error: unknown) => {
      for (const b of byPartition.get(partition) ?? []) for (const cb of b.callbacks) cb(error);
    };
    this.connection.request(
      ApiKey.Produce,
      (w) => writeProduceRequest(w, { acks, timeoutMs: PRODUCE_TIMEOUT_MS, topics: [{ name: this.options.topic, partitions }] }),
      acks === 0
        ? undefined
        : (body, error) => {
            if (error !== undefined || body === undefined) {
              for (const p of byPartition.keys()) settle(p, error);
            } else {
              try {
                const response = decodeProduceResponse(body);
                for (const t of response.topics) {
                  for (const p of t.partitions) {
                    settle(p.index, p.errorCode === 0 ? undefined : new SluiceError(p.errorCode));
                  }
                }
              } catch (e) {
                for (const p of byPartition.keys()) settle(p, e);
              }
            }
            this.wakeWaiters();
          },
    );
    if (acks === 0) for (const p of byPartition.keys()) settle(p, undefined);
  }

  private wakeWaiters(): void {
    while (this.spaceWaiters.length > 0 && this.connection.inFlight < IN_FLIGHT_REQUESTS_MAX) this.spaceWaiters.shift()!();
  }

  async flush(): Promise<void> {
    if (this.lingerTimer !== undefined) clearTimeout(this.lingerTimer);
    this.endTurn();
    this.connection.flush();
  }

  async close(): Promise<void> {
    await this.flush();
    this.connection.close();
  }
}

/**
 * One message per record batch and per Produce request (`batchBytes` 0), with
 * up to `unbatchedInFlight` requests in flight: the pipelined,
 * unbatched workload of the peers table. Each send() writes its whole frame
 * into the connection's output buffer at once (the request's fixed part is
 * encoded once), and its ack callback is the response handler itself.
 */
class RawUnbatchedProducer implements LoadProducer {
  private readonly builder = new BatchBuilder({ initialBytes: 1024 });
  /** acks, timeout, topic count, topic name, partition count: the same bytes in every request. */
  private readonly fixed: Uint8Array;
  private spaceWaiters: (() => void)[] = [];
  private readonly inFlightMax: number;

  constructor(
    private readonly connection: RawConnection,
    private readonly options: LoadProducerOptions,
  ) {
    this.inFlightMax = options.unbatchedInFlight ?? UNBATCHED_IN_FLIGHT_TOTAL;
    const w = new Writer({ initialBytes: 64 });
    w.writeI16(options.acks).writeI32(PRODUCE_TIMEOUT_MS).writeArrayCount(1).writeString(options.topic).writeArrayCount(1);
    this.fixed = w.finish().slice();
    connection.onResponses = () => this.wakeWaiters();
  }

  send(partition: number, value: Uint8Array, onAck: AckCallback): Promise<void> | undefined {
    const conn = this.connection;
    if (conn.closed !== undefined) {
      onAck(conn.closed);
      return undefined;
    }
    const b = this.builder;
    b.reset();
    b.append({ value });
    // A view of the builder's buffer, copied into the frame at once.
    const batch = b.finishView();
    const { start, correlationId } = conn.beginRequest(ApiKey.Produce);
    conn.out.writeRaw(this.fixed).writeI32(partition).writeBytes(batch);
    if (this.options.acks === 0) {
      conn.endRequest(start, correlationId, KIND_PRODUCE_ONE, undefined);
      onAck(undefined);
    } else {
      conn.endRequest(start, correlationId, KIND_PRODUCE_ONE, onAck);
    }
    if (conn.inFlight >= this.inFlightMax) return new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
    return undefined;
  }

  sendMany(messages: readonly LoadMessage[], onAck: AckCallback): Promise<void> | undefined {
    return sendEach(this, messages, onAck);
  }

  private wakeWaiters(): void {
    const waiters = this.spaceWaiters;
    if (waiters.length === 0) return;
    if (this.connection.inFlight >= this.inFlightMax && this.connection.closed === undefined) return;
    this.spaceWaiters = [];
    for (const w of waiters) w();
  }

  async flush(): Promise<void> {
    this.connection.flush();
  }

  async waitForLeaders(): Promise<void> {
    // A single node leads every partition from its creation.
  }

  async close(): Promise<void> {
    this.connection.close();
  }
}

/** sendMany() as one send() per message, acknowledged once all are (or the first failed). */
function sendEach(producer: LoadProducer, messages: readonly LoadMessage[], onAck: AckCallback): Promise<void> | undefined {
  let remaining = messages.length;
  let failed = false;
  const one: AckCallback = (error) => {
    if (failed) return;
    if (error !== undefined && error !== null) {
      failed = true;
      onAck(error);
    } else if (--remaining === 0) onAck(undefined);
  };
  let wait: Promise<void> | undefined;
  for (const m of messages) wait = producer.send(m.partition, m.value, one) ?? wait;
  return wait;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

class RawConsumer implements LoadConsumer {
  private closed = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly connection: RawConnection,
    private readonly options: LoadConsumerOptions,
  ) {}

  async run(onRecords: (records: readonly LoadRecord[]) => void): Promise<void> {
    const offsets = new Map<number, bigint>(this.options.partitions.map((p) => [p, 0n]));
    const values: LoadRecord[] = [];
    while (!this.closed) {
      const body = await new Promise<Uint8Array | undefined>((resolve, reject) => {
        this.wake = () => resolve(undefined);
        this.connection.request(
          ApiKey.Fetch,
          (w) =>
            writeFetchRequest(w, {
              maxWaitMs: FETCH_WAIT_MS,
              minBytes: 1,
              maxBytes: FETCH_BYTES,
              topics: [{
                name: this.options.topic,
                partitions: [...offsets].map(([index, fetchOffset]) => ({ index, fetchOffset, partitionMaxBytes: FETCH_PARTITION_BYTES })),
              }],
            }),
          (response, error) => (error !== undefined ? (this.closed ? resolve(undefined) : reject(error)) : resolve(response)),
        );
      });
      if (body === undefined) break;
      const response = decodeFetchResponse(body);
      for (const t of response.topics) {
        for (const p of t.partitions) {
          if (p.errorCode !== 0) throw new SluiceError(p.errorCode, `fetch ${t.name}/${p.index}`);
          const from = offsets.get(p.index)!;
          let next = from;
          let pos = 0;
          values.length = 0;
          while (pos < p.records.length) {
            const { size } = forEachRecord(p.records, pos, (record) => {
              if (record.offset < from) return;
              values.push(record);
              next = record.offset + 1n;
            });
            pos += size;
          }
          offsets.set(p.index, next);
          if (values.length > 0) onRecords(values);
        }
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    this.connection.close();
  }
}

class RawAdmin implements LoadAdmin {
  constructor(private readonly connection: RawConnection) {}

  async createTopic(topic: string, partitions: number, spec: LoadTopicSpec = {}): Promise<void> {
    // The baseline client talks to one broker and does not follow leaders: a single node only.
    if ((spec.replicationFactor ?? 1) !== 1 || spec.minInsyncReplicas !== undefined) {
      throw new Error("--client raw runs against a single node: no --replication-factor or --min-insync-replicas");
    }
    const reply = (await this.connection.control(ApiKey.CreateTopics, { topics: [{ name: topic, partitions }] })) as {
      topics: { name: string; errorCode: number; message?: string }[];
    };
    const result = reply.topics[0];
    if (result !== undefined && result.errorCode !== 0 && result.errorCode !== ErrorCode.TOPIC_ALREADY_EXISTS) {
      throw new SluiceError(result.errorCode, result.message ?? `create topic ${topic}`);
    }
  }

  async waitForLeaders(): Promise<void> {
    // A single node leads every partition from its creation.
  }

  async close(): Promise<void> {
    this.connection.close();
  }
}

export async function openRawProducer(options: LoadProducerOptions): Promise<LoadProducer> {
  const connection = await RawConnection.open(options);
  return options.batchBytes === 0 ? new RawUnbatchedProducer(connection, options) : new RawProducer(connection, options);
}

export async function openRawConsumer(options: LoadConsumerOptions): Promise<LoadConsumer> {
  return new RawConsumer(await RawConnection.open(options), options);
}

export async function createRawAdmin(target: LoadTarget): Promise<LoadAdmin> {
  return new RawAdmin(await RawConnection.open(target));
}
