// Fixed offered load with coordinated-omission correction.
//
// With `--rate R` every message has an intended send time fixed in advance:
// message i of a producer offering r msgs/s is due at start + i * 1000 / r.
// Latency is measured from that intended time, not from when the producer
// actually got to send it. If the broker stalls for 200 ms, the messages that
// should have gone out during the stall are sent late, in a burst, and each
// carries the wait it suffered; a closed-loop generator would instead have
// sent nothing during the stall and recorded one slow message, hiding the
// stall from every percentile (Gil Tene's "coordinated omission").

export class RateSchedule {
  readonly ratePerSec: number;
  readonly startMs: number;
  private readonly intervalMs: number;

  constructor(options: { ratePerSec: number; startMs: number }) {
    if (!(options.ratePerSec > 0) || !Number.isFinite(options.ratePerSec)) {
      throw new RangeError(`rate must be a positive number of msgs/s, got ${options.ratePerSec}`);
    }
    this.ratePerSec = options.ratePerSec;
    this.startMs = options.startMs;
    this.intervalMs = 1000 / options.ratePerSec;
  }

  /** When message `index` (0-based) is meant to be sent. */
  intendedMs(index: number): number {
    return this.startMs + index * this.intervalMs;
  }

  /** How many messages are due by `nowMs` (message i is due when intendedMs(i) <= nowMs). */
  dueBy(nowMs: number): number {
    if (nowMs < this.startMs) return 0;
    return Math.floor((nowMs - this.startMs) / this.intervalMs) + 1;
  }

  /** Milliseconds from `nowMs` until message `index` is due (0 when already due). */
  waitMs(index: number, nowMs: number): number {
    return Math.max(0, this.intendedMs(index) - nowMs);
  }
}

/** Splits a total rate over `producers` so that the sum is exactly the total. */
export function splitRate(totalPerSec: number, producers: number): number[] {
  return Array.from({ length: producers }, () => totalPerSec / producers);
}

/** Splits a message count so the parts differ by at most one and sum to the total. */
export function splitCount(total: number, parts: number): number[] {
  const base = Math.floor(total / parts);
  const extra = total - base * parts;
  return Array.from({ length: parts }, (_, i) => base + (i < extra ? 1 : 0));
}
