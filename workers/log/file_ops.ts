// The file layer of the log: the only place that calls node:fs. Every read and
// write names its buffer offset, length and file position explicitly (Bun's
// writeSync with an undefined offset writes at the wrong place, and a file
// opened with 'a' ignores pwrite positions on Linux), so files are opened with
// 'r+' or 'w+' only.
//
// FileOps is an interface so tests can swap in FaultyFileOps, which wraps a
// real implementation and injects the failures a disk can produce: a failing
// fdatasync (EIO), a full disk (ENOSPC) and a power loss that drops or tears
// every byte not covered by a completed fdatasync.

import * as fs from "node:fs";
import { assert } from "../../protocol/assert.ts";
import { WRITEV_BUFFERS_MAX } from "./log_limits.ts";

export type OpenFlags = "r" | "r+" | "w+";

export interface FileOps {
  open(path: string, flags: OpenFlags): number;
  /** Writes buf[off, off+len) at file position pos; returns the bytes written (may be short). */
  pwrite(fd: number, buf: Uint8Array, off: number, len: number, pos: number): number;
  /** Writes the buffers back to back from file position pos; returns the bytes written (may be short). */
  pwritev?(fd: number, bufs: readonly Uint8Array[], pos: number): number;
  /** Reads into buf[off, off+len) from file position pos; returns the bytes read (0 at end of file). */
  pread(fd: number, buf: Uint8Array, off: number, len: number, pos: number): number;
  fdatasync(fd: number): void;
  /**
   * fdatasync off the calling thread (libuv's pool): done(null) once it
   * returned, done(error) if it failed. It covers what was written to fd
   * before the call, not what is written while it runs. Optional: without it
   * the log runs fdatasync() at the call and reports it on a later tick.
   */
  fdatasyncAsync?(fd: number, done: (err: Error | null) => void): void;
  ftruncate(fd: number, len: number): void;
  size(fd: number): number;
  close(fd: number): void;
  unlink(path: string): void;
  rename(from: string, to: string): void;
  readdir(dir: string): string[];
  mkdirp(dir: string): void;
  /** Removes an empty directory. */
  rmdir(dir: string): void;
  /** fsync of a directory, so that creates, renames and unlinks in it are durable. */
  fsyncDir(dir: string): void;
  exists(path: string): boolean;
}

export const realFileOps: FileOps = {
  open: (path, flags) => fs.openSync(path, flags),
  pwrite: (fd, buf, off, len, pos) => fs.writeSync(fd, buf, off, len, pos),
  pwritev: (fd, bufs, pos) => fs.writevSync(fd, bufs as Uint8Array[], pos),
  pread: (fd, buf, off, len, pos) => fs.readSync(fd, buf, off, len, pos),
  fdatasync: (fd) => fs.fdatasyncSync(fd),
  fdatasyncAsync: (fd, done) => fs.fdatasync(fd, (err) => done(err ?? null)),
  ftruncate: (fd, len) => fs.ftruncateSync(fd, len),
  size: (fd) => fs.fstatSync(fd).size,
  close: (fd) => fs.closeSync(fd),
  unlink: (path) => fs.unlinkSync(path),
  rename: (from, to) => fs.renameSync(from, to),
  readdir: (dir) => fs.readdirSync(dir),
  mkdirp: (dir) => void fs.mkdirSync(dir, { recursive: true }),
  rmdir: (dir) => fs.rmdirSync(dir),
  fsyncDir: (dir) => {
    const fd = fs.openSync(dir, "r");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  },
  exists: (path) => fs.existsSync(path),
};

/** An error shaped like the ones node:fs throws (`code`, `errno`, `syscall`). */
export function fsError(code: "EIO" | "ENOSPC" | "EDQUOT" | "EBADF", syscall: string): Error {
  const errno = { EIO: -5, ENOSPC: -28, EDQUOT: -122, EBADF: -9 }[code];
  return Object.assign(new Error(`${code}: injected failure, ${syscall}`), { code, errno, syscall });
}

