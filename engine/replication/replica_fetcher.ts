// The follower side of replication: one fetcher per (this broker → a leader
// broker) connection, fetching every partition this broker follows on that
// leader in one ReplicaFetch (api 1002) request, one request in flight (its
// MaxBytes is the fetcher's whole in-flight bound).
//
// Per round: each partition asks from its log end with the epoch of its last
// batch and reports its durable offset. The answer's records are appended with
// the leader's offsets and epochs (appendAsFollower: written on return, made
// durable by the worker's group commit like produces). A diverging epoch means
// this log forked from the leader's: it is cut to the end of the last common
// epoch (min of the leader's answer and this log's own end for that epoch,
// KIP-320) and fetched again. The follower's high watermark is the leader's,
// never above its own durable offset.
//
// The rounds are pipelined: the next fetch goes out as soon as the appends are
// written, not after their fdatasync, so one round trip and one fdatasync
// overlap instead of adding up. The durable offset is what the leader's high
// watermark and acks=all wait on, and the fetch that is out may park at the
// leader (nothing new to copy): so when this replica's fdatasync covers an
// append while a fetch is out, the fetcher sends a **durable report** at once —
// a ReplicaFetch with MaxBytes 0, which the leader records and answers without
// records or waiting (docs/PROTOCOL.md). At most one report is out at a time;
// what became durable meanwhile goes in the next one. No empty fetch is ever
// sent to poll: a report goes only when a durable offset moved.
//
// A lost connection or a timed-out answer closes the socket and reconnects
// with a doubling backoff; a partition error (not leader, fenced epoch) waits
// for the next round, where the caller may have moved the partition meanwhile.
//
// Runs on: the router (main) thread.

import { Writer } from "../../protocol/codec.ts";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import { FrameParser, beginRequestFrame, endFrame, readResponseCorrelationId, responseBody } from "../../protocol/frame.ts";
import { ApiKey } from "../../protocol/api_keys.ts";
import { readI32 } from "../../protocol/big_endian.ts";
import { BATCH_LENGTH_OFFSET, BATCH_OVERHEAD_BYTES, PARTITION_LEADER_EPOCH_OFFSET } from "../../protocol/record_batch.ts";
import {
  decodeReplicaFetchResponse,
  NO_DIVERGING_EPOCH,
  REPLICA_FETCH_VERSION,
  type ReplicaFetchPartitionResult,
  type ReplicaFetchTopic,
  writeReplicaFetchRequest,
} from "../../protocol/messages/replica_fetch.ts";
import { defaultTransport, type Transport, type TransportSocket } from "../../runtime/mod.ts";
import {
  REPLICA_CONNECT_TIMEOUT_MS,
  REPLICA_DURABLE_WAIT_MS,
  REPLICA_FETCH_BYTES_MAX,
  REPLICA_FETCH_PARTITION_BYTES_MAX,
  REPLICA_FETCH_WAIT_MS,
  REPLICA_RECONNECT_BACKOFF_MS_MAX,
  REPLICA_RECONNECT_BACKOFF_MS_MIN,
  REPLICA_RESPONSE_TIMEOUT_MS,
} from "./replication_limits.ts";

/** What a fetcher needs from the broker it runs in. */
export interface FollowerHost {
  readonly brokerId: number;
  /**
   * This broker's epoch, sent in every fetch: its registration's create
   * revision, NO_BROKER_EPOCH outside a cluster. Read per request: a new
   * registration (a session replaced) is sent from the next fetch on.
   */
  brokerEpoch(): number;
  /** The slot of an online partition, or a negative wire error code. */
  resolve(topic: string, partition: number): number;
  logEndOffset(slot: number): number;
  durableOffset(slot: number): number;
  /** The partition leader epoch of the batch holding `logEnd - 1` (-1 for an empty log). */
  lastBatchEpoch(slot: number): Promise<number>;
  endOffsetForEpoch(slot: number, epoch: number): Promise<{ epoch: number; endOffset: number }>;
  truncate(slot: number, offset: number): Promise<{ logEndOffset: number }>;
  /** Takes (copies) `records` before it returns: the view may be reused right after. */
  appendAsFollower(slot: number, records: Uint8Array): Promise<{ baseOffset: number; lastOffset: number }>;
  /** The follower's HW moved: consumers parked on it may read more. */
  highWatermarkMoved(slot: number): void;
  /** Resolves once the slot's durable offset reaches `offset`, or after `timeoutMs`. */
  whenDurable(slot: number, offset: number, timeoutMs: number): Promise<void>;
  log(line: string): void;
}

