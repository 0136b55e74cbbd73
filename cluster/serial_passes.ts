// Passes of a controller's state machine, one at a time: asking for a pass
// while one runs makes exactly one more after it (however many asked), so a
// burst of view changes costs at most two passes and no pass sees a half-done
// predecessor. Used by the controller's partition state machine and its move
// cut-over; a pass that finds work left for later (a write failed, a batch
// was capped) asks again from inside with again().

export class SerialPasses {
  readonly #pass: () => Promise<void>;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(pass: () => Promise<void>) {
    this.#pass = pass;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Asks for a pass: now, or one more after the running one. */
  schedule(): void {
    if (this.#stopped) return;
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        await this.#pass();
      } while (this.#again && !this.#stopped);
    })().finally(() => {
      this.#running = undefined;
    });
  }

  /** From inside a pass: run one more after it. */
  again(): void {
    this.#again = true;
  }

  /** From inside a pass: no more after it, even if asked meanwhile (the controller was deposed). */
  noMore(): void {
    this.#again = false;
  }

  /** Resolves when no pass is running. */
  async idle(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  /** No pass starts after this; resolves once the running one ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.idle();
  }
}
