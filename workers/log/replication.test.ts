// What the log gives replication, on real files: leader epochs stamped into
// batches and kept in the leader-epoch file (rebuilt when missing or damaged),
// Kafka's OffsetForLeaderEpoch, the follower append (the leader's bytes at the
// leader's offsets), truncateTo(), and two kill -9 tests in a child process:
// the epoch file keeps every epoch reported, and a truncation followed by a
// crash and the worker journal's replay never brings cut bytes back.

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { readI32 } from "../../protocol/big_endian.ts";
import { BatchError, PARTITION_LEADER_EPOCH_OFFSET, decodeBatch, encodeBatch, patchLeaderEpoch } from "../../protocol/record_batch.ts";
import { concat, makeBatch, makeTempDir, readAll, removeDir, testConfig } from "../../test/log/helpers.ts";
import { TRUNCATE_CHILD_INCARNATION, TRUNCATE_CHILD_PARTITION } from "../testing/replica_crash_child.ts";
import { realFileOps } from "./file_ops.ts";
import { replayJournals } from "./journal_replay.ts";
import { LeaderEpochCache } from "./leader_epoch_cache.ts";
import { LEADER_EPOCH_FILE, decodeLeaderEpochFile, encodeLeaderEpochFile } from "./leader_epoch_file.ts";
import { PartitionLog } from "./partition_log.ts";
import { ReplicaLogError } from "./replica_log_error.ts";
import { LOG_SUFFIX } from "./segment_file.ts";

let root = "";
beforeEach(() => {
  root = makeTempDir();
});
afterEach(() => removeDir(root));

/** Small segments so that the logs here roll several times. */
const CONFIG = testConfig({ "segment.bytes": 2048, "index.interval.bytes": 256 });
const CHILD = path.join(import.meta.dir, "..", "testing", "replica_crash_child.ts");
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

function open(name: string): PartitionLog {
  return PartitionLog.open({ dir: path.join(root, name), config: CONFIG });
}

function epochsOf(log: PartitionLog): number[] {
  return readAll(log).map((b) => readI32(b.bytes, PARTITION_LEADER_EPOCH_OFFSET));
}

function valuesOf(log: PartitionLog): string[] {
  const out: string[] = [];
  for (const b of readAll(log)) for (const r of decodeBatch(b.bytes).records) out.push(utf8Decoder.decode(r.value ?? new Uint8Array()));
  return out;
}

function valueBatch(value: string): Uint8Array {
  return encodeBatch([{ key: "k", value: utf8.encode(value), timestamp: 1_700_000_000_000 }]);
}

/** Every .log file of a partition directory, by name. */
function segmentFiles(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const name of fs.readdirSync(dir).sort()) if (name.endsWith(LOG_SUFFIX)) out.set(name, fs.readFileSync(path.join(dir, name)));
  return out;
}

