// Child process of test/log_crash.test.ts: appends batches to a partition log
// with group commit until it is killed, and reports on stdout every batch whose
// durable point was reached, only after the flush() that covers it returned:
//
//   ready <logEndOffset> <truncatedBytes>
//   durable <baseOffset> <lastOffset> <crc32c of the stored batch bytes>
//
// Usage: bun test/log/crash_child.ts <dir> <seed>

import { readI32 } from "../../protocol/big_endian.ts";
import { crc32c } from "../../protocol/crc32c.ts";
import { LAST_OFFSET_DELTA_OFFSET, encodeBatch } from "../../protocol/record_batch.ts";
import { parseTopicConfig } from "../../workers/log/log_config.ts";
import { PartitionLog } from "../../workers/log/partition_log.ts";
import { concat } from "./helpers.ts";

export const CRASH_CHILD_CONFIG = {
  "segment.bytes": 64 * 1024,
  "index.interval.bytes": 1024,
  "flush.interval.ms": 2,
  "flush.bytes": 32 * 1024,
  "retention.ms": -1,
} as const;

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
  const log = PartitionLog.open({ dir, config: parseTopicConfig(CRASH_CHILD_CONFIG) });
  process.stdout.write(`ready ${log.logEndOffset} ${log.recovery.truncatedBytes}\n`);
  // Batches written but not yet durable; bounded by flush.bytes (a flush is due past it).
  const pending: { base: number; last: number; crc: number }[] = [];
  const report = (): void => {
    const durable = log.flush();
    let lines = "";
    let k = 0;
    while (k < pending.length && pending[k].last < durable) {
      lines += `durable ${pending[k].base} ${pending[k].last} ${pending[k].crc}\n`;
      k++;
    }
    pending.splice(0, k);
    if (lines.length > 0) process.stdout.write(lines);
  };
  for (let round = 0; ; round++) {
    for (let i = 0; i < 8; i++) {
      const records = [];
      const count = 1 + random(12);
      for (let r = 0; r < count; r++) {
        const value = new Uint8Array(10 + random(150));
        for (let j = 0; j < value.length; j++) value[j] = random(256);
        records.push({ key: `r${round}-${i}-${r}`, value, timestamp: Date.now() });
      }
      // Sometimes two batches in one append, as a produce request may carry.
      const batches = [encodeBatch(records)];
      if (random(4) === 0) batches.push(encodeBatch(records.slice(0, 1 + random(count))));
      const blob = concat(batches);
      const res = log.append(blob);
      // The stored bytes are the blob after append patched the base offsets.
      let pos = 0;
      let base = res.baseOffset;
      for (const b of batches) {
        const last = base + readI32(blob, pos + LAST_OFFSET_DELTA_OFFSET);
        pending.push({ base, last, crc: crc32c(blob, pos, pos + b.length) });
        base = last + 1;
        pos += b.length;
      }
      if (log.flushDue(Date.now())) report();
    }
    if (random(40) === 0) log.checkpoint();
    // Yield so stdout drains and time passes for the flush interval.
    await Bun.sleep(1);
    if (log.flushDue(Date.now())) report();
  }
}

if (import.meta.main) await main();
