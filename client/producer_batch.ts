// The producer's unit of work: one RecordBatch v2 for one partition, with the
// promises of the records in it. A batch is "open" while records are appended
// to its builder, then "closed" (header and CRC written) and queued for
// sending; it stays alive, bytes and all, until the broker acknowledged it or
// it failed for good, so a retry resends exactly the same bytes.

import { BatchBuilder } from "../protocol/record_batch.ts";
import type { SluiceError } from "../protocol/errors.ts";

/** Where a record landed. `offset` is -1 when acks=0 (the broker does not say). */
export interface RecordMetadata {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
}

/** RecordMetadata as a class: one object shape for every resolved send(). */
class SentRecord implements RecordMetadata {
  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly offset: bigint,
  ) {}
}

/** A contiguous run of records of one sendBatch() call inside one batch. */
export interface SentRange {
  readonly partition: number;
  /** Offset of the range's first record (-1 when acks=0). */
  readonly baseOffset: bigint;
  readonly count: number;
}

/** Tracks one sendBatch() call across the batches its records went into. */
export class BatchSendTracker {
  remaining: number;
  readonly ranges: SentRange[] = [];
  failed = false;
  constructor(
    count: number,
    readonly resolve: (result: { count: number; ranges: SentRange[] }) => void,
    readonly reject: (error: Error) => void,
  ) {
    this.remaining = count;
  }
}

/** One send() record, or a run of records of one sendBatch() call. */
export type Delivery =
  | { kind: "one"; offsetDelta: number; resolve: (m: RecordMetadata) => void; reject: (e: Error) => void }
  | { kind: "range"; offsetDelta: number; count: number; tracker: BatchSendTracker };

export class ProducerBatch {
  readonly topic: string;
  readonly partition: number;
  readonly builder: BatchBuilder;
  readonly deliveries: Delivery[] = [];
  readonly createdAt: number;
  /** Budget bytes this batch holds (released once when it completes). */
  reservedBytes = 0;
  /** The finished batch (a view of the builder's buffer) once closed. */
  bytes: Uint8Array | undefined;
  /** Produce attempts made with this batch. */
  attempts = 0;
  /** flush() calls waiting for this batch to complete. */
  flushWaiters: Array<() => void> | undefined;
  done = false;

  constructor(topic: string, partition: number, builder: BatchBuilder, now: number) {
    this.topic = topic;
    this.partition = partition;
    this.builder = builder;
    this.createdAt = now;
    builder.reset();
  }

  get recordCount(): number {
    return this.builder.recordCount;
  }

  get closed(): boolean {
    return this.bytes !== undefined;
  }

  close(): void {
    if (this.bytes === undefined) this.bytes = this.builder.finishView();
  }

  /** Resolves every record; `baseOffset` is the offset of the batch's first record (-1n when unknown). */
  succeed(baseOffset: bigint): void {
    const known = baseOffset >= 0n;
    // Deliveries are in offset order, mostly one apart: step the offset instead of converting each delta.
    let offset = known ? baseOffset : -1n;
    let delta = 0;
    for (const d of this.deliveries) {
      if (known && d.offsetDelta !== delta) offset = d.offsetDelta === delta + 1 ? offset + 1n : baseOffset + BigInt(d.offsetDelta);
      delta = d.offsetDelta;
      if (d.kind === "one") d.resolve(new SentRecord(this.topic, this.partition, offset));
      else {
        const t = d.tracker;
        if (t.failed) continue;
        t.ranges.push({ partition: this.partition, baseOffset: offset, count: d.count });
        t.remaining -= d.count;
        if (t.remaining === 0) t.resolve({ count: t.ranges.reduce((n, r) => n + r.count, 0), ranges: t.ranges });
      }
    }
  }

  fail(error: SluiceError | Error): void {
    for (const d of this.deliveries) {
      if (d.kind === "one") d.reject(error);
      else if (!d.tracker.failed) {
        d.tracker.failed = true;
        d.tracker.reject(error);
      }
    }
  }
}

/** Spare builders (their buffers) kept for the next batches; past the cap they are left to the GC. */
export class BuilderPool {
  private readonly spare: BatchBuilder[] = [];
  constructor(
    private readonly spareMax: number,
    private readonly initialBytes: number,
  ) {}

  take(): BatchBuilder {
    return this.spare.pop() ?? new BatchBuilder({ initialBytes: this.initialBytes });
  }

  give(builder: BatchBuilder): void {
    if (this.spare.length < this.spareMax) this.spare.push(builder);
  }
}
