// One segment of a partition log: `<base offset, 20 digits>.log` with its sparse
// `.index` (offset → position) and `.timeindex` (timestamp → offset).
//
// Contract:
// - The .log file holds whole batches back to back in [0, size); bytes at or
//   past `size` (a torn write, an unsynced tail) are never read. The file is
//   written only at explicit positions (never opened for append).
// - `nextOffset` is the offset after the last batch, `maxTimestamp` the largest
//   batch max timestamp (-1 while empty).
// - A sealed segment never changes again: it was fdatasynced before its
//   successor was created, and its index files describe it exactly. Its
//   descriptor may be closed between reads and opened again (read-only) on
//   demand (segment_fds.ts); `fd` is -1 while it is closed.
// - The active (last) segment's indexes live in memory and are written to
//   their files on checkpoint and close, covering only data already durable.
// - A sealed segment may drop its in-memory indexes (cache budget) and load
//   them again from its files; a file that does not check out is rebuilt from
//   the log by the caller.

import { assert } from "../../protocol/assert.ts";
import * as path from "node:path";
import { type FileOps, readFully, writeFully } from "./file_ops.ts";
import {
  INDEX_HEADER_BYTES,
  IndexKind,
  type SegmentSummary,
  decodeIndexHeader,
  encodeIndexFile,
  indexEntriesIntact,
} from "./index_file.ts";
import { OFFSET_INDEX_ENTRY_BYTES, OffsetIndex } from "./segment_index.ts";
import { TIME_INDEX_ENTRY_BYTES, TimeIndex } from "./time_index.ts";

export const LOG_SUFFIX = ".log";
export const INDEX_SUFFIX = ".index";
export const TIME_INDEX_SUFFIX = ".timeindex";
const SEGMENT_FILE_PATTERN = /^(\d{20})\.(log|index|timeindex)$/;

/** `<base offset, 20 digits>` + suffix, as Kafka names segment files. */
export function segmentFileName(baseOffset: number, suffix: string): string {
  return String(baseOffset).padStart(20, "0") + suffix;
}

/** The base offset and kind of a segment file name, or null for any other file. */
export function parseSegmentFileName(name: string): { baseOffset: number; kind: "log" | "index" | "timeindex" } | null {
  const m = SEGMENT_FILE_PATTERN.exec(name);
  if (m === null) return null;
  const baseOffset = Number(m[1]);
  if (!Number.isSafeInteger(baseOffset)) return null;
  return { baseOffset, kind: m[2] as "log" | "index" | "timeindex" };
}

/** What one appended or scanned batch contributes to its segment. */
export interface BatchPlacement {
  position: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  size: number;
}

export class Segment {
  readonly baseOffset: number;
  readonly logPath: string;
  readonly indexPath: string;
  readonly timeIndexPath: string;
  fd: number;
  size = 0;
  nextOffset: number;
  maxTimestamp = -1;
  /** When the segment's age for `segment.ms` starts (the first batch's append time). -1 while empty. */
  rollBaseMs = -1;
  sealed = false;
  /** Null while a sealed segment's indexes are not loaded. */
  offsetIndex: OffsetIndex | null = null;
  timeIndex: TimeIndex | null = null;
  /** Log bytes since the last index entry (including the batch of that entry). */
  bytesSinceIndexEntry = 0;
  /** Tick of the last lookup, for the least-recently-used index cache. */
  lastUsed = 0;
  /** Tick of the last use of the descriptor, for the bounded set of open sealed segments (segment_fds.ts). */
  fdUsed = 0;
  /** Retention removed the segment's files: it is never opened again. */
  retired = false;

  constructor(opts: { dir: string; baseOffset: number; fd: number }) {
    this.baseOffset = opts.baseOffset;
    this.nextOffset = opts.baseOffset;
    this.fd = opts.fd;
    this.logPath = path.join(opts.dir, segmentFileName(opts.baseOffset, LOG_SUFFIX));
    this.indexPath = path.join(opts.dir, segmentFileName(opts.baseOffset, INDEX_SUFFIX));
    this.timeIndexPath = path.join(opts.dir, segmentFileName(opts.baseOffset, TIME_INDEX_SUFFIX));
  }

  get name(): string {
    return path.basename(this.logPath);
  }

  /** Holds an open descriptor (a sealed segment may be closed between reads and opened again on demand). */
  get isOpen(): boolean {
    return this.fd >= 0;
  }

  get indexMemoryBytes(): number {
    return (this.offsetIndex?.memoryBytes ?? 0) + (this.timeIndex?.memoryBytes ?? 0);
  }

