// Time, injected. The coordinator reads the clock and arms timers only through
// this interface, so its state machine runs in tests under a fake clock that
// the test advances (see fake_timers.ts), with no real waiting.

export interface Timers {
  now(): number;
  set(fn: () => void, delayMs: number): TimerHandle;
  clear(handle: TimerHandle): void;
}

export type TimerHandle = { readonly id: number };

export function systemTimers(): Timers {
  const live = new Map<number, ReturnType<typeof setTimeout>>();
  let nextId = 1;
  return {
    now: () => Date.now(),
    set(fn, delayMs) {
      const id = nextId++;
      live.set(id, setTimeout(() => {
        live.delete(id);
        fn();
      }, Math.max(0, delayMs)));
      return { id };
    },
    clear(handle) {
      const t = live.get(handle.id);
      if (t !== undefined) clearTimeout(t);
      live.delete(handle.id);
    },
  };
}
