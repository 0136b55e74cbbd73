// Counters and latency histograms of one front end (native or Kafka), rendered
// by /metrics. Histograms exist per served api (a bounded set: api keys the
// front end does not serve share one "other" histogram, so a client cannot
// grow this map).

import { Histogram } from "../metrics.ts";

export class ServerStats {
  /** The api's name when the front end serves `apiKey`, else null (counted as "other"). */
  readonly #nameOf: (apiKey: number) => string | null;
  /** The histograms of Produce (0) and Fetch (1), once they exist. */
  readonly #hot: (Histogram | undefined)[] = [undefined, undefined];
  readonly requestLatency = new Map<string, Histogram>();
  connectionsAccepted = 0;
  /** Connections closed at once because CONNECTIONS_MAX were open. */
  connectionsRefused = 0;
  /** Connections closed because a frame did not complete within the request timeout. */
  requestTimeouts = 0;
  /** Connections closed because their output queue passed its bound. */
  outputOverflows = 0;
  /** Connections closed because of a refused frame (size, or a header that does not parse). */
  framesRefused = 0;

  constructor(nameOf: (apiKey: number) => string | null) {
    this.#nameOf = nameOf;
  }

  observeRequest(apiKey: number, seconds: number): void {
    // Produce and Fetch (keys 0 and 1, every request of the hot path) skip the name lookup.
    let h = apiKey === 0 || apiKey === 1 ? this.#hot[apiKey] : undefined;
    if (h === undefined) {
      const name = this.#nameOf(apiKey) ?? "other";
      h = this.requestLatency.get(name);
      if (h === undefined) {
        h = new Histogram();
        this.requestLatency.set(name, h);
      }
      if (apiKey === 0 || apiKey === 1) this.#hot[apiKey] = h;
    }
    h.observe(seconds);
  }
}
