// Idempotent producers in the partition log: each rule of producer_state.ts
// through the log's append path (real files), and the state's way through the
// snapshot and the header rebuild at open.

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import { BatchAttribute, encodeBatch } from "../../protocol/record_batch.ts";
import { closeQuietly, concat, makeTempDir, removeDir, testConfig } from "../../test/log/helpers.ts";
import { FaultyFileOps, realFileOps } from "./file_ops.ts";
import { PartitionLog } from "./partition_log.ts";
import { ProducerStateTable, SEQUENCE_MAX, addSequence } from "./producer_state.ts";
import { PRODUCER_STATE_FILE, decodeSnapshot, encodeSnapshot } from "./producer_state_snapshot.ts";

let dir = "";
let logs: PartitionLog[] = [];
beforeEach(() => {
  dir = path.join(makeTempDir(), "p0");
  logs = [];
});
afterEach(() => {
  closeQuietly(logs);
  removeDir(path.dirname(dir));
});

function open(entries: Record<string, string | number> = {}, extra: Partial<Parameters<typeof PartitionLog.open>[0]> = {}) {
  const log = PartitionLog.open({ dir, config: testConfig(entries), ...extra });
  logs.push(log);
  return log;
}

/** A batch of `count` records from producer `id` at `epoch`, starting at sequence `seq`. */
function batch(id: number, epoch: number, seq: number, count = 1, tag = "v", attributes = 0): Uint8Array {
  const records = [];
  for (let i = 0; i < count; i++) records.push({ value: `${tag}-${seq}-${i}` });
  return encodeBatch(records, { producerId: id, producerEpoch: epoch, baseSequence: seq, attributes });
}

function plain(count = 1): Uint8Array {
  const records = [];
  for (let i = 0; i < count; i++) records.push({ value: `plain-${i}` });
  return encodeBatch(records);
}

function codeOf(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    if (e instanceof SluiceError) return e.code;
    throw e;
  }
  throw new Error("expected a SluiceError");
}

