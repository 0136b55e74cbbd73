import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { crc32c } from "../../protocol/crc32c.ts";
import { closeQuietly, concat, makeBatch, makeTempDir, removeDir } from "../../test/log/helpers.ts";
import { FaultyFileOps, type FileOps, realFileOps } from "./file_ops.ts";
import { JOURNAL_DIR_BYTES_MAX, JOURNAL_ROUND_BYTES_MAX } from "./log_limits.ts";
import {
  JOURNAL_HEADER_BYTES,
  JOURNAL_MAGIC,
  JOURNAL_RECORD_HEADER_BYTES,
  JOURNAL_VERSION,
  WorkerJournal,
  journalDirKey,
  journalPartitionName,
  parseJournalPartitionName,
  scanJournal,
  workerJournalPath,
} from "./worker_journal.ts";

/** The smallest journal create() accepts: a header and one full round. */
const CAPACITY_MIN = JOURNAL_HEADER_BYTES + JOURNAL_ROUND_BYTES_MAX;
/** Room for several small rounds before a checkpoint is needed. */
const CAPACITY = CAPACITY_MIN + 64 * 1024;

let root = "";
let journals: WorkerJournal[] = [];
beforeEach(() => {
  root = makeTempDir();
  journals = [];
});
afterEach(() => {
  closeQuietly(journals);
  removeDir(root);
});

function create(files: FileOps = realFileOps, capacity = CAPACITY, worker = 0): WorkerJournal {
  const j = WorkerJournal.create(workerJournalPath(root, worker), files, capacity);
  journals.push(j);
  return j;
}

/** A record as scanJournal() returns it: these batches go at `position` of segment `segment` in `dir`. */
interface Rec {
  dir: string;
  segment: number;
  position: number;
  bytes: Uint8Array;
}

/** Place bytes after the directory name: segment base offset and position (f64 each). */
const PLACE_BYTES = 16;

function rec(dir: string, bytes: Uint8Array, segment = 0, position = 0): Rec {
  return { dir, segment, position, bytes };
}

/** Bytes a record takes in the journal. */
function recordBytes(r: Rec): number {
  return JOURNAL_RECORD_HEADER_BYTES + journalDirKey(r.dir).length + PLACE_BYTES + r.bytes.length;
}

/** Puts one record into the journal's current round. */
function putRecord(j: WorkerJournal, r: Rec): void {
  const at = j.beginRecord(journalDirKey(r.dir), r.segment, r.position, r.bytes.length);
  expect(at).toBeGreaterThanOrEqual(0);
  j.roundBuffer.set(r.bytes, at);
  j.endRecord();
}

/** One committed round of the given records. */
function commitRound(j: WorkerJournal, records: Rec[]): void {
  j.begin();
  for (const r of records) putRecord(j, r);
  j.commit();
}

function batches(tag: number, n = 2): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < n; i++) parts.push(makeBatch({ count: 1 + ((tag + i) % 3), tag: tag * 10 + i }));
  return concat(parts);
}

function scan(j: WorkerJournal | string, files: FileOps = realFileOps) {
  return scanJournal(files, typeof j === "string" ? j : j.path);
}

/** The scan's records as plain objects (copies), for toEqual. */
function found(j: WorkerJournal | string, files: FileOps = realFileOps): Rec[] {
  return scan(j, files).records.map((r) => rec(r.dir, r.batches.slice(), r.segmentBaseOffset, r.position));
}

function flipByte(file: string, position: number): void {
  const bytes = fs.readFileSync(file);
  bytes[position] ^= 0x40;
  fs.writeFileSync(file, bytes);
}

describe("journal paths and keys", () => {
  test("each worker has its own file under <data dir>/journal", () => {
    expect(workerJournalPath("/data", 0)).toBe(path.join("/data", "journal", "worker-0.journal"));
    expect(workerJournalPath("/data", 7)).toBe(path.join("/data", "journal", "worker-7.journal"));
  });

  test("a directory key is the UTF-8 name; empty or longer than JOURNAL_DIR_BYTES_MAX is refused", () => {
    expect(journalDirKey("topics/t/0")).toEqual(new TextEncoder().encode("topics/t/0"));
    expect(journalDirKey("topics/é/1").length).toBe("topics/é/1".length + 1);
    expect(journalDirKey("x".repeat(JOURNAL_DIR_BYTES_MAX)).length).toBe(JOURNAL_DIR_BYTES_MAX);
    expect(() => journalDirKey("")).toThrow(RangeError);
    expect(() => journalDirKey("x".repeat(JOURNAL_DIR_BYTES_MAX + 1))).toThrow(RangeError);
  });
});

