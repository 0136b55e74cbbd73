// A fixed-size ring of samples: a time and a few values each. The console's
// charts read it as columns (uPlot's data layout: [times, series1, ...]).
// Memory is fixed at construction; the oldest sample is overwritten.

export class TimeSeries {
  readonly #capacity: number;
  readonly #times: Float64Array;
  readonly #values: Float64Array[];
  #next = 0;
  #size = 0;

  constructor(capacity: number, seriesCount: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`TimeSeries: capacity must be a positive integer, got ${capacity}`);
    this.#capacity = capacity;
    this.#times = new Float64Array(capacity);
    this.#values = Array.from({ length: seriesCount }, () => new Float64Array(capacity));
  }

  get size(): number {
    return this.#size;
  }

  push(timeMs: number, values: readonly number[]): void {
    if (values.length !== this.#values.length) throw new Error(`TimeSeries: expected ${this.#values.length} values, got ${values.length}`);
    this.#times[this.#next] = timeMs;
    for (let s = 0; s < values.length; s++) this.#values[s][this.#next] = values[s];
    this.#next = (this.#next + 1) % this.#capacity;
    if (this.#size < this.#capacity) this.#size++;
  }

  /** Oldest first: [times in seconds, series 0, series 1, ...]. */
  columns(): number[][] {
    const start = (this.#next - this.#size + this.#capacity) % this.#capacity;
    const pick = (a: Float64Array, scale: number): number[] => {
      const out = new Array<number>(this.#size);
      for (let i = 0; i < this.#size; i++) out[i] = a[(start + i) % this.#capacity] * scale;
      return out;
    };
    return [pick(this.#times, 1 / 1000), ...this.#values.map((v) => pick(v, 1))];
  }
}