/**
 * Whether a write failed for lack of room (ENOSPC: the file system is full;
 * EDQUOT: the user's quota is). Unlike EIO, nothing about the file is unknown
 * after one: what was written before it is there, and freeing space lets the
 * same write succeed, so the log treats it as retryable (log_appender.ts).
 */
export function isOutOfSpace(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === "ENOSPC" || code === "EDQUOT";
}

/** Writes all of buf[off, off+len) at pos, continuing after short writes. A write that makes no progress is ENOSPC. */
export function writeFully(files: FileOps, fd: number, buf: Uint8Array, off: number, len: number, pos: number): void {
  let done = 0;
  while (done < len) {
    const n = files.pwrite(fd, buf, off + done, len - done, pos + done);
    if (n <= 0) throw fsError("ENOSPC", "write");
    done += n;
  }
}

/**
 * Writes bufs[0..count) back to back from file position pos, with one vectored
 * write when the FileOps has one, continuing after short writes. A write that
 * makes no progress is ENOSPC. At most WRITEV_BUFFERS_MAX buffers per call.
 */
export function writevFully(files: FileOps, fd: number, bufs: readonly Uint8Array[], count: number, pos: number): void {
  if (count > WRITEV_BUFFERS_MAX) throw new RangeError(`writevFully: ${count} buffers, at most ${WRITEV_BUFFERS_MAX}`);
  let total = 0;
  for (let i = 0; i < count; i++) total += bufs[i].length;
  let done = 0;
  if (files.pwritev !== undefined && count > 1) {
    done = files.pwritev(fd, count === bufs.length ? bufs : bufs.slice(0, count), pos);
    if (done === total) return;
    if (done < 0) throw fsError("ENOSPC", "write");
  }
  // No vectored write, or a short one: the rest buffer by buffer, from where it stopped.
  let start = 0;
  for (let i = 0; i < count; i++) {
    const b = bufs[i];
    const end = start + b.length;
    if (end > done) {
      const from = Math.max(done - start, 0);
      writeFully(files, fd, b, from, b.length - from, pos + start + from);
      done = end;
    }
    start = end;
  }
}

/** Reused by writeGathered (one partition worker thread runs it, never re-entered). */
const gatherScratch: Uint8Array[] = [];

/**
 * Writes bufs[0..count) back to back from file position pos, gathering
 * consecutive buffers into one vectored write while they total at most
 * chunkBytesMax bytes. A buffer is never split: one larger than chunkBytesMax
 * is written alone. Short writes are continued (writevFully).
 */
export function writeGathered(files: FileOps, fd: number, bufs: readonly Uint8Array[], count: number, pos: number, chunkBytesMax: number): void {
  const group = gatherScratch;
  // Emptied on every return (finally below): not empty here means a second write began inside the first.
  assert(group.length === 0, "file ops: writeGathered() is never re-entered");
  let i = 0;
  let at = pos;
  try {
    while (i < count) {
      group.length = 0;
      let bytes = 0;
      while (i < count && group.length < WRITEV_BUFFERS_MAX && (group.length === 0 || bytes + bufs[i].length <= chunkBytesMax)) {
        bytes += bufs[i].length;
        group.push(bufs[i]);
        i++;
      }
      writevFully(files, fd, group, group.length, at);
      at += bytes;
    }
  } finally {
    // Keep no reference to the caller's buffers.
    group.length = 0;
  }
}

/** Reads up to len bytes at pos, continuing after short reads; returns the bytes read (less only at end of file). */
export function readFully(files: FileOps, fd: number, buf: Uint8Array, off: number, len: number, pos: number): number {
  let done = 0;
  while (done < len) {
    const n = files.pread(fd, buf, off + done, len - done, pos + done);
    if (n <= 0) break;
    done += n;
  }
  return done;
}

