// Writes a Produce request (protocol/messages/produce.ts has the grammar)
// whose partitions carry one or more finished batches each, straight from the
// batches' own buffers into the connection's output buffer: the Records field
// is the batches back to back, so its length is their sum and each batch is
// copied once, with no intermediate concatenation.
//
// Same bytes as writeProduceRequest with the batches concatenated (checked by
// client/produce_request.test.ts).

import type { Writer } from "../protocol/codec.ts";

export interface ProducePartitionBatches {
  readonly index: number;
  readonly batches: readonly Uint8Array[];
}

export interface ProduceTopicBatches {
  readonly name: string;
  readonly partitions: readonly ProducePartitionBatches[];
}

export function writeProduceRequestBatches(
  w: Writer,
  acks: number,
  timeoutMs: number,
  topics: readonly ProduceTopicBatches[],
): void {
  w.writeI16(acks).writeI32(timeoutMs).writeArrayCount(topics.length);
  for (const t of topics) {
    w.writeString(t.name).writeArrayCount(t.partitions.length);
    for (const p of t.partitions) {
      let bytes = 0;
      for (const b of p.batches) bytes += b.length;
      w.writeI32(p.index).writeI32(bytes);
      w.ensure(bytes);
      for (const b of p.batches) w.writeRaw(b);
    }
  }
}
