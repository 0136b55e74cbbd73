// One ReplicaFetch (api 1002) between being read and being answered: the
// leader's side of replication on the native protocol (docs/CLUSTER.md).
//
// The follower's broker epoch is checked first (replica_manager.ts
// staleBrokerEpoch): a fetch of a replaced process is refused whole with
// STALE_BROKER_EPOCH (version 0, from a follower of an earlier build, has
// no epoch and is not checked). Each partition is then checked by the replica manager (leadership, epoch,
// the follower's reported offsets recorded, KIP-320 divergence); the ones to
// read go through the engine's fetch as replica reads (to the log end,
// long-polling on log end moves), the others are answered with their error or
// diverging epoch, and then nothing parks (the follower must act at once).
// Records are copied once off the worker's completion ring (its views live only
// for the callback) into a scratch buffer from the server's pool, as consumer
// fetches do (fetch_results.ts: reused memory, not a fresh copy per answer,
// which cost the leader most of its replication time), and written to the
// socket as views of it when large; the buffer goes back to the pool once the
// socket took them.
//
// A request with MaxBytes 0 is a follower's durable report (sent while its
// fetch is parked here): the checks record its offsets, which may move the
// high watermark and answer acks=all, and the answer goes at once, without a
// read or records.

import { ErrorCode } from "../../protocol/errors.ts";
import { FRAME_BYTES_MAX, RESPONSE_HEADER_BYTES } from "../../protocol/limits.ts";
import {
  decodeReplicaFetchRequest,
  NO_DIVERGING_EPOCH,
  REPLICA_FETCH_PARTITION_RESULT_BYTES_MIN,
  type ReplicaFetchPartitionResult,
  type ReplicaFetchRequest,
  writeReplicaFetchResponse,
  writeReplicaFetchResponsePieces,
} from "../../protocol/messages/replica_fetch.ts";
import { utf8Length } from "../../protocol/utf8.ts";
import { FETCH_RECORDS_COPIED_BYTES_MAX } from "../engine_limits.ts";
import type { FetchHandle, FetchPartitionRequest, FetchSink } from "../fetch_operation.ts";
import { FetchPartitionResults } from "../fetch_results.ts";
import type { ReplicaFetchCheck } from "../replication/replica_manager.ts";
import type { Connection, RequestMeta } from "./connection.ts";

const EMPTY = new Uint8Array(0);

export class ReplicaFetchInFlight implements FetchSink {
  readonly #conn: Connection;
  readonly #meta: RequestMeta;
  readonly #req: ReplicaFetchRequest;
  readonly #checks: ReplicaFetchCheck[];
  /** Index in the engine fetch of each request partition (-1: answered without a read). */
  readonly #readIndex: Int32Array;
  /** The read partitions' codes and bytes (by engine fetch index), set in #fetch. */
  #results: FetchPartitionResults | null = null;
  #handle: FetchHandle | null = null;
  #finished = false;
  /** Bytes reserved under the move throttle per read index (0: not throttled), settled when answered. */
  #reserved: number[] = [];
  /** When a fetch waiting for the throttle's bucket stops waiting (set at its first wait). */
  #waitUntil: number | undefined;

