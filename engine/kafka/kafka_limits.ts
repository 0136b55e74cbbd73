// Limits of the Kafka front end. (Wire limits shared with the native protocol
// live in protocol/limits.ts; the Kafka codecs' own in the same file.)

import { FRAME_BYTES_MAX, INFLIGHT_BYTES_MAX } from "../../protocol/limits.ts";

/**
 * Largest Kafka request frame read (the size prefix is checked against it
 * before a byte of the frame is buffered); a larger one closes the
 * connection. Kafka's own socket.request.max.bytes is 100 MiB, but clients
 * send at most max.request.size (1 MiB by default) per request, and this
 * broker bounds a produce batch by BATCH_BYTES_MAX anyway: one native frame's
 * worth is room enough.
 */
export const KAFKA_FRAME_BYTES_MAX = FRAME_BYTES_MAX;

/** The writer a Kafka connection encodes responses into is dropped once it grew past this (one large answer does not pin memory). */
export const KAFKA_WRITER_RETAINED_BYTES_MAX = 1024 * 1024;

if (INFLIGHT_BYTES_MAX < KAFKA_FRAME_BYTES_MAX) {
  throw new Error("kafka limits: in-flight bytes must admit one maximal Kafka frame");
}
