// A binary min-heap of items ordered by `deadlineMs`, with O(log n) removal of
// any item: each item carries its own position (`heapIndex`, -1 when not in a
// heap). Removal matters because most parked fetches are woken by data long
// before their deadline; lazy deletion would let the heap grow with the fetch
// rate instead of with the number of fetches actually waiting.

export interface HeapItem {
  deadlineMs: number;
  heapIndex: number;
}

export class DeadlineHeap<T extends HeapItem> {
  readonly #items: T[] = [];

  get size(): number {
    return this.#items.length;
  }

  peek(): T | undefined {
    return this.#items[0];
  }

  push(item: T): void {
    if (item.heapIndex !== -1) throw new Error("deadline_heap: item is already in a heap");
    item.heapIndex = this.#items.length;
    this.#items.push(item);
    this.#up(item.heapIndex);
  }

  pop(): T | undefined {
    const items = this.#items;
    if (items.length === 0) return undefined;
    const top = items[0];
    this.remove(top);
    return top;
  }

  /** Removes `item` if it is in this heap; a no-op otherwise. */
  remove(item: T): void {
    const items = this.#items;
    const i = item.heapIndex;
    if (i < 0 || i >= items.length || items[i] !== item) return;
    const last = items.pop()!;
    item.heapIndex = -1;
    if (i === items.length) return;
    items[i] = last;
    last.heapIndex = i;
    this.#down(i);
    this.#up(last.heapIndex);
  }

  #up(i: number): void {
    const items = this.#items;
    const item = items[i];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent].deadlineMs <= item.deadlineMs) break;
      items[i] = items[parent];
      items[i].heapIndex = i;
      i = parent;
    }
    items[i] = item;
    item.heapIndex = i;
  }

  #down(i: number): void {
    const items = this.#items;
    const n = items.length;
    const item = items[i];
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && items[right].deadlineMs < items[left].deadlineMs ? right : left;
      if (items[child].deadlineMs >= item.deadlineMs) break;
      items[i] = items[child];
      items[i].heapIndex = i;
      i = child;
    }
    items[i] = item;
    item.heapIndex = i;
  }
}
