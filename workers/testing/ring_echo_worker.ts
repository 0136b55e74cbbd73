// Test peer for ring.test.ts: consumes entries from ring A, checks each payload
// against the pattern the test wrote, and answers each with a 16-byte entry on
// ring B carrying (sequence, checksum). Blocks with Atomics.wait (a worker may).

import { RingConsumer, RingProducer } from "../ring.ts";
import { patternByte } from "./ring_pattern.ts";

declare const self: Worker;

self.onmessage = (event: MessageEvent) => {
  const { requests, replies, count, rewindAtBytes } = event.data as {
    requests: SharedArrayBuffer;
    replies: SharedArrayBuffer;
    count: number;
    rewindAtBytes?: number;
  };
  const input = new RingConsumer(requests);
  const output = new RingProducer(replies, { rewindAtBytes });
  let seq = 0;
  let errors = 0;
  let pendingReplies = 0;
  while (seq < count) {
    const kind = input.read();
    if (kind === -1) {
      if (pendingReplies > 0) {
        output.publish();
        pendingReplies = 0;
      }
      input.release();
      input.waitForDataSync(1000);
      continue;
    }
    // kind carries the sequence number + 1 so a skipped or repeated entry shows.
    if (kind !== seq + 1) errors++;
    let checksum = 0;
    for (let i = 0; i < input.length; i++) {
      const b = input.bytes[input.offset + i];
      if (b !== patternByte(seq, i)) errors++;
      checksum = (checksum * 33 + b) >>> 0;
    }
    input.advance();
    let at = output.reserve(1, 16);
    while (at === -1) {
      output.publish();
      input.release();
      pendingReplies = 0;
      output.waitForRoomSync(16, 1000);
      at = output.reserve(1, 16);
    }
    output.u32[at >>> 2] = seq;
    output.u32[(at >>> 2) + 1] = checksum;
    output.u32[(at >>> 2) + 2] = input.length;
    output.u32[(at >>> 2) + 3] = errors;
    output.commit();
    pendingReplies++;
    seq++;
    // Publish and release in batches, as the real peers do.
    if (pendingReplies >= 64) {
      output.publish();
      input.release();
      pendingReplies = 0;
    }
  }
  output.publish();
  input.release();
  postMessage({ done: true, errors });
};