describe("sequence rules", () => {
  test("a batch in sequence is appended; a retry of any of the last five is answered with its original offsets and appends nothing", () => {
    const log = open();
    const firsts: { base: number; last: number }[] = [];
    for (let s = 0; s < 6; s++) {
      const r = log.append(batch(7, 0, s * 2, 2));
      expect(r.duplicate).toBe(false);
      firsts.push({ base: r.baseOffset, last: r.lastOffset });
    }
    expect(log.logEndOffset).toBe(12);
    // The last five (sequences 2..11) are remembered.
    for (let s = 1; s < 6; s++) {
      const r = log.append(batch(7, 0, s * 2, 2));
      expect(r).toMatchObject({ duplicate: true, baseOffset: firsts[s].base, lastOffset: firsts[s].last, bytes: 0, records: 0 });
    }
    expect(log.logEndOffset).toBe(12);
    // The sixth-newest is forgotten: behind the cache, so out of order.
    expect(codeOf(() => log.append(batch(7, 0, 0, 2)))).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    // And the producer goes on where it was.
    expect(log.append(batch(7, 0, 12, 1)).baseOffset).toBe(12);
  });

  test("a gap in the sequence is OUT_OF_ORDER_SEQUENCE_NUMBER and stores nothing", () => {
    const log = open();
    log.append(batch(1, 0, 0, 3));
    expect(codeOf(() => log.append(batch(1, 0, 4)))).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect(codeOf(() => log.append(batch(1, 0, 2)))).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect(log.logEndOffset).toBe(3);
    expect(log.append(batch(1, 0, 3)).baseOffset).toBe(3);
  });

  test("an older epoch is INVALID_PRODUCER_EPOCH; a newer epoch must start at sequence 0 and fences the old one", () => {
    const log = open();
    log.append(batch(1, 3, 0, 2));
    expect(codeOf(() => log.append(batch(1, 2, 2)))).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    expect(codeOf(() => log.append(batch(1, 4, 5)))).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect(log.append(batch(1, 4, 0)).baseOffset).toBe(2);
    expect(codeOf(() => log.append(batch(1, 3, 2)))).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    expect(log.producers.get(1)?.epoch).toBe(4);
  });

  test("an unknown producer is taken at any sequence (state may have been evicted), then held to it", () => {
    const log = open();
    expect(log.append(batch(9, 0, 500)).baseOffset).toBe(0);
    expect(codeOf(() => log.append(batch(9, 0, 502)))).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect(log.append(batch(9, 0, 501)).baseOffset).toBe(1);
  });

  test("sequences wrap from 2^31-1 to 0, inside a batch and between batches", () => {
    expect(addSequence(SEQUENCE_MAX, 1)).toBe(0);
    expect(addSequence(SEQUENCE_MAX - 1, 3)).toBe(1);
    const log = open();
    log.append(batch(2, 0, SEQUENCE_MAX - 1, 3)); // sequences 2^31-2, 2^31-1, 0
    expect(log.producers.get(2)?.lastSequence).toBe(0);
    expect(log.append(batch(2, 0, SEQUENCE_MAX - 1, 3)).duplicate).toBe(true);
    expect(log.append(batch(2, 0, 1)).baseOffset).toBe(3);
  });

  test("producers are independent; batches without a producer id are never checked", () => {
    const log = open();
    log.append(batch(1, 0, 0));
    log.append(plain(2));
    log.append(batch(2, 0, 0));
    log.append(plain(2));
    expect(log.append(batch(1, 0, 1)).baseOffset).toBe(6);
    expect(log.append(batch(2, 0, 0)).duplicate).toBe(true);
    expect(log.producers.size).toBe(2);
  });

  test("an append of several batches of one producer in sequence is stored, and its retry answered as one run", () => {
    const log = open();
    log.append(plain(1));
    const r = log.append(concat([batch(3, 0, 0, 2), batch(3, 0, 2, 3)]));
    expect(r).toMatchObject({ baseOffset: 1, lastOffset: 5, duplicate: false });
    expect(log.append(concat([batch(3, 0, 0, 2), batch(3, 0, 2, 3)]))).toMatchObject({ baseOffset: 1, lastOffset: 5, duplicate: true });
    // Either batch retried alone is a duplicate too.
    expect(log.append(batch(3, 0, 2, 3))).toMatchObject({ baseOffset: 3, lastOffset: 5, duplicate: true });
    // Batches of one append out of sequence with each other, or of two producers: refused whole.
    expect(codeOf(() => log.append(concat([batch(3, 0, 5), batch(3, 0, 7)])))).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect(codeOf(() => log.append(concat([batch(3, 0, 5), batch(4, 0, 0)])))).toBe(ErrorCode.INVALID_RECORD);
    expect(codeOf(() => log.append(concat([plain(1), batch(4, 0, 0)])))).toBe(ErrorCode.INVALID_RECORD);
    expect(log.logEndOffset).toBe(6);
  });

  test("transactional batches, and a negative epoch or sequence with a producer id, are INVALID_RECORD", () => {
    const log = open();
    expect(codeOf(() => log.append(batch(1, 0, 0, 1, "t", BatchAttribute.TRANSACTIONAL)))).toBe(ErrorCode.INVALID_RECORD);
    expect(codeOf(() => log.append(batch(1, 0, -1)))).toBe(ErrorCode.INVALID_RECORD);
    expect(log.logEndOffset).toBe(0);
  });

  test("a duplicate staged in the same pass as its original is answered with the staged offsets", () => {
    const log = open();
    const a = log.stage(batch(1, 0, 0, 2));
    const b = log.stage(batch(1, 0, 0, 2));
    log.writeStaged();
    expect(a).toMatchObject({ baseOffset: 0, lastOffset: 1, duplicate: false });
    expect(b).toMatchObject({ baseOffset: 0, lastOffset: 1, duplicate: true });
    expect(log.logEndOffset).toBe(2);
  });
});

describe("bounds and failed writes", () => {
  test("past the producer limit the least recently appended idle producer is evicted", () => {
    const t = new ProducerStateTable(3);
    for (let id = 0; id < 3; id++) t.restore(id, 0, 0, 0, id, id);
    t.restore(0, 0, 1, 1, 3, 3); // producer 0 is now the most recent
    t.restore(3, 0, 0, 0, 4, 4);
    expect([...t.entries()].map((e) => e.id)).toEqual([2, 0, 3]);
    expect(t.evictions).toBe(1);
  });

  test("a write refused for space undoes the staged appends' producer state; the retry is appended, not taken for a duplicate", () => {
    const faulty = new FaultyFileOps(realFileOps);
    const log = open({}, { files: faulty });
    log.append(batch(1, 0, 0));
    faulty.setWriteBytesMax(faulty.bytesGrown); // the disk is full from here
    log.stage(batch(1, 0, 1));
    log.stage(batch(5, 0, 0));
    expect(codeOf(() => log.writeStaged())).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(log.online).toBe(true);
    expect(log.producers.get(1)?.lastSequence).toBe(0);
    expect(log.producers.get(5)).toBeUndefined();
    // Once space is back (after the disk-full pause) the same batch is appended (not a duplicate).
    faulty.setWriteBytesMax(undefined);
    const r = log.append(batch(1, 0, 1), Date.now() + 1_000);
    expect(r).toMatchObject({ baseOffset: 1, duplicate: false });
  });
});

