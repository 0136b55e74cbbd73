// A worker's requests in flight, in request order: what each was (its type,
// slot, id, acks) and whose callback answers it. The worker answers in request
// order, so the oldest entry is always the one a completion answers.
// A struct of arrays of fixed capacity (the worker's in-flight bound): no
// object per request.
//
// Runs on: the router (main) thread.

import type { FetchCallback, OffsetCallback, ProduceCallback } from "./partition_pool.ts";

/** What a request in flight asked for (and so which callback type it holds). */
export const RequestType = { PRODUCE: 1, FETCH: 2, OFFSET: 3 } as const;

/** Callbacks of requests in request order (struct of arrays, fixed capacity). */
export class InFlightQueue {
  readonly capacity: number;
  private head = 0;
  size = 0;
  readonly type: Uint8Array;
  readonly slot: Int32Array;
  readonly id: Uint32Array;
  readonly acks: Int8Array;
  readonly cb: Array<ProduceCallback | FetchCallback | OffsetCallback | null>;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.type = new Uint8Array(capacity);
    this.slot = new Int32Array(capacity);
    this.id = new Uint32Array(capacity);
    this.acks = new Int8Array(capacity);
    this.cb = new Array(capacity).fill(null);
  }

  push(type: number, slot: number, id: number, acks: number, cb: ProduceCallback | FetchCallback | OffsetCallback): void {
    if (this.size === this.capacity) throw new Error("worker pool: in-flight queue overflow");
    const i = (this.head + this.size) % this.capacity;
    this.type[i] = type;
    this.slot[i] = slot;
    this.id[i] = id;
    this.acks[i] = acks;
    this.cb[i] = cb;
    this.size++;
  }

  /** Index of the oldest entry; read its fields, then shift(). */
  get first(): number {
    return this.head;
  }

  shift(): void {
    this.cb[this.head] = null;
    this.head = (this.head + 1) % this.capacity;
    this.size--;
  }
}
