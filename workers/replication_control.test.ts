// The replication control messages on a real partition worker thread
// (worker_main.ts), as the router will send them: a leader epoch set and
// stamped, a follower append of the leader's bytes, OffsetForLeaderEpoch, and
// a truncation; errors come back as (code, message) pairs with the log's reason.

import { afterEach, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { readI32 } from "../protocol/big_endian.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { PARTITION_LEADER_EPOCH_OFFSET, encodeBatch } from "../protocol/record_batch.ts";
import { makeTempDir, removeDir, splitBatches } from "../test/log/helpers.ts";
import type { ControlReply, ControlRequest } from "./control.ts";
import { PartitionLog } from "./log/partition_log.ts";
import { parseTopicConfig } from "./log/log_config.ts";
import { WORKER_ENTRY_URL } from "./mod.ts";
import { createStateTable } from "./partition_state.ts";
import { createRing } from "./ring.ts";
import { createWorkerStats } from "./worker_stats.ts";

const REPLY_WAIT_MS = 10_000;
let root = "";
let worker: Worker | null = null;

afterEach(() => {
  worker?.terminate();
  worker = null;
  removeDir(root);
});

/** Starts a worker thread and returns a call() that sends one control message and waits for its reply. */
async function startWorker(): Promise<(msg: ControlRequest) => Promise<ControlReply & { op: "reply" }>> {
  const w = new Worker(WORKER_ENTRY_URL, { type: "module" });
  worker = w;
  const replies = new Map<number, (r: ControlReply & { op: "reply" }) => void>();
  let ready: () => void = () => {};
  const isReady = new Promise<void>((r) => (ready = r));
  w.addEventListener("message", (e: MessageEvent) => {
    const reply = e.data as ControlReply;
    if (reply.op === "ready") ready();
    else replies.get(reply.id)?.(reply);
  });
  w.postMessage({ op: "init", workerIndex: 0, requests: createRing(1 << 16), completions: createRing(1 << 16), state: createStateTable(8), stats: createWorkerStats(1) } satisfies ControlRequest);
  await withDeadline(isReady, "the worker to start");
  let nextId = 1;
  return (msg) => {
    const id = nextId++;
    const reply = new Promise<ControlReply & { op: "reply" }>((resolve) => replies.set(id, resolve));
    w.postMessage({ ...msg, id });
    return withDeadline(reply, `the reply to ${msg.op}`);
  };
}

function withDeadline<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), REPLY_WAIT_MS);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

test("setLeaderEpoch, appendAsFollower, endOffsetForEpoch and truncate on a worker thread", async () => {
  root = makeTempDir();
  const config = parseTopicConfig({ "segment.bytes": 1 << 20, "flush.interval.ms": 0 });
  // The leader's batches, made by a leader log here: epochs 3 then 5.
  const leader = PartitionLog.open({ dir: path.join(root, "leader"), config });
  const utf8 = new TextEncoder();
  for (const [epoch, values] of [
    [3, ["a", "b"]],
    [5, ["c", "d", "e"]],
  ] as const) {
    leader.setLeaderEpoch(epoch);
    for (const v of values) leader.append(encodeBatch([{ value: utf8.encode(v), timestamp: 1 }]));
  }
  const fetched = leader.read(0, 1 << 20);
  leader.close();

  const call = await startWorker();
  const dir = path.join(root, "follower");
  expect((await call({ op: "open", id: 0, slot: 0, dir, config })).ok).toBe(true);
  const appended = await call({ op: "appendAsFollower", id: 0, slot: 0, records: fetched });
  expect(appended).toMatchObject({ ok: true, result: { baseOffset: 0, lastOffset: 4 } });
  expect(await call({ op: "endOffsetForEpoch", id: 0, slot: 0, epoch: 3 })).toMatchObject({ ok: true, result: { epoch: 3, endOffset: 2 } });
  expect(await call({ op: "endOffsetForEpoch", id: 0, slot: 0, epoch: 4 })).toMatchObject({ ok: true, result: { epoch: 3, endOffset: 2 } });
  expect(await call({ op: "endOffsetForEpoch", id: 0, slot: 0, epoch: 5 })).toMatchObject({ ok: true, result: { epoch: 5, endOffset: 5 } });
  // The follower diverged after epoch 3: it cuts back to where epoch 3 ended.
  expect(await call({ op: "truncate", id: 0, slot: 0, offset: 2 })).toMatchObject({ ok: true, result: { logEndOffset: 2, removedOffsets: 3 } });
  // The same bytes again do not start at its end now.
  const mismatch = await call({ op: "appendAsFollower", id: 0, slot: 0, records: fetched });
  expect(mismatch).toMatchObject({ ok: false, code: ErrorCode.OFFSET_OUT_OF_RANGE, name: "ReplicaLogError(OFFSET_MISMATCH)" });
  // It leads now, with epoch 6; an older one is refused.
  expect((await call({ op: "setLeaderEpoch", id: 0, slot: 0, epoch: 6 })).ok).toBe(true);
  expect(await call({ op: "setLeaderEpoch", id: 0, slot: 0, epoch: 4 })).toMatchObject({ ok: false, name: "ReplicaLogError(EPOCH_REGRESSION)" });
  expect((await call({ op: "close", id: 0, slot: 0 })).ok).toBe(true);
  expect((await call({ op: "shutdown", id: 0 })).ok).toBe(true);

  const segment = splitBatches(new Uint8Array(fs.readFileSync(path.join(dir, "00000000000000000000.log"))));
  expect(segment.map((b) => [b.baseOffset, readI32(b.bytes, PARTITION_LEADER_EPOCH_OFFSET)])).toEqual([
    [0, 3],
    [1, 3],
  ]);
  const reopened = PartitionLog.open({ dir, config });
  expect(reopened.leaderEpochs()).toEqual([
    { epoch: 3, startOffset: 0 },
    { epoch: 6, startOffset: 2 },
  ]);
  reopened.close();
});
