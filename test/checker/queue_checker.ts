// A queue checker in the spirit of Jepsen's: given the history of sends, acks,
// failures and polls, report every way the log broke its promises.
//
// What counts as what (all per the history, never per the broker's word):
// - lost: acked, never read, although some consumer read a later offset of
//   the same partition. (Acked and not read with nothing read past it is
//   `unreadAcked`: not proof of loss unless the test drained the partition.)
// - duplicated: one value at two or more places (partition, offset), counting
//   the place its ack named.
// - inconsistent: one (partition, offset) holding two or more values, counting
//   acks: an ack that says "v is at 7" conflicts with a read of w at 7.
// - unexpected: a value read that nobody sent (corruption served as data).
// - failedButPresent: a send the broker definitely refused, read anyway.
// - reordered: one producer's values in one partition at offsets that do not
//   increase in the order it sent them.
// - pollSkips / nonMonotonicPolls: per consumer and partition, a delivered
//   record past the next expected offset (offsets are dense in Sluice, so any
//   gap is a skip) or at/below one already delivered, without a seek between.
// - watermarkRegressions: a high watermark seen lower than one seen before.
//   On one node the high watermark is the durable offset: it never goes back.
// - unreadBelowHighWatermark: offsets below the highest watermark seen that no
//   consumer read (from the log start offset seen, 0 if none was). An anomaly only for a history whose consumers drained every
//   partition to its end (`drained: true`), as the crash tests do at the end.

import type { HistoryEvent, PartitionKey } from "./history.ts";

export interface Placement {
  readonly partition: PartitionKey;
  readonly offset: number;
  readonly source: "ack" | "read";
}

export interface QueueCheckOptions {
  /** Consumers read every partition from its log start to its final high watermark. */
  readonly drained?: boolean;
}

export interface QueueCheckReport {
  /** True when no anomaly was found. */
  readonly valid: boolean;
  readonly counts: {
    readonly sent: number;
    readonly acked: number;
    readonly failedDefinite: number;
    readonly failedIndeterminate: number;
    /** Distinct values read. */
    readonly read: number;
    /** Values whose send failed without a definite answer and that were read anyway (allowed). */
    readonly recovered: number;
    readonly lost: number;
    readonly unreadAcked: number;
    readonly polls: number;
  };
  readonly lost: readonly { value: string; partition: PartitionKey; ackOffset: number; maxReadOffset: number }[];
  readonly unreadAcked: readonly { value: string; partition: PartitionKey; ackOffset: number }[];
  readonly duplicated: readonly { value: string; placements: readonly Placement[] }[];
  readonly inconsistent: readonly { partition: PartitionKey; offset: number; values: readonly string[] }[];
  readonly unexpected: readonly { value: string; partition: PartitionKey; offset: number }[];
  readonly failedButPresent: readonly { value: string; partition: PartitionKey; offset: number }[];
  readonly reordered: readonly {
    producer: string;
    partition: PartitionKey;
    value: string;
    offset: number;
    sentAfter: string;
    sentAfterOffset: number;
  }[];
  readonly pollSkips: readonly { consumer: string; partition: PartitionKey; expected: number; got: number }[];
  readonly nonMonotonicPolls: readonly { consumer: string; partition: PartitionKey; expected: number; got: number }[];
  readonly watermarkRegressions: readonly { partition: PartitionKey; from: number; to: number }[];
  readonly unreadBelowHighWatermark: readonly {
    partition: PartitionKey;
    highWatermark: number;
    missing: number;
    firstMissing: number;
  }[];
}

/** Anomaly lists kept whole up to this many entries each; counts are always exact. */
const EXAMPLES_MAX = 1_000;

function pushBounded<T>(list: T[], item: T): void {
  if (list.length < EXAMPLES_MAX) list.push(item);
}

interface SendInfo {
  producer: string;
  partition: PartitionKey;
  ackOffset: number | undefined;
  failed: "definite" | "indeterminate" | undefined;
}

