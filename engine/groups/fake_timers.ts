// A clock for tests: time moves only when the test calls advance(), and due
// timers fire in deadline order (ties in the order they were set).

import type { TimerHandle, Timers } from "./timers.ts";

interface Pending {
  id: number;
  at: number;
  fn: () => void;
}

export class FakeTimers implements Timers {
  private nowMs: number;
  private nextId = 1;
  private pending: Pending[] = [];

  constructor(startMs = 1_000_000) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  set(fn: () => void, delayMs: number): TimerHandle {
    const p = { id: this.nextId++, at: this.nowMs + Math.max(0, delayMs), fn };
    this.pending.push(p);
    return { id: p.id };
  }

  clear(handle: TimerHandle): void {
    this.pending = this.pending.filter((p) => p.id !== handle.id);
  }

  /** Moves the clock forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const end = this.nowMs + ms;
    for (;;) {
      let next: Pending | undefined;
      for (const p of this.pending) if (p.at <= end && (next === undefined || p.at < next.at || (p.at === next.at && p.id < next.id))) next = p;
      if (next === undefined) break;
      this.pending = this.pending.filter((p) => p !== next);
      this.nowMs = Math.max(this.nowMs, next.at);
      next.fn();
    }
    this.nowMs = end;
  }

  get armed(): number {
    return this.pending.length;
  }
}
