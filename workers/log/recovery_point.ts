// The recovery point: the last position of the log known durable, persisted in
// the partition directory as `recovery-point`. On open, recovery trusts the log
// below it (damage found there is refused and reported, never cut) and
// validates every batch above it (a torn tail there is cut).
//
// Why it moves after every flush, without an fsync of its own
// - After every successful flush (the segment's fdatasync returned), the log
//   records the new durable point here with one small positional write and NO
//   fsync. A kill -9 leaves the page cache alone, so after one the file names
//   exactly the durable offset: everything acknowledged with acks=all is below
//   the point, and a flipped bit in it is damage, refused and reported — it can
//   no longer be mistaken for a torn tail and cut.
// - After a power loss the file may be stale (the write may not have reached
//   the disk), but it is never newer than the data it names: each point is
//   written only after the fdatasync covering that data returned. So what
//   recovery treats as a possible tail is data that was never acknowledged, or
//   acknowledged data in the stale window between the last point that reached
//   the disk and the power loss. Nothing below a point is ever missing unless
//   the disk lost fdatasynced data, which recovery then reports.
// - Rolls, checkpoint() and close write the point the same way and then
//   fdatasync this file and fsync the directory (the new segment's entry, the
//   index renames): after those the point survives a power loss too.
//
// Two fixed slots, so a torn write never loses the point
//   slot 0 at byte 0, slot 1 at byte RECOVERY_POINT_SLOT_BYTES (a page apart:
//   a torn page or sector damages at most one). Writes alternate between them,
//   always overwriting the older, each with a sequence number and a CRC-32C:
//
//     0  magic              u32  "SLRP"
//     4  version            u16  1
//     6  (zero)             u16
//     8  sequence           i64  counts up by one per write
//    16  offset             i64  offsets below this were durable
//    24  segmentBaseOffset  i64  the segment holding the point
//    32  position           i64  byte position of `offset` in it (a batch boundary)
//    40  crc                u32  CRC-32C of bytes [0, 40)
//
//   On open the valid slot with the highest sequence wins. A torn or damaged
//   slot falls back to the other; both bad (or no file) means no recovery
//   point: recovery validates everything, which is slower, never unsafe.
//
// The file is created at its full size and zero-filled once, so later slot
// writes overwrite allocated blocks: they need no free space.

import { assert } from "../../protocol/assert.ts";
import * as path from "node:path";
import { readI64Number, readU16, readU32, writeI16, writeI32, writeI64Number } from "../../protocol/big_endian.ts";
import { crc32c } from "../../protocol/crc32c.ts";
import { type FileOps, readFully, writeFully } from "./file_ops.ts";

// The file format (not limits: changing one changes what older files mean).
export const RECOVERY_POINT_FILE = "recovery-point";
/** The single JSON file of earlier versions: recovery removes it (a missing point is always safe). */
export const LEGACY_RECOVERY_POINT_FILE = "recovery-point.json";
/** Slot 1 starts a page after slot 0, so one torn page or sector cannot damage both. */
export const RECOVERY_POINT_SLOT_BYTES = 4096;
const SLOTS = 2;
const FILE_BYTES = SLOTS * RECOVERY_POINT_SLOT_BYTES;
const MAGIC = 0x534c5250; // "SLRP"
const VERSION = 1;
const CRC_AT = 40;
/** Bytes of a slot's record; the rest of the slot stays zero. */
export const RECOVERY_POINT_RECORD_BYTES = 44;

export interface RecoveryPoint {
  /** Offsets below this were durable when the point was taken. */
  offset: number;
  /** Base offset of the segment holding the point. */
  segmentBaseOffset: number;
  /** Byte position of `offset` in that segment (a batch boundary). */
  position: number;
}

/** A slot's record, or null when it is torn, damaged or empty. */
function decodeSlot(bytes: Uint8Array, at: number): (RecoveryPoint & { sequence: number }) | null {
  if (bytes.length < at + RECOVERY_POINT_RECORD_BYTES) return null;
  if (readU32(bytes, at) !== MAGIC || readU16(bytes, at + 4) !== VERSION) return null;
  if (readU32(bytes, at + CRC_AT) !== crc32c(bytes, at, at + CRC_AT)) return null;
  const sequence = readI64Number(bytes, at + 8);
  const offset = readI64Number(bytes, at + 16);
  const segmentBaseOffset = readI64Number(bytes, at + 24);
  const position = readI64Number(bytes, at + 32);
  if (!Number.isSafeInteger(sequence) || !Number.isSafeInteger(offset) || !Number.isSafeInteger(segmentBaseOffset)) return null;
  if (sequence < 1 || offset < segmentBaseOffset || segmentBaseOffset < 0 || !(position >= 0)) return null;
  return { sequence, offset, segmentBaseOffset, position };
}

