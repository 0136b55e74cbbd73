import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { FaultyFileOps, readFully, realFileOps, writeFully, writeGathered, writevFully, type FileOps } from "./file_ops.ts";
import { WRITEV_BUFFERS_MAX } from "./log_limits.ts";

let dir = "";
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function bytes(n: number, fill: number): Uint8Array {
  return new Uint8Array(n).fill(fill);
}

function contents(p: string): Uint8Array {
  return new Uint8Array(fs.readFileSync(p));
}

// One contract, run against every implementation.
for (const [name, make] of [
  ["realFileOps", () => realFileOps],
  ["FaultyFileOps without faults", () => new FaultyFileOps(realFileOps, { powerLoss: true })],
] as [string, () => FileOps][]) {
  describe(`FileOps contract: ${name}`, () => {
    test("positional writes and reads land where they are told", () => {
      const files = make();
      const p = path.join(dir, "a.log");
      const fd = files.open(p, "w+");
      writeFully(files, fd, bytes(10, 1), 0, 10, 0);
      const src = new Uint8Array([9, 9, 7, 7, 7, 9]);
      writeFully(files, fd, src, 2, 3, 4); // bytes 4..6 become 7
      expect(files.size(fd)).toBe(10);
      const back = new Uint8Array(12);
      expect(readFully(files, fd, back, 1, 11, 0)).toBe(10);
      expect(Array.from(back.subarray(1, 11))).toEqual([1, 1, 1, 1, 7, 7, 7, 1, 1, 1]);
      if (files.pwritev) expect(files.pwritev(fd, [bytes(2, 5), bytes(1, 6)], 10)).toBe(3);
      files.ftruncate(fd, 12);
      files.fdatasync(fd);
      files.close(fd);
      expect(Array.from(contents(p).subarray(8))).toEqual([1, 1, 5, 5]);
    });

    test("directory operations", () => {
      const files = make();
      const sub = path.join(dir, "x", "y");
      files.mkdirp(sub);
      const fd = files.open(path.join(sub, "f.tmp"), "w+");
      files.close(fd);
      files.rename(path.join(sub, "f.tmp"), path.join(sub, "f"));
      files.fsyncDir(sub);
      expect(files.readdir(sub)).toEqual(["f"]);
      expect(files.exists(path.join(sub, "f"))).toBe(true);
      files.unlink(path.join(sub, "f"));
      expect(files.exists(path.join(sub, "f"))).toBe(false);
    });
  });
}

describe("writevFully", () => {
  test("one vectored write for many buffers; a short one is finished buffer by buffer from where it stopped", () => {
    const calls: string[] = [];
    // A vectored write that stops after 7 bytes (in the middle of the second buffer), then single writes of at most 3.
    const files: FileOps = {
      ...realFileOps,
      pwritev: (fd, bufs, pos) => {
        calls.push(`pwritev ${bufs.length}@${pos}`);
        const first = bufs[0];
        const second = bufs[1].subarray(0, 7 - first.length);
        return realFileOps.pwrite(fd, first, 0, first.length, pos) + realFileOps.pwrite(fd, second, 0, second.length, pos + first.length);
      },
      pwrite: (fd, buf, off, len, pos) => {
        calls.push(`pwrite ${Math.min(len, 3)}@${pos}`);
        return realFileOps.pwrite(fd, buf, off, Math.min(len, 3), pos);
      },
    };
    const p = path.join(dir, "v.log");
    const fd = files.open(p, "w+");
    writevFully(files, fd, [bytes(4, 1), bytes(5, 2), bytes(2, 3)], 3, 10);
    files.close(fd);
    expect(calls).toEqual(["pwritev 3@10", "pwrite 2@17", "pwrite 2@19"]);
    const back = contents(p);
    expect(Array.from(back.subarray(10))).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3]);
    expect(() => writevFully(files, fd, [], WRITEV_BUFFERS_MAX + 1, 0)).toThrow(RangeError);
  });

  test("a disk that takes nothing more is ENOSPC, not a loop", () => {
    const files = new FaultyFileOps(realFileOps, { writeBytesMax: 6 });
    const fd = files.open(path.join(dir, "full.log"), "w+");
    let code = "";
    try {
      writevFully(files, fd, [bytes(4, 1), bytes(4, 2)], 2, 0);
    } catch (e) {
      code = (e as { code: string }).code;
    }
    files.close(fd);
    expect(code).toBe("ENOSPC");
  });
});

