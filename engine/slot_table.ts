// Partition slots: the small integers the worker pool and its shared state
// table know partitions by. The engine allocates one per open (topic,
// partition); slots are runtime-only (not stored), reused after a delete once
// the worker has let go of the old partition.

import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { PARTITIONS_MAX } from "../protocol/limits.ts";

export interface SlotOwner {
  topic: string;
  partition: number;
  worker: number;
}

export class SlotTable {
  readonly #owners: (SlotOwner | undefined)[] = [];
  readonly #free: number[] = [];
  #used = 0;

  get used(): number {
    return this.#used;
  }

  allocate(owner: SlotOwner): number {
    if (this.#used >= PARTITIONS_MAX) {
      throw new SluiceError(ErrorCode.POLICY_VIOLATION, `the broker already hosts ${PARTITIONS_MAX} partitions (PARTITIONS_MAX)`);
    }
    const slot = this.#free.pop() ?? this.#owners.length;
    this.#owners[slot] = owner;
    this.#used++;
    return slot;
  }

  release(slot: number): void {
    if (this.#owners[slot] === undefined) return;
    this.#owners[slot] = undefined;
    this.#free.push(slot);
    this.#used--;
  }

  owner(slot: number): SlotOwner | undefined {
    return this.#owners[slot];
  }

  /** Every used slot, in slot order. */
  *entries(): IterableIterator<[number, SlotOwner]> {
    for (let slot = 0; slot < this.#owners.length; slot++) {
      const owner = this.#owners[slot];
      if (owner !== undefined) yield [slot, owner];
    }
  }

  /** Partitions per worker (for balancing new partitions by count). */
  countsByWorker(workers: number): number[] {
    const counts = new Array<number>(workers).fill(0);
    for (const owner of this.#owners) if (owner !== undefined && owner.worker < workers) counts[owner.worker]++;
    return counts;
  }
}

/** The least loaded worker (lowest index on ties); increments its count. */
export function pickWorker(counts: number[]): number {
  let best = 0;
  for (let w = 1; w < counts.length; w++) if (counts[w] < counts[best]) best = w;
  counts[best]++;
  return best;
}
