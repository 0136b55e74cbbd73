// RecordBatch v2: the producer's builder, the broker's validation and patch,
// and the consumer's decode. 100-byte values, the size the project measures.

import type { Bench } from "tinybench";
import { BATCH_BYTES_MAX } from "../../protocol/limits.ts";
import {
  BatchBuilder,
  checkBatch,
  decodeBatch,
  forEachRecord,
  patchBaseOffset,
  patchLogAppendTime,
  RecordReader,
  validateBatch,
  validateBatches,
} from "../../protocol/record_batch.ts";
import type { MicroOptions } from "./run.ts";

const VALUE_BYTES = 100;

function buildBatch(builder: BatchBuilder, records: number, value: Uint8Array): Uint8Array {
  builder.reset(1_700_000_000_000);
  for (let i = 0; i < records; i++) builder.append({ value });
  return builder.finish();
}

export function register(bench: Bench, opts: MicroOptions): void {
  const recordsPerBatch = opts.small ? 10 : 160; // ~16 KiB batches in full mode
  const value = new Uint8Array(VALUE_BYTES).fill(0x61);
  const stringValue = "a".repeat(VALUE_BYTES);
  const key = "key-0001";
  const builder = new BatchBuilder({ initialBytes: 64 * 1024 });
  const batch = buildBatch(builder, recordsPerBatch, value);

  // A records blob of many batches (~1 MiB in full mode), as one produce partition might carry.
  const batchesInBlob = opts.small ? 4 : 64;
  const blob = new Uint8Array(batch.length * batchesInBlob);
  for (let i = 0; i < batchesInBlob; i++) blob.set(batch, i * batch.length);

  const appendName = `batch build ${recordsPerBatch}x${VALUE_BYTES} B (bytes values)`;
  bench.add(appendName, () => {
    builder.reset(1_700_000_000_000);
    for (let i = 0; i < recordsPerBatch; i++) builder.append({ value });
    return builder.finishView();
  });
  opts.bytesPerOp(appendName, batch.length);

  const appendStringName = `batch build ${recordsPerBatch}x${VALUE_BYTES} B (string key+value)`;
  bench.add(appendStringName, () => {
    builder.reset(1_700_000_000_000);
    for (let i = 0; i < recordsPerBatch; i++) builder.append({ key, value: stringValue });
    return builder.finishView();
  });

  const validateName = `batch validate ${batch.length} B`;
  bench.add(validateName, () => validateBatch(batch, 0, batch.length, BATCH_BYTES_MAX));
  opts.bytesPerOp(validateName, batch.length);

  const validateBlobName = `batch validate blob ${batchesInBlob}x${batch.length} B`;
  bench.add(validateBlobName, () => validateBatches(blob, BATCH_BYTES_MAX));
  opts.bytesPerOp(validateBlobName, blob.length);

  const patched = batch.slice();
  bench.add("batch patch baseOffset", () => patchBaseOffset(patched, 0, 123456789));
  bench.add(`batch patch LogAppendTime ${batch.length} B`, () => patchLogAppendTime(patched, 0, 1_700_000_000_001));

  const decodeName = `batch decode ${recordsPerBatch} records`;
  bench.add(decodeName, () => decodeBatch(batch).records.length);
  opts.bytesPerOp(decodeName, batch.length);

  let seen = 0;
  bench.add(`batch forEachRecord ${recordsPerBatch} records`, () => {
    forEachRecord(batch, 0, (r) => {
      seen += r.value === null ? 0 : r.value.length;
    });
    return seen;
  });

  bench.add(`batch RecordReader ${recordsPerBatch} records`, () => {
    const reader = new RecordReader(batch, 0, checkBatch(batch, 0));
    while (reader.next()) seen += reader.value === null ? 0 : reader.value.length;
    return seen;
  });
}
