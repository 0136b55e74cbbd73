// A FileOps wrapper for the power-loss tests. It does three things the log's
// own FaultyFileOps does not, and wraps it rather than replacing it:
//
// 1. Records a trace of writes, truncations and fdatasyncs (start and end,
//    with success) for test/checker/durability_trace.ts.
// 2. Finds the record batches inside the writes (magic 2 + a matching CRC-32C),
//    so an ack for an offset can be mapped to the file bytes that hold it
//    without knowing anything about the log's code.
// 3. Keeps a copy of every write no successful fdatasync has covered yet, so a
//    test can simulate a power loss in which the page cache wrote back an
//    arbitrary subset of those pages, in any order, some torn (`crashReordered`).

import { readI32, readI64Number, readU32 } from "../../../protocol/big_endian.ts";
import { crc32c } from "../../../protocol/crc32c.ts";
import {
  BATCH_OVERHEAD_BYTES,
  CRC_COVERED_FROM,
  CRC_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  MAGIC_OFFSET,
  MAGIC_V2,
  BATCH_HEADER_BYTES,
} from "../../../protocol/record_batch.ts";
import { writeFully, type FileOps, type OpenFlags } from "../../../workers/log/file_ops.ts";
import type { TraceEvent } from "../../checker/durability_trace.ts";
import { Rng } from "./rng.ts";

export interface BatchLocation {
  readonly file: string;
  readonly start: number;
  readonly end: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
}

interface PendingWrite {
  pos: number;
  data: Uint8Array;
}

/** Page size of the simulated page cache: write-back happens in these units. */
export const PAGE_BYTES = 4096;
/** A torn page is cut at a sector boundary or anywhere; sectors are the usual atomic unit. */
const SECTOR_BYTES = 512;

/** Thrown by every operation once the simulated power is cut: the process is gone. */
export class PowerCut extends Error {
  constructor() {
    super("power cut");
  }
}

export class TracedFileOps implements FileOps {
  readonly trace: TraceEvent[] = [];
  /**
   * Cut the power before the n-th changing operation (write, truncate,
   * fdatasync, create, rename, unlink, directory fsync; 1-based): it and every
   * later call of any kind throw PowerCut. A crash in the middle of a roll, a
   * checkpoint or a recovery, not only between appends.
   */
  cutBeforeOp: number | null = null;
  /** Changing operations done so far. */
  changingOps = 0;
  private dead = false;
  /** Batches seen in writes, by base offset; the latest write of a base offset wins. */
  readonly batches = new Map<number, BatchLocation>();
  private readonly inner: FileOps;
  private readonly paths = new Map<number, string>();
  private readonly pending = new Map<string, PendingWrite[]>();
  private syncId = 0;

  constructor(inner: FileOps) {
    this.inner = inner;
  }

  get powerCut(): boolean {
    return this.dead;
  }

  private alive(changing: boolean): void {
    if (this.dead) throw new PowerCut();
    if (!changing) return;
    if (this.cutBeforeOp !== null && this.changingOps + 1 >= this.cutBeforeOp) {
      this.dead = true;
      throw new PowerCut();
    }
    this.changingOps++;
  }

  /** The batch holding `offset`, as last written. */
  batchOf(offset: number): BatchLocation | undefined {
    // Batches are few in these tests; a scan keeps this obviously right.
    let found: BatchLocation | undefined;
    for (const b of this.batches.values()) if (b.baseOffset <= offset && offset <= b.lastOffset) found = b;
    return found;
  }

  /** Records "the log acknowledged offsets [from, to)" as ack events over the batches that hold them. */
  recordAck(from: number, to: number, label: string): number {
    let unmapped = 0;
    for (let o = from; o < to; ) {
      const b = this.batchOf(o);
      if (b === undefined) {
        unmapped++;
        o++;
        continue;
      }
      this.trace.push({ kind: "ack", file: b.file, start: b.start, end: b.end, label: `${label}@${o}` });
      o = b.lastOffset + 1;
    }
    return unmapped;
  }

  open(path: string, flags: OpenFlags): number {
    this.alive(flags === "w+");
    const fd = this.inner.open(path, flags);
    this.paths.set(fd, path);
    if (flags === "w+") {
      this.trace.push({ kind: "truncate", file: path, length: 0 });
      this.pending.set(path, []);
    }
    return fd;
  }

  pwrite(fd: number, buf: Uint8Array, off: number, len: number, pos: number): number {
    this.alive(true);
    const n = this.inner.pwrite(fd, buf, off, len, pos);
    if (n > 0) this.wrote(fd, buf.subarray(off, off + n), pos);
    return n;
  }

  pwritev(fd: number, bufs: readonly Uint8Array[], pos: number): number {
    let written = 0;
    for (const b of bufs) {
      const n = this.pwrite(fd, b, 0, b.length, pos + written);
      written += n;
      if (n < b.length) break;
    }
    return written;
  }

  pread(fd: number, buf: Uint8Array, off: number, len: number, pos: number): number {
    this.alive(false);
    return this.inner.pread(fd, buf, off, len, pos);
  }

