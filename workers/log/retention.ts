// Which segments retention deletes. A pure policy, so it can be tested without
// files: the caller deletes the segments and advances the log start offset.
//
// Contract: only whole sealed segments, oldest first, never the active one.
// Messages are kept whether or not anyone consumed them. A segment goes when
// - `retention.ms` ≥ 0 and its largest timestamp is older than now - retention.ms
//   (a segment without timestamps, largest -1, is never deleted by time), or
// - `retention.bytes` ≥ 0 and the partition stays at or above retention.bytes
//   without it (Kafka's rule: delete while size - segment ≥ retention.bytes).
// Deletion stops at the first segment that neither rule selects, so what is
// left is always a contiguous suffix of the log.

export interface RetentionCandidate {
  size: number;
  maxTimestamp: number;
}

export function segmentsToDelete(opts: {
  /** Sealed segments, oldest first (the active one excluded). */
  sealed: readonly RetentionCandidate[];
  /** Bytes of the whole partition, active segment included. */
  totalBytes: number;
  retentionMs: number;
  retentionBytes: number;
  nowMs: number;
}): number {
  const { sealed, retentionMs, retentionBytes, nowMs } = opts;
  let byTime = 0;
  if (retentionMs >= 0) {
    while (byTime < sealed.length) {
      const ts = sealed[byTime].maxTimestamp;
      if (ts < 0 || nowMs - ts <= retentionMs) break;
      byTime++;
    }
  }
  let bySize = 0;
  if (retentionBytes >= 0) {
    let excess = opts.totalBytes - retentionBytes;
    while (bySize < sealed.length && excess - sealed[bySize].size >= 0) {
      excess -= sealed[bySize].size;
      bySize++;
    }
  }
  return Math.max(byTime, bySize);
}
