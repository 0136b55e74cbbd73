// One timer for many deadlines: items wait in a DeadlineHeap and a single
// setTimeout is armed for the earliest. Used for parked fetches (maxWaitMs) and
// for acks=all produce requests (timeoutMs), so neither costs a timer per
// request. Removing an item does not re-arm: when the timer fires early it just
// re-arms for the heap's new minimum, which is cheaper than a clearTimeout per
// removal on the hot path.

import { DeadlineHeap, type HeapItem } from "./deadline_heap.ts";
import { EarliestTimer } from "./earliest_timer.ts";

export interface DeadlineItem extends HeapItem {
  /** The deadline passed; the item has already been removed. */
  onDeadline(): void;
}

export class DeadlineTimer<T extends DeadlineItem = DeadlineItem> {
  readonly #heap = new DeadlineHeap<T>();
  readonly #timer = new EarliestTimer(() => this.#fire(), Date.now);
  /** Times the timer fired (a count of work for tests and metrics: idle, it fires once per due deadline at most). */
  firings = 0;

  get size(): number {
    return this.#heap.size;
  }

  add(item: T): void {
    this.#heap.push(item);
    if (item.deadlineMs < this.#timer.armedForMs) this.#timer.armFor(item.deadlineMs);
  }

  remove(item: T): void {
    this.#heap.remove(item);
  }

  has(item: T): boolean {
    return item.heapIndex !== -1;
  }

  /** Removes every item and calls its onDeadline now (shutdown). */
  expireAll(): void {
    this.#timer.disarm();
    for (;;) {
      const item = this.#heap.pop();
      if (item === undefined) break;
      item.onDeadline();
    }
    this.#timer.disarm();
  }

  #fire(): void {
    this.firings++;
    const now = Date.now();
    for (;;) {
      const item = this.#heap.peek();
      if (item === undefined || item.deadlineMs > now) break;
      this.#heap.remove(item);
      item.onDeadline();
    }
    // An onDeadline may have added an item (and armed the timer for it).
    if (this.#timer.armedForMs === Infinity) this.#timer.armFor(this.#heap.peek()?.deadlineMs ?? Infinity);
  }
}