function encodeSlot(out: Uint8Array, sequence: number, rp: RecoveryPoint): void {
  out.fill(0);
  writeI32(out, 0, MAGIC);
  writeI16(out, 4, VERSION);
  writeI64Number(out, 8, sequence);
  writeI64Number(out, 16, rp.offset);
  writeI64Number(out, 24, rp.segmentBaseOffset);
  writeI64Number(out, 32, rp.position);
  writeI32(out, CRC_AT, crc32c(out, 0, CRC_AT));
}

/** Both slots of an open file: the newest valid record and its sequence (0 when none). */
function readSlots(files: FileOps, fd: number): { point: RecoveryPoint | null; sequence: number } {
  const bytes = new Uint8Array(FILE_BYTES);
  const n = readFully(files, fd, bytes, 0, FILE_BYTES, 0);
  let best: (RecoveryPoint & { sequence: number }) | null = null;
  for (let slot = 0; slot < SLOTS; slot++) {
    const r = decodeSlot(bytes.subarray(0, n), slot * RECOVERY_POINT_SLOT_BYTES);
    if (r !== null && (best === null || r.sequence > best.sequence)) best = r;
  }
  if (best === null) return { point: null, sequence: 0 };
  return { point: { offset: best.offset, segmentBaseOffset: best.segmentBaseOffset, position: best.position }, sequence: best.sequence };
}

/** The recovery point, or null when there is no file or neither slot checks out. */
export function readRecoveryPoint(files: FileOps, dir: string): RecoveryPoint | null {
  const file = path.join(dir, RECOVERY_POINT_FILE);
  if (!files.exists(file)) return null;
  const fd = files.open(file, "r");
  try {
    return readSlots(files, fd).point;
  } finally {
    files.close(fd);
  }
}

/**
 * Writes the recovery point of one log. Opens (creating if needed) its file on
 * first use and keeps it open; one owner, like the log.
 */
export class RecoveryPointWriter {
  private readonly files: FileOps;
  private readonly dir: string;
  private readonly file: string;
  private fd = -1;
  private sequence = 0;
  private readonly slotBytes = new Uint8Array(RECOVERY_POINT_RECORD_BYTES);

  constructor(files: FileOps, dir: string) {
    this.files = files;
    this.dir = dir;
    this.file = path.join(dir, RECOVERY_POINT_FILE);
  }

  /** The sequence of the last record written (or found at open). */
  get lastSequence(): number {
    return this.sequence;
  }

  /**
   * Records a new point with one positional write into the older slot, no
   * fsync: exact after a kill -9, possibly stale after a power loss. Call only
   * after the fdatasync covering the point returned.
   */
  record(rp: RecoveryPoint): void {
    this.write(rp);
  }

  /**
   * Records a new point and makes it durable: fdatasync of this file, then an
   * fsync of the directory (which also makes creates and renames in it durable).
   */
  checkpoint(rp: RecoveryPoint): void {
    this.write(rp);
    this.files.fdatasync(this.fd);
    this.files.fsyncDir(this.dir);
  }

  close(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    this.files.close(fd);
  }

  private write(rp: RecoveryPoint): void {
    // Checked before the write; the read (decodeSlot) checks the CRC, since the disk may have changed the bytes since.
    assert(rp.segmentBaseOffset <= rp.offset, "recovery point: the durable offset is in or past its segment", rp.offset);
    assert(rp.position >= 0, "recovery point: a position in the segment", rp.position);
    if (this.fd < 0) this.openFile();
    const next = this.sequence + 1;
    // The file is created at full size: a slot write never grows it (no size to commit, no new blocks).
    assert((next % SLOTS) * RECOVERY_POINT_SLOT_BYTES + this.slotBytes.length <= FILE_BYTES, "recovery point: a slot write stays within the file", next);
    encodeSlot(this.slotBytes, next, rp);
    writeFully(this.files, this.fd, this.slotBytes, 0, this.slotBytes.length, (next % SLOTS) * RECOVERY_POINT_SLOT_BYTES);
    this.sequence = next;
  }

  private openFile(): void {
    const exists = this.files.exists(this.file);
    const fd = this.files.open(this.file, exists ? "r+" : "w+");
    try {
      const size = this.files.size(fd);
      if (size < FILE_BYTES) {
        // Full size at once, so that slot writes never grow the file.
        this.files.ftruncate(fd, FILE_BYTES);
        const zeros = new Uint8Array(FILE_BYTES - size);
        writeFully(this.files, fd, zeros, 0, zeros.length, size);
      }
      // Continue after the newest record on disk, so the next write goes to the older slot.
      this.sequence = readSlots(this.files, fd).sequence;
    } catch (e) {
      this.files.close(fd);
      throw e;
    }
    this.fd = fd;
  }
}
