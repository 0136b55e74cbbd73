import { describe, expect, test } from "bun:test";
import { checkDurabilityTrace, type TraceEvent } from "./durability_trace.ts";

const F = "seg.log";
const w = (position: number, length: number, file = F): TraceEvent => ({ kind: "write", file, position, length });
const ss = (id: number, file = F): TraceEvent => ({ kind: "syncStart", file, id });
const se = (id: number, ok = true, file = F): TraceEvent => ({ kind: "syncEnd", file, id, ok });
const ack = (start: number, end: number, label = `${start}-${end}`, file = F): TraceEvent => ({ kind: "ack", file, start, end, label });

describe("durability trace checker", () => {
  test("write, fdatasync, ack: sound", () => {
    const r = checkDurabilityTrace([w(0, 100), w(100, 50), ss(1), se(1), ack(0, 100), ack(100, 150)]);
    expect(r).toEqual({ valid: true, acks: 2, syncs: 1, early: [] });
  });

  test("an ack before any fdatasync is early (the acks-before-fsync bug)", () => {
    const r = checkDurabilityTrace([w(0, 100), ack(0, 100), ss(1), se(1)]);
    expect(r.early).toEqual([{ label: "0-100", file: F, start: 0, end: 100, firstNonDurable: 0 }]);
  });

  test("an ack between syncStart and syncEnd is early", () => {
    expect(checkDurabilityTrace([w(0, 10), ss(1), ack(0, 10), se(1)]).valid).toBe(false);
  });

  test("a write that completed after the fdatasync started is not covered by it", () => {
    const r = checkDurabilityTrace([w(0, 10), ss(1), w(10, 10), se(1), ack(0, 10), ack(10, 20)]);
    expect(r.early.map((e) => e.label)).toEqual(["10-20"]);
    expect(r.early[0]!.firstNonDurable).toBe(10);
  });

  test("a failed fdatasync covers nothing, and a later good one does not rescue those bytes", () => {
    const r = checkDurabilityTrace([w(0, 10), ss(1), se(1, false), ss(2), se(2), ack(0, 10)]);
    expect(r.valid).toBe(false);
    const rewritten = checkDurabilityTrace([w(0, 10), ss(1), se(1, false), w(0, 10), ss(2), se(2), ack(0, 10)]);
    expect(rewritten.valid).toBe(true);
  });

  test("an fdatasync of another file covers nothing here", () => {
    expect(checkDurabilityTrace([w(0, 10), ss(1, "index"), se(1, true, "index"), ack(0, 10)]).valid).toBe(false);
  });

  test("overwriting durable bytes makes them non-durable until the next fdatasync", () => {
    const r = checkDurabilityTrace([w(0, 20), ss(1), se(1), w(5, 5), ack(0, 20), ss(2), se(2), ack(0, 20, "later")]);
    expect(r.early.map((e) => [e.label, e.firstNonDurable])).toEqual([["0-20", 5]]);
  });

  test("truncation removes durability of the cut bytes", () => {
    const r = checkDurabilityTrace([w(0, 20), ss(1), se(1), { kind: "truncate", file: F, length: 10 }, ack(0, 20)]);
    expect(r.early[0]!.firstNonDurable).toBe(10);
  });

  test("a partial ack range straddling durable and dirty bytes reports the first dirty byte", () => {
    const r = checkDurabilityTrace([w(0, 10), ss(1), se(1), w(10, 10), ack(5, 15)]);
    expect(r.early[0]!.firstNonDurable).toBe(10);
  });
});