describe("leader epochs stamped into batches", () => {
  test("a single node keeps -1 (what clients send): the stored bytes are the producer's but for the base offset", () => {
    const log = open("p");
    const batch = makeBatch({ count: 2, tag: 1 });
    const sent = batch.slice();
    log.append(makeBatch({ count: 3 }));
    log.append(batch);
    const stored = readAll(log)[1].bytes;
    expect(readI32(stored, PARTITION_LEADER_EPOCH_OFFSET)).toBe(-1);
    // All but the 8 base-offset bytes unchanged.
    expect(stored.subarray(8)).toEqual(sent.subarray(8));
    expect(log.leaderEpochs()).toEqual([]);
    expect(fs.existsSync(path.join(root, "p", LEADER_EPOCH_FILE))).toBe(false);
    log.close();
  });

  test("a producer's own epoch is overwritten with the leader's", () => {
    const log = open("p");
    log.setLeaderEpoch(4);
    const b = makeBatch();
    patchLeaderEpoch(b, 0, 99);
    log.append(b);
    expect(epochsOf(log)).toEqual([4]);
    log.close();
  });

  test("epochs are stamped per append and survive a restart, with the file naming where each started", () => {
    let log = open("p");
    log.setLeaderEpoch(0);
    for (let i = 0; i < 10; i++) log.append(makeBatch({ tag: i, count: 2 }));
    log.setLeaderEpoch(3);
    for (let i = 0; i < 30; i++) log.append(makeBatch({ tag: 100 + i, count: 2 }));
    expect(log.segmentCount).toBeGreaterThan(1);
    log.close();
    log = open("p");
    expect(epochsOf(log)).toEqual([...Array(10).fill(0), ...Array(30).fill(3)]);
    expect(log.leaderEpochs()).toEqual([
      { epoch: 0, startOffset: 0 },
      { epoch: 3, startOffset: 20 },
    ]);
    expect(log.epochFileRebuilt).toBe(null);
    // The epoch goes on from the latest one after a restart.
    expect(log.leaderEpoch).toBe(3);
    log.append(makeBatch({ tag: 999 }));
    expect(epochsOf(log).at(-1)).toBe(3);
    log.close();
  });

  test("an older epoch, or one outside the i32 range, is refused with a typed error", () => {
    const log = open("p");
    log.setLeaderEpoch(5);
    for (const [epoch, reason] of [
      [4, "EPOCH_REGRESSION"],
      [-1, "EPOCH_REGRESSION"],
      [-2, "INVALID_EPOCH"],
      [2 ** 31, "INVALID_EPOCH"],
      [1.5, "INVALID_EPOCH"],
    ] as const) {
      let error: unknown = null;
      try {
        log.setLeaderEpoch(epoch);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ReplicaLogError);
      expect((error as ReplicaLogError).reason).toBe(reason);
    }
    expect(log.leaderEpoch).toBe(5);
    log.close();
  });
});

describe("the leader-epoch file", () => {
  function threeEpochs(): string {
    const log = open("p");
    for (const epoch of [1, 3, 4]) {
      log.setLeaderEpoch(epoch);
      for (let i = 0; i < 10; i++) log.append(makeBatch({ tag: epoch * 100 + i, count: 1 }));
    }
    log.close();
    return path.join(root, "p");
  }

  test("removed: rebuilt from the batches' epochs at open, and written again", () => {
    const dir = threeEpochs();
    const file = path.join(dir, LEADER_EPOCH_FILE);
    const before = fs.readFileSync(file);
    fs.unlinkSync(file);
    const log = open("p");
    expect(log.epochFileRebuilt).toBe("missing");
    expect(log.leaderEpochs()).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 3, startOffset: 10 },
      { epoch: 4, startOffset: 20 },
    ]);
    expect(fs.readFileSync(file)).toEqual(before);
    log.close();
  });

  test("damaged (a flipped digit): the checksum catches it and the file is rebuilt", () => {
    const dir = threeEpochs();
    const file = path.join(dir, LEADER_EPOCH_FILE);
    const bytes = fs.readFileSync(file);
    const at = bytes.indexOf("3 10");
    bytes[at + 2] = "2".charCodeAt(0); // "3 20": still well-formed, and wrong
    fs.writeFileSync(file, bytes);
    const log = open("p");
    expect(log.epochFileRebuilt).toBe("checksum mismatch");
    expect(log.endOffsetForEpoch(3)).toEqual({ epoch: 3, endOffset: 20 });
    log.close();
  });

  test("a log that never had an epoch is not walked at open (one index interval of headers is read, not the log)", () => {
    let log = open("p");
    for (let i = 0; i < 200; i++) log.append(makeBatch({ tag: i, count: 1 }));
    log.close();
    let preads = 0;
    const files = { ...realFileOps, pread: (fd: number, buf: Uint8Array, off: number, len: number, pos: number) => (preads++, realFileOps.pread(fd, buf, off, len, pos)) };
    log = PartitionLog.open({ dir: path.join(root, "p"), config: CONFIG, files });
    expect(log.epochFileRebuilt).toBe(null);
    const withoutEpochs = preads;
    log.close();
    // The same log with epochs and its file removed: the walk reads every batch header.
    log = open("q");
    log.setLeaderEpoch(1);
    for (let i = 0; i < 200; i++) log.append(makeBatch({ tag: i, count: 1 }));
    log.close();
    fs.unlinkSync(path.join(root, "q", LEADER_EPOCH_FILE));
    preads = 0;
    log = PartitionLog.open({ dir: path.join(root, "q"), config: CONFIG, files });
    expect(log.epochFileRebuilt).toBe("missing");
    expect(preads - withoutEpochs).toBeGreaterThanOrEqual(200);
    log.close();
  });

  test("the format round-trips and refuses what does not increase", () => {
    const entries = [
      { epoch: 0, startOffset: 0 },
      { epoch: 7, startOffset: 1234567890123 },
    ];
    expect(decodeLeaderEpochFile(encodeLeaderEpochFile(entries))).toEqual(entries);
    expect(decodeLeaderEpochFile(encodeLeaderEpochFile([entries[1], entries[0]]))).toBe("entry 1 does not increase");
    expect(decodeLeaderEpochFile(new Uint8Array(0))).toBe("no checksum line");
  });
});

