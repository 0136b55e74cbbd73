// Worker journal rounds: how the partition host makes the small unsynced tails
// of all its partitions durable with one fdatasync (the journal's format and
// contract are in log/worker_journal.ts; why it exists, in ARCHITECTURE.md).
//
// Runs on: the partition worker thread (or a test's main thread), called by the
// partition host (partition_host.ts) from its flush policy, when a partition
// opens or closes, and at shutdown. Nothing here runs per request.
//
// A round copies every due partition's unsynced tail of at most
// JOURNAL_PARTITION_ROUND_BYTES_MAX into the journal, fdatasyncs it once, and
// reports each partition DURABLE. Larger tails, and partitions holding
// JOURNAL_PARTITION_UNSYNCED_BYTES_MAX that only the journal covers, are left
// to the host's own per-partition flush. When the journal fills, a checkpoint
// syncs every journaled segment and starts a new generation. A journal that
// fails is dropped: every partition syncs its own segment from then on.

import * as path from "node:path";
import { assert, rethrowIfAssertion } from "../protocol/assert.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { errorFields } from "./control.ts";
import { type HostedLog, type HostedPartition, type JournaledLog, isJournaled, isOnline } from "./hosted_partition.ts";
import { JOURNAL_PARTITION_ROUND_BYTES_MAX, JOURNAL_PARTITION_UNSYNCED_BYTES_MAX } from "./log/log_limits.ts";
import { type WorkerJournal, journalDirKey, journalPartitionName } from "./log/worker_journal.ts";

/** What a round needs of the partition host (given once, when the host is built). */
export interface JournalRoundHost {
  /** The hosted partitions, by slot. */
  readonly partitions: ReadonlyMap<number, HostedPartition>;
  /** Partitions appended since their last flush (a round takes those that are due out of it). */
  readonly dirty: Set<HostedPartition>;
  /** The host's own flush of one partition (its segment's fdatasync), reported like any flush. */
  flushPartition(p: HostedPartition): void;
  /** A partition's storage failed: offline, and the router told once. */
  markOffline(p: HostedPartition, code: number, message: string): void;
  /** A partition became durable up to `durableOffset`: its row and its owed DURABLE. */
  noteDurable(p: HostedPartition, durableOffset: number): void;
  /** Publishes held-back acks=all answers before an fdatasync, so the router files them meanwhile. */
  publishHeldCompletions(): void;
  /** Publishes the DURABLE reports and rows of what was just flushed. */
  publishFlushed(): void;
  /** Times one fdatasync (the worker's fsync histogram). */
  recordFsync(ms: number): void;
}

export class JournalRounds {
  /** null without a journal, or after it failed (then every partition syncs its own segment). */
  private journal: WorkerJournal | null;
  private readonly dataDir: string;
  private readonly host: JournalRoundHost;
  /** The partitions of the current round (reused). */
  private readonly roundParts: HostedPartition[] = [];

  constructor(journal: { journal: WorkerJournal; dataDir: string } | undefined, host: JournalRoundHost) {
    this.journal = journal?.journal ?? null;
    this.dataDir = journal?.dataDir ?? "";
    this.host = host;
  }

  /** A journal is in use. */
  get active(): boolean {
    return this.journal !== null;
  }

  /**
   * How the journal names a partition opening at `dir`, or null if it may not
   * use the journal: only a partition that can say which incarnation of its
   * directory it is may (journal_replay.ts says why), and none with faults injected.
   */
  keyFor(log: HostedLog, dir: string, incarnation: string | undefined, faultsInjected: boolean): Uint8Array | null {
    if (this.journal === null || faultsInjected || incarnation === undefined || !isJournaled(log)) return null;
    return journalDirKey(journalPartitionName(path.relative(this.dataDir, dir), incarnation));
  }

  /** Before a partition closes: the journal's generation may name only open partitions (worker_journal.ts says why). */
  beforeClose(p: HostedPartition): void {
    if (this.journal !== null && p.journaledGeneration === this.journal.generation) this.checkpoint();
  }

  /**
   * Before a partition's log is cut back (truncateTo): a journal record is a
   * redo of bytes at a segment position, so one of the current generation
   * covering this partition would write the cut bytes back at the next start
   * (or over what was appended since). A checkpoint syncs every journaled
   * segment and starts a new generation that forgets them.
   */
  beforeTruncate(p: HostedPartition): void {
    if (this.journal !== null && p.journaledGeneration === this.journal.generation) this.checkpoint();
  }

  /** Every partition is synced and closed: nothing in the journal is needed any more. */
  closeAndRemove(): void {
    const journal = this.journal;
    if (journal === null) return;
    this.journal = null;
    journal.close();
    journal.remove();
  }

