// The cluster history checker: what a replicated log promises, judged from a
// ClusterHistory (cluster_history.ts) alone, in the spirit of Jepsen's queue
// checkers. Each anomaly has a name, an exact count and examples.
//
// Must be zero (they make the report invalid):
// - ackedLost: a record whose send was acked (acks=all: on every ISR member,
//   durably) and that the final read does not hold anywhere.
// - ackedMoved: an acked record the final read holds, but not at the offset
//   its ack named (the client was told a place that turned out false).
// - conflicts: one (topic, partition, offset) seen holding two different
//   values, counting every consumer read, the final read and every ack's
//   offset. After a leader change a new leader must never serve, at an offset
//   a consumer already read, something else: that read was below the high
//   watermark, so it was on every ISR member.
// - readThenMissing: a value a consumer delivered during the run that the
//   final read does not hold (a committed read undone), acked or not.
// - orderViolations: per key and partition, two records in the final read at
//   offsets in the opposite order to the one their producer sent them in
//   (each value's first place counts; a later duplicate is a duplicate).
// - unexpected: a value read that no producer sent (corruption served as data).
// - finalGaps: an offset missing inside a partition's final read (offsets are
//   dense in Sluice, so the final read from log start to high watermark has
//   every one).
//
// Counted and reported, not invalid by themselves:
// - duplicates: a value at two or more distinct offsets (an idempotent
//   producer should make this 0, but after a leader change its sequence state
//   must have travelled with the log for that; the tests say what they expect).
// - recovered: a send that failed or never settled whose record is in the log
//   anyway (allowed: the outcome of an unanswered send is unknown).
// - redeliveries: a consumer delivering the same offset again (after a
//   rebalance or a coordinator change: at-least-once delivery).

import type { ClusterHistory } from "./cluster_history.ts";

/** Anomaly lists keep at most this many examples each; counts are always exact. */
const EXAMPLES_MAX = 1_000;

