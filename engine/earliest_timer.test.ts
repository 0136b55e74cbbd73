import { describe, expect, test } from "bun:test";
import { EarliestTimer } from "./earliest_timer.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("EarliestTimer", () => {
  test("fires once at the deadline it was last armed for, then reports itself unarmed", async () => {
    const fired: number[] = [];
    const t = new EarliestTimer(() => fired.push(performance.now()), () => performance.now());
    const start = performance.now();
    t.armFor(start + 200);
    t.armFor(start + 30); // re-armed earlier: only this one counts
    expect(t.armedForMs).toBe(start + 30);
    await sleep(100);
    expect(fired.length).toBe(1);
    expect(fired[0] - start).toBeGreaterThanOrEqual(29);
    expect(t.armedForMs).toBe(Infinity);
    await sleep(150);
    expect(fired.length).toBe(1);
  });

  test("disarm and arming for Infinity cancel it", async () => {
    let fired = 0;
    const t = new EarliestTimer(() => fired++, Date.now);
    t.armFor(Date.now() + 10);
    t.disarm();
    t.armFor(Date.now() + 10);
    t.armFor(Infinity);
    expect(t.armedForMs).toBe(Infinity);
    await sleep(40);
    expect(fired).toBe(0);
  });
});