  /**
   * One journal round: the due partitions with few unsynced bytes (at most
   * JOURNAL_PARTITION_ROUND_BYTES_MAX each) are copied into the journal, which
   * one fdatasync makes durable; each then gets its DURABLE. false when none
   * took part (the others are flushed one by one). A journal that fails is
   * dropped, and the round's partitions sync their own segments instead.
   */
  round(nowMs: number): boolean {
    const journal = this.journal;
    if (journal === null) return false;
    const host = this.host;
    if (journal.needsCheckpoint) {
      // Held-back acks=all answers go out before the fdatasyncs, as before any flush.
      host.publishHeldCompletions();
      const flushes = this.checkpoint();
      if (this.journal === null || host.dirty.size === 0) {
        host.publishFlushed();
        return flushes > 0;
      }
    }
    const round = this.roundParts;
    round.length = 0;
    journal.begin();
    for (const p of host.dirty) {
      if (p.journalKey === null || !p.log.flushDue(nowMs)) continue;
      const log = p.log as HostedLog & JournaledLog;
      let length: number;
      try {
        length = log.unsyncedLength();
      } catch (err) {
        rethrowIfAssertion(err);
        continue; // offline now: its own flush reports it
      }
      // Large tails, and partitions holding JOURNAL_PARTITION_UNSYNCED_BYTES_MAX only the journal covers, sync their own segments.
      if (length === 0 || length > JOURNAL_PARTITION_ROUND_BYTES_MAX || log.journaledUnsyncedBytes >= JOURNAL_PARTITION_UNSYNCED_BYTES_MAX) continue;
      const at = journal.beginRecord(p.journalKey, log.unsyncedSegmentBaseOffset, log.unsyncedPosition, length);
      if (at < 0) break;
      try {
        log.readUnsynced(journal.roundBuffer, at);
      } catch (err) {
        rethrowIfAssertion(err);
        journal.abandonRecord();
        continue;
      }
      journal.endRecord();
      round.push(p);
    }
    if (round.length === 0) return false;
    // Held-back acks=all answers go out before the fdatasync: the router files them meanwhile.
    host.publishHeldCompletions();
    const started = performance.now();
    try {
      journal.commit();
    } catch (err) {
      rethrowIfAssertion(err);
      // The segments still hold every byte: each syncs its own from now on.
      this.drop();
      for (const p of round) if (p.dirty) host.flushPartition(p);
      round.length = 0;
      host.publishFlushed();
      return true;
    }
    host.recordFsync(performance.now() - started);
    const generation = journal.generation;
    for (const p of round) {
      p.dirty = false;
      host.dirty.delete(p);
      p.journaledGeneration = generation;
      let durable: number;
      try {
        durable = (p.log as HostedLog & JournaledLog).markJournaled();
      } catch (err) {
        // Its recovery point could not be recorded: offline, as after a failed flush.
        host.markOffline(p, ErrorCode.KAFKA_STORAGE_ERROR, errorFields(err, ErrorCode.KAFKA_STORAGE_ERROR).message);
        continue;
      }
      host.noteDurable(p, durable);
    }
    round.length = 0;
    host.publishFlushed();
    return true;
  }

  /**
   * Syncs every segment holding journaled bytes, then starts a new journal
   * generation. A segment that fails its fdatasync goes offline and the journal
   * is dropped without a new generation (its records are the only durable copy
   * left, for the replay at the next start). Returns the flushes it did; the
   * journal is null after it if it could not go on.
   */
  private checkpoint(): number {
    const journal = this.journal;
    if (journal === null) return 0;
    let failed = false;
    let flushes = 0;
    for (const p of this.host.partitions.values()) {
      if (p.journaledGeneration !== journal.generation) continue;
      if (!isOnline(p)) {
        failed = true;
        continue;
      }
      if ((p.log as HostedLog & JournaledLog).hasJournaledUnsynced) {
        this.host.flushPartition(p);
        flushes++;
      }
      if (!isOnline(p)) failed = true;
      // The new generation forgets this one's records: each segment they cover must be synced first.
      else assert(!(p.log as HostedLog & JournaledLog).hasJournaledUnsynced, "journal rounds: a checkpoint leaves no segment relying on the old generation", p.slot);
    }
    if (failed) {
      this.drop();
      return flushes;
    }
    try {
      journal.restart();
    } catch (err) {
      rethrowIfAssertion(err);
      this.drop();
    }
    return flushes;
  }

  /**
   * Stops using the journal: every partition syncs its own segment from now on,
   * and those holding journaled bytes sync them now. The file is removed only if
   * all of them could: otherwise its records are the only durable copy, and the
   * next start replays them.
   */
  private drop(): void {
    const journal = this.journal;
    if (journal === null) return;
    this.journal = null;
    let allSynced = true;
    for (const p of this.host.partitions.values()) {
      p.journalKey = null;
      if (p.journaledGeneration !== journal.generation) continue;
      if (isOnline(p) && (p.log as HostedLog & JournaledLog).hasJournaledUnsynced) this.host.flushPartition(p);
      if (!isOnline(p)) allSynced = false;
    }
    try {
      journal.close();
      if (allSynced) journal.remove();
    } catch (err) {
      rethrowIfAssertion(err);
      // Left in place: the replay at the next start reads it (what it names is already in the segments).
    }
  }
}
