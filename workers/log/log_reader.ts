// The read path of one partition log: planning a read of whole batches by
// offset, reading it into a caller's buffer (checked batch by batch), and the
// lookup of an offset by timestamp. PartitionLog (partition_log.ts) owns one and
// passes its public calls through; what it shares with the appender is in
// log_state.ts. Reads write nothing: they only record damage they find.
//
// Reads never serve a byte the disk changed
// - Trusting durable data at open keeps opening fast, so the check happens on
//   the read path instead: readInto() (and read()) walk the batches just read
//   and check each one's framing, base offset and CRC-32C before the bytes
//   count as read (batch_verify.ts).
// - A read serves only the whole, valid batches before the first bad one. If
//   the very first batch of a read is bad, the read fails with a LogError
//   (CORRUPT_MESSAGE) naming segment, position and offset; so a consumer
//   positioned at a damaged batch gets that error on every fetch, never an
//   empty answer, and never the damaged bytes.
// - Damage found by a read is recorded (`corruption`: the first one found,
//   `corruptReads`: reads refused or cut short) for the host to publish. The
//   partition stays online: appends go on, and every offset not in a damaged
//   batch is still served. Nothing is ever cut or rewritten on a read.
// - planRead() reports damage it meets while finding batch boundaries (a
//   header that makes no sense) as { error: CORRUPT_MESSAGE }, recorded the
//   same way; a sealed index that must be rebuilt and cannot be (its log is
//   damaged) takes the partition offline, as damage found at open does.
//
// Threading: as PartitionLog's: one owner, all calls synchronous. The target of
// readInto() may be a view over a SharedArrayBuffer.

import { assert, rethrowIfAssertion } from "../../protocol/assert.ts";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import { forEachRecord } from "../../protocol/record_batch.ts";
import { VerifiedPrefix, checkBatchAt, verifyBatches } from "./batch_verify.ts";
import { readFully } from "./file_ops.ts";
import { LogError } from "./log_error.ts";
import type { LogState } from "./log_state.ts";
import type { Segment } from "./segment_file.ts";

/** Where the bytes of a read are: whole batches [position, position + length) of one segment. */
export interface ReadPlan {
  segment: Segment | null;
  position: number;
  length: number;
  /** Base offset of the first batch (at or below the offset asked for); the asked offset when empty. */
  firstOffset: number;
}

export type ReadPlanResult = ReadPlan | { error: number };

/** A record found by timestamp: its offset and its own timestamp. */
export interface TimestampedOffset {
  offset: number;
  timestampMs: number;
}

const OUT_OF_RANGE: { error: number } = Object.freeze({ error: ErrorCode.OFFSET_OUT_OF_RANGE });
const STORAGE_ERROR: { error: number } = Object.freeze({ error: ErrorCode.KAFKA_STORAGE_ERROR });
const CORRUPT: { error: number } = Object.freeze({ error: ErrorCode.CORRUPT_MESSAGE });
const READ_DAMAGE_CONSEQUENCE = "reads at this offset fail; nothing is cut";

export class LogReader {
  private readonly s: LogState;
  /** What the last planRead that answered CORRUPT_MESSAGE found (read() throws it). */
  private lastPlanDamage: LogError | null = null;
  private readonly verified = new VerifiedPrefix();

  constructor(state: LogState) {
    this.s = state;
  }

  /**
   * Plans a read of whole batches from the one holding `offset`, up to
   * `maxBytes` (at least one batch), all wholly below `limitOffset` (the high
   * watermark; default the log end). Offsets below the log start or above the
   * log end: OFFSET_OUT_OF_RANGE. An empty plan when nothing is below the limit.
   */
  planRead(offset: number, maxBytes: number, limitOffset: number = this.s.logEndOffset): ReadPlanResult {
    if (this.s.failure !== null && !this.s.readOnly) return STORAGE_ERROR;
    if (this.s.closed) return STORAGE_ERROR;
    const logEnd = this.s.logEndOffset;
    if (offset < this.s.logStartOffset || offset > logEnd) return OUT_OF_RANGE;
    const limit = Math.min(limitOffset, logEnd);
    if (offset >= limit) return { segment: null, position: 0, length: 0, firstOffset: offset };
    try {
      return this.planWithin(offset, maxBytes, limit);
    } catch (e) {
      // A batch header that makes no sense, or a sealed index that cannot be rebuilt: damage, never a crash.
      if (!(e instanceof LogError)) throw e;
      this.s.corruptReads++;
      this.lastPlanDamage = e;
      this.s.noteDamage(e);
      return this.s.failure !== null && !this.s.readOnly ? STORAGE_ERROR : CORRUPT;
    }
  }

