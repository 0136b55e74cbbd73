// One partition as its worker hosts it: what the host needs of its log
// (HostedLog, and JournaledLog for a log that can take part in worker journal
// rounds) and the host's own bookkeeping for it (HostedPartition). Shared by
// the partition host (partition_host.ts: staging, reads, flushes, state rows)
// and the journal rounds (journal_rounds.ts).
//
// Runs on: the partition worker thread (or a test's main thread).

import type { LogConfig } from "./log/mod.ts";
import { type PartitionStateView, emptyStateView } from "./partition_state.ts";

/** Offsets and counts the log gives one staged append (filled in place: nothing allocated per request). */
export interface StagedAppend {
  baseOffset: number;
  lastOffset: number;
  logAppendTimeMs: number;
  bytes: number;
  records: number;
  /** An idempotent producer's retry of stored batches: nothing staged, the offsets are the original ones. */
  duplicate: boolean;
}

/** What the host needs of a partition's log (the PartitionLog in workers/log/ implements it). */
export interface HostedLog {
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  readonly durableOffset: number;
  readonly sizeBytes: number;
  readonly segmentCount: number;
  readonly online: boolean;
  /** Damage a read found in durable data (the log stays online; reads at it fail), or null. */
  readonly corruption: Error | null;
  /**
   * Validate `records` (all or nothing), give them the next offsets (patched in
   * place) and keep the view for writeStaged(); fills `out`. Not written yet: the
   * bytes must stay unchanged, and nothing may be acknowledged, until writeStaged()
   * returned. Throws the batch's error (nothing staged), or KAFKA_STORAGE_ERROR.
   */
  stage(records: Uint8Array, nowMs: number, out: StagedAppend): StagedAppend;
  /**
   * Write every staged append (gathered into few vectored writes). Throws if that
   * or a write stage() did failed; the log is offline after it unless the disk
   * refused it for space (then nothing of it was stored, and the log is online).
   */
  writeStaged(): void;
  /**
   * Bytes staged and not yet written. Right after a stage() it equals that
   * append's bytes exactly when stage() wrote everything staged before it (a
   * roll, or too many views): those appends are written, whatever happens next.
   */
  readonly stagedByteCount: number;
  flushDue(nowMs: number): boolean;
  flushDeadlineMs(): number | null;
  flush(): number;
  flushAsync(done: (durableOffset: number, error: Error | null) => void): boolean;
  readonly flushInFlight: boolean;
  planRead(offset: number, maxBytes: number, limitOffset: number): { length: number } | { error: number };
  readInto(plan: { length: number }, target: Uint8Array, targetOffset: number): number;
  /** The first record with a timestamp ≥ timestampMs (offset and its timestamp), or null. */
  recordAtTimestamp(timestampMs: number): { offset: number; timestampMs: number } | null;
  applyRetention(nowMs?: number): { deletedSegments: number; logStartOffset: number };
  setConfig(config: LogConfig): void;
  checkpoint(): void;
  close(): void;
  deleteFiles(): void;
}

/** What a log needs to take part in worker journal rounds (PartitionLog has it). */
export interface JournaledLog {
  /** Writes what is staged; the bytes written and not durable yet. */
  unsyncedLength(): number;
  /** Base offset of the segment they are in, and where in it they start. */
  readonly unsyncedSegmentBaseOffset: number;
  readonly unsyncedPosition: number;
  /** Copies them into target at `at`. */
  readUnsynced(target: Uint8Array, at: number): void;
  /** The journal holding the copy was fdatasynced; returns the new durable offset. */
  markJournaled(): number;
  /** Durable bytes only the journal holds (flush() syncs them into the segment). */
  readonly hasJournaledUnsynced: boolean;
  /** How many bytes that is. */
  readonly journaledUnsyncedBytes: number;
}

/** What replication needs of a log (PartitionLog has it; partition_host.ts exposes it as control calls). */
export interface ReplicaLog {
  readonly leaderEpoch: number;
  setLeaderEpoch(epoch: number): void;
  leaderEpochs(): { epoch: number; startOffset: number }[];
  endOffsetForEpoch(epoch: number): { epoch: number; endOffset: number };
  truncateTo(offset: number): { logEndOffset: number; removedOffsets: number; removedSegments: number };
  appendAsFollower(records: Uint8Array, nowMs?: number): StagedAppend;
  /** appendAsFollower() staged like stage(), written with the pass (the request ring's FOLLOWER_APPEND). */
  stageAsFollower(records: Uint8Array, nowMs: number, out: StagedAppend): StagedAppend;
}

export function isReplicaLog(log: HostedLog): log is HostedLog & ReplicaLog {
  return typeof (log as Partial<ReplicaLog>).truncateTo === "function";
}

export function isJournaled(log: HostedLog): log is HostedLog & JournaledLog {
  return typeof (log as Partial<JournaledLog>).markJournaled === "function";
}

export class HostedPartition {
  readonly slot: number;
  log: HostedLog;
  /** The row this worker publishes to the state table (reused for every write). */
  readonly view: PartitionStateView;
  /** Appended since the last flush. */
  dirty = false;
  /** Row changed since it was last published. */
  touched = false;
  /** Storage failed (a flush or write threw): offline until closed, whatever the log says. */
  failed = false;
  /** Has staged appends in the current pass (it is in the host's staging list). */
  staging = false;
  /** This pass's write of the staged appends failed: each of them is answered with this. */
  writeError: { code: number; message: string } | null = null;
  /**
   * Index (in the pending produces) of the first one still staged in the log: the
   * ones of this partition before it were written by a stage() and are answered
   * PRODUCED even if writeError is set (a refused write stored none of the others).
   */
  stagedFrom = 0;
  /** Its directory as the journal names it; null: it never uses the journal (faults injected, or no journal). */
  journalKey: Uint8Array | null = null;
  /** Journal generation of its last journaled round (-1: none): closing it then needs a checkpoint first. */
  journaledGeneration = -1;

  constructor(slot: number, log: HostedLog) {
    this.slot = slot;
    this.log = log;
    this.view = emptyStateView();
  }
}

/** Online: neither the host saw its storage fail nor the log says it is offline. */
export function isOnline(p: HostedPartition): boolean {
  return !p.failed && p.log.online;
}
