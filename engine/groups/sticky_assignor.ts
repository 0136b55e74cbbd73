// Sticky: keep every partition with the member that owned it in the previous
// generation, as long as that member is still here and still subscribes; hand
// out the rest to the least loaded eligible member; then move partitions, one
// at a time, from a member to an eligible one that holds at least two fewer,
// until no such move exists. Each move lowers the sum of squared loads, so the
// loop ends; with identical subscriptions it ends with loads differing by at
// most one and having moved only partitions that had to move (checked against
// the lower bound in sticky_assignor.test.ts).
//
// Why it matters: a moved partition costs its new owner a cold start (a
// committed-offset fetch, cold caches, and any state the application keeps per
// partition); range and round-robin reshuffle most partitions on every join.

import {
  type Assignor,
  type AssignorInput,
  type MemberAssignment,
  addPartition,
  emptyAssignments,
  normalize,
  sortedMembers,
  subscribedTopics,
} from "./assignor.ts";

interface Slot {
  readonly topic: string;
  readonly partition: number;
}

export const stickyAssignor: Assignor = {
  name: "sticky",
  assign(input: AssignorInput): Map<string, MemberAssignment> {
    const members = sortedMembers(input.members);
    const order = new Map(members.map((m, i) => [m.memberId, i]));
    const subscribed = new Map(members.map((m) => [m.memberId, new Set(m.topics)]));
    const topics = subscribedTopics(input);
    const counts = new Map<string, number>(topics);
    const eligible = new Map<string, string[]>();
    for (const [topic] of topics) eligible.set(topic, members.filter((m) => subscribed.get(m.memberId)!.has(topic)).map((m) => m.memberId));

    // owned[member] = its slots; owner = "topic\0p" → member.
    const owned = new Map<string, Slot[]>(members.map((m) => [m.memberId, []]));
    const owner = new Map<string, string>();
    const key = (t: string, p: number) => `${t}\u0000${p}`;

    // 1. Keep what is still valid.
    for (const m of members) {
      const prev = input.previous.get(m.memberId);
      if (prev === undefined) continue;
      for (const topic of [...prev.keys()].sort()) {
        const n = counts.get(topic) ?? 0;
        if (!subscribed.get(m.memberId)!.has(topic)) continue;
        for (const p of prev.get(topic)!) {
          if (p >= n || owner.has(key(topic, p))) continue;
          owner.set(key(topic, p), m.memberId);
          owned.get(m.memberId)!.push({ topic, partition: p });
        }
      }
    }

    const load = (id: string) => owned.get(id)!.length;
    const leastLoaded = (candidates: readonly string[], below: number): string | undefined => {
      let best: string | undefined;
      for (const id of candidates) {
        const l = load(id);
        if (l > below) continue;
        if (best === undefined || l < load(best) || (l === load(best) && order.get(id)! < order.get(best)!)) best = id;
      }
      return best;
    };

    // 2. Hand out the rest, the most constrained partitions first.
    const free: Slot[] = [];
    for (const [topic, n] of topics) for (let p = 0; p < n; p++) if (!owner.has(key(topic, p))) free.push({ topic, partition: p });
    free.sort((a, b) => eligible.get(a.topic)!.length - eligible.get(b.topic)!.length);
    for (const slot of free) {
      const id = leastLoaded(eligible.get(slot.topic)!, Number.POSITIVE_INFINITY)!;
      owner.set(key(slot.topic, slot.partition), id);
      owned.get(id)!.push(slot);
    }

    // 3. Even out: move from a member to an eligible one holding at least two fewer.
    for (;;) {
      let moved = false;
      const donors = [...members].sort((a, b) => load(b.memberId) - load(a.memberId) || order.get(a.memberId)! - order.get(b.memberId)!);
      const minLoad = Math.min(...members.map((m) => load(m.memberId)));
      for (const donor of donors) {
        const dl = load(donor.memberId);
        if (dl - 2 < minLoad) break; // no member anywhere is light enough to take from this donor or a lighter one
        const slots = owned.get(donor.memberId)!;
        // Give away the most recently added slots first: those kept from the previous generation stay put longest.
        for (let i = slots.length - 1; i >= 0; i--) {
          const slot = slots[i];
          const to = leastLoaded(eligible.get(slot.topic)!, dl - 2);
          if (to === undefined) continue;
          slots.splice(i, 1);
          owned.get(to)!.push(slot);
          owner.set(key(slot.topic, slot.partition), to);
          moved = true;
          break;
        }
        if (moved) break;
      }
      if (!moved) break;
    }

    const result = emptyAssignments(members);
    for (const [id, slots] of owned) for (const s of slots) addPartition(result.get(id)!, s.topic, s.partition);
    return normalize(result);
  },
};
