// The idempotent producers' state on disk: a snapshot file per partition, and
// the rebuild at open from the snapshot plus the batch headers after it.
//
// Runs on: the partition worker thread (PartitionLog: open, roll, checkpoint, close).
//
// Contract:
// - `producer-state` in the partition directory holds the state as of one log
//   offset (the log end when it was written) and where that offset is (segment
//   base offset, byte position), then every producer (least recently appended
//   first) with its epoch and cached batches, then a CRC-32C of all of it. It is
//   written to `producer-state.tmp`, fdatasynced and renamed over the old one
//   (recovery removes a leftover .tmp); the directory fsync that follows (the
//   recovery point's, at a roll or checkpoint) makes the rename durable. So a
//   crash leaves the old snapshot or the new one, never half of one.
// - Written when a segment rolls, at checkpoint() and close(), with nothing
//   staged: the state then is exactly that of the batches in the log below the
//   offset it names.
// - At open, after recovery: the snapshot is taken when its CRC holds and its
//   offset is still in the log (its segment exists and the batch boundary at
//   its position is that offset); then the batch headers from there to the log
//   end are read (headers only: producer id, epoch, base sequence, offsets; no
//   record is decoded) and applied in order. Otherwise (no snapshot, damaged,
//   or past the log end after a power loss cut the tail, or in a segment
//   retention deleted) the state is rebuilt from the headers of the newest
//   segments holding PRODUCER_STATE_REBUILD_BYTES (the whole log when it is
//   smaller). A producer with no batch in them (or whose batches retention
//   deleted) is then unknown, and accepted at any sequence, as in Kafka.
// - When the log is cut back (log_truncate.ts), a snapshot naming a point past
//   the cut is removed before anything is cut (dropSnapshotPast), and after the
//   cut the state is rebuilt as at open from what is left (a snapshot at or
//   below the cut, else the newest PRODUCER_STATE_REBUILD_BYTES) and written as
//   the snapshot of the new log end (rebuildAfterTruncate). Otherwise a retry of
//   a batch that was cut would be answered as a duplicate, and a stale snapshot
//   could name a point that later appends make valid again.

import * as path from "node:path";
import { assert } from "../../protocol/assert.ts";
import { readI16, readI32, readI64Number, readU32, writeI16, writeI32, writeI64Number } from "../../protocol/big_endian.ts";
import { crc32c } from "../../protocol/crc32c.ts";
import {
  BASE_SEQUENCE_OFFSET,
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_OFFSET,
  BATCH_OVERHEAD_BYTES,
  LAST_OFFSET_DELTA_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
} from "../../protocol/record_batch.ts";
import { type FileOps, readFully } from "./file_ops.ts";
import type { LogState } from "./log_state.ts";
import { PRODUCER_BATCHES_CACHED, PRODUCER_STATE_REBUILD_BYTES, RECOVERY_READ_BYTES } from "./log_limits.ts";
import { type ProducerStateTable, addSequence } from "./producer_state.ts";
import { type Segment, writeFileAtomically } from "./segment_file.ts";

export const PRODUCER_STATE_FILE = "producer-state";

// Format (big-endian):
//   0  magic u32 "SLPS"   4  version u16   6  reserved u16
//   8  offset i64        16  segmentBaseOffset i64   24  position i64
//  32  producers u32
//  36  per producer: id i64, epoch i16, batches u8, reserved u8, then per batch:
//        firstSeq i32, lastSeq i32, baseOffset i64, lastOffset i64
//  end: CRC-32C u32 of every byte before it
const MAGIC = 0x534c5053;
const VERSION = 1;
const HEADER_BYTES = 36;
const PRODUCER_BYTES = 12;
const BATCH_BYTES = 24;
const CRC_BYTES = 4;

export interface SnapshotPoint {
  /** The log offset the state is as of (every batch below it is in the state). */
  offset: number;
  /** The segment that offset is in, and its byte position there. */
  segmentBaseOffset: number;
  position: number;
}

export function encodeSnapshot(table: ProducerStateTable, at: SnapshotPoint): Uint8Array {
  let bytes = HEADER_BYTES + CRC_BYTES;
  for (const e of table.entries()) bytes += PRODUCER_BYTES + e.count * BATCH_BYTES;
  const out = new Uint8Array(bytes);
  writeI32(out, 0, MAGIC);
  writeI16(out, 4, VERSION);
  writeI64Number(out, 8, at.offset);
  writeI64Number(out, 16, at.segmentBaseOffset);
  writeI64Number(out, 24, at.position);
  writeI32(out, 32, table.size);
  let p = HEADER_BYTES;
  for (const e of table.entries()) {
    writeI64Number(out, p, e.id);
    writeI16(out, p + 8, e.epoch);
    out[p + 10] = e.count;
    p += PRODUCER_BYTES;
    for (const b of e.batches()) {
      writeI32(out, p, b.firstSeq);
      writeI32(out, p + 4, b.lastSeq);
      writeI64Number(out, p + 8, b.baseOffset);
      writeI64Number(out, p + 16, b.lastOffset);
      p += BATCH_BYTES;
    }
  }
  writeI32(out, p, crc32c(out, 0, p));
  assert(p + CRC_BYTES === out.length, "producer snapshot: the encoding fills the buffer exactly", p);
  return out;
}