export interface FollowerPartition {
  readonly topic: string;
  readonly partition: number;
  leaderEpoch: number;
  slot: number;
  /** Where the next fetch starts: this replica's log end once initialised; -1 before. */
  fetchOffset: number;
  lastFetchedEpoch: number;
  /** min(the leader's HW, this replica's durable offset). */
  highWatermark: number;
  /** The last partition error the leader answered (NONE when fine). */
  lastError: number;
  /** Truncations done for a diverging epoch (for tests and metrics). */
  truncations: number;
  /** The leader's HW as last answered (the follower's HW is it, capped by its own durable offset). */
  leaderHighWatermark: number;
  /** The highest durable offset sent to the leader in this connection (a fetch or a report); -1 after a (re)connect. */
  reportedDurable: number;
  /** The offset a durable watch waits for (the log end after the last append); -1: none armed. */
  durableWatch: number;
  /** The newest offset to watch for when the armed watch fires short of it. */
  durableWanted: number;
  /** Durable reports that carried this partition (for tests and metrics). */
  reports: number;
}

interface Pending {
  /** Runs on the response body while the view is valid (inside the parser's callback); its value resolves the request. */
  onBody: (body: Uint8Array) => unknown;
  resolve: (value: unknown) => void;
  reject: (e: Error) => void;
}

/** A follower append started from a fetch answer, with what #apply needs once the records' view is gone. */
interface StartedAppend {
  readonly done: Promise<{ lastOffset: number } | Error>;
  readonly lastEpoch: number;
}

export class ReplicaFetcher {
  readonly host: string;
  readonly port: number;
  readonly #follower: FollowerHost;
  readonly #transport: Transport;
  readonly #partitions = new Map<string, FollowerPartition>();
  #socket: TransportSocket | null = null;
  #closed = false;
  #wake: (() => void) | null = null;
  #nextCorrelationId = 1;
  /**
   * The ReplicaFetch version sent on this connection: REPLICA_FETCH_VERSION
   * (with this broker's epoch), or 0 once the leader answered
   * UNSUPPORTED_VERSION (a leader of an earlier build, during a rolling
   * upgrade). Each new connection tries the newest again.
   */
  #version = REPLICA_FETCH_VERSION;
  /** Requests out on the socket by correlation id: at most the round's fetch and one durable report. */
  readonly #pending = new Map<number, Pending>();
  /** The round's fetch is out (a report is worth sending only then: otherwise the next fetch carries it). */
  #fetchOut = false;
  #reportOut = false;
  /** A durable offset moved while a report was out: send another when it returns. */
  #reportAgain = false;
  readonly #running: Promise<void>;
  /** Rounds completed (a test waits on progress with it). */
  rounds = 0;

  /** This fetcher copies the partitions moves add here (a connection of its own; replica_manager.ts). */
  readonly copy: boolean;

  /** Told the bytes of records each answer brought (the manager's counters). */
  readonly #onRecords: ((bytes: number) => void) | undefined;

  constructor(options: { host: string; port: number; follower: FollowerHost; transport?: Transport; copy?: boolean; onRecords?: (bytes: number) => void }) {
    this.#onRecords = options.onRecords;
    this.host = options.host;
    this.port = options.port;
    this.copy = options.copy === true;
    this.#follower = options.follower;
    this.#transport = options.transport ?? defaultTransport();
    this.#running = this.#run();
  }

  get size(): number {
    return this.#partitions.size;
  }

  partitionState(topic: string, partition: number): FollowerPartition | undefined {
    return this.#partitions.get(key(topic, partition));
  }

