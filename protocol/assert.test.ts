import { describe, expect, test } from "bun:test";
import { ASSERTION_FAILED, AssertionError, assert, isAssertionError, rethrowIfAssertion } from "./assert.ts";
import { ErrorCode, SluiceError } from "./errors.ts";

function thrown(fn: () => void): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error("expected a throw");
}

describe("assert", () => {
  test("a condition that holds returns and throws nothing", () => {
    expect(() => assert(true, "never shown")).not.toThrow();
    expect(() => assert(1 + 1 === 2, "never shown", 42)).not.toThrow();
  });

  test("a broken condition throws AssertionError with the code and the message", () => {
    const e = thrown(() => assert(false, "log: durable offset passed the log end"));
    expect(e).toBeInstanceOf(AssertionError);
    expect(e).toBeInstanceOf(Error);
    const a = e as AssertionError;
    expect(a.code).toBe(ASSERTION_FAILED);
    expect(a.name).toBe("AssertionError");
    expect(a.message).toBe("log: durable offset passed the log end");
  });

  test("the value is appended to the message only when it fails", () => {
    expect((thrown(() => assert(false, "short read", 17)) as Error).message).toBe("short read (17)");
    expect((thrown(() => assert(false, "offset", 2n ** 63n)) as Error).message).toBe(`offset (${2n ** 63n})`);
    expect((thrown(() => assert(false, "segment", "00000000000000000000.log")) as Error).message).toBe("segment (00000000000000000000.log)");
  });

  test("asserts narrow the type for the code after them", () => {
    const at: number | null = [7, null][0];
    assert(at !== null, "at is set");
    const n: number = at; // compiles only because assert narrows
    expect(n).toBe(7);
  });

  test("isAssertionError tells a broken invariant from errors that carry an answer", () => {
    expect(isAssertionError(thrown(() => assert(false, "x")))).toBe(true);
    expect(isAssertionError(new SluiceError(ErrorCode.CORRUPT_MESSAGE, "bad batch"))).toBe(false);
    expect(isAssertionError(Object.assign(new Error("EIO"), { code: "EIO" }))).toBe(false);
    expect(isAssertionError("a string")).toBe(false);
  });

  test("rethrowIfAssertion lets a broken invariant through a catch that answers every other error", () => {
    const answered: string[] = [];
    const guarded = (fn: () => void): void => {
      try {
        fn();
      } catch (e) {
        rethrowIfAssertion(e);
        answered.push((e as Error).message);
      }
    };
    guarded(() => {
      throw new SluiceError(ErrorCode.KAFKA_STORAGE_ERROR, "EIO");
    });
    expect(answered).toEqual(["EIO"]);
    expect(() => guarded(() => assert(false, "offsets out of order"))).toThrow(AssertionError);
    expect(answered).toEqual(["EIO"]);
  });
});