describe("partition names", () => {
  test("a record names a partition by its directory and its incarnation, and the name parses back", () => {
    const name = journalPartitionName("topics/t/0", "4f1c2d");
    expect(name).toBe("topics/t/0#4f1c2d");
    expect(parseJournalPartitionName(name)).toEqual({ dir: "topics/t/0", incarnation: "4f1c2d" });
    // The incarnation is what follows the last '#'.
    expect(parseJournalPartitionName("a#b/c#d")).toEqual({ dir: "a#b/c", incarnation: "d" });
    // A name without one names no incarnation.
    expect(parseJournalPartitionName("topics/t/0")).toEqual({ dir: "topics/t/0", incarnation: "" });
  });

  test("the name goes through a record unchanged", () => {
    const j = create();
    const name = journalPartitionName("topics/événements/3", "id-9");
    commitRound(j, [rec(name, batches(1), 0, 0)]);
    const [r] = scan(j).records;
    expect(parseJournalPartitionName(r.dir)).toEqual({ dir: "topics/événements/3", incarnation: "id-9" });
  });
});

describe("create", () => {
  test("makes a zero-filled file of the capacity with a generation-1 header, and nothing to scan", () => {
    const j = create();
    const bytes = fs.readFileSync(j.path);
    expect(bytes.length).toBe(CAPACITY);
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    expect(v.getUint32(0)).toBe(JOURNAL_MAGIC);
    expect(v.getUint16(4)).toBe(JOURNAL_VERSION);
    expect(v.getFloat64(8)).toBe(1);
    expect(v.getUint32(16)).toBe(crc32c(bytes.subarray(0, 16)));
    // Everything after the header's 20 bytes is zero: preallocated, written in place.
    expect(bytes.subarray(20).every((b) => b === 0)).toBe(true);
    expect(j.generation).toBe(1);
    expect(j.usedBytes).toBe(0);
    expect(j.needsCheckpoint).toBe(false);
    expect(scan(j)).toEqual({ headerValid: true, generation: 1, records: [], endPosition: JOURNAL_HEADER_BYTES });
  });

  test("empties a journal that already exists at the path", () => {
    const j = create();
    commitRound(j, [rec("topics/t/0", batches(1))]);
    j.close();
    expect(found(j).length).toBe(1);
    const again = create();
    expect(fs.statSync(again.path).size).toBe(CAPACITY);
    expect(scan(again).records).toEqual([]);
  });

  test("refuses a capacity that cannot hold a header and a full round", () => {
    expect(() => WorkerJournal.create(workerJournalPath(root, 0), realFileOps, CAPACITY_MIN - 1)).toThrow(RangeError);
    expect(() => WorkerJournal.create(workerJournalPath(root, 0), realFileOps, CAPACITY_MIN + 0.5)).toThrow(RangeError);
    expect(() => WorkerJournal.create(workerJournalPath(root, 0), realFileOps, 0)).toThrow(RangeError);
    // The smallest legal one works.
    const j = create(realFileOps, CAPACITY_MIN);
    expect(fs.statSync(j.path).size).toBe(CAPACITY_MIN);
  });
});

