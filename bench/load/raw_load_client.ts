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

import net from "node:net";
import { decode, encode } from "@msgpack/msgpack";
import { ApiKey } from "../../protocol/api_keys.ts";
import { Writer } from "../../protocol/codec.ts";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import { beginRequestFrame, endFrame, FrameParser, readResponseCorrelationId, responseBody } from "../../protocol/frame.ts";
import { decodeFetchResponse, writeFetchRequest } from "../../protocol/messages/fetch.ts";
import { decodeProduceResponse, writeProduceRequest } from "../../protocol/messages/produce.ts";
import { decodeResponseEnvelope } from "../../protocol/messages/response.ts";
import { BatchBuilder, forEachRecord } from "../../protocol/record_batch.ts";
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
} from "./load_client.ts";

/** Requests awaiting an answer on one producer connection before send() makes the caller wait. */
const IN_FLIGHT_REQUESTS_MAX = 64;
/** Bytes of sealed batches that trigger a request at once instead of at the end of the turn. */
const REQUEST_BYTES_TARGET = 1024 * 1024;
export const RAW_BATCH_BYTES_DEFAULT = 64 * 1024;
const PRODUCE_TIMEOUT_MS = 30_000;
const FETCH_WAIT_MS = 100;
const FETCH_PARTITION_BYTES = 1024 * 1024;
const FETCH_BYTES = 8 * 1024 * 1024;

type ResponseHandler = (body: Uint8Array | undefined, error?: Error) => void;

/** One socket, frames out (coalesced per turn), responses in, matched by correlation id. */
class RawConnection {
  private readonly socket: net.Socket;
  private readonly handlers = new Map<number, ResponseHandler>();
  private readonly out = new Writer({ initialBytes: 256 * 1024 });
  private flushScheduled = false;
  private nextCorrelationId = 1;
  private closedError: Error | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    const parser = new FrameParser({
      kind: "response",
      onFrame: (frame) => {
        const id = readResponseCorrelationId(frame);
        const handler = this.handlers.get(id);
        if (handler === undefined) return;
        this.handlers.delete(id);
        handler(responseBody(frame));
      },
      onError: (error) => socket.destroy(error),
    });
    socket.on("data", (chunk: Buffer) => parser.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    socket.on("error", () => {});
    socket.on("close", () => {
      this.closedError = new SluiceError(ErrorCode.NETWORK_EXCEPTION, "connection closed");
      for (const handler of this.handlers.values()) handler(undefined, this.closedError);
      this.handlers.clear();
    });
  }

  static open(target: LoadTarget): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: target.host, port: target.port, noDelay: true });
      socket.once("connect", () => resolve(new RawConnection(socket)));
      socket.once("error", reject);
    });
  }

  get inFlight(): number {
    return this.handlers.size;
  }

  /** Appends one request frame; `onResponse` undefined = no response expected (acks=0). */
  request(apiKey: number, writeBody: (w: Writer) => void, onResponse: ResponseHandler | undefined): void {
    if (this.closedError !== undefined) {
      onResponse?.(undefined, this.closedError);
      return;
    }
    const correlationId = this.nextCorrelationId;
    this.nextCorrelationId = (this.nextCorrelationId + 1) >>> 0 || 1;
    const start = beginRequestFrame(this.out, { apiKey, apiVersion: 0, correlationId });
    writeBody(this.out);
    endFrame(this.out, start);
    if (onResponse !== undefined) this.handlers.set(correlationId, onResponse);
    if (this.out.length >= REQUEST_BYTES_TARGET) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.flushScheduled = false;
    if (this.out.length === 0) return;
    // node:net keeps what the kernel does not take yet; the in-flight bound limits how much that is.
    this.socket.write(this.out.finish().slice());
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
    this.socket.end();
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
    for (const m of messages) wait = this.send(m.partition, m.value, one) ?? wait;
    return wait;
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

  async createTopic(topic: string, partitions: number): Promise<void> {
    const reply = (await this.connection.control(ApiKey.CreateTopics, { topics: [{ name: topic, partitions }] })) as {
      topics: { name: string; errorCode: number; message?: string }[];
    };
    const result = reply.topics[0];
    if (result !== undefined && result.errorCode !== 0 && result.errorCode !== ErrorCode.TOPIC_ALREADY_EXISTS) {
      throw new SluiceError(result.errorCode, result.message ?? `create topic ${topic}`);
    }
  }

  async close(): Promise<void> {
    this.connection.close();
  }
}

export async function openRawProducer(options: LoadProducerOptions): Promise<LoadProducer> {
  return new RawProducer(await RawConnection.open(options), options);
}

export async function openRawConsumer(options: LoadConsumerOptions): Promise<LoadConsumer> {
  return new RawConsumer(await RawConnection.open(options), options);
}

export async function createRawAdmin(target: LoadTarget): Promise<LoadAdmin> {
  return new RawAdmin(await RawConnection.open(target));
}