describe("durable across restart", () => {
  test("close writes a snapshot; open takes it and reads only the headers after it", () => {
    let log = open();
    for (let s = 0; s < 4; s++) log.append(batch(1, 2, s));
    log.close();
    expect(fs.existsSync(path.join(dir, PRODUCER_STATE_FILE))).toBe(true);
    log = open();
    expect(log.producerLoad).toMatchObject({ from: "snapshot", batchesRead: 0 });
    expect(log.append(batch(1, 2, 3))).toMatchObject({ baseOffset: 3, duplicate: true });
    expect(codeOf(() => log.append(batch(1, 1, 4)))).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    expect(log.append(batch(1, 2, 4)).baseOffset).toBe(4);
  });

  test("without a clean close (no snapshot since), the state is rebuilt from the batch headers after the last snapshot", () => {
    let log = open({ "segment.bytes": 1024 });
    for (let s = 0; s < 40; s++) log.append(batch(s % 3, 0, Math.floor(s / 3), 1, "x".repeat(40)));
    expect(log.segmentCount).toBeGreaterThan(2); // rolls wrote snapshots
    log.flush();
    // A crash: the files are left as they are, nothing more is written.
    const snapshotBefore = fs.readFileSync(path.join(dir, PRODUCER_STATE_FILE));
    closeQuietly([log]);
    fs.writeFileSync(path.join(dir, PRODUCER_STATE_FILE), snapshotBefore);
    log = open({ "segment.bytes": 1024 });
    expect(log.producerLoad?.from).toBe("snapshot");
    expect(log.producerLoad?.batchesRead).toBeGreaterThan(0);
    expect(log.producerLoad?.batchesRead).toBeLessThan(40);
    for (let p = 0; p < 3; p++) {
      const last = log.producers.get(p)?.lastSequence ?? -1;
      expect(log.append(batch(p, 0, last, 1, "x".repeat(40))).duplicate).toBe(true);
    }
    expect(log.logEndOffset).toBe(40);
  });

  test("a damaged or missing snapshot is rebuilt from the whole log", () => {
    let log = open({ "segment.bytes": 1024 });
    for (let s = 0; s < 30; s++) log.append(batch(4, 0, s, 1, "y".repeat(40)));
    log.close();
    const file = path.join(dir, PRODUCER_STATE_FILE);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 10] ^= 0xff;
    fs.writeFileSync(file, bytes);
    log = open({ "segment.bytes": 1024 });
    expect(log.producerLoad).toMatchObject({ from: "log", snapshotRejected: "CRC mismatch", batchesRead: 30 });
    expect(log.append(batch(4, 0, 29, 1, "y".repeat(40)))).toMatchObject({ baseOffset: 29, duplicate: true });
    log.close();
    fs.unlinkSync(file);
    log = open({ "segment.bytes": 1024 });
    expect(log.producerLoad).toMatchObject({ from: "log", snapshotRejected: "no snapshot" });
    expect(log.append(batch(4, 0, 30, 1, "y".repeat(40))).baseOffset).toBe(30);
  });

  test("a snapshot past the log end (the tail was lost) is not used", () => {
    let log = open();
    for (let s = 0; s < 5; s++) log.append(batch(1, 0, s));
    log.close();
    // Cut the last two batches off the segment, as a power loss could after the snapshot was written.
    const seg = path.join(dir, "00000000000000000000.log");
    const size = fs.statSync(seg).size;
    const one = batch(1, 0, 0).length;
    fs.truncateSync(seg, size - 2 * one);
    fs.rmSync(path.join(dir, "recovery-point"));
    log = open();
    expect(log.logEndOffset).toBe(3);
    expect(log.producerLoad?.from).toBe("log");
    // Sequence 3 was lost with the tail: it is appended again, not answered as a duplicate.
    expect(log.append(batch(1, 0, 3))).toMatchObject({ baseOffset: 3, duplicate: false });
  });

  test("the snapshot encoding round-trips and refuses damage", () => {
    const t = new ProducerStateTable();
    t.restore(1, 0, 0, 4, 0, 4);
    t.restore(1, 0, 5, 5, 9, 9);
    t.restore(2 ** 40, 7, SEQUENCE_MAX, 0, 10, 11);
    const bytes = encodeSnapshot(t, { offset: 12, segmentBaseOffset: 0, position: 999 });
    const back = new ProducerStateTable();
    expect(decodeSnapshot(bytes, back)).toEqual({ offset: 12, segmentBaseOffset: 0, position: 999 });
    expect([...back.entries()].map((e) => [e.id, e.epoch, e.batches()])).toEqual([...t.entries()].map((e) => [e.id, e.epoch, e.batches()]));
    for (const at of [0, 20, 40, bytes.length - 1]) {
      const bad = bytes.slice();
      bad[at] ^= 1;
      expect(typeof decodeSnapshot(bad, back)).toBe("string");
      expect(back.size).toBe(0);
    }
  });
});

