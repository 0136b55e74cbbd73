// What the load threads need from a client, in the smallest shape that lets
// them run at millions of messages per second: a producer that takes one
// message and calls back once it is acknowledged, and a consumer that hands
// over record values a fetched batch at a time. `sluice_load_client.ts` maps
// this onto the Sluice client library; nothing else in bench/load knows it.

import type { CompressionName } from "../../protocol/compression/mod.ts";

export interface LoadTarget {
  host: string;
  port: number;
  /** Every bootstrap address, "host:port,host:port" (a cluster); host:port alone when unset. */
  bootstrap?: string;
}

/** How the bench topic is created: RF and min.insync.replicas in a cluster; the broker's defaults when unset. */
export interface LoadTopicSpec {
  replicationFactor?: number;
  minInsyncReplicas?: number;
}

export interface LoadProducerOptions extends LoadTarget {
  clientId: string;
  topic: string;
  acks: 0 | 1 | -1;
  batchBytes?: number;
  lingerMs?: number;
  /** Size of every value this producer sends (sizes its send window). */
  valueBytes: number;
  /**
   * With batchBytes 0: requests in flight on this producer's connection. A run
   * splits UNBATCHED_IN_FLIGHT_TOTAL over its producers (unbatchedInFlightPerProducer).
   */
  unbatchedInFlight?: number;
  /** Batch compression (the client library's `compression`; default none). */
  compression?: CompressionName;
}

/** One message of a sendMany() call (the client library's ProducerMessage has this shape). */
export interface LoadMessage {
  readonly partition: number;
  readonly value: Uint8Array;
}

/** Called once per message: no error = acknowledged as `acks` asked. */
export type AckCallback = (error: unknown) => void;

export interface LoadProducer {
  /**
   * Queues one message for `partition`. Returns a promise when the client's
   * buffer is full (the caller waits on it before sending more), else undefined.
   */
  send(partition: number, value: Uint8Array, onAck: AckCallback): Promise<void> | undefined;
  /** Queues several messages in one call; `onAck` is called once, when all are acknowledged or the first failed. */
  sendMany(messages: readonly LoadMessage[], onAck: AckCallback): Promise<void> | undefined;
  /** Sends whatever is buffered now, without waiting for linger. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface LoadConsumerOptions extends LoadTarget {
  clientId: string;
  topic: string;
  /** Partitions this consumer reads, each from its first offset. */
  partitions: number[];
}

/** A consumed record as the load consumer sees it (the client's ConsumerRecord has this shape). */
export interface LoadRecord {
  readonly value: Uint8Array | null;
}

export interface LoadConsumer {
  /** Calls `onRecords` for everything fetched until `close()`, a batch at a time; resolves when it has stopped. */
  run(onRecords: (records: readonly LoadRecord[]) => void): Promise<void>;
  close(): Promise<void>;
}

export interface LoadAdmin {
  createTopic(topic: string, partitions: number, spec?: LoadTopicSpec): Promise<void>;
  /** Resolves once every partition of `topic` has a leader and a full ISR (a cluster elects them after the create). */
  waitForLeaders(topic: string, replicationFactor: number, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}
