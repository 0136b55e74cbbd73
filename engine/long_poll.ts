// Parked long-poll fetches. A fetch that found too little data waits here until
// one of its partitions advances or its deadline passes.
//
// Cost model: a parked fetch is one small object in one set per partition it
// reads and one entry in a deadline heap. There is no timer and no polling per
// fetch: the worker pool's onAdvance(slot) looks up that slot's set (nothing to
// do when it is empty), and ONE timer is armed for the earliest deadline of
// all. Ten thousand idle parked fetches cost a few MB and no CPU.
//
// Bound: `waitingMax` parked fetches; past it `park` returns null and the
// caller answers at once with what there is (the named overflow outcome).

import { DeadlineTimer, type DeadlineItem } from "./deadline_timer.ts";

export interface Waiter {
  /** A partition it reads advanced. The waiter decides whether it has enough now (and unparks itself). */
  onAdvance(slot: number): void;
  /** The deadline passed; the waiter is already unparked. */
  onDeadline(): void;
}

/** The handle of a parked waiter. */
export class Parked implements DeadlineItem {
  heapIndex = -1;
  constructor(
    readonly poll: LongPoll,
    readonly waiter: Waiter,
    readonly slots: readonly number[],
    readonly deadlineMs: number,
  ) {}
  onDeadline(): void {
    this.poll.leaveSets(this);
    this.poll.wakeups++;
    this.waiter.onDeadline();
  }
}

export class LongPoll {
  readonly #waitingMax: number;
  readonly #bySlot = new Map<number, Set<Parked>>();
  readonly #deadlines = new DeadlineTimer<Parked>();
  /**
   * Times a parked fetch was woken: told that a partition it reads advanced, or
   * that its deadline passed. A count of work, not time: while nothing is
   * produced and no deadline is due it stays put however many fetches are
   * parked, which is what "idle parked fetches cost nothing" means (the test of
   * 10,000 parked fetches reads it; CPU time there is a figure, not a bar).
   */
  wakeups = 0;

  constructor(options: { waitingMax: number }) {
    this.#waitingMax = options.waitingMax;
  }

  get size(): number {
    return this.#deadlines.size;
  }

  /** Firings of the one deadline timer (each looks at the heap's minimum; no parked fetch is touched unless due). */
  get timerFirings(): number {
    return this.#deadlines.firings;
  }

  /** Parks `waiter` until one of `slots` advances or `deadlineMs`. null: the waiting set is full (not parked). */
  park(waiter: Waiter, slots: readonly number[], deadlineMs: number): Parked | null {
    if (this.#deadlines.size >= this.#waitingMax) return null;
    const parked = new Parked(this, waiter, slots, deadlineMs);
    for (const slot of slots) {
      let set = this.#bySlot.get(slot);
      if (set === undefined) {
        set = new Set();
        this.#bySlot.set(slot, set);
      }
      set.add(parked);
    }
    this.#deadlines.add(parked);
    return parked;
  }

  isParked(parked: Parked): boolean {
    return this.#deadlines.has(parked);
  }

  unpark(parked: Parked): void {
    this.#deadlines.remove(parked);
    this.leaveSets(parked);
  }

  /** Called for every advance of a partition (pool.onAdvance). */
  advance(slot: number): void {
    const set = this.#bySlot.get(slot);
    if (set === undefined) return;
    // Copy first: a waiter's onAdvance unparks it (and may park again).
    const parkedNow = Array.from(set);
    for (const parked of parkedNow) {
      if (!this.#deadlines.has(parked)) continue;
      this.wakeups++;
      parked.waiter.onAdvance(slot);
    }
  }

  /** Ends every parked fetch as if its deadline had passed (shutdown). */
  expireAll(): void {
    this.#deadlines.expireAll();
  }

  /** @internal Removes `parked` from its slot sets. */
  leaveSets(parked: Parked): void {
    for (const slot of parked.slots) {
      const set = this.#bySlot.get(slot);
      if (set === undefined) continue;
      set.delete(parked);
      if (set.size === 0) this.#bySlot.delete(slot);
    }
  }
}