export interface FaultPlan {
  /** The n-th fdatasync (1-based, counted from construction) and every later one fail with EIO. */
  failFdatasyncAt?: number;
  /**
   * Test-only, for a broker in another process: once a file exists at this path,
   * every fdatasync fails with EIO (a disk that dies while the broker runs, at a
   * moment the test picks). Checked at each fdatasync.
   */
  eioFile?: string;
  /**
   * A disk with room for this many more bytes: writes that grow files succeed
   * up to this many bytes in total, then come back short and then fail with
   * ENOSPC. Overwrites inside a file's current size need no room and succeed
   * (a full disk still lets a preallocated file be rewritten). A truncation
   * gives the bytes it cuts back. setWriteBytesMax() changes it at run time.
   */
  writeBytesMax?: number;
  /**
   * Test-only, for a broker in another process: once a file exists at this path,
   * the disk has room again (writeBytesMax stops applying for good). Checked only
   * when a write would be refused or cut short, so it costs nothing otherwise.
   */
  spaceFile?: string;
  /** Track unsynced writes so that crash() can drop or tear them. */
  powerLoss?: boolean;
  /** Seed of the generator that picks where crash() tears. */
  seed?: number;
  /**
   * A slow disk: every fdatasync blocks the calling thread this long first (on a
   * partition worker that is exactly what a slow device does to it).
   */
  fdatasyncDelayMs?: number;
  /**
   * A disk with this write bandwidth: every fdatasync also blocks for the bytes
   * written since the previous one divided by it (the page cache absorbs the
   * writes; the device pays for them at the flush).
   */
  diskBytesPerSec?: number;
}

/** A cell nobody notifies: Atomics.wait on it blocks the thread for the timeout, without spinning. */
let sleepCell: Int32Array | null = null;
function blockFor(ms: number): void {
  sleepCell ??= new Int32Array(new SharedArrayBuffer(4));
  Atomics.wait(sleepCell, 0, 0, ms);
}

export type CrashMode =
  /** Every byte not covered by a completed fdatasync is lost. */
  | "drop-unsynced"
  /** Unsynced writes reach the disk in order up to a random one, which is torn at a random byte. */
  | "tear";

interface Unsynced {
  path: string;
  pos: number;
  /** File bytes [pos, pos + old.length) before the change. */
  old: Uint8Array;
  /** File size before the change. */
  oldSize: number;
  /** The bytes written, or null for a truncation to `newSize`. */
  data: Uint8Array | null;
  newSize: number;
}

/**
 * Wraps a FileOps and injects faults. Directory operations (create, rename,
 * unlink) are treated as durable at once; only file contents are at risk in a
 * simulated power loss. After crash() every descriptor opened through this
 * wrapper is closed: the log that used them must be dropped and reopened.
 */
export class FaultyFileOps implements FileOps {
  fdatasyncCalls = 0;
  bytesWritten = 0;
  /** Bytes written past the end of their file (what a full disk refuses). */
  bytesGrown = 0;
  private bytesWrittenAtSync = 0;
  private readonly inner: FileOps;
  private readonly plan: FaultPlan;
  private readonly paths = new Map<number, string>();
  private journal: Unsynced[] = [];
  private rng: number;
  private writeBytesMax: number | undefined;

  constructor(inner: FileOps, plan: FaultPlan = {}) {
    this.inner = inner;
    this.plan = plan;
    this.writeBytesMax = plan.writeBytesMax;
    this.rng = (plan.seed ?? 1) >>> 0 || 1;
  }

  /** Bytes written since their file's last fdatasync (power-loss mode only). */
  get unsyncedBytes(): number {
    let n = 0;
    for (const u of this.journal) n += u.data?.length ?? 0;
    return n;
  }

  /** Room for `bytes` more bytes in total (counting what grew so far, less what truncations gave back); undefined: no limit. */
  setWriteBytesMax(bytes: number | undefined): void {
    this.writeBytesMax = bytes;
  }

