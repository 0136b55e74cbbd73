// The assignor contract: given the members of a generation, what each
// subscribes to and how many partitions each topic has, decide which member
// reads which partition. The coordinator runs the assignor (members never do),
// so every rule about who owns what lives here and is tested here.
//
// Invariants every assignor keeps (checked by assertAssignment):
// - each existing partition of a topic that at least one member subscribes to
//   goes to exactly one member, and that member subscribes to the topic;
// - a member's partitions are listed per topic in ascending order;
// - the result is a function of the input only (members sorted by id), so a
//   replayed rebalance gives the same answer.

/** topic → partitions (ascending). */
export type MemberAssignment = Map<string, number[]>;

export interface AssignorMember {
  readonly memberId: string;
  readonly topics: readonly string[];
}

export interface AssignorInput {
  readonly members: readonly AssignorMember[];
  /** Partition count of every topic any member subscribes to (0 or absent = the topic does not exist). */
  readonly partitionsPerTopic: ReadonlyMap<string, number>;
  /** What each member owned in the previous generation (only the sticky assignor looks). */
  readonly previous: ReadonlyMap<string, MemberAssignment>;
}

export interface Assignor {
  readonly name: string;
  assign(input: AssignorInput): Map<string, MemberAssignment>;
}

/** Members sorted by id, so results do not depend on join order. */
export function sortedMembers(members: readonly AssignorMember[]): AssignorMember[] {
  return [...members].sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
}

/** Every topic some member subscribes to, sorted, with its partition count (topics that do not exist are left out). */
export function subscribedTopics(input: AssignorInput): Array<[string, number]> {
  const topics = new Set<string>();
  for (const m of input.members) for (const t of m.topics) topics.add(t);
  const out: Array<[string, number]> = [];
  for (const t of [...topics].sort()) {
    const n = input.partitionsPerTopic.get(t) ?? 0;
    if (n > 0) out.push([t, n]);
  }
  return out;
}

export function emptyAssignments(members: readonly AssignorMember[]): Map<string, MemberAssignment> {
  const out = new Map<string, MemberAssignment>();
  for (const m of members) out.set(m.memberId, new Map());
  return out;
}

export function addPartition(a: MemberAssignment, topic: string, partition: number): void {
  const list = a.get(topic);
  if (list === undefined) a.set(topic, [partition]);
  else list.push(partition);
}

/** Sorts each member's partition lists and drops empty topics. */
export function normalize(result: Map<string, MemberAssignment>): Map<string, MemberAssignment> {
  for (const a of result.values()) {
    for (const [topic, list] of a) {
      if (list.length === 0) a.delete(topic);
      else list.sort((x, y) => x - y);
    }
  }
  return result;
}

export function partitionCount(a: MemberAssignment | undefined): number {
  let n = 0;
  if (a !== undefined) for (const list of a.values()) n += list.length;
  return n;
}

/** Crashes loudly when an assignor broke its contract: a wrong assignment would make two members read one partition. */
export function assertAssignment(input: AssignorInput, result: Map<string, MemberAssignment>): void {
  const subscribers = new Map<string, Set<string>>();
  for (const m of input.members) for (const t of m.topics) {
    let s = subscribers.get(t);
    if (s === undefined) subscribers.set(t, (s = new Set()));
    s.add(m.memberId);
  }
  const seen = new Set<string>();
  for (const [memberId, a] of result) {
    for (const [topic, list] of a) {
      if (!subscribers.get(topic)?.has(memberId)) throw new Error(`assignor: ${memberId} got ${topic} without subscribing`);
      const n = input.partitionsPerTopic.get(topic) ?? 0;
      for (let i = 0; i < list.length; i++) {
        const p = list[i];
        if (!(Number.isInteger(p) && p >= 0 && p < n)) throw new Error(`assignor: ${topic}[${p}] does not exist`);
        if (i > 0 && list[i - 1] >= p) throw new Error(`assignor: ${memberId}'s ${topic} partitions are not ascending`);
        const key = `${topic}\u0000${p}`;
        if (seen.has(key)) throw new Error(`assignor: ${topic}[${p}] assigned twice`);
        seen.add(key);
      }
    }
  }
  for (const [topic, n] of subscribedTopics(input)) {
    for (let p = 0; p < n; p++) {
      if (!seen.has(`${topic}\u0000${p}`)) throw new Error(`assignor: ${topic}[${p}] left unassigned`);
    }
  }
}