  add(topic: string, partition: number, slot: number, leaderEpoch: number): FollowerPartition {
    const k = key(topic, partition);
    let p = this.#partitions.get(k);
    if (p === undefined) {
      p = {
        topic,
        partition,
        slot,
        leaderEpoch,
        fetchOffset: -1,
        lastFetchedEpoch: -1,
        highWatermark: 0,
        lastError: ErrorCode.NONE,
        truncations: 0,
        leaderHighWatermark: 0,
        reportedDurable: -1,
        durableWatch: -1,
        durableWanted: -1,
        reports: 0,
      };
      this.#partitions.set(k, p);
    } else {
      p.leaderEpoch = leaderEpoch;
      p.slot = slot;
      p.fetchOffset = -1; // re-read from the log: a new leader may need a truncation check from the start
      p.reportedDurable = -1;
    }
    this.#kick();
    return p;
  }

  remove(topic: string, partition: number): void {
    this.#partitions.delete(key(topic, partition));
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#socket?.close();
    this.#kick();
    await this.#running;
  }

  #kick(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  async #run(): Promise<void> {
    let backoffMs = REPLICA_RECONNECT_BACKOFF_MS_MIN;
    while (!this.#closed) {
      if (this.#partitions.size === 0) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        continue;
      }
      try {
        if (this.#socket === null || !this.#socket.open) await this.#connect();
        await this.#round();
        backoffMs = REPLICA_RECONNECT_BACKOFF_MS_MIN;
      } catch (e) {
        if (this.#closed) break;
        if (e instanceof SluiceError && e.code === ErrorCode.UNSUPPORTED_VERSION && this.#version > 0) {
          this.#follower.log(`sluice: replica fetch from ${this.host}:${this.port}: the leader serves no ReplicaFetch version ${this.#version}; fetching with version 0 (no broker epoch)`);
          this.#version = 0;
          continue;
        }
        this.#socket?.close();
        this.#socket = null;
        this.#follower.log(`sluice: replica ${this.copy ? "copy " : ""}fetch from ${this.host}:${this.port} failed (${(e as Error)?.message ?? e}); again in ${backoffMs} ms`);
        await this.#sleep(backoffMs);
        backoffMs = Math.min(backoffMs * 2, REPLICA_RECONNECT_BACKOFF_MS_MAX);
      }
    }
    this.#socket?.close();
  }

  /** Waits `ms` or until kicked (a new partition, close). */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = null;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  async #connect(): Promise<void> {
    const socket = await this.#transport.connect({ host: this.host, port: this.port, connectTimeoutMs: REPLICA_CONNECT_TIMEOUT_MS });
    const parser = new FrameParser({
      kind: "response",
      // A copy's answers of up to REPLICA_FETCH_BYTES_MAX arrive back to back: gathered into one reused buffer, not a fresh
      // one each (fresh memory was a third of the follower's router time in a copy). Bounded: one such buffer per copy
      // fetcher, i.e. per leader a move copies from; ordinary fetchers keep the parser's default.
      ...(this.copy ? { retainedBytesMax: REPLICA_FETCH_BYTES_MAX + REPLICA_FETCH_FRAME_SLACK_BYTES } : {}),
      onFrame: (frame) => {
        const correlationId = readResponseCorrelationId(frame);
        const pending = this.#pending.get(correlationId);
        if (pending === undefined) return;
        this.#pending.delete(correlationId);
        // The frame view is the parser's and dies when this returns: the body is used here, not kept
        // (the records go straight into the worker's request ring; see #round).
        let value: unknown;
        try {
          value = pending.onBody(responseBody(frame));
        } catch (e) {
          pending.reject(e as Error);
          return;
        }
        pending.resolve(value);
      },
      onError: (e) => socket.close() ?? void e,
    });
    socket.onData((chunk) => parser.push(chunk));
    socket.onClose((error) => {
      const pending = [...this.#pending.values()];
      this.#pending.clear();
      for (const p of pending) p.reject(error ?? new Error("the leader closed the connection"));
    });
    // A new connection may reach a new leader process: it knows nothing this one reported.
    for (const p of this.#partitions.values()) p.reportedDurable = -1;
    this.#socket = socket;
    this.#version = REPLICA_FETCH_VERSION;
  }

  async #round(): Promise<void> {
    const f = this.#follower;
    const parts = [...this.#partitions.values()];
    // Initialise new partitions from their own log. No wait for durability: a report carries it (see top).
    for (const p of parts) {
      const slot = f.resolve(p.topic, p.partition);
      if (slot < 0) {
        // Not fetched this round (offline, closed, no longer hosted): a slot kept from an earlier round would fetch on.
        p.lastError = -slot;
        p.slot = -1;
        continue;
      }
      p.slot = slot;
      if (p.fetchOffset < 0) {
        p.fetchOffset = f.logEndOffset(slot);
        p.lastFetchedEpoch = await f.lastBatchEpoch(slot);
      }
    }
    const asked = parts.filter((p) => p.fetchOffset >= 0 && p.slot >= 0);
    if (asked.length === 0) {
      await this.#sleep(REPLICA_RECONNECT_BACKOFF_MS_MAX);
      return;
    }
    const byTopic = new Map<string, ReplicaFetchTopic>();
    for (const p of asked) {
      const durable = this.#durableToReport(p);
      p.reportedDurable = Math.max(p.reportedDurable, durable);
      addToRequest(byTopic, p, durable, REPLICA_FETCH_PARTITION_BYTES_MAX);
    }
    this.#fetchOut = true;
    let received: { resp: ReturnType<typeof decodeReplicaFetchResponse>; appends: Map<ReplicaFetchPartitionResult, StartedAppend> };
    try {
      // The records are handed to the worker inside the parser's callback, from its view:
      // one copy (into the request ring) instead of a fresh copy of the body first.
      received = await this.#roundTrip({ replicaId: f.brokerId, brokerEpoch: f.brokerEpoch(), maxWaitMs: REPLICA_FETCH_WAIT_MS, minBytes: 1, maxBytes: REPLICA_FETCH_BYTES_MAX, topics: [...byTopic.values()] }, (body) => this.#startAppends(body));
    } finally {
      this.#fetchOut = false;
    }
    // Partitions are independent (often on different workers): their appends run side by side.
    const applied: Promise<boolean>[] = [];
    for (const t of received.resp.topics) {
      for (const r of t.partitions) {
        const p = this.#partitions.get(key(t.name, r.index));
        if (p === undefined) continue; // removed while the fetch was out
        applied.push(this.#apply(p, r, received.appends.get(r)));
      }
    }
    const failed = (await Promise.all(applied)).filter((ok) => !ok).length;
    this.rounds++;
    // Every partition refused (not the leader yet, an epoch not known there yet): do not spin.
    if (failed === asked.length) await this.#sleep(REPLICA_RECONNECT_BACKOFF_MS_MIN);
  }

  /**
   * Decodes a fetch answer and starts the appends of every partition that
   * brought records, while `body` is valid; the records' views must not be
   * used after this returns.
   */
  #startAppends(body: Uint8Array): { resp: ReturnType<typeof decodeReplicaFetchResponse>; appends: Map<ReplicaFetchPartitionResult, StartedAppend> } {
    const resp = decodeReplicaFetchResponse(body);
    const appends = new Map<ReplicaFetchPartitionResult, StartedAppend>();
    for (const t of resp.topics) {
      for (const r of t.partitions) {
        if (r.errorCode !== ErrorCode.NONE || r.divergingEpoch !== NO_DIVERGING_EPOCH || r.records.length === 0) continue;
        const p = this.#partitions.get(key(t.name, r.index));
        if (p === undefined || p.slot < 0) continue;
        this.#onRecords?.(r.records.length);
        const done = this.#follower.appendAsFollower(p.slot, r.records).then(
          (res) => res,
          (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
        );
        appends.set(r, { done, lastEpoch: lastEpochIn(r.records) });
      }
      // Past here nothing may read the records: drop the views.
      for (const r of t.partitions) r.records = EMPTY;
    }
    return { resp, appends };
  }

  /** Applies one partition's answer (its append, if any, started by #startAppends); false when it was an error. */
  async #apply(p: FollowerPartition, r: ReplicaFetchPartitionResult, started: StartedAppend | undefined): Promise<boolean> {
    const f = this.#follower;
    p.lastError = r.errorCode;
    if (r.errorCode !== ErrorCode.NONE) return false;
    const slot = p.slot;
    if (r.divergingEpoch !== NO_DIVERGING_EPOCH) {
      const leaderEnd = Number(r.divergingEndOffset);
      const own = await f.endOffsetForEpoch(slot, r.divergingEpoch);
      let cut = own.endOffset < 0 ? leaderEnd : Math.min(leaderEnd, own.endOffset);
      cut = Math.min(cut, f.logEndOffset(slot));
      const res = await f.truncate(slot, cut);
      p.truncations++;
      p.reportedDurable = -1; // the durable offset moved back with the log: report from there
      p.fetchOffset = res.logEndOffset;
      p.lastFetchedEpoch = await f.lastBatchEpoch(slot);
      return true;
    }
    if (started !== undefined) {
      const res = await started.done;
      if (res instanceof Error) {
        const e = res;
        // Refused by the log (offsets not at its end, an epoch going back) or a storage error:
        // start the partition again from what its log says, with the divergence check.
        p.lastError = (e as { code?: number }).code ?? ErrorCode.UNKNOWN_SERVER_ERROR;
        p.fetchOffset = -1;
        p.reportedDurable = -1;
        f.log(`sluice: follower append to ${p.topic}-${p.partition} refused (${e.message}); fetching again from its log end`);
        return false;
      }
      p.fetchOffset = res.lastOffset + 1;
      p.lastFetchedEpoch = started.lastEpoch;
      this.#watchDurable(p);
    }
    this.#leaderHw(p, Number(r.highWatermark));
    return true;
  }

  /** The leader answered its HW: the follower's moves to it, capped by what is durable here. */
  #leaderHw(p: FollowerPartition, leaderHw: number): void {
    if (leaderHw > p.leaderHighWatermark) p.leaderHighWatermark = leaderHw;
    this.#followerHw(p);
  }

