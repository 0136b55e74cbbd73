// Checks the committed offsets of consumer groups, as clients saw them.
//
// A committed offset is the promise "this group has processed everything
// below it". Two ways to break it after crashes: the offset goes backwards
// (an acknowledged commit was lost, so work is redone silently — or an older
// commit overwrote a newer one), or it passes the high watermark (the group
// would skip records that are not durable yet, or that a crash took away).
//
// - commitRegressions: a commit acknowledged with an offset lower than a commit
//   of the same group and partition acknowledged before it.
// - readRegressions: an OffsetFetch answered with an offset lower than one
//   answered before, or lower than a commit acknowledged before the fetch was sent.
// - pastHighWatermark: a committed offset (acked or fetched) above the highest
//   high watermark the partition ever showed. On one node the high watermark is
//   the durable offset, so this is a commit of data that may not exist.

import type { PartitionKey } from "./history.ts";

export type CommitEvent =
  | {
      readonly kind: "commitAck";
      readonly group: string;
      readonly member: string;
      readonly partition: PartitionKey;
      readonly offset: number;
      readonly atMs: number;
    }
  | {
      /** An OffsetFetch answer; offset -1 means "no committed offset". */
      readonly kind: "committedRead";
      readonly group: string;
      readonly partition: PartitionKey;
      readonly offset: number;
      readonly requestedAtMs: number;
      readonly atMs: number;
    }
  | {
      readonly kind: "watermark";
      readonly partition: PartitionKey;
      readonly highWatermark: number;
      readonly atMs: number;
    };

export interface CommitCheckReport {
  readonly valid: boolean;
  readonly counts: { readonly commits: number; readonly reads: number };
  readonly commitRegressions: readonly { group: string; partition: PartitionKey; member: string; from: number; to: number }[];
  readonly readRegressions: readonly { group: string; partition: PartitionKey; from: number; to: number; atMs: number }[];
  readonly pastHighWatermark: readonly { group: string; partition: PartitionKey; offset: number; highWatermark: number }[];
}

export function checkCommits(events: readonly CommitEvent[]): CommitCheckReport {
  const hwMax = new Map<PartitionKey, number>();
  for (const e of events) {
    if (e.kind === "watermark" && e.highWatermark > (hwMax.get(e.partition) ?? -1)) hwMax.set(e.partition, e.highWatermark);
  }

  // Acked commits per group+partition in ack order, to answer "highest acked before time t".
  const acked = new Map<string, { atMs: number; offset: number }[]>();
  const lastAcked = new Map<string, number>();
  const lastRead = new Map<string, number>();
  const commitRegressions: CommitCheckReport["commitRegressions"][number][] = [];
  const readRegressions: CommitCheckReport["readRegressions"][number][] = [];
  const pastHighWatermark: CommitCheckReport["pastHighWatermark"][number][] = [];
  let commits = 0;
  let reads = 0;

  const sorted = events
    .filter((e): e is Exclude<CommitEvent, { kind: "watermark" }> => e.kind !== "watermark")
    .sort((a, b) => a.atMs - b.atMs);
  for (const e of sorted) {
    const key = `${e.group}\u0000${e.partition}`;
    const hw = hwMax.get(e.partition);
    if (hw !== undefined && e.offset > hw) {
      pastHighWatermark.push({ group: e.group, partition: e.partition, offset: e.offset, highWatermark: hw });
    }
    if (e.kind === "commitAck") {
      commits++;
      const before = lastAcked.get(key);
      if (before !== undefined && e.offset < before) {
        commitRegressions.push({ group: e.group, partition: e.partition, member: e.member, from: before, to: e.offset });
      }
      lastAcked.set(key, Math.max(before ?? -1, e.offset));
      let list = acked.get(key);
      if (list === undefined) acked.set(key, (list = []));
      list.push({ atMs: e.atMs, offset: e.offset });
    } else {
      reads++;
      let floor = lastRead.get(key) ?? -1;
      for (const c of acked.get(key) ?? []) {
        if (c.atMs <= e.requestedAtMs && c.offset > floor) floor = c.offset;
      }
      if (e.offset < floor) readRegressions.push({ group: e.group, partition: e.partition, from: floor, to: e.offset, atMs: e.atMs });
      lastRead.set(key, Math.max(lastRead.get(key) ?? -1, e.offset));
    }
  }

  return {
    valid: commitRegressions.length === 0 && readRegressions.length === 0 && pastHighWatermark.length === 0,
    counts: { commits, reads },
    commitRegressions,
    readRegressions,
    pastHighWatermark,
  };
}
