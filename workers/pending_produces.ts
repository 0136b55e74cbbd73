// The produce requests of one drain pass whose batches are staged in their
// partitions' logs but not written yet, in request order.
//
// Runs on: the partition worker thread (PartitionHost's drain pass).
//
// Why it exists: a pass writes all the batches it staged for a partition with
// one vectored write, so the answer to each request (its PRODUCED completion)
// can only be written after that write returned. The host keeps what each
// answer needs here, then writes the answers in request order (completions
// must come back in the order the router sent the requests). A request that
// failed before it was staged (unknown slot, bad batch) keeps its place in the
// order too, with its error.
//
// Bounded by DRAIN_PASS_REQUESTS_MAX: a struct of arrays allocated once,
// nothing allocated per request.

import { assert } from "../protocol/assert.ts";

/** The partition a staged request went to, as the host sees it. */
export interface StagingPartition {
  /** A vectored write of this pass failed for it: every staged request of the partition fails with this. */
  writeError: { code: number; message: string } | null;
}

export class PendingProduces<P extends StagingPartition> {
  readonly capacity: number;
  count = 0;
  readonly slot: Uint32Array;
  readonly requestId: Uint32Array;
  readonly acks: Int32Array;
  /** 0 = staged; else the error the request failed with before staging. */
  readonly error: Int32Array;
  readonly baseOffset: Float64Array;
  readonly lastOffset: Float64Array;
  readonly logAppendTimeMs: Float64Array;
  readonly bytes: Float64Array;
  readonly records: Float64Array;
  /** 1 for an idempotent producer's retry of stored batches (nothing staged; answered with the original offsets). */
  readonly duplicate: Uint8Array;
  /** The partition of a staged request (null for a failed one). */
  readonly partition: (P | null)[];
  /** The message of a failed request (null for a staged one). */
  readonly message: (string | null)[];

  constructor(capacity: number) {
    this.capacity = capacity;
    this.slot = new Uint32Array(capacity);
    this.requestId = new Uint32Array(capacity);
    this.acks = new Int32Array(capacity);
    this.error = new Int32Array(capacity);
    this.baseOffset = new Float64Array(capacity);
    this.lastOffset = new Float64Array(capacity);
    this.logAppendTimeMs = new Float64Array(capacity);
    this.bytes = new Float64Array(capacity);
    this.records = new Float64Array(capacity);
    this.duplicate = new Uint8Array(capacity);
    this.partition = new Array<P | null>(capacity).fill(null);
    this.message = new Array<string | null>(capacity).fill(null);
  }

  get full(): boolean {
    return this.count >= this.capacity;
  }

  /** A request whose batches are staged in `p`'s log, with the offsets the log gave them. */
  addStaged(
    p: P,
    slot: number,
    requestId: number,
    acks: number,
    r: { baseOffset: number; lastOffset: number; logAppendTimeMs: number; bytes: number; records: number; duplicate: boolean },
  ): void {
    const i = this.next();
    this.slot[i] = slot;
    this.requestId[i] = requestId;
    this.acks[i] = acks;
    this.error[i] = 0;
    this.baseOffset[i] = r.baseOffset;
    this.lastOffset[i] = r.lastOffset;
    this.logAppendTimeMs[i] = r.logAppendTimeMs;
    this.bytes[i] = r.bytes;
    this.records[i] = r.records;
    this.duplicate[i] = r.duplicate ? 1 : 0;
    this.partition[i] = p;
  }

  /** A request that failed before anything was staged; `code` is never 0. */
  addFailed(slot: number, requestId: number, acks: number, code: number, message: string): void {
    assert(code !== 0, "pending produces: a failed request needs an error code");
    const i = this.next();
    this.slot[i] = slot;
    this.requestId[i] = requestId;
    this.acks[i] = acks;
    this.error[i] = code;
    this.message[i] = message;
  }

  /** Forget every request (their answers were written); drops the references it held. */
  clear(): void {
    for (let i = 0; i < this.count; i++) {
      this.partition[i] = null;
      this.message[i] = null;
    }
    this.count = 0;
  }

  private next(): number {
    // The drain pass stops at DRAIN_PASS_REQUESTS_MAX, the capacity.
    assert(this.count < this.capacity, "pending produces: more requests than the pass budget", this.count);
    return this.count++;
  }
}
