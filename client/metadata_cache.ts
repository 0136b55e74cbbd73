// Partition counts of topics, as the producer needs them to partition records.
//
// A known topic is answered synchronously (the producer's fast path); an entry
// older than maxAgeMs is refreshed in the background while the old count keeps
// serving, so partitions added to a topic are picked up without a pause. An
// unknown topic waits for a Metadata request; a topic that is still being
// created (LEADER_NOT_AVAILABLE) or unknown (UNKNOWN_TOPIC_OR_PARTITION, e.g.
// auto-create off) is asked for again with backoff until the caller's deadline.

import { ApiKey } from "../protocol/api_keys.ts";
import { ErrorCode, SluiceError, isRetriable } from "../protocol/errors.ts";
import { backoffMs, delay } from "./backoff.ts";
import { METADATA_BACKOFF_MS, METADATA_BACKOFF_MS_MAX } from "./client_limits.ts";
import { controlCall, type RequestLink } from "./broker_link.ts";
import { ConnectionError, wireError } from "./errors.ts";
import type { MetadataResponse } from "../protocol/messages/control.ts";

interface Entry {
  partitionCount: number;
  fetchedAt: number;
}

export class MetadataCache {
  private readonly link: RequestLink;
  private readonly maxAgeMs: number;
  private readonly allowAutoCreate: boolean;
  /** One entry per topic the producer has sent to (bounded by the application's topics). */
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<number>>();

  /** Sees every Metadata response (the producer's leader routing learns from it). */
  private readonly onMetadata: (response: MetadataResponse) => void;

  constructor(link: RequestLink, options: { maxAgeMs: number; allowAutoCreate: boolean; onMetadata?: (response: MetadataResponse) => void }) {
    this.link = link;
    this.onMetadata = options.onMetadata ?? (() => {});
    this.maxAgeMs = options.maxAgeMs;
    this.allowAutoCreate = options.allowAutoCreate;
  }

  /** The cached count, or undefined; starts a background refresh when the entry is old. `now`: the caller's clock read. */
  partitionCountNow(topic: string, now = Date.now()): number | undefined {
    const entry = this.entries.get(topic);
    if (entry === undefined) return undefined;
    if (now - entry.fetchedAt > this.maxAgeMs && !this.inflight.has(topic)) {
      this.partitionCount(topic, Date.now() + this.maxAgeMs).catch(() => {
        // A failed background refresh keeps the old count; the next send tries again.
      });
    }
    return entry.partitionCount;
  }

  /** The topic's partition count, asking the broker (with retries until `deadline`) when not cached. */
  partitionCount(topic: string, deadline: number): Promise<number> {
    const cached = this.entries.get(topic);
    if (cached !== undefined && Date.now() - cached.fetchedAt <= this.maxAgeMs) return Promise.resolve(cached.partitionCount);
    let pending = this.inflight.get(topic);
    if (pending === undefined) {
      pending = this.fetch(topic, deadline).finally(() => this.inflight.delete(topic));
      this.inflight.set(topic, pending);
    }
    return pending;
  }

  /** Asks the broker again now (once at a time per topic), whatever the cache holds: a partition's leader changed. */
  refresh(topic: string, deadline: number): Promise<number> {
    let pending = this.inflight.get(topic);
    if (pending === undefined) {
      pending = this.fetch(topic, deadline).finally(() => this.inflight.delete(topic));
      this.inflight.set(topic, pending);
    }
    return pending;
  }

  /** Forgets a topic (after UNKNOWN_TOPIC_OR_PARTITION from a produce). */
  invalidate(topic: string): void {
    this.entries.delete(topic);
  }

  private async fetch(topic: string, deadline: number): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      let code: number;
      let error: unknown;
      try {
        const response = await controlCall(this.link, ApiKey.Metadata, { topics: [topic], allowAutoCreate: this.allowAutoCreate });
        this.onMetadata(response);
        const t = response.topics.find((x) => x.name === topic);
        code = t === undefined ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : t.errorCode;
        if (t !== undefined && code === ErrorCode.NONE) {
          if (t.partitions.length === 0) code = ErrorCode.LEADER_NOT_AVAILABLE;
          else {
            this.entries.set(topic, { partitionCount: t.partitions.length, fetchedAt: Date.now() });
            return t.partitions.length;
          }
        }
        error = wireError(code, `metadata of topic '${topic}'`);
      } catch (e) {
        // The link already retried opening a connection for connectTimeoutMs: do not multiply that.
        if (e instanceof ConnectionError && e.phase === "connect") throw e;
        code = e instanceof SluiceError ? e.code : ErrorCode.UNKNOWN_SERVER_ERROR;
        error = e;
      }
      const wait = backoffMs(attempt, { initialMs: METADATA_BACKOFF_MS, maxMs: METADATA_BACKOFF_MS_MAX });
      if (!isRetriable(code) || Date.now() + wait >= deadline) throw error;
      await delay(wait);
    }
  }
}
