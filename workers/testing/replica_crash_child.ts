// Child process of workers/log/replication.test.ts: drives a partition log's
// replication calls on real files until it is killed with SIGKILL, and reports
// on stdout only what has returned (so it is on disk, or in the page cache a
// kill leaves alone).
//
// Mode "epochs" <dir> <seed>: leads with growing epochs, appending and
// flushing between changes; reports
//   epoch <epoch> <startOffset>       after setLeaderEpoch() returned
//   durable <baseOffset> <epoch>      per batch, after the flush covering it
// Mode "truncate" <dataDir>: appends values a0..a9 through a worker journal
// round (journal_rounds.ts, real WorkerJournal), truncates to offset 5 the way
// the partition host does (JournalRounds.beforeTruncate, then truncateTo), then
// appends b5..b6 and journals them too; reports
//   ready <logEndOffset>              and waits to be killed.
//
// Usage: bun workers/testing/replica_crash_child.ts <mode> <dir> [seed]

import * as path from "node:path";
import { readI32, readI64Number } from "../../protocol/big_endian.ts";
import { PARTITION_LEADER_EPOCH_OFFSET, encodeBatch } from "../../protocol/record_batch.ts";
import { HostedPartition } from "../hosted_partition.ts";
import { JournalRounds } from "../journal_rounds.ts";
import { realFileOps } from "../log/file_ops.ts";
import { parseTopicConfig } from "../log/log_config.ts";
import { PartitionLog } from "../log/partition_log.ts";
import { WorkerJournal, workerJournalPath } from "../log/worker_journal.ts";

export const REPLICA_CHILD_CONFIG = {
  "segment.bytes": 4 * 1024,
  "index.interval.bytes": 256,
  "flush.interval.ms": 0,
  "retention.ms": -1,
} as const;

/** Where the "truncate" mode keeps its partition under the data dir, and the incarnation it journals under. */
export const TRUNCATE_CHILD_PARTITION = path.join("topics", "t", "0");
export const TRUNCATE_CHILD_INCARNATION = "id-t";

const utf8 = new TextEncoder();

function batchOf(value: string): Uint8Array {
  return encodeBatch([{ key: "k", value: utf8.encode(value), timestamp: 1_700_000_000_000 }]);
}

async function epochs(dir: string, seed: number): Promise<void> {
  let rng = seed >>> 0 || 1;
  const random = (n: number): number => {
    rng ^= rng << 13;
    rng ^= rng >>> 17;
    rng ^= rng << 5;
    rng >>>= 0;
    return rng % n;
  };
  const log = PartitionLog.open({ dir, config: parseTopicConfig(REPLICA_CHILD_CONFIG) });
  let epoch = Math.max(0, log.leaderEpoch);
  for (;;) {
    epoch += 1 + random(3);
    const start = log.logEndOffset;
    log.setLeaderEpoch(epoch);
    process.stdout.write(`epoch ${epoch} ${start}\n`);
    const count = 1 + random(20);
    const written: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const b = batchOf(`e${epoch}-${i}-${"x".repeat(random(300))}`);
      log.append(b);
      written.push(b);
    }
    log.flush();
    let lines = "";
    for (const b of written) lines += `durable ${readI64Number(b, 0)} ${readI32(b, PARTITION_LEADER_EPOCH_OFFSET)}\n`;
    process.stdout.write(lines);
    await Bun.sleep(1);
  }
}

async function truncate(dataDir: string): Promise<void> {
  const dir = path.join(dataDir, TRUNCATE_CHILD_PARTITION);
  const config = parseTopicConfig(REPLICA_CHILD_CONFIG);
  const journal = WorkerJournal.create(workerJournalPath(dataDir, 0), realFileOps);
  const log = PartitionLog.open({ dir, config });
  const p = new HostedPartition(0, log);
  const partitions = new Map([[0, p]]);
  const dirty = new Set<HostedPartition>();
  // The partition host's side of a round, for one partition (partition_host.ts does the same for many).
  const rounds = new JournalRounds(
    { journal, dataDir },
    {
      partitions,
      dirty,
      flushPartition: (q) => {
        q.log.flush();
        q.dirty = false;
        dirty.delete(q);
      },
      markOffline: (_q, _code, message) => {
        throw new Error(`partition offline: ${message}`);
      },
      noteDurable: () => {},
      publishHeldCompletions: () => {},
      publishFlushed: () => {},
      recordFsync: () => {},
    },
  );
  p.journalKey = rounds.keyFor(log, dir, TRUNCATE_CHILD_INCARNATION, false);
  const appendJournaled = (values: string[]): void => {
    for (const v of values) log.append(batchOf(v));
    p.dirty = true;
    dirty.add(p);
    if (!rounds.round(Date.now())) throw new Error("the partition took no part in the journal round");
  };
  appendJournaled(["a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9"]);
  // As PartitionHost.truncate(): the journal first, then the log.
  rounds.beforeTruncate(p);
  log.truncateTo(5);
  appendJournaled(["b5", "b6"]);
  process.stdout.write(`ready ${log.logEndOffset}\n`);
  // Killed here: nothing closes the log or the journal.
  for (;;) await Bun.sleep(1000);
}

if (import.meta.main) {
  const [mode, dir, seed] = process.argv.slice(2);
  if (mode === "epochs") await epochs(dir, Number(seed));
  else if (mode === "truncate") await truncate(dir);
  else throw new Error(`unknown mode ${mode}`);
}
