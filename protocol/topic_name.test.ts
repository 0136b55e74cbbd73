import { describe, expect, test } from "bun:test";
import { ErrorCode } from "./errors.ts";
import { TOPIC_NAME_LENGTH_MAX } from "./limits.ts";
import { checkTopicName, topicNameProblem } from "./topic_name.ts";

describe("topic names", () => {
  test("Kafka's characters, 1..TOPIC_NAME_LENGTH_MAX of them, are accepted", () => {
    for (const ok of ["orders", "a", "a.b_c-D9", "...", ".a", "x".repeat(TOPIC_NAME_LENGTH_MAX)]) expect(topicNameProblem(ok)).toBeNull();
  });

  test("'.' and '..' are refused: they would name the data dir's own directories", () => {
    for (const bad of [".", ".."]) {
      expect(topicNameProblem(bad)).toContain("not allowed");
      expect(() => checkTopicName(bad)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_TOPIC_EXCEPTION }));
    }
  });

  test("empty, too long, other characters, not a string: refused with INVALID_TOPIC_EXCEPTION naming the name", () => {
    for (const bad of ["", "x".repeat(TOPIC_NAME_LENGTH_MAX + 1), "a/b", "a b", "ü", "a\u0000"]) {
      expect(topicNameProblem(bad)).not.toBeNull();
      expect(() => checkTopicName(bad)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_TOPIC_EXCEPTION }));
    }
    expect(() => checkTopicName("a/b")).toThrow(/invalid topic name 'a\/b'/);
    expect(topicNameProblem(42)).toBe("the topic name must be a string");
  });
});