  #followerHw(p: FollowerPartition): void {
    if (p.slot < 0) return;
    const hw = Math.min(p.leaderHighWatermark, this.#follower.durableOffset(p.slot));
    if (hw > p.highWatermark) {
      p.highWatermark = hw;
      this.#follower.highWatermarkMoved(p.slot);
    }
  }

  /** What this replica may report durable for `p`: never past what it fetched (the leader caps it too). */
  #durableToReport(p: FollowerPartition): number {
    return Math.min(this.#follower.durableOffset(p.slot), p.fetchOffset);
  }

  /**
   * Waits for this replica's fdatasync to cover `p` up to its log end, then
   * reports it. One watch per partition: a newer target waits for the armed one
   * to fire. A watch that times out (a slow disk) is armed again, so the
   * report still goes when the fdatasync returns.
   */
  #watchDurable(p: FollowerPartition): void {
    const target = p.fetchOffset;
    p.durableWanted = Math.max(p.durableWanted, target);
    if (p.durableWatch >= 0) return;
    const f = this.#follower;
    if (f.durableOffset(p.slot) >= target) {
      this.#durableMoved(p);
      return;
    }
    p.durableWatch = target;
    const slot = p.slot;
    f.whenDurable(slot, target, REPLICA_DURABLE_WAIT_MS).then(() => {
      p.durableWatch = -1;
      if (this.#closed || this.#partitions.get(key(p.topic, p.partition)) !== p || p.slot !== slot) return;
      this.#durableMoved(p);
      if (f.durableOffset(slot) < p.durableWanted) this.#watchDurable(p);
    });
  }