describe("rounds", () => {
  test("a committed round's records come back in order, with their directory, segment, position and the exact batch bytes", () => {
    const j = create();
    const round1 = [
      rec("topics/t/0", batches(1, 3), 0, 0),
      rec("topics/t/1", batches(2, 1), 1200, 4096),
      rec("topics/other-topic/12", batches(3, 2), 2 ** 40 + 3, 2 ** 31 + 17),
    ];
    commitRound(j, round1);
    const round2 = [rec("topics/t/1", batches(4, 2), 1200, 4096 + round1[1].bytes.length), rec("topics/t/0", batches(5, 1), 0, round1[0].bytes.length)];
    commitRound(j, round2);
    const s = scan(j);
    expect(s.headerValid).toBe(true);
    expect(s.generation).toBe(1);
    expect(found(j)).toEqual([...round1, ...round2]);
    const used = [...round1, ...round2].reduce((n, r) => n + recordBytes(r), 0);
    expect(j.usedBytes).toBe(used);
    expect(s.endPosition).toBe(JOURNAL_HEADER_BYTES + used);
    // Written in place: the file never grows.
    expect(fs.statSync(j.path).size).toBe(CAPACITY);
  });

  test("commit() with an empty round writes nothing and syncs nothing", () => {
    const files = new FaultyFileOps(realFileOps);
    const j = create(files);
    const syncs = files.fdatasyncCalls;
    const written = files.bytesWritten;
    j.begin();
    expect(j.roundHasRecords).toBe(false);
    j.commit();
    expect(files.fdatasyncCalls).toBe(syncs);
    expect(files.bytesWritten).toBe(written);
  });

  test("a committed round costs one fdatasync, however many records it has", () => {
    const files = new FaultyFileOps(realFileOps);
    const j = create(files);
    const syncs = files.fdatasyncCalls;
    j.begin();
    for (let i = 0; i < 5; i++) putRecord(j, rec(`topics/t/${i}`, batches(i, 1)));
    expect(j.roundHasRecords).toBe(true);
    j.commit();
    expect(files.fdatasyncCalls).toBe(syncs + 1);
    expect(found(j).length).toBe(5);
  });

  test("records of a round never committed are not found; begin() forgets them", () => {
    const j = create();
    const committed = [rec("topics/t/0", batches(1))];
    commitRound(j, committed);
    j.begin();
    putRecord(j, rec("topics/t/1", batches(2)));
    putRecord(j, rec("topics/t/2", batches(3)));
    // not committed: nothing new on disk
    expect(found(j)).toEqual(committed);
    // begin() drops the uncommitted round: the next commit holds only what came after it
    j.begin();
    const next = [rec("topics/t/2", batches(4), 7, 99)];
    for (const r of next) putRecord(j, r);
    j.commit();
    expect(found(j)).toEqual([...committed, ...next]);
  });

  test("an abandoned record is not in the round; the records around it are", () => {
    const j = create();
    j.begin();
    putRecord(j, rec("topics/t/0", batches(1)));
    const at = j.beginRecord(journalDirKey("topics/t/1"), 5, 10, 100);
    expect(at).toBeGreaterThan(0);
    j.roundBuffer.fill(0xee, at, at + 100);
    j.abandonRecord();
    expect(() => j.endRecord()).toThrow();
    putRecord(j, rec("topics/t/2", batches(2)));
    j.commit();
    expect(found(j)).toEqual([rec("topics/t/0", batches(1)), rec("topics/t/2", batches(2))]);
  });

  test("a record with a flipped byte stops the scan there: it and every later record are not returned", () => {
    const j = create();
    const recs = [rec("topics/t/0", batches(1)), rec("topics/t/1", batches(2), 3, 333), rec("topics/t/2", batches(3))];
    commitRound(j, recs.slice(0, 2));
    commitRound(j, recs.slice(2));
    j.close();
    const secondAt = JOURNAL_HEADER_BYTES + recordBytes(recs[0]);
    const key = journalDirKey(recs[1].dir).length;
    // A flipped bit in the second record's batches, its position, its directory name, its generation.
    for (const offsetInRecord of [JOURNAL_RECORD_HEADER_BYTES + key + PLACE_BYTES + 30, JOURNAL_RECORD_HEADER_BYTES + key + 12, JOURNAL_RECORD_HEADER_BYTES + 2, 8]) {
      const original = fs.readFileSync(j.path);
      flipByte(j.path, secondAt + offsetInRecord);
      const s = scan(j);
      expect(s.headerValid).toBe(true);
      expect(s.records.map((r) => rec(r.dir, r.batches.slice(), r.segmentBaseOffset, r.position))).toEqual([recs[0]]);
      expect(s.endPosition).toBe(secondAt);
      fs.writeFileSync(j.path, original);
    }
    // Undamaged, all three are there again.
    expect(found(j)).toEqual(recs);
  });

  test("a record whose length field is damaged stops the scan", () => {
    const j = create();
    const recs = [rec("topics/t/0", batches(1)), rec("topics/t/1", batches(2))];
    commitRound(j, recs);
    j.close();
    const secondAt = JOURNAL_HEADER_BYTES + recordBytes(recs[0]);
    const bytes = fs.readFileSync(j.path);
    for (const len of [0, 5, JOURNAL_ROUND_BYTES_MAX + 1, 0xffffffff]) {
      const copy = Buffer.from(bytes);
      copy.writeUInt32BE(len, secondAt);
      fs.writeFileSync(j.path, copy);
      expect(found(j)).toEqual([recs[0]]);
    }
  });

  test("after restart() (a new generation) the old records are not returned, and the new ones are", () => {
    const j = create();
    const old = [rec("topics/t/0", batches(1)), rec("topics/t/1", batches(2)), rec("topics/t/2", batches(3))];
    commitRound(j, old);
    expect(found(j)).toEqual(old);
    j.restart();
    expect(j.generation).toBe(2);
    expect(j.usedBytes).toBe(0);
    const s = scan(j);
    expect(s.generation).toBe(2);
    expect(s.records).toEqual([]);
    // A new record exactly as long as the first old one: the second old record, whole and
    // with a valid CRC, starts right after it. Only its generation tells it is stale.
    const freshBytes = old[0].bytes.slice();
    freshBytes[freshBytes.length - 1] ^= 0xff;
    const fresh = rec("topics/t/0", freshBytes, 0, 0);
    expect(recordBytes(fresh)).toBe(recordBytes(old[0]));
    commitRound(j, [fresh]);
    expect(found(j)).toEqual([fresh]);
    // A generation later, again.
    j.restart();
    expect(j.generation).toBe(3);
    commitRound(j, [rec("topics/t/9", batches(12))]);
    expect(found(j)).toEqual([rec("topics/t/9", batches(12))]);
    expect(scan(j).generation).toBe(3);
  });

  test("a damaged header gives headerValid false and no records", () => {
    const j = create();
    commitRound(j, [rec("topics/t/0", batches(1))]);
    j.close();
    const original = fs.readFileSync(j.path);
    // magic, version, generation (CRC), the CRC itself
    for (const at of [0, 5, 9, 17]) {
      flipByte(j.path, at);
      expect(scan(j)).toEqual({ headerValid: false, generation: 0, records: [], endPosition: 0 });
      fs.writeFileSync(j.path, original);
    }
    // A file shorter than the header.
    fs.writeFileSync(j.path, original.subarray(0, JOURNAL_HEADER_BYTES - 1));
    expect(scan(j).headerValid).toBe(false);
    fs.writeFileSync(j.path, original);
    expect(scan(j).records.length).toBe(1);
  });

  test("a scan ends at the end of a file cut inside a record", () => {
    const j = create();
    const recs = [rec("topics/t/0", batches(1)), rec("topics/t/1", batches(2))];
    commitRound(j, recs);
    j.close();
    const end = scan(j).endPosition;
    fs.truncateSync(j.path, end - 1);
    expect(found(j)).toEqual([recs[0]]);
  });
});

