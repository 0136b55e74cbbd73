// The load client on top of the Sluice client library (client/mod.ts): what a
// user's application runs, so `sluice bench` measures the library and the
// broker together.
//
// Producer: one Producer per load thread, one send() per message with an
// explicit partition, each with its own promise (per-message ack latency);
// or, with --send-batch N, one sendBatch() per N messages (one promise each).
// The library's send() waits by itself when its buffer is full, but every
// waiting call is a pending promise; to keep the load thread's memory bounded
// the adapter keeps at most SEND_WINDOW messages unacknowledged, which is the
// library's own buffer (bufferBytesMax) counted in messages.
//
// `--batch-bytes 0` (no client batching): one record per batch and one batch
// per request (batchBytes and requestBytesMax at the library's minimum), no
// linger, and — so requests can be pipelined per partition — retries off with
// many requests in flight per partition (with retries on, the library keeps
// one request per partition in flight to preserve order across retries).

import { Admin, Consumer, Producer, PRODUCER_DEFAULTS, type ProducerOptions } from "../../client/mod.ts";
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
import { UNBATCHED_IN_FLIGHT_TOTAL } from "./raw_load_client.ts";

/** Per-record bytes the library adds to a value when it counts its buffer. */
const LIBRARY_RECORD_OVERHEAD_BYTES = 24;
/** The library's smallest batchBytes: one 100-byte record fills it. */
const UNBATCHED_BATCH_BYTES = 128;
/** Unacknowledged messages per request slot with --batch-bytes 0. */
const UNBATCHED_WINDOW_PER_REQUEST = 4;

export const LIBRARY_BATCH_BYTES_DEFAULT = PRODUCER_DEFAULTS.batchBytes;

function producerOptions(options: LoadProducerOptions): ProducerOptions {
  const base: ProducerOptions = {
    broker: options.bootstrap ?? `${options.host}:${options.port}`,
    clientId: options.clientId,
    acks: options.acks,
    ...(options.lingerMs === undefined ? {} : { lingerMs: options.lingerMs }),
    ...(options.compression === undefined ? {} : { compression: options.compression }),
  };
  if (options.batchBytes === 0) {
    // As many requests in flight as the raw client keeps (raw_load_client.ts).
    const inflight = options.unbatchedInFlight ?? UNBATCHED_IN_FLIGHT_TOTAL;
    return {
      ...base,
      batchBytes: UNBATCHED_BATCH_BYTES,
      requestBytesMax: UNBATCHED_BATCH_BYTES,
      lingerMs: 0,
      retries: 0,
      produceRequestsInflightMax: inflight,
      partitionInflightMax: inflight,
      inflightRequestsMax: inflight,
    };
  }
  return { ...base, ...(options.batchBytes === undefined ? {} : { batchBytes: options.batchBytes }) };
}

class LibraryProducer implements LoadProducer {
  private readonly producer: Producer;
  private readonly topic: string;
  private readonly window: number;
  private outstanding = 0;
  private wake: (() => void) | undefined;

  constructor(options: LoadProducerOptions) {
    this.producer = new Producer(producerOptions(options));
    this.topic = options.topic;
    // Unbatched, a full buffer would be a queue of ~270k single-record requests (seconds of backlog
    // at the end of a timed run): keep a few messages per request slot instead.
    this.window = options.batchBytes === 0
      ? (options.unbatchedInFlight ?? UNBATCHED_IN_FLIGHT_TOTAL) * UNBATCHED_WINDOW_PER_REQUEST
      : Math.max(1, Math.floor(PRODUCER_DEFAULTS.bufferBytesMax / (options.valueBytes + LIBRARY_RECORD_OVERHEAD_BYTES)));
  }

  send(partition: number, value: Uint8Array, onAck: AckCallback): Promise<void> | undefined {
    this.outstanding++;
    this.producer.send(this.topic, { value, partition }).then(
      () => this.settled(onAck, undefined),
      (error: unknown) => this.settled(onAck, error ?? new Error("send failed")),
    );
    if (this.outstanding < this.window) return undefined;
    return new Promise<void>((resolve) => (this.wake = resolve));
  }

  sendMany(messages: readonly LoadMessage[], onAck: AckCallback): Promise<void> | undefined {
    const count = messages.length;
    this.outstanding += count;
    this.producer.sendBatch(this.topic, messages).then(
      () => this.settled(onAck, undefined, count),
      (error: unknown) => this.settled(onAck, error ?? new Error("sendBatch failed"), count),
    );
    if (this.outstanding < this.window) return undefined;
    return new Promise<void>((resolve) => (this.wake = resolve));
  }

  private settled(onAck: AckCallback, error: unknown, count = 1): void {
    this.outstanding -= count;
    onAck(error);
    if (this.wake !== undefined && this.outstanding < this.window) {
      const wake = this.wake;
      this.wake = undefined;
      wake();
    }
  }

  flush(): Promise<void> {
    return this.producer.flush();
  }

  close(): Promise<void> {
    return this.producer.close();
  }
}

class LibraryConsumer implements LoadConsumer {
  private readonly consumer: Consumer;

  constructor(options: LoadConsumerOptions) {
    this.consumer = new Consumer({ broker: options.bootstrap ?? `${options.host}:${options.port}`, clientId: options.clientId });
    this.consumer.assign(options.partitions.map((partition) => ({ topic: options.topic, partition, position: "beginning" })));
  }

  async run(onRecords: (records: readonly LoadRecord[]) => void): Promise<void> {
    for await (const batch of this.consumer.batches()) onRecords(batch.records);
  }

  close(): Promise<void> {
    return this.consumer.close();
  }
}

class LibraryAdmin implements LoadAdmin {
  private readonly admin: Admin;
  constructor(target: LoadTarget) {
    this.admin = new Admin({ broker: target.bootstrap ?? `${target.host}:${target.port}` });
  }
  createTopic(topic: string, partitions: number, spec: LoadTopicSpec = {}): Promise<void> {
    return this.admin.createTopic(topic, {
      partitions,
      ...(spec.replicationFactor === undefined ? {} : { replicationFactor: spec.replicationFactor }),
      ...(spec.minInsyncReplicas === undefined ? {} : { configs: { "min.insync.replicas": String(spec.minInsyncReplicas) } }),
    });
  }
  async waitForLeaders(topic: string, replicationFactor: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const t = (await this.admin.metadata([topic])).topics.find((x) => x.name === topic);
      // A single node answers without ISRs: a leader is enough there.
      const ready = t !== undefined && t.errorCode === 0 && t.partitions.length > 0 &&
        t.partitions.every((p) => p.errorCode === 0 && p.leader >= 0 && (p.isr === undefined || p.isr.length >= replicationFactor));
      if (ready) return;
      if (Date.now() >= deadline) throw new Error(`topic ${topic}: not every partition has a leader and ${replicationFactor} in-sync replicas after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, WAIT_FOR_LEADERS_POLL_MS));
    }
  }
  async close(): Promise<void> {
    await this.admin.close();
  }
}

const WAIT_FOR_LEADERS_POLL_MS = 50;

export async function openLibraryProducer(options: LoadProducerOptions): Promise<LoadProducer> {
  return new LibraryProducer(options);
}

export async function openLibraryConsumer(options: LoadConsumerOptions): Promise<LoadConsumer> {
  return new LibraryConsumer(options);
}

export async function createLibraryAdmin(target: LoadTarget): Promise<LoadAdmin> {
  return new LibraryAdmin(target);
}
