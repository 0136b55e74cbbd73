// Round-robin: all partitions of all subscribed topics, sorted by (topic,
// partition), dealt one at a time to the members in id order, skipping a
// member that does not subscribe to the partition's topic. With identical
// subscriptions the counts differ by at most one across members.

import { type Assignor, type AssignorInput, type MemberAssignment, addPartition, emptyAssignments, normalize, sortedMembers, subscribedTopics } from "./assignor.ts";

export const roundRobinAssignor: Assignor = {
  name: "roundrobin",
  assign(input: AssignorInput): Map<string, MemberAssignment> {
    const members = sortedMembers(input.members);
    const result = emptyAssignments(members);
    let cursor = 0;
    for (const [topic, count] of subscribedTopics(input)) {
      for (let p = 0; p < count; p++) {
        // Some member subscribes to `topic` (subscribedTopics lists only those), so this ends within one lap.
        for (let tries = 0; tries < members.length; tries++) {
          const m = members[cursor];
          cursor = (cursor + 1) % members.length;
          if (m.topics.includes(topic)) {
            addPartition(result.get(m.memberId)!, topic, p);
            break;
          }
        }
      }
    }
    return normalize(result);
  },
};
