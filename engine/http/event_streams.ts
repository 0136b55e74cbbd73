// GET /api/v1/events: server-sent events carrying the live snapshot, one
// `snapshot` event a second (the sampler's tick), so a page needs no polling.
//
// Bounds: at most EVENT_STREAMS_MAX streams at once (one more is answered 503
// with Retry-After, like a connection over connectionsMax is refused); a
// stream whose client does not read keeps at most one unread event queued
// (ticks are skipped meanwhile: a snapshot replaces the one before) and is
// closed after EVENT_STREAM_STALLED_TICKS_MAX skipped ticks in a row.

import { ApiError } from "./api_errors.ts";
import { EVENT_STREAM_STALLED_TICKS_MAX, EVENT_STREAMS_MAX } from "./console_limits.ts";

interface Stream {
  controller: ReadableStreamDefaultController<Uint8Array>;
  stalledTicks: number;
}

const encoder = new TextEncoder();

export class EventStreams {
  readonly #streams = new Set<Stream>();
  readonly #streamsMax: number;
  #closed = false;

  constructor(options: { streamsMax?: number } = {}) {
    this.#streamsMax = options.streamsMax ?? EVENT_STREAMS_MAX;
  }

  get size(): number {
    return this.#streams.size;
  }

  /** A new stream's response, starting with `first` (the current snapshot); 503 when EVENT_STREAMS_MAX are open. */
  open(signal: AbortSignal, first: unknown): Response {
    if (this.#closed) throw new ApiError(503, "LEADER_NOT_AVAILABLE", "the broker is shutting down");
    if (this.#streams.size >= this.#streamsMax) {
      throw new ApiError(503, "THROTTLING_QUOTA_EXCEEDED", `${this.#streamsMax} event streams are open already (the console's limit); close one or poll /api/v1/overview`);
    }
    let stream: Stream | undefined;
    const remove = () => {
      if (stream !== undefined) this.#streams.delete(stream);
    };
    const body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          stream = { controller, stalledTicks: 0 };
          this.#streams.add(stream);
          // Reconnect after 2 s if the connection drops (the browser's EventSource honours it).
          controller.enqueue(encoder.encode(`retry: 2000\n\n${frame("snapshot", first)}`));
        },
        cancel: remove,
      },
      { highWaterMark: 1 },
    );
    signal.addEventListener("abort", () => {
      if (stream === undefined || !this.#streams.has(stream)) return;
      remove();
      closeQuietly(stream.controller);
    });
    return new Response(body, {
      status: 200,
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-accel-buffering": "no",
      },
    });
  }

  /** Sends `data` as an event to every stream that has room; closes the ones stalled too long. */
  broadcast(event: string, data: unknown): void {
    if (this.#streams.size === 0) return;
    const bytes = encoder.encode(frame(event, data));
    for (const s of [...this.#streams]) {
      const room = s.controller.desiredSize;
      if (room === null || room <= 0) {
        if (++s.stalledTicks >= EVENT_STREAM_STALLED_TICKS_MAX) {
          this.#streams.delete(s);
          closeQuietly(s.controller);
        }
        continue;
      }
      s.stalledTicks = 0;
      try {
        s.controller.enqueue(bytes);
      } catch {
        this.#streams.delete(s); // closed under us
      }
    }
  }

  /** Ends every stream (broker stop); new ones are refused. */
  close(): void {
    this.#closed = true;
    for (const s of this.#streams) closeQuietly(s.controller);
    this.#streams.clear();
  }
}

function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

function closeQuietly(c: ReadableStreamDefaultController<Uint8Array>): void {
  try {
    c.close();
  } catch {
    // already closed or errored
  }
}
