// Child process of test/idempotent_crash.test.ts: idempotent producers append
// to a partition log with group commit until the process is killed, and it
// reports every batch once the flush() covering it returned:
//
//   ready <logEndOffset>
//   durable <producerId> <baseSequence> <baseOffset> <lastOffset>
//
// Each producer continues from the sequence the log's recovered producer state
// holds (as a producer that kept its id and epoch would), so a state lost in
// the crash shows as OUT_OF_ORDER_SEQUENCE_NUMBER here or a duplicate there.
//
// Usage: bun test/log/idempotent_crash_child.ts <dir> <seed>

import { encodeBatch } from "../../protocol/record_batch.ts";
import { parseTopicConfig } from "../../workers/log/log_config.ts";
import { PartitionLog } from "../../workers/log/partition_log.ts";
import { addSequence } from "../../workers/log/producer_state.ts";

export const IDEMPOTENT_CRASH_CONFIG = {
  "segment.bytes": 16 * 1024,
  "index.interval.bytes": 1024,
  "flush.interval.ms": 2,
  "flush.bytes": 8 * 1024,
  "retention.ms": -1,
} as const;

/** The producer ids the child writes with. */
export const CRASH_PRODUCERS = [100, 101, 102, 103] as const;

async function main(): Promise<void> {
  const [dir, seedText] = process.argv.slice(2);
  let rng = Number(seedText) >>> 0 || 1;
  const random = (n: number): number => {
    rng ^= rng << 13;
    rng ^= rng >>> 17;
    rng ^= rng << 5;
    rng >>>= 0;
    return rng % n;
  };
  const log = PartitionLog.open({ dir, config: parseTopicConfig(IDEMPOTENT_CRASH_CONFIG) });
  const next = new Map<number, number>();
  for (const id of CRASH_PRODUCERS) {
    const e = log.producers.get(id);
    next.set(id, e === undefined ? 0 : addSequence(e.lastSequence, 1));
  }
  process.stdout.write(`ready ${log.logEndOffset}\n`);
  const pending: { id: number; seq: number; base: number; last: number }[] = [];
  const report = (): void => {
    const durable = log.flush();
    let lines = "";
    let k = 0;
    while (k < pending.length && pending[k].last < durable) {
      const p = pending[k];
      lines += `durable ${p.id} ${p.seq} ${p.base} ${p.last}\n`;
      k++;
    }
    pending.splice(0, k);
    if (lines.length > 0) process.stdout.write(lines);
  };
  for (;;) {
    for (let i = 0; i < 8; i++) {
      const id = CRASH_PRODUCERS[random(CRASH_PRODUCERS.length)];
      const seq = next.get(id) as number;
      const count = 1 + random(6);
      const records = [];
      for (let r = 0; r < count; r++) records.push({ value: `${id}:${seq + r}:${"x".repeat(random(100))}` });
      const res = log.append(encodeBatch(records, { producerId: id, producerEpoch: 0, baseSequence: seq }));
      if (res.duplicate) throw new Error(`producer ${id} sequence ${seq} was taken for a duplicate`);
      next.set(id, addSequence(seq, count));
      pending.push({ id, seq, base: res.baseOffset, last: res.lastOffset });
      if (log.flushDue(Date.now())) report();
    }
    if (random(40) === 0) log.checkpoint();
    await Bun.sleep(1);
    if (log.flushDue(Date.now())) report();
  }
}

if (import.meta.main) await main();