/**
 * Decodes a snapshot into `table` (cleared first) and returns its point, or a
 * reason it is unusable (the table is left empty then).
 */
export function decodeSnapshot(bytes: Uint8Array, table: ProducerStateTable): SnapshotPoint | string {
  table.clear();
  if (bytes.length < HEADER_BYTES + CRC_BYTES) return `${bytes.length} bytes, shorter than a header`;
  const end = bytes.length - CRC_BYTES;
  if (readU32(bytes, end) !== crc32c(bytes, 0, end)) return "CRC mismatch";
  if (readU32(bytes, 0) !== MAGIC) return "bad magic";
  if (readI16(bytes, 4) !== VERSION) return `unknown version ${readI16(bytes, 4)}`;
  const at = { offset: readI64Number(bytes, 8), segmentBaseOffset: readI64Number(bytes, 16), position: readI64Number(bytes, 24) };
  const producers = readU32(bytes, 32);
  let p = HEADER_BYTES;
  for (let i = 0; i < producers; i++) {
    if (p + PRODUCER_BYTES > end) return fail(table, "producers run past the end");
    const id = readI64Number(bytes, p);
    const epoch = readI16(bytes, p + 8);
    const n = bytes[p + 10];
    p += PRODUCER_BYTES;
    if (n < 1 || n > PRODUCER_BATCHES_CACHED || p + n * BATCH_BYTES > end) return fail(table, `producer ${id}: ${n} batches`);
    for (let k = 0; k < n; k++) {
      table.restore(id, epoch, readI32(bytes, p), readI32(bytes, p + 4), readI64Number(bytes, p + 8), readI64Number(bytes, p + 16));
      p += BATCH_BYTES;
    }
  }
  if (p !== end) return fail(table, "bytes after the last producer");
  return at;
}

function fail(table: ProducerStateTable, reason: string): string {
  table.clear();
  return reason;
}

/** Writes the snapshot atomically (temp + fdatasync + rename); the caller's directory fsync makes the rename durable. */
export function writeSnapshot(files: FileOps, dir: string, table: ProducerStateTable, at: SnapshotPoint): void {
  writeFileAtomically(files, path.join(dir, PRODUCER_STATE_FILE), encodeSnapshot(table, at));
}

export interface ProducerStateLoad {
  /** Where the header walk started: "snapshot" (from its point) or "log" (from the log start). */
  from: "snapshot" | "log";
  /** Why the snapshot was not used (null when it was). */
  snapshotRejected: string | null;
  /** Batch headers read. */
  batchesRead: number;
}

/**
 * Fills `table` for a log just recovered: the snapshot, then the batch headers
 * after its point; or every batch header if the snapshot is unusable (see the top).
 * `fdOf` gives a segment's descriptor (sealed ones are opened on demand).
 */
export function loadProducerState(opts: {
  files: FileOps;
  dir: string;
  segments: readonly Segment[];
  fdOf: (seg: Segment) => number;
  table: ProducerStateTable;
}): ProducerStateLoad {
  const { files, dir, segments, table } = opts;
  const file = path.join(dir, PRODUCER_STATE_FILE);
  let rejected: string | null = "no snapshot";
  let startIndex = 0;
  let startPosition = 0;
  if (files.exists(file)) {
    const fd = files.open(file, "r");
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(files.size(fd));
      readFully(files, fd, bytes, 0, bytes.length, 0);
    } finally {
      files.close(fd);
    }
    const at = decodeSnapshot(bytes, table);
    if (typeof at === "string") rejected = at;
    else {
      const k = segments.findIndex((s) => s.baseOffset === at.segmentBaseOffset);
      if (k < 0) rejected = `its segment ${at.segmentBaseOffset} is not in the log`;
      else if (!atBoundary(files, opts.fdOf(segments[k]), segments[k], at)) rejected = `offset ${at.offset} is not at byte ${at.position} of its segment`;
      else {
        rejected = null;
        startIndex = k;
        startPosition = at.position;
      }
    }
    if (rejected !== null) table.clear();
  }
  if (rejected !== null) startIndex = rebuildStart(segments);
  let batchesRead = 0;
  const buffer = new Uint8Array(RECOVERY_READ_BYTES);
  for (let i = startIndex; i < segments.length; i++) {
    const seg = segments[i];
    batchesRead += walkHeaders(files, opts.fdOf(seg), seg.size, i === startIndex ? startPosition : 0, buffer, table);
  }
  return { from: rejected === null ? "snapshot" : "log", snapshotRejected: rejected, batchesRead };
}

