// Deadlines of items that almost always share a few timeouts (produce requests:
// every request of a client carries the same timeoutMs). Items with the same
// timeout are kept in one doubly linked list in arrival order, which is also
// deadline order (the clock is monotonic), so adding and removing are O(1)
// pointer updates instead of a heap's O(log n) sifts: on the produce path each
// request is added once and removed once, and almost none ever expire.
//
// One timer for all lists, armed for the earliest head (EarliestTimer).

import { EarliestTimer } from "./earliest_timer.ts";
import { TIMEOUT_LISTS_MAX } from "./engine_limits.ts";

export interface TimeoutItem {
  /** Monotonic ms (performance.now()) at which onTimeout runs; set by add(). */
  timeoutAtMs: number;
  timeoutPrev: TimeoutItem | null;
  timeoutNext: TimeoutItem | null;
  /** The list holding the item, null when it is in none. */
  timeoutList: TimeoutList | null;
  /** The deadline passed; the item has already been removed. */
  onTimeout(): void;
}

export class TimeoutList {
  head: TimeoutItem | null = null;
  tail: TimeoutItem | null = null;
  size = 0;
  constructor(public timeoutMs: number) {}
}

export class TimeoutLists {
  readonly #lists: TimeoutList[] = [];
  #size = 0;
  readonly #now: () => number;
  readonly #timer: EarliestTimer;

  constructor(opts: { now?: () => number } = {}) {
    this.#now = opts.now ?? (() => performance.now());
    this.#timer = new EarliestTimer(() => this.#fire(), this.#now);
  }

  get size(): number {
    return this.#size;
  }

  /**
   * Adds `item` to expire `timeoutMs` after `nowMs` (a reading of this list's
   * clock, performance.now() by default, taken at most a turn ago: the lists
   * stay in deadline order). With TIMEOUT_LISTS_MAX other
   * timeouts in flight at once (clients varying it per request), the item joins
   * the list of the nearest longer timeout and expires that much later; with no
   * longer one, the nearest shorter one, and expires that much earlier.
   */
  add(item: TimeoutItem, timeoutMs: number, nowMs: number = this.#now()): void {
    if (item.timeoutList !== null) throw new Error("timeout_lists: item is already in a list");
    const list = this.#listFor(timeoutMs);
    item.timeoutAtMs = nowMs + list.timeoutMs;
    item.timeoutPrev = list.tail;
    item.timeoutNext = null;
    item.timeoutList = list;
    if (list.tail === null) list.head = item;
    else list.tail.timeoutNext = item;
    list.tail = item;
    list.size++;
    this.#size++;
    if (item.timeoutAtMs < this.#timer.armedForMs) this.#timer.armFor(item.timeoutAtMs);
  }

  remove(item: TimeoutItem): void {
    const list = item.timeoutList;
    if (list === null) return;
    const prev = item.timeoutPrev;
    const next = item.timeoutNext;
    if (prev === null) list.head = next;
    else prev.timeoutNext = next;
    if (next === null) list.tail = prev;
    else next.timeoutPrev = prev;
    item.timeoutPrev = null;
    item.timeoutNext = null;
    item.timeoutList = null;
    list.size--;
    this.#size--;
  }

  /** Removes every item and calls its onTimeout now (shutdown). */
  expireAll(): void {
    this.#timer.disarm();
    for (const list of this.#lists) {
      for (let item = list.head; item !== null; item = list.head) {
        this.remove(item);
        item.onTimeout();
      }
    }
    this.#timer.disarm();
  }

  #listFor(timeoutMs: number): TimeoutList {
    const lists = this.#lists;
    let empty: TimeoutList | null = null;
    for (let i = 0; i < lists.length; i++) {
      const l = lists[i];
      if (l.timeoutMs === timeoutMs) return l;
      if (l.size === 0) empty = l;
    }
    if (lists.length < TIMEOUT_LISTS_MAX) {
      const l = new TimeoutList(timeoutMs);
      lists.push(l);
      return l;
    }
    if (empty !== null) {
      empty.timeoutMs = timeoutMs;
      return empty;
    }
    let above: TimeoutList | null = null;
    let below: TimeoutList | null = null;
    for (const l of lists) {
      if (l.timeoutMs > timeoutMs && (above === null || l.timeoutMs < above.timeoutMs)) above = l;
      if (l.timeoutMs < timeoutMs && (below === null || l.timeoutMs > below.timeoutMs)) below = l;
    }
    return (above ?? below)!;
  }

  #earliest(): number {
    let at = Infinity;
    for (const l of this.#lists) if (l.head !== null && l.head.timeoutAtMs < at) at = l.head.timeoutAtMs;
    return at;
  }

  #fire(): void {
    const now = this.#now();
    for (const list of this.#lists) {
      for (let item = list.head; item !== null && item.timeoutAtMs <= now; item = list.head) {
        this.remove(item);
        item.onTimeout();
      }
    }
    // An onTimeout may have added an item (and armed the timer for it).
    if (this.#timer.armedForMs === Infinity) this.#timer.armFor(this.#earliest());
  }
}
