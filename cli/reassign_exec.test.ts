// The pieces of `sluice partitions reassign --status` that need no cluster:
// reading the move families of a /metrics page, rates and ETAs, the table;
// and the command's refusals of bad usage (exit 2). With a cluster:
// test/cluster_moves.test.ts.

import { describe, expect, test } from "bun:test";
import { run } from "./partitions_cmd.ts";
import { etaSeconds, formatMoveStatus, type MoveStatus, parseMoveMetrics } from "./reassign_exec.ts";

const page = `# HELP sluice_hosted_partitions x
# TYPE sluice_hosted_partitions gauge
sluice_hosted_partitions 3
sluice_move_log_start_offset{topic="a\\"b",partition="2"} 0
sluice_move_log_end_offset{topic="a\\"b",partition="2"} 1000
sluice_move_size_bytes{topic="a\\"b",partition="2"} 1048576
sluice_move_replica_fetch_offset{topic="a\\"b",partition="2",replica="4"} 250
`;

function status(copied: number): MoveStatus {
  return { topic: "t", partition: 0, replicas: [1, 2, 3, 4], target: [4, 2, 3], adding: [4], removing: [1], leader: 2, isr: [1, 2, 3], throttleBytesPerSec: null, bytesTotal: 1000, bytesCopied: copied, bytesRemaining: 1000 - copied };
}

describe("reassign --status", () => {
  test("reads a leader's move families (escaped topic names included)", () => {
    const m = parseMoveMetrics(page);
    expect(m.hosted).toBe(3);
    const p = m.parts.get('a"b\u00002')!;
    expect({ start: p.start, end: p.end, size: p.size, fetch: [...p.fetch] }).toEqual({ start: 0, end: 1000, size: 1048576, fetch: [[4, 250]] });
  });

  test("rate and ETA from two readings; the table shows them, with a bar on a terminal", () => {
    const eta = etaSeconds([status(200)], [status(400)], 2);
    expect(eta.get("t-0")).toEqual({ rate: 100, eta: 6 });
    const text = formatMoveStatus([status(400)], eta, true);
    expect(text).toContain("[########............] 40.0%");
    expect(text).toContain("ETA 6 s");
    expect(formatMoveStatus([], new Map(), false)).toBe("no partition is moving");
  });
});

describe("reassign usage", () => {
  const quiet = async (argv: string[]) => {
    const err = console.error;
    console.error = () => {};
    try {
      return await run(argv, {});
    } finally {
      console.error = err;
    }
  };

  test("one mode at a time, a positive throttle, etcd named", async () => {
    expect(await quiet(["reassign", "--status", "--cancel", "--etcd", "http://127.0.0.1:1"])).toBe(2);
    expect(await quiet(["reassign"])).toBe(2);
    expect(await quiet(["reassign", "--status"])).toBe(2);
    expect(await quiet(["reassign", "--plan", "/nonexistent.json", "--throttle-bytes-per-sec", "0", "--etcd", "http://127.0.0.1:1"])).toBe(2);
    expect(await quiet(["reassign", "--plan", "/nonexistent.json", "--etcd", "http://127.0.0.1:1"])).toBe(2);
  });
});
