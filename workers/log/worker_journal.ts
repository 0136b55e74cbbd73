// The worker journal: one fdatasync makes the recent appends of all of a
// worker's partitions durable at once.
//
// Why: every partition is its own segment file, and Linux syncs one file per
// fdatasync. A worker hosting four partitions that all took a few small
// produces would pay four fdatasyncs in a row before it could answer them. With
// the journal it copies those unsynced bytes (whole batches, exactly as they sit
// in the segments) into one preallocated file and syncs that once. The segment
// files are synced later, when the journal is full (a checkpoint), when their
// segment rolls, or when the partition closes. Large rounds skip the journal:
// a partition with more than JOURNAL_PARTITION_ROUND_BYTES_MAX unsynced bytes
// is synced directly, so bulk data is not written twice.
//
// Durability contract (log_appender.ts has the log's half):
// - A journaled batch is DURABLE once the journal's fdatasync returned: then it
//   is in the segment file (page cache) and in the journal (disk).
// - The journal is preallocated with zeros and written in place, so its
//   fdatasync never has a file size to commit (cheaper on ext4).
// - A checkpoint fdatasyncs every segment that has journaled, unsynced bytes
//   and only then starts a new generation: header rewritten and fdatasynced,
//   writing starts over at the first record. Records of older generations are
//   ignored from then on.
// - A partition that closes (deleted, moved, shut down) is checkpointed first,
//   so a journal's current generation only names partitions open on its
//   worker. Records also name the partition's incarnation (its topic's id),
//   and replay skips those of another one: a journal kept after it failed
//   cannot feed old records to a topic deleted and created again since.
// - A record is a physical redo: these bytes go at this position of this
//   segment file. Segment bytes never change once written, so writing them
//   again is harmless, and replay needs nothing but the files.
// - At start, before any partition is opened (and recovered), replayJournals()
//   (journal_replay.ts) writes every record of the current generation back
//   into its segment, syncs, and removes the journals. Recovery then finds
//   what a power loss took from a segment's unsynced tail back in place, and
//   the recovery point (moved after each round, as after each fdatasync) still
//   tells lost acknowledged data from a torn tail if the journal is lost too.
//
// File layout (big-endian):
//   header, at 0 (HEADER_BYTES reserved)
//     0  magic       u32  "SLWJ"
//     4  version     u16  1
//     6  (zero)      u16
//     8  generation  f64  counts up from 1 per checkpoint
//    16  crc         u32  CRC-32C of bytes [0, 16)
//   records, back to back from HEADER_BYTES
//     0  bytes       u32  the whole record
//     4  crc         u32  CRC-32C of bytes [8, bytes)
//     8  generation  f64  the header's generation when written
//    16  dirBytes    u16  then the partition's name: its directory (UTF-8, relative
//                         to the data dir), '#', and its incarnation (the topic id)
//        segment     f64  base offset of the segment file the bytes belong to
//        position    f64  where in it they start
//        batches          whole record batches, exactly as in the segment
// A scan stops at the first record that is short, fails its CRC or has another
// generation: records are written in order and one fdatasync covers a round, so
// nothing acknowledged lies past a torn or stale record.

import { readU16, readU32, writeI16, writeI32 } from "../../protocol/big_endian.ts";
import { crc32c } from "../../protocol/crc32c.ts";
import { assert } from "../../protocol/assert.ts";
import { type FileOps, readFully, writeFully } from "./file_ops.ts";
import {
  JOURNAL_DIR_BYTES_MAX,
  JOURNAL_FILE_BYTES,
  JOURNAL_PARTITION_ROUND_BYTES_MAX,
  JOURNAL_PREALLOCATE_CHUNK_BYTES,
  JOURNAL_ROUND_BYTES_MAX,
} from "./log_limits.ts";

import * as nodePath from "node:path";

const KiB = 1024;

/** The directory under the data dir holding one journal per worker. */
export const JOURNAL_DIR_NAME = "journal";

export function workerJournalPath(dataDir: string, workerIndex: number): string {
  return nodePath.join(dataDir, JOURNAL_DIR_NAME, `worker-${workerIndex}.journal`);
}

// The file format, as laid out above (the journal's limits are in log_limits.ts).
export const JOURNAL_MAGIC = 0x534c574a; // "SLWJ"
export const JOURNAL_VERSION = 1;
export const JOURNAL_HEADER_BYTES = 4 * KiB;
/** Header bytes the header's CRC covers. */
const HEADER_CRC_AT = 16;
export const JOURNAL_RECORD_HEADER_BYTES = 18;
/** Segment base offset and position after the directory name. */
const RECORD_PLACE_BYTES = 16;