describe("endOffsetForEpoch (Kafka's OffsetForLeaderEpoch)", () => {
  test("latest: the log end; others: the largest epoch ≤ asked and the next epoch's start; unknown: undefined", () => {
    const dir = path.join(root, "c");
    fs.mkdirSync(dir);
    const empty = new LeaderEpochCache(realFileOps, dir, []);
    expect(empty.endOffsetForEpoch(0, 10)).toEqual({ epoch: -1, endOffset: -1 });
    const cache = new LeaderEpochCache(realFileOps, dir, [
      { epoch: 1, startOffset: 0 },
      { epoch: 3, startOffset: 10 },
      { epoch: 4, startOffset: 20 },
    ]);
    const end = 30;
    expect(cache.endOffsetForEpoch(4, end)).toEqual({ epoch: 4, endOffset: 30 });
    expect(cache.endOffsetForEpoch(3, end)).toEqual({ epoch: 3, endOffset: 20 });
    expect(cache.endOffsetForEpoch(1, end)).toEqual({ epoch: 1, endOffset: 10 });
    // Epoch 2 never led here: the largest below it is 1, which ended where 3 started.
    expect(cache.endOffsetForEpoch(2, end)).toEqual({ epoch: 1, endOffset: 10 });
    // Below every known epoch: the asked epoch, ending where the first known one starts.
    expect(cache.endOffsetForEpoch(0, end)).toEqual({ epoch: 0, endOffset: 0 });
    // Above the latest, or no epoch: undefined.
    expect(cache.endOffsetForEpoch(5, end)).toEqual({ epoch: -1, endOffset: -1 });
    expect(cache.endOffsetForEpoch(-1, end)).toEqual({ epoch: -1, endOffset: -1 });
  });

  test("retention moves the first epoch's start to the log start and forgets epochs wholly before it", () => {
    const log = PartitionLog.open({ dir: path.join(root, "r"), config: testConfig({ "segment.bytes": 1024, "retention.bytes": 3000 }) });
    for (const epoch of [1, 2, 3]) {
      log.setLeaderEpoch(epoch);
      for (let i = 0; i < 20; i++) log.append(makeBatch({ tag: epoch * 100 + i, count: 1, valueBytes: 60 }));
    }
    const removed = log.applyRetention().deletedSegments;
    expect(removed).toBeGreaterThan(0);
    const start = log.logStartOffset;
    expect(start).toBeGreaterThan(20);
    expect(start).toBeLessThan(40);
    expect(log.leaderEpochs()).toEqual([
      { epoch: 2, startOffset: start },
      { epoch: 3, startOffset: 40 },
    ]);
    log.close();
    const reopened = PartitionLog.open({ dir: path.join(root, "r"), config: testConfig({ "segment.bytes": 1024 }) });
    expect(reopened.leaderEpochs()[0]).toEqual({ epoch: 2, startOffset: start });
    reopened.close();
  });

  test("on a log: the latest epoch answers the log end as it grows", () => {
    const log = open("p");
    log.setLeaderEpoch(2);
    log.append(makeBatch({ count: 4 }));
    expect(log.endOffsetForEpoch(2)).toEqual({ epoch: 2, endOffset: 4 });
    log.setLeaderEpoch(6);
    log.append(makeBatch({ count: 3 }));
    expect(log.endOffsetForEpoch(2)).toEqual({ epoch: 2, endOffset: 4 });
    expect(log.endOffsetForEpoch(5)).toEqual({ epoch: 2, endOffset: 4 });
    expect(log.endOffsetForEpoch(6)).toEqual({ epoch: 6, endOffset: 7 });
    log.close();
  });
});