/** The first of the newest segments that hold PRODUCER_STATE_REBUILD_BYTES (0: the whole log). */
function rebuildStart(segments: readonly Segment[]): number {
  let bytes = 0;
  for (let i = segments.length - 1; i >= 0; i--) {
    bytes += segments[i].size;
    if (bytes >= PRODUCER_STATE_REBUILD_BYTES) return i;
  }
  return 0;
}

/** Whether `at` names a batch boundary of the segment (or its end) at the offset it says. */
function atBoundary(files: FileOps, fd: number, seg: Segment, at: SnapshotPoint): boolean {
  if (at.position === seg.size) return at.offset === seg.nextOffset;
  if (at.position > seg.size || at.position + BATCH_HEADER_BYTES > seg.size) return false;
  const header = new Uint8Array(8);
  if (readFully(files, fd, header, 0, 8, at.position) < 8) return false;
  return readI64Number(header, 0) === at.offset;
}

/** Applies the producer fields of every batch header in [from, size) of a segment; returns the batches read. */
function walkHeaders(files: FileOps, fd: number, size: number, from: number, buffer: Uint8Array, table: ProducerStateTable): number {
  let batches = 0;
  let pos = from;
  let start = 0;
  let length = 0;
  while (pos < size) {
    if (pos < start || pos + BATCH_HEADER_BYTES > start + length) {
      // Recovery placed every batch below `size`: a header is always whole in the file.
      length = readFully(files, fd, buffer, 0, Math.min(buffer.length, size - pos), pos);
      start = pos;
      assert(length >= BATCH_HEADER_BYTES, "producer state: a recovered segment holds whole batch headers", pos);
    }
    const h = pos - start;
    const batchBytes = BATCH_OVERHEAD_BYTES + readI32(buffer, h + BATCH_LENGTH_OFFSET);
    const producerId = readI64Number(buffer, h + PRODUCER_ID_OFFSET);
    if (producerId >= 0) {
      const baseOffset = readI64Number(buffer, h);
      const delta = readI32(buffer, h + LAST_OFFSET_DELTA_OFFSET);
      const seq = readI32(buffer, h + BASE_SEQUENCE_OFFSET);
      table.restore(producerId, readI16(buffer, h + PRODUCER_EPOCH_OFFSET), seq, addSequence(seq, delta), baseOffset, baseOffset + delta);
    }
    batches++;
    pos += batchBytes;
  }
  return batches;
}

/**
 * Snapshot of a log's producers as of its log end (the end of the active
 * segment), for a roll, checkpoint() or close(); only with nothing staged, so
 * the state is exactly that of the log below that point.
 */
export function snapshotProducers(s: Pick<LogState, "files" | "dir" | "producers" | "segs">): void {
  const active = s.segs.active;
  writeSnapshot(s.files, s.dir, s.producers, { offset: active.nextOffset, segmentBaseOffset: active.baseOffset, position: active.size });
}

/**
 * Before a cut at `offset`: removes the snapshot unless it names a point at or
 * below the cut (a damaged one goes too). The caller fsyncs the directory
 * before anything is cut, so no crash leaves a snapshot of batches past the cut.
 * Returns whether a file was removed.
 */
export function dropSnapshotPast(files: FileOps, dir: string, offset: number): boolean {
  const file = path.join(dir, PRODUCER_STATE_FILE);
  if (!files.exists(file)) return false;
  const fd = files.open(file, "r");
  const head = new Uint8Array(16);
  let got: number;
  try {
    got = readFully(files, fd, head, 0, head.length, 0);
  } finally {
    files.close(fd);
  }
  if (got === head.length && readU32(head, 0) === MAGIC && readI64Number(head, 8) <= offset) return false;
  files.unlink(file);
  return true;
}

/**
 * After a cut (log_truncate.ts): forgets every producer, rebuilds the state
 * from the snapshot left (at or below the cut) or the newest segments, and
 * writes it as the snapshot of the new log end. Nothing may be staged.
 */
export function rebuildAfterTruncate(s: Pick<LogState, "files" | "dir" | "producers" | "segs" | "fds">): ProducerStateLoad {
  s.producers.clear();
  const segments: Segment[] = [];
  for (const seg of s.segs) segments.push(seg);
  const load = loadProducerState({ files: s.files, dir: s.dir, segments, fdOf: (seg) => s.fds.fdOf(seg), table: s.producers });
  snapshotProducers(s);
  s.files.fsyncDir(s.dir);
  return load;
}