  /** Fresh, empty in-memory indexes (a new segment, or before a rebuild). */
  resetIndexes(): void {
    this.offsetIndex = new OffsetIndex();
    this.timeIndex = new TimeIndex();
    this.bytesSinceIndexEntry = 0;
  }

  /** Forgets what is known of the log's contents, before a scan from position 0 places every batch again. */
  resetForScan(): void {
    this.size = 0;
    this.nextOffset = this.baseOffset;
    this.maxTimestamp = -1;
    this.resetIndexes();
  }

  /**
   * Records a batch written (or found) at `b.position`, which must be the
   * current end. Adds index entries every `indexIntervalBytes`.
   */
  place(b: BatchPlacement, indexIntervalBytes: number): void {
    // Callers (the appender, the recovery scan) place only batches they checked follow the segment's end.
    assert(b.position === this.size, "segment: a batch is placed at the segment's end", b.position);
    assert(b.baseOffset === this.nextOffset, "segment: a batch placed starts at the segment's next offset", b.baseOffset);
    assert(b.lastOffset >= b.baseOffset, "segment: a batch placed holds at least one offset", b.lastOffset);
    const oi = this.offsetIndex;
    const ti = this.timeIndex;
    assert(oi !== null, "segment: the offset index is loaded before a batch is placed");
    assert(ti !== null, "segment: the time index is loaded before a batch is placed");
    if (b.maxTimestamp > this.maxTimestamp) this.maxTimestamp = b.maxTimestamp;
    if (this.size === 0 || this.bytesSinceIndexEntry >= indexIntervalBytes) {
      const rel = b.baseOffset - this.baseOffset;
      oi.append(rel, b.position);
      ti.append(this.maxTimestamp, rel);
      this.bytesSinceIndexEntry = 0;
    }
    this.bytesSinceIndexEntry += b.size;
    this.size = b.position + b.size;
    this.nextOffset = b.lastOffset + 1;
  }

  summary(): SegmentSummary {
    return { baseOffset: this.baseOffset, nextOffset: this.nextOffset, logBytes: this.size, maxTimestamp: this.maxTimestamp };
  }

  /**
   * Writes both index files describing the segment up to `upTo` (default: all
   * of it), each through a temp file renamed over the old one. `upTo` must be
   * a batch boundary.
   */
  writeIndexFiles(files: FileOps, upTo: SegmentSummary = this.summary()): void {
    const oi = this.offsetIndex;
    const ti = this.timeIndex;
    assert(oi !== null, "segment: the offset index is loaded before it is written");
    assert(ti !== null, "segment: the time index is loaded before it is written");
    assert(upTo.logBytes <= this.size, "segment: index files describe no more than the segment holds", upTo.logBytes);
    let offsetEntries = oi.encodeEntries();
    let timeEntries = ti.encodeEntries();
    if (upTo.logBytes < this.size) {
      const keep = oi.floorByPosition(upTo.logBytes - 1) + 1;
      offsetEntries = offsetEntries.subarray(0, keep * OFFSET_INDEX_ENTRY_BYTES);
      timeEntries = timeEntries.subarray(0, keep * TIME_INDEX_ENTRY_BYTES);
    }
    // Not fdatasynced: an index is derived data behind CRCs; one a crash damaged is rebuilt from the log.
    const sync = false;
    writeFileAtomically(files, this.indexPath, encodeIndexFile(IndexKind.OFFSET, upTo, OFFSET_INDEX_ENTRY_BYTES, offsetEntries), sync);
    writeFileAtomically(files, this.timeIndexPath, encodeIndexFile(IndexKind.TIME, upTo, TIME_INDEX_ENTRY_BYTES, timeEntries), sync);
  }

  /**
   * Reads the offset index header: the segment's summary, if the file checks
   * out and covers exactly `logBytes` bytes. Otherwise why not.
   */
  readSummary(files: FileOps, logBytes: number): SegmentSummary | string {
    const h = this.readIndexHeader(files);
    if (typeof h === "string") return h;
    if (h.logBytes !== logBytes) return `covers ${h.logBytes} bytes of a ${logBytes}-byte log`;
    return h;
  }

  /** The offset index header (the segment summary it was written with), or why it is unusable. */
  readIndexHeader(files: FileOps): SegmentSummary | string {
    const bytes = readWholeFile(files, this.indexPath, INDEX_HEADER_BYTES);
    if (bytes === null) return "missing";
    return decodeIndexHeader(bytes.header, {
      kind: IndexKind.OFFSET,
      entryBytes: OFFSET_INDEX_ENTRY_BYTES,
      baseOffset: this.baseOffset,
      fileBytes: bytes.fileBytes,
    });
  }