  fdatasync(fd: number): void {
    this.alive(true);
    const file = this.paths.get(fd) ?? `fd:${fd}`;
    const id = ++this.syncId;
    this.trace.push({ kind: "syncStart", file, id });
    const covered = this.pending.get(file) ?? [];
    this.pending.set(file, []);
    try {
      this.inner.fdatasync(fd);
    } catch (e) {
      this.trace.push({ kind: "syncEnd", file, id, ok: false });
      // Not durable and never will be by a later fdatasync; still at risk in a crash.
      this.pending.set(file, [...covered, ...(this.pending.get(file) ?? [])]);
      throw e;
    }
    this.trace.push({ kind: "syncEnd", file, id, ok: true });
  }

  ftruncate(fd: number, len: number): void {
    this.alive(true);
    this.inner.ftruncate(fd, len);
    const file = this.paths.get(fd) ?? `fd:${fd}`;
    this.trace.push({ kind: "truncate", file, length: len });
  }

  size(fd: number): number {
    this.alive(false);
    return this.inner.size(fd);
  }

  close(fd: number): void {
    this.paths.delete(fd);
    this.inner.close(fd);
  }

  unlink(path: string): void {
    this.alive(true);
    this.pending.delete(path);
    this.inner.unlink(path);
    this.trace.push({ kind: "truncate", file: path, length: 0 });
  }

  rename(from: string, to: string): void {
    this.alive(true);
    this.inner.rename(from, to);
    const p = this.pending.get(from);
    this.pending.delete(from);
    if (p !== undefined) this.pending.set(to, p);
    for (const [fd, name] of this.paths) if (name === from) this.paths.set(fd, to);
    for (const [k, b] of this.batches) if (b.file === from) this.batches.set(k, { ...b, file: to });
  }

  rmdir(dir: string): void {
    this.alive(true);
    this.inner.rmdir(dir);
  }

  readdir(dir: string): string[] {
    this.alive(false);
    return this.inner.readdir(dir);
  }

  mkdirp(dir: string): void {
    this.alive(true);
    this.inner.mkdirp(dir);
  }

  fsyncDir(dir: string): void {
    this.alive(true);
    this.inner.fsyncDir(dir);
  }

  exists(path: string): boolean {
    this.alive(false);
    return this.inner.exists(path);
  }

  /** Unsynced bytes held for a reordered crash. */
  get pendingBytes(): number {
    let n = 0;
    for (const list of this.pending.values()) for (const w of list) n += w.data.length;
    return n;
  }

  /**
   * Call right after the inner FaultyFileOps' crash("drop-unsynced") restored the
   * synced state: writes back a random subset of the unsynced pages, in a random
   * order, a few of them torn at a random byte. Returns what it wrote back.
   */
  crashReordered(rng: Rng, files: FileOps): { pages: number; landed: number; torn: number } {
    type Page = { path: string; pos: number; data: Uint8Array };
    const pages: Page[] = [];
    for (const [path, list] of this.pending) {
      for (const w of list) {
        // Cut each write at page boundaries of the file.
        let at = 0;
        while (at < w.data.length) {
          const pos = w.pos + at;
          const room = PAGE_BYTES - (pos % PAGE_BYTES);
          const n = Math.min(room, w.data.length - at);
          pages.push({ path, pos, data: w.data.subarray(at, at + n) });
          at += n;
        }
      }
    }
    this.pending.clear();
    rng.shuffle(pages);
    let landed = 0;
    let torn = 0;
    const fds = new Map<string, number>();
    try {
      for (const page of pages) {
        if (!rng.chance(0.5)) continue;
        if (!files.exists(page.path)) continue;
        let fd = fds.get(page.path);
        if (fd === undefined) fds.set(page.path, (fd = files.open(page.path, "r+")));
        let n = page.data.length;
        if (rng.chance(0.2)) {
          n = rng.chance(0.5) ? Math.floor(rng.below(n + 1) / SECTOR_BYTES) * SECTOR_BYTES : rng.below(n + 1);
          torn++;
        }
        if (n > 0) writeFully(files, fd, page.data, 0, n, page.pos);
        landed++;
      }
    } finally {
      for (const fd of fds.values()) files.close(fd);
    }
    return { pages: pages.length, landed, torn };
  }

  private wrote(fd: number, bytes: Uint8Array, pos: number): void {
    const file = this.paths.get(fd) ?? `fd:${fd}`;
    this.trace.push({ kind: "write", file, position: pos, length: bytes.length });
    let list = this.pending.get(file);
    if (list === undefined) this.pending.set(file, (list = []));
    list.push({ pos, data: bytes.slice() });
    this.findBatches(file, bytes, pos);
  }

  /** Walks whole, CRC-valid batches from the start of a write. */
  private findBatches(file: string, bytes: Uint8Array, filePos: number): void {
    let p = 0;
    while (p + BATCH_HEADER_BYTES <= bytes.length) {
      if (bytes[p + MAGIC_OFFSET] !== MAGIC_V2) return;
      const size = BATCH_OVERHEAD_BYTES + readI32(bytes, p + 8);
      if (size < BATCH_HEADER_BYTES || p + size > bytes.length) return;
      if (readU32(bytes, p + CRC_OFFSET) !== crc32c(bytes, p + CRC_COVERED_FROM, p + size)) return;
      const baseOffset = readI64Number(bytes, p);
      const lastOffset = baseOffset + readI32(bytes, p + LAST_OFFSET_DELTA_OFFSET);
      this.batches.set(baseOffset, { file, start: filePos + p, end: filePos + p + size, baseOffset, lastOffset });
      p += size;
    }
  }
}
