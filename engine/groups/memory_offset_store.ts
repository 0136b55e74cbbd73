// Committed offsets in memory only: for tests of the coordinator, where the
// durability of the log store is not what is being tested. `commitDelay` lets a
// test hold commits open to observe what happens while one is in flight.

import { type CommittedOffsetValue, type OffsetEntry, type OffsetStore, partitionKey, sortedEntries } from "./offset_store.ts";

export class MemoryOffsetStore implements OffsetStore {
  private readonly byGroup = new Map<string, Map<string, OffsetEntry>>();
  commitDelay: (() => Promise<void>) | undefined;

  get(groupId: string, topic: string, partition: number): CommittedOffsetValue | undefined {
    return this.byGroup.get(groupId)?.get(partitionKey(topic, partition));
  }

  entries(groupId: string): OffsetEntry[] {
    return sortedEntries(this.byGroup.get(groupId));
  }

  groups(): Iterable<string> {
    return this.byGroup.keys();
  }

  async commit(groupId: string, entries: readonly OffsetEntry[]): Promise<void> {
    if (this.commitDelay) await this.commitDelay();
    let g = this.byGroup.get(groupId);
    if (g === undefined) this.byGroup.set(groupId, (g = new Map()));
    for (const e of entries) g.set(partitionKey(e.topic, e.partition), e);
  }
}
