// Topic names as Kafka allows them: [a-zA-Z0-9._-], 1..249 characters, and
// not "." or ".." (a topic name becomes a directory name under the broker's
// data dir, so those two would escape it). The one definition of the rule:
// the broker checks it at its edge, the client before it sends.

import { ErrorCode, SluiceError } from "./errors.ts";
import { TOPIC_NAME_LENGTH_MAX, TOPIC_NAME_PATTERN } from "./limits.ts";

/** Returns null when `name` is a valid topic name, else why not. */
export function topicNameProblem(name: unknown): string | null {
  if (typeof name !== "string") return "the topic name must be a string";
  if (name.length === 0) return "the topic name is empty";
  if (name.length > TOPIC_NAME_LENGTH_MAX) return `the topic name is longer than ${TOPIC_NAME_LENGTH_MAX} characters`;
  if (name === "." || name === "..") return `'${name}' is not allowed as a topic name`;
  if (!TOPIC_NAME_PATTERN.test(name)) return "a topic name may contain only ASCII letters, digits, '.', '_' and '-'";
  return null;
}

/** Throws SluiceError(INVALID_TOPIC_EXCEPTION) naming the topic and what is wrong with it. */
export function checkTopicName(name: unknown): asserts name is string {
  const problem = topicNameProblem(name);
  if (problem !== null) throw new SluiceError(ErrorCode.INVALID_TOPIC_EXCEPTION, `invalid topic name '${String(name)}': ${problem}`);
}

/**
 * The cluster's replicated topic of committed offsets (Kafka's name). In a
 * cluster the broker creates it and writes it; clients may read its metadata
 * but not produce to it, create, delete or grow it (INVALID_TOPIC_EXCEPTION /
 * POLICY_VIOLATION), as Kafka protects its internal topics. A single node
 * keeps its offsets in `<dataDir>/__consumer_offsets/0/`, outside `topics/`,
 * so the two never share a directory.
 */
export const OFFSETS_TOPIC = "__consumer_offsets";

/** Topics only the broker itself writes, in a cluster. */
export function isInternalTopic(name: string): boolean {
  return name === OFFSETS_TOPIC;
}
