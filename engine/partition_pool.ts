// What the engine needs from the partition worker pool (engine/worker_pool.ts),
// and the one definition of the callbacks both speak.
// Written as an interface so the engine's own tests can drive it with an
// in-memory pool, and so the engine states exactly what it relies on.
//
// Callbacks: `bytes` views handed to a fetch callback are valid only during the
// call (they point into the completion ring); whoever keeps them must copy.

import type { EpochEndOffset, FaultOptions, PartitionStateView, TruncateResult } from "../workers/mod.ts";

export interface ProduceResult {
  baseOffset: number;
  lastOffset: number;
  logAppendTimeMs: number;
  logStartOffset: number;
}

/** A partition's row of the shared state table, as the worker publishes it. */
export type PartitionState = PartitionStateView;

export type ProduceCallback = (err: number, res: ProduceResult | null, message?: string) => void;
/** `bytes` is a view into the completion ring, valid only during the call: copy what must outlive it. */
export type FetchCallback = (err: number, bytes: Uint8Array, highWatermark: number, logStartOffset: number) => void;
/** `timestampMs`: the timestamp of the record at `offset` (-1 with offset -1 or an error). */
export type OffsetCallback = (err: number, offset: number, timestampMs: number) => void;

export interface OpenPartitionOptions {
  /** Tests only: storage faults for this partition's files (engine/fault_hooks.ts). */
  faults?: FaultOptions;
  /**
   * What tells this partition from an earlier one in the same directory (the
   * topic's id): the worker journal names it, and its replay skips records of
   * another incarnation. Absent: the partition does not use the journal.
   */
  incarnation?: string;
}

export interface PartitionPool<LogConfig = unknown> {
  readonly workerCount: number;
  openPartition(slot: number, worker: number, dir: string, config: LogConfig, opts?: OpenPartitionOptions): Promise<unknown>;
  closePartition(slot: number): Promise<unknown>;
  deletePartition(slot: number): Promise<unknown>;
  setConfig(slot: number, config: LogConfig): Promise<unknown> | unknown;
  /** false: the worker's ring is full; nothing was queued; wait for onWritable(worker). */
  produce(slot: number, records: Uint8Array, acks: 0 | 1 | -1, cb: ProduceCallback): boolean;
  /** Below the durable offset; with `upperBound` (≥ 0), below min(upperBound, log end) instead. */
  fetch(slot: number, offset: number, maxBytes: number, cb: FetchCallback, upperBound?: number): boolean;
  offsetForTimestamp(slot: number, timestampMs: number, cb: OffsetCallback): boolean;
  /** Calls `cb` once, when the worker's ring has room again. */
  onWritable(worker: number, cb: () => void): void;
  workerOf(slot: number): number;
  state(slot: number): PartitionState;
  /** `cb(slot)` whenever a partition's log end or high watermark moves. */
  onAdvance(cb: (slot: number) => void): void;
  ringStats(): unknown;
  // Replication (docs/CLUSTER.md): the worker's replica log calls. Absent on pools without a log (in-memory tests).
  setLeaderEpoch?(slot: number, epoch: number): Promise<void>;
  endOffsetForEpoch?(slot: number, epoch: number): Promise<EpochEndOffset>;
  truncate?(slot: number, offset: number): Promise<TruncateResult>;
  appendAsFollower?(slot: number, records: Uint8Array): Promise<{ baseOffset: number; lastOffset: number }>;
  shutdown(): Promise<unknown>;
}
