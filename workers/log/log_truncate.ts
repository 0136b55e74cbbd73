// truncateTo(offset): cuts a partition log back, as a follower does after a
// leader change when its log diverged from the new leader's (Kafka's
// truncation to the end of the last common leader epoch).
//
// What it does, in this order, so that a crash at any step leaves a log that
// opens (recovery_point.ts, recovery.ts) and at worst still holds part of the
// suffix being cut (the follower cuts again after its next check against the
// leader: truncation is idempotent):
// 1. Writes what is staged (it lies past the log end, so the cut removes it
//    too; those appends were never acknowledged as durable).
// 2. Moves the recovery point back to the cut (fsynced) if it was past it, so
//    the point never names bytes or a segment that is about to go.
// 3. Removes every segment after the one holding the cut (the .log first),
//    and fsyncs the directory.
// 4. Cuts that segment at the first batch holding `offset` (a batch is never
//    split: the new log end is that batch's base offset, ≤ `offset`), makes it
//    the active segment again, fdatasyncs it, rebuilds its in-memory indexes
//    and removes its index files (an active segment's are written at checkpoint).
// 5. Forgets the leader epochs starting at or past the new end (leader-epoch
//    file written durably); appends are stamped with the latest one left.
// 6. Moves the log end and the durable point back to the cut and records the
//    recovery point there (fsynced). The durable offset moves back only here.
// 7. Rebuilds the idempotent producers' state from what is left and writes it
//    as the snapshot of the new end (producer_state_snapshot.ts); a snapshot
//    naming a point past the cut was removed before step 2. Otherwise a retry
//    of a cut batch would be answered as a duplicate of offsets no longer held.
//
// The worker journal is NOT this file's business, but it must be handled
// before this runs: a journal record is a redo of bytes at a position of a
// segment, and replaying one after a crash would write truncated bytes back
// (or over what was appended since). The partition host checkpoints the
// journal first (JournalRounds.beforeTruncate), so no record of the current
// generation covers this partition.

import { assert } from "../../protocol/assert.ts";
import { readI32, readI64Number } from "../../protocol/big_endian.ts";
import { BATCH_LENGTH_OFFSET, BATCH_OVERHEAD_BYTES, LAST_OFFSET_DELTA_OFFSET } from "../../protocol/record_batch.ts";
import { readFully } from "./file_ops.ts";
import type { LogState } from "./log_state.ts";
import { dropSnapshotPast, rebuildAfterTruncate } from "./producer_state_snapshot.ts";
import { ReplicaLogError } from "./replica_log_error.ts";
import type { Segment } from "./segment_file.ts";
import { ScanBuffer, scanSegment } from "./segment_scan.ts";

/** What the appender must forget when the log is cut (LogAppender.afterTruncate). */
export interface TruncateHooks {
  writeStaged(): void;
  afterTruncate(): void;
}

export interface TruncateResult {
  /** The log end after the cut (≤ the offset asked for: batches are never split). */
  logEndOffset: number;
  /** Offsets removed. */
  removedOffsets: number;
  /** Segments removed whole. */
  removedSegments: number;
}

const HEADER_PREFIX_BYTES = LAST_OFFSET_DELTA_OFFSET + 4;

