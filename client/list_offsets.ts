// ListOffsets (api 2) for the consumer and the admin: where a partition's log
// starts, where it ends (the high watermark), or the first offset at or after
// a timestamp.

import { ApiKey } from "../protocol/api_keys.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { OffsetSpec } from "../protocol/messages/control.ts";
import { controlCall, type RequestLink } from "./broker_link.ts";

/** "earliest" = log start, "latest" = high watermark (the next offset to be written), or a timestamp in ms. */
export type OffsetQuery = "earliest" | "latest" | { readonly timestamp: number };

export interface OffsetRequest {
  readonly topic: string;
  readonly partition: number;
  readonly at: OffsetQuery;
}

export interface OffsetAnswer {
  readonly topic: string;
  readonly partition: number;
  /** NONE (0) or the partition's error code. */
  readonly errorCode: number;
  /** -1 when no record has a timestamp at or after the one asked for. */
  readonly offset: bigint;
  readonly timestamp: number;
}

function specOf(at: OffsetQuery): number {
  if (at === "earliest") return OffsetSpec.EARLIEST;
  if (at === "latest") return OffsetSpec.LATEST;
  return at.timestamp;
}

/**
 * Answers in the same order as `requests`: one ListOffsets request, or one
 * per round when a partition is asked about more than once (answers are
 * matched by topic and partition).
 */
export async function listOffsets(link: RequestLink, requests: readonly OffsetRequest[]): Promise<OffsetAnswer[]> {
  const rounds: number[][] = [];
  const roundOf = new Map<string, number>();
  requests.forEach((r, i) => {
    const key = `${r.topic}\0${r.partition}`;
    const round = roundOf.get(key) ?? 0;
    roundOf.set(key, round + 1);
    (rounds[round] ??= []).push(i);
  });
  const answers: OffsetAnswer[] = new Array(requests.length);
  for (const round of rounds) {
    const byTopic = new Map<string, Array<{ partition: number; timestamp: number }>>();
    for (const i of round) {
      const r = requests[i];
      let list = byTopic.get(r.topic);
      if (list === undefined) byTopic.set(r.topic, (list = []));
      list.push({ partition: r.partition, timestamp: specOf(r.at) });
    }
    const response = await controlCall(link, ApiKey.ListOffsets, {
      topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
    });
    const found = new Map<string, { errorCode: number; offset: number; timestamp: number }>();
    for (const t of response.topics) for (const p of t.partitions) found.set(`${t.name}\0${p.partition}`, p);
    for (const i of round) {
      const r = requests[i];
      const p = found.get(`${r.topic}\0${r.partition}`);
      answers[i] =
        p === undefined
          ? { topic: r.topic, partition: r.partition, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, offset: -1n, timestamp: -1 }
          : { topic: r.topic, partition: r.partition, errorCode: p.errorCode, offset: BigInt(p.offset), timestamp: p.timestamp };
    }
  }
  return answers;
}