// Relations between the format and the limits (those among the limits are asserted in log_limits.ts).
// A journal file holds its header and at least one full round, or no round could ever be written.
assert(JOURNAL_HEADER_BYTES + JOURNAL_ROUND_BYTES_MAX <= JOURNAL_FILE_BYTES, "journal: the file holds the header and a round");
// A partition small enough to join a round (with the longest name) fits alone in an empty
// round: otherwise beginRecord() refuses it every time and the journal never covers it.
assert(
  JOURNAL_RECORD_HEADER_BYTES + JOURNAL_DIR_BYTES_MAX + RECORD_PLACE_BYTES + JOURNAL_PARTITION_ROUND_BYTES_MAX <= JOURNAL_ROUND_BYTES_MAX,
  "journal: a partition's round fits in an empty round",
);

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** Separates a partition's directory from its incarnation in a record's name ('#' is in no topic name). */
const INCARNATION_SEPARATOR = "#";

/** How a record names a partition: its directory (relative to the data dir) and its incarnation (the topic id). */
export function journalPartitionName(relativeDir: string, incarnation: string): string {
  return `${relativeDir}${INCARNATION_SEPARATOR}${incarnation}`;
}

/** The directory and incarnation of a record's name (incarnation "" when it names none). */
export function parseJournalPartitionName(name: string): { dir: string; incarnation: string } {
  const at = name.lastIndexOf(INCARNATION_SEPARATOR);
  return at < 0 ? { dir: name, incarnation: "" } : { dir: name.slice(0, at), incarnation: name.slice(at + 1) };
}

export function journalDirKey(relativeDir: string): Uint8Array {
  const key = utf8.encode(relativeDir);
  if (key.length === 0 || key.length > JOURNAL_DIR_BYTES_MAX) throw new RangeError(`journal: directory name of ${key.length} bytes (1 to ${JOURNAL_DIR_BYTES_MAX})`);
  return key;
}

export class WorkerJournal {
  readonly path: string;
  readonly capacity: number;
  private readonly files: FileOps;
  private fd: number;
  private gen = 1;
  /** Where the next round is written. */
  private position = JOURNAL_HEADER_BYTES;
  private readonly round: Uint8Array;
  private readonly roundView: DataView;
  private roundBytes = 0;
  private roundRecordStart = -1;
  private closed = false;

  private constructor(path: string, files: FileOps, fd: number, capacity: number) {
    this.path = path;
    this.files = files;
    this.fd = fd;
    this.capacity = capacity;
    this.round = new Uint8Array(JOURNAL_ROUND_BYTES_MAX);
    this.roundView = new DataView(this.round.buffer);
  }

  /**
   * Creates (or empties) the journal at `path`: zero-filled to `capacity`,
   * generation 1, fdatasynced, and its directory entry fsynced. Replay any old
   * journal at this path first: this one starts empty.
   */
  static create(path: string, files: FileOps, capacity: number = JOURNAL_FILE_BYTES): WorkerJournal {
    if (!Number.isInteger(capacity) || capacity < JOURNAL_HEADER_BYTES + JOURNAL_ROUND_BYTES_MAX) {
      throw new RangeError(`journal capacity must hold a header and a round (>= ${JOURNAL_HEADER_BYTES + JOURNAL_ROUND_BYTES_MAX} bytes), got ${capacity}`);
    }
    const dir = nodePath.dirname(path);
    files.mkdirp(dir);
    const fd = files.open(path, "w+");
    try {
      const zeros = new Uint8Array(Math.min(JOURNAL_PREALLOCATE_CHUNK_BYTES, capacity));
      for (let at = 0; at < capacity; at += zeros.length) writeFully(files, fd, zeros, 0, Math.min(zeros.length, capacity - at), at);
      const journal = new WorkerJournal(path, files, fd, capacity);
      journal.writeHeader();
      files.fsyncDir(dir);
      return journal;
    } catch (e) {
      files.close(fd);
      throw e;
    }
  }

  get generation(): number {
    return this.gen;
  }

  /** Bytes of records in the current generation. */
  get usedBytes(): number {
    return this.position - JOURNAL_HEADER_BYTES;
  }