describe("truncation (replication's truncateTo)", () => {
  /** The offset the snapshot on disk names. */
  function snapshotOffset(): number {
    const at = decodeSnapshot(new Uint8Array(fs.readFileSync(path.join(dir, PRODUCER_STATE_FILE))), new ProducerStateTable());
    if (typeof at === "string") throw new Error(`snapshot: ${at}`);
    return at.offset;
  }

  test("a cut batch re-sent after truncateTo is appended, not answered as a duplicate; batches below the cut still are; a restart agrees", () => {
    let log = open({ "segment.bytes": 1024 });
    for (let s = 0; s < 30; s++) log.append(batch(1, 0, s, 1, "x".repeat(40)));
    for (let s = 0; s < 3; s++) log.append(batch(2, 0, s, 1, "x".repeat(40))); // offsets 30..32, all cut below
    log.close(); // the snapshot names offset 33, past the cut to come
    log = open({ "segment.bytes": 1024 });
    expect(snapshotOffset()).toBe(33);
    expect(log.truncateTo(20).logEndOffset).toBe(20);
    // The snapshot now names the new end: none of the cut batches is in the state.
    expect(snapshotOffset()).toBe(20);
    expect(log.producers.get(1)?.lastSequence).toBe(19);
    expect(log.producers.get(2)).toBeUndefined();
    // A retry of a batch below the cut is still a duplicate at its offset.
    expect(log.append(batch(1, 0, 19, 1, "x".repeat(40)))).toMatchObject({ baseOffset: 19, duplicate: true });
    // The cut batch sent again is stored, at the new end.
    expect(log.append(batch(1, 0, 20, 1, "x".repeat(40)))).toMatchObject({ baseOffset: 20, duplicate: false });
    expect(log.append(batch(1, 0, 21, 1, "x".repeat(40)))).toMatchObject({ baseOffset: 21, duplicate: false });
    // Producer 2's state was cut whole: unknown again, taken at any sequence.
    expect(log.append(batch(2, 0, 1, 1, "x".repeat(40)))).toMatchObject({ baseOffset: 22, duplicate: false });
    expect(log.logEndOffset).toBe(23);

    log.close();
    log = open({ "segment.bytes": 1024 });
    expect(log.producers.get(1)?.lastSequence).toBe(21);
    expect(log.producers.get(2)?.lastSequence).toBe(1);
    expect(log.append(batch(1, 0, 21, 1, "x".repeat(40)))).toMatchObject({ baseOffset: 21, duplicate: true });
    expect(log.append(batch(1, 0, 22, 1, "x".repeat(40)))).toMatchObject({ baseOffset: 23, duplicate: false });
    expect(codeOf(() => log.append(batch(2, 0, 3, 1, "x".repeat(40))))).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  });

  test("without a clean close after the cut, the state at the next open is that of the log left (the stale snapshot is gone)", () => {
    let log = open({ "segment.bytes": 1024 });
    for (let s = 0; s < 30; s++) log.append(batch(5, 0, s, 1, "z".repeat(40)));
    log.close();
    log = open({ "segment.bytes": 1024 });
    log.truncateTo(12);
    // A crash right after the cut: the files as they are now.
    const snapshotAfterCut = fs.readFileSync(path.join(dir, PRODUCER_STATE_FILE));
    closeQuietly([log]);
    fs.writeFileSync(path.join(dir, PRODUCER_STATE_FILE), snapshotAfterCut);
    log = open({ "segment.bytes": 1024 });
    expect(log.logEndOffset).toBe(12);
    expect(log.producerLoad?.from).toBe("snapshot");
    expect(log.producers.get(5)?.lastSequence).toBe(11);
    expect(log.append(batch(5, 0, 12, 1, "z".repeat(40)))).toMatchObject({ baseOffset: 12, duplicate: false });
  });

  test("a snapshot at or below the cut (from a roll) is kept and the headers after it are read", () => {
    const log = open({ "segment.bytes": 1024 });
    for (let s = 0; s < 40; s++) log.append(batch(6, 0, s, 1, "w".repeat(40)));
    const rolledAt = snapshotOffset(); // the last roll's
    expect(rolledAt).toBeGreaterThan(0);
    expect(rolledAt).toBeLessThan(39);
    log.truncateTo(39);
    expect(log.logEndOffset).toBe(39);
    expect(snapshotOffset()).toBe(39);
    expect(log.producers.get(6)?.lastSequence).toBe(38);
    expect(log.append(batch(6, 0, 38, 1, "w".repeat(40)))).toMatchObject({ baseOffset: 38, duplicate: true });
    expect(log.append(batch(6, 0, 39, 1, "w".repeat(40)))).toMatchObject({ baseOffset: 39, duplicate: false });
  });
});
