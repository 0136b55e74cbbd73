// One setTimeout armed for the earliest of many deadlines, shared by
// DeadlineTimer (parked fetches) and TimeoutLists (produce timeouts). Its
// owner re-arms it for its new earliest deadline after each firing; removing
// a deadline does not re-arm (a timer that fires early finds nothing due and
// is re-armed), which is cheaper than a clearTimeout per removal.

export class EarliestTimer {
  readonly #onFire: () => void;
  readonly #now: () => number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #armedForMs = Infinity;

  /** `now` is the clock the deadlines are in. */
  constructor(onFire: () => void, now: () => number) {
    this.#onFire = onFire;
    this.#now = now;
  }

  /** The deadline the timer is armed for; Infinity when it is not armed. */
  get armedForMs(): number {
    return this.#armedForMs;
  }

  /** Arms for `atMs` (replacing any earlier arming); Infinity disarms. */
  armFor(atMs: number): void {
    this.disarm();
    if (atMs === Infinity) return;
    this.#armedForMs = atMs;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#armedForMs = Infinity;
      this.#onFire();
    }, Math.max(0, Math.ceil(atMs - this.#now())));
  }

  disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedForMs = Infinity;
  }
}
