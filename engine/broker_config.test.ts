import { describe, expect, test } from "bun:test";
import { MEMORY_SOFT_LIMIT_BYTES, parseBrokerConfig } from "./broker_config.ts";

describe("broker config", () => {
  test("the memory soft limit defaults to MEMORY_SOFT_LIMIT_BYTES, 0 turns it off, a negative value is refused naming the field", () => {
    expect(parseBrokerConfig({}).memorySoftLimitBytes).toBe(MEMORY_SOFT_LIMIT_BYTES);
    expect(parseBrokerConfig({ memorySoftLimitBytes: 0 }).memorySoftLimitBytes).toBe(0);
    expect(() => parseBrokerConfig({ memorySoftLimitBytes: -5 })).toThrow(/memorySoftLimitBytes/);
    expect(() => parseBrokerConfig({ memorySoftLimitBytes: 1.5 })).toThrow(/memorySoftLimitBytes/);
  });

  test("the worker journal is on by default, can be turned off, and only takes a boolean", () => {
    expect(parseBrokerConfig({}).workerJournal).toBe(true);
    expect(parseBrokerConfig({ workerJournal: false }).workerJournal).toBe(false);
    expect(() => parseBrokerConfig({ workerJournal: "maybe" })).toThrow(/workerJournal/);
  });

  test("an unknown field is refused by name", () => {
    expect(() => parseBrokerConfig({ memorySoftLimit: 1 })).toThrow(/memorySoftLimit/);
  });
});
