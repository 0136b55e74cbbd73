// The broker's one bound on open client connections (CONNECTIONS_MAX, or the
// connectionsMax setting), shared by every front end: a client cannot get
// twice the limit by opening the rest on the other listener.

export class ConnectionBudget {
  readonly max: number;
  #open = 0;

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) throw new Error(`connection budget: max must be a positive integer, got ${max}`);
    this.max = max;
  }

  get open(): number {
    return this.#open;
  }

  /** Takes one connection; false when `max` are open (the caller refuses it). */
  tryTake(): boolean {
    if (this.#open >= this.max) return false;
    this.#open++;
    return true;
  }

  give(): void {
    if (this.#open <= 0) throw new Error("connection budget: gave back more than taken");
    this.#open--;
  }
}
