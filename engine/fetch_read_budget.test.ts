// The per-client fetch read budget, alone and as FetchOperation uses it: a
// client's reads in the workers' rings stay within its budget, reads of a
// client that went away are never issued (neither those waiting for budget nor
// those waiting for ring room), and results of reads already issued are ignored.

import { describe, expect, test } from "bun:test";
import { ErrorCode } from "../protocol/errors.ts";
import { type FetchHost, FetchOperation, type FetchRequest, type FetchSink } from "./fetch_operation.ts";
import { FetchReadBudget } from "./fetch_read_budget.ts";
import { LongPoll } from "./long_poll.ts";
import type { FetchCallback, PartitionPool, PartitionState } from "./partition_pool.ts";

describe("FetchReadBudget", () => {
  test("takes bytes up to its bound, then queues; releases grant the oldest waiting read first", () => {
    const budget = new FetchReadBudget({ bytesMax: 100 });
    const granted: string[] = [];
    expect(budget.acquire(60, () => granted.push("a"))).toBe(true);
    expect(budget.acquire(40, () => granted.push("b"))).toBe(true);
    expect(budget.acquire(10, () => granted.push("c"))).toBe(false);
    // A small read does not overtake a queued one (FIFO), even if it would fit after a release.
    expect(budget.acquire(1, () => granted.push("d"))).toBe(false);
    expect(budget.waiting).toBe(2);
    budget.release(40);
    expect(granted).toEqual(["c", "d"]);
    expect(budget.bytesInFlight).toBe(71);
    expect(budget.readsInFlight).toBe(3);
  });

  test("a read larger than the bound runs when nothing else is in flight", () => {
    const budget = new FetchReadBudget({ bytesMax: 100 });
    expect(budget.acquire(500, () => {})).toBe(true);
    let granted = false;
    expect(budget.acquire(500, () => (granted = true))).toBe(false);
    budget.release(500);
    expect(granted).toBe(true);
  });

  test("close drops waiting reads: they are never granted; later acquires neither take nor queue", () => {
    const budget = new FetchReadBudget({ bytesMax: 10 });
    expect(budget.acquire(10, () => {})).toBe(true);
    let granted = 0;
    for (let i = 0; i < 5; i++) budget.acquire(10, () => granted++);
    budget.close();
    expect(budget.waiting).toBe(0);
    budget.release(10);
    expect(granted).toBe(0);
    expect(budget.acquire(1, () => granted++)).toBe(false);
    expect(budget.waiting).toBe(0);
    expect(budget.readsInFlight).toBe(0);
  });

  test("releasing more than was taken is a bug and throws", () => {
    const budget = new FetchReadBudget();
    expect(() => budget.release(1)).toThrow();
  });
});

/** A pool with one partition (slot 0, worker 0) whose reads are answered by hand; `full` refuses them. */
class HeldReadsPool {
  readonly reads: { cb: FetchCallback; maxBytes: number }[] = [];
  full = false;
  readonly writable: (() => void)[] = [];
  readonly workerCount = 1;
  readonly row: PartitionState = {
    logStartOffset: 0,
    logEndOffset: 10,
    highWatermark: 10,
    durableOffset: 10,
    bytesIn: 0,
    messagesIn: 0,
    bytesOut: 0,
    messagesOut: 0,
    sizeBytes: 1000,
    segments: 1,
    online: true,
    errorCode: 0,
  };

  fetch(_slot: number, _offset: number, maxBytes: number, cb: FetchCallback): boolean {
    if (this.full) return false;
    this.reads.push({ cb, maxBytes });
    return true;
  }

  /** Answers the oldest issued read with `bytes` bytes. */
  answer(bytes = 0): void {
    const r = this.reads.shift()!;
    r.cb(ErrorCode.NONE, new Uint8Array(bytes), 10, 0);
  }

  makeWritable(): void {
    this.full = false;
    for (const w of this.writable.splice(0)) w();
  }

