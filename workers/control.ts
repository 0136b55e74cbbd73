// Control messages between the router and a partition worker (postMessage).
//
// Only rare operations travel this way: start, open/close/delete a partition,
// change its config, a replica's leader epoch and truncation, epoch lookups,
// shut down. Produce, fetch and their results never do; they go through the
// shared rings (shared_layout.ts). Errors cross as (code, message) pairs and
// become SluiceError again on the router.

import { rethrowIfAssertion } from "../protocol/assert.ts";
import { ErrorCode } from "../protocol/errors.ts";
import type { LogConfig } from "./log/mod.ts";

/** Fault injection for tests only: passed through to the log's file operations. */
export interface FaultOptions {
  /** The k-th fdatasync (1-based) of this partition's files fails with EIO. */
  failFdatasyncAt?: number;
  /** Once a file exists at this path, every fdatasync fails with EIO (FaultPlan.eioFile); "{partition}" in it is the partition's number. */
  eioFile?: string;
  /** Writes succeed up to this many bytes in total (this open), then come back short and fail with ENOSPC. */
  writeBytesMax?: number;
  /** Once a file exists at this path, writeBytesMax no longer applies: space was freed (FaultPlan.spaceFile). */
  spaceFile?: string;
  /** Every fdatasync first blocks the worker this long: a slow disk. */
  fdatasyncDelayMs?: number;
  /** Every fdatasync also blocks for the bytes written since the last one at this bandwidth: a slow disk. */
  diskBytesPerSec?: number;
}

export type ControlRequest =
  | {
      op: "init";
      workerIndex: number;
      requests: SharedArrayBuffer;
      completions: SharedArrayBuffer;
      state: SharedArrayBuffer;
      /** The broker's worker stats (worker_stats.ts); this worker writes region `workerIndex`. */
      stats: SharedArrayBuffer;
      /**
       * The worker journal (workers/log/worker_journal.ts): its file, and the data
       * dir its records name partitions relative to. Absent: no journal.
       */
      journal?: { path: string; dataDir: string };
    }
  | { op: "open"; id: number; slot: number; dir: string; config: LogConfig; faults?: FaultOptions; incarnation?: string }
  | { op: "close"; id: number; slot: number }
  | { op: "delete"; id: number; slot: number }
  | { op: "setConfig"; id: number; slot: number; config: LogConfig }
  /** Replication (docs/CLUSTER.md): the partition leads with this epoch from now on (stamped into its batches). */
  | { op: "setLeaderEpoch"; id: number; slot: number; epoch: number }
  /** Replication: Kafka's OffsetForLeaderEpoch; the reply's result is { epoch, endOffset }. */
  | { op: "endOffsetForEpoch"; id: number; slot: number; epoch: number }
  /** Replication: cut the log back to `offset`; the reply's result is { logEndOffset, removedOffsets, removedSegments }. */
  | { op: "truncate"; id: number; slot: number; offset: number }
  /**
   * Replication: a follower's append of whole batches fetched from the leader (offsets and epochs kept).
   * The reply's result is { baseOffset, lastOffset } once written; DURABLE follows with group commit.
   * The engine sends a follower's bytes through the request ring instead (FOLLOWER_APPEND, one copy into
   * shared memory); this call is the same append for tools and tests, the bytes structured-cloned.
   */
  | { op: "appendAsFollower"; id: number; slot: number; records: Uint8Array }
  | { op: "shutdown"; id: number };

export type ControlReply =
  | { op: "ready"; workerIndex: number }
  | { op: "reply"; id: number; ok: true; result?: unknown }
  | { op: "reply"; id: number; ok: false; code: number; message: string; name: string };

/**
 * (code, message, name) of any thrown value, for the trip across the thread
 * boundary or into a completion. A broken invariant (AssertionError) is no
 * answer: it is rethrown, so every catch that answers with these fields lets it
 * through and the worker crashes loudly.
 */
export function errorFields(err: unknown, fallbackCode: number): { code: number; message: string; name: string } {
  rethrowIfAssertion(err);
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return {
      // A string code ("EIO", "ENOSPC", "EEXIST") is a file system error: the partition's storage failed.
      code: typeof code === "number" ? code : typeof code === "string" ? ErrorCode.KAFKA_STORAGE_ERROR : fallbackCode,
      message: err.message,
      name: err.name,
    };
  }
  return { code: fallbackCode, message: String(err), name: "Error" };
}