  #durableMoved(p: FollowerPartition): void {
    this.#followerHw(p);
    this.#report();
  }

  /**
   * Sends a durable report when a fetch is out (it may be parked at the
   * leader) and some partition's durable offset passed what was last sent.
   * Without a fetch out the next fetch carries it; with a report out, another
   * follows when it returns.
   */
  #report(): void {
    if (this.#closed || !this.#fetchOut) return;
    if (this.#reportOut) {
      this.#reportAgain = true;
      return;
    }
    const byTopic = new Map<string, ReplicaFetchTopic>();
    const sent: FollowerPartition[] = [];
    for (const p of this.#partitions.values()) {
      if (p.slot < 0 || p.fetchOffset < 0) continue;
      const durable = this.#durableToReport(p);
      if (durable <= p.reportedDurable) continue;
      p.reportedDurable = durable;
      sent.push(p);
      addToRequest(byTopic, p, durable, 0);
    }
    if (sent.length === 0) return;
    this.#reportOut = true;
    for (const p of sent) p.reports++;
    const done = (): void => {
      this.#reportOut = false;
      if (this.#reportAgain) {
        this.#reportAgain = false;
        this.#report();
      }
    };
    this.#roundTrip({ replicaId: this.#follower.brokerId, brokerEpoch: this.#follower.brokerEpoch(), maxWaitMs: 0, minBytes: 0, maxBytes: 0, topics: [...byTopic.values()] }, decodeReplicaFetchResponse).then(
      (resp) => {
        // Only the HW is taken from a report's answer: errors and divergences reach the round's fetch too.
        for (const t of resp.topics) {
          for (const r of t.partitions) {
            const p = this.#partitions.get(key(t.name, r.index));
            if (p !== undefined && r.errorCode === ErrorCode.NONE && r.divergingEpoch === NO_DIVERGING_EPOCH) this.#leaderHw(p, Number(r.highWatermark));
          }
        }
        done();
      },
      // A lost connection fails the round's fetch as well, which reconnects; the next fetch carries the offsets.
      () => done(),
    );
  }

  #roundTrip<T>(req: Parameters<typeof writeReplicaFetchRequest>[1], onBody: (body: Uint8Array) => T): Promise<T> {
    const socket = this.#socket;
    if (socket === null || !socket.open) return Promise.reject(new Error("not connected"));
    const correlationId = this.#nextCorrelationId++ >>> 0;
    const w = new Writer();
    const version = this.#version;
    const start = beginRequestFrame(w, { apiKey: ApiKey.ReplicaFetch, apiVersion: version, correlationId });
    writeReplicaFetchRequest(w, req, version);
    endFrame(w, start);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.#pending.delete(correlationId)) return;
        reject(new SluiceError(ErrorCode.REQUEST_TIMED_OUT, `no answer from the leader within ${REPLICA_RESPONSE_TIMEOUT_MS} ms`));
      }, REPLICA_RESPONSE_TIMEOUT_MS);
      this.#pending.set(correlationId, {
        onBody,
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      socket.write(w.finish());
    });
  }
}

