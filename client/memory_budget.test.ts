import { describe, expect, test } from "bun:test";
import { waitFor } from "../test/support/wait_for.ts";
import { backoffMs } from "./backoff.ts";
import { BufferExhaustedError, ClientErrorCode } from "./errors.ts";
import { type BudgetWaiter, MemoryBudget } from "./memory_budget.ts";

describe("MemoryBudget", () => {
  test("waiters are served in arrival order: a small request does not overtake a large one", async () => {
    const budget = new MemoryBudget(100);
    expect(budget.tryReserve(90)).toBe(true);
    const order: string[] = [];
    const large = budget.reserve(60, 5_000).then(() => order.push("large"));
    const small = budget.reserve(5, 5_000).then(() => order.push("small"));
    expect(budget.tryReserve(5)).toBe(false); // someone is waiting: no cutting in line
    budget.release(55); // 35 used: the large one (60) fits, then the small one (5)
    await Promise.all([large, small]);
    expect(order).toEqual(["large", "small"]);
    expect(budget.usedBytes).toBe(100);
  });

  test("a waiter gives up after its timeout with BufferExhaustedError, and those behind it move up", async () => {
    const budget = new MemoryBudget(100);
    budget.tryReserve(100);
    const started = Date.now();
    const timedOut = budget.reserve(80, 50).then(() => undefined, (e) => e);
    const later = budget.reserve(10, 5_000);
    const error = await timedOut;
    expect(error).toBeInstanceOf(BufferExhaustedError);
    expect(error.code).toBe(ClientErrorCode.BUFFER_EXHAUSTED);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    budget.release(10);
    await later;
    expect(budget.usedBytes).toBe(100);
  });

  test("a request larger than the whole budget fails at once", async () => {
    await expect(new MemoryBudget(10).reserve(11, 1000)).rejects.toMatchObject({ code: ClientErrorCode.INVALID_ARGUMENT });
  });

  test("releasing more than reserved is a bug and throws", () => {
    const budget = new MemoryBudget(10);
    expect(() => budget.release(1)).toThrow();
  });
});

describe("backoff", () => {
  test("grows exponentially within [d/2, d] and is capped", () => {
    const low = { initialMs: 100, maxMs: 1000, random: () => 0 };
    const high = { initialMs: 100, maxMs: 1000, random: () => 0.999999 };
    expect([0, 1, 2, 3, 4, 10].map((a) => backoffMs(a, low))).toEqual([50, 100, 200, 400, 500, 500]);
    expect([0, 1, 2, 3, 4, 10].map((a) => backoffMs(a, high))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });
});

describe("MemoryBudget waiters", () => {
  class Recorder implements BudgetWaiter {
    outcome: string | undefined;
    queued = false;
    constructor(
      readonly bytes: number,
      readonly deadline: number,
      private readonly onGrant?: () => void,
    ) {}
    granted(): void {
      this.outcome = "granted";
      this.onGrant?.();
    }
    refused(error: Error): void {
      this.outcome = (error as { code?: number }).code === ClientErrorCode.BUFFER_EXHAUSTED ? "timed out" : "refused";
    }
  }

  test("a waiter is called back synchronously from release(), and a release from inside a grant serves the next one", () => {
    const budget = new MemoryBudget(100);
    budget.tryReserve(100);
    const far = Date.now() + 60_000;
    const second = new Recorder(50, far);
    // The first waiter gives its bytes back while being granted (as a failed append does).
    const first = new Recorder(50, far, () => budget.release(50));
    budget.wait(first);
    budget.wait(second);
    expect(budget.waiting).toBe(2);
    budget.release(50);
    expect(first.outcome).toBe("granted");
    expect(second.outcome).toBe("granted");
    expect(budget.waiting).toBe(0);
    expect(budget.usedBytes).toBe(100);
    budget.failAll(new Error("closing"));
  });

  test("one timer serves many waiters: each times out at its own deadline, even out of queue order", async () => {
    const budget = new MemoryBudget(100);
    budget.tryReserve(100);
    const now = Date.now();
    const late = new Recorder(10, now + 5_000);
    const early = new Recorder(10, now + 30); // queued behind a later deadline
    const soon = new Recorder(10, now + 60);
    budget.wait(late);
    budget.wait(early);
    budget.wait(soon);
    await waitFor(() => soon.outcome !== undefined, { what: "the second deadline to pass", timeoutMs: 2_000 });
    expect(early.outcome).toBe("timed out");
    expect(soon.outcome).toBe("timed out");
    expect(late.outcome).toBeUndefined();
    expect(budget.waiting).toBeGreaterThanOrEqual(1);
    budget.release(10);
    expect(late.outcome).toBe("granted");
  });

  test("shrink gives bytes back without serving waiters; the next release serves them", () => {
    const budget = new MemoryBudget(100);
    budget.tryReserve(100);
    const w = new Recorder(30, Date.now() + 60_000);
    budget.wait(w);
    budget.shrink(40);
    expect(w.outcome).toBeUndefined();
    expect(budget.usedBytes).toBe(60);
    budget.release(10);
    expect(w.outcome).toBe("granted");
    expect(budget.usedBytes).toBe(80);
  });
});