describe("follower append", () => {
  /** A leader log over several segments and epochs; returns its batches as a follower would fetch them. */
  function leaderWithHistory(): { leader: PartitionLog; fetched: Uint8Array[] } {
    const leader = open("leader");
    let tag = 0;
    for (const epoch of [0, 2, 5]) {
      leader.setLeaderEpoch(epoch);
      for (let i = 0; i < 12; i++) {
        // Sometimes two batches in one append, as a produce may carry.
        const parts = [makeBatch({ tag: tag++, count: 1 + (i % 4), valueBytes: 30 + i * 7 })];
        if (i % 3 === 0) parts.push(makeBatch({ tag: tag++, count: 2 }));
        leader.append(concat(parts));
      }
    }
    leader.flush();
    // Fetches of up to ~1 KiB of whole batches, as a replica fetch returns them.
    const fetched: Uint8Array[] = [];
    let offset = 0;
    while (offset < leader.logEndOffset) {
      const bytes = leader.read(offset, 1024);
      fetched.push(bytes);
      const batches = readAll(leader).filter((b) => b.baseOffset >= offset);
      let end = offset;
      let pos = 0;
      for (const b of batches) {
        if (pos + b.bytes.length > bytes.length) break;
        pos += b.bytes.length;
        end = b.lastOffset + 1;
      }
      offset = end;
    }
    return { leader, fetched };
  }

  test("the follower's segment files are byte-identical to the leader's, with the same epochs file", () => {
    const { leader, fetched } = leaderWithHistory();
    const follower = open("follower");
    for (const f of fetched) follower.appendAsFollower(f.slice());
    expect(follower.logEndOffset).toBe(leader.logEndOffset);
    expect(follower.flush()).toBe(leader.logEndOffset);
    expect(follower.leaderEpochs()).toEqual(leader.leaderEpochs());
    leader.close();
    follower.close();
    const a = segmentFiles(path.join(root, "leader"));
    const b = segmentFiles(path.join(root, "follower"));
    expect([...b.keys()]).toEqual([...a.keys()]);
    expect(a.size).toBeGreaterThan(1);
    for (const [name, bytes] of a) expect(b.get(name)).toEqual(bytes);
    expect(fs.readFileSync(path.join(root, "follower", LEADER_EPOCH_FILE))).toEqual(fs.readFileSync(path.join(root, "leader", LEADER_EPOCH_FILE)));
  });

  test("one fetch holding several idempotent producers' batches is stored, and the follower knows every producer's sequences", () => {
    const leader = open("leader");
    leader.setLeaderEpoch(3);
    const idem = (id: number, seq: number, value: string) =>
      encodeBatch([{ value: utf8.encode(value), timestamp: 1_700_000_000_000 }], { producerId: id, producerEpoch: 0, baseSequence: seq });
    // Two producers interleaved, and a plain batch between them, as a leader's log holds them.
    const sent = [idem(7, 0, "a0"), idem(9, 0, "b0"), idem(7, 1, "a1"), valueBatch("plain"), idem(9, 1, "b1"), idem(9, 2, "b2"), idem(7, 2, "a2")];
    for (const b of sent) leader.append(b.slice());
    const fetched = leader.read(0, 1 << 20);
    const follower = open("follower");
    const r = follower.appendAsFollower(fetched.slice());
    expect([r.baseOffset, r.lastOffset, r.records]).toEqual([0, 6, 7]);
    expect(valuesOf(follower)).toEqual(["a0", "b0", "a1", "plain", "b1", "b2", "a2"]);
    // As a new leader it answers each producer's retry from its state, with the original offsets, and stores nothing.
    const retryA = follower.append(idem(7, 2, "a2"));
    const retryB = follower.append(idem(9, 1, "b1"));
    expect([retryA.duplicate, retryA.baseOffset, retryB.duplicate, retryB.baseOffset]).toEqual([true, 6, true, 4]);
    expect(follower.logEndOffset).toBe(7);
    leader.close();
    follower.close();
  });

  test("a fetch that does not start at the log end is refused (OFFSET_MISMATCH) and stores nothing", () => {
    const { leader, fetched } = leaderWithHistory();
    const follower = open("follower");
    follower.appendAsFollower(fetched[0].slice());
    const end = follower.logEndOffset;
    for (const wrong of [fetched[0], fetched[2]]) {
      let error: unknown = null;
      try {
        follower.appendAsFollower(wrong.slice());
      } catch (e) {
        error = e;
      }
      expect((error as ReplicaLogError).reason).toBe("OFFSET_MISMATCH");
    }
    expect(follower.logEndOffset).toBe(end);
    // The right one still goes in.
    follower.appendAsFollower(fetched[1].slice());
    leader.close();
    follower.close();
  });

  test("a batch whose CRC does not check out is refused; an epoch going back is refused", () => {
    const { leader, fetched } = leaderWithHistory();
    const follower = open("follower");
    const bad = fetched[0].slice();
    bad[bad.length - 1] ^= 1;
    expect(() => follower.appendAsFollower(bad)).toThrow(BatchError);
    expect(follower.logEndOffset).toBe(0);
    const all = concat(fetched);
    follower.appendAsFollower(all.slice());
    // One more batch at the log end, stamped with an epoch older than the latest (5).
    const old = makeBatch();
    const view = new DataView(old.buffer);
    view.setBigInt64(0, BigInt(follower.logEndOffset));
    patchLeaderEpoch(old, 0, 2);
    let error: unknown = null;
    try {
      follower.appendAsFollower(old);
    } catch (e) {
      error = e;
    }
    expect((error as ReplicaLogError).reason).toBe("EPOCH_REGRESSION");
    leader.close();
    follower.close();
  });

  test("one follower append may hold batches of several idempotent producers interleaved (as the leader stored them); the follower's producer state learns each, so a retry to it as leader is a duplicate", () => {
    const leader = open("leader");
    leader.setLeaderEpoch(1);
    const batch = (producerId: number, seq: number, value: string) =>
      encodeBatch([{ value }, { value: `${value}+` }], { producerId, producerEpoch: 0, baseSequence: seq });
    // Producers 7 and 9, two batches each, interleaved on the leader.
    for (const [id, seq] of [[7, 0], [9, 0], [7, 2], [9, 2]] as const) leader.append(batch(id, seq, `p${id}-s${seq}`));
    const fetched = concat(readAll(leader).map((b) => b.bytes));
    const follower = open("follower");
    expect(follower.appendAsFollower(fetched.slice())).toMatchObject({ baseOffset: 0, lastOffset: 7 });
    expect(follower.producers.get(7)?.lastSequence).toBe(3);
    expect(follower.producers.get(9)?.lastSequence).toBe(3);
    // The follower becomes leader: producer 9 retries its last batch, answered with the offsets it has.
    follower.setLeaderEpoch(2);
    const retry = follower.append(batch(9, 2, "p9-s2"));
    expect(retry).toMatchObject({ baseOffset: 6, lastOffset: 7, duplicate: true });
    expect(follower.logEndOffset).toBe(8);
    leader.close();
    follower.close();
  });

  test("staged follower appends go out with group commit like any append", () => {
    const { leader, fetched } = leaderWithHistory();
    const follower = open("follower");
    // One fetch (under segment.bytes, so no roll writes it early), staged in two appends.
    const batches = readAll(leader).filter((b) => b.lastOffset < 6);
    follower.stageAsFollower(concat(batches.slice(0, 1).map((b) => b.bytes.slice())));
    follower.stageAsFollower(concat(batches.slice(1).map((b) => b.bytes.slice())));
    expect(follower.logEndOffset).toBe(0);
    follower.writeStaged();
    expect(follower.durableOffset).toBe(0);
    const durable = follower.flush();
    expect(durable).toBe(follower.logEndOffset);
    expect(durable).toBe((batches.at(-1)?.lastOffset ?? -2) + 1);
    expect(fetched.length).toBeGreaterThan(0);
    leader.close();
    follower.close();
  });
});