  static start(conn: Connection, meta: RequestMeta, apiVersion: number, body: Uint8Array): void {
    const req = decodeReplicaFetchRequest(body, apiVersion);
    const replication = conn.host.engine.replication;
    // A process whose registration was replaced fetches nothing and reports nothing (docs/CLUSTER.md, "Broker epochs").
    // Version 0 (a follower of an earlier build) carries no epoch: taken unchecked, as before broker epochs.
    const stale = req.brokerEpoch === null ? undefined : replication.staleBrokerEpoch(req.replicaId, req.brokerEpoch);
    if (stale !== undefined) {
      conn.respondError(meta, ErrorCode.STALE_BROKER_EPOCH, stale);
      return;
    }
    const checks: Promise<ReplicaFetchCheck>[] = [];
    for (const t of req.topics) {
      for (const p of t.partitions) {
        const safe = (v: bigint): number => (v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : -1);
        checks.push(
          replication.checkReplicaFetch(req.replicaId, req.brokerEpoch, t.name, p.index, {
            currentLeaderEpoch: p.currentLeaderEpoch,
            fetchOffset: safe(p.fetchOffset),
            lastFetchedEpoch: p.lastFetchedEpoch,
            durableOffset: Math.max(0, safe(p.durableOffset)),
          }),
        );
      }
    }
    Promise.all(checks).then(
      (done) => new ReplicaFetchInFlight(conn, meta, req, done).#fetch(),
      (e) => conn.respondError(meta, ErrorCode.UNKNOWN_SERVER_ERROR, (e as Error)?.message),
    );
  }

  private constructor(conn: Connection, meta: RequestMeta, req: ReplicaFetchRequest, checks: ReplicaFetchCheck[]) {
    this.#conn = conn;
    this.#meta = meta;
    this.#req = req;
    this.#checks = checks;
    this.#readIndex = new Int32Array(checks.length).fill(-1);
  }

