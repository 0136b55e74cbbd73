// The deadline heap keeps its order under interleaved pushes and removals of
// arbitrary items (what parked fetches woken early do), and the timer fires
// items at their deadlines, once.

import { describe, expect, test } from "bun:test";
import { waitFor } from "../test/support/wait_for.ts";
import { DeadlineHeap } from "./deadline_heap.ts";
import { DeadlineTimer } from "./deadline_timer.ts";

interface Item {
  deadlineMs: number;
  heapIndex: number;
  id: number;
}

describe("DeadlineHeap", () => {
  test("pops in deadline order after random pushes and removals", () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const heap = new DeadlineHeap<Item>();
    const live = new Set<Item>();
    for (let i = 0; i < 5000; i++) {
      if (live.size > 0 && rand() < 0.4) {
        const victim = [...live][Math.floor(rand() * live.size)];
        heap.remove(victim);
        live.delete(victim);
        expect(victim.heapIndex).toBe(-1);
      } else {
        const item = { deadlineMs: Math.floor(rand() * 1000), heapIndex: -1, id: i };
        heap.push(item);
        live.add(item);
      }
    }
    expect(heap.size).toBe(live.size);
    const popped: number[] = [];
    for (let item = heap.pop(); item !== undefined; item = heap.pop()) popped.push(item.deadlineMs);
    expect(popped.length).toBe(live.size);
    expect(popped).toEqual([...popped].sort((a, b) => a - b));
  });

  test("removing an item twice or one never pushed is a no-op", () => {
    const heap = new DeadlineHeap<Item>();
    const a = { deadlineMs: 1, heapIndex: -1, id: 1 };
    const b = { deadlineMs: 2, heapIndex: -1, id: 2 };
    heap.push(a);
    heap.remove(b);
    heap.remove(a);
    heap.remove(a);
    expect(heap.size).toBe(0);
  });
});

describe("DeadlineTimer", () => {
  test("fires each item once, in order, at or after its deadline; removed items never fire", async () => {
    const timer = new DeadlineTimer<Item & { onDeadline(): void }>();
    const fired: { id: number; lateMs: number }[] = [];
    const now = Date.now();
    const make = (id: number, inMs: number) => {
      const item = { id, deadlineMs: now + inMs, heapIndex: -1, onDeadline: () => fired.push({ id, lateMs: Date.now() - item.deadlineMs }) };
      timer.add(item);
      return item;
    };
    make(1, 60);
    const removed = make(2, 20);
    make(3, 10);
    make(4, 40);
    timer.remove(removed);
    await waitFor(() => fired.length >= 3, { what: "the three timers left", timeoutMs: 2_000 });
    expect(fired.map((f) => f.id)).toEqual([3, 4, 1]);
    expect(fired.every((f) => f.lateMs >= 0)).toBe(true);
    expect(timer.size).toBe(0);
  });
});
