// The leader epochs of one partition log in memory (epoch → the offset its
// first batch took), kept in step with the leader-epoch file
// (leader_epoch_file.ts): every change is written to the file before the
// batches it describes are, so after a crash the file holds at least what the
// log does, and entries past the recovered log end are dropped at open.
//
// Answers Kafka's OffsetForLeaderEpoch (endOffsetForEpoch), which a follower
// uses after a leader change to find where its log and the leader's diverge.
//
// Threading: one owner, as the PartitionLog that holds it.

import { assert } from "../../protocol/assert.ts";
import type { FileOps } from "./file_ops.ts";
import { type EpochEntry, readLeaderEpochFile, writeLeaderEpochFile } from "./leader_epoch_file.ts";
import { ReplicaLogError } from "./replica_log_error.ts";

/** "No epoch": batches stamped with it (what clients send, and a single node keeps) start no epoch. */
export const NO_LEADER_EPOCH = -1;
/** Kafka's UNDEFINED_EPOCH_OFFSET: no end offset known for the epoch asked about. */
export const UNDEFINED_EPOCH_OFFSET = -1;
/** The largest epoch a batch header can hold (partitionLeaderEpoch is an i32). */
export const LEADER_EPOCH_MAX = 0x7fffffff;

export interface EpochEndOffset {
  epoch: number;
  endOffset: number;
}

export class LeaderEpochCache {
  private readonly files: FileOps;
  private readonly dir: string;
  private entries: EpochEntry[];

  constructor(files: FileOps, dir: string, entries: EpochEntry[]) {
    this.files = files;
    this.dir = dir;
    this.entries = entries;
  }

  /**
   * Loads the file, or rebuilds it from the batches' epochs if it is missing
   * or damaged, and drops entries starting after `logEndOffset` (the file is
   * written before the batches it describes, so it may name an epoch whose
   * first batch a crash took). `lastEpoch` is the last batch's epoch: -1 means
   * no batch has one (epochs never go back), so nothing needs a walk;
   * `scan` yields each batch's epoch and base offset in offset order, false
   * if damage stopped it (then what it found is used, and not written, so the
   * next open walks again).
   */
  static open(opts: {
    files: FileOps;
    dir: string;
    logEndOffset: number;
    lastEpoch: () => number;
    scan: (onBatch: (epoch: number, baseOffset: number) => void) => boolean;
    /** May write the file (false for a log opened read-only over damage). */
    writable: boolean;
  }): { cache: LeaderEpochCache; rebuilt: string | null } {
    const found = readLeaderEpochFile(opts.files, opts.dir);
    if (Array.isArray(found)) {
      const cache = new LeaderEpochCache(opts.files, opts.dir, found);
      const changed = cache.dropAfter(opts.logEndOffset);
      if (changed && opts.writable) cache.persist();
      return { cache, rebuilt: null };
    }
    const entries: EpochEntry[] = [];
    // No file and no batch with an epoch: nothing to rebuild (every single-node log).
    if (found === null && opts.lastEpoch() < 0) return { cache: new LeaderEpochCache(opts.files, opts.dir, entries), rebuilt: null };
    const complete = opts.scan((epoch, baseOffset) => {
      if (epoch < 0) return;
      const last = entries[entries.length - 1];
      if (last === undefined || epoch > last.epoch) entries.push({ epoch, startOffset: baseOffset });
    });
    const cache = new LeaderEpochCache(opts.files, opts.dir, entries);
    if (opts.writable && complete) cache.persist();
    const why = found === null ? "missing" : found;
    return { cache, rebuilt: complete ? why : `${why}; the walk of the batches stopped at damage` };
  }

  /** The latest epoch, or NO_LEADER_EPOCH when none started yet. */
  get latestEpoch(): number {
    const n = this.entries.length;
    return n === 0 ? NO_LEADER_EPOCH : this.entries[n - 1].epoch;
  }

  /** A copy of the entries, oldest first. */
  list(): EpochEntry[] {
    return this.entries.map((e) => ({ ...e }));
  }

  /**
   * Epoch `epoch` starts at `startOffset` (no change if it is the latest
   * already). Written durably before returning. An epoch below the latest, or
   * one starting before the latest's start, is refused (EPOCH_REGRESSION):
   * epochs only grow along the log.
   */
  assign(epoch: number, startOffset: number): boolean {
    if (epoch < 0) return false;
    const latest = this.entries[this.entries.length - 1];
    if (latest !== undefined) {
      if (epoch === latest.epoch) return false;
      if (epoch < latest.epoch || startOffset < latest.startOffset) {
        throw new ReplicaLogError(
          "EPOCH_REGRESSION",
          `leader epoch ${epoch} at offset ${startOffset} is behind the log's latest epoch ${latest.epoch} (from offset ${latest.startOffset})`,
        );
      }
      // An epoch that started with no batch of its own (a leader that appended nothing) gives its start to the next.
      if (startOffset === latest.startOffset) this.entries.pop();
    }
    this.entries.push({ epoch, startOffset });
    this.persist();
    return true;
  }

  /**
   * Kafka's OffsetForLeaderEpoch: for the latest epoch, the log end; else the
   * largest epoch ≤ `requested` with the start offset of the epoch after it
   * (for one below every known epoch: the requested epoch and the first start
   * offset); for one above the latest, or with no epochs, UNDEFINED.
   */
  endOffsetForEpoch(requested: number, logEndOffset: number): EpochEndOffset {
    const undefinedAnswer = { epoch: NO_LEADER_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };
    const n = this.entries.length;
    if (requested === NO_LEADER_EPOCH || n === 0) return undefinedAnswer;
    if (requested === this.entries[n - 1].epoch) return { epoch: requested, endOffset: logEndOffset };
    // The first entry with an epoch above the requested one.
    let higher = 0;
    while (higher < n && this.entries[higher].epoch <= requested) higher++;
    if (higher === n) return undefinedAnswer;
    const endOffset = this.entries[higher].startOffset;
    if (higher === 0) return { epoch: requested, endOffset };
    return { epoch: this.entries[higher - 1].epoch, endOffset };
  }

  /** The log was cut back to `endOffset`: epochs starting at or after it are forgotten (written durably). */
  truncateFromEnd(endOffset: number): void {
    if (this.dropAfter(endOffset - 1)) this.persist();
  }

  /**
   * Retention moved the log start to `startOffset`: epochs that ended before
   * it are forgotten, and the one holding it starts there (as Kafka's
   * truncateFromStart), so no answer names an offset the log no longer has.
   */
  truncateFromStart(startOffset: number): void {
    let k = 0;
    while (k + 1 < this.entries.length && this.entries[k + 1].startOffset <= startOffset) k++;
    const first = this.entries[k];
    if (first === undefined || (k === 0 && first.startOffset >= startOffset)) return;
    this.entries = this.entries.slice(k);
    if (first.startOffset < startOffset) this.entries[0] = { epoch: first.epoch, startOffset };
    this.persist();
  }

  /** Drops entries starting after `offset`; whether any were. */
  private dropAfter(offset: number): boolean {
    let n = this.entries.length;
    while (n > 0 && this.entries[n - 1].startOffset > offset) n--;
    if (n === this.entries.length) return false;
    this.entries = this.entries.slice(0, n);
    return true;
  }

  private persist(): void {
    for (let i = 1; i < this.entries.length; i++) {
      assert(this.entries[i].epoch > this.entries[i - 1].epoch, "leader epochs: epochs increase along the log", i);
    }
    writeLeaderEpochFile(this.files, this.dir, this.entries);
  }
}
