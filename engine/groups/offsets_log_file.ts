// The partition log the offsets log writes to: workers' PartitionLog, opened on
// the router thread (the offsets log is small and written once per event-loop
// turn that carried commits; see offsets_log.ts), with settings of its own.

import { PartitionLog, parseTopicConfig } from "../../workers/mod.ts";
import { OFFSETS_SEGMENT_BYTES } from "../engine_limits.ts";
import type { OffsetsLogFile } from "./offsets_log.ts";

/**
 * Segments of OFFSETS_SEGMENT_BYTES; nothing is ever deleted by time or size: an offset committed a month
 * ago by a group that still exists must survive. The offsets log flushes itself
 * after each append, so the flush settings are never consulted.
 */
const OFFSETS_LOG_CONFIG = parseTopicConfig({
  "segment.bytes": OFFSETS_SEGMENT_BYTES,
  "retention.ms": -1,
  "retention.bytes": -1,
});

export function openOffsetsLogFile(dir: string): OffsetsLogFile {
  return PartitionLog.open({ dir, config: OFFSETS_LOG_CONFIG });
}