export function truncateLog(s: LogState, appender: TruncateHooks, offset: number): TruncateResult {
  s.assertWritable();
  if (!Number.isSafeInteger(offset) || offset < s.logStartOffset) {
    throw new ReplicaLogError("TRUNCATE_OUT_OF_RANGE", `cannot truncate to ${offset}: the log starts at ${s.logStartOffset}`);
  }
  appender.writeStaged();
  const oldEnd = s.logEndOffset;
  if (offset >= oldEnd) return { logEndOffset: oldEnd, removedOffsets: 0, removedSegments: 0 };
  const i = s.segs.floorIndex(offset);
  assert(i >= 0, "log truncate: an offset at or past the log start lies in a segment", offset);
  const seg = s.segs.at(i);
  try {
    const cut = cutPosition(s, seg, offset);
    // 7 (first half). A snapshot of batches past the cut goes before anything is cut (fsynced with the directory).
    if (dropSnapshotPast(s.files, s.dir, cut.offset)) s.files.fsyncDir(s.dir);
    // 2. The point never names what is about to go.
    if (s.durable > cut.offset) s.recoveryPoint.checkpoint({ offset: cut.offset, segmentBaseOffset: seg.baseOffset, position: cut.position });
    // 3. Later segments go whole, newest first.
    const removed = s.segs.truncateFrom(i + 1);
    for (let k = removed.length - 1; k >= 0; k--) {
      const r = removed[k];
      s.fds.release(r);
      s.locator.forget(r);
      r.close(s.files);
      r.unlinkFiles(s.files);
      r.retired = true;
    }
    // 4. The segment holding the cut is the active one again, open for writing.
    s.fds.release(seg);
    s.locator.forget(seg);
    seg.close(s.files);
    seg.fd = s.files.open(seg.logPath, "r+");
    seg.sealed = false;
    s.files.ftruncate(seg.fd, cut.position);
    s.files.fdatasync(seg.fd);
    seg.resetForScan();
    const scan = scanSegment({ files: s.files, segment: seg, from: 0, to: cut.position, validate: false, indexIntervalBytes: s.cfg.indexIntervalBytes, buffer: new ScanBuffer() });
    if (scan.failure !== null) throw new Error(`rescanning ${seg.name} after the cut: ${scan.failure.reason}`);
    assert(seg.size === cut.position && seg.nextOffset === cut.offset, "log truncate: the cut segment ends at the cut", seg.size);
    for (const p of [seg.indexPath, seg.timeIndexPath]) if (s.files.exists(p)) s.files.unlink(p);
    seg.rollBaseMs = seg.size === 0 ? -1 : s.now();
    s.segs.recount();
    s.files.fsyncDir(s.dir);
    // 5. Epochs that started in what was cut.
    s.epochs.truncateFromEnd(cut.offset);
    // An epoch set but cut (it started past the cut) is not stamped any more: the next setLeaderEpoch() starts one again.
    if (s.leaderEpoch > s.epochs.latestEpoch) s.leaderEpoch = s.epochs.latestEpoch;
    // 6. Durability moves back with the log end: the only place it does.
    s.durable = cut.offset;
    s.durablePosition = cut.position;
    s.durableMaxTimestamp = seg.maxTimestamp;
    appender.afterTruncate();
    // The one place durability moves back: to the cut exactly, with everything before it synced (the cut segment just now, the sealed ones when sealed).
    assert(s.durable === s.logEndOffset && s.durablePosition === s.segs.active.size, "log truncate: the durable point is the new log end", s.durable);
    s.recoveryPoint.checkpoint({ offset: cut.offset, segmentBaseOffset: seg.baseOffset, position: cut.position });
    // 7. The producers as of the new end.
    rebuildAfterTruncate(s);
    return { logEndOffset: cut.offset, removedOffsets: oldEnd - cut.offset, removedSegments: removed.length };
  } catch (e) {
    if (e instanceof ReplicaLogError) throw e;
    return s.fail(e, `truncating to offset ${offset}`);
  }
}

/** The position and base offset of the first batch of `seg` holding `offset` (or its end). */
function cutPosition(s: LogState, seg: Segment, offset: number): { position: number; offset: number } {
  // From the last index entry at or below the offset: an entry is a batch start with a base ≤ the offset.
  const index = s.indexesOf(seg);
  const entry = index.floorByOffset(offset - seg.baseOffset);
  let pos = entry < 0 ? 0 : index.positionAt(entry);
  const fd = s.fds.fdOf(seg);
  const head = new Uint8Array(HEADER_PREFIX_BYTES);
  while (pos < seg.size) {
    if (readFully(s.files, fd, head, 0, HEADER_PREFIX_BYTES, pos) < HEADER_PREFIX_BYTES) throw new Error(`short read of a batch header in ${seg.name} at ${pos}`);
    const base = readI64Number(head, 0);
    if (base + readI32(head, LAST_OFFSET_DELTA_OFFSET) >= offset) return { position: pos, offset: base };
    pos += BATCH_OVERHEAD_BYTES + readI32(head, BATCH_LENGTH_OFFSET);
  }
  return { position: seg.size, offset: seg.nextOffset };
}