  open(path: string, flags: OpenFlags): number {
    const fd = this.inner.open(path, flags);
    this.paths.set(fd, path);
    return fd;
  }

  pwrite(fd: number, buf: Uint8Array, off: number, len: number, pos: number): number {
    let allowed = len;
    let within = len;
    const max = this.writeBytesMax;
    if (max !== undefined) {
      within = Math.min(len, Math.max(0, this.inner.size(fd) - pos));
      allowed = within + Math.max(0, Math.min(len - within, max - this.bytesGrown));
      if (allowed < len && this.spaceFreed()) allowed = len;
      else if (allowed <= 0) throw fsError("ENOSPC", "write");
    }
    if (this.plan.powerLoss) this.remember(fd, pos, buf.slice(off, off + allowed), -1);
    const n = this.inner.pwrite(fd, buf, off, allowed, pos);
    this.bytesWritten += n;
    this.bytesGrown += Math.max(0, n - within);
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
    return this.inner.pread(fd, buf, off, len, pos);
  }

  fdatasync(fd: number): void {
    this.fdatasyncCalls++;
    if (this.fdatasyncFails()) throw fsError("EIO", "fdatasync");
    let delayMs = this.plan.fdatasyncDelayMs ?? 0;
    if (this.plan.diskBytesPerSec !== undefined && this.plan.diskBytesPerSec > 0) {
      delayMs += ((this.bytesWritten - this.bytesWrittenAtSync) * 1000) / this.plan.diskBytesPerSec;
    }
    this.bytesWrittenAtSync = this.bytesWritten;
    if (delayMs > 0) blockFor(delayMs);
    this.inner.fdatasync(fd);
    const path = this.paths.get(fd);
    if (path !== undefined && this.journal.length > 0) this.journal = this.journal.filter((u) => u.path !== path);
  }

  fdatasyncAsync(fd: number, done: (err: Error | null) => void): void {
    this.fdatasyncCalls++;
    if (this.fdatasyncFails()) {
      setImmediate(() => done(fsError("EIO", "fdatasync")));
      return;
    }
    let delayMs = this.plan.fdatasyncDelayMs ?? 0;
    if (this.plan.diskBytesPerSec !== undefined && this.plan.diskBytesPerSec > 0) {
      delayMs += ((this.bytesWritten - this.bytesWrittenAtSync) * 1000) / this.plan.diskBytesPerSec;
    }
    this.bytesWrittenAtSync = this.bytesWritten;
    // Only what was written before the call is covered: the entries journaled by now.
    const path = this.paths.get(fd);
    const covered = new Set(path === undefined ? [] : this.journal.filter((u) => u.path === path));
    const run = (): void => {
      const inner = this.inner.fdatasyncAsync;
      const finish = (err: Error | null): void => {
        if (err === null && covered.size > 0) this.journal = this.journal.filter((u) => !covered.has(u));
        done(err);
      };
      if (inner !== undefined) inner(fd, finish);
      else {
        try {
          this.inner.fdatasync(fd);
        } catch (e) {
          setImmediate(() => finish(e as Error));
          return;
        }
        setImmediate(() => finish(null));
      }
    };
    if (delayMs > 0) setTimeout(run, delayMs);
    else run();
  }

  ftruncate(fd: number, len: number): void {
    if (this.plan.powerLoss) this.remember(fd, len, null, len);
    const before = this.inner.size(fd);
    this.inner.ftruncate(fd, len);
    // Cutting a file frees its blocks, as on a real disk.
    if (len < before) this.bytesGrown = Math.max(0, this.bytesGrown - (before - len));
  }

  size(fd: number): number {
    return this.inner.size(fd);
  }

  close(fd: number): void {
    this.paths.delete(fd);
    this.inner.close(fd);
  }

  unlink(path: string): void {
    this.journal = this.journal.filter((u) => u.path !== path);
    this.inner.unlink(path);
  }

