// Counters and latency histograms of the native protocol server, rendered by
// /metrics. Histograms exist per served api (a bounded set: unknown api keys
// share one "other" histogram, so a client cannot grow this map).

import { apiName } from "../../protocol/api_keys.ts";
import { Histogram } from "../metrics.ts";
import type { Dispatcher } from "./dispatch.ts";

export class ServerStats {
  readonly #dispatcher: Dispatcher;
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
  /** Connections closed because of a refused frame size. */
  framesRefused = 0;

  constructor(dispatcher: Dispatcher) {
    this.#dispatcher = dispatcher;
  }

  observeRequest(apiKey: number, seconds: number): void {
    // Produce and Fetch (keys 0 and 1, every request of the hot path) skip the name lookup.
    let h = apiKey === 0 || apiKey === 1 ? this.#hot[apiKey] : undefined;
    if (h === undefined) {
      const name = this.#dispatcher.serves(apiKey, 0) ? apiName(apiKey) : "other";
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
