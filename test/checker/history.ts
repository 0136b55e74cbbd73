// The history a crash, fault or group test records, and a small recorder for it.
//
// A history is what clients saw, in the order they saw it: every send, every
// ack (with the offset the broker gave), every failed send, every record a
// consumer delivered, every high watermark observed. The checkers in this
// folder judge a history; they never talk to a broker. Keeping the two apart
// is what lets the checker be unit-tested with hand-made histories that show
// each anomaly, and lets a failing test print the evidence.
//
// Every produced value must be unique across the whole history: the checker
// identifies a record by its value, as Jepsen's queue checker does.

/** A partition as one string, e.g. "orders/3". */
export type PartitionKey = string;

export function partitionKey(topic: string, partition: number): PartitionKey {
  return `${topic}/${partition}`;
}

/** A producer handed `value` to the client for `partition`. */
export interface SendEvent {
  readonly kind: "send";
  readonly producer: string;
  readonly partition: PartitionKey;
  readonly value: string;
  readonly atMs: number;
}

/** The broker acknowledged `value` at `offset`. */
export interface AckEvent {
  readonly kind: "ack";
  readonly producer: string;
  readonly partition: PartitionKey;
  readonly value: string;
  readonly offset: number;
  readonly atMs: number;
}

/**
 * The send did not get an ack. `definite` means the broker said it stored
 * nothing (a validation error); otherwise the outcome is unknown (timeout,
 * connection lost, storage error) and the value may or may not appear.
 */
export interface FailEvent {
  readonly kind: "fail";
  readonly producer: string;
  readonly partition: PartitionKey;
  readonly value: string;
  readonly definite: boolean;
  readonly atMs: number;
}

export interface ReadRecord {
  readonly offset: number;
  readonly value: string;
}

/** A consumer delivered these records of one partition, in this order. */
export interface PollEvent {
  readonly kind: "poll";
  readonly consumer: string;
  readonly partition: PartitionKey;
  readonly records: readonly ReadRecord[];
  readonly atMs: number;
}

/**
 * A consumer (re)positioned itself: its next record is expected at `offset`.
 * Record one at start, after a restart, after a rebalance, after any explicit seek;
 * a poll right after a seek is judged against the seek, not the previous poll.
 */
export interface SeekEvent {
  readonly kind: "seek";
  readonly consumer: string;
  readonly partition: PartitionKey;
  readonly offset: number;
  readonly atMs: number;
}

/** A client saw this high watermark (from a fetch or list-offsets response). */
export interface WatermarkEvent {
  readonly kind: "watermark";
  readonly partition: PartitionKey;
  readonly highWatermark: number;
  /** The log start offset seen with it, when the response carried one (retention moves it up). */
  readonly logStartOffset?: number;
  readonly atMs: number;
}

export type HistoryEvent = SendEvent | AckEvent | FailEvent | PollEvent | SeekEvent | WatermarkEvent;

/** Records events in arrival order. Timestamps come from one monotonic clock. */
export class History {
  readonly events: HistoryEvent[] = [];
  private readonly startMs = performance.now();

  now(): number {
    return performance.now() - this.startMs;
  }

  send(producer: string, partition: PartitionKey, value: string): void {
    this.events.push({ kind: "send", producer, partition, value, atMs: this.now() });
  }

  ack(producer: string, partition: PartitionKey, value: string, offset: number): void {
    this.events.push({ kind: "ack", producer, partition, value, offset, atMs: this.now() });
  }

  fail(producer: string, partition: PartitionKey, value: string, definite: boolean): void {
    this.events.push({ kind: "fail", producer, partition, value, definite, atMs: this.now() });
  }

  poll(consumer: string, partition: PartitionKey, records: readonly ReadRecord[]): void {
    if (records.length === 0) return;
    this.events.push({ kind: "poll", consumer, partition, records: records.slice(), atMs: this.now() });
  }

  seek(consumer: string, partition: PartitionKey, offset: number): void {
    this.events.push({ kind: "seek", consumer, partition, offset, atMs: this.now() });
  }

  watermark(partition: PartitionKey, highWatermark: number, logStartOffset?: number): void {
    this.events.push({ kind: "watermark", partition, highWatermark, logStartOffset, atMs: this.now() });
  }
}
