import { describe, expect, test } from "bun:test";
import { waitFor } from "../test/support/wait_for.ts";
import { TIMEOUT_LISTS_MAX } from "./engine_limits.ts";
import { type TimeoutItem, type TimeoutList, TimeoutLists } from "./timeout_lists.ts";

class Item implements TimeoutItem {
  timeoutAtMs = 0;
  timeoutPrev: TimeoutItem | null = null;
  timeoutNext: TimeoutItem | null = null;
  timeoutList: TimeoutList | null = null;
  constructor(
    readonly name: string,
    readonly fired: string[],
  ) {}
  onTimeout(): void {
    this.fired.push(this.name);
  }
}

describe("TimeoutLists", () => {
  test("items expire in deadline order across lists; removed items never do", async () => {
    // The lists' own timer fires them (a real setTimeout), but their clock is the
    // test's: it moves only when told, so a loaded machine that runs the timer late
    // cannot make two deadlines fall due in one firing and blur the order.
    let now = 0;
    const fired: string[] = [];
    const lists = new TimeoutLists({ now: () => now });
    const a = new Item("a", fired);
    const b = new Item("b", fired);
    const c = new Item("c", fired);
    const d = new Item("d", fired);
    lists.add(a, 60);
    lists.add(b, 20);
    lists.add(c, 60);
    lists.add(d, 40);
    expect(lists.size).toBe(4);
    lists.remove(c);
    expect(c.timeoutList).toBeNull();
    expect(lists.size).toBe(3);
    for (const [at, expected] of [
      [20, ["b"]],
      [40, ["b", "d"]],
      [60, ["b", "d", "a"]],
    ] as const) {
      now = at;
      await waitFor(() => fired.length >= expected.length, { what: `the timer to fire what is due at ${at}` });
      // Nothing later fired with it, and c (due with a) never does.
      expect(fired).toEqual([...expected]);
    }
    expect(lists.size).toBe(0);
  });

  test("removing from the middle, the head and the tail keeps the list linked", async () => {
    let now = 0;
    const fired: string[] = [];
    const lists = new TimeoutLists({ now: () => now });
    const items = ["a", "b", "c", "d", "e"].map((n) => new Item(n, fired));
    for (const it of items) lists.add(it, 10);
    lists.remove(items[2]);
    lists.remove(items[0]);
    lists.remove(items[4]);
    lists.remove(items[4]); // twice: a no-op
    expect(lists.size).toBe(2);
    now = 11;
    lists.expireAll();
    expect(fired).toEqual(["b", "d"]);
    expect(lists.size).toBe(0);
  });

  test("an item cannot be added twice", () => {
    const lists = new TimeoutLists();
    const it = new Item("a", []);
    lists.add(it, 1000);
    expect(() => lists.add(it, 1000)).toThrow();
    lists.expireAll();
  });

  test("past the list bound an item joins the nearest longer timeout, and an emptied list is reused", async () => {
    let now = 0;
    const fired: string[] = [];
    const lists = new TimeoutLists({ now: () => now });
    const held: Item[] = [];
    for (let i = 0; i < TIMEOUT_LISTS_MAX; i++) {
      const it = new Item(`t${i}`, fired);
      lists.add(it, 1000 + i * 100);
      held.push(it);
    }
    const odd = new Item("odd", fired);
    lists.add(odd, 1050); // no list of its own: the 1100 ms list
    expect(odd.timeoutAtMs).toBe(1100);
    lists.remove(held[3]); // the 1300 ms list is empty now
    const fresh = new Item("fresh", fired);
    lists.add(fresh, 5);
    expect(fresh.timeoutAtMs).toBe(5);
    lists.expireAll();
    expect(fired).toContain("odd");
    expect(fired).toContain("fresh");
  });
});