describe("writeGathered", () => {
  test("gathers whole buffers into one syscall up to the chunk size; a larger buffer goes alone, never split", () => {
    const calls: number[][] = [];
    const files: FileOps = {
      ...realFileOps,
      pwritev: (fd, bufs, pos) => {
        calls.push(bufs.map((b) => b.length));
        return (realFileOps.pwritev as NonNullable<FileOps["pwritev"]>)(fd, bufs, pos);
      },
      pwrite: (fd, buf, off, len, pos) => {
        calls.push([len]);
        return realFileOps.pwrite(fd, buf, off, len, pos);
      },
    };
    const p = path.join(dir, "g.log");
    const fd = files.open(p, "w+");
    const bufs = [bytes(4, 1), bytes(5, 2), bytes(23, 3), bytes(2, 4), bytes(10, 5), bytes(1, 6)];
    writeGathered(files, fd, bufs, bufs.length, 3, 10);
    files.close(fd);
    expect(calls).toEqual([[4, 5], [23], [2], [10], [1]]);
    const back = contents(p);
    expect(back.length).toBe(3 + 45);
    expect(Array.from(back.subarray(3))).toEqual(bufs.flatMap((b) => Array.from(b)));
  });
});

describe("FaultyFileOps", () => {
  test("fails the k-th fdatasync and every later one with EIO", () => {
    const files = new FaultyFileOps(realFileOps, { failFdatasyncAt: 2 });
    const fd = files.open(path.join(dir, "f"), "w+");
    files.fdatasync(fd);
    expect(() => files.fdatasync(fd)).toThrow(expect.objectContaining({ code: "EIO" }));
    expect(() => files.fdatasync(fd)).toThrow(expect.objectContaining({ code: "EIO" }));
    files.close(fd);
  });

  test("every fdatasync fails with EIO once the eioFile exists, not before", () => {
    const eioFile = path.join(dir, "disk-dead");
    const files = new FaultyFileOps(realFileOps, { eioFile });
    const fd = files.open(path.join(dir, "f"), "w+");
    files.fdatasync(fd);
    files.fdatasync(fd);
    fs.writeFileSync(eioFile, "");
    expect(() => files.fdatasync(fd)).toThrow(expect.objectContaining({ code: "EIO" }));
    let asyncError: Error | null = null;
    files.fdatasyncAsync(fd, (err) => (asyncError = err));
    return new Promise<void>((resolve) => setImmediate(() => {
      expect(asyncError).toEqual(expect.objectContaining({ code: "EIO" }));
      files.close(fd);
      resolve();
    }));
  });

  test("a full disk gives a short write, then ENOSPC", () => {
    const files = new FaultyFileOps(realFileOps, { writeBytesMax: 100 });
    const fd = files.open(path.join(dir, "f"), "w+");
    expect(files.pwrite(fd, bytes(60, 1), 0, 60, 0)).toBe(60);
    expect(files.pwrite(fd, bytes(60, 2), 0, 60, 60)).toBe(40);
    expect(() => files.pwrite(fd, bytes(20, 3), 0, 20, 100)).toThrow(expect.objectContaining({ code: "ENOSPC" }));
    expect(() => writeFully(files, fd, bytes(5, 3), 0, 5, 100)).toThrow(expect.objectContaining({ code: "ENOSPC" }));
    // Rewriting bytes the file already has needs no room; a write straddling the end gets the part inside.
    expect(files.pwrite(fd, bytes(30, 4), 0, 30, 10)).toBe(30);
    expect(files.pwrite(fd, bytes(30, 5), 0, 30, 90)).toBe(10);
    const back = new Uint8Array(100);
    files.pread(fd, back, 0, 100, 0);
    expect([back[9], back[10], back[39], back[40], back[89], back[90], back[99]]).toEqual([1, 4, 4, 1, 2, 5, 5]);
    files.close(fd);
  });

  test("a full disk gets room back from a truncation, from setWriteBytesMax, and once the spaceFile exists", () => {
    const spaceFile = path.join(dir, "freed");
    const files = new FaultyFileOps(realFileOps, { writeBytesMax: 100, spaceFile });
    const fd = files.open(path.join(dir, "f"), "w+");
    expect(files.pwrite(fd, bytes(100, 1), 0, 100, 0)).toBe(100);
    expect(() => files.pwrite(fd, bytes(10, 2), 0, 10, 100)).toThrow(expect.objectContaining({ code: "ENOSPC" }));
    // Cutting 30 bytes frees 30 bytes.
    files.ftruncate(fd, 70);
    expect(files.bytesGrown).toBe(70);
    expect(files.pwrite(fd, bytes(40, 3), 0, 40, 70)).toBe(30);
    // Raised at run time: 20 more bytes.
    files.setWriteBytesMax(120);
    expect(files.pwrite(fd, bytes(40, 4), 0, 40, 100)).toBe(20);
    expect(() => files.pwrite(fd, bytes(1, 5), 0, 1, 120)).toThrow(expect.objectContaining({ code: "ENOSPC" }));
    // The space file: no limit any more.
    fs.writeFileSync(spaceFile, "");
    expect(files.pwrite(fd, bytes(1000, 6), 0, 1000, 120)).toBe(1000);
    expect(files.size(fd)).toBe(1120);
    files.close(fd);
  });

  test("power loss drops exactly the bytes no fdatasync covered", () => {
    const files = new FaultyFileOps(realFileOps, { powerLoss: true });
    const p = path.join(dir, "seg");
    const fd = files.open(p, "w+");
    writeFully(files, fd, bytes(100, 1), 0, 100, 0);
    files.fdatasync(fd);
    writeFully(files, fd, bytes(50, 2), 0, 50, 100); // appended, unsynced
    writeFully(files, fd, bytes(10, 3), 0, 10, 20); // overwrites synced bytes, unsynced
    files.ftruncate(fd, 40); // unsynced truncation
    expect(files.crash("drop-unsynced").unsyncedChanges).toBe(3);
    expect(contents(p)).toEqual(bytes(100, 1));
    // every descriptor of the crashed process is gone
    expect(() => realFileOps.size(fd)).toThrow();
  });

  test("tear replays a seeded prefix of unsynced writes, the last one cut", () => {
    const sizes = new Set<number>();
    for (let seed = 1; seed <= 20; seed++) {
      const files = new FaultyFileOps(realFileOps, { powerLoss: true, seed });
      const p = path.join(dir, `seg${seed}`);
      const fd = files.open(p, "w+");
      writeFully(files, fd, bytes(64, 1), 0, 64, 0);
      files.fdatasync(fd);
      for (let i = 0; i < 4; i++) writeFully(files, fd, bytes(32, 10 + i), 0, 32, 64 + 32 * i);
      const { replayedBytes } = files.crash("tear");
      const after = contents(p);
      expect(after.length).toBe(64 + replayedBytes);
      expect(after.subarray(0, 64)).toEqual(bytes(64, 1));
      for (let i = 64; i < after.length; i++) expect(after[i]).toBe(10 + Math.floor((i - 64) / 32));
      sizes.add(after.length);
    }
    // the tear point moves with the seed
    expect(sizes.size).toBeGreaterThan(5);
  });

  test("a rename carries unsynced writes to the new name; an unlink forgets them", () => {
    const files = new FaultyFileOps(realFileOps, { powerLoss: true });
    const a = path.join(dir, "a.tmp");
    const fd = files.open(a, "w+");
    writeFully(files, fd, bytes(8, 4), 0, 8, 0);
    files.close(fd);
    files.rename(a, path.join(dir, "a"));
    const gone = path.join(dir, "gone");
    const fd2 = files.open(gone, "w+");
    writeFully(files, fd2, bytes(8, 5), 0, 8, 0);
    files.close(fd2);
    files.unlink(gone);
    expect(files.crash().unsyncedChanges).toBe(1);
    expect(contents(path.join(dir, "a")).length).toBe(0);
  });
});
