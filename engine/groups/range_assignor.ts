// Range: per topic, the members subscribing to it (sorted by id) get
// contiguous ranges of partitions; the first (partitions % members) get one
// more. Co-partitioned topics land on the same member (partition i of every
// topic goes to the same place), which joins rely on; the price is that with
// many topics the first members carry more.

import { type Assignor, type AssignorInput, type MemberAssignment, emptyAssignments, normalize, sortedMembers, subscribedTopics } from "./assignor.ts";

export const rangeAssignor: Assignor = {
  name: "range",
  assign(input: AssignorInput): Map<string, MemberAssignment> {
    const members = sortedMembers(input.members);
    const result = emptyAssignments(members);
    for (const [topic, count] of subscribedTopics(input)) {
      const subscribers = members.filter((m) => m.topics.includes(topic));
      const per = Math.floor(count / subscribers.length);
      const extra = count % subscribers.length;
      let next = 0;
      for (let i = 0; i < subscribers.length; i++) {
        const take = per + (i < extra ? 1 : 0);
        if (take === 0) continue;
        const list: number[] = [];
        for (let k = 0; k < take; k++) list.push(next++);
        result.get(subscribers[i].memberId)!.set(topic, list);
      }
    }
    return normalize(result);
  },
};
