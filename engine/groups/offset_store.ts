// Where committed offsets live. The coordinator sees only this interface:
// offsets_log.ts keeps them durably in the broker's own log; memory_offset_store.ts
// keeps them in memory for the state-machine tests.
//
// Contract of commit(): the returned promise resolves only once every entry is
// durable (for the log store: an fdatasync covering it returned), and only then
// do get()/entries() show the new values. It rejects when the write failed; then
// nothing of that commit is visible. Commits to one (group, topic, partition)
// become visible in the order commit() was called.

export interface CommittedOffsetValue {
  readonly offset: number;
  readonly metadata: string;
  /** When the broker accepted the commit (ms since the epoch). */
  readonly timestampMs: number;
}

export interface OffsetEntry extends CommittedOffsetValue {
  readonly topic: string;
  readonly partition: number;
}

export interface OffsetStore {
  get(groupId: string, topic: string, partition: number): CommittedOffsetValue | undefined;
  /** The group's committed offsets, sorted by topic then partition. */
  entries(groupId: string): OffsetEntry[];
  /** Groups with at least one committed offset. */
  groups(): Iterable<string>;
  commit(groupId: string, entries: readonly OffsetEntry[]): Promise<void>;
}

/** Sorted (topic, partition) listing of one group's map, shared by the stores. */
export function sortedEntries(byKey: ReadonlyMap<string, OffsetEntry> | undefined): OffsetEntry[] {
  if (byKey === undefined) return [];
  return [...byKey.values()].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
}

export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