export interface Place {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

export interface ClusterCheckReport {
  readonly valid: boolean;
  readonly counts: {
    readonly produced: number;
    readonly acked: number;
    /** Distinct values consumers delivered during the run. */
    readonly read: number;
    /** Records in the final read. */
    readonly finalRecords: number;
    readonly ackedLost: number;
    readonly ackedMoved: number;
    readonly conflicts: number;
    readonly readThenMissing: number;
    readonly orderViolations: number;
    readonly unexpected: number;
    readonly finalGaps: number;
    readonly duplicates: number;
    readonly recovered: number;
    readonly redeliveries: number;
  };
  readonly ackedLost: readonly { value: string; at: Place }[];
  readonly ackedMoved: readonly { value: string; acked: Place; found: readonly Place[] }[];
  readonly conflicts: readonly { at: Place; values: readonly string[] }[];
  readonly readThenMissing: readonly { value: string; consumer: string; at: Place }[];
  readonly orderViolations: readonly { key: string; topic: string; partition: number; value: string; offset: number; sentBefore: string; sentBeforeOffset: number }[];
  readonly unexpected: readonly { value: string; at: Place }[];
  readonly finalGaps: readonly { topic: string; partition: number; missingFrom: number; missingTo: number }[];
  readonly duplicates: readonly { value: string; places: readonly Place[] }[];
}

class Examples<T> {
  readonly items: T[] = [];
  count = 0;
  add(item: T): void {
    this.count++;
    if (this.items.length < EXAMPLES_MAX) this.items.push(item);
  }
}

const placeKey = (topic: string, partition: number, offset: number): string => `${topic}\u0000${partition}\u0000${offset}`;
const partitionId = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

export function checkClusterHistory(h: ClusterHistory): ClusterCheckReport {
  const produced = new Map<string, { index: number; key: string; topic: string; partition: number; acked: boolean; offset: number | undefined }>();
  h.produced.forEach((r, index) => {
    if (produced.has(r.value)) throw new Error(`history: value ${r.value} produced twice; every value must be unique`);
    if (r.acked && r.offset === undefined) throw new Error(`history: ${r.value} acked without an offset`);
    produced.set(r.value, { index, key: r.key, topic: r.topic, partition: r.partition, acked: r.acked, offset: r.offset });
  });

  // Every value each place was seen holding (reads, final read, acks).
  const valuesAt = new Map<string, { at: Place; values: Set<string> }>();
  const see = (at: Place, value: string): void => {
    const k = placeKey(at.topic, at.partition, at.offset);
    let e = valuesAt.get(k);
    if (e === undefined) valuesAt.set(k, (e = { at, values: new Set() }));
    e.values.add(value);
  };
  // Each value's distinct places in the final read, in offset order per partition.
  const finalPlaces = new Map<string, Place[]>();
  const finalOffsets = new Map<string, { topic: string; partition: number; offsets: number[] }>();
  for (const r of h.finalRead) {
    const at = { topic: r.topic, partition: r.partition, offset: r.offset };
    see(at, r.value);
    let places = finalPlaces.get(r.value);
    if (places === undefined) finalPlaces.set(r.value, (places = []));
    if (!places.some((p) => p.topic === at.topic && p.partition === at.partition && p.offset === at.offset)) places.push(at);
    const pid = partitionId(r.topic, r.partition);
    let po = finalOffsets.get(pid);
    if (po === undefined) finalOffsets.set(pid, (po = { topic: r.topic, partition: r.partition, offsets: [] }));
    po.offsets.push(r.offset);
  }
  // Distinct places of every value anywhere (for duplicates), and redeliveries per consumer.
  const allPlaces = new Map<string, Map<string, Place>>();
  const addPlace = (value: string, at: Place): void => {
    let m = allPlaces.get(value);
    if (m === undefined) allPlaces.set(value, (m = new Map()));
    m.set(placeKey(at.topic, at.partition, at.offset), at);
  };
  for (const [value, places] of finalPlaces) for (const p of places) addPlace(value, p);
  const readValues = new Set<string>();
  const deliveredBy = new Set<string>();
  let redeliveries = 0;
  const unexpected = new Examples<{ value: string; at: Place }>();
  const readThenMissing = new Examples<{ value: string; consumer: string; at: Place }>();
  const missingReported = new Set<string>();
  for (const r of h.reads) {
    const at = { topic: r.topic, partition: r.partition, offset: r.offset };
    see(at, r.value);
    addPlace(r.value, at);
    readValues.add(r.value);
    const d = `${r.consumer}\u0000${placeKey(r.topic, r.partition, r.offset)}`;
    if (deliveredBy.has(d)) redeliveries++;
    else deliveredBy.add(d);
    if (!produced.has(r.value)) unexpected.add({ value: r.value, at });
    if (!finalPlaces.has(r.value) && !missingReported.has(r.value)) {
      missingReported.add(r.value);
      readThenMissing.add({ value: r.value, consumer: r.consumer, at });
    }
  }
  for (const [value, places] of finalPlaces) if (!produced.has(value)) for (const at of places) unexpected.add({ value, at });

  const ackedLost = new Examples<{ value: string; at: Place }>();
  const ackedMoved = new Examples<{ value: string; acked: Place; found: readonly Place[] }>();
  let acked = 0;
  let recovered = 0;
  for (const [value, p] of produced) {
    const found = finalPlaces.get(value);
    if (!p.acked) {
      if (found !== undefined) recovered++;
      continue;
    }
    acked++;
    const at = { topic: p.topic, partition: p.partition, offset: p.offset! };
    see(at, value);
    addPlace(value, at);
    if (found === undefined) ackedLost.add({ value, at });
    else if (!found.some((f) => f.topic === at.topic && f.partition === at.partition && f.offset === at.offset)) ackedMoved.add({ value, acked: at, found });
  }

  const conflicts = new Examples<{ at: Place; values: readonly string[] }>();
  for (const { at, values } of valuesAt.values()) if (values.size > 1) conflicts.add({ at, values: [...values].sort() });

  const duplicates = new Examples<{ value: string; places: readonly Place[] }>();
  for (const [value, places] of allPlaces) if (places.size > 1) duplicates.add({ value, places: [...places.values()] });

  // Per key and partition: walk the final read in offset order, first places only; send indexes must rise.
  const orderViolations = new Examples<ClusterCheckReport["orderViolations"][number]>();
  const firstPlaces: { value: string; at: Place }[] = [];
  for (const [value, places] of finalPlaces) {
    if (!produced.has(value)) continue;
    let first = places[0];
    for (const p of places) if (p.topic === first.topic && p.partition === first.partition && p.offset < first.offset) first = p;
    firstPlaces.push({ value, at: first });
  }
  firstPlaces.sort((a, b) => (a.at.topic < b.at.topic ? -1 : a.at.topic > b.at.topic ? 1 : a.at.partition - b.at.partition || a.at.offset - b.at.offset));
  const highest = new Map<string, { index: number; value: string; offset: number }>();
  for (const { value, at } of firstPlaces) {
    const p = produced.get(value)!;
    const k = `${p.key}\u0000${partitionId(at.topic, at.partition)}`;
    const top = highest.get(k);
    if (top !== undefined && p.index < top.index) {
      orderViolations.add({ key: p.key, topic: at.topic, partition: at.partition, value, offset: at.offset, sentBefore: top.value, sentBeforeOffset: top.offset });
    } else {
      highest.set(k, { index: p.index, value, offset: at.offset });
    }
  }

  const finalGaps = new Examples<{ topic: string; partition: number; missingFrom: number; missingTo: number }>();
  for (const { topic, partition, offsets } of finalOffsets.values()) {
    const sorted = [...new Set(offsets)].sort((a, b) => a - b);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i] !== sorted[i - 1] + 1) finalGaps.add({ topic, partition, missingFrom: sorted[i - 1] + 1, missingTo: sorted[i] - 1 });
    }
  }

  const valid =
    ackedLost.count === 0 &&
    ackedMoved.count === 0 &&
    conflicts.count === 0 &&
    readThenMissing.count === 0 &&
    orderViolations.count === 0 &&
    unexpected.count === 0 &&
    finalGaps.count === 0;

  return {
    valid,
    counts: {
      produced: produced.size,
      acked,
      read: readValues.size,
      finalRecords: h.finalRead.length,
      ackedLost: ackedLost.count,
      ackedMoved: ackedMoved.count,
      conflicts: conflicts.count,
      readThenMissing: readThenMissing.count,
      orderViolations: orderViolations.count,
      unexpected: unexpected.count,
      finalGaps: finalGaps.count,
      duplicates: duplicates.count,
      recovered,
      redeliveries,
    },
    ackedLost: ackedLost.items,
    ackedMoved: ackedMoved.items,
    conflicts: conflicts.items,
    readThenMissing: readThenMissing.items,
    orderViolations: orderViolations.items,
    unexpected: unexpected.items,
    finalGaps: finalGaps.items,
    duplicates: duplicates.items,
  };
}

/** The counts on one line, then one line per anomaly kind present with its first example: for failure messages. */
export function summarizeClusterReport(r: ClusterCheckReport): string {
  const c = r.counts;
  const lines = [`produced=${c.produced} acked=${c.acked} read=${c.read} final=${c.finalRecords} duplicates=${c.duplicates} recovered=${c.recovered} redeliveries=${c.redeliveries}`];
  const lists: [string, number, readonly unknown[]][] = [
    ["ackedLost", c.ackedLost, r.ackedLost],
    ["ackedMoved", c.ackedMoved, r.ackedMoved],
    ["conflicts", c.conflicts, r.conflicts],
    ["readThenMissing", c.readThenMissing, r.readThenMissing],
    ["orderViolations", c.orderViolations, r.orderViolations],
    ["unexpected", c.unexpected, r.unexpected],
    ["finalGaps", c.finalGaps, r.finalGaps],
  ];
  for (const [name, count, list] of lists) if (count > 0) lines.push(`${name}=${count} e.g. ${JSON.stringify(list[0])}`);
  return lines.join("\n");
}
