// The event streams' bounds, in process: at most `streamsMax` open; a stream
// whose client reads nothing keeps at most one event queued and is closed
// after EVENT_STREAM_STALLED_TICKS_MAX skipped ticks, freeing its slot; a
// stream that is read gets every event.

import { expect, test } from "bun:test";
import { ApiError } from "./api_errors.ts";
import { EVENT_STREAM_STALLED_TICKS_MAX } from "./console_limits.ts";
import { EventStreams } from "./event_streams.ts";

test("over the limit a stream is refused with 503; a stalled one is closed and its slot freed", async () => {
  const streams = new EventStreams({ streamsMax: 2 });
  const stalled = streams.open(new AbortController().signal, { n: 0 });
  const read = streams.open(new AbortController().signal, { n: 0 });
  expect(streams.size).toBe(2);
  let refused: unknown;
  try {
    streams.open(new AbortController().signal, {});
  } catch (e) {
    refused = e;
  }
  expect(refused).toBeInstanceOf(ApiError);
  expect((refused as ApiError).status).toBe(503);

  const reader = read.body!.getReader();
  const decoder = new TextDecoder();
  let received = "";
  for (let tick = 1; tick <= EVENT_STREAM_STALLED_TICKS_MAX; tick++) {
    // The reading client takes what is queued before each tick, as a live page does.
    received += decoder.decode((await reader.read()).value);
    streams.broadcast("snapshot", { n: tick });
  }
  received += decoder.decode((await reader.read()).value);
  expect(streams.size).toBe(1); // the stalled one is gone
  expect(received.match(/event: snapshot/g)).toHaveLength(EVENT_STREAM_STALLED_TICKS_MAX + 1);
  expect(received).toContain(`data: {"n":${EVENT_STREAM_STALLED_TICKS_MAX}}`);

  // The stalled stream got its first event only, then its end.
  const stalledText = await stalled.text();
  expect(stalledText.match(/event: snapshot/g)).toHaveLength(1);
  streams.open(new AbortController().signal, {}); // the slot is free again
  streams.close();
  expect(streams.size).toBe(0);
});

test("an aborted request frees its slot at once", () => {
  const streams = new EventStreams({ streamsMax: 1 });
  const c = new AbortController();
  streams.open(c.signal, {});
  c.abort();
  expect(streams.size).toBe(0);
  streams.open(new AbortController().signal, {});
  streams.close();
});