describe("truncateTo", () => {
  function valuesLog(name: string, count: number, epochAt: (i: number) => number): PartitionLog {
    const log = open(name);
    for (let i = 0; i < count; i++) {
      const epoch = epochAt(i);
      if (epoch !== log.leaderEpoch) log.setLeaderEpoch(epoch);
      log.append(valueBatch(`v${i}-${"y".repeat(100)}`.slice(0, 3 + (i % 50))));
    }
    return log;
  }

  test("cut inside an earlier segment, then append: the log is the prefix and the new batches, before and after a restart", () => {
    let log = valuesLog("p", 80, (i) => (i < 40 ? 1 : 2));
    log.flush();
    const segmentsBefore = log.segmentCount;
    expect(segmentsBefore).toBeGreaterThan(2);
    const prefix = valuesOf(log).slice(0, 25);
    const r = log.truncateTo(25);
    expect(r).toEqual({ logEndOffset: 25, removedOffsets: 55, removedSegments: r.removedSegments });
    expect(r.removedSegments).toBeGreaterThan(0);
    expect(log.logEndOffset).toBe(25);
    expect(log.durableOffset).toBe(25);
    expect(log.leaderEpochs()).toEqual([{ epoch: 1, startOffset: 0 }]);
    expect(valuesOf(log)).toEqual(prefix);
    log.setLeaderEpoch(3);
    for (const v of ["n0", "n1", "n2"]) log.append(valueBatch(v));
    expect(log.flush()).toBe(28);
    expect(valuesOf(log)).toEqual([...prefix, "n0", "n1", "n2"]);
    log.close();
    log = open("p");
    expect(valuesOf(log)).toEqual([...prefix, "n0", "n1", "n2"]);
    expect(log.leaderEpochs()).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 3, startOffset: 25 },
    ]);
    expect(log.read(25, 1024).length).toBeGreaterThan(0);
    log.close();
  });

  test("a cut inside a batch keeps the batch out whole (the log ends at its base offset); at or past the end changes nothing", () => {
    const log = open("p");
    log.append(makeBatch({ count: 5 }));
    log.append(makeBatch({ count: 5, tag: 2 }));
    expect(log.truncateTo(20)).toEqual({ logEndOffset: 10, removedOffsets: 0, removedSegments: 0 });
    expect(log.truncateTo(7).logEndOffset).toBe(5);
    expect(log.logEndOffset).toBe(5);
    expect(() => log.truncateTo(-1)).toThrow(ReplicaLogError);
    expect(log.truncateTo(0).logEndOffset).toBe(0);
    expect(log.sizeBytes).toBe(0);
    // An epoch set past the cut is forgotten with it: appends are stamped with what is left.
    log.setLeaderEpoch(4);
    log.append(makeBatch({ count: 1 }));
    log.truncateTo(0);
    expect(log.leaderEpochs()).toEqual([]);
    expect(log.leaderEpoch).toBe(-1);
    log.append(makeBatch({ count: 2 }));
    expect(log.logEndOffset).toBe(2);
    log.close();
  });

  test("a cut at a segment's base offset keeps that segment, empty and active", () => {
    const log = valuesLog("p", 60, () => 0);
    const second = fs.readdirSync(path.join(root, "p")).filter((n) => n.endsWith(LOG_SUFFIX)).sort()[1];
    const base = Number(second.slice(0, 20));
    log.truncateTo(base);
    expect(log.logEndOffset).toBe(base);
    expect(log.segmentCount).toBe(2);
    expect(fs.statSync(path.join(root, "p", second)).size).toBe(0);
    log.append(valueBatch("again"));
    expect(valuesOf(log).at(-1)).toBe("again");
    log.close();
  });

  test("staged appends are written first and cut with the rest; unsynced ones too, then the log flushes as usual", () => {
    const log = open("p");
    for (let i = 0; i < 5; i++) log.append(valueBatch(`d${i}`));
    log.flush();
    log.append(valueBatch("unsynced"));
    log.stage(valueBatch("staged"));
    expect(log.truncateTo(3).logEndOffset).toBe(3);
    expect(log.unsyncedBytes).toBe(0);
    log.append(valueBatch("after"));
    expect(log.flush()).toBe(4);
    expect(valuesOf(log)).toEqual(["d0", "d1", "d2", "after"]);
    log.close();
  });
});

