// Responses matched to their requests by correlation id, for the raw test
// clients of both protocols (raw_client.ts: native; kafka_raw_client.ts:
// Kafka): a response that arrives before anyone asks is kept until asked for,
// one asked for waits with a deadline, and the connection's close fails every
// wait. The clients only frame and decode; this is the part they share.

export interface MatchedResponse {
  correlationId: number;
  /** The response body, after the header (a copy: it outlives the socket's buffers). */
  body: Uint8Array;
}

interface Waiter<R> {
  resolve: (r: R) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class ResponsesById<R extends MatchedResponse> {
  readonly #arrived = new Map<number, R>();
  readonly #waiting = new Map<number, Waiter<R>>();
  #closedError: Error | null = null;
  /** Correlation ids in the order responses arrived, for ordering checks. */
  readonly arrivalOrder: number[] = [];

  get isClosed(): boolean {
    return this.#closedError !== null;
  }

  /** Responses received that nobody asked for yet. */
  get unclaimed(): number {
    return this.#arrived.size;
  }

  /** A response came off the wire: to its waiter, else kept. */
  deliver(response: R): void {
    this.arrivalOrder.push(response.correlationId);
    const w = this.#waiting.get(response.correlationId);
    if (w === undefined) {
      this.#arrived.set(response.correlationId, response);
      return;
    }
    this.#waiting.delete(response.correlationId);
    clearTimeout(w.timer);
    w.resolve(response);
  }

  /** The response with this correlation id (waits for it, with a deadline). */
  take(correlationId: number, timeoutMs: number): Promise<R> {
    const got = this.#arrived.get(correlationId);
    if (got !== undefined) {
      this.#arrived.delete(correlationId);
      return Promise.resolve(got);
    }
    if (this.#closedError !== null) return Promise.reject(this.#closedError);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(correlationId);
        reject(new Error(`no response to correlation id ${correlationId} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(correlationId, { resolve, reject, timer });
    });
  }

  /** The connection closed: every wait fails, and so does every later one for a response not kept. */
  close(): void {
    this.#closedError = new Error("connection closed");
    for (const w of this.#waiting.values()) {
      clearTimeout(w.timer);
      w.reject(this.#closedError);
    }
    this.#waiting.clear();
  }
}