  /** True when a full round may not fit any more: checkpoint() before the next round. */
  get needsCheckpoint(): boolean {
    return this.position + JOURNAL_ROUND_BYTES_MAX > this.capacity;
  }

  /** Starts a round (forgets one begun and not committed). */
  begin(): void {
    this.roundBytes = 0;
    this.roundRecordStart = -1;
  }

  /**
   * Room in the round for a record of `dataBytes` that belong at `position` of
   * the segment starting at `segmentBaseOffset` in the directory `dirKey`:
   * returns the offset in `roundBuffer` where the data goes, or -1 when the
   * round is full. Call endRecord() once the data is there.
   */
  beginRecord(dirKey: Uint8Array, segmentBaseOffset: number, position: number, dataBytes: number): number {
    // The key came from journalDirKey(), which refuses longer names: a record's header stays within its bounds.
    assert(dirKey.length > 0, "journal: a directory key is not empty");
    assert(dirKey.length <= JOURNAL_DIR_BYTES_MAX, "journal: a directory key is at most JOURNAL_DIR_BYTES_MAX bytes", dirKey.length);
    assert(this.roundRecordStart === -1, "journal: beginRecord() while a record is open");
    const bytes = JOURNAL_RECORD_HEADER_BYTES + dirKey.length + RECORD_PLACE_BYTES + dataBytes;
    if (dataBytes <= 0 || this.roundBytes + bytes > this.round.length) return -1;
    const at = this.roundBytes;
    const v = this.roundView;
    v.setUint32(at, bytes);
    v.setFloat64(at + 8, this.gen);
    writeI16(this.round, at + 16, dirKey.length);
    this.round.set(dirKey, at + JOURNAL_RECORD_HEADER_BYTES);
    const place = at + JOURNAL_RECORD_HEADER_BYTES + dirKey.length;
    v.setFloat64(place, segmentBaseOffset);
    v.setFloat64(place + 8, position);
    this.roundRecordStart = at;
    return place + RECORD_PLACE_BYTES;
  }

  /** The round's buffer: a source copies its data where beginRecord() said. */
  get roundBuffer(): Uint8Array {
    return this.round;
  }

  /** Seals the record beginRecord() opened (its CRC), keeping it in the round. */
  endRecord(): void {
    const at = this.roundRecordStart;
    assert(at >= 0, "journal: endRecord() without beginRecord()");
    const bytes = this.roundView.getUint32(at);
    // The length beginRecord() wrote is still there (nothing else writes the round's header bytes).
    assert(at + bytes <= this.round.length, "journal: a record ends within the round", bytes);
    this.roundView.setUint32(at + 4, crc32c(this.round.subarray(at + 8, at + bytes)));
    this.roundBytes = at + bytes;
    this.roundRecordStart = -1;
  }

  /** Drops the record beginRecord() opened (its source could not be read). */
  abandonRecord(): void {
    this.roundRecordStart = -1;
  }

  /** Records in the round. */
  get roundHasRecords(): boolean {
    return this.roundBytes > 0;
  }

  /**
   * Writes the round and fdatasyncs the journal: when this returns, every record
   * of the round is durable. Throws on a failed write or fdatasync; the journal
   * must not be used after that (the caller syncs the segments themselves).
   */
  commit(): void {
    assert(!this.closed, "journal: commit() on a closed journal");
    assert(this.roundRecordStart === -1, "journal: commit() with a record still open");
    if (this.roundBytes === 0) return;
    // The host checks needsCheckpoint before a round, and a round is at most JOURNAL_ROUND_BYTES_MAX.
    assert(this.position + this.roundBytes <= this.capacity, "journal: round past the end (checkpoint first)", this.position);
    writeFully(this.files, this.fd, this.round, 0, this.roundBytes, this.position);
    this.files.fdatasync(this.fd);
    this.position += this.roundBytes;
    this.roundBytes = 0;
  }

  /**
   * Starts a new generation. The caller must have fdatasynced every segment
   * holding journaled bytes first: from here on the old records are ignored.
   */
  restart(): void {
    assert(!this.closed, "journal: restart() on a closed journal");
    this.gen++;
    this.writeHeader();
    this.position = JOURNAL_HEADER_BYTES;
    this.roundBytes = 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.files.close(this.fd);
  }

  /** Removes the closed journal's file: only when no segment needs its records. */
  remove(): void {
    assert(this.closed, "journal: remove() before close()");
    this.files.unlink(this.path);
    this.files.fsyncDir(nodePath.dirname(this.path));
  }