  /**
   * Loads both index files into memory if they check out (CRCs, base offset,
   * entry order) and describe exactly `summary`. Returns null on success, or
   * why the caller must rebuild them.
   */
  loadIndexes(files: FileOps, summary: SegmentSummary): string | null {
    const offsets = loadIndexFile(files, this.indexPath, IndexKind.OFFSET, OFFSET_INDEX_ENTRY_BYTES, this.baseOffset);
    if (typeof offsets === "string") return `${path.basename(this.indexPath)}: ${offsets}`;
    const times = loadIndexFile(files, this.timeIndexPath, IndexKind.TIME, TIME_INDEX_ENTRY_BYTES, this.baseOffset);
    if (typeof times === "string") return `${path.basename(this.timeIndexPath)}: ${times}`;
    for (const h of [offsets.header, times.header]) {
      if (h.logBytes !== summary.logBytes || h.nextOffset !== summary.nextOffset || h.maxTimestamp !== summary.maxTimestamp) {
        return "index files disagree with the segment";
      }
    }
    if (offsets.header.entryCount !== times.header.entryCount) return "index files disagree on entry count";
    const oi = OffsetIndex.decodeEntries(offsets.bytes, INDEX_HEADER_BYTES, offsets.header.entryCount);
    const ti = TimeIndex.decodeEntries(times.bytes, INDEX_HEADER_BYTES, times.header.entryCount);
    if (oi === null || ti === null) return "index entries out of order";
    const n = oi.count;
    if (n > 0 && (oi.relOffsetAt(0) !== 0 || oi.positionAt(0) !== 0)) return "first index entry is not the first batch";
    if (n > 0 && oi.positionAt(n - 1) >= summary.logBytes) return "index entry past the end of the log";
    for (let i = 0; i < n; i++) if (ti.relOffsetAt(i) !== oi.relOffsetAt(i)) return "index files disagree on offsets";
    this.offsetIndex = oi;
    this.timeIndex = ti;
    this.bytesSinceIndexEntry = n === 0 ? 0 : summary.logBytes - oi.positionAt(n - 1);
    return null;
  }

  /** Drops the in-memory indexes of a sealed segment (they are reloaded on use). */
  unloadIndexes(): void {
    assert(this.sealed, "segment: the active segment keeps its indexes");
    this.offsetIndex = null;
    this.timeIndex = null;
  }

  close(files: FileOps): void {
    if (this.fd >= 0) {
      const fd = this.fd;
      this.fd = -1;
      files.close(fd);
    }
  }

  /** Removes the segment's files (the .log first, so a crash leaves at worst orphan indexes). */
  unlinkFiles(files: FileOps): void {
    for (const p of [this.logPath, this.indexPath, this.timeIndexPath]) {
      if (files.exists(p)) files.unlink(p);
    }
  }
}

/**
 * Writes `bytes` to `<file>.tmp`, fdatasyncs it (when `sync`) and renames it
 * over `file`, so a crash leaves the old file or the new one. The rename is
 * durable once the directory is fsynced.
 */
export function writeFileAtomically(files: FileOps, file: string, bytes: Uint8Array, sync = true): void {
  const tmp = file + ".tmp";
  const fd = files.open(tmp, "w+");
  try {
    writeFully(files, fd, bytes, 0, bytes.length, 0);
    if (sync) files.fdatasync(fd);
  } finally {
    files.close(fd);
  }
  files.rename(tmp, file);
}

/** The first `headerBytes` of a file and its size, or null if it does not exist. */
function readWholeFile(files: FileOps, file: string, headerBytes: number): { header: Uint8Array; fileBytes: number } | null {
  if (!files.exists(file)) return null;
  const fd = files.open(file, "r");
  try {
    const fileBytes = files.size(fd);
    const header = new Uint8Array(Math.min(headerBytes, fileBytes));
    readFully(files, fd, header, 0, header.length, 0);
    return { header, fileBytes };
  } finally {
    files.close(fd);
  }
}

function loadIndexFile(
  files: FileOps,
  file: string,
  kind: IndexKind,
  entryBytes: number,
  baseOffset: number,
): { bytes: Uint8Array; header: Exclude<ReturnType<typeof decodeIndexHeader>, string> } | string {
  if (!files.exists(file)) return "missing";
  const fd = files.open(file, "r");
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(files.size(fd));
    if (readFully(files, fd, bytes, 0, bytes.length, 0) !== bytes.length) return "short read";
  } finally {
    files.close(fd);
  }
  const header = decodeIndexHeader(bytes, { kind, entryBytes, baseOffset, fileBytes: bytes.length });
  if (typeof header === "string") return header;
  if (!indexEntriesIntact(bytes, header)) return "entries CRC mismatch";
  return { bytes, header };
}