describe("limits", () => {
  test("beginRecord returns -1 when the record does not fit the round (JOURNAL_ROUND_BYTES_MAX), or has no data", () => {
    const j = create();
    const key = journalDirKey("topics/t/0");
    const overhead = JOURNAL_RECORD_HEADER_BYTES + key.length + PLACE_BYTES;
    const fits = JOURNAL_ROUND_BYTES_MAX - overhead;
    j.begin();
    expect(j.beginRecord(key, 0, 0, 0)).toBe(-1);
    expect(j.beginRecord(key, 0, 0, fits + 1)).toBe(-1);
    expect(j.beginRecord(key, 0, 0, fits)).toBe(overhead);
    j.abandonRecord();
    // Part of the round taken: the rest is what is left.
    j.begin();
    putRecord(j, rec("topics/t/0", new Uint8Array(1000).fill(1)));
    const used = overhead + 1000;
    expect(j.beginRecord(key, 0, 1000, fits - used + 1)).toBe(-1);
    expect(j.beginRecord(key, 0, 1000, fits - used)).toBe(used + overhead);
    j.roundBuffer.fill(2, used + overhead, JOURNAL_ROUND_BYTES_MAX);
    j.endRecord();
    // The round is full: not even one byte more.
    expect(j.beginRecord(key, 0, 0, 1)).toBe(-1);
    j.commit();
    const recs = scan(j).records;
    expect(recs.length).toBe(2);
    expect(recs[1].batches.length).toBe(fits - used);
    expect(recs[1].position).toBe(1000);
    expect(j.usedBytes).toBe(JOURNAL_ROUND_BYTES_MAX);
  });

  test("needsCheckpoint turns true once a full round may not fit; a commit past the capacity throws; restart() makes room", () => {
    const j = create(realFileOps, CAPACITY_MIN + 1000);
    expect(j.needsCheckpoint).toBe(false);
    commitRound(j, [rec("topics/t/0", new Uint8Array(500).fill(7))]);
    expect(j.needsCheckpoint).toBe(false);
    commitRound(j, [rec("topics/t/0", new Uint8Array(500).fill(8), 0, 500)]);
    // 2 × (18 + 10 + 16 + 500) = 1088 bytes used: a full round would pass the end
    expect(j.needsCheckpoint).toBe(true);
    const before = found(j);
    expect(before.length).toBe(2);
    // A round that does not fit what is left is refused, and nothing of it is written.
    const key = journalDirKey("topics/t/1");
    const big = JOURNAL_ROUND_BYTES_MAX - JOURNAL_RECORD_HEADER_BYTES - key.length - PLACE_BYTES;
    j.begin();
    const at = j.beginRecord(key, 0, 0, big);
    expect(at).toBeGreaterThanOrEqual(0);
    j.roundBuffer.fill(9, at, at + big);
    j.endRecord();
    expect(() => j.commit()).toThrow(/past the end/);
    expect(found(j)).toEqual(before);
    expect(fs.statSync(j.path).size).toBe(CAPACITY_MIN + 1000);
    // A new generation starts over at the first record.
    j.restart();
    expect(j.needsCheckpoint).toBe(false);
    j.begin();
    const at2 = j.beginRecord(key, 0, 0, big);
    j.roundBuffer.fill(9, at2, at2 + big);
    j.endRecord();
    j.commit();
    const after = scan(j).records;
    expect(after.length).toBe(1);
    expect(after[0].batches.every((b) => b === 9)).toBe(true);
  });

  test("a closed journal refuses commit() and restart(); remove() needs close() and deletes the file", () => {
    const j = create();
    commitRound(j, [rec("topics/t/0", batches(1))]);
    expect(() => j.remove()).toThrow(/before close/);
    j.close();
    j.close(); // twice is fine
    j.begin();
    expect(() => j.commit()).toThrow(/closed/);
    expect(() => j.restart()).toThrow(/closed/);
    j.remove();
    expect(fs.existsSync(j.path)).toBe(false);
  });
});