const EMPTY = new Uint8Array(0);
/** A fetch answer's bytes beyond its records (headers, offsets per partition): what the retained buffer allows for. */
const REPLICA_FETCH_FRAME_SLACK_BYTES = 64 * 1024;

function key(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/** The partition leader epoch of the last whole batch in `records`. */
export function lastEpochIn(records: Uint8Array): number {
  let pos = 0;
  let epoch = -1;
  while (pos + BATCH_OVERHEAD_BYTES <= records.length) {
    const size = BATCH_OVERHEAD_BYTES + readI32(records, pos + BATCH_LENGTH_OFFSET);
    if (pos + size > records.length) break;
    epoch = readI32(records, pos + PARTITION_LEADER_EPOCH_OFFSET);
    pos += size;
  }
  return epoch;
}

/** One partition of a ReplicaFetch request, grouped under its topic (partitionMaxBytes 0: a durable report). */
function addToRequest(byTopic: Map<string, ReplicaFetchTopic>, p: FollowerPartition, durable: number, partitionMaxBytes: number): void {
  let t = byTopic.get(p.topic);
  if (t === undefined) {
    t = { name: p.topic, partitions: [] };
    byTopic.set(p.topic, t);
  }
  t.partitions.push({
    index: p.partition,
    currentLeaderEpoch: p.leaderEpoch,
    fetchOffset: BigInt(p.fetchOffset),
    lastFetchedEpoch: p.lastFetchedEpoch,
    durableOffset: BigInt(durable),
    partitionMaxBytes,
  });
}