  private planWithin(offset: number, maxBytes: number, limit: number): ReadPlan {
    const seg = this.s.segs.at(this.s.segs.floorIndex(offset));
    const oi = this.s.indexesOf(seg);
    const loc = this.s.locator;

    const e = oi.floorByOffset(offset - seg.baseOffset);
    loc.seekOffset(seg, oi.positionAt(e), seg.baseOffset + oi.relOffsetAt(e), offset, e + 1 < oi.count ? oi.positionAt(e + 1) : seg.size);
    const start = loc.position;
    const firstOffset = loc.baseOffset;
    const firstEnd = start + loc.size;
    if (loc.lastOffset >= limit) return { segment: null, position: 0, length: 0, firstOffset: offset };

    // Where the data below the limit ends in this segment.
    let end: number;
    if (limit >= seg.nextOffset) {
      end = seg.size;
    } else if (limit === this.s.durable && seg === this.s.segs.active) {
      end = this.s.durablePosition;
    } else {
      const e2 = oi.floorByOffset(limit - seg.baseOffset);
      let from = oi.positionAt(e2);
      let fromOffset = seg.baseOffset + oi.relOffsetAt(e2);
      if (from < start) {
        from = start;
        fromOffset = firstOffset;
      }
      loc.seekOffset(seg, from, fromOffset, limit, e2 + 1 < oi.count ? oi.positionAt(e2 + 1) : seg.size);
      end = loc.position; // the batch holding the limit is not wholly below it
    }
    // Then the byte budget, never splitting a batch and never returning less than one.
    if (end - start > maxBytes) {
      const budgetEnd = start + maxBytes;
      if (budgetEnd <= firstEnd) {
        end = firstEnd;
      } else {
        const from = Math.max(oi.positionAt(oi.floorByPosition(budgetEnd)), start);
        end = Math.max(firstEnd, loc.seekEnd(seg, from, budgetEnd));
      }
    }
    // A plan is whole batches of one segment, never less than the first (it lies wholly below the limit).
    assert(end >= firstEnd, "log: a read plan holds at least its first batch", end);
    assert(end <= seg.size, "log: a read plan ends within its segment", end);
    return { segment: seg, position: start, length: end - start, firstOffset };
  }

  /**
   * Reads a plan's bytes into target[targetOffset, targetOffset + plan.length)
   * and checks every batch in them; returns the bytes of whole, valid batches
   * from the start (plan.length unless a batch failed its check). Fails with a
   * LogError (CORRUPT_MESSAGE) when the first batch is bad. Allocates no
   * buffer. A plan on a segment deleted since: OFFSET_OUT_OF_RANGE.
   */
  readInto(plan: ReadPlan, target: Uint8Array, targetOffset: number): number {
    if (plan.length === 0) return 0;
    const seg = plan.segment;
    // A sealed segment closed since the plan opens again; one retention deleted (past its delay) cannot.
    const fd = seg === null ? -1 : this.s.fds.fdOf(seg);
    if (seg === null || fd < 0) {
      throw new SluiceError(ErrorCode.OFFSET_OUT_OF_RANGE, "the segment of this read has been deleted");
    }
    if (targetOffset < 0 || targetOffset + plan.length > target.length) {
      throw new RangeError(`readInto: ${plan.length} bytes do not fit at ${targetOffset} of ${target.length}`);
    }
    // Checked before the read (segments never shrink under a plan: retention deletes whole ones) and,
    // batch by batch, after it (verifyBatches: framing, offsets, CRC-32C; damage there is a LogError).
    assert(plan.position + plan.length <= seg.size, "log: a read plan lies within its segment", plan.position);
    let n: number;
    try {
      n = readFully(this.s.files, fd, target, targetOffset, plan.length, plan.position);
    } catch (e) {
      this.s.fail(e, "read");
    }
    // A short read is checked like any damage: the batches wholly read are served, a partial one is not.
    assert(n <= plan.length, "log: a read returns no more than planned", n);
    const v = verifyBatches(target, targetOffset, targetOffset + n, plan.firstOffset, this.verified);
    if (v.failure === null && n === plan.length) return n;
    this.s.corruptReads++;
    const damage = new LogError({
      segment: seg.name,
      position: plan.position + v.validBytes,
      offset: v.nextOffset,
      reason: v.failure ?? `short read: ${n} of ${plan.length} bytes`,
      consequence: READ_DAMAGE_CONSEQUENCE,
    });
    this.s.noteDamage(damage);
    if (v.validBytes === 0) throw damage;
    return v.validBytes;
  }

