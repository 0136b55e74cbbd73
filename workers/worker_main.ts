// Entry of a partition worker thread. Thin on purpose: the work is in
// partition_host.ts (testable without threads); this file wires control messages
// to it and runs the wait loop.
//
// Runs on: one partition worker thread per `workers` setting.
//
// The loop never blocks the thread's event loop: it parks with Atomics.waitAsync
// (always with a timeout) on the request ring's tail, or on the completion ring's
// head when results cannot be written, so control messages (open, close, config,
// shutdown) and timers are served between passes.
//
// Packaging note: `bun build --compile` must list this file as an extra
// entrypoint (scripts/build_binary.ts does, and test/binary.test.ts checks it),
// or the binary cannot start its workers.

import { assert } from "../protocol/assert.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { type ControlReply, type ControlRequest, errorFields } from "./control.ts";
import { realFileOps } from "./log/file_ops.ts";
import { WorkerJournal } from "./log/worker_journal.ts";
import { openHostedLog } from "./open_log.ts";
import { DrainOutcome, PartitionHost } from "./partition_host.ts";
import { COMPLETION_ROOM_WAIT_MS, IDLE_WAIT_MS_MAX } from "./worker_limits.ts";
import { WorkerStats } from "./worker_stats.ts";

declare const self: Worker;

let host: PartitionHost | null = null;
/** Kept referenced for the worker's life (docs/RUNTIME.md: never let a shared buffer be collected under a waiter). */
let buffers: SharedArrayBuffer[] = [];
let stopping = false;

function post(message: ControlReply): void {
  self.postMessage(message);
}

function yieldToEvents(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Process every published request, waiting for completion room as needed. */
async function drainAll(h: PartitionHost): Promise<void> {
  for (;;) {
    const outcome = h.drain();
    if (outcome === DrainOutcome.EMPTY) return;
    if (outcome === DrainOutcome.COMPLETIONS_FULL) await h.waitForCompletionRoom(COMPLETION_ROOM_WAIT_MS);
  }
}

async function loop(h: PartitionHost): Promise<void> {
  while (!stopping) {
    let outcome = h.drain();
    // Acks of this pass are already published; now the group commit, one partition
    // at a time with a drain between: what arrived during one fdatasync is written
    // before the next, so it rides this round's flush of its partition. At most one
    // flush per dirty partition here, then control messages and timers get a turn.
    for (let n = h.dirtyCount; n > 0 && outcome !== DrainOutcome.COMPLETIONS_FULL && h.flushOneDue(); n--) outcome = h.drain();
    h.flushDue();
    h.retentionDue();
    if (stopping) return;
    if (outcome === DrainOutcome.COMPLETIONS_FULL || h.owesReports) {
      await h.waitForCompletionRoom(COMPLETION_ROOM_WAIT_MS);
      await yieldToEvents();
      continue;
    }
    if (outcome === DrainOutcome.BUDGET || h.hasRequests()) {
      // More is waiting: let control messages and timers in, then go on.
      await yieldToEvents();
      continue;
    }
    // Nothing waiting, even after the flush (the check above): park. No spin first:
    // measured on 2 shared vCPUs, the idle gaps between the router's publishes are
    // mostly 0.1–3 ms, so a 100 µs spin caught ~15% of them and raised the broker's
    // CPU per message by ~14% (0.55 -> 0.63 µs, batched produce). Each park costs
    // the router one Atomics.notify when it next publishes (~30 µs of its CPU here).
    const waitMs = Math.min(h.nextDeadlineMs() - Date.now(), IDLE_WAIT_MS_MAX);
    if (waitMs > 0) await h.waitForRequests(waitMs);
    else await yieldToEvents();
  }
}

async function handle(msg: ControlRequest): Promise<void> {
  if (msg.op === "init") {
    buffers = [msg.requests, msg.completions, msg.state, msg.stats];
    let journal: { journal: WorkerJournal; dataDir: string } | undefined;
    if (msg.journal !== undefined) {
      try {
        journal = { journal: WorkerJournal.create(msg.journal.path, realFileOps), dataDir: msg.journal.dataDir };
      } catch (err) {
        // Without it every partition syncs its own segment: slower with many partitions, as safe.
        console.error(`sluice: worker ${msg.workerIndex} runs without its journal (${msg.journal.path}): ${(err as Error).message}`);
      }
    }
    host = new PartitionHost({
      journal,
      requests: msg.requests,
      completions: msg.completions,
      state: msg.state,
      openLog: openHostedLog,
      stats: { recorder: new WorkerStats(msg.stats), worker: msg.workerIndex },
    });
    post({ op: "ready", workerIndex: msg.workerIndex });
    loop(host).catch((err) => {
      // A broken invariant in the data path: crash loudly, the router sees the error event.
      setImmediate(() => {
        throw err;
      });
    });
    return;
  }
  const h = host;
  const id = msg.id;
  try {
    // The router sends init first and waits for ready before anything else.
    assert(h !== null, "worker: control message before init");
    let result: unknown;
    switch (msg.op) {
      case "open":
        result = h.open(msg.slot, msg.dir, msg.config, msg.faults, msg.incarnation);
        break;
      case "close":
        await drainAll(h);
        h.close(msg.slot);
        break;
      case "delete":
        await drainAll(h);
        h.close(msg.slot, { deleteFiles: true });
        break;
      case "setConfig":
        h.setConfig(msg.slot, msg.config);
        break;
      case "setLeaderEpoch":
        // Appends already in the ring are stamped with the epoch they were sent under.
        await drainAll(h);
        h.setLeaderEpoch(msg.slot, msg.epoch);
        break;
      case "endOffsetForEpoch":
        result = h.endOffsetForEpoch(msg.slot, msg.epoch);
        break;
      case "truncate":
        await drainAll(h);
        result = h.truncate(msg.slot, msg.offset);
        break;
      case "appendAsFollower":
        result = h.appendAsFollower(msg.slot, msg.records);
        break;
      case "shutdown":
        await drainAll(h);
        h.flushDue(Date.now(), true);
        stopping = true;
        h.closeAll();
        break;
    }
    // What is due may have changed (a new config, a new dirty log): re-plan the park.
    h.wake();
    post({ op: "reply", id, ok: true, result });
  } catch (err) {
    const e = errorFields(err, ErrorCode.UNKNOWN_SERVER_ERROR);
    post({ op: "reply", id, ok: false, code: e.code, message: e.message, name: e.name });
  }
}

self.onmessage = (event: MessageEvent) => {
  void handle(event.data as ControlRequest);
};