describe("power loss", () => {
  test("a committed round survives crash(); an uncommitted one is not there", () => {
    const files = new FaultyFileOps(realFileOps, { powerLoss: true });
    const j = create(files);
    const committed = [rec("topics/t/0", batches(1)), rec("topics/t/1", batches(2), 4, 40)];
    commitRound(j, committed);
    j.begin();
    putRecord(j, rec("topics/t/2", batches(3)));
    // not committed
    files.crash("drop-unsynced");
    expect(found(j)).toEqual(committed);
    // The file keeps its preallocated size: nothing the journal wrote was unsynced.
    expect(fs.statSync(j.path).size).toBe(CAPACITY);
  });

  test("a round written but not fdatasynced (the fdatasync failed) is gone after crash(); the earlier ones stay", () => {
    // fdatasyncs: create() 1, first round 2, second round 3 (fails)
    const files = new FaultyFileOps(realFileOps, { powerLoss: true, failFdatasyncAt: 3 });
    const j = create(files);
    const first = [rec("topics/t/0", batches(1))];
    commitRound(j, first);
    j.begin();
    putRecord(j, rec("topics/t/1", batches(2)));
    putRecord(j, rec("topics/t/2", batches(3)));
    expect(() => j.commit()).toThrow(/EIO/);
    // Before the power goes the page cache holds the unsynced round.
    expect(found(j).length).toBe(3);
    files.crash("drop-unsynced");
    expect(found(j)).toEqual(first);
  });

  test("a torn round leaves the committed records and at most a whole-record prefix of the torn one", () => {
    const prefixes = new Set<number>();
    for (let seed = 1; seed <= 24; seed++) {
      const files = new FaultyFileOps(realFileOps, { powerLoss: true, failFdatasyncAt: 3, seed });
      const j = WorkerJournal.create(workerJournalPath(root, seed), files, CAPACITY);
      const first = [rec("topics/t/0", batches(seed))];
      commitRound(j, first);
      const torn: Rec[] = [];
      for (let i = 0; i < 4; i++) torn.push(rec(`topics/t/${i}`, batches(seed * 5 + i, 1 + (i % 2)), i, 100 * i));
      j.begin();
      for (const r of torn) putRecord(j, r);
      expect(() => j.commit()).toThrow(/EIO/);
      files.crash("tear");
      const got = found(j.path);
      expect(got.slice(0, 1)).toEqual(first);
      const rest = got.slice(1);
      expect(rest).toEqual(torn.slice(0, rest.length));
      prefixes.add(rest.length);
    }
    // the tear point moves with the seed: sometimes none of the round, sometimes some of it
    expect(prefixes.has(0)).toBe(true);
    expect(prefixes.size).toBeGreaterThan(1);
  });

  test("a restart() that reached the disk hides the previous generation after a crash", () => {
    const files = new FaultyFileOps(realFileOps, { powerLoss: true });
    const j = create(files);
    commitRound(j, [rec("topics/t/0", batches(1))]);
    j.restart();
    const fresh = [rec("topics/t/1", batches(2))];
    commitRound(j, fresh);
    files.crash("drop-unsynced");
    const s = scan(j);
    expect(s.generation).toBe(2);
    expect(found(j)).toEqual(fresh);
  });
});