  rename(from: string, to: string): void {
    this.journal = this.journal.filter((u) => u.path !== to);
    for (const u of this.journal) if (u.path === from) u.path = to;
    for (const [fd, p] of this.paths) if (p === from) this.paths.set(fd, to);
    this.inner.rename(from, to);
  }

  readdir(dir: string): string[] {
    return this.inner.readdir(dir);
  }

  mkdirp(dir: string): void {
    this.inner.mkdirp(dir);
  }

  rmdir(dir: string): void {
    this.inner.rmdir(dir);
  }

  fsyncDir(dir: string): void {
    this.inner.fsyncDir(dir);
  }

  exists(path: string): boolean {
    return this.inner.exists(path);
  }

  /**
   * Simulates a power loss: undoes every unsynced change (newest first), then in
   * "tear" mode replays a random prefix of them, the last one cut at a random
   * byte. Closes every descriptor opened through this wrapper.
   * Returns how many unsynced changes there were and how many bytes were replayed.
   */
  crash(mode: CrashMode = "drop-unsynced"): { unsyncedChanges: number; replayedBytes: number } {
    if (!this.plan.powerLoss) throw new Error("FaultyFileOps: crash() needs powerLoss: true");
    const journal = this.journal;
    this.journal = [];
    const fds = new Map<string, number>();
    const fdOf = (path: string): number => {
      let fd = fds.get(path);
      if (fd === undefined) {
        fd = this.inner.open(path, "r+");
        fds.set(path, fd);
      }
      return fd;
    };
    try {
      for (let i = journal.length - 1; i >= 0; i--) {
        const u = journal[i];
        const fd = fdOf(u.path);
        if (u.old.length > 0) writeFully(this.inner, fd, u.old, 0, u.old.length, u.pos);
        this.inner.ftruncate(fd, u.oldSize);
      }
      let replayedBytes = 0;
      if (mode === "tear" && journal.length > 0) {
        const last = this.nextRandom() % journal.length;
        for (let i = 0; i <= last; i++) {
          const u = journal[i];
          const fd = fdOf(u.path);
          if (u.data === null) {
            this.inner.ftruncate(fd, u.newSize);
            continue;
          }
          const n = i < last ? u.data.length : this.nextRandom() % (u.data.length + 1);
          if (n > 0) writeFully(this.inner, fd, u.data, 0, n, u.pos);
          replayedBytes += n;
        }
      }
      return { unsyncedChanges: journal.length, replayedBytes };
    } finally {
      for (const fd of fds.values()) this.inner.close(fd);
      for (const fd of this.paths.keys()) {
        try {
          this.inner.close(fd);
        } catch {
          // already closed by its owner
        }
      }
      this.paths.clear();
    }
  }

  private remember(fd: number, pos: number, data: Uint8Array | null, newSize: number): void {
    const path = this.paths.get(fd);
    if (path === undefined) throw fsError("EBADF", "write");
    const oldSize = this.inner.size(fd);
    const end = data === null ? oldSize : Math.min(oldSize, pos + data.length);
    const old = new Uint8Array(Math.max(0, end - pos));
    if (old.length > 0) readFully(this.inner, fd, old, 0, old.length, pos);
    this.journal.push({ path, pos, old, oldSize, data, newSize });
  }

  /** Whether this fdatasync (already counted) fails: past failFdatasyncAt, or once the eioFile exists. */
  private fdatasyncFails(): boolean {
    const failAt = this.plan.failFdatasyncAt;
    if (failAt !== undefined && this.fdatasyncCalls >= failAt) return true;
    return this.plan.eioFile !== undefined && this.inner.exists(this.plan.eioFile);
  }

  /** True (and the limit lifted) once the plan's spaceFile exists. */
  private spaceFreed(): boolean {
    const file = this.plan.spaceFile;
    if (file === undefined || !this.inner.exists(file)) return false;
    this.writeBytesMax = undefined;
    return true;
  }

  /** xorshift32: small, seeded, good enough to pick tear points. */
  private nextRandom(): number {
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    return this.rng;
  }
}