  #fetch(): void {
    if (this.#conn.closed) return;
    if (this.#req.maxBytes === 0) {
      this.done();
      return;
    }
    const parts: FetchPartitionRequest[] = [];
    let answeredWithoutRead = false;
    // A move's adding replica past its throttle gets its partition answered without records (docs/SCALING.md, "The throttle").
    let throttledOut = false;
    const throttle = this.#conn.host.engine.replication.moveThrottle;
    let flat = 0;
    for (const t of this.#req.topics) {
      for (const p of t.partitions) {
        const i = flat++;
        const c = this.#checks[i];
        if (c.kind === "read") {
          let maxBytes = p.partitionMaxBytes;
          let reserved = 0;
          // An adding replica in the ISR already holds up acks=all: it is not slowed (Kafka's rule too).
          if (maxBytes > 0 && throttle.throttles(c.slot, this.#req.replicaId) && !c.leader.isr.includes(this.#req.replicaId)) {
            reserved = throttle.reserve(maxBytes);
            if (reserved === 0) {
              throttledOut = true;
              continue;
            }
            maxBytes = Math.min(maxBytes, reserved);
          }
          this.#readIndex[i] = parts.length;
          this.#reserved.push(reserved);
          parts.push({ topic: t.name, partition: p.index, offset: Number(p.fetchOffset), maxBytes, replica: true });
        } else {
          answeredWithoutRead = true;
        }
      }
    }
    const conn = this.#conn;
    if (parts.length === 0 && throttledOut && !answeredWithoutRead) {
      // Only throttled partitions (an adding replica's copy fetcher), none allowed now: try again when the bucket
      // allows a read, within the fetch's wait; answered without records only when that runs out, never at once
      // (a throttled follower neither spins nor waits out a long-poll on other partitions).
      this.#waitUntil ??= performance.now() + this.#req.maxWaitMs;
      const leftMs = this.#waitUntil - performance.now();
      if (leftMs <= 0) {
        this.done();
        return;
      }
      setTimeout(() => this.#fetch(), Math.min(leftMs, Math.max(1, throttle.msUntilReady(this.#smallestThrottledAsk()))));
      return;
    }
    this.#results = new FetchPartitionResults(conn.host.scratch, parts.length);
    const handle = conn.host.engine.fetch(
      {
        // A divergence or an error is answered at once: the follower must act on it.
        maxWaitMs: answeredWithoutRead ? 0 : this.#req.maxWaitMs,
        minBytes: this.#req.minBytes,
        maxBytes: this.#req.maxBytes,
        partitions: parts,
        readBudget: conn.fetchReads,
      },
      this,
    );
    if (!this.#finished) {
      this.#handle = handle;
      conn.trackFetch(handle);
    }
  }

  /** The smallest partition maximum of this fetch's reads (what a throttled read waits for is at most that). */
  #smallestThrottledAsk(): number {
    let least = Number.MAX_SAFE_INTEGER;
    for (const t of this.#req.topics) for (const p of t.partitions) if (p.partitionMaxBytes > 0) least = Math.min(least, p.partitionMaxBytes);
    return least;
  }

  partition(index: number, errorCode: number, bytes: Uint8Array | null, highWatermark: number, logStartOffset: number): void {
    this.#results!.set(index, errorCode, bytes, highWatermark, logStartOffset);
  }

  reset(): void {
    this.#results?.reset();
  }

  done(): void {
    this.#finished = true;
    const conn = this.#conn;
    if (this.#handle !== null) conn.untrackFetch(this.#handle);
    const pool = conn.host.engine.pool;
    const results = this.#results;
    const { scratch, release } = results === null ? { scratch: EMPTY, release: () => {} } : results.takeScratch();
    const used = results === null ? 0 : results.usedBytes;
    let flat = 0;
    const topics = this.#req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p): ReplicaFetchPartitionResult => {
        const c = this.#checks[flat++];
        const k = this.#readIndex[flat - 1];
        if (c.kind === "read" && k >= 0) {
          const st = pool.state(c.slot);
          const records = k < 0 || results === null ? EMPTY : results.records(k, scratch);
          if (this.#reserved[k] > 0) this.#conn.host.engine.replication.moveThrottle.settle(this.#reserved[k], records.length);
          return {
            index: p.index,
            errorCode: k < 0 || results === null ? ErrorCode.NONE : results.codes[k],
            // Read now: the fetch may have parked while followers' reports moved it.
            highWatermark: BigInt(c.leader.highWatermark),
            logStartOffset: BigInt(st.logStartOffset),
            logEndOffset: BigInt(st.logEndOffset),
            divergingEpoch: NO_DIVERGING_EPOCH,
            divergingEndOffset: -1n,
            records,
          };
        }
        if (c.kind === "read") {
          // Throttled out: no records this time, the leader's offsets as they are.
          const st = pool.state(c.slot);
          return {
            index: p.index,
            errorCode: ErrorCode.NONE,
            highWatermark: BigInt(c.leader.highWatermark),
            logStartOffset: BigInt(st.logStartOffset),
            logEndOffset: BigInt(st.logEndOffset),
            divergingEpoch: NO_DIVERGING_EPOCH,
            divergingEndOffset: -1n,
            records: EMPTY,
          };
        }
        return {
          index: p.index,
          errorCode: c.kind === "error" ? c.errorCode : ErrorCode.NONE,
          highWatermark: BigInt(c.highWatermark),
          logStartOffset: BigInt(c.logStartOffset),
          logEndOffset: BigInt(c.logEndOffset),
          divergingEpoch: c.kind === "diverging" ? c.epoch : NO_DIVERGING_EPOCH,
          divergingEndOffset: c.kind === "diverging" ? BigInt(c.endOffset) : -1n,
          records: EMPTY,
        };
      }),
    }));
    let bytes = 2 + 4 + used;
    for (const t of this.#req.topics) bytes += 2 + utf8Length(t.name) + 4 + REPLICA_FETCH_PARTITION_RESULT_BYTES_MIN * t.partitions.length;
    if (bytes + RESPONSE_HEADER_BYTES > FRAME_BYTES_MAX) {
      release();
      conn.respondError(this.#meta, ErrorCode.MESSAGE_TOO_LARGE, `the response would be ${bytes} bytes, larger than a frame; ask for fewer bytes`);
      return;
    }
    if (used <= FETCH_RECORDS_COPIED_BYTES_MAX) {
      conn.respond(this.#meta, (w) => writeReplicaFetchResponse(w, { topics }));
      release();
    } else {
      conn.respondPieces(this.#meta, (w) => writeReplicaFetchResponsePieces(w, { topics }), release);
    }
  }
}