/** Collects a child's complete stdout lines as they arrive. */
function collectLines(stream: ReadableStream<Uint8Array>): { lines: string[]; done: Promise<void> } {
  const lines: string[] = [];
  let partial = "";
  const decoder = new TextDecoder();
  const done = (async () => {
    for await (const chunk of stream) {
      partial += decoder.decode(chunk, { stream: true });
      const parts = partial.split("\n");
      partial = parts.pop() as string; // a line cut by the kill is ignored
      lines.push(...parts);
    }
  })();
  return { lines, done };
}

async function waitFor(condition: () => boolean, deadlineMs: number, what: string): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(2);
  }
}

const CHILD_WAIT_MS = 15_000;

describe("kill -9 (a real child process)", () => {
  const KILLS = 6;

  test(`the leader-epoch file keeps every epoch set before the kill, across ${KILLS} kills`, async () => {
    const dir = path.join(root, "epochs");
    const epochs = new Map<number, number>();
    const durable = new Map<number, number>();
    for (let kill = 0; kill < KILLS; kill++) {
      const child = Bun.spawn([process.execPath, CHILD, "epochs", dir, String(1000 + kill)], { stdout: "pipe", stderr: "pipe" });
      try {
        const out = collectLines(child.stdout);
        // Killed once a few epochs went by, at a moment the child picks by its own pace.
        const target = 3 + kill;
        await waitFor(() => out.lines.filter((l) => l.startsWith("epoch ")).length >= target || child.exitCode !== null, CHILD_WAIT_MS, "epochs from the child");
        child.kill("SIGKILL");
        await child.exited;
        await out.done;
        expect(child.signalCode).toBe("SIGKILL");
        for (const line of out.lines) {
          const [kind, a, b] = line.split(" ");
          if (kind === "epoch") epochs.set(Number(a), Number(b));
          if (kind === "durable") durable.set(Number(a), Number(b));
        }
      } finally {
        if (child.exitCode === null) child.kill("SIGKILL");
      }
      const log = PartitionLog.open({ dir, config: CONFIG });
      try {
        expect(log.epochFileRebuilt).toBe(null);
        const entries = log.leaderEpochs();
        const byEpoch = new Map(entries.map((e) => [e.epoch, e.startOffset]));
        // Every epoch reported (set, then written durably) is in the file at its start offset, unless it
        // started at the very end and the next one took its place (an epoch with no batch gives way).
        for (const [epoch, start] of epochs) {
          if (byEpoch.has(epoch)) expect(byEpoch.get(epoch)).toBe(start);
          else expect(entries.some((e) => e.startOffset === start && e.epoch > epoch)).toBe(true);
        }
        // Every batch reported durable carries its epoch, and the cache agrees with the batches.
        const stored = new Map(readAll(log).map((bt) => [bt.baseOffset, readI32(bt.bytes, PARTITION_LEADER_EPOCH_OFFSET)]));
        for (const [base, epoch] of durable) expect(stored.get(base)).toBe(epoch);
        for (const [base, epoch] of stored) {
          const at = entries.filter((e) => e.startOffset <= base).at(-1);
          expect(at?.epoch).toBe(epoch);
        }
      } finally {
        log.close();
      }
    }
    expect(epochs.size).toBeGreaterThanOrEqual(KILLS);
  }, 120_000);

  test("truncate, then kill -9, then the journal replay: the cut values never come back", async () => {
    const dataDir = path.join(root, "data");
    const child = Bun.spawn([process.execPath, CHILD, "truncate", dataDir], { stdout: "pipe", stderr: "pipe" });
    try {
      const out = collectLines(child.stdout);
      await waitFor(() => out.lines.some((l) => l.startsWith("ready ")) || child.exitCode !== null, CHILD_WAIT_MS, "the child to truncate");
      expect(out.lines).toContain("ready 7");
      child.kill("SIGKILL");
      await child.exited;
      await out.done;
      expect(child.signalCode).toBe("SIGKILL");
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
    // The next start: the journals are replayed before any partition opens.
    const report = replayJournals({
      dataDir,
      files: realFileOps,
      log: () => {},
      incarnationOf: (r) => (r === TRUNCATE_CHILD_PARTITION ? TRUNCATE_CHILD_INCARNATION : null),
    });
    expect(report.journals).toBe(1);
    expect(report.recordsApplied).toBeGreaterThan(0);
    const log = PartitionLog.open({ dir: path.join(dataDir, TRUNCATE_CHILD_PARTITION), config: CONFIG });
    try {
      expect(valuesOf(log)).toEqual(["a0", "a1", "a2", "a3", "a4", "b5", "b6"]);
      expect(log.logEndOffset).toBe(7);
    } finally {
      log.close();
    }
  }, 60_000);
});