  private writeHeader(): void {
    const h = new Uint8Array(HEADER_CRC_AT + 4);
    const v = new DataView(h.buffer);
    v.setUint32(0, JOURNAL_MAGIC);
    v.setUint16(4, JOURNAL_VERSION);
    v.setFloat64(8, this.gen);
    writeI32(h, HEADER_CRC_AT, crc32c(h.subarray(0, HEADER_CRC_AT)));
    writeFully(this.files, this.fd, h, 0, h.length, 0);
    this.files.fdatasync(this.fd);
  }
}

/** One record found by scanJournal(). */
export interface JournalRecord {
  /** Partition directory, relative to the data dir. */
  readonly dir: string;
  /** Base offset of the segment file the bytes belong to. */
  readonly segmentBaseOffset: number;
  /** Where in that file they start. */
  readonly position: number;
  /** Whole record batches, exactly as in the segment. */
  readonly batches: Uint8Array;
}

export interface JournalScan {
  /** The header was missing or damaged: nothing in the file can be trusted (nothing is replayed). */
  readonly headerValid: boolean;
  readonly generation: number;
  readonly records: JournalRecord[];
  /** Where the scan stopped, and why (end of the current generation is normal). */
  readonly endPosition: number;
}

/** Reads every record of the journal's current generation, in the order written (all held in memory: for tests and small journals). */
export function scanJournal(files: FileOps, path: string): JournalScan {
  const records: JournalRecord[] = [];
  const scan = forEachJournalRecord(files, path, (r) => {
    records.push({ ...r, batches: r.batches.slice() });
  });
  return { ...scan, records };
}

/**
 * Calls `onRecord` for every record of the journal's current generation, in the
 * order written, one at a time: `batches` is valid only during the call (one
 * buffer of at most JOURNAL_ROUND_BYTES_MAX is reused), so replay holds one
 * record in memory, not the journal.
 */
export function forEachJournalRecord(files: FileOps, path: string, onRecord: (r: JournalRecord) => void): Omit<JournalScan, "records"> {
  const fd = files.open(path, "r");
  try {
    const size = files.size(fd);
    const header = new Uint8Array(HEADER_CRC_AT + 4);
    if (size < JOURNAL_HEADER_BYTES || readFully(files, fd, header, 0, header.length, 0) < header.length) {
      return { headerValid: false, generation: 0, endPosition: 0 };
    }
    const hv = new DataView(header.buffer);
    const headerOk =
      hv.getUint32(0) === JOURNAL_MAGIC && hv.getUint16(4) === JOURNAL_VERSION && readU32(header, HEADER_CRC_AT) === crc32c(header.subarray(0, HEADER_CRC_AT));
    if (!headerOk) return { headerValid: false, generation: 0, endPosition: 0 };
    const generation = hv.getFloat64(8);
    let pos = JOURNAL_HEADER_BYTES;
    const head = new Uint8Array(8);
    const buffer = new Uint8Array(JOURNAL_ROUND_BYTES_MAX);
    for (;;) {
      if (pos + JOURNAL_RECORD_HEADER_BYTES > size) break;
      if (readFully(files, fd, head, 0, 8, pos) < 8) break;
      const bytes = readU32(head, 0);
      if (bytes < JOURNAL_RECORD_HEADER_BYTES + 1 || bytes > JOURNAL_ROUND_BYTES_MAX || pos + bytes > size) break;
      const rec = buffer.subarray(0, bytes);
      if (readFully(files, fd, rec, 0, bytes, pos) < bytes) break;
      if (readU32(rec, 4) !== crc32c(rec.subarray(8, bytes))) break;
      const rv = new DataView(rec.buffer, rec.byteOffset, bytes);
      if (rv.getFloat64(8) !== generation) break;
      const dirBytes = readU16(rec, 16);
      const placeAt = JOURNAL_RECORD_HEADER_BYTES + dirBytes;
      const dataAt = placeAt + RECORD_PLACE_BYTES;
      if (dirBytes === 0 || dataAt >= bytes) break;
      onRecord({
        dir: utf8Decoder.decode(rec.subarray(JOURNAL_RECORD_HEADER_BYTES, placeAt)),
        segmentBaseOffset: rv.getFloat64(placeAt),
        position: rv.getFloat64(placeAt + 8),
        batches: rec.subarray(dataAt),
      });
      pos += bytes;
    }
    return { headerValid: true, generation, endPosition: pos };
  } finally {
    files.close(fd);
  }
}
