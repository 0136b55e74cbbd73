// Ring and state-table costs on one thread: what the router pays to enqueue a
// request and the worker to take it, without the cross-thread wake. The batched
// vs per-entry pair shows why the tail is published once per batch.

import type { Bench } from "tinybench";
import { PartitionStateTable, createStateTable, emptyStateView } from "../../workers/partition_state.ts";
import { RingConsumer, RingProducer, createRing } from "../../workers/ring.ts";
import type { MicroOptions } from "./run.ts";

const RECORD_BYTES = 100;
const BATCH_ENTRIES = 64;

export function register(bench: Bench, opts: MicroOptions): void {
  const sab = createRing(opts.small ? 1 << 16 : 1 << 22);
  const producer = new RingProducer(sab);
  const consumer = new RingConsumer(sab);
  const record = new Uint8Array(RECORD_BYTES).fill(7);
  const large = new Uint8Array(opts.small ? 1024 : 16 * 1024).fill(9);
  let checksum = 0;

  function drain(): void {
    for (let kind = consumer.read(); kind !== -1; kind = consumer.read()) {
      checksum += consumer.bytes[consumer.offset];
      consumer.advance();
    }
    consumer.release();
  }

  const batched = `ring ${RECORD_BYTES} B x${BATCH_ENTRIES}, publish once per batch`;
  bench.add(batched, () => {
    for (let i = 0; i < BATCH_ENTRIES; i++) {
      const at = producer.reserve(1, RECORD_BYTES);
      producer.bytes.set(record, at);
      producer.commit();
    }
    producer.publish();
    drain();
    return checksum;
  });
  opts.bytesPerOp(batched, RECORD_BYTES * BATCH_ENTRIES);

  const perEntry = `ring ${RECORD_BYTES} B x${BATCH_ENTRIES}, publish + release per entry`;
  bench.add(perEntry, () => {
    for (let i = 0; i < BATCH_ENTRIES; i++) {
      const at = producer.reserve(1, RECORD_BYTES);
      producer.bytes.set(record, at);
      producer.commit();
      producer.publish();
      drain();
    }
    return checksum;
  });
  opts.bytesPerOp(perEntry, RECORD_BYTES * BATCH_ENTRIES);

  const oneLarge = `ring ${large.length / 1024} KiB entry, copy in and out`;
  const out = new Uint8Array(large.length);
  bench.add(oneLarge, () => {
    const at = producer.reserve(1, large.length);
    producer.bytes.set(large, at);
    producer.commit();
    producer.publish();
    consumer.read();
    out.set(consumer.bytes.subarray(consumer.offset, consumer.offset + consumer.length));
    consumer.advance();
    consumer.release();
    return out[0];
  });
  opts.bytesPerOp(oneLarge, large.length);

  const table = new PartitionStateTable(createStateTable(1024));
  const row = emptyStateView();
  row.online = true;
  table.write(17, row);
  bench.add("ring state table: read one row (seqlock)", () => table.read(17, row).logEndOffset);
  bench.add("ring state table: write one row (seqlock)", () => {
    row.logEndOffset++;
    table.write(17, row);
  });
}