  /**
   * planRead + readInto a fresh buffer; the result holds whole, valid batches
   * only. Throws SluiceError(OFFSET_OUT_OF_RANGE / KAFKA_STORAGE_ERROR /
   * CORRUPT_MESSAGE; the last is a LogError when a read found the damage).
   */
  read(offset: number, maxBytes: number, limitOffset?: number): Uint8Array {
    const plan = this.planRead(offset, maxBytes, limitOffset);
    if ("error" in plan) {
      if (plan.error === ErrorCode.KAFKA_STORAGE_ERROR) throw this.s.storageError();
      if (plan.error === ErrorCode.CORRUPT_MESSAGE && this.lastPlanDamage !== null) throw this.lastPlanDamage;
      throw new SluiceError(plan.error, `offset ${offset} is outside ${this.s.logStartOffset}..${this.s.logEndOffset}`);
    }
    const out = new Uint8Array(plan.length);
    const n = this.readInto(plan, out, 0);
    return n === out.length ? out : out.subarray(0, n);
  }

  /** The first offset whose record timestamp is ≥ timestampMs, or -1 if there is none. */
  offsetForTimestamp(timestampMs: number): number {
    return this.recordAtTimestamp(timestampMs)?.offset ?? -1;
  }

  /**
   * The first record whose timestamp is ≥ timestampMs: its offset and its
   * timestamp (what ListOffsets answers), or null if there is none. For a
   * batch whose records cannot be opened here (a codec not available), its
   * first offset and its max timestamp.
   */
  recordAtTimestamp(timestampMs: number): TimestampedOffset | null {
    if (this.s.failure !== null && !this.s.readOnly) throw this.s.storageError();
    try {
      return this.findTimestamp(timestampMs);
    } catch (e) {
      if (e instanceof LogError) this.s.noteDamage(e);
      throw e;
    }
  }

  private findTimestamp(timestampMs: number): TimestampedOffset | null {
    // Linear over segments: their largest timestamps need not be in order (CreateTime), and this is not a hot path.
    for (const seg of this.s.segs) {
      if (seg.maxTimestamp < timestampMs || seg.size === 0) continue;
      const oi = this.s.indexesOf(seg);
      const ti = seg.timeIndex;
      if (ti === null) continue;
      const k = ti.lastBelow(timestampMs);
      const rel = k < 0 ? 0 : ti.relOffsetAt(k);
      const loc = this.s.locator;
      const e = oi.floorByOffset(rel);
      loc.seekOffset(seg, oi.positionAt(e), seg.baseOffset + oi.relOffsetAt(e), seg.baseOffset + rel);
      if (!loc.seekTimestamp(seg, loc.position, loc.baseOffset, timestampMs)) continue;
      return this.firstRecordAtOrAfter(seg, loc.position, loc.size, loc.baseOffset, loc.maxTimestamp, timestampMs);
    }
    return null;
  }

  private firstRecordAtOrAfter(seg: Segment, position: number, size: number, baseOffset: number, maxTimestamp: number, ts: number): TimestampedOffset {
    const bytes = new Uint8Array(size);
    const n = readFully(this.s.files, this.s.fds.fdOf(seg), bytes, 0, size, position);
    // The answer comes from the batch's records: never from bytes the disk changed.
    const bad = checkBatchAt(bytes, 0, n, baseOffset);
    if (bad !== null) {
      const damage = new LogError({ segment: seg.name, position, offset: baseOffset, reason: bad, consequence: READ_DAMAGE_CONSEQUENCE });
      this.s.corruptReads++;
      this.s.noteDamage(damage);
      throw damage;
    }
    // The batch's max timestamp is ≥ ts (the walk stopped here for it); its records normally agree.
    const found: TimestampedOffset = { offset: baseOffset, timestampMs: maxTimestamp };
    let seen = false;
    try {
      forEachRecord(bytes, 0, (r) => {
        if (seen || Number(r.timestamp) < ts) return;
        seen = true;
        found.offset = Number(r.offset);
        found.timestampMs = Number(r.timestamp);
      });
    } catch (e) {
      rethrowIfAssertion(e);
      // A batch we cannot open (a codec not available here): its first offset is the answer Kafka gives too.
      return { offset: baseOffset, timestampMs: maxTimestamp };
    }
    return found;
  }
}