  state(): PartitionState {
    return this.row;
  }

  workerOf(): number {
    return 0;
  }
}

function hostFor(pool: HeldReadsPool): FetchHost {
  return {
    pool: pool as unknown as PartitionPool,
    longPoll: new LongPoll({ waitingMax: 100 }),
    resolve: (topic, partition) => (topic === "t" && partition === 0 ? 0 : -ErrorCode.UNKNOWN_TOPIC_OR_PARTITION),
    waitWritable: (_worker, cb) => pool.writable.push(cb),
    closing: false,
    readBound: () => -1,
  };
}

function countingSink(): FetchSink & { results: number; finished: number } {
  const sink = {
    results: 0,
    finished: 0,
    partition: () => {
      sink.results++;
    },
    reset: () => {},
    done: () => {
      sink.finished++;
    },
  };
  return sink;
}

function request(maxBytes: number, budget?: FetchReadBudget): FetchRequest {
  return { maxWaitMs: 0, minBytes: 0, maxBytes, partitions: [{ topic: "t", partition: 0, offset: 0, maxBytes }], readBudget: budget };
}

describe("FetchOperation with a client's read budget", () => {
  test("pipelined fetches of one client keep their reads within the budget; each still gets its answer", () => {
    const pool = new HeldReadsPool();
    const host = hostFor(pool);
    const budget = new FetchReadBudget({ bytesMax: 4 << 20 });
    const sinks = Array.from({ length: 50 }, () => countingSink());
    for (const sink of sinks) new FetchOperation(host, request(2 << 20, budget), sink).start();
    // Two reads of 2 MiB fit; 48 wait on the router, none of them in the worker's ring.
    expect(pool.reads.length).toBe(2);
    expect(budget.waiting).toBe(48);
    let answered = 0;
    while (pool.reads.length > 0) {
      pool.answer(100);
      answered++;
      expect(pool.reads.length).toBeLessThanOrEqual(2);
    }
    expect(answered).toBe(50);
    expect(sinks.every((s) => s.finished === 1 && s.results === 1)).toBe(true);
    expect(budget.readsInFlight).toBe(0);
  });

  test("a closed client's queued reads are never issued; results of its issued reads are ignored", () => {
    const pool = new HeldReadsPool();
    const host = hostFor(pool);
    const budget = new FetchReadBudget({ bytesMax: 4 << 20 });
    const sinks = Array.from({ length: 20 }, () => countingSink());
    const ops = sinks.map((sink) => new FetchOperation(host, request(2 << 20, budget), sink));
    for (const op of ops) op.start();
    expect(pool.reads.length).toBe(2);
    // The connection closes: its fetches are cancelled and its budget closed.
    for (const op of ops) op.cancel();
    budget.close();
    pool.answer(100);
    pool.answer(100);
    expect(pool.reads.length).toBe(0);
    expect(sinks.reduce((n, s) => n + s.results + s.finished, 0)).toBe(0);
    expect(budget.readsInFlight).toBe(0);
  });

  test("a fetch cancelled while its read waits for ring room is not read when room frees", () => {
    const pool = new HeldReadsPool();
    const host = hostFor(pool);
    pool.full = true;
    const sink = countingSink();
    const budget = new FetchReadBudget();
    const op = new FetchOperation(host, request(1 << 20, budget), sink);
    op.start();
    expect(pool.writable.length).toBe(1);
    expect(budget.readsInFlight).toBe(1); // held while it waits for room
    op.cancel();
    pool.makeWritable();
    expect(pool.reads.length).toBe(0);
    expect(sink.results + sink.finished).toBe(0);
    expect(budget.readsInFlight).toBe(0);
  });

  test("without a budget (in-process callers) reads are issued at once", () => {
    const pool = new HeldReadsPool();
    const host = hostFor(pool);
    for (let i = 0; i < 10; i++) new FetchOperation(host, request(2 << 20), countingSink()).start();
    expect(pool.reads.length).toBe(10);
  });
});