export function checkQueueHistory(events: readonly HistoryEvent[], options: QueueCheckOptions = {}): QueueCheckReport {
  const sends = new Map<string, SendInfo>();
  const sendOrder = new Map<string, string[]>(); // producer + partition -> values in send order
  const placementsOfValue = new Map<string, Placement[]>();
  const valuesAt = new Map<PartitionKey, Map<number, Set<string>>>();
  const maxReadOffset = new Map<PartitionKey, number>();
  const readOffsets = new Map<PartitionKey, Set<number>>();
  const logStart = new Map<PartitionKey, number>();
  const highWatermark = new Map<PartitionKey, number>();
  const watermarkRegressions: { partition: PartitionKey; from: number; to: number }[] = [];
  const position = new Map<string, number>(); // consumer + partition -> next expected offset
  const pollSkips: { consumer: string; partition: PartitionKey; expected: number; got: number }[] = [];
  const nonMonotonicPolls: { consumer: string; partition: PartitionKey; expected: number; got: number }[] = [];
  let acked = 0;
  let failedDefinite = 0;
  let failedIndeterminate = 0;
  let polls = 0;

  function place(value: string, p: Placement): void {
    let list = placementsOfValue.get(value);
    if (list === undefined) placementsOfValue.set(value, (list = []));
    if (!list.some((q) => q.partition === p.partition && q.offset === p.offset && q.source === p.source)) list.push(p);
    let byOffset = valuesAt.get(p.partition);
    if (byOffset === undefined) valuesAt.set(p.partition, (byOffset = new Map()));
    let values = byOffset.get(p.offset);
    if (values === undefined) byOffset.set(p.offset, (values = new Set()));
    values.add(value);
  }

  for (const e of events) {
    switch (e.kind) {
      case "send": {
        if (sends.has(e.value)) throw new Error(`history: value ${e.value} sent twice; every value must be unique`);
        sends.set(e.value, { producer: e.producer, partition: e.partition, ackOffset: undefined, failed: undefined });
        const key = `${e.producer}\u0000${e.partition}`;
        let order = sendOrder.get(key);
        if (order === undefined) sendOrder.set(key, (order = []));
        order.push(e.value);
        break;
      }
      case "ack": {
        const s = sends.get(e.value);
        if (s === undefined) throw new Error(`history: ack of ${e.value}, which was never sent`);
        if (s.ackOffset !== undefined) throw new Error(`history: ${e.value} acked twice`);
        s.ackOffset = e.offset;
        acked++;
        place(e.value, { partition: e.partition, offset: e.offset, source: "ack" });
        break;
      }
      case "fail": {
        const s = sends.get(e.value);
        if (s === undefined) throw new Error(`history: failure of ${e.value}, which was never sent`);
        s.failed = e.definite ? "definite" : "indeterminate";
        if (e.definite) failedDefinite++;
        else failedIndeterminate++;
        break;
      }
      case "seek":
        position.set(`${e.consumer}\u0000${e.partition}`, e.offset);
        break;
      case "poll": {
        polls++;
        const key = `${e.consumer}\u0000${e.partition}`;
        let expected = position.get(key);
        for (const r of e.records) {
          place(r.value, { partition: e.partition, offset: r.offset, source: "read" });
          if ((maxReadOffset.get(e.partition) ?? -1) < r.offset) maxReadOffset.set(e.partition, r.offset);
          let read = readOffsets.get(e.partition);
          if (read === undefined) readOffsets.set(e.partition, (read = new Set()));
          read.add(r.offset);
          if (expected !== undefined && r.offset > expected) {
            pushBounded(pollSkips, { consumer: e.consumer, partition: e.partition, expected, got: r.offset });
          } else if (expected !== undefined && r.offset < expected) {
            pushBounded(nonMonotonicPolls, { consumer: e.consumer, partition: e.partition, expected, got: r.offset });
          }
          expected = r.offset + 1;
        }
        if (expected !== undefined) position.set(key, expected);
        break;
      }
      case "watermark": {
        const before = highWatermark.get(e.partition);
        if (before !== undefined && e.highWatermark < before) {
          pushBounded(watermarkRegressions, { partition: e.partition, from: before, to: e.highWatermark });
        }
        if (before === undefined || e.highWatermark > before) highWatermark.set(e.partition, e.highWatermark);
        if (e.logStartOffset !== undefined) logStart.set(e.partition, Math.max(logStart.get(e.partition) ?? 0, e.logStartOffset));
        break;
      }
    }
  }

  const lost: { value: string; partition: PartitionKey; ackOffset: number; maxReadOffset: number }[] = [];
  const unreadAcked: { value: string; partition: PartitionKey; ackOffset: number }[] = [];
  const duplicated: { value: string; placements: readonly Placement[] }[] = [];
  const unexpected: { value: string; partition: PartitionKey; offset: number }[] = [];
  const failedButPresent: { value: string; partition: PartitionKey; offset: number }[] = [];
  let lostCount = 0;
  let unreadAckedCount = 0;
  let readCount = 0;
  let recovered = 0;

  for (const [value, s] of sends) {
    const placements = placementsOfValue.get(value) ?? [];
    const wasRead = placements.some((p) => p.source === "read");
    if (wasRead) readCount++;
    if (wasRead && s.failed === "indeterminate" && s.ackOffset === undefined) recovered++;
    if (s.ackOffset !== undefined && !wasRead) {
      const reach = maxReadOffset.get(s.partition) ?? -1;
      if (reach > s.ackOffset) {
        lostCount++;
        pushBounded(lost, { value, partition: s.partition, ackOffset: s.ackOffset, maxReadOffset: reach });
      } else {
        unreadAckedCount++;
        pushBounded(unreadAcked, { value, partition: s.partition, ackOffset: s.ackOffset });
      }
    }
    if (s.failed === "definite" && wasRead) {
      const p = placements.find((q) => q.source === "read")!;
      pushBounded(failedButPresent, { value, partition: p.partition, offset: p.offset });
    }
  }

  for (const [value, placements] of placementsOfValue) {
    if (!sends.has(value)) {
      for (const p of placements) pushBounded(unexpected, { value, partition: p.partition, offset: p.offset });
    }
    const distinct = new Set(placements.map((p) => `${p.partition}\u0000${p.offset}`));
    if (distinct.size > 1) pushBounded(duplicated, { value, placements });
  }

  const inconsistent: { partition: PartitionKey; offset: number; values: readonly string[] }[] = [];
  for (const [partition, byOffset] of valuesAt) {
    for (const [offset, values] of byOffset) {
      if (values.size > 1) pushBounded(inconsistent, { partition, offset, values: [...values].sort() });
    }
  }
  inconsistent.sort((a, b) => (a.partition < b.partition ? -1 : a.partition > b.partition ? 1 : a.offset - b.offset));

  // Reordering: walk each producer's values in send order; an offset below the
  // highest offset of a value sent earlier is an inversion. Where a value was
  // read, the read offset is the truth; otherwise its ack's offset.
  const reordered: QueueCheckReport["reordered"][number][] = [];
  for (const [key, values] of sendOrder) {
    const [producer, partition] = key.split("\u0000") as [string, PartitionKey];
    let maxValue = "";
    let maxOffset = -1;
    for (const value of values) {
      const placements = placementsOfValue.get(value);
      if (placements === undefined) continue;
      const where = placements.find((p) => p.source === "read" && p.partition === partition) ??
        placements.find((p) => p.partition === partition);
      if (where === undefined) continue;
      if (where.offset < maxOffset) {
        pushBounded(reordered, { producer, partition, value, offset: where.offset, sentAfter: maxValue, sentAfterOffset: maxOffset });
      } else {
        maxOffset = where.offset;
        maxValue = value;
      }
    }
  }

  const unreadBelowHighWatermark: QueueCheckReport["unreadBelowHighWatermark"][number][] = [];
  if (options.drained === true) {
    for (const [partition, hw] of highWatermark) {
      const read = readOffsets.get(partition);
      let missing = 0;
      let firstMissing = -1;
      for (let o = logStart.get(partition) ?? 0; o < hw; o++) {
        if (read === undefined || !read.has(o)) {
          missing++;
          if (firstMissing < 0) firstMissing = o;
        }
      }
      if (missing > 0) unreadBelowHighWatermark.push({ partition, highWatermark: hw, missing, firstMissing });
    }
  }

  const valid =
    lostCount === 0 &&
    duplicated.length === 0 &&
    inconsistent.length === 0 &&
    unexpected.length === 0 &&
    failedButPresent.length === 0 &&
    reordered.length === 0 &&
    pollSkips.length === 0 &&
    nonMonotonicPolls.length === 0 &&
    watermarkRegressions.length === 0 &&
    unreadBelowHighWatermark.length === 0 &&
    (options.drained !== true || unreadAckedCount === 0);

  return {
    valid,
    counts: {
      sent: sends.size,
      acked,
      failedDefinite,
      failedIndeterminate,
      read: readCount,
      recovered,
      lost: lostCount,
      unreadAcked: unreadAckedCount,
      polls,
    },
    lost,
    unreadAcked,
    duplicated,
    inconsistent,
    unexpected,
    failedButPresent,
    reordered,
    pollSkips,
    nonMonotonicPolls,
    watermarkRegressions,
    unreadBelowHighWatermark,
  };
}

/** One line per anomaly kind with its count and first example, for test failure messages. */
export function summarizeQueueReport(r: QueueCheckReport): string {
  const parts = [
    `sent=${r.counts.sent} acked=${r.counts.acked} read=${r.counts.read} failed=${r.counts.failedDefinite}+${r.counts.failedIndeterminate}?`,
  ];
  const lists: [string, readonly unknown[], number?][] = [
    ["lost", r.lost, r.counts.lost],
    ["unreadAcked", r.unreadAcked, r.counts.unreadAcked],
    ["duplicated", r.duplicated],
    ["inconsistent", r.inconsistent],
    ["unexpected", r.unexpected],
    ["failedButPresent", r.failedButPresent],
    ["reordered", r.reordered],
    ["pollSkips", r.pollSkips],
    ["nonMonotonicPolls", r.nonMonotonicPolls],
    ["watermarkRegressions", r.watermarkRegressions],
    ["unreadBelowHighWatermark", r.unreadBelowHighWatermark],
  ];
  for (const [name, list, count] of lists) {
    if (list.length > 0) parts.push(`${name}=${count ?? list.length} e.g. ${JSON.stringify(list[0])}`);
  }
  return parts.join("\n");
}
